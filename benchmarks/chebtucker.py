"""ChebTucker vs grid-based Tucker (tensorly ``tucker`` on the n³ grid) at the same ranks.

Function: erf(ωr)/r on [-10, 10]³ (ω = 0.5), tolerance ε = 1e-5; ChebTucker with m = 65 points per mode
picks the ranks, tensorly's HOOI ``tucker`` (numpy backend, HOSVD init) runs at those ranks on the
cell-centred n³ grid. Each method runs in a fresh single-threaded subprocess; time is the wall clock of
the whole pipeline (sampling the function + decomposition), memory the peak resident-set growth over the
process's baseline after a tiny warm-up run of both methods. Accuracy: relative Frobenius error of each Tucker tensor on the n³ grid
(ChebTucker discretised as ``[G; T(x)V_ℓ]``). Writes ``results/chebtucker.md`` and ``.json``.

Usage:  python -m benchmarks.chebtucker [--sizes 128 256 512]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import time

OMEGA, EPS, DEGREE = 0.5, 1e-5, 64


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _function(torch):
    f0 = 2 * OMEGA / math.sqrt(math.pi)

    def f(x, y, z):
        r = torch.sqrt(x**2 + y**2 + z**2)
        return torch.where(r > 0, torch.erf(OMEGA * r) / r.clamp_min(1e-300), torch.full_like(r, f0))

    return f


def _grid(torch, n):
    from tensorkit.chebyshev.sampling import uniform_grid

    x = torch.as_tensor(uniform_grid(n, (-10.0, 10.0)))
    f, grid = _function(torch), torch.empty(n, n, n, dtype=torch.float64)
    for i in range(n):  # slab by slab, so the function's temporaries do not inflate the grid method's memory
        grid[i] = f(*torch.meshgrid(x[i : i + 1], x, x, indexing="ij"))[0]
    return x, grid


def worker(method: str, n: int, ranks: list[int] | None) -> dict:
    """One measurement, run inside a fresh subprocess."""
    import numpy as np
    import torch

    torch.set_num_threads(1)
    from tensorkit.chebyshev import ChebTucker

    import tensorly
    from tensorly.decomposition import tucker

    tensorly.set_backend("numpy")
    # warm-up on tiny inputs, so one-off library initialisation counts for neither method
    ChebTucker(degree=8, tol=EPS, domain=(-10, 10)).fit(_function(torch))
    tucker(np.random.default_rng(0).random((8, 8, 8)), rank=[2, 2, 2], init="svd")
    base = _rss_mib()
    start = time.perf_counter()
    if method == "chebtucker":
        model = ChebTucker(degree=DEGREE, tol=EPS, domain=(-10, 10)).fit(_function(torch))
        seconds, peak = time.perf_counter() - start, _rss_mib() - base
        x, grid = _grid(torch, n)
        err = torch.linalg.norm(model.to_dense([x, x, x]) - grid) / torch.linalg.norm(grid)
        stored = model.core_.numel() + sum(b.coeffs.numel() for b in model.bases_)
        out = {"ranks": list(model.ranks_), "stored": stored}
        if torch.cuda.is_available():
            out["gpu"] = gpu_throughput(model, torch)
    else:
        _, grid = _grid(torch, n)
        values = grid.numpy()
        core, factors = tucker(values, rank=ranks, init="svd")
        seconds, peak = time.perf_counter() - start, _rss_mib() - base
        recon = tensorly.tucker_to_tensor((core, factors))
        err = np.linalg.norm(recon - values) / np.linalg.norm(values)
        out = {"ranks": ranks, "stored": int(core.size + sum(u.size for u in factors))}
    return {**out, "seconds": seconds, "peak_mib": peak, "rel_error": float(err)}


def gpu_throughput(model, torch) -> dict:
    """Points per second of scattered evaluation on CPU and CUDA (1e6 random points)."""
    from benchmarks.timing import best_time

    pts = (torch.rand(1_000_000, 3, dtype=torch.float64) * 20 - 10)
    cpu = 1e6 / best_time(lambda: model(pts), repeats=2)
    cuda_model, cuda_pts = model.function_.to("cuda"), pts.to("cuda")
    gpu = 1e6 / best_time(lambda: cuda_model(cuda_pts), repeats=3)
    return {"cpu_points_per_s": cpu, "gpu_points_per_s": gpu}


def _run(method: str, n: int, ranks: list[int] | None = None) -> dict:
    cmd = [sys.executable, "-m", "benchmarks.chebtucker", "--worker", method, "--n", str(n)]
    if ranks:
        cmd += ["--ranks", *map(str, ranks)]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[128, 256])
    parser.add_argument("--worker", choices=("chebtucker", "tensorly"))
    parser.add_argument("--n", type=int)
    parser.add_argument("--ranks", type=int, nargs="+")
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.n, args.ranks)))
        return
    from benchmarks.timing import RESULTS, write_table

    rows, raw = [], []
    for n in args.sizes:
        cheb = _run("chebtucker", n)
        grid = _run("tensorly", n, cheb["ranks"])
        raw.append({"n": n, "chebtucker": cheb, "tensorly": grid})
        rows.append([n, str(tuple(cheb["ranks"])), cheb["rel_error"], grid["rel_error"], cheb["seconds"], grid["seconds"],
                     grid["seconds"] / cheb["seconds"], cheb["peak_mib"], grid["peak_mib"],
                     grid["peak_mib"] / max(cheb["peak_mib"], 1.0), cheb["stored"]])
    note = (f"erf({OMEGA}·r)/r on [-10,10]³, ε = {EPS:g}, ChebTucker degree {DEGREE} (m = {DEGREE + 1}); tensorly "
            "`tucker` (HOOI, numpy backend) at the same ranks on the n³ cell-centred grid. Time: sampling + "
            "decomposition, single thread, fresh process each. Memory: peak RSS growth (MiB) over the post-import "
            "baseline (the grid is sampled slab by slab, ChebTucker samples in blocks of 65,536 points, so neither count the test function's temporaries at full size). "
            "Errors: relative Frobenius on the n³ grid.")
    write_table("chebtucker", "ChebTucker vs tensorly Tucker on the n³ grid",
                ["n", "ranks", "ChebTucker err", "tensorly err", "ChebTucker s", "tensorly s", "speed-up ×",
                 "ChebTucker MiB", "tensorly MiB", "memory ×", "ChebTucker stored numbers"], rows, note)
    (RESULTS / "chebtucker.json").write_text(json.dumps(raw, indent=1))
    print((RESULTS / "chebtucker.md").read_text())


if __name__ == "__main__":
    main()
