"""Deterministic SIEM receipt events: what the simulated gateway logged at SMTP time, per hour.

The fourth source (``rejections``) reads Mimecast API 2.0's SIEM batches of ``receipt`` events.
Which of ``rejectionType``, ``rejectionInfo`` or ``receiptErrors`` carries the texts of the threat
table is documented nowhere, so every simulated hour holds, for each of the six rejection texts,
at least one rejection per candidate field (the earlier fields neutral), in varied case and with
surrounding text, beside unmapped rejections, ordinary accepted receipts and one malformed event
of each kind the format check must quarantine. Fields and value shapes follow the receipt events
of Elastic's ``test-siem-v2-logs.log`` fixture (``timestamp`` in epoch milliseconds).

Events are generated per (seed, hour) with their own ``random.Random`` (as the TTP records are),
and each keeps its *true* time beside it, so an event whose ``timestamp`` is broken still sits in
exactly one 15-minute slot, that is, one batch file.
"""

from __future__ import annotations

from base64 import urlsafe_b64encode
from datetime import UTC, datetime
from functools import lru_cache
from random import Random
from typing import Any

from mimecast_ttp.simulator.data import EXTERNAL_USERS, INTERNAL_USERS, IPS, SUBJECTS

HOUR = 3600
SLOT_SECONDS = 900  # one batch file per 15 minutes of event time
SEED_TEXTS = ("IP Temporarily Blacklisted", "Submitter failed to authenticate",
              "Anti-Spoofing policy - Inbound not allowed", "Invalid Recipient",
              "Exceeding outbound thread limit", "Message bounced due to Content Examination Policy")
CANDIDATE_FIELDS = ("rejectionType", "rejectionInfo", "receiptErrors")
MALFORMED_KINDS = ("missing:timestamp", "bad_type:timestamp", "missing:processingId+aggregateId",
                   "missing:recipients", "bad_type:recipients", "not_an_object")
UNMAPPED_PER_HOUR = 2
MIN_VOLUME = len(SEED_TEXTS) * len(CANDIDATE_FIELDS) + UNMAPPED_PER_HOUR + len(MALFORMED_KINDS)
ACCOUNT_ID = "CUSA4D101"

_CODES = {"IP Temporarily Blacklisted": "451"}  # the others are 550 (Mimecast's SMTP error codes table)
_OUTBOUND = {"Submitter failed to authenticate", "Exceeding outbound thread limit"}
_DOC_URL = "https://community.mimecast.com/docs/DOC-1369#"
# Neutral values: none holds any seed text, so the rule must look further (tests check this).
NEUTRAL_TYPES = ("Manual Envelope Rejection", "Envelope Rejected")
NEUTRAL_INFOS = ("Envelope blocked - User Entry", "Envelope rejected - see receipt errors",
                 "Rejected by policy - Envelope")
UNMAPPED = (("Manual Envelope Rejection", "Envelope blocked - User Entry"),
            ("Envelope Rejected", "Rejected by header based Blocked Senders - Block policy for Header From"),
            ("Spam Signature Rejection", "Message rejected - Spam signature match"))
_TLS = (("TLS_AES_256_GCM_SHA384", "TLSv1.3"), ("TLS_AES_256_GCM_SHA384", "TLSv1.3"),
        ("ECDHE-RSA-AES256-GCM-SHA384", "TLSv1.2"), (None, None))
_SPF = '{"spf":{"allow":true,"info":"ALLOW"}}'
_AUTH = '{"spf":{"allow":true,"info":"ALLOW"},"dkim":{"allow":true,"info":"UNKNOWN"},"dmarc":{"allow":true,"info":"ALLOW"}}'


def _pick(rng: Random, pool: Any) -> Any:
    return pool[int(rng.random() * len(pool))]


def _vary(rng: Random, text: str) -> str:
    """The text as a gateway might spell it: the rule is case-insensitive and trimmed."""
    return _pick(rng, (text, text, text.lower(), text.upper(), f"  {text} ", f"{text.title()}\t"))


