"""A local Mimecast TTP API simulator: the server every test, demo and benchmark talks to.

Nothing here can reach the real API, so this behaves like it, quirks included (see
``shared/docs/mimecast-api.md``): API 2.0 OAuth tokens and API 1.0 HMAC headers at once, the
documented envelope and opaque-token paging, deterministic seeded records with realistic and
malformed variety, a shared rate limit with ``X-RateLimit-*`` headers and 429s, and switchable
faults.

Python API::

    from mimecast_ttp.simulator import SimulatorConfig, SimulatorServer, ground_truth

    with SimulatorServer(SimulatorConfig(seed=7, rate_limit=0)) as server:
        server.url                      # "http://127.0.0.1:PORT"
        server.config.omit_pagination = True      # quirks and limits are read per request
        server.faults.error_burst(status=503, count=3)
        server.stats.snapshot()         # counters
        ground_truth(server.config, "url", start, end)  # what paging [start, end) must return

Faults (``server.faults``; each also takes ``endpoint="url"`` etc. to aim at one endpoint; they
hit get-logs calls after the rate limit and authentication):

- ``error_burst(status=503, count=1)``: next calls answer 500/502/503/504/509 (error envelope).
- ``slow(seconds=2, count=1)``: next calls wait before answering normally.
- ``non_json(count=1)``: next calls answer 200 with an HTML body.
- ``fail_entry(retryable=True, count=1)``: next calls answer 200, no records, one ``fail`` entry
  (code ``err_service_temporarily_unavailable`` if retryable, else ``err_validation_blocked``).
- ``error_every(n, status=503)``, ``slow_every(n, seconds)``, ``non_json_every(n)``,
  ``fail_entry_every(n, retryable=True)``: every n-th matching call, for soaks.
- ``expire_tokens()``: every API 2.0 token issued so far answers 401 ``token_expired``.
- ``reset()``: disarm all; ``armed``: what is armed.

A simulator in another process (``mimecast-ttp simulate``) takes the same calls over HTTP:
``POST /_simulator/faults`` with ``{"method": "error_burst", "args": {"status": 503, "count": 3}}``.

Quirks and scenario switches are ``SimulatorConfig`` fields (``empty_last_page_with_next``,
``empty_data_shape``, ``omit_pagination``, ``keys_expired``, ``unlicensed``, ``to_inclusive``,
``reset_as_epoch``, ``rate_limit``); change them on ``server.config`` at run time.

``server.stats``: ``requests``, ``by_status``, ``by_endpoint``, ``rate_limited`` (429s sent),
``tokens_issued``, ``auth_failures``, ``faults_injected``, ``pages_served``, ``records_served``;
``snapshot()`` returns them as a dict (also ``GET /_simulator/stats``).

Semantics chosen where the docs leave room: ``from`` is inclusive; ``to`` inclusive unless
``to_inclusive=False``; records later than now are not held yet (a window reaching into the future
is cut at now); ``pageSize`` defaults to 100 and is capped at ``page_size_max`` (the capped value
is echoed); with ``omit_pagination`` one answer holds every record; ``volume`` records exactly per
endpoint-hour; an invalid or foreign ``pageToken`` is a 400.

The fourth source, ``rejections``: Mimecast API 2.0's SIEM batch listing
(``GET /siem/v1/batch/events/cg?type=receipt``, Bearer token) of pre-signed, gzipped NDJSON files of
receipt events, one per 15-minute slot, with a 7-day horizon and the shared rate limit; see
:mod:`.siem` (listing, files) and :mod:`.siem_events` (the seeded events). Its clock is
``siem_now`` (else ``clock``); ``faults.expire_siem_urls(count)`` and
``faults.empty_siem_listing(count)`` force expired downloads and empty listings.

Records with true time in ``[from, to)``: ``ground_truth(config, endpoint, start, end)``,
``GET /_simulator/ground-truth?endpoint=url&from=ISO&to=ISO`` (also ``endpoint=rejections``) or
``mimecast-ttp simulate --ground-truth --endpoint url --from ISO --to ISO``.
"""

from __future__ import annotations

from mimecast_ttp.simulator.config import SimulatorConfig
from mimecast_ttp.simulator.data import ground_truth
from mimecast_ttp.simulator.server import SimulatorServer

__all__ = ["SimulatorConfig", "SimulatorServer", "ground_truth"]
