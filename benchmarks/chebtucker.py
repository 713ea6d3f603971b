"""ChebTucker vs grid-based Tucker (tensorly ``tucker`` on the n³ grid) at the same ranks.

Function: erf(ωr)/r on [-10, 10]³ (ω = 0.5), tolerance ε = 1e-5; ChebTucker with m = 65 points per mode
picks the ranks, tensorly's HOOI ``tucker`` (numpy backend, HOSVD init) runs at those ranks on the
cell-centred n³ grid. Accuracy: relative Frobenius error of each Tucker tensor on the n³ grid
(ChebTucker discretised as ``[G; T(x)V_ℓ]``). Writes ``results/chebtucker.md`` and ``.json``.

How time and memory are measured (identically for both methods):

* every measurement runs in a fresh single-threaded subprocess (``OMP/MKL/OPENBLAS_NUM_THREADS=1``,
  ``torch.set_num_threads(1)``) that imports torch, numpy, tensorkit and tensorly;
* before the measured run that process warms up *both* libraries' whole pipelines on tiny problems
  (ChebTucker fits at degree 8 and 16, i.e. ≤ 17³ points; tensorly samples the 8³ and 16³ grids and
  runs ``tucker`` on them at the measured ranks), so one-time lazy initialisation (code pages, FFT
  and LAPACK set-up, allocator arenas) is charged to neither method: its size is reported as
  ``warmup_mib`` in the JSON;
* the kernel's resident-set high-water mark is then reset (``/proc/self/clear_refs``, Linux) and the
  measured run is the whole pipeline, sampling the function + decomposition. ``peak_mib`` is the
  high-water mark minus the resident set at the reset: the peak extra physical memory (anonymous and
  file-backed pages, default glibc allocator) the run needed. Where the high-water mark cannot be
  reset, the growth of ``ru_maxrss`` over its post-warm-up value is used instead;
* ``seconds`` is the process CPU time of the same run (robust to other jobs on a shared machine,
  whose load the table's note records); with ``--repeats k`` (default 3; 1 for n ≥ 512, where
  one tensorly run takes minutes) each method is measured in k fresh processes and the median of
  each quantity is reported, with the spread in the JSON.

What ChebTucker's figure is made of (degree 64, measured on the CPU box with the torch profiler's memory
events and /proc/self/status): the live torch tensors peak at 3.3 MiB — the 65³ float64 sample/coefficient
tensor (2.1 MiB, transformed in place) plus one 256 KiB slab and its LAPACK copy in the slab-wise QR of
the unfoldings; the rest of the ≈ 4.3–5.5 MiB is code pages first touched by the degree-64 sizes
(≈ 0.8 MiB, not reached by the tiny warm-up) and glibc heap growth. Before the in-place DCT and the
slab-wise QR the live peak was 10.9 MiB (five full-size copies in the DCT and the unfoldings) and this
benchmark read ≈ 12.6 MiB: the old 13.5 MiB was genuine temporaries, not one-time initialisation.

Usage:  python -m benchmarks.chebtucker [--sizes 128 256 512] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import time

OMEGA, EPS, DEGREE = 0.5, 1e-5, 64


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _status_mib(field: str) -> float | None:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


class _PeakMemory:
    """Peak resident-set growth of a block of code over the resident set at its start (MiB)."""

    def __enter__(self) -> _PeakMemory:
        try:  # reset VmHWM to the current resident set (Linux ≥ 4.0)
            with open("/proc/self/clear_refs", "w") as fh:
                fh.write("5")
            self.hwm = _status_mib("VmHWM") is not None and abs(_status_mib("VmHWM") - _status_mib("VmRSS")) < 0.5
        except OSError:
            self.hwm = False
        self.method = "VmHWM reset" if self.hwm else "ru_maxrss growth"
        self.start = _status_mib("VmRSS") if self.hwm else _rss_mib()
        return self

    def stop(self) -> float:
        return (_status_mib("VmHWM") if self.hwm else _rss_mib()) - self.start

    def __exit__(self, *exc) -> None:
        return None


def _function(torch):
    f0 = 2 * OMEGA / math.sqrt(math.pi)

    def f(x, y, z):
        r = torch.sqrt(x**2 + y**2 + z**2)
        return torch.where(r > 0, torch.erf(OMEGA * r) / r.clamp_min(1e-300), torch.full_like(r, f0))

    return f


def _grid(torch, n):
    from tensorkit.chebyshev.sources import uniform_grid

    x = torch.as_tensor(uniform_grid(n, (-10.0, 10.0)))
    f, grid = _function(torch), torch.empty(n, n, n, dtype=torch.float64)
    for i in range(n):  # slab by slab, so the function's temporaries do not inflate the grid method's memory
        grid[i] = f(*torch.meshgrid(x[i : i + 1], x, x, indexing="ij"))[0]
    return x, grid


def _tensorly_pipeline(torch, tucker, n, ranks):
    _, grid = _grid(torch, n)
    return grid.numpy(), tucker(grid.numpy(), rank=ranks, init="svd")


def worker(method: str, n: int, ranks: list[int] | None) -> dict:
    """One measurement, run inside a fresh subprocess."""
    import numpy as np
    import torch

    torch.set_num_threads(1)
    from tensorkit.chebyshev import ChebTucker

    import tensorly
    from tensorly.decomposition import tucker

    tensorly.set_backend("numpy")
    # warm-up: both libraries' pipelines on tiny problems, so one-off initialisation counts for neither method
    before = _status_mib("VmRSS") or _rss_mib()
    for small in (8, 16):
        ChebTucker(degree=small, tol=EPS, domain=(-10, 10)).fit(_function(torch))
        _tensorly_pipeline(torch, tucker, small, [min(r, small) for r in (ranks or [6, 6, 6])])
    warmup = (_status_mib("VmRSS") or _rss_mib()) - before
    with _PeakMemory() as memory:
        start = time.process_time()
        if method == "chebtucker":
            model = ChebTucker(degree=DEGREE, tol=EPS, domain=(-10, 10)).fit(_function(torch))
        else:
            values, (core, factors) = _tensorly_pipeline(torch, tucker, n, ranks)
        seconds, peak = time.process_time() - start, memory.stop()
    if method == "chebtucker":
        x, grid = _grid(torch, n)
        err = torch.linalg.norm(model.to_dense([x, x, x]) - grid) / torch.linalg.norm(grid)
        stored = model.core_.numel() + sum(b.coeffs.numel() for b in model.bases_)
        out = {"ranks": list(model.ranks_), "stored": stored}
        if torch.cuda.is_available():
            out["gpu"] = gpu_throughput(model, torch)
    else:
        recon = tensorly.tucker_to_tensor((core, factors))
        err = np.linalg.norm(recon - values) / np.linalg.norm(values)
        out = {"ranks": ranks, "stored": int(core.size + sum(u.size for u in factors))}
    return {**out, "seconds": seconds, "peak_mib": peak, "rel_error": float(err), "warmup_mib": warmup,
            "memory_method": memory.method}


def gpu_throughput(model, torch) -> dict:
    """Points per second of scattered evaluation on CPU and CUDA (1e6 random points)."""
    from benchmarks.timing import best_time

    pts = (torch.rand(1_000_000, 3, dtype=torch.float64) * 20 - 10)
    cpu = 1e6 / best_time(lambda: model(pts), repeats=2)
    cuda_model, cuda_pts = model.function_.to("cuda"), pts.to("cuda")
    gpu = 1e6 / best_time(lambda: cuda_model(cuda_pts), repeats=3, device=cuda_pts.device)
    return {"cpu_points_per_s": cpu, "gpu_points_per_s": gpu}


def _run(method: str, n: int, ranks: list[int] | None = None) -> dict:
    cmd = [sys.executable, "-m", "benchmarks.chebtucker", "--worker", method, "--n", str(n)]
    if ranks:
        cmd += ["--ranks", *map(str, ranks)]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def _repeated(method: str, n: int, repeats: int, ranks: list[int] | None = None) -> dict:
    """Median of ``repeats`` fresh-process measurements (spread kept under ``runs``)."""
    runs = [_run(method, n, ranks) for _ in range(repeats)]
    out = dict(runs[0])
    for key in ("seconds", "peak_mib", "warmup_mib"):
        out[key] = statistics.median(r[key] for r in runs)
    out["runs"] = [{k: r[k] for k in ("seconds", "peak_mib", "warmup_mib")} for r in runs]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[128, 256])
    parser.add_argument("--repeats", type=int, default=3, help="fresh processes per method and n (1 for n ≥ 512)")
    parser.add_argument("--worker", choices=("chebtucker", "tensorly"))
    parser.add_argument("--n", type=int)
    parser.add_argument("--ranks", type=int, nargs="+")
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.n, args.ranks)))
        return
    from benchmarks.timing import RESULTS, machine_load, write_table

    rows, raw, load_before = [], [], machine_load()
    for n in args.sizes:
        repeats = 1 if n >= 512 else args.repeats
        cheb = _repeated("chebtucker", n, repeats)
        grid = _repeated("tensorly", n, repeats, cheb["ranks"])
        raw.append({"n": n, "repeats": repeats, "chebtucker": cheb, "tensorly": grid})
        rows.append([n, repeats, str(tuple(cheb["ranks"])), cheb["rel_error"], grid["rel_error"], cheb["seconds"],
                     grid["seconds"], grid["seconds"] / cheb["seconds"], cheb["peak_mib"], grid["peak_mib"],
                     grid["peak_mib"] / cheb["peak_mib"], cheb["stored"]])
    note = (f"erf({OMEGA}·r)/r on [-10,10]³, ε = {EPS:g}, ChebTucker degree {DEGREE} (m = {DEGREE + 1}); tensorly "
            "`tucker` (HOOI, numpy backend) at the same ranks on the n³ cell-centred grid. Both methods are measured "
            "the same way: a fresh single-threaded process per run, which first warms up *both* libraries' "
            "pipelines on tiny problems (ChebTucker degree 8 and 16; tensorly on the 8³ and 16³ grids), so one-time "
            "library initialisation is charged to neither; then the whole pipeline (sampling + decomposition) is "
            "timed (process CPU time) and its memory taken as the peak resident set (VmHWM, reset just before the run) "
            "minus the resident set at the start of the run, in MiB, default allocator. Runs = fresh processes per "
            "cell, median reported (per-run values in chebtucker.json). The grid is sampled slab by slab and "
            "ChebTucker samples in blocks of 16,384 points, so neither counts the test function's temporaries at "
            "full size. ChebTucker's figure is its 65³ float64 coefficient tensor (2.1 MiB) plus blockwise "
            "temporaries (sampling, in-place DCT, slab-wise QR of the unfoldings) plus allocator/page granularity. "
            f"Errors: relative Frobenius on the n³ grid. {load_before[0].upper()}{load_before[1:]} before the run, "
            f"{machine_load()} after. Command: `python -m benchmarks.chebtucker --sizes "
            f"{' '.join(map(str, args.sizes))} --repeats {args.repeats}`.")
    write_table("chebtucker", "ChebTucker vs tensorly Tucker on the n³ grid",
                ["n", "runs", "ranks", "ChebTucker err", "tensorly err", "ChebTucker CPU s", "tensorly CPU s", "speed-up ×",
                 "ChebTucker MiB", "tensorly MiB", "memory ×", "ChebTucker stored numbers"], rows, note)
    (RESULTS / "chebtucker.json").write_text(json.dumps(raw, indent=1))
    print((RESULTS / "chebtucker.md").read_text())


if __name__ == "__main__":
    main()
