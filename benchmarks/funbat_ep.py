"""FunBaT's conditional EP at large ranks: CPU seconds and peak resident set of a fit, each in a fresh process.

Cases (all ``residual=None``, so the EP alone is measured; float64, one thread):

- ``air``: the built-in NCEP air temperature with 20 % of the cells hidden at random
  (``np.random.default_rng(0)``), ``FunBaT(rank=20, decomposition="cp", seed=0)`` with its default
  ``n_epochs``/``tol`` and with 20 epochs (``tol=0``).
- ``grid``: a synthetic n³ grid, every cell observed, planted CP rank 5 plus noise (sd 0.1), CP-20
  for a few epochs: peak memory (which does not grow with the epochs) and seconds per epoch.
- ``tucker``: a synthetic 50 × 50 × 40 grid (100k cells), Tucker rank (8, 8, 8) from a random start,
  a few epochs: seconds per epoch.

Each case runs in its own subprocess; CPU seconds are the process time of ``fit`` alone, the peak is
the process's whole resident-set high-water mark (``ru_maxrss``: torch runtime, data and fit).
Writes ``results/funbat_ep.md``.

    python -m benchmarks.funbat_ep [--n 100] [--epochs 3]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from benchmarks.timing import RESULTS, markdown_table, measuring_env
from tensorkit.runtime import atomic_write


#: the same script at commit 90c358d (per-datum factor moments, parallel-scan chains), run on this machine
#: in the same hour as the figures it is compared with (load ≈ 10 on 2 cores); quoted, not re-measured
BEFORE = ("Before (commit 90c358d, per-datum moments; same script, same machine and load, quoted): air20 46.1 CPU s, "
          "962 MiB; Tucker rank 8 at 100k cells 21.0 CPU s / epoch, 846 MiB; CP-20 on a 46³ grid (97,336 cells) "
          "10.1 CPU s / epoch, 2,871 MiB (N·K·R² per-datum second moments: the 1M-cell grid would need ~19 GB, so it "
          "was not run). The default-length air fit took 207 CPU s (cProfile on, lighter load).")


def _air() -> tuple[torch.Tensor, torch.Tensor]:
    from tensorkit.data import Observations, load_air_temperature

    da = load_air_temperature()
    held = np.random.default_rng(0).random(da.shape) < 0.2
    obs = Observations.from_dataarray(da.where(~held))
    return torch.as_tensor(obs.points()), torch.as_tensor(obs.values)


def planted_grid(shape: tuple[int, ...], rank: int, noise: float = 0.1) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    axes = [torch.linspace(0, 1, n, dtype=torch.float64) for n in shape]
    phases = torch.rand(len(shape), rank, generator=g, dtype=torch.float64)
    factors = [torch.sin(2 * torch.pi * (x[:, None] * (1 + torch.arange(rank)) + phases[k])) for k, x in enumerate(axes)]
    values = torch.einsum("ar,br,cr->abc", *factors) / rank
    values = values + noise * torch.randn(values.shape, generator=g, dtype=torch.float64)
    points = torch.cartesian_prod(*axes)
    return points, values.reshape(-1)


def _child(case: str, n: int, epochs: int) -> dict:
    from tensorkit.funbat import FunBaT

    torch.set_num_threads(1)
    if case.startswith("air"):
        X, y = _air()
        config = dict(rank=20, decomposition="cp") if case == "air" else dict(rank=20, decomposition="cp", n_epochs=20, tol=0.0)
    elif case == "grid":
        X, y = planted_grid((n, n, n), 5)
        config = dict(rank=20, decomposition="cp", n_epochs=epochs, tol=0.0)
    else:
        X, y = planted_grid((50, 50, 40), 5)
        config = dict(rank=8, decomposition="tucker", init="random", n_epochs=epochs, tol=0.0)
    one_epoch = None
    if "n_epochs" in config and config["n_epochs"] > 1:  # a one-epoch fit first: setup and imports, subtracted per epoch
        one_epoch = _cpu_seconds(lambda: FunBaT(**{**config, "n_epochs": 1}, residual=None, seed=0, verbose=False).fit(X, y))
    model = FunBaT(**config, residual=None, seed=0, verbose=False)
    cpu = _cpu_seconds(lambda: model.fit(X, y))
    per_epoch = cpu / model.n_epochs_run_ if one_epoch is None else (cpu - one_epoch) / (model.n_epochs_run_ - 1)
    rmse = float((model.predict(X) - y).pow(2).mean().sqrt())
    return {"case": case, "N": int(y.numel()), "config": config, "epochs": model.n_epochs_run_, "cpu_s": cpu,
            "per_epoch_s": per_epoch, "peak_MiB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "train_rmse": rmse}


def _cpu_seconds(fn: Callable[[], Any]) -> float:
    start = time.process_time()
    fn()
    return time.process_time() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100, help="side of the synthetic grid (n³ cells)")
    parser.add_argument("--epochs", type=int, default=3, help="epochs of the grid and Tucker cases")
    parser.add_argument("--cases", nargs="+", default=["air", "air20", "grid", "tucker"])
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_child(args.child, args.n, args.epochs)))
        return
    rows = []
    for case in args.cases:
        cmd = [sys.executable, "-m", "benchmarks.funbat_ep", "--child", case, "--n", str(args.n), "--epochs", str(args.epochs)]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=measuring_env()).stdout
        r = json.loads(out.strip().splitlines()[-1])
        print(r, flush=True)
        config = ", ".join(f"{k}={v!r}" for k, v in r["config"].items())
        rows.append([case, f"{r['N']:,}", config, r["epochs"], f"{r['cpu_s']:.1f}", f"{r['per_epoch_s']:.3f}",
                     f"{r['peak_MiB']:,.0f}", f"{r['train_rmse']:.4f}"])
    text = markdown_table(
        "FunBaT conditional EP at large ranks (CPU, 1 thread, fresh process per case)",
        ["case", "observed cells", "FunBaT(...)", "epochs run", "fit CPU s", "CPU s / epoch", "peak RSS MiB", "train RMSE"], rows,
        "`residual=None`, `seed=0`, float64. Fit CPU s: process time of `fit` (setup included); per epoch: for a fixed "
        "number of epochs, (that fit − a one-epoch fit run first) / (epochs − 1), else fit / epochs; peak RSS: the whole process "
        "(about 350 MiB of it is the torch runtime and the data). The machine is a shared 2-core CPU, so the seconds "
        "vary between runs: under a load of ~10 on its 2 cores, process time itself is about 2× what it is on an idle "
        f"machine. Command: `python -m benchmarks.funbat_ep --n {args.n} --epochs {args.epochs}`.\n\n{BEFORE}")
    print(text)
    with atomic_write(RESULTS / "funbat_ep.md", "w") as fh:
        fh.write(text)


if __name__ == "__main__":
    main()
