"""The report as text (100 columns), JSON, or one self-contained HTML page with its charts inline.

Charts are matplotlib figures rendered to SVG and embedded in the page (no network, no files
beside it), so the page opens offline, prints, and can be mailed: coverage per endpoint, records
fetched per window with the anomaly band, quality over time, quarantine rate by reason, API health, alerts per day
by MITRE threat.
"""

from __future__ import annotations

import html
import io
import json
import textwrap

import pandas as pd

from mimecast_ttp.report.analysis import public

WIDTH = 100  # the text report fits a terminal
STATE_COLOURS = {"loaded": "#2e7d32", "not_licensed": "#9e9e9e", "failed": "#c62828", "missing": "#ef6c00"}


def as_json(report: dict) -> str:
    return json.dumps(public(report), indent=2, sort_keys=False)


def as_text(report: dict) -> str:
    period = report["period"]
    lines = [f"Mimecast TTP report, {period['start']} .. {period['end']} (as of {period['as_of']})", ""]
    lines.append(f"{'endpoint':<14}{'windows':>8}{'missing':>8}{'alerts':>8}{'fetched':>9}{'quar.':>7}"
                 f"{'lag':>9}{'429s':>6}{'retries':>8}{'anomal.':>8}")
    for endpoint in report["endpoints"]:
        e = report["endpoints"][endpoint]
        lag = "-" if e["lag_seconds"] is None else _duration(e["lag_seconds"])
        lines.append(f"{endpoint:<14}{e['windows_loaded']:>4}/{e['windows_expected']:<3}{e['windows_missing']:>8}"
                     f"{e['alerts']:>8}{e['records_fetched']:>9}{e['quarantine_rate']:>7.1%}{lag:>9}"
                     f"{e['api']['rate_limit_waits']:>6}{e['api']['retries']:>8}{len(e['anomalies']):>8}")
    lines.append("")
    for check in report["checks"]:
        for part in check["detail"].split("; "):
            lines += textwrap.wrap(f"[{check['status'].upper()}] {check['name']}: {part}", width=WIDTH,
                                   subsequent_indent="    ", break_on_hyphens=False)
    return "\n".join(lines)


def _duration(seconds: float) -> str:
    return f"{seconds / 3600:.1f}h" if seconds >= 5400 else f"{seconds / 60:.0f}m"


def _svg(figure) -> str:
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})  # the same data, the same page
    import matplotlib.pyplot as plt

    plt.close(figure)
    text = buffer.getvalue()
    return text[text.index("<svg"):]  # drop the XML prologue: the SVG sits inside the HTML


