"""Peak host memory of a train-operator epoch: data read into memory vs streamed from netCDF.

For each sample count a netCDF file of smooth periodic fields (``a``: a Gaussian random field,
``u = roll(a) + a²/4``, float32) is written chunk by chunk with
:func:`~tensorkit.data.pde.write_generated`; then every (sample count, mode) pair trains one epoch
of a small TFNO through :func:`~tensorkit.operators.experiment.run_experiment` in a fresh
single-threaded process (``data.streaming`` false or true, no DataLoader workers) that reports its
peak resident set (``VmHWM``, the whole process: interpreter, libraries, data, model and
activations) and its CPU time. Writes ``results/streaming.md``.

    python -m benchmarks.streaming [--samples 2000 8000] [--size 64]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

from benchmarks.timing import measuring_env, write_table

BATCH, N_TEST = 32, 50
_READS = ("The file is generated 256 samples at a time and stored in chunks of 32 (`write_generated` defaults); a "
          "shuffled batch decompresses one stored chunk per sample, so the chunk size sets the streamed run's extra "
          "CPU time (measured on 8,000 samples: 0.59 s per batch of 32 with 256-sample chunks, 0.076 s with 32). "
          "Most of the peak above *start MiB* is common to both modes: the step's activations and library buffers.")


def smooth_pairs(n: int, seed: int, resolution: int) -> dict[str, torch.Tensor]:
    """A cheap stand-in for a PDE generator (same output layout): GRF inputs and a local, nonlinear map."""
    from tensorkit.data.pde import periodic_grf

    a = periodic_grf(n, resolution, 2, alpha=2.5, tau=7.0, generator=torch.Generator().manual_seed(seed)).float()
    return {"a": a, "u": torch.roll(a, 1, dims=-1) + 0.25 * a**2}


def _status_mib(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"{field} not in /proc/self/status")


def _child(path: str, streaming: bool) -> dict[str, float]:
    """One epoch on ``path``; peak resident set and CPU time of this process."""
    from tensorkit.operators.experiment import run_experiment

    torch.set_num_threads(1)
    config = {
        "data": {"name": "netcdf", "path": path, "n_test": N_TEST, "test_resolutions": [], "streaming": streaming},
        "model": {"n_modes": [8, 8], "hidden_channels": 8, "n_layers": 2, "factorization": "tucker", "rank": 0.5},
        "training": {"n_epochs": 1, "batch_size": BATCH},
    }
    start = _status_mib("VmRSS")
    with tempfile.TemporaryDirectory() as out:
        results = run_experiment(config, out_dir=out, device="cpu", verbose=False)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {"peak_MiB": _status_mib("VmHWM"), "start_MiB": start, "cpu_s": usage.ru_utime + usage.ru_stime,
            "n_train": results["n_train"], "train_loss": results["final"]["train_loss"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, nargs="+", default=[2000, 8000])
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--child", nargs=2, metavar=("PATH", "STREAMING"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_child(args.child[0], args.child[1] == "stream")))
        return
    from tensorkit.data.pde import write_generated

    rows, peaks = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.samples:
            path = Path(tmp) / f"fields_{n}.nc"
            write_generated(path, smooth_pairs, n, chunk_samples=256, verbose=False, resolution=args.size)
            data_mib = 2 * n * args.size**2 * 4 / 2**20
            for mode in ("memory", "stream"):
                cmd = [sys.executable, "-m", "benchmarks.streaming", "--child", str(path), mode]
                out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=measuring_env())
                r = json.loads(out.stdout.strip().splitlines()[-1])
                peaks[n, mode] = r["peak_MiB"]
                rows.append([n, mode, r["n_train"], data_mib, path.stat().st_size / 2**20, r["start_MiB"],
                             r["peak_MiB"], r["cpu_s"], r["train_loss"]])
                print(rows[-1], flush=True)
    lo, hi = min(args.samples), max(args.samples)
    growth = {mode: peaks[hi, mode] / peaks[lo, mode] for mode in ("memory", "stream")}
    note = (f"{args.size}² float32 fields; one epoch of a TFNO (modes 8², width 8, 2 layers, Tucker rank 0.5), batch "
            f"{BATCH}, the last {N_TEST} samples held out for the test metrics, output normalisation from the "
            "one-pass statistics; one thread, no DataLoader workers, glibc `MALLOC_MMAP_THRESHOLD_=65536`. "
            "*data MiB*: both variables of all samples in float32; *start MiB*: resident set after the imports; "
            f"*peak MiB*: the process's resident-set high-water mark (VmHWM). Peak ratio {hi:,} / {lo:,} samples: "
            f"in memory {growth['memory']:.2f}×, streamed {growth['stream']:.2f}×. "
            + _READS + "\n\n"
            f"Command: `OMP_NUM_THREADS=1 python -m benchmarks.streaming --samples {' '.join(map(str, args.samples))} "
            f"--size {args.size}`.")
    write_table("streaming", "Host memory of a training epoch: in memory vs streamed from netCDF",
                ["samples", "mode", "train samples", "data MiB", "file MiB", "start MiB", "peak MiB", "CPU s",
                 "train loss"], rows, note)  # fmt: skip


if __name__ == "__main__":
    main()
