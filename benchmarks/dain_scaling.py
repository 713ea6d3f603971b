"""DAIN pipeline time and peak memory against the number of observed cells (synthetic rank-5 CP).

Each size runs in a fresh subprocess (so peak RSS is its own). Every step is timed: Step 1 with
streaming influence, the same training without influence (the peer: the overhead ratio), entity
importance, sampling, labelling and retraining, at a fixed number of epochs (no early stopping) so
that times are comparable across sizes. The log-log slope of pipeline time against nnz is fitted by
least squares; the reference's dense ``allgrad`` array (epochs × cells × H float32) is shown for scale.
Times are process CPU seconds on the CPU (one thread), wall-clock seconds (synchronised) on CUDA;
the table's note records the machine load.

    python -m benchmarks.dain_scaling [--sizes 10000 30000 100000 300000 1000000] [--epochs 2] [--device cpu]
Writes benchmarks/results/dain_scaling.json and .md.
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import subprocess
import sys
import time
from pathlib import Path

import torch

OUT = Path(__file__).parent / "results"
SHAPE = (1000, 1000, 1000)
LAYERS = [48, 256, 256, 64]


def one_size(n: int, epochs: int, device: str) -> dict:
    """Time every pipeline step at ``n`` cells (run inside the child process)."""
    from tensorkit.completion import TrainConfig, build_model, entity_importance, label_cells, sample_cells, train_model

    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(0)
    factors = [torch.randn(s, 5, generator=g) / 5**0.5 for s in SHAPE]
    idx = torch.stack([torch.randint(0, s, (n,), generator=g) for s in SHAPE], 1)
    y = (factors[0][idx[:, 0]] * factors[1][idx[:, 1]] * factors[2][idx[:, 2]]).sum(1) + 0.1 * torch.randn(n, generator=g)
    idx, y = idx.to(device), y.to(device)
    n_val = n // 5
    tr, ytr, va, yva = idx[n_val:], y[n_val:], idx[:n_val], y[:n_val]
    config = TrainConfig(max_epochs=epochs, patience=10 * epochs + 1)
    times = {}

    cuda = device.startswith("cuda")
    clock = time.perf_counter if cuda else time.process_time

    def timed(key, fn):
        if cuda:
            torch.cuda.synchronize()
        t = clock()
        out = fn()
        if cuda:
            torch.cuda.synchronize()
        times[key] = clock() - t
        return out

    warm = TrainConfig(max_epochs=1, batch_size=256)  # warm-up: first-call overheads stay out of the timings
    train_model(build_model("mlp", SHAPE, seed=0, layers=LAYERS).to(device), tr[:2048], ytr[:2048], va[:512], yva[:512],
                warm, track_influence=True)  # fmt: skip
    plain = timed("train_no_influence", lambda: train_model(build_model("mlp", SHAPE, seed=0, layers=LAYERS).to(device),
                                                            tr, ytr, va, yva, config))  # fmt: skip
    step1 = timed("step1_influence", lambda: train_model(build_model("mlp", SHAPE, seed=0, layers=LAYERS).to(device),
                                                         tr, ytr, va, yva, config, track_influence=True))  # fmt: skip
    scores = step1.influence if step1.influence.abs().sum() > 0 else torch.ones_like(step1.influence)
    probs = timed("importance", lambda: entity_importance(scores, tr, SHAPE))
    m = tr.shape[0] // 2
    new = timed("sampling", lambda: sample_cells(probs, m, torch.Generator().manual_seed(1)))
    labels = timed("labelling", lambda: label_cells("model", new, step1.model))
    timed("retrain", lambda: train_model(build_model("mlp", SHAPE, seed=1, layers=LAYERS).to(device),
                                         torch.cat([tr, new]), torch.cat([ytr, labels]), va, yva, config))  # fmt: skip
    del plain
    times["pipeline"] = sum(times[k] for k in ("step1_influence", "importance", "sampling", "labelling", "retrain"))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    if device.startswith("cuda"):
        peak = torch.cuda.max_memory_allocated()
    return {"n": n, "n_train": tr.shape[0], "epochs": epochs, "device": device, "seconds": times, "peak_bytes": peak}


def slope(xs, ys) -> float:
    lx, ly = [math.log(x) for x in xs], [math.log(y) for y in ys]
    mx, my = sum(lx) / len(lx), sum(ly) / len(ly)
    return sum((a - mx) * (b - my) for a, b in zip(lx, ly)) / sum((a - mx) ** 2 for a in lx)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 30_000, 100_000, 300_000, 1_000_000])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(one_size(args.child, args.epochs, args.device)))
        return
    from benchmarks.timing import machine_load

    results, load_before = [], machine_load()
    for n in args.sizes:
        cmd = [sys.executable, __file__, "--child", str(n), "--epochs", str(args.epochs), "--device", args.device]
        results.append(json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]))
        print(results[-1], flush=True)
    ns = [r["n"] for r in results]
    fit = {"pipeline_time_slope": slope(ns, [r["seconds"]["pipeline"] for r in results])}
    if len(ns) > 1:
        base = results[0]["peak_bytes"]
        fit["peak_memory_slope_above_first"] = slope(ns[1:], [max(r["peak_bytes"] - base, 1) for r in results[1:]]) if len(ns) > 2 else None
    OUT.mkdir(exist_ok=True)
    from tensorkit.runtime import atomic_write

    with atomic_write(OUT / "dain_scaling.json", "w") as f:
        json.dump({"results": results, "fit": fit, "layers": LAYERS, "shape": SHAPE}, f, indent=1)
    unit = "wall s" if args.device.startswith("cuda") else "CPU s"
    lines = [f"# DAIN pipeline scaling ({args.device}, 1 thread, {args.epochs} epochs per training, MLP {LAYERS})", "",
             f"| nnz | Step 1 + influence ({unit}) | Step 1 without influence ({unit}) | influence overhead ratio | "
             f"importance ({unit}) | sampling ({unit}) | labelling ({unit}) | retrain ({unit}) | pipeline ({unit}) | peak RSS (MB) | RSS above smallest run (MB) | "
             "reference allgrad alone (MB) |", "|---|---|---|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for r in results:
        s = r["seconds"]
        allgrad = 50 * r["n"] * LAYERS[-1] * 4 / 2**20  # reference: 50 epochs × all cells × H float32
        lines.append(f"| {r['n']:,} | {s['step1_influence']:.2f} | {s['train_no_influence']:.2f} | "
                     f"{s['step1_influence'] / s['train_no_influence']:.3f} | {s['importance']:.4f} | {s['sampling']:.4f} | "
                     f"{s['labelling']:.3f} | {s['retrain']:.2f} | {s['pipeline']:.2f} | {r['peak_bytes'] / 2**20:.0f} | "
                     f"{(r['peak_bytes'] - results[0]['peak_bytes']) / 2**20:.0f} | {allgrad:,.0f} |")  # fmt: skip
    lines += ["", f"Log-log slope of pipeline time vs nnz: **{fit['pipeline_time_slope']:.3f}** (target ≤ 1.1).",
              f"Log-log slope of peak RSS above the smallest run: {fit.get('peak_memory_slope_above_first'):.3f} "
              "(RSS includes the ~360 MB torch runtime; the reference's allgrad assumes 50 epochs, H = 64).", "",
              f"Times: {'wall clock, CUDA synchronised' if unit == 'wall s' else 'process CPU time'}; {load_before} "
              f"before the run, {machine_load()} after.", "",
              "Command: `python -m benchmarks.dain_scaling --sizes " + " ".join(map(str, args.sizes)) +
              f" --epochs {args.epochs} --device {args.device}`", ""]  # fmt: skip
    with atomic_write(OUT / "dain_scaling.md", "w") as f:
        f.write("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
