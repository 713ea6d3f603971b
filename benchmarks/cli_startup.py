"""Start-up cost of the command line: ``tensorkit --help`` and ``import tensorkit`` against ``python -c pass``.

Each command runs in a fresh interpreter, the three interleaved, ``--runs`` times; the table gives the
median CPU seconds (user + system of the child process, so other jobs on the machine do not
inflate it as they do wall time) and the ratio to the bare interpreter measured in the same run
(the target is ``tensorkit --help`` under 1.5 s). ``--before DIR`` also measures another checkout (e.g. an older commit
exported with ``git archive``) in the same run, so a before/after pair comes from one sitting.
Writes ``benchmarks/results/cli_startup.md`` and ``.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

from benchmarks.timing import RESULTS, child_cpu_seconds, machine_load, write_table
from tensorkit.runtime import atomic_write

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = {
    "python -c pass": ["-c", "pass"],
    "import tensorkit": ["-c", "import tensorkit"],
    "tensorkit --help": ["-m", "tensorkit", "--help"],
}


def cpu_times(source: Path, runs: int) -> dict[str, list[float]]:
    """CPU seconds of each command in :data:`COMMANDS`, ``runs`` fresh processes each, interleaved."""
    env = {**os.environ, "PYTHONPATH": str(source), "OMP_NUM_THREADS": "1"}
    times: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for _ in range(runs):
        for name, args in COMMANDS.items():
            times[name].append(child_cpu_seconds([sys.executable, *args], env=env, cwd=source,
                                                 stdout=subprocess.DEVNULL))
    return times


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.cli_startup", description=__doc__)
    parser.add_argument("--runs", type=int, default=15, help="fresh processes per command (default: 15)")
    parser.add_argument("--before", type=Path, metavar="DIR", help="an earlier checkout to measure alongside")
    args = parser.parse_args()
    sources = {"this checkout": ROOT, **({f"before ({args.before.name})": args.before.resolve()} if args.before else {})}
    load_before = machine_load()
    times = {label: cpu_times(source, args.runs) for label, source in sources.items()}
    rows = []
    for label, by_command in times.items():
        base = statistics.median(by_command["python -c pass"])
        rows += [(label, name, statistics.median(t), statistics.median(t) / base) for name, t in by_command.items()]
    note = (f"Median CPU time (user + system) of {args.runs} fresh interpreters per command, interleaved, "
            f"`OMP_NUM_THREADS=1`; ratio to `python -c pass` in the same run; {load_before} before the run, "
            f"{machine_load()} after. `tensorkit --help` imports "
            "neither torch nor xarray nor a method package (subcommands are imported when they run).")
    write_table("cli_startup", "Command-line start-up", ["checkout", "command", "median CPU s", "ratio to python -c pass"],
                rows, note)
    with atomic_write(RESULTS / "cli_startup.json", "w") as fh:
        json.dump({"runs": args.runs, "seconds": times}, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
