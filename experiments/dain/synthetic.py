"""DAIN on the reference's synthetic tensor (method note, acceptance A1/A2): 5 seeds × arms.

Regenerate:  python experiments/dain/synthetic.py [--seeds 0 1 2 3 4] [--arms none dain uniform frequency dain_constant]
Writes experiments/dain/results/synthetic.json and synthetic.md.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from tensorkit.completion import compare_arms, read_tsv, summarize
from tensorkit.data import shared_file
from tensorkit.runtime import atomic_write

CONFIG = dict(model="mlp", model_options={"layers": [48, 256, 256, 64]}, lr=1e-3, batch_size=1024, max_epochs=200,
              patience=10, augment_ratio=0.5)  # fmt: skip
OUT = Path(__file__).parent / "results"


def run(seeds, arms):
    obs = read_tsv(shared_file("dain", "synthetic_10K.tensor"))
    rows = []
    for seed in seeds:
        train, val, test = obs.split((0.72, 0.18, 0.10), seed=seed)
        rows += compare_arms(train.indices, train.values, test.indices, test.values, arms=arms, seeds=[seed],
                             shape=obs.shape, val_indices=val.indices, val_values=val.values, **CONFIG)  # fmt: skip
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--arms", nargs="+", default=["none", "dain", "uniform", "frequency", "dain_constant"])
    args = parser.parse_args()
    torch.set_num_threads(1)
    start = time.perf_counter()
    rows = run(args.seeds, args.arms)
    seconds = time.perf_counter() - start
    summary = summarize(rows)
    base = next(s["rmse_mean"] for s in summary if s["arm"] == "none")
    OUT.mkdir(exist_ok=True)
    with atomic_write(OUT / "synthetic.json", "w") as f:
        json.dump({"config": CONFIG, "seeds": args.seeds, "seconds": seconds, "rows": rows, "summary": summary}, f, indent=1)
    lines = ["| arm | test RMSE mean ± sd | vs none | MAE mean |", "|---|---|---|---|"]
    for s in summary:
        mae = sum(r["mae"] for r in rows if r["arm"] == s["arm"]) / s["n"]
        lines.append(f"| {s['arm']} | {s['rmse_mean']:.4f} ± {s['rmse_sd']:.4f} | {100 * (s['rmse_mean'] / base - 1):+.1f} % | {mae:.4f} |")
    per_seed = ["", "| seed | " + " | ".join(args.arms) + " |", "|---" * (len(args.arms) + 1) + "|"]
    for seed in args.seeds:
        vals = [next(r["rmse"] for r in rows if r["seed"] == seed and r["arm"] == a) for a in args.arms]
        per_seed.append(f"| {seed} | " + " | ".join(f"{v:.4f}" for v in vals) + " |")
    text = "\n".join([f"# DAIN on synthetic_10K ({len(args.seeds)} seeds, {seconds:.0f} s, 1 CPU thread)", "", *lines, *per_seed, ""])
    with atomic_write(OUT / "synthetic.md", "w") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    main()
