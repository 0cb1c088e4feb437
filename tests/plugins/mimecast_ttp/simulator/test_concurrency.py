"""The server answers many calls at once: three endpoints in parallel, and a slow call blocks no other."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

from mimecast_ttp.endpoints import ENDPOINT_KEYS
from mimecast_ttp.simulator import ground_truth
from mimecast_ttp.simulator.client import ReferenceClient, logs_body
from tests.plugins.mimecast_ttp.simulator.windows import hour_window


def test_three_endpoints_paged_in_parallel(simulator_factory):
    server = simulator_factory(volume=200)
    window = hour_window(2)
    jobs = [(endpoint, size) for endpoint in ENDPOINT_KEYS for size in (25, 90)]
    with ThreadPoolExecutor(len(jobs)) as pool:
        results = list(pool.map(
            lambda job: ReferenceClient(server.url).fetch_all(job[0], *window, page_size=job[1])[0], jobs))
    for (endpoint, _), records in zip(jobs, results, strict=True):
        assert records == ground_truth(server.config, endpoint, window[0], window[1]) + ground_truth(
            server.config, endpoint, window[1], window[1].replace(second=1))  # `to` is inclusive


def test_a_slow_call_does_not_hold_up_the_others(simulator):
    client = ReferenceClient(simulator.url)
    client.token()
    # Long enough that two quick calls finish inside it even on a loaded machine.
    simulator.faults.slow(seconds=5, count=1, endpoint="url")
    with ThreadPoolExecutor(1) as pool:
        slow = pool.submit(client.post_logs, "url", logs_body(*hour_window()))
        deadline = time.monotonic() + 30
        while not simulator.stats.faults_injected["slow"]:  # until the slow call has reached the server
            assert time.monotonic() < deadline, "the slow call never reached the server"
            time.sleep(0.01)
        others = [ReferenceClient(simulator.url).post_logs(e, logs_body(*hour_window()))
                  for e in ("attachment", "impersonation")]
        assert not slow.done()  # both answered while the slow one was still waiting
        assert [r.status_code for r in others] == [200, 200]
        assert slow.result().status_code == 200
