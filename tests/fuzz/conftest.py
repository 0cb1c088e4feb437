"""The fuzz suite's budget and its document counts.

``MIMECAST_TTP_FUZZ_EXAMPLES`` sets the hypothesis examples per test and endpoint: a short run by
default (``make test``), thousands in ``make fuzz``, which also prints how many documents each
path took and fails if they add up to fewer than ``MIMECAST_TTP_FUZZ_MIN_DOCUMENTS``.
"""

from __future__ import annotations

import os
from collections import Counter

import pytest

EXAMPLES = int(os.environ.get("MIMECAST_TTP_FUZZ_EXAMPLES", "40"))
MIN_DOCUMENTS = int(os.environ.get("MIMECAST_TTP_FUZZ_MIN_DOCUMENTS", "0"))
DOCUMENTS: Counter[str] = Counter()


def count_documents(path: str, n: int) -> None:
    DOCUMENTS[path] += n


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    if not DOCUMENTS:
        return
    for path, n in sorted(DOCUMENTS.items()):
        terminalreporter.write_line(f"fuzz: {n:,} documents through {path}")
    total = sum(DOCUMENTS.values())
    terminalreporter.write_line(f"fuzz: {total:,} documents in all ({EXAMPLES} examples per test and endpoint)")
    if total < MIN_DOCUMENTS:
        terminalreporter.write_line(f"fuzz: FAILED: fewer than the {MIN_DOCUMENTS:,} documents asked for")


def pytest_sessionfinish(session, exitstatus) -> None:
    if MIN_DOCUMENTS and sum(DOCUMENTS.values()) < MIN_DOCUMENTS and exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
