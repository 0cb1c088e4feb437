"""Endpoint definitions are data: read from include/, checked, and used to find a body's records."""

from __future__ import annotations

import json

import pytest

from mimecast_ttp.endpoints import ENDPOINT_KEYS, get_endpoint, load_endpoints


def test_the_three_endpoints_match_the_api_notes():
    assert {key: get_endpoint(key).path for key in ENDPOINT_KEYS} == {
        "attachment": "/api/ttp/attachment/get-logs",
        "impersonation": "/api/ttp/impersonation/get-logs",
        "url": "/api/ttp/url/get-logs",
    }
    assert get_endpoint("impersonation").time_field == "eventTime"
    assert dict(get_endpoint("url").request_filters) == {"route": "all", "scanResult": "all"}


def test_records_of_real_bodies(fixtures_dir):
    body = json.loads((fixtures_dir / "elastic_v2mock_url_1.json").read_text())
    assert len(get_endpoint("url").records_of(body)) == len(body["data"][0]["clickLogs"]) > 0
    empty = json.loads((fixtures_dir / "elastic_v2mock_url_3_lastpage_empty_with_next.json").read_text())
    assert get_endpoint("url").records_of(empty) == []
    assert get_endpoint("url").records_of({"data": []}) == []


def test_unknown_endpoint_is_named():
    with pytest.raises(ValueError, match="unknown endpoint 'clicks'"):
        get_endpoint("clicks")


def test_a_broken_definition_file_is_named(tmp_path):
    path = tmp_path / "endpoints.json"
    path.write_text(json.dumps({"attachment": {"path": "/x"}}))
    with pytest.raises(ValueError, match="endpoint 'attachment' is missing or has a malformed 'records_key'"):
        load_endpoints(path)
    path.write_text(json.dumps({"url": {"path": "/x", "records_key": "clickLogs", "time_field": "date"}}))
    with pytest.raises(ValueError, match=r"no definition for endpoint\(s\) \['attachment', 'impersonation'\]"):
        load_endpoints(path)


def test_records_of_reads_every_data_element_or_names_the_one_it_cannot(fixtures_dir):
    url = get_endpoint("url")
    page_1 = json.loads((fixtures_dir / "elastic_v2mock_url_1.json").read_text())
    page_2 = json.loads((fixtures_dir / "elastic_v2mock_url_2.json").read_text())
    joined = {**page_1, "data": page_1["data"] + page_2["data"]}
    assert url.records_of(joined) == page_1["data"][0]["clickLogs"] + page_2["data"][0]["clickLogs"]
    for data, message in (([{"clickLogs": []}, 7], r"data\[1\] is int"),
                          ([{"attachmentLogs": []}], r"data\[0\] has no 'clickLogs' \(keys: attachmentLogs\)"),
                          ([{"clickLogs": {}}], r"data\[0\].clickLogs is dict"),
                          ({"clickLogs": []}, "data is dict")):
        with pytest.raises(ValueError, match=message):
            url.records_of({"data": data})
