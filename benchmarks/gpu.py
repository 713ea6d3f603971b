"""The GPU check: one command that measures what tensorkit claims on a GPU node, in one run.

    python -m benchmarks.gpu                 # on a CUDA machine, < 8 min on one H100/H200
    python -m benchmarks.gpu --cpu --small   # tiny sizes on the CPU (< 60 s): keeps the script working in CI

Writes ``gpu.md`` into ``--out`` (default ``benchmarks/results``) with one section per check:

1. every ``gpu``-marked test (``pytest -m gpu``), with its summary line;
2. TFNO train step (forward, relative-H1 loss, backward, Adam) at 256², 512² and 1024², batch 4,
   width 32, 16 modes, 4 layers: full field, MG-TFNO L=1 / L=2 (padding 1/16, stitched loss) with
   all patches at once and in checkpointed chunks, per-block checkpointing, and neuraloperator's
   TFNO on the same data, each in float32 and mixed precision (float16 autocast on CUDA, bfloat16
   on the CPU), plus float16 FFTs (``half_fft=True``) on CUDA;
3. ChebTucker fit (degree 64, tol 1e-8) and evaluation at 10⁷ random points;
4. FunBaT (``tensorkit.FunBaT(seed=0).fit(X, y)``) on a synthetic ~200k-cell 3-D grid, GPU and CPU;
5. the DAIN pipeline at 10⁶ observed cells (``benchmarks/dain_scaling.py`` in a fresh process).

Time is the median wall-clock of a few steps (CUDA synchronised) or, on the CPU, process CPU time.
Memory is the peak CUDA allocation above what was allocated before (parameters, optimizer state,
inputs); on the CPU it is the growth of the resident-set high-water mark, a rough figure (the
allocator reuses freed memory), so the CPU smoke run checks that the script works, not the figures. A failing check is
written into its section (the others still run) and makes the exit status 1.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import statistics
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

import torch

from benchmarks.timing import markdown_table, peak_memory
from tensorkit.runtime import atomic_write

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"

FULL = {"resolutions": (256, 512, 1024), "batch": 4, "width": 32, "modes": 16, "layers": 4, "steps": 3,
        "cheb_degree": 64, "cheb_points": 10**7, "funbat_grid": (64, 64, 48), "dain_cells": 10**6}
SMALL = {"resolutions": (32,), "batch": 1, "width": 8, "modes": 8, "layers": 2, "steps": 1,
         "cheb_degree": 16, "cheb_points": 10**4, "funbat_grid": (8, 8, 8), "dain_cells": 10**4}
# (label, multigrid levels, patches per chunk, checkpointed blocks, neuraloperator, half-precision FFTs)
OPERATOR_CASES = [
    ("tensorkit full field", 0, None, False, False, False),
    ("tensorkit full field, float16 FFTs", 0, None, False, False, True),
    ("tensorkit full field, checkpointed blocks", 0, None, True, False, False),
    ("tensorkit MG L=1, all patches", 1, None, False, False, False),
    ("tensorkit MG L=2, all patches", 2, None, False, False, False),
    ("tensorkit MG L=2, 4 patches per chunk", 2, 4, False, False, False),
    ("tensorkit MG L=2, 4 patches per chunk + checkpointed blocks", 2, 4, True, False, False),
    ("neuraloperator TFNO full field", 0, None, False, True, False),
]


def _timed(fn: Callable[[], object], device: torch.device, wall: bool = False) -> tuple[object, float]:
    """``fn()`` and its duration: wall clock on CUDA (synchronised) or with ``wall``, else process CPU time."""
    clock = time.perf_counter if wall or device.type == "cuda" else time.process_time
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = clock()
    out = fn()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return out, clock() - start


def _mib(n: int | None) -> str:
    return "n/a" if n is None else f"{n / 2**20:,.0f}"


# -- 1. gpu-marked tests ------------------------------------------------------------------------
def gpu_tests(device: torch.device, size: dict) -> str:
    """Run ``pytest -m gpu`` in a fresh process and report its summary line."""
    cmd = [sys.executable, "-m", "pytest", "-m", "gpu", "-q", "-p", "no:cacheprovider", "tests"]
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    lines = proc.stdout.strip().splitlines()
    failed = [line for line in lines if line.startswith(("FAILED", "ERROR"))]
    rows = [["pytest -m gpu tests", lines[-1] if lines else proc.stderr.strip()[-200:], proc.returncode, seconds]]
    rows += [[line, "", "", ""] for line in failed]
    note = "Without CUDA every gpu-marked test is skipped (tests/conftest.py)." if device.type != "cuda" else ""
    text = markdown_table("gpu-marked tests", ["command / failure", "summary", "exit status", "s (wall)"], rows, note)
    if proc.returncode not in (0, 5):  # 5: nothing collected
        raise CheckFailed(text)
    return text


class CheckFailed(RuntimeError):
    """A check ran and found a failure; its message is the section to write."""


# -- 2. operator train steps ----------------------------------------------------------------------
def _operator_model(levels: int, checkpointed: bool, peer: bool, size: dict, device: torch.device,
                    half_fft: bool) -> torch.nn.Module:
    torch.manual_seed(0)
    m, width, layers = size["modes"], size["width"], size["layers"]
    if peer:
        from neuralop.models import TFNO as PeerTFNO

        model = PeerTFNO(n_modes=(m, m), in_channels=1, out_channels=1, hidden_channels=width, n_layers=layers,
                         factorization="Tucker", rank=0.1)
    else:
        from tensorkit.operators import TFNO

        # (m, m + 2) keeps the same m × (m/2 + 1) rfft block as neuraloperator's n_modes=(m, m)
        model = TFNO((m, m + 2), levels + 1, 1, width, n_layers=layers, rank=0.1, half_fft=half_fft,
                     checkpoint_blocks=checkpointed)
    return model.to(device)


def _operator_step(model: torch.nn.Module, levels: int, chunk: int | None, x: torch.Tensor, y: torch.Tensor,
                   amp: torch.dtype | None) -> Callable[[], None]:
    from tensorkit.operators import MultigridPatching
    from tensorkit.operators.losses import relative_h1

    patching = MultigridPatching(levels, 1 / 16) if levels else None
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    scaler = torch.amp.GradScaler("cuda", enabled=amp is torch.float16)

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast(x.device.type, dtype=amp or torch.float32, enabled=amp is not None):
            pred = model(x) if patching is None else patching.apply(model, x, chunk)
        scaler.scale(relative_h1(pred.float(), y, 2)).backward()
        scaler.step(optimizer)
        scaler.update()

    return step


def operator_steps(device: torch.device, size: dict) -> str:
    """Step time and peak memory of every case in :data:`OPERATOR_CASES`, per resolution and precision."""
    amp = torch.float16 if device.type == "cuda" else torch.bfloat16
    rows, errors = [], []
    for n in size["resolutions"]:
        g = torch.Generator().manual_seed(0)
        x = torch.randn(size["batch"], 1, n, n, generator=g).to(device)
        y = torch.randn(size["batch"], 1, n, n, generator=g).to(device)
        for precision in (None, amp):
            base = None
            for label, levels, chunk, checkpointed, peer, half_fft in OPERATOR_CASES:
                if half_fft and precision is not torch.float16:
                    continue  # half-precision FFTs exist for float16 on CUDA only
                name = "float32" if precision is None else f"{precision}".replace("torch.", "") + " autocast"
                try:
                    model = _operator_model(levels, checkpointed, peer, size, device, half_fft)
                    step = _operator_step(model, levels, chunk, x, y, precision)
                    step()  # warm-up: FFT plans, allocator
                    _, memory = peak_memory(step, device)
                    seconds = statistics.median(_timed(step, device)[1] for _ in range(size["steps"]))
                except Exception as exc:  # recorded in the table; the other cases still run
                    if isinstance(exc, torch.cuda.OutOfMemoryError):
                        rows.append([f"{n}²", name, label, "OOM", "OOM", ""])
                    else:
                        rows.append([f"{n}²", name, label, "error", "error", type(exc).__name__])
                        errors.append(f"{n}² {name} {label}: {exc!r}")
                    continue
                finally:
                    model = step = None
                    if device.type == "cuda":
                        torch.cuda.empty_cache()
                base = base or memory
                ratio = f"{memory / base:.2f}" if memory and base else "n/a"
                rows.append([f"{n}²", name, label, f"{1e3 * seconds:,.1f}", _mib(memory), ratio])
    note = (f"Batch {size['batch']}, width {size['width']}, {size['modes']} modes, {size['layers']} layers, Tucker rank 0.1; "
            f"median of {size['steps']} steps. MG: padding 1/16, loss on the stitched field; chunks are checkpointed "
            "(per-step memory set by the chunk, for one extra forward). Memory ratio: to the full field at the same "
            "resolution and precision. Mixed precision: float16 autocast + gradient scaling on CUDA, bfloat16 autocast "
            "on the CPU; spectral contractions in float32, FFTs in float32 except in the float16-FFT row (CUDA only).")
    if errors:
        note += "\n\nErrors:\n" + "\n".join(f"- {e}" for e in errors)
    unit = "ms (wall)" if device.type == "cuda" else "ms (CPU)"
    text = markdown_table("TFNO / MG-TFNO train step vs neuraloperator", ["grid", "precision", "case", unit, "peak MiB",
                          "memory / full field"], rows, note)
    if errors:
        raise CheckFailed(text)
    return text


# -- 3. ChebTucker ------------------------------------------------------------------------------
def _smooth(x: torch.Tensor, y: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    return torch.exp(-(x**2 + y**2 + z**2)) * torch.cos(x + 2 * y + 3 * z)


def chebtucker(device: torch.device, size: dict) -> str:
    """ChebTucker fit of a smooth 3-D function and its evaluation at many random points."""
    from tensorkit.chebyshev import ChebTucker

    model = ChebTucker(degree=size["cheb_degree"], tol=1e-8, domain=(-1, 1), device=device)
    (_, memory_fit), fit_s = _timed(lambda: peak_memory(lambda: model.fit(_smooth), device), device)
    pts = torch.rand(size["cheb_points"], 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    pts = (2 * pts - 1).to(device)
    (values, memory_eval), eval_s = _timed(lambda: peak_memory(lambda: model(pts), device), device)
    err = float((values - _smooth(*pts.T)).abs().max())
    rows = [["fit", f"degree {size['cheb_degree']}", str(model.ranks_), fit_s, _mib(memory_fit), ""],
            ["evaluate", f"{size['cheb_points']:,} points", "", eval_s, _mib(memory_eval), f"{err:.1e}"]]
    return markdown_table("ChebTucker fit and evaluation", ["step", "size", "ranks", "s", "peak MiB", "max abs error"],
                          rows, "f = exp(-|r|²)·cos(x + 2y + 3z) on [-1, 1]³, tol 1e-8, float64. Evaluation memory "
                          "counts the returned values (8 bytes a point), not the points.")


# -- 4. FunBaT ----------------------------------------------------------------------------------
def funbat(device: torch.device, size: dict) -> str:
    """FunBaT fit on a synthetic noisy grid, on ``device`` and (when that is a GPU) on the CPU."""
    import tensorkit

    axes = [torch.linspace(0, 1, k, dtype=torch.float64) for k in size["funbat_grid"]]
    X = torch.cartesian_prod(*axes)
    noise = torch.randn(len(X), generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    y = torch.sin(2 * math.pi * X[:, 0]) * torch.cos(2 * math.pi * X[:, 1]) * (1 + X[:, 2]) + 0.05 * noise
    rows = []
    for dev in dict.fromkeys([device, torch.device("cpu")]):
        Xd, yd = X.to(dev), y.to(dev)
        model, seconds = _timed(lambda: tensorkit.FunBaT(seed=0).fit(Xd, yd), dev, wall=True)
        rmse = float(((model.predict(Xd) - yd) ** 2).mean().sqrt())
        rows.append([str(dev), f"{len(X):,}", seconds, f"{rmse:.4f}"])
    if len(rows) == 2:
        rows[0].append(f"{rows[1][2] / rows[0][2]:.1f}× faster than CPU")
        rows[1].append("")
    cols = ["device", "cells", "fit s", "train RMSE (noise 0.05)"] + (["speed-up"] if len(rows) == 2 else [])
    return markdown_table(f"FunBaT fit on a {'×'.join(map(str, size['funbat_grid']))} grid", cols, rows,
                          "y = sin(2πx)·cos(2πy)·(1 + z) + 0.05·ε, `tensorkit.FunBaT(seed=0).fit(X, y)` with defaults. "
                          "Wall-clock seconds on both devices (the CPU with all its threads).")


# -- 5. DAIN ------------------------------------------------------------------------------------
def dain(device: torch.device, size: dict) -> str:
    """The DAIN pipeline at ``dain_cells`` observed cells, in a fresh process (its own peak memory)."""
    cmd = [sys.executable, "-m", "benchmarks.dain_scaling", "--child", str(size["dain_cells"]), "--epochs", "2",
           "--device", str(device)]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if proc.returncode:
        raise CheckFailed(markdown_table("DAIN pipeline", ["error"], [[proc.stderr.strip().splitlines()[-1]]]))
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    s = result["seconds"]
    rows = [[f"{result['n']:,}", s["step1_influence"], s["retrain"], s["pipeline"], _mib(result["peak_bytes"])]]
    memory = "peak CUDA allocation" if device.type == "cuda" else "peak RSS"
    return markdown_table("DAIN pipeline", ["cells", "Step 1 + influence s", "retrain s", "pipeline s", f"{memory} MiB"],
                          rows, "Synthetic rank-5 CP tensor 1000³, MLP [48, 256, 256, 64], 2 epochs per training "
                          f"({'wall clock' if device.type == 'cuda' else 'process CPU time'}; see "
                          "benchmarks/dain_scaling.py).")


CHECKS = {"tests": gpu_tests, "operators": operator_steps, "chebtucker": chebtucker, "funbat": funbat, "dain": dain}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.gpu", description=__doc__.splitlines()[0])
    parser.add_argument("--cpu", action="store_true", help="run on the CPU (no GPU figures)")
    parser.add_argument("--small", action="store_true", help="tiny sizes (a smoke run)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder for gpu.md")
    parser.add_argument("--only", nargs="+", choices=sorted(CHECKS), help="run these checks only")
    args = parser.parse_args(argv)
    if not args.cpu and not torch.cuda.is_available():
        parser.error("no CUDA device: run on a GPU node, or pass --cpu (with --small for the CI smoke run)")
    device = torch.device("cpu" if args.cpu else "cuda")
    size = SMALL if args.small else FULL
    sections, failed = [], []
    start = time.perf_counter()
    for name in args.only or CHECKS:
        t0 = time.perf_counter()
        try:
            text = CHECKS[name](device, size)
        except CheckFailed as exc:
            text, _ = str(exc), failed.append(name)
        except Exception:
            text, _ = f"## {name}\n\nFailed:\n\n```\n{traceback.format_exc()}```\n", failed.append(name)
        sections.append(text + f"\n({name}: {time.perf_counter() - t0:.0f} s wall)\n")
        print(sections[-1], flush=True)
    from benchmarks.__main__ import machine

    kind = "CPU smoke run: these are not GPU figures" if args.cpu else "GPU run"
    command = "python -m benchmarks.gpu" + " --cpu" * args.cpu + " --small" * args.small
    header = (f"# GPU check ({kind})\n\nRun {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC on "
              f"{machine()}.\nCommand: `{command}`; total {time.perf_counter() - start:.0f} s wall."
              + (f" Failed checks: {', '.join(failed)}." if failed else "") + "\n\n")
    args.out.mkdir(parents=True, exist_ok=True)
    with atomic_write(args.out / "gpu.md", "w") as fh:
        fh.write(header + "\n".join(sections))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
