"""The clean/safe filter (alert-rules.md §2): case-insensitive after trimming, unknown verdicts kept."""

from __future__ import annotations

import pytest

from mimecast_ttp.rules import filter_verdicts


def test_the_real_attachment_pages_drop_safe_and_keep_malicious(records):
    result = filter_verdicts("attachment", records["attachment"])
    assert [r["result"] for r in result.kept] == ["malicious"]
    assert result.dropped_by_verdict == {"safe": 5}
    assert result.kept_by_verdict == {"malicious": 1}


def test_the_real_url_pages_drop_the_clean_click(records):
    result = filter_verdicts("url", records["url"])
    assert [r["scanResult"] for r in result.kept] == ["malicious"] * 4
    assert result.dropped_by_verdict == {"clean": 1}


@pytest.mark.parametrize(("endpoint", "field"), [("attachment", "result"), ("url", "scanResult")])
@pytest.mark.parametrize("value", ["safe", "clean", "SAFE", " Clean ", "\tsafe\n"])
def test_clean_and_safe_are_dropped_in_any_case_and_spacing(record_of, endpoint, field, value):
    result = filter_verdicts(endpoint, [{**record_of[endpoint], field: value}])
    assert result.kept == []
    assert result.dropped_by_verdict == {value.strip().lower(): 1}


@pytest.mark.parametrize("value", ["malicious", "unknown", "timeout", "error", "unsafe", "quarantined-new", ""])
def test_every_other_attachment_verdict_is_kept_and_counted(attachment, value):
    result = filter_verdicts("attachment", [{**attachment, "result": value}, {**attachment, "result": value.upper()}])
    assert len(result.kept) == 2
    assert result.kept_by_verdict == {value: 2}
    assert result.dropped_by_verdict == {}


def test_impersonation_is_never_dropped(records):
    result = filter_verdicts("impersonation", records["impersonation"])
    assert result.kept == records["impersonation"]
    assert result.dropped_by_verdict == {} and result.kept_by_verdict == {}


def test_records_are_passed_through_unchanged(records):
    urls = records["url"]
    result = filter_verdicts("url", urls)
    assert all(any(k is r for r in urls) for k in result.kept)
