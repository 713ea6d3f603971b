"""Peak host memory of ``tensorkit predict`` on netCDF inputs of growing sample count: it is bounded.

For each sample count a netCDF file of smooth periodic fields (:func:`benchmarks.streaming.smooth_pairs`,
float32, 64² by default) is written chunk by chunk with :func:`~tensorkit.data.pde.write_generated`. Two small
TFNO runs (full field, and MG-TFNO L=1 with stitched patches) are trained for one epoch on the
smallest file; then every (run, sample count) pair runs ``tensorkit predict`` in a fresh
single-threaded process that reports its peak resident set (``VmHWM``: the whole process, with
interpreter, libraries, model, the blocks in flight and the netCDF library's caches) and its CPU
time. The peak grows only until netCDF's chunk caches (64 MiB per variable by default) are full.
Writes ``results/large_grids_predict.md``.

    python -m benchmarks.large_grids_predict [--samples 500 4000 16000] [--size 64] [--batch-size 32]
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

from benchmarks.streaming import smooth_pairs
from benchmarks.timing import machine_load, measuring_env, status_bytes, write_table

MODEL = {"n_modes": [8, 8], "hidden_channels": 8, "n_layers": 2, "factorization": "tucker", "rank": 0.5}
CASES = {"full field": {}, "MG L=1, stitched": {"levels": 1, "padding_fraction": 0.0625}}


def _child(run: str, path: str, out: str, batch_size: int) -> dict[str, float]:
    """``tensorkit predict`` in this process: the peak resident set before and after it, and its CPU time."""
    import dask.array  # noqa: F401  (the libraries the command imports, counted in the start figure)
    import xarray  # noqa: F401

    import tensorkit.operators.predict_command  # noqa: F401
    from tensorkit.cli import main

    torch.set_num_threads(1)
    start, usage = status_bytes("VmHWM") / 2**20, resource.getrusage(resource.RUSAGE_SELF)
    argv = ["predict", run, path, "--out", out, "--batch-size", str(batch_size), "--device", "cpu", "--quiet"]
    if main(argv) != 0:
        raise RuntimeError(f"tensorkit {' '.join(argv)} failed")
    end = resource.getrusage(resource.RUSAGE_SELF)
    return {"start_MiB": start, "peak_MiB": status_bytes("VmHWM") / 2**20,
            "cpu_s": end.ru_utime + end.ru_stime - usage.ru_utime - usage.ru_stime}


def _train(path: Path, patching: dict, out: Path) -> None:
    from tensorkit.operators.experiment import run_experiment

    config = {"data": {"name": "netcdf", "path": str(path), "n_test": 50, "test_resolutions": []}, "model": MODEL,
              "training": {"n_epochs": 1, "batch_size": 32}, "patching": patching}
    run_experiment(config, out_dir=out, device="cpu", verbose=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, nargs="+", default=[500, 4000, 16000])
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--child", nargs=3, metavar=("RUN", "INPUT", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_child(*args.child, args.batch_size)))
        return
    import netCDF4

    from tensorkit.data.pde import write_generated

    rows, peaks, load_before = [], {}, machine_load()
    with tempfile.TemporaryDirectory() as tmp:
        inputs = {n: Path(tmp) / f"fields_{n}.nc" for n in args.samples}
        for n, path in inputs.items():
            write_generated(path, smooth_pairs, n, verbose=False, resolution=args.size)
        for k, (label, patching) in enumerate(CASES.items()):
            run = Path(tmp) / f"run_{k}"
            _train(inputs[min(args.samples)], patching, run)
            for n, path in inputs.items():
                out = Path(tmp) / "pred.nc"
                out.unlink(missing_ok=True)
                cmd = [sys.executable, "-m", "benchmarks.large_grids_predict", "--batch-size", str(args.batch_size),
                       "--child", str(run), str(path), str(out)]
                r = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True,
                                              env=measuring_env()).stdout.strip().splitlines()[-1])
                peaks[label, n] = r["peak_MiB"]
                mib = [n * args.size**2 * 4 / 2**20, path.stat().st_size / 2**20, out.stat().st_size / 2**20]
                rows.append([label, f"{n:,}", *(f"{m:.1f}" for m in mib), f"{r['start_MiB']:.0f}",
                             f"{r['peak_MiB']:.0f}", f"{r['peak_MiB'] - r['start_MiB']:.0f}", f"{r['cpu_s']:.1f}"])
                print(rows[-1], flush=True)
    sizes, cache = sorted(args.samples), netCDF4.get_chunk_cache()[0]
    growth = "; ".join(f"{label}: " + ", ".join(f"{b:,} / {a:,} {peaks[label, b] / peaks[label, a]:.2f}×"
                                               for a, b in zip(sizes, sizes[1:])) for label in CASES)
    note = (f"{args.size}² float32 fields; TFNO (modes 8², width 8, 2 layers, Tucker rank 0.5) trained one epoch on "
            f"the {sizes[0]:,}-sample file; MG L=1 with padding 1/16, patches stitched. `tensorkit predict "
            f"--batch-size {args.batch_size} --device cpu` in a fresh process, one thread, glibc "
            "`MALLOC_MMAP_THRESHOLD_=65536`. "
            "*input MiB*: the input variable's samples in float32; *file MiB*: the input file (both variables, zlib "
            "level 1); *start MiB*: peak resident set after the imports; *peak MiB*: the process's peak resident set "
            f"(`VmHWM`); *growth MiB*: peak − start. Peak ratios: {growth}. The netCDF library's chunk cache "
            f"({cache / 2**20:.0f} MiB per variable, the netCDF4 default) keeps decompressed chunks of the input and "
            f"of the output variable, so the peak grows with the samples until both caches are full (about "
            f"{cache // (4 * args.size**2):,} samples here) and is flat beyond; the blocks themselves are "
            f"{args.batch_size} samples each. "
            f"{load_before.capitalize()} before the run, {machine_load()} after.\n\n"
            "Command: `OMP_NUM_THREADS=1 python -m benchmarks.large_grids_predict "
            f"--samples {' '.join(map(str, args.samples))} --size {args.size} --batch-size {args.batch_size}`.")
    write_table("large_grids_predict", "Host memory of `tensorkit predict`: streamed, bounded in the number of samples",
                ["run", "samples", "input MiB", "file MiB", "output MiB", "start MiB", "peak MiB", "growth MiB",
                 "CPU s"], rows, note)


if __name__ == "__main__":
    main()
