"""Peak memory of masked HOOI / CP-ALS and of ChebTucker evaluation, each in a fresh process.

Every case runs in its own subprocess (one thread; glibc serves blocks ≥ 64 KiB by ``mmap``, so
freed tensors leave the resident set): it builds its inputs, warms the code path up on
a tiny problem, resets the resident-set high-water mark (``/proc/self/clear_refs``, Linux) and
runs once; the figure is the high-water mark minus the resident set at the reset. For the
decompositions it is given in dense copies of the input tensor (``x`` and the mask exist before
the reset, so they are not counted); for ChebTucker evaluation in MiB, with the returned values
(8 bytes a point, which any evaluation must allocate) shown apart. Writes
``results/memory_classical.md``.

    python -m benchmarks.memory_classical [--n 200] [--points 100000 1000000 3000000]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

import torch

from benchmarks.timing import RESULTS, markdown_table, measuring_env, peak_memory
from tensorkit.runtime import atomic_write

RANK, SWEEPS = 10, 3


def _masked(n: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, n, n, dtype=torch.float64, generator=g)
    mask = torch.rand(n, n, n, generator=g) < 0.5
    return x.masked_fill(~mask, float("nan")), mask


def _decomposition(name: str, n: int) -> dict:
    from tensorkit.core.decompose import cp_als, hooi

    fit = {"hooi": lambda x, m: hooi(x, RANK, mask=m, n_iter_max=SWEEPS, tol_iter=0),
           "cp_als": lambda x, m: cp_als(x, RANK, mask=m, n_iter_max=SWEEPS, tol=0)}[name]
    fit(*_masked(12))
    x, mask = _masked(n)
    _, peak = peak_memory(lambda: fit(x, mask), torch.device("cpu"))
    return {"case": f"masked {name}, rank {RANK}, {SWEEPS} sweeps, {n}³ float64, 50 % observed",
            "peak_MiB": peak / 2**20, "copies": peak / (x.numel() * x.element_size())}


def _rational(x: torch.Tensor, y: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    return 1 / (2 + x**2 + 2 * y**2 + 3 * z**2 + x * y * z)


def _evaluation(n_points: int) -> dict:
    from tensorkit.chebyshev import ChebTucker

    model = ChebTucker(degree=32, tol=1e-10, domain=(-1, 1)).fit(_rational)
    model(torch.zeros(10, 3, dtype=torch.float64))
    pts = 2 * torch.rand(n_points, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64) - 1
    _, peak = peak_memory(lambda: model(pts), torch.device("cpu"))
    return {"case": f"ChebTucker evaluation, ranks {model.ranks_}, {n_points:,} points", "peak_MiB": peak / 2**20,
            "output_MiB": 8 * n_points / 2**20}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--points", type=int, nargs="+", default=[100_000, 1_000_000, 3_000_000])
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        torch.set_num_threads(1)
        kind, value = args.child
        out = _evaluation(int(value)) if kind == "eval" else _decomposition(kind, int(value))
        print(json.dumps(out))
        return
    jobs = [("hooi", args.n), ("cp_als", args.n)] + [("eval", p) for p in args.points]
    rows = []
    for kind, value in jobs:
        cmd = [sys.executable, "-m", "benchmarks.memory_classical", "--child", kind, str(value)]
        r = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True, env=measuring_env()).stdout.strip().splitlines()[-1])
        print(r, flush=True)
        rows.append([r["case"], f"{r['peak_MiB']:,.1f}", f"{r['copies']:.2f}" if "copies" in r else "",
                     f"{r['output_MiB']:,.1f}" if "output_MiB" in r else ""])
    text = markdown_table("Peak memory of the classical and Chebyshev paths (CPU, fresh process per case)",
                          ["case", "peak MiB above inputs", "dense copies of x", "returned values MiB"], rows,
                          "One thread, `MALLOC_MMAP_THRESHOLD_=65536`. Command: `python -m benchmarks.memory_classical --n " + str(args.n) + " --points "
                          + " ".join(map(str, args.points)) + "`.")
    print(text)
    with atomic_write(RESULTS / "memory_classical.md", "w") as fh:
        fh.write(text)


if __name__ == "__main__":
    main()
