"""``mimecast-ttp``: the package's command line.

Each sub-command lives in its own module under :mod:`mimecast_ttp.commands` exposing
``add_arguments(parser)`` and ``run(args) -> int``; they are imported only when chosen, so
``mimecast-ttp transform`` never pays for Airflow's import.
"""

from __future__ import annotations

import argparse
import importlib
import sys

COMMANDS = {
    "simulate": "Run the Mimecast API simulator (API 2.0 and 1.0, paging, rate limits, faults).",
    "transform": "Turn get-logs records into alerts (JSON lines) with the product's rules.",
    "fetch": "Extract one endpoint's window through a Mimecast connection.",
    "stats": "Show recent run statistics from the alert store.",
    "report": "Report coverage, gaps, freshness, volume, quality and alerts; --check for monitoring.",
    "db": "The alert store's schema: `db upgrade` applies its migrations, `db current` shows its revision.",
    "export": "Export the store's alerts as OCSF Detection Findings (JSON lines) or partitioned Parquet.",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mimecast-ttp", description="Mimecast TTP logs to MITRE-mapped alerts: simulator, rules, extraction, statistics."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, help_text in COMMANDS.items():
        sub.add_parser(name, help=help_text, description=help_text, add_help=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    if not argv or argv[0] not in COMMANDS:
        parser.parse_args(argv)  # prints usage or the error and exits
    name, rest = argv[0], argv[1:]
    module = importlib.import_module(f"mimecast_ttp.commands.{name}")
    command_parser = argparse.ArgumentParser(prog=f"mimecast-ttp {name}", description=COMMANDS[name])
    module.add_arguments(command_parser)
    return int(module.run(command_parser.parse_args(rest)) or 0)


if __name__ == "__main__":
    sys.exit(main())