def _ids(rng: Random, ms: int) -> tuple[str, str]:
    received = ms // 1000 - int(rng.random() * 5)
    aggregate = urlsafe_b64encode(rng.getrandbits(128).to_bytes(16)).decode().rstrip("=")
    processing = urlsafe_b64encode(rng.getrandbits(256).to_bytes(32)).decode().rstrip("=")
    return f"{aggregate}_{received}", f"{processing}_{received}"


def _base(rng: Random, ms: int, action: str, direction: str) -> dict[str, Any]:
    aggregate_id, processing_id = _ids(rng, ms)
    inbound = direction == "Inbound"
    cipher, version = _pick(rng, _TLS)
    return {"_offset": 70000 + int(rng.random() * 9000), "_partition": 60, "accountId": ACCOUNT_ID,
            "action": action, "aggregateId": aggregate_id, "direction": direction,
            "messageId": f"<{rng.getrandbits(64):016x}-{rng.getrandbits(20)}@hapi.example.net>",
            "numberAttachments": str(int(rng.random() * 3)), "processingId": processing_id,
            "receiptErrors": None,
            "recipients": _pick(rng, INTERNAL_USERS if direction != "Outbound" else EXTERNAL_USERS),
            "rejectionCode": None, "rejectionInfo": None, "rejectionType": None,
            "senderEnvelope": _pick(rng, EXTERNAL_USERS if inbound else INTERNAL_USERS), "senderHeader": None,
            "senderIp": _pick(rng, IPS) if inbound else f"10.{int(rng.random() * 255)}.113.241",
            "spamDetectionLevel": None, "spamInfo": None, "spamProcessingDetail": None, "spamScore": None,
            "subject": None, "subtype": action, "timestamp": ms, "tlsCipher": cipher, "tlsVersion": version,
            "type": "receipt", "virusFound": None}


def _accepted(rng: Random, ms: int) -> dict[str, Any]:
    event = _base(rng, ms, "Acc", _pick(rng, ("Inbound", "Inbound", "Inbound", "Internal", "Outbound")))
    event.update(senderHeader=event["senderEnvelope"], spamDetectionLevel=_pick(rng, ("7", "7", "28")),
                 spamInfo="[]", spamProcessingDetail=_AUTH if event["direction"] == "Inbound" else None,
                 spamScore=str(int(rng.random() * 25)), subject=_pick(rng, SUBJECTS))
    return event


def _rejected(rng: Random, ms: int, code: str, direction: str, rejection_type: str, info: str | None,
              errors: str | None) -> dict[str, Any]:
    event = _base(rng, ms, "Rej", direction)
    event.update(messageId=None, numberAttachments="0", rejectionCode=code, rejectionInfo=info,
                 rejectionType=rejection_type, receiptErrors=errors, spamProcessingDetail=_SPF)
    return event


def mapped_rejection(rng: Random, ms: int, text: str, field: str) -> dict[str, Any]:
    """A rejection whose seed ``text`` the rule finds first in ``field`` (earlier fields neutral)."""
    code = _CODES.get(text, "550")
    direction = "Outbound" if text in _OUTBOUND else "Inbound"
    smtp_line = f"{code} {_vary(rng, text)} - {_DOC_URL}{code}"
    if field == "rejectionType":
        return _rejected(rng, ms, code, direction, _vary(rng, text), _pick(rng, (smtp_line, None)), None)
    if field == "rejectionInfo":
        return _rejected(rng, ms, code, direction, _pick(rng, NEUTRAL_TYPES), smtp_line, None)
    errors = _pick(rng, (f"{code} 5.7.1 {_vary(rng, text)}", f"Failed receipt check: {_vary(rng, text)}"))
    return _rejected(rng, ms, code, direction, _pick(rng, NEUTRAL_TYPES), _pick(rng, NEUTRAL_INFOS), errors)


def unmapped_rejection(rng: Random, ms: int) -> dict[str, Any]:
    rejection_type, info = _pick(rng, UNMAPPED)
    event = _rejected(rng, ms, "550", "Inbound", rejection_type, info, None)
    if rng.random() < 0.5:
        del event["receiptErrors"]  # absent altogether in the fixture's rejection
    return event


