"""``python -m bench [--quick]``: every benchmark, one FIGURE line per figure, non-zero on a miss."""

from __future__ import annotations

import argparse
import sys
import time

from bench import suites
from bench.harness import Figure


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--quick", action="store_true", help="smaller counts, same ratios (< 1 minute)")
    parser.add_argument("--only", action="append", help="run only these suites")
    parser.add_argument(
        "--queue",
        action="store_true",
        help="the storm also in queue mode (QUEUE_URL, workers), if the portal has a queue",
    )
    args = parser.parse_args(argv)

    figures: list[Figure] = []
    with suites.Run(args.quick, args.queue) as run:
        for name, suite in suites.SUITES.items():
            if args.only and name not in args.only:
                continue
            print(f"# {name}", flush=True)
            started = time.perf_counter()
            for figure in suite(run):
                print(figure.line(), flush=True)
                figures.append(figure)
            print(f"# {name} took {time.perf_counter() - started:.1f} s", flush=True)
    failed = [f.name for f in figures if not f.passed]
    print(f"# {len(figures) - len(failed)} of {len(figures)} figures met their targets")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
