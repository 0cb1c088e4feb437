"""``mimecast-ttp transform``: every real sample through the command, the input shapes, the errors."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from mimecast_ttp import cli
from mimecast_ttp.rules import ALERT_FIELDS

REPO = Path(__file__).resolve().parents[4]
COMMAND = REPO / ".venv" / "bin" / "mimecast-ttp"

# file -> (endpoint, alert types in order, mapped_by in order, threat ids, dropped_by_verdict, quarantined_by_reason)
SAMPLES = {
    "elastic_v1mock_attachment_1.json": ("attachment", [], [], [], {"safe": 1}, {}),
    "elastic_v1mock_attachment_2_no_next.json": ("attachment", [], [], [], {"safe": 1}, {}),
    "elastic_v2mock_attachment_1.json": ("attachment", [], [], [], {"safe": 2}, {}),
    "elastic_v2mock_attachment_2.json": ("attachment", ["Unsafe Email Attachment"], ["table"], ["T1598.002"], {"safe": 1}, {}),
    "elastic_v2mock_attachment_3_lastpage_empty.json": ("attachment", [], [], [], {}, {}),
    "elastic_v1mock_impersonation_1.json": ("impersonation", ["Impersonation Attempt"], ["table"], ["T1598.003"], {}, {}),
    "elastic_v2mock_impersonation_1.json": ("impersonation", ["Impersonation Attempt"] * 2, ["table"] * 2, ["T1598.003"] * 2, {}, {}),
    "elastic_v2mock_impersonation_2.json": ("impersonation", ["Impersonation Attempt"] * 2, ["table"] * 2, ["T1598.003"] * 2, {}, {}),
    "elastic_v2mock_impersonation_3_lastpage_empty_with_next.json": ("impersonation", [], [], [], {}, {}),
    "elastic_v1mock_url_1_clean.json": ("url", [], [], [], {"clean": 1}, {}),
    "elastic_v2mock_url_1.json": (
        "url", ["Default Internal URL Protect Definition", "Default Inbound URL Protect Definition"],
        ["default", "table"], ["T1598.003", "T1598.003"], {}, {}),
    "elastic_v2mock_url_2.json": ("url", ["Default Inbound URL Protect Definition"] * 2, ["table"] * 2, ["T1598.003"] * 2, {}, {}),
    "elastic_v2mock_url_3_lastpage_empty_with_next.json": ("url", [], [], [], {}, {}),
    "rapid7v1_url_empty_response.json": ("url", [], [], [], {}, {}),
    # Not get-logs bodies: read as one record each, which the format check quarantines.
    "elastic_issue11460_v2_429_body.json": ("url", [], [], [], {}, {"missing:date": 1}),
    "elastic_v2mock_oauth_token_response.json": ("attachment", [], [], [], {}, {"missing:date": 1}),
}  # fmt: skip


def run_cli(capsys, *argv: str) -> tuple[int, list[dict], str]:
    code = cli.main(["transform", *argv])
    captured = capsys.readouterr()
    return code, [json.loads(line) for line in captured.out.splitlines()], captured.err


def summary(err: str) -> dict[str, str]:
    [line] = err.strip().splitlines()
    assert line.startswith("mimecast-ttp transform: endpoint=")
    return dict(re.findall(r"(\w+)=(\{[^}]*\}|\S+)", line.split(": ", 1)[1]))


def test_every_sample_file_is_covered(fixtures_dir):
    covered = set(SAMPLES) | {"rapid7v1_error_401_invalid_signature.json"}
    assert covered == {p.name for p in fixtures_dir.glob("*.json")}


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_each_real_sample(capsys, tmp_path, fixtures_dir, name):
    endpoint, types, mapped_by, threats, dropped, quarantined = SAMPLES[name]
    rejects = tmp_path / "rejects.jsonl"
    code, alerts, err = run_cli(capsys, "--endpoint", endpoint, str(fixtures_dir / name), "--rejects", str(rejects))
    assert code == 0
    assert [a["alert_type"] for a in alerts] == types
    assert [a["mapped_by"] for a in alerts] == mapped_by
    assert [a["threat_id"] for a in alerts] == threats
    assert all(tuple(a) == ALERT_FIELDS and a["endpoint"] == endpoint for a in alerts)
    assert len({a["alert_id"] for a in alerts}) == len(alerts)
    counts = summary(err)
    assert json.loads(counts["dropped_by_verdict"]) == dropped
    assert json.loads(counts["quarantined_by_reason"]) == quarantined
    assert int(counts["alerts"]) == len(alerts)
    rejected = [json.loads(line) for line in rejects.read_text().splitlines()]
    assert [r["reason"] for r in rejected] == [r for r, n in quarantined.items() for _ in range(n)]
    if rejected:
        assert rejected[0]["record"] == json.loads((fixtures_dir / name).read_text())


def test_the_v1_clean_click_gives_nothing_but_is_counted(capsys, fixtures_dir):
    code, alerts, err = run_cli(capsys, "--endpoint", "url", str(fixtures_dir / "elastic_v1mock_url_1_clean.json"))
    assert (code, alerts) == (0, [])
    counts = summary(err)
    assert (counts["fetched"], counts["clean_dropped"], counts["alerts"]) == ("1", "1", "0")


def test_an_alert_keeps_its_raw_record(capsys, fixtures_dir):
    body = json.loads((fixtures_dir / "elastic_v2mock_url_1.json").read_text())
    _, alerts, _ = run_cli(capsys, "--endpoint", "url", str(fixtures_dir / "elastic_v2mock_url_1.json"))
    assert [a["raw"] for a in alerts] == body["data"][0]["clickLogs"]
    assert alerts[0]["event_time"] == "2024-11-17T17:02:30Z"
    assert alerts[0]["sender_ip"] is None and alerts[1]["sender_ip"] == "34.235.45.235"


def test_a_fail_entry_is_an_error_with_its_code(capsys, fixtures_dir):
    code, alerts, err = run_cli(capsys, "--endpoint", "url", str(fixtures_dir / "rapid7v1_error_401_invalid_signature.json"))
    assert code == 1 and alerts == []
    assert "err_xdk_invalid_signature: 0004 Invalid Signature (retryable: false)" in err


def test_json_array_and_json_lines_inputs(capsys, tmp_path, fixtures_dir):
    page_1 = json.loads((fixtures_dir / "elastic_v2mock_url_1.json").read_text())
    page_2 = json.loads((fixtures_dir / "elastic_v2mock_url_2.json").read_text())
    clicks = page_2["data"][0]["clickLogs"]
    array = tmp_path / "records.json"
    array.write_text(json.dumps(clicks, indent=2))
    code, alerts, _ = run_cli(capsys, "--endpoint", "url", str(array))
    assert code == 0 and [a["raw"] for a in alerts] == clicks

    lines = tmp_path / "mixed.jsonl"  # a body per line, records per line, a blank line
    lines.write_text("\n".join([json.dumps(page_1), "", *map(json.dumps, clicks), json.dumps(clicks)]) + "\n")
    code, alerts, err = run_cli(capsys, "--endpoint", "url", str(lines))
    assert code == 0 and len(alerts) == 2 + 2 + 2
    assert len({a["alert_id"] for a in alerts}) == 4  # the same clicks twice are the same alerts
    assert summary(err)["fetched"] == "6"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("this is not json\n", "is not JSON"),
        ("", "is empty"),
        ('{"date": "2024-11-17T17:02:30+0000"}\n{"broken": \n', "line 2 is not JSON"),
        ('{"meta": {"status": 200}, "data": {"clickLogs": []}, "fail": []}', "data is dict, expected an array"),
    ],
)
def test_unreadable_input_is_an_error(capsys, tmp_path, content, message):
    path = tmp_path / "input.json"
    path.write_text(content)
    code, _, err = run_cli(capsys, "--endpoint", "url", str(path))
    assert code == 1
    assert message in err and err.startswith("mimecast-ttp transform: error:")


def test_a_missing_file_is_an_error(capsys, tmp_path):
    code, _, err = run_cli(capsys, "--endpoint", "url", str(tmp_path / "absent.json"))
    assert code == 1 and "cannot read" in err and "absent.json" in err


def test_a_body_of_another_endpoint_is_an_error(capsys, fixtures_dir):
    code, _, err = run_cli(capsys, "--endpoint", "attachment", str(fixtures_dir / "elastic_v2mock_url_1.json"))
    assert code == 1 and "no 'attachmentLogs'" in err and "clickLogs" in err


def test_a_custom_threat_table_and_a_bad_one(capsys, tmp_path, fixtures_dir):
    rows = json.loads((REPO / "include" / "threat_mappings.json").read_text())
    rows.append({"alertType": "Default Internal URL Protect Definition", "threatId": "T1566.002", "threatName": "Spearphishing Link"})
    custom = tmp_path / "mine.json"
    custom.write_text(json.dumps(rows))
    sample = str(fixtures_dir / "elastic_v2mock_url_1.json")
    code, alerts, err = run_cli(capsys, "--endpoint", "url", sample, "--mappings", str(custom))
    assert code == 0
    assert [(a["threat_id"], a["mapped_by"]) for a in alerts] == [("T1566.002", "table"), ("T1598.003", "table")]
    assert summary(err)["unmapped"] == "0"

    custom.write_text(json.dumps(rows + [rows[0]]))
    code, alerts, err = run_cli(capsys, "--endpoint", "url", sample, "--mappings", str(custom))
    assert code == 1 and alerts == [] and "duplicates row 0" in err and str(custom) in err


def test_quarantined_records_go_to_rejects_with_their_reason(capsys, tmp_path, fixtures_dir):
    body = json.loads((fixtures_dir / "elastic_v2mock_impersonation_2.json").read_text())
    hits = body["data"][0]["impersonationLogs"]
    hits[0]["hits"] = "many"
    del hits[1]["eventTime"]
    source, rejects = tmp_path / "page.json", tmp_path / "rejects.jsonl"
    source.write_text(json.dumps(body))
    code, alerts, err = run_cli(capsys, "--endpoint", "impersonation", str(source), "--rejects", str(rejects))
    assert code == 0 and alerts == []  # every record quarantined is still a successful read
    rejected = [json.loads(line) for line in rejects.read_text().splitlines()]
    assert rejected == [{"reason": "bad_type:hits", "record": hits[0]}, {"reason": "missing:eventTime", "record": hits[1]}]
    assert summary(err)["quarantined"] == "2"


def test_the_installed_command_reads_standard_input(fixtures_dir):
    page = (fixtures_dir / "elastic_v2mock_attachment_2.json").read_text()
    done = subprocess.run([str(COMMAND), "transform", "--endpoint", "attachment", "-"], input=page,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    [alert] = [json.loads(line) for line in done.stdout.splitlines()]
    assert alert["file_name"] == "Sandbox Test.xlsx" and alert["threat_name"] == "Spearphishing Attachment"
    assert "fetched=2" in done.stderr and "clean_dropped=1" in done.stderr


def test_the_installed_command_fails_clearly_on_a_fail_body(fixtures_dir):
    done = subprocess.run([str(COMMAND), "transform", "--endpoint", "url", str(fixtures_dir / "rapid7v1_error_401_invalid_signature.json")],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 1 and done.stdout == ""
    assert "err_xdk_invalid_signature" in done.stderr


def test_transform_does_not_import_airflow(fixtures_dir):
    code = (
        "import sys; from mimecast_ttp import cli; "
        f"rc = cli.main(['transform', '--endpoint', 'url', {str(fixtures_dir / 'elastic_v2mock_url_2.json')!r}]); "
        "assert rc == 0; assert not [m for m in sys.modules if m == 'airflow' or m.startswith('airflow.')], 'airflow imported'"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr


def test_a_record_with_keys_named_data_or_fail_is_a_record_not_a_body(capsys, tmp_path, fixtures_dir):
    body = json.loads((fixtures_dir / "elastic_v2mock_url_2.json").read_text())
    clicks = body["data"][0]["clickLogs"]
    look_alikes = [{**clicks[0], "data": [{"clickLogs": []}]}, {**clicks[1], "fail": [{"code": "x"}]}]
    source = tmp_path / "records.jsonl"
    source.write_text("".join(json.dumps(record) + "\n" for record in look_alikes))
    code, alerts, err = run_cli(capsys, "--endpoint", "url", str(source))
    assert code == 0 and summary(err)["fetched"] == "2" and len(alerts) == 2  # nothing vanished


def test_every_data_element_of_a_body_is_read(capsys, tmp_path, fixtures_dir):
    page_1 = json.loads((fixtures_dir / "elastic_v2mock_url_1.json").read_text())
    page_2 = json.loads((fixtures_dir / "elastic_v2mock_url_2.json").read_text())
    joined = {**page_1, "data": page_1["data"] + page_2["data"]}
    source = tmp_path / "two-elements.json"
    source.write_text(json.dumps(joined))
    code, alerts, err = run_cli(capsys, "--endpoint", "url", str(source))
    assert code == 0 and len(alerts) == 4 and summary(err)["fetched"] == "4"
    joined["data"].append("not an object")
    source.write_text(json.dumps(joined))
    code, alerts, err = run_cli(capsys, "--endpoint", "url", str(source))
    assert code == 1 and alerts == [] and "data[2] is str, expected an object" in err


def test_unstorable_records_go_to_rejects_escaped_and_stdout_stays_standard_json(capsys, tmp_path, fixtures_dir):
    body = json.loads((fixtures_dir / "elastic_v2mock_url_2.json").read_text())
    first, second = body["data"][0]["clickLogs"]
    text = json.dumps([first, {**second, "hits": 0}]).replace('"hits": 0', '"hits": NaN')
    source, rejects = tmp_path / "records.json", tmp_path / "rejects.jsonl"
    source.write_text(text)
    code, alerts, err = run_cli(capsys, "--endpoint", "url", str(source), "--rejects", str(rejects))
    assert code == 0 and [a["raw"] for a in alerts] == [first]
    [rejected] = [json.loads(line, parse_constant=_refuse) for line in rejects.read_text().splitlines()]
    assert rejected["reason"] == "unstorable:nan"
    restored = json.loads(rejected["record"])
    assert restored["hits"] != restored["hits"] and {k: v for k, v in restored.items() if k != "hits"} == second
    assert summary(err)["quarantined_by_reason"] == '{"unstorable:nan":1}'


def _refuse(constant: str):
    raise AssertionError(f"{constant} in output that must be standard JSON")


def test_input_nested_too_deeply_is_a_clear_error(capsys, tmp_path):
    source = tmp_path / "deep.json"
    source.write_text("[" * 5000 + "]" * 5000)
    code, alerts, err = run_cli(capsys, "--endpoint", "url", str(source))
    assert code == 1 and alerts == []
    assert "nested deeper than the parser takes" in err and "Traceback" not in err


def test_rejections_receipt_events_as_json_lines(capsys, tmp_path):
    from mimecast_ttp.rules import load_threat_table, transform_records

    fixture = REPO / "tests" / "fixtures" / "rules" / "rejections_receipt_events.json"
    events = list(json.loads(fixture.read_text())["events"].values())
    lines = tmp_path / "batch.ndjson"  # a batch file's lines, as the SIEM stream serves them (gunzipped)
    lines.write_text("".join(json.dumps(event) + "\n" for event in events))
    code, alerts, err = run_cli(capsys, "--endpoint", "rejections", str(lines))

    expected = transform_records("rejections", events, load_threat_table())
    assert code == 0 and alerts == expected.alerts != []
    assert {a["endpoint"] for a in alerts} == {"rejections"}
    assert summary(err)["alerts"] == str(len(expected.alerts))
