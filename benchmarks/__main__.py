"""Run every benchmark script in this folder and collect their markdown tables.

Each ``benchmarks/<name>.py`` (other than this file and ``timing.py``) is run as ``python -m
benchmarks.<name>`` and writes one or more ``benchmarks/results/<name>*.md`` tables; this runner
then writes ``benchmarks/results/README.md`` with the date, the machine, the command and every
table. ``--only NAME`` runs a subset (the other tables are kept from their last run).
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import subprocess
import sys
from pathlib import Path

import torch

from tensorkit.runtime import atomic_write

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
SKIP = {"__init__", "__main__", "timing", "gpu"}  # gpu: the GPU node check, `python -m benchmarks.gpu`


def machine() -> str:
    """One line naming the CPU/GPU, core count and library versions."""
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    threads = os.environ.get("OMP_NUM_THREADS", "1")
    return (f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, {threads} thread(s) per run, {gpu}; "
            f"Python {platform.python_version()}, torch {torch.__version__}")


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--only", nargs="+", metavar="NAME", help="benchmark names to run (default: all)")
    names = sorted(p.stem for p in HERE.glob("*.py") if p.stem not in SKIP)
    args = parser.parse_args()
    chosen = args.only or names
    unknown = set(chosen) - set(names)
    if unknown:
        parser.error(f"unknown benchmark(s) {sorted(unknown)}; available: {names}")
    RESULTS.mkdir(exist_ok=True)
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    failed = [n for n in chosen
              if subprocess.run([sys.executable, "-m", f"benchmarks.{n}"], cwd=HERE.parent, env=env).returncode]
    tables = [p.read_text() for p in sorted(RESULTS.glob("*.md")) if p.name != "README.md"]
    header = (f"# Benchmark results\n\nRun {datetime.date.today().isoformat()} on {machine()}.\n"
              f"Command: `python -m benchmarks{' --only ' + ' '.join(chosen) if args.only else ''}`.\n"
              "Every ratio compares tensorkit with a peer measured in the same run; each table states "
              "its direction.\n\n")
    with atomic_write(RESULTS / "README.md", "w") as fh:
        fh.write(header + "\n".join(tables))
    if failed:
        print(f"benchmarks failed: {failed}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
