"""Alert types (alert-rules.md §3), the url rule and its ``URL Protection`` fallback."""

from __future__ import annotations

import pytest

from mimecast_ttp.rules import alert_type


def test_fixed_types_of_attachment_and_impersonation(attachment, impersonation):
    assert alert_type("attachment", attachment) == "Unsafe Email Attachment"
    assert alert_type("impersonation", impersonation) == "Impersonation Attempt"


def test_real_url_records_take_their_ttp_definition(records):
    assert [alert_type("url", r) for r in records["url"]] == [
        "Default Internal URL Protect Definition",
        "Default Inbound URL Protect Definition",
        "Default Inbound URL Protect Definition",
        "Default Inbound URL Protect Definition",
        "Inbound URL 'Aggressive'",
    ]


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"ttpDefinition": None}, "Entry Scan"),  # missing definition: creationMethod
        ({"ttpDefinition": "   "}, "Entry Scan"),  # blank definition: creationMethod
        ({"reason": "IP Temporarily Blacklisted"}, "IP Temporarily Blacklisted"),  # definition present: reason
        ({"reason": "  Invalid Recipient "}, "Invalid Recipient"),  # trimmed
        ({"reason": " "}, "Default Inbound URL Protect Definition"),  # blank reason: the definition
        ({"ttpDefinition": "", "creationMethod": ""}, "URL Protection"),  # chosen field blank: fallback
        ({"ttpDefinition": None, "creationMethod": None}, "URL Protection"),
        ({"ttpDefinition": "", "reason": "Invalid Recipient"}, "Entry Scan"),  # reason only counts with a definition
    ],
)
def test_the_url_rule(url, changes, expected):
    record = {k: v for k, v in {**url, **changes}.items() if v is not None}
    assert alert_type("url", record) == expected
