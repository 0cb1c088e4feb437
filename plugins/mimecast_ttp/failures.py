"""What a failure says: one log line naming the window, the endpoint and the cause.

Used as the DAG's ``on_failure_callback`` (run by the dag-processor once the run fails) and as
every task's (run in the worker, where the exception is at hand). An operator can add a notifier
(Slack, e-mail, PagerDuty: any Airflow notifier or callable taking the context) by naming it in
``MIMECAST_TTP_FAILURE_NOTIFIER`` as ``package.module.attribute``; it is called after the line is
logged, and its own failure is logged rather than hiding the original one.
"""

from __future__ import annotations

import importlib
import logging
import os
from collections.abc import Callable
from typing import Any

from mimecast_ttp.endpoints import ENDPOINT_KEYS

log = logging.getLogger(__name__)

NOTIFIER_VARIABLE = "MIMECAST_TTP_FAILURE_NOTIFIER"


def failure_line(context: dict[str, Any]) -> str:
    """``mimecast_ttp_alerts failed: window=... endpoint=... task=... cause=...``."""
    ti = context.get("ti") or context.get("task_instance")
    dag_run = context.get("dag_run")
    exception = context.get("exception")
    cause = f"{type(exception).__name__}: {exception}" if exception else context.get("reason") or "unknown"
    endpoint = _endpoint_of(ti)
    return (
        f"mimecast_ttp_alerts failed: window={_window_of(context)} endpoint={endpoint or 'n/a'} "
        f"task={getattr(ti, 'task_id', 'n/a')} run_id={getattr(dag_run, 'run_id', None) or context.get('run_id')} "
        f"cause={' '.join(str(cause).split())}"
    )


def notify_failure(context: dict[str, Any]) -> None:
    """Log the failure line, then call the operator's notifier, if one is configured: once per failure.

    Registered on every task and on the DAG. A run that failed because a task failed was already
    notified by that task's callback, so its run-level call only logs; a run that failed for
    another reason (a timeout, say) is notified here.
    """
    line = failure_line(context)
    if context.get("exception") is None and context.get("reason") == "task_failure":
        log.error("%s (the failed task was notified already)", line)
        return
    log.error(line)
    notifier = configured_notifier()
    if notifier is not None:
        try:
            notifier(context)
        except Exception:  # a broken notifier must not mask the failure it reports
            log.exception("the failure notifier %s raised", os.environ.get(NOTIFIER_VARIABLE))


def configured_notifier() -> Callable[[dict[str, Any]], Any] | None:
    """The callable named by ``MIMECAST_TTP_FAILURE_NOTIFIER``, or None."""
    target = os.environ.get(NOTIFIER_VARIABLE, "").strip()
    if not target:
        return None
    module_name, _, attribute = target.rpartition(".")
    if not module_name:
        raise ValueError(f"{NOTIFIER_VARIABLE}={target!r} must be 'package.module.attribute'")
    notifier = getattr(importlib.import_module(module_name), attribute)
    if not callable(notifier):
        raise ValueError(f"{NOTIFIER_VARIABLE}={target!r} is not callable")
    return notifier


def _endpoint_of(ti: Any) -> str | None:
    rendered = getattr(ti, "rendered_map_index", None)
    if rendered:
        return str(rendered)
    task = getattr(ti, "task", None)
    endpoint = (getattr(task, "op_kwargs", None) or {}).get("endpoint")
    if endpoint:
        return endpoint
    group = str(getattr(ti, "task_id", "")).partition(".")[0]  # tasks live in a group named after it
    return group if group in ENDPOINT_KEYS else None


def _window_of(context: dict[str, Any]) -> str:
    from mimecast_ttp.settings import Settings
    from mimecast_ttp.windows import WindowError, resolve_window

    params = context.get("params") or {}
    dag_run = context.get("dag_run")
    settings = Settings.from_env()
    try:
        window = resolve_window(
            schedule=settings.schedule,
            overlap=settings.overlap,
            param_start=params.get("start"),
            param_end=params.get("end"),
            data_interval_start=context.get("data_interval_start") or getattr(dag_run, "data_interval_start", None),
            data_interval_end=context.get("data_interval_end") or getattr(dag_run, "data_interval_end", None),
            run_after=getattr(dag_run, "run_after", None),
        )
    except WindowError as err:
        return f"unresolved ({err})"
    return f"[{window.start.isoformat()}, {window.end.isoformat()})"
