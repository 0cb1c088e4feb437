"""Deterministic TTP log records: what the simulated tenant "holds" for any hour.

Records are generated per (seed, endpoint, hour) with their own ``random.Random``, so any time
window is the union of whole hours filtered by time, and the same request always yields the same
records whatever the page size or the order of requests. The variety comes from the real samples
in ``tests/fixtures/mimecast`` (verdict spellings, ``<>`` senders, ``Internal IP``, ``tagMap``,
several records per message, impersonation ids repeated at different times, strings where
booleans or lists are expected) plus a configurable share of malformed records (missing required
fields, bad timestamps, wrong types, a record that is not an object).

A record's *true* time is kept beside it, so a record whose time field is malformed still sits in
exactly one window. Only records whose true time is not in the future are held.
"""

from __future__ import annotations

import json
import threading
from base64 import urlsafe_b64encode
from bisect import bisect_left, bisect_right
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime
from random import Random
from typing import Any

from mimecast_ttp.endpoints import ENDPOINT_KEYS, REJECTIONS, get_endpoint
from mimecast_ttp.utc import as_utc

HOUR = 3600
_CLOCK_SUFFIX = [f"{m:02d}:{s:02d}+0000" for m in range(60) for s in range(60)]

# --- value pools taken from (or shaped like) the real samples --------------------------------------

_FIRST = ["john", "jane", "thomas", "karl", "sara", "eric", "charles", "mike", "vince", "maria",
          "li", "ahmed", "olga", "pat", "sam", "nora", "raj", "ines", "tom", "yuki"]
_LAST = ["doe", "bentz", "love", "scott", "boyt", "weldon", "roberts", "kaminski", "hartso", "lee",
         "khan", "novak", "silva", "meyer", "ito", "brown", "garcia", "smith", "jones", "berg"]
_INTERNAL_DOMAIN = "demo-int.example.com"
_EXTERNAL_DOMAINS = ["empirepartners.example.net", "evaluation-fuzz.example.org", "concept-variety.example.net",
                     "thejunglegroup.example.com", "mail.example.org", "invoices-online.example.info"]
INTERNAL_USERS = [f"{f}.{la}@{_INTERNAL_DOMAIN}" for f in _FIRST for la in _LAST[:10]]
EXTERNAL_USERS = [f"{f}{i}@{d}" for i, f in enumerate(_FIRST) for d in _EXTERNAL_DOMAINS[:3]] + [
    "googlealerts-noreply@google.example.com", "mailer-daemon@mail.example.org", "noreply@invoices-online.example.info"]
SUBJECTS = ["FIRE DRILL", "Re", "RE", "Test Files", "Management Changes", "WP-02 Data Response",
            "Invoice overdue", "Super sales to Las Vegas, Europe and more!", "Don't read, just fill out!",
            "Your mailbox is almost full", "Q3 report", "Password expiry notice", "Shared document", ""]
IPS = ["8.8.8.8", "34.235.45.235", "54.243.138.179", "203.0.113.7", "198.51.100.23", "192.0.2.45",
       "2001:db8::1"]

# attachment: (result value as served, weight); the filter compares trimmed, case-insensitively.
_ATTACHMENT_RESULTS = [("safe", 55), ("malicious", 14), ("unknown", 5), ("timeout", 4), ("error", 3),
                       ("unsafe", 5), ("clean", 4), ("Malicious", 3), ("SAFE", 3), (" safe ", 2),
                       ("Unsafe ", 2)]
