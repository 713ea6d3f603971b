"""DAIN on real sparse tensors (binned Beijing PM2.5 50×50×150 and US-Temp 15×95×267, 5 folds).

For every fold (a seeded 20 % of the merged training cells as validation), backbone and seed, one
Step-1 model is trained and every arm (none, dain, uniform, frequency, dain_constant) retrains
from it with convergence-based stopping. Test RMSE/MAE in original units on all test rows, on the
rows whose cell has no training row ("unseen", the completion task proper) and on warm rows. Beyond
the paper, the MLP's augmented cells also feed masked HOOI and CP-ALS from tensorkit.core.

Regenerate (about 30-60 min on one CPU thread):
    python experiments/dain/real.py --datasets pm25 ustemp --folds 0 1 2 3 4 --seeds 0 --backbones mlp costco cp
Writes experiments/dain/results/real.json and real.md (a partial run writes what it has).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from tensorkit.completion import DAIN, compare_arms, completion_fold, masked_completion, rmse
from tensorkit.runtime import atomic_write

DATASETS = {
    "pm25": "data/beijing/beijing_PM2.5/DISCT_50x50x150.npz",
    "ustemp": "data/US_temp/DISCT_15x95x267.npz",
}
BACKBONES = {
    "mlp": dict(model_options={"layers": [48, 256, 256, 64]}, lr=1e-3),
    "costco": dict(model_options={"rank": 16, "channels": 32, "hidden": 32}, lr=1e-3),
    "cp": dict(model_options={"rank": 8}, lr=1e-2),
    "tucker": dict(model_options={"rank": 4}, lr=1e-2),
}
COMMON = dict(batch_size=512, max_epochs=300, patience=10, standardize=True, augment_ratio=0.5)
ARMS = ("none", "dain", "uniform", "frequency", "dain_constant")
CLASSICAL = {"hooi": (4, 4, 4), "cp_als": 4}
OUT = Path(__file__).parent / "results"


def run_fold(name, fold, seeds, backbones, rows, classical_rows):
    data = completion_fold(DATASETS[name], fold, val_fraction=0.2, seed=fold)
    test = data.test
    mean_rmse = rmse(torch.full_like(test.values, float(torch.cat([data.train.values, data.val.values]).mean())), test.values)
    views = {"unseen": ~data.test_cell_seen, "warm": data.test_warm}
    extra = {"dataset": name, "fold": fold, "train_mean_rmse": mean_rmse}
    for backbone in backbones:
        options = {**COMMON, **BACKBONES[backbone]}
        t0 = time.perf_counter()
        rows += compare_arms(data.train.indices, data.train.values, test.indices, test.values, arms=ARMS, seeds=seeds,
                             shape=data.shape, val_indices=data.val.indices, val_values=data.val.values,
                             test_views=views, extra={**extra, "backbone": backbone}, model=backbone, **options)  # fmt: skip
        print(f"{name} fold {fold} {backbone}: {time.perf_counter() - t0:.0f} s", flush=True)
    for seed in seeds:  # beyond the paper: augmentation for classical masked completion
        est = DAIN("mlp", sampler="influence", seed=seed, **{**COMMON, **BACKBONES["mlp"]})
        est.fit(data.train.indices, data.train.values, shape=data.shape, val_indices=data.val.indices,
                val_values=data.val.values)  # fmt: skip
        cells = {"none": None, "dain": est, "uniform": est.with_arm("uniform")}
        obs_idx = torch.cat([data.train.indices, data.val.indices])
        obs_y = torch.cat([data.train.values, data.val.values])
        for method, rank in CLASSICAL.items():
            for arm, fitted in cells.items():
                aug = (None, None) if fitted is None else (fitted.augmented_indices_, fitted.augmented_values_.double())
                fit = masked_completion(method, obs_idx, obs_y, data.shape, rank, *aug, seed=seed)
                pred = fit.at(test.indices)
                classical_rows.append({**extra, "method": method, "arm": arm, "seed": seed, "rmse": rmse(pred, test.values),
                                       "rmse_unseen": rmse(pred[views["unseen"]], test.values[views["unseen"]])})  # fmt: skip


def _mean_sd(vals):
    t = torch.tensor(vals, dtype=torch.float64)
    return f"{float(t.mean()):.4f} ± {float(t.std()) if len(vals) > 1 else 0.0:.4f}"


def write_report(rows, classical_rows, args, seconds):
    OUT.mkdir(exist_ok=True)
    with atomic_write(OUT / "real.json", "w") as f:
        json.dump({"args": vars(args), "common": COMMON, "backbones": BACKBONES, "seconds": seconds,
                   "rows": rows, "classical": classical_rows}, f, indent=1)  # fmt: skip
    lines = [f"# DAIN on real binned tensors ({seconds / 60:.0f} min, 1 CPU thread)", "",
             "Test RMSE (original units; mean ± sd over folds × seeds). 'unseen': test rows whose cell has no "
             "training row. Paired columns: DAIN − arm per fold and seed (negative = DAIN better), wins = DAIN lower.", ""]  # fmt: skip
    for name in args.datasets:
        sub = [r for r in rows if r["dataset"] == name]
        if not sub:
            continue
        floor = _mean_sd([r["train_mean_rmse"] for r in sub if r["arm"] == "none" and r["backbone"] == sub[0]["backbone"]])
        lines += [f"## {name} ({DATASETS[name]}); training-mean predictor RMSE {floor}", "",
                  "| backbone | arm | RMSE all | RMSE unseen | MAE all | DAIN − arm (all) | DAIN wins | stop: patience/cap |",
                  "|---|---|---|---|---|---|---|---|"]  # fmt: skip
        for backbone in dict.fromkeys(r["backbone"] for r in sub):
            for arm in ARMS:
                rs = [r for r in sub if r["backbone"] == backbone and r["arm"] == arm]
                dain = {(r["fold"], r["seed"]): r["rmse"] for r in sub if r["backbone"] == backbone and r["arm"] == "dain"}
                diffs = [dain[(r["fold"], r["seed"])] - r["rmse"] for r in rs]
                paired = "—" if arm == "dain" else f"{sum(diffs) / len(diffs):+.4f}"
                wins = "—" if arm == "dain" else f"{sum(d < 0 for d in diffs)}/{len(diffs)}"
                stops = f"{sum(r['stop_reason'] == 'patience' for r in rs)}/{sum(r['stop_reason'] == 'max_epochs' for r in rs)}"
                lines.append(f"| {backbone} | {arm} | {_mean_sd([r['rmse'] for r in rs])} | "
                             f"{_mean_sd([r['rmse_unseen'] for r in rs])} | {_mean_sd([r['mae'] for r in rs])} | "
                             f"{paired} | {wins} | {stops} |")  # fmt: skip
        csub = [r for r in classical_rows if r["dataset"] == name]
        if csub:
            lines += ["", "Classical masked completion (train ∪ val observed), with the MLP's augmented cells:", "",
                      "| method | arm | RMSE all | RMSE unseen |", "|---|---|---|---|"]  # fmt: skip
            for method in CLASSICAL:
                for arm in ("none", "dain", "uniform"):
                    rs = [r for r in csub if r["method"] == method and r["arm"] == arm]
                    lines.append(f"| {method} | {arm} | {_mean_sd([r['rmse'] for r in rs])} | {_mean_sd([r['rmse_unseen'] for r in rs])} |")
        lines.append("")
    lines += ["Command: `python experiments/dain/real.py " + " ".join(
        f"--{k} {' '.join(map(str, v))}" for k, v in vars(args).items()) + "`", ""]  # fmt: skip
    with atomic_write(OUT / "real.md", "w") as f:
        f.write("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=list(DATASETS))
    parser.add_argument("--folds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--backbones", nargs="+", default=["mlp", "costco", "cp"], choices=list(BACKBONES))
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows, classical_rows, start = [], [], time.perf_counter()
    for name in args.datasets:
        for fold in args.folds:
            run_fold(name, fold, args.seeds, args.backbones, rows, classical_rows)
            write_report(rows, classical_rows, args, time.perf_counter() - start)
    print((OUT / "real.md").read_text())


if __name__ == "__main__":
    main()