def _malform(rng: Random, kind: str, ms: int) -> Any:
    event = mapped_rejection(rng, ms, _pick(rng, SEED_TEXTS), _pick(rng, CANDIDATE_FIELDS))
    if kind == "missing:timestamp":
        del event["timestamp"]
    elif kind == "bad_type:timestamp":
        iso = datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        event["timestamp"] = _pick(rng, (iso, ms + 0.5))
    elif kind == "missing:processingId+aggregateId":
        del event["processingId"], event["aggregateId"]
    elif kind == "missing:recipients":
        del event["recipients"]
    elif kind == "bad_type:recipients":
        event["recipients"] = _pick(rng, (["a.one@demo-int.example.com", "b.two@demo-int.example.com"], 12345))
    else:
        return _pick(rng, ("corrupted record", 0, ["not", "an", "object"]))
    return event


@lru_cache(maxsize=512)
def hour_events(seed: int, volume: int, hour_start: int) -> tuple[tuple[int, Any], ...]:
    """``(true epoch ms, event)`` of one hour, oldest first (shared objects: do not mutate).

    ``volume`` events in all: the guaranteed ones (six texts x three fields, two unmapped, one
    malformed of each kind), then ordinary receipts, mostly accepted; eight of those sit on slot
    edges (the first and the last millisecond of each 15-minute slot).
    """
    if hour_start % HOUR:
        raise ValueError(f"hour_start {hour_start} is not on an hour boundary")
    if not volume:
        return ()
    rng = Random(f"mimecast-ttp-simulator:{seed}:receipt:{hour_start}")
    base_ms = hour_start * 1000

    def when() -> int:
        return base_ms + int(rng.random() * HOUR * 1000)

    entries: list[tuple[int, Any]] = []
    for text in SEED_TEXTS:
        for field in CANDIDATE_FIELDS:
            ms = when()
            entries.append((ms, mapped_rejection(rng, ms, text, field)))
    for _ in range(UNMAPPED_PER_HOUR):
        ms = when()
        entries.append((ms, unmapped_rejection(rng, ms)))
    for kind in MALFORMED_KINDS:
        ms = when()
        entries.append((ms, _malform(rng, kind, ms)))
    edges = [base_ms + slot * SLOT_SECONDS * 1000 + offset for slot in range(HOUR // SLOT_SECONDS)
             for offset in (0, SLOT_SECONDS * 1000 - 1)]
    for index in range(volume - len(entries)):
        ms = edges[index] if index < len(edges) else when()
        roll = rng.random()
        if roll < 0.85:
            event = _accepted(rng, ms)
        elif roll < 0.95:
            event = mapped_rejection(rng, ms, _pick(rng, SEED_TEXTS), _pick(rng, CANDIDATE_FIELDS))
        else:
            event = unmapped_rejection(rng, ms)
        entries.append((ms, event))
    entries.sort(key=lambda entry: entry[0])  # stable: generation order within one millisecond
    return tuple(entries)


def slot_events(seed: int, volume: int, slot_start: int) -> list[Any]:
    """The events of one 15-minute slot, oldest first: exactly what its batch file holds."""
    hour = slot_start - slot_start % HOUR
    lo, hi = slot_start * 1000, (slot_start + SLOT_SECONDS) * 1000
    return [event for ms, event in hour_events(seed, volume, hour) if lo <= ms < hi]


def receipt_events(config, start: float, end: float, *, now: float | None = None) -> list[Any]:
    """Events with true time in ``[start, end)`` (epoch seconds) whose slot is published by ``now``.

    A slot's file appears once the slot is over (``slot end <= now``); the 7-day horizon of the
    listing is not applied here: this is what the tenant logged, the listing decides what is shown.
    """
    now = config.siem_clock() if now is None else now
    end = min(end, (now // SLOT_SECONDS) * SLOT_SECONDS)  # the current, unfinished slot has no file yet
    out: list[Any] = []
    hour = int(start // HOUR) * HOUR
    lo, hi = start * 1000, end * 1000
    while hour < end:
        out.extend(event for ms, event in hour_events(config.seed, config.siem_volume, hour) if lo <= ms < hi)
        hour += HOUR
    return out
