"""How long the quick `gridhub` commands take to answer, from process start to exit.

    .venv/bin/python bench/bench_cli_start.py              # 5 runs of each, the median printed
    .venv/bin/python bench/bench_cli_start.py --runs 1     # one run each (the test suite's size)

Each command runs as a new process, as a user types it. The baseline, measured in the same run,
is the interpreter starting and exiting with nothing imported (`python -c pass`). Target: each
command <= 1 s wall on an idle machine. `db status` needs a database (DATABASE_URL or
`gridhub db up`); without one it still answers, with exit 1. Exit 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / ".venv" / "bin"
TARGET_SECONDS = 1.0
COMMANDS = (["--help"], ["sources", "list"], ["db", "status"])


def wall_seconds(argv: list[str], runs: int) -> float:
    """The median wall time of argv over runs fresh processes."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, capture_output=True, check=False)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="runs of each command (median)")
    args = parser.parse_args()

    baseline = wall_seconds([str(BIN / "python"), "-c", "pass"], args.runs)
    print(f"{'command':<24}{'seconds':>9}{'x python':>10}  target <= {TARGET_SECONDS:.1f} s")
    print(f"{'python -c pass':<24}{baseline:>9.3f}{1.0:>10.1f}")
    missed = []
    for command in COMMANDS:
        seconds = wall_seconds([str(BIN / "gridhub"), *command], args.runs)
        name = "gridhub " + " ".join(command)
        verdict = "met" if seconds <= TARGET_SECONDS else "NOT met"
        print(f"{name:<24}{seconds:>9.3f}{seconds / baseline:>10.1f}  {verdict}")
        if seconds > TARGET_SECONDS:
            missed.append(name)
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
