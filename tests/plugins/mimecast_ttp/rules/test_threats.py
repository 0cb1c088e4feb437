"""The threat table: the user's rows, lookup rules, and every kind of rejected table."""

from __future__ import annotations

import json

import pytest

from mimecast_ttp.rules import ThreatTableError, load_threat_table

SEED_ROWS = 11


def write_table(tmp_path, rows, name="table.json"):
    path = tmp_path / name
    path.write_text(rows if isinstance(rows, str) else json.dumps(rows))
    return path


@pytest.fixture
def seed_rows(table):
    return [{"alertType": r.alert_type, "threatId": r.threat_id, "threatName": r.threat_name} for r in table.rows]


def test_the_default_table_is_the_users_eleven_rows(table):
    assert len(table) == SEED_ROWS
    assert table.lookup("Unsafe Email Attachment").threat_id == "T1598.002"
    assert table.lookup("Invalid Recipient").threat_name == "Defense Evasion"
    assert table.lookup("Message bounced due to Content Examination Policy").threat_id == "T1598"
    assert table.lookup("IP Temporarily Blacklisted").threat_id == "TA0001"


def test_lookup_is_exact_after_trimming_then_case_insensitive(table):
    assert table.lookup("  Invalid Recipient ").alert_type == "Invalid Recipient"
    assert table.lookup("invalid RECIPIENT").threat_id == "TA0005"
    assert table.lookup("Invalid Recipients") is None


def test_exact_match_wins_over_the_case_insensitive_one(tmp_path, seed_rows):
    path = write_table(tmp_path, seed_rows)
    table = load_threat_table(path)
    assert table.path == path
    assert table.lookup("URL PROTECTION").alert_type == "URL Protection"


def test_a_custom_table_path_is_used(tmp_path, seed_rows):
    rows = seed_rows + [{"alertType": "Entry Scan", "threatId": "T1566.002", "threatName": "Phishing: Spearphishing Link"}]
    table = load_threat_table(write_table(tmp_path, rows))
    assert len(table) == SEED_ROWS + 1
    assert table.lookup("entry scan").threat_id == "T1566.002"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda rows: rows + [dict(rows[7])], r"row 11 \(alertType 'Invalid Recipient'\) duplicates row 7"),
        (lambda rows: rows + [{**rows[7], "alertType": " invalid recipient "}], r"row 11 .*duplicates row 7"),
        (lambda rows: [{**rows[0], "threatId": "T1598.3"}] + rows[1:], r"row 0 \(alertType 'Impersonation Attempt'\): threatId 'T1598.3' is not a MITRE id"),
        (lambda rows: rows[:4] + [{**rows[4], "threatId": "TA001"}] + rows[5:], r"row 4 .*'TA001' is not a MITRE id"),
        (lambda rows: rows[:5] + [{**rows[5], "threatId": "t1078"}] + rows[6:], r"row 5 .*'t1078'"),
        (lambda rows: rows[:5] + [{**rows[5], "threatId": " T1078"}] + rows[6:], r"row 5 .*' T1078'"),
        (lambda rows: rows[:3] + [{k: v for k, v in rows[3].items() if k != "threatName"}] + rows[4:], r"row 3 \(alertType 'Default URL Protection'\) has no threatName"),
        (lambda rows: rows[:3] + [{**rows[3], "threatName": "  "}] + rows[4:], r"row 3 .*threatName is blank"),
        (lambda rows: rows[:3] + [{**rows[3], "alertType": ""}] + rows[4:], r"row 3 .*alertType is blank"),
        (lambda rows: rows[:3] + [{**rows[3], "threatId": 1598}] + rows[4:], r"row 3 .*threatId must be a string"),
        (lambda rows: rows + [{"threatId": "T1078", "threatName": "x"}], r"row 11 has no alertType"),
        (lambda rows: rows + [["Invalid", "T1078", "x"]], r"row 11 is list, expected an object"),
        (lambda rows: {"rows": rows}, r"expected a JSON array"),
        (lambda rows: [r for r in rows if r["alertType"] != "URL Protection"], r"no row for 'URL Protection', the default alert type of endpoint url"),
    ],
)
def test_bad_tables_are_rejected_naming_file_and_row(tmp_path, seed_rows, change, message):
    path = write_table(tmp_path, change(seed_rows))
    with pytest.raises(ThreatTableError, match=message) as caught:
        load_threat_table(path)
    assert str(path) in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_unreadable_tables(tmp_path):
    with pytest.raises(ThreatTableError, match="not valid JSON"):
        load_threat_table(write_table(tmp_path, '[{"alertType": '))
    missing = tmp_path / "absent.json"
    with pytest.raises(ThreatTableError, match=f"{missing}: cannot read it"):
        load_threat_table(missing)


def test_the_default_path_follows_the_include_dir(tmp_path, seed_rows, monkeypatch):
    write_table(tmp_path, seed_rows[:3] + [{**seed_rows[3], "threatId": "bad"}], name="threat_mappings.json")
    monkeypatch.setenv("MIMECAST_TTP_INCLUDE_DIR", str(tmp_path))
    with pytest.raises(ThreatTableError, match=str(tmp_path / "threat_mappings.json")):
        load_threat_table()
