"""Beyond the paper: DAIN's augmented cells fed to FunBaT (functional Bayesian Tucker/CP).

Per fold, the MLP's Step 1 (seeded 20 % validation) gives DAIN cells (influence sampler) and uniform
cells, labelled by the selected checkpoint. FunBaT is fitted on the observed training cells (train ∪
validation) with the bin codes as coordinates, alone or with the new cells (those on observed cells
are dropped; observed always wins). Test RMSE on all rows and on rows whose cell is unobserved.

    python experiments/dain/funbat_augment.py [--datasets pm25 ustemp] [--folds 0 1 2 3 4]
Writes experiments/dain/results/funbat_augment.json and .md.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

from tensorkit.completion import DAIN, cell_keys, completion_fold, rmse
from tensorkit.funbat import FunBaT
from tensorkit.runtime import atomic_write

sys.path.insert(0, str(Path(__file__).parent))
from real import BACKBONES, COMMON, DATASETS  # noqa: E402

OUT = Path(__file__).parent / "results"
FUNBAT = {"decomposition": "cp", "rank": 3, "n_epochs": 30}


def run_fold(name: str, fold: int, seed: int) -> list[dict]:
    data = completion_fold(DATASETS[name], fold, val_fraction=0.2, seed=fold)
    est = DAIN("mlp", sampler="influence", seed=seed, **{**COMMON, **BACKBONES["mlp"]})
    est.fit(data.train.indices, data.train.values, shape=data.shape, val_indices=data.val.indices, val_values=data.val.values)
    obs_idx = torch.cat([data.train.indices, data.val.indices])
    obs_y = torch.cat([data.train.values, data.val.values])
    unseen = ~data.test_cell_seen
    rows = []
    for arm, fitted in {"none": None, "dain": est, "uniform": est.with_arm("uniform")}.items():
        idx, y = obs_idx, obs_y
        if fitted is not None:
            new = ~torch.isin(cell_keys(fitted.augmented_indices_, data.shape), cell_keys(obs_idx, data.shape))
            idx = torch.cat([obs_idx, fitted.augmented_indices_[new]])
            y = torch.cat([obs_y, fitted.augmented_values_[new].double()])
        t0 = time.perf_counter()
        fb = FunBaT(seed=seed, **FUNBAT).fit(idx.double(), y)
        pred = fb.predict(data.test.indices.double())
        rows.append({"dataset": name, "fold": fold, "seed": seed, "arm": arm, "n_fit": int(idx.shape[0]),
                     "rmse": rmse(pred, data.test.values), "rmse_unseen": rmse(pred[unseen], data.test.values[unseen]),
                     "seconds": time.perf_counter() - t0})  # fmt: skip
        print(rows[-1], flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=list(DATASETS))
    parser.add_argument("--folds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows = [r for name in args.datasets for fold in args.folds for r in run_fold(name, fold, args.seed)]
    OUT.mkdir(exist_ok=True)
    with atomic_write(OUT / "funbat_augment.json", "w") as f:
        json.dump({"args": vars(args), "funbat": FUNBAT, "rows": rows}, f, indent=1)
    lines = [f"# FunBaT ({FUNBAT}) with DAIN-augmented cells", "",
             "| dataset | arm | RMSE all (mean ± sd over folds) | RMSE unseen | arm − none (all), wins |", "|---|---|---|---|---|"]  # fmt: skip
    for name in args.datasets:
        none = {r["fold"]: r["rmse"] for r in rows if r["dataset"] == name and r["arm"] == "none"}
        for arm in ("none", "dain", "uniform"):
            rs = [r for r in rows if r["dataset"] == name and r["arm"] == arm]
            a = torch.tensor([r["rmse"] for r in rs], dtype=torch.float64)
            u = torch.tensor([r["rmse_unseen"] for r in rs], dtype=torch.float64)
            diffs = [r["rmse"] - none[r["fold"]] for r in rs]
            paired = "—" if arm == "none" else f"{sum(diffs) / len(diffs):+.4f}, {sum(d < 0 for d in diffs)}/{len(diffs)}"
            lines.append(f"| {name} | {arm} | {a.mean():.4f} ± {a.std():.4f} | {u.mean():.4f} ± {u.std():.4f} | {paired} |")
    lines += ["", "Command: `python experiments/dain/funbat_augment.py --datasets " + " ".join(args.datasets) +
              " --folds " + " ".join(map(str, args.folds)) + f" --seed {args.seed}`", ""]  # fmt: skip
    with atomic_write(OUT / "funbat_augment.md", "w") as f:
        f.write("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
