"""The failure line names the window, the endpoint and the cause; the notifier hook point is called."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from mimecast_ttp import failures
from mimecast_ttp.failures import configured_notifier, failure_line, notify_failure

NOTIFIED: list[dict] = []


def record_notification(context):  # the notifier named in MIMECAST_TTP_FAILURE_NOTIFIER below
    NOTIFIED.append(context)


def task_failure_context():
    return {
        "ti": SimpleNamespace(task_id="url.load", rendered_map_index=None, task=SimpleNamespace(op_kwargs={})),
        "dag_run": SimpleNamespace(run_id="scheduled__2026-11-26T11:00:00+00:00", run_after=None,
                                   data_interval_start=None, data_interval_end=None),
        "params": {},
        "data_interval_start": datetime(2026, 11, 26, 11, tzinfo=UTC),
        "data_interval_end": datetime(2026, 11, 26, 12, tzinfo=UTC),
        "exception": RuntimeError("429s asked for 960 s of waiting,\nmore than the 900 s budget"),
    }


def test_task_failure_line():
    line = failure_line(task_failure_context())
    assert line == (
        "mimecast_ttp_alerts failed: window=[2026-11-26T11:00:00+00:00, 2026-11-26T12:00:00+00:00) endpoint=url "
        "task=url.load run_id=scheduled__2026-11-26T11:00:00+00:00 "
        "cause=RuntimeError: 429s asked for 960 s of waiting, more than the 900 s budget"
    )


def test_dag_failure_line_uses_the_reason_and_params_window():
    context = {"run_id": "manual__x", "reason": "task_failure", "params": {"start": "2026-11-26T00:00:00Z",
                                                                           "end": "2026-11-26T06:00:00Z"}}
    line = failure_line(context)
    assert "window=[2026-11-26T00:00:00+00:00, 2026-11-26T06:00:00+00:00)" in line
    assert line.endswith("endpoint=n/a task=n/a run_id=manual__x cause=task_failure")


def test_unresolvable_window_is_said_not_raised():
    assert "window=unresolved (params 'start' and 'end' go together" in failure_line({"params": {"start": "x"}})


def test_notifier_is_called_after_the_line(monkeypatch, caplog):
    monkeypatch.setenv(failures.NOTIFIER_VARIABLE, f"{__name__}.record_notification")
    NOTIFIED.clear()
    with caplog.at_level(logging.ERROR, logger="mimecast_ttp.failures"):
        notify_failure(task_failure_context())
    assert "mimecast_ttp_alerts failed: window=" in caplog.text
    assert len(NOTIFIED) == 1


def test_broken_notifier_is_logged_not_raised(monkeypatch, caplog):
    monkeypatch.setenv(failures.NOTIFIER_VARIABLE, f"{__name__}.test_task_failure_line")  # wrong signature
    with caplog.at_level(logging.ERROR, logger="mimecast_ttp.failures"):
        notify_failure(task_failure_context())
    assert "the failure notifier" in caplog.text


@pytest.mark.parametrize("value", ["no_dots", f"{__name__}.NOTIFIED"])
def test_bad_notifier_setting_is_named(monkeypatch, value):
    monkeypatch.setenv(failures.NOTIFIER_VARIABLE, value)
    with pytest.raises(ValueError, match="MIMECAST_TTP_FAILURE_NOTIFIER"):
        configured_notifier()


@pytest.mark.parametrize(("reason", "notified"), [("task_failure", 0), ("timed_out", 1)])
def test_a_run_that_failed_with_its_task_is_not_notified_twice(monkeypatch, caplog, reason, notified):
    monkeypatch.setenv(failures.NOTIFIER_VARIABLE, f"{__name__}.record_notification")
    NOTIFIED.clear()
    with caplog.at_level(logging.ERROR, logger="mimecast_ttp.failures"):
        notify_failure({"run_id": "manual__x", "reason": reason, "params": {}})
    assert f"cause={reason}" in caplog.text  # the run's line is logged either way
    assert len(NOTIFIED) == notified