def charts(report: dict) -> dict[str, str]:
    """Chart title -> inline SVG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out: dict[str, str] = {}
    endpoints = report["endpoints"]
    sources = list(endpoints)  # the report's sources, in the package's order

    figure, axis = plt.subplots(figsize=(10, 0.6 * len(sources) + 0.6))
    for row, endpoint in enumerate(sources):
        timeline = endpoints[endpoint]["_timeline"]
        for state, colour in STATE_COLOURS.items():
            part = timeline[timeline["state"] == state]
            axis.broken_barh(list(zip(part["window_start"], part["window_end"] - part["window_start"], strict=True)),
                             (row - 0.4, 0.8), color=colour, label=state if row == 0 else None)
    axis.set_yticks(range(len(sources)), sources)
    axis.legend(loc="upper center", bbox_to_anchor=(0.5, -0.35), ncol=4, frameon=False)
    out["Coverage: schedule windows by state"] = _svg(figure)

    figure, axes = plt.subplots(len(sources), 1, figsize=(10, 2 * len(sources)), sharex=True, squeeze=False)
    for axis, endpoint in zip(axes[:, 0], sources, strict=True):
        series = endpoints[endpoint]["_volume"]
        if len(series):
            axis.plot(series.index, series["records_per_hour"], marker=".", label="records fetched")
            axis.plot(series.index, series["alerts_per_hour"], marker=".", label="alerts")
            axis.fill_between(series.index, series["low"], series["high"], alpha=0.15, label="expected (median ± k MAD)")
            odd = series[series["anomaly"] != ""]
            axis.scatter(odd.index, odd["records_per_hour"], color="#c62828", zorder=3, label="anomaly")
        axis.set_ylabel(endpoint)
    axes[0, 0].legend(loc="upper left", ncol=4, fontsize="small", frameon=False)
    out["Volume per hour, by window"] = _svg(figure)

    figure, axis = plt.subplots(figsize=(10, 3))
    for endpoint in sources:
        series = endpoints[endpoint]["_volume"]
        if len(series):
            axis.plot(series.index, series["quarantine_rate"], marker=".", label=f"{endpoint}: quarantined")
            axis.plot(series.index, series["clean_share"], marker=".", linestyle="--", label=f"{endpoint}: clean/safe")
    axis.set_ylabel("share of records fetched")
    axis.legend(fontsize="small", frameon=False, ncol=3)
    out["Quality over time: quarantined and clean/safe shares per window"] = _svg(figure)

    figure, axis = plt.subplots(figsize=(10, 3))
    rates = pd.DataFrame({endpoint: pd.Series(endpoints[endpoint]["quarantined_by_reason"], dtype=float)
                          / max(endpoints[endpoint]["records_fetched"], 1) for endpoint in sources}).fillna(0)
    if not rates.empty:
        rates.T.plot.bar(stacked=True, ax=axis, legend=True, rot=0)
        axis.legend(fontsize="small", frameon=False, ncol=3)
    axis.set_ylabel("share of records quarantined")
    out["Quality: quarantine rate by reason"] = _svg(figure)

    figure, axis = plt.subplots(figsize=(10, 3))
    api = pd.DataFrame({endpoint: {k: endpoints[endpoint]["api"][k] for k in
                                   ("rate_limit_waits", "retries", "token_refreshes")} for endpoint in sources})
    api.plot.bar(ax=axis, rot=0)
    axis.legend(fontsize="small", frameon=False)
    out["API health: 429 waits, retries, token refreshes"] = _svg(figure)

    figure, axis = plt.subplots(figsize=(10, 3))
    by_threat = pd.DataFrame(report["alerts"]["by_day_and_threat"]).T.fillna(0).sort_index()
    if not by_threat.empty:
        by_threat.plot.bar(stacked=True, ax=axis, rot=0)
        axis.legend(fontsize="small", frameon=False)
    axis.set_ylabel("alerts")
    out["Alerts per day by MITRE threat"] = _svg(figure)
    return out


def as_html(report: dict) -> str:
    period = report["period"]
    escape = html.escape
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>Mimecast TTP report {escape(period['start'])} .. {escape(period['end'])}</title>",
        "<style>body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;color:#222}"
        "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.3em .6em;text-align:right}"
        "th:first-child,td:first-child{text-align:left}.pass{color:#2e7d32}.fail{color:#c62828;font-weight:bold}"
        "code{background:#f4f4f4;padding:.1em .3em}td{white-space:nowrap}table{font-size:90%}figure{margin:1.5em 0}svg{max-width:100%;height:auto}"
        "@media print{figure{break-inside:avoid}}</style></head><body>",
        f"<h1>Mimecast TTP report</h1><p>{escape(period['start'])} .. {escape(period['end'])}, schedule "
        f"<code>{escape(period['schedule'])}</code>, as of {escape(period['as_of'])}</p>",
        "<h2>Checks</h2><ul>",
    ]
    parts += [f"<li class='{c['status']}'>{escape(c['status'].upper())} {escape(c['name'])}: {escape(c['detail'])}</li>"
              for c in report["checks"]]
    parts.append("</ul><h2>Endpoints</h2><table><tr><th>endpoint</th><th>windows loaded</th><th>missing</th>"
                 "<th>not licensed</th><th>alerts</th><th>fetched</th><th>quarantine</th><th>clean</th>"
                 "<th>lag</th><th>delay p50 / p90</th><th>429s</th><th>retries</th><th>anomalies</th></tr>")
    for endpoint in report["endpoints"]:
        e = report["endpoints"][endpoint]
        delay = e["ingestion_delay_seconds"]
        parts.append(
            f"<tr><td>{endpoint}</td><td>{e['windows_loaded']} / {e['windows_expected']}</td>"
            f"<td>{e['windows_missing']}</td><td>{e['windows_not_licensed']}</td><td>{e['alerts']}</td>"
            f"<td>{e['records_fetched']}</td><td>{e['quarantine_rate']:.1%}</td><td>{e['clean_share']:.1%}</td>"
            f"<td>{'-' if e['lag_seconds'] is None else _duration(e['lag_seconds'])}</td>"
            f"<td>{_duration(delay['p50']) if delay else '-'} / {_duration(delay['p90']) if delay else '-'}</td>"
            f"<td>{e['api']['rate_limit_waits']}</td><td>{e['api']['retries']}</td><td>{len(e['anomalies'])}</td></tr>")
    parts.append("</table>")
    gaps = [(endpoint, gap) for endpoint in report["endpoints"] for gap in report["endpoints"][endpoint]["gap_details"]]
    if gaps:
        parts.append("<h2>Gaps</h2><ul>")
        parts += [f"<li>{endpoint} [{escape(g['start'])}, {escape(g['end'])}), {g['windows']} window(s): "
                  f"<code>{escape(g['backfill'])}</code></li>" for endpoint, g in gaps]
        parts.append("</ul>")
    for title, svg in charts(report).items():
        parts.append(f"<figure><figcaption><h2>{escape(title)}</h2></figcaption>{svg}</figure>")
    views = report["alerts"]
    parts.append("<h2>Security view</h2>")
    for key, title in (("top_recipients", "Top recipients"), ("top_sender_domains", "Top sender domains"),
                       ("top_url_domains", "Top URL domains"), ("top_file_types", "Top file types")):
        rows = "".join(f"<tr><td>{escape(k)}</td><td>{v}</td></tr>" for k, v in views[key].items())
        parts.append(f"<h3>{title}</h3><table><tr><th>value</th><th>alerts</th></tr>{rows or '<tr><td>none</td><td></td></tr>'}</table>")
    parts.append("</body></html>")
    return "\n".join(parts)