_FILES = [("Mimecast.pdf", "application/pdf"), ("Datasheet (2).pdf", "application/pdf"),
          ("War_of_Worlds_script.doc", "text/rtf"),
          ("Sandbox Test.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
          ("invoice_2291.zip", "application/zip"), ("scan0042.pdf.exe", "application/x-msdownload"),
          ("statement.docm", "application/vnd.ms-word.document.macroEnabled.12"),
          ("photo.jpg", "image/jpeg"), ("notes.txt", "text/plain"),
          ("report.xlsx", "application/vnd.openxmlformats-officedocument.spre")]  # truncated MIME, as seen
_ATTACHMENT_ACTIONS = ["none, none", "none, none", "user release, none", "none", "block, none", "hold, none"]
_ROUTES = ["inbound", "inbound", "inbound", "outbound", "internal"]
_ATTACHMENT_DEFINITIONS = {"inbound": "Default Inbound Attachment Protect Definition",
                           "outbound": "Default Outbound Attachment Protect Definition",
                           "internal": "Default Internal Attachment Protect Definition"}

_IDENTIFIERS = [["internal_user_name"], ["similar_internal_domain"], ["newly_observed_domain"],
                ["internal_user_name", "reply_address_mismatch"], ["custom_external_domain"]]
_IMPERSONATION_ACTIONS = ["none", "none", "hold", "bounce", "tag"]

_URLS = ["https://oneclient.sfx.ms/Win/Preview/OneDriveSetup.exe",
         "http://www.enron.example.com/corp/pressroom/releases/2002/ene/012902Release.html",
         "https://www.google.example.com/alerts/feeds/00259755281018227146/14369994449842858162",
         "https://login-micros0ft.example.info/owa/auth.php", "https://docs.example.org/s/quarterly",
         "http://bit.example.net/3xYz", "https://cdn.example.com/files/invoice.zip",
         "https://very.long.example.com/" + "a/" * 300 + "end",  # very long
         "https://truncated.example.com/path/that/was/cut/off/mid"]
_URL_CATEGORIES = ["Search Engines & Portals", "Compromised", "Dangerous file extension", "Phishing & Fraud",
                   "Business", "Malware", "File Sharing"]
_TTP_DEFINITIONS = ["Default Inbound URL Protect Definition", "Default Inbound URL Protect Definition",
                    "Inbound URL 'Aggressive'", "Default Internal URL Protect Definition", "", "   "]
_URL_ACTIONS = [("allow", "Allow"), ("allow", "None"), ("warn", "None"), ("warn", "Block"),
                ("block", "Block"), ("allow", "Browser Isolation"), ("warn", "Hold, None"), ("warn", "Warn")]
_EMAIL_PARTS = [["Body"], ["Body"], ["Attachment"], ["Subject"], ["Body", "Attachment"], "Body"]
_TAG_MAPS = [
    {"UrlReputationScan": {"Status": ["CustomerAll", "VerdictBlock"], "Type": ["Compromised"]}},
    {"DangerousFileExt": {"Status": ["CustomerSpecific", "VerdictBlock"], "Inspect:FileExts": ["[exe]"],
                          "Inspect:MimeTypes": ["[]"],
                          "ContentCheck:DangerousMimetypesUrlFileDownload": ["application/x-msdownload"],
                          "ContentCheck:ContentScannersBlocked": [".exe"]}},
    {"AvScan": {"Status": ["CustomerAll", "VerdictAllow"]}},
]


class HourBucket:
    """One endpoint-hour: records oldest first, with their true epoch seconds beside them.

    ``encoded()`` is each record as JSON, made once on first serve, so a page is a string join
    and re-reading a window (retries, overlapping runs) costs no encoding.
    """

    __slots__ = ("times", "records", "_encoded")

    def __init__(self, times: list[int], records: list[Any]) -> None:
        self.times = times
        self.records = records
        self._encoded: list[str] | None = None

    def __eq__(self, other: object) -> bool:
        return isinstance(other, HourBucket) and (self.times, self.records) == (other.times, other.records)

    def encoded(self) -> list[str]:
        if self._encoded is None:  # a race only encodes twice, to the same result
            dumps = json.JSONEncoder(separators=(",", ":")).encode
            self._encoded = [dumps(record) for record in self.records]
        return self._encoded


def _weighted(pairs: list[tuple[Any, int]]) -> list[Any]:
    return [value for value, weight in pairs for _ in range(weight)]


_ATTACHMENT_RESULT_POOL = _weighted(_ATTACHMENT_RESULTS)


def _pick(rnd: Callable[[], float], pool: list[Any]) -> Any:
    return pool[int(rnd() * len(pool))]


def _message_id(rng: Random) -> str:
    return f"<{rng.getrandbits(64):016x}-{rng.getrandbits(20)}@hapi.example.net>"


def _attachment_messages(rng: Random, count: int) -> list[tuple[int, dict]]:
    rnd = rng.random
    out: list[tuple[int, dict]] = []
    while len(out) < count:
        offset = int(rnd() * HOUR)
        route = _pick(rnd, _ROUTES)
        sender = "<>" if rnd() < 0.08 else _pick(rnd, INTERNAL_USERS if route != "inbound" else EXTERNAL_USERS)
        recipient = _pick(rnd, INTERNAL_USERS if route != "outbound" else EXTERNAL_USERS)
        message_id, subject = _message_id(rng), _pick(rnd, SUBJECTS)
        attachments = 2 if rnd() < 0.2 else 1  # two attachments of one message share the second
        for _ in range(attachments):
            result = _pick(rnd, _ATTACHMENT_RESULT_POOL)
            file_name, file_type = _pick(rnd, _FILES)
            file_hash = f"{rng.getrandbits(256):064x}"
            out.append((offset, {
                "senderAddress": sender,
                "recipientAddress": recipient,
                "fileName": file_name,
                "fileType": file_type,
                "result": result,
                "actionTriggered": _pick(rnd, _ATTACHMENT_ACTIONS),
                "date": None,
                "details": f"{result.strip().capitalize():<50}\r\nTime taken: 0 hrs, 0 min, {int(rnd() * 9) + 1} sec",
                "route": route,
                "messageId": message_id,
                "subject": subject,
                "fileHash": file_hash if rnd() > 0.03 else file_hash[:40],  # truncated in some samples
                "definition": _ATTACHMENT_DEFINITIONS[route],
            }))
    return out[:count]


def _impersonation_records(rng: Random, count: int) -> list[tuple[int, dict]]:
    rnd = rng.random
    out: list[tuple[int, dict]] = []
    for _ in range(count):
        offset = int(rnd() * HOUR)
        if out and rnd() < 0.25:  # the same MTOKEN id at another time, for another message
            record = dict(out[int(rnd() * len(out))][1])
        else:
            identifiers = _pick(rnd, _IDENTIFIERS)
            hits = len(identifiers)
            display = _pick(rnd, _FIRST).capitalize() + " " + _pick(rnd, _LAST).capitalize()
            record = {
                "id": "MTOKEN:eNq" + urlsafe_b64encode(rng.getrandbits(432).to_bytes(54)).decode(),
                "senderAddress": _pick(rnd, EXTERNAL_USERS),
                "recipientAddress": _pick(rnd, INTERNAL_USERS),
                "subject": _pick(rnd, SUBJECTS),
                "definition": f"IP - {hits} hit{'s' if hits > 1 else ''} (Tag email)",
                "hits": hits if rnd() > 0.1 else str(hits),  # an int in a string, sometimes
                "identifiers": identifiers,
                "action": _pick(rnd, _IMPERSONATION_ACTIONS),
                "taggedExternal": rnd() < 0.7,
                "taggedMalicious": True if rnd() > 0.15 else _pick(rnd, ["true", "false", False]),
                "senderIpAddress": _pick(rnd, IPS),
                "eventTime": None,
                "impersonationResults": [{
                    "impersonationDomainSource": identifiers[0],
                    "similarDomain": f"{display} <{_pick(rnd, EXTERNAL_USERS)}>",
                    "stringSimilarToDomain": display,
                    "checkerResult": "hit",
                }],
                "messageId": None,
            }
        record["messageId"] = _message_id(rng)
        out.append((offset, record))
    return out


def _url_clicks(rng: Random, count: int) -> list[tuple[int, dict]]:
    rnd = rng.random
    out: list[tuple[int, dict]] = []
    while len(out) < count:
        offset = int(rnd() * HOUR)
        route = _pick(rnd, _ROUTES)
        message_id, subject = _message_id(rng), _pick(rnd, SUBJECTS)
        sender = _pick(rnd, EXTERNAL_USERS if route == "inbound" else INTERNAL_USERS)
        sending_ip = "Internal IP" if route != "inbound" else _pick(rnd, IPS)
        url = _pick(rnd, _URLS)
        if rnd() < 0.3:
            url = f"{url}?id={rng.getrandbits(48):x}"
        malicious = rnd() < 0.3
        clicks = 1 + int(rnd() * 3) if rnd() < 0.35 else 1  # several records from one message
        for _ in range(clicks):
            action, actions = _pick(rnd, _URL_ACTIONS)
            record = {
                "userEmailAddress": _pick(rnd, INTERNAL_USERS),
                "fromUserEmailAddress": sender,
                "url": url,
                "ttpDefinition": _pick(rnd, _TTP_DEFINITIONS),
                "subject": subject,
                "action": "block" if malicious and action == "allow" else action,
                "adminOverride": "N/A",
                "userOverride": "None",
                "scanResult": "malicious" if malicious else "clean",
                "category": _pick(rnd, _URL_CATEGORIES),
                "sendingIp": sending_ip,
                "userAwarenessAction": "N/A",
                "date": None,
                "actions": actions,
                "route": route,
                "creationMethod": "User Click" if rnd() < 0.6 else "Entry Scan",
                "emailPartsDescription": _pick(rnd, _EMAIL_PARTS),
                "messageId": message_id,
            }
            if rnd() < 0.1:
                del record["fromUserEmailAddress"]  # absent in older data
            if rnd() < 0.05:
                del record["ttpDefinition"]
            if rnd() < 0.5:
                record["tagMap"] = _pick(rnd, _TAG_MAPS)
            out.append((min(offset, HOUR - 1), record))
            offset += int(rnd() * 300)
    return out[:count]


_GENERATORS = {"attachment": _attachment_messages, "impersonation": _impersonation_records, "url": _url_clicks}
_WRONG_TYPES = {"attachment": ("recipientAddress", 12345), "impersonation": ("hits", "lots"),
                "url": ("userEmailAddress", 42)}
_REQUIRED = {"attachment": ("date", "result", "recipientAddress"),
             "impersonation": ("eventTime", "recipientAddress"),
             "url": ("date", "url", "scanResult", "userEmailAddress")}
_BAD_TIMES = ["2026-13-45T99:99:99+0000", "yesterday", "", "17/11/2024 20:16:00"]


def _malform(rng: Random, endpoint: str, record: dict, non_objects: bool) -> Any:
    """Break one record the way bad data arrives: missing field, bad time, wrong type (or not an object)."""
    kind = int(rng.random() * (4 if non_objects else 3))
    if kind == 0:
        bad = dict(record)
        bad.pop(_pick(rng.random, _REQUIRED[endpoint]), None)
        if endpoint == "impersonation" and rng.random() < 0.3:
            bad.pop("id", None)
            bad.pop("messageId", None)
        return bad
    if kind == 1:
        bad = dict(record)
        bad[get_endpoint(endpoint).time_field] = _pick(rng.random, _BAD_TIMES)
        return bad
    if kind == 2:
        field_name, value = _WRONG_TYPES[endpoint]
        return {**record, field_name: value}
    return _pick(rng.random, ["corrupted record", 0, ["not", "an", "object"]])


def generate_hour(seed: int, endpoint: str, hour_start: int, volume: int, malformed_share: float,
                  non_objects: bool = False) -> HourBucket:
    """All records of ``endpoint`` whose true time falls in ``[hour_start, hour_start + 3600)``."""
    if hour_start % HOUR:
        raise ValueError(f"hour_start {hour_start} is not on an hour boundary")
    rng = Random(f"mimecast-ttp-simulator:{seed}:{endpoint}:{hour_start}")
    entries = _GENERATORS[endpoint](rng, volume)
    entries.sort(key=lambda entry: entry[0])  # stable: generation order within one second
    prefix = datetime.fromtimestamp(hour_start, UTC).strftime("%Y-%m-%dT%H:")
    time_field = get_endpoint(endpoint).time_field
    times, records = [], []
    rnd = rng.random
    for offset, record in entries:
        record[time_field] = prefix + _CLOCK_SUFFIX[offset]
        if malformed_share and rnd() < malformed_share:
            record = _malform(rng, endpoint, record, non_objects)
        times.append(hour_start + offset)
        records.append(record)
    return HourBucket(times, records)


class _BucketCache:
    """Recently generated hours, bounded by the number of records they hold (not by hours)."""

    def __init__(self, max_records: int = 600_000) -> None:
        self.max_records = max_records
        self._buckets: OrderedDict[tuple, HourBucket] = OrderedDict()
        self._held = 0
        self._lock = threading.Lock()

    def get(self, seed: int, endpoint: str, hour_start: int, volume: int, malformed_share: float,
            non_objects: bool = False) -> HourBucket:
        key = (seed, endpoint, hour_start, volume, malformed_share, non_objects)
        with self._lock:  # one generator at a time: two threads never build the same hour twice
            bucket = self._buckets.get(key)
            if bucket is not None:
                self._buckets.move_to_end(key)
                return bucket
            bucket = generate_hour(seed, endpoint, hour_start, volume, malformed_share, non_objects)
            self._buckets[key] = bucket
            self._held += len(bucket.records)
            while self._held > self.max_records and len(self._buckets) > 1:
                _, evicted = self._buckets.popitem(last=False)
                self._held -= len(evicted.records)
            return bucket


BUCKETS = _BucketCache()


def held_records(config, endpoint: str, start: float, end: float, *, end_inclusive: bool,
                 now: float | None = None, encoded: bool = False) -> list[Any]:
    """Records (oldest first, shared objects: do not mutate) with true time in the window.

    The window is ``[start, end]`` or ``[start, end)`` in epoch seconds; records later than
    ``now`` are not held yet. ``encoded=True``: ``(record, record as JSON)`` pairs instead.
    """
    if endpoint not in ENDPOINT_KEYS:
        raise ValueError(f"unknown endpoint {endpoint!r}; expected one of {', '.join(ENDPOINT_KEYS)}")
    now = config.clock() if now is None else now
    if end > now or (end == now and not end_inclusive):
        end, end_inclusive = now, True
    out: list[Any] = []
    if end < start:
        return out
    hour = int(start // HOUR) * HOUR
    while hour <= end:
        bucket = BUCKETS.get(config.seed, endpoint, hour, config.volume, config.malformed_share,
                             config.non_object_records)
        lo = bisect_left(bucket.times, start)
        hi = bisect_right(bucket.times, end) if end_inclusive else bisect_left(bucket.times, end)
        if encoded:
            out.extend(zip(bucket.records[lo:hi], bucket.encoded()[lo:hi], strict=True))
        else:
            out.extend(bucket.records[lo:hi])
        hour += HOUR
    return out


def ground_truth(config, endpoint: str, start: datetime, end: datetime) -> list[Any]:
    """Every record the simulator holds for ``endpoint`` with true event time in ``[start, end)``.

    Oldest first, exactly as served (malformed ones included; a record whose time field is broken
    sits in the window of its true time). The result is a private copy. ``endpoint="rejections"``:
    every receipt event (accepted, rejected, malformed) of the published batch files, see
    :func:`mimecast_ttp.simulator.siem_events.receipt_events`.
    """
    start, end = as_utc(start, "ground_truth start"), as_utc(end, "ground_truth end")
    if endpoint == REJECTIONS:
        from mimecast_ttp.simulator.siem_events import receipt_events  # it imports this module's pools

        return json.loads(json.dumps(receipt_events(config, start.timestamp(), end.timestamp())))
    records = held_records(config, endpoint, start.timestamp(), end.timestamp(), end_inclusive=False)
    return json.loads(json.dumps(records))
