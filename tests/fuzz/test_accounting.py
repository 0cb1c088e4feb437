"""Fuzzing the record path: whatever is read, every record ends as exactly one thing, and nothing breaks.

Documents come from the real samples, mutated the ways a broken or hostile feed could (every
required field missing in turn, wrong types, lone surrogates, NUL, NaN and infinities, huge strings,
deep nesting, keys that make a record look like an envelope, duplicate keys), and from arbitrary
JSON. Three paths are held to the accounting identity of alert-rules.md §1 (fetched = quarantined
+ outside the window + dropped clean + kept), and to writing only standard JSON:

- the rules (``transform_records``), as every path runs them;
- ``mimecast-ttp transform`` on JSON-lines input, where nothing may be taken for an envelope unless
  it is one, and a line that is not UTF-8 JSON is an error naming it, never a traceback;
- the store (``AlertStore.load_window``) on SQLite and PostgreSQL: every alert, quarantined row and
  count lands, and every stored quarantined record reads back as it was read.

``make test`` runs the ``ci`` profile (a few hundred documents per path); ``make fuzz`` runs the
``fuzz`` profile (``tests/fuzz/conftest.py``), over 100,000 documents, and prints the counts.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mimecast_ttp.endpoints import ENDPOINT_KEYS, get_endpoint
from mimecast_ttp.rules import load_threat_table, transform_records
from mimecast_ttp.rules.spec import default_rule_spec
from tests.fuzz.conftest import EXAMPLES, count_documents
from tests.plugins.mimecast_ttp.rules.conftest import SAMPLE_PAGES, page_records

WINDOW = (datetime(2024, 11, 1, tzinfo=UTC), datetime(2024, 12, 1, tzinfo=UTC))  # holds every sample's time
ANY_CHARACTER = st.characters(exclude_categories=())  # surrogates and NUL included
SOME_TEXT = st.text(alphabet=ANY_CHARACTER, max_size=24)
HOSTILE_TEXT = st.one_of(
    SOME_TEXT,
    st.sampled_from(["\ud83d", "\udfff broken", "a\x00b", "\x00", "\\u0000", "😀", "", " ", "2024-13-45T25:61:61Z"]),
    st.integers(1000, 200_000).map(lambda n: "x" * n),  # huge
)
LEAF = st.one_of(st.none(), st.booleans(), st.integers(), st.integers(-(10**30), 10**30),
                 st.floats(allow_nan=True, allow_infinity=True), HOSTILE_TEXT)
JSON_VALUES = st.recursive(LEAF, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(SOME_TEXT, inner,
                                                                                            max_size=4),
                           max_leaves=12)


def _samples() -> dict[str, list[dict]]:
    from tests.conftest import FIXTURES

    return {endpoint: [r for name in names for r in page_records(FIXTURES, name, endpoint)]
            for endpoint, names in SAMPLE_PAGES.items()}


SAMPLES = _samples()
SPEC = default_rule_spec()
FIELDS = {endpoint: sorted({k for r in records for k in r}) for endpoint, records in SAMPLES.items()}


def _nested(depth: int):
    value: object = []
    for _ in range(depth):
        value = [value]
    return value


@st.composite
def records(draw, endpoint: str):
    """One document as a record of ``endpoint`` might arrive."""
    kind = draw(st.sampled_from(["sample", "mutated", "missing", "look-alike", "arbitrary", "deep"]))
    base = dict(draw(st.sampled_from(SAMPLES[endpoint])))
    if kind == "sample":
        return base
    if kind == "mutated":
        for _ in range(draw(st.integers(1, 3))):
            base[draw(st.sampled_from(FIELDS[endpoint]))] = draw(JSON_VALUES)
        return base
    if kind == "missing":
        rules = SPEC.for_endpoint(endpoint)
        required = [rules.time_field, *rules.required_strings, *rules.required_one_of]
        for name in draw(st.lists(st.sampled_from(required), min_size=1, unique=True)):
            base.pop(name, None)
        return base
    if kind == "look-alike":
        extra = draw(st.dictionaries(st.sampled_from(["data", "fail", "meta"]), JSON_VALUES, min_size=1))
        return {**base, **extra}
    if kind == "deep":
        return {**base, "tagMap": {"nested": _nested(draw(st.integers(10, 400)))}}
    return draw(JSON_VALUES)


def batches(endpoint: str):
    return st.lists(records(endpoint), min_size=1, max_size=12)


def _strict(value) -> None:
    """``value`` is standard JSON in valid UTF-8 with no NUL: what a store and a step file must get."""
    json.dumps(value, allow_nan=False, ensure_ascii=False).encode("utf-8")  # raises on NaN, lone surrogates
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            assert "\x00" not in item
        elif isinstance(item, dict):
            pending += [*item, *item.values()]
        elif isinstance(item, list):
            pending += item


def _assert_accounted(result, fetched: int) -> None:
    counts = result.counts()
    assert counts["fetched"] == fetched
    assert fetched == counts["quarantined"] + counts["outside_window"] + counts["clean_dropped"] + counts["kept"]
    assert counts["kept"] == len(result.alerts)
    for item in result.quarantined:
        _strict(item)
    for alert in result.alerts:
        _strict(alert)


FUZZ = settings(max_examples=EXAMPLES, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture], deadline=None)


@pytest.mark.parametrize("endpoint", ENDPOINT_KEYS)
@FUZZ
@given(data=st.data())
def test_the_rules_account_for_every_record_and_write_standard_json(endpoint, data):
    batch = data.draw(batches(endpoint))
    table = load_threat_table()
    _assert_accounted(transform_records(endpoint, batch, table, window=WINDOW), len(batch))
    count_documents("rules", len(batch))


def _line(value, draw) -> str:
    """One JSON-lines line for ``value``: as json.dumps writes it (NaN, escapes), or with a key twice."""
    text = json.dumps(value)
    if isinstance(value, dict) and value and draw(st.booleans()):
        key = json.dumps(next(iter(value)))
        text = "{" + f"{key}: 0, " + text[1:]  # a duplicate key: the last one wins, as in Python's reader
    return text


def _records_in(line: str, endpoint: str) -> int | None:
    """How many records a line holds, judged independently of the command; None: the line is an error."""
    value = json.loads(line)
    if isinstance(value, list):
        return len(value)
    if isinstance(value, dict) and isinstance(value.get("meta"), dict) and (
            isinstance(value.get("data"), list) or isinstance(value.get("fail"), list)):
        if value.get("fail"):
            return None
        try:
            return len(get_endpoint(endpoint).records_of(value))
        except ValueError:
            return None
    return 1


@pytest.mark.parametrize("endpoint", ENDPOINT_KEYS)
@FUZZ
@given(data=st.data())
def test_transform_reads_every_line_as_records_or_names_the_bad_one(endpoint, data, tmp_path):
    from mimecast_ttp import cli

    values = data.draw(st.lists(st.one_of(records(endpoint), st.lists(records(endpoint), max_size=3),
                                          st.builds(_body, st.just(endpoint), st.lists(records(endpoint), max_size=3))),
                                min_size=1, max_size=8))
    lines = [_line(value, data.draw) for value in values]
    raw = "\n".join(lines).encode("utf-8", "surrogatepass") + b"\n"
    if data.draw(st.integers(0, 9)) == 0:
        raw += data.draw(st.binary(min_size=1, max_size=8)).replace(b"\n", b"") + b"\n"  # possibly not UTF-8 JSON
    source, rejects = tmp_path / "input.jsonl", tmp_path / "rejects.jsonl"
    source.write_bytes(raw)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(["transform", "--endpoint", endpoint, str(source), "--rejects", str(rejects)])
    assert code in (0, 1), err.getvalue()
    assert "Traceback" not in err.getvalue()
    expected = _expected_count(raw, endpoint)
    if code == 1:
        assert err.getvalue().startswith("mimecast-ttp transform: error:")
        assert expected is None or "is not" in err.getvalue() or "nested" in err.getvalue(), err.getvalue()
        return
    assert expected is not None, err.getvalue()
    summary = err.getvalue().strip().splitlines()[-1]
    fetched = int(summary.split(" fetched=")[1].split()[0])
    assert fetched == expected  # nothing vanished, nothing was taken for an envelope
    alerts = [json.loads(line, parse_constant=_refuse) for line in out.getvalue().splitlines()]
    rejected = [json.loads(line, parse_constant=_refuse) for line in rejects.read_text().splitlines()]
    assert int(summary.split(" quarantined=")[1].split()[0]) == len(rejected)
    assert int(summary.split(" alerts=")[1].split()[0]) == len(alerts)
    count_documents("transform", fetched)


def _body(endpoint: str, page: list) -> dict:
    return {"meta": {"status": 200}, "data": [{get_endpoint(endpoint).records_key: page}], "fail": []}


def _expected_count(raw: bytes, endpoint: str) -> int | None:
    try:
        text = raw.decode("utf-8")
        return sum(_records_in(line, endpoint) for line in text.splitlines() if line.strip())
    except (UnicodeDecodeError, ValueError, RecursionError, TypeError):  # TypeError: a None in the sum
        return None


def _refuse(constant: str):
    raise AssertionError(f"{constant} written where standard JSON is due")


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def fuzz_store(request, tmp_path_factory):
    from mimecast_ttp.store import AlertStore
    from tests.plugins.mimecast_ttp.store_samples import postgres_schema

    if request.param == "sqlite":
        yield AlertStore.from_url(f"sqlite:///{tmp_path_factory.mktemp('fuzz') / 'alerts.db'}")
        return
    with postgres_schema(request.getfixturevalue("postgres_url")) as url:
        store = AlertStore.from_url(url)
        yield store
        store.engine.dispose()


_windows = iter(range(10**9))


@pytest.mark.parametrize("endpoint", ENDPOINT_KEYS)
@FUZZ
@given(data=st.data())
def test_the_store_keeps_every_alert_quarantined_record_and_count(endpoint, data, fuzz_store):
    from sqlalchemy import func, select

    from mimecast_ttp.store import alerts_table, quarantine_table
    from tests.plugins.mimecast_ttp.store_samples import load, window_batch

    batch_records = data.draw(batches(endpoint))
    start = datetime(2030, 1, 1, tzinfo=UTC) + timedelta(hours=next(_windows))  # a window of its own
    batch = window_batch(batch_records, endpoint, (start, start + timedelta(hours=1)))
    result = batch["transform"]
    _assert_accounted(result, len(batch_records))
    written = load(fuzz_store, batch)
    assert written["quarantined"] == len(result.quarantined)
    assert written["alerts"] == len({alert["alert_id"] for alert in result.alerts})
    assert written["records_fetched"] == len(batch_records)
    with fuzz_store.engine.connect() as conn:
        stored = [row.record for row in conn.execute(
            select(quarantine_table.c.record).where(quarantine_table.c.window_start == start,
                                                    quarantine_table.c.endpoint == endpoint)
            .order_by(quarantine_table.c.id))]
        ids = {alert["alert_id"] for alert in result.alerts}
        present = conn.execute(select(func.count()).select_from(alerts_table)
                               .where(alerts_table.c.alert_id.in_(ids))).scalar_one() if ids else 0
    assert present == len(ids)
    assert [_marked(record) for record in stored] == [_marked(item["record"]) for item in result.quarantined]
    count_documents(f"store ({fuzz_store.engine.dialect.name})", len(batch_records))


def _marked(value):
    """A comparable form: floats that are not finite made visible (they never reach the store anyway)."""
    if isinstance(value, float) and not math.isfinite(value):
        return ("float", repr(value))
    if isinstance(value, dict):
        return {k: _marked(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_marked(v) for v in value]
    return value
