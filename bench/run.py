"""``make bench``: run the project's benchmarks and write their results under ``bench/results/``.

Each benchmark is a function ``(args, results_dir) -> (summary dict, markdown section)`` in
:data:`BENCHMARKS`; add one by writing the function and registering it. Results: one JSON file
per benchmark (written by the benchmark) and ``bench/results/summary.md`` with every section run.
Benchmarks are not tests: ``make test`` never runs them, and no test asserts a speed.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

import transform_bench  # noqa: E402  (a sibling module, found through the line above)

RESULTS_DIR = BENCH_DIR / "results"


def bench_transform(args: argparse.Namespace, results_dir: Path) -> tuple[dict, str]:
    summary = transform_bench.run(args.records, results_dir, profile=not args.no_profile, repeat=args.repeat)
    return summary, transform_bench.markdown(summary)


BENCHMARKS: dict[str, Callable[[argparse.Namespace, Path], tuple[dict, str]]] = {
    "transform": bench_transform,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000, help="records to generate (default 1,000,000)")
    parser.add_argument("--repeat", type=int, default=1, help="measure each this many times and keep the best")
    parser.add_argument("--only", choices=sorted(BENCHMARKS), action="append", help="run only these benchmarks")
    parser.add_argument("--no-profile", action="store_true", help="skip the cProfile pass")
    parser.add_argument("--results", type=Path, default=RESULTS_DIR, help="where to write results")
    args = parser.parse_args(argv)
    if args.records < 1:
        parser.error("--records must be at least 1")
    sections = []
    for name in args.only or BENCHMARKS:
        print(f"bench: {name} ({args.records:,} records) ...", file=sys.stderr, flush=True)
        _, section = BENCHMARKS[name](args, args.results)
        print(section)
        sections.append(section)
    (args.results / "summary.md").write_text("# Benchmark results\n\n" + "\n".join(sections))
    return 0


if __name__ == "__main__":
    sys.exit(main())
