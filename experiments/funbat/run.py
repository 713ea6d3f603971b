"""Reproduce the FunBaT acceptance numbers (method note A1/A3, US-Temp) and compare with the reference.

    python experiments/funbat/run.py            # all folds (about 10-15 min on one CPU core)
    python experiments/funbat/run.py --quick    # fold 0 only

Writes ``results.json`` and ``results.md`` (atomically) next to this script, or under ``--out``.
Reference numbers are those of the method note (shared/methods/funbat.md): the authors' code and an
independent prototype, measured on the same files with bin-centre coordinates.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
import torch

from tensorkit.funbat import FunBaT
from tensorkit.data.reference import load_funbat_folds
from tensorkit.funbat.folds import BEIJING_PM25, SYNTHETIC, US_TEMP, load_binned_fold, load_continuous_fold
from tensorkit.runtime import atomic_write

SYNTHETIC_CP = dict(decomposition="cp", rank=1, kernel="matern32", lengthscale=0.1, variance=0.5, damping=0.1,
                    damping_noise=0.2, schedule="jacobi", n_epochs=100, tol=0.0, standardize=False)
BEIJING_CP = dict(decomposition="cp", rank=2, kernel="matern12", lengthscale=0.1, variance=5.0, damping=0.3,
                  damping_noise=0.8, n_epochs=150, tol=0.0, standardize=False, parity_mode=True)
BEIJING_TUCKER = {**BEIJING_CP, "decomposition": "tucker", "warm_start_epochs": 60, "n_epochs": 60, "damping_core": 0.5}
REFERENCE = {
    "synthetic_cp_r1": {"rmse": 0.0042, "mae": 0.0024, "source": "reference code, 3 seeds"},
    "synthetic_tucker_warm_r1": {"rmse": 0.0048, "mae": 0.0028, "source": "prototype, warm start from CP"},
    "synthetic_tucker_warm_r2": {"rmse": 0.0049, "mae": 0.0029, "source": "prototype, warm start from CP"},
    "synthetic_tucker_cold_r1": {"rmse": 0.0658, "mae": 0.0443, "source": "reference code: collapsed"},
    "beijing_fold0_cp_r2": {"rmse": 0.3481, "mae": 0.2237, "source": "reference code, 936 s"},
    "beijing_fold0_tucker_warm_r2": {"rmse": 0.3482, "mae": 0.2237, "source": "prototype, 60+60 epochs"},
    "beijing_fold0_tucker_shipped_r2": {"rmse": 0.9690, "mae": 0.7308, "source": "reference code: collapsed, 684 s"},
}


def _scores(model, data, y_noisy=None):
    mean, std = model.predict(data["X_test"], return_std=True)
    y = data["y_test"]
    target = y if y_noisy is None else y_noisy
    return {
        "rmse": float((mean - y).pow(2).mean().sqrt()),
        "mae": float((mean - y).abs().mean()),
        "coverage95": float(((target - mean).abs() <= 1.959964 * std).double().mean()),
    }


def fit_and_score(data, y_noisy_test=None, **kwargs):
    """Fit the low-rank model alone (``residual=None``): these are the paper's checks, recorded before the
    residual GP existed; the gap-fill comparison of the defaults is ``gapfill.py``."""
    start = time.perf_counter()
    model = FunBaT(**{"residual": None, **kwargs}).fit(data["X_train"], data["y_train"])
    seconds = time.perf_counter() - start
    return {**_scores(model, data, y_noisy_test), "fit_seconds": round(seconds, 2), "epochs": model.n_epochs_run_,
            "collapsed": model.collapsed_, "lengthscales": [round(v, 5) for v in model.lengthscales_]}, model


def synthetic() -> dict:
    data = load_continuous_fold()
    truth = load_funbat_folds(SYNTHETIC)
    out = {}
    for seed in (0, 1, 2):
        res, model = fit_and_score(data, seed=seed, **SYNTHETIC_CP)
        for k, key in enumerate(["fold0_U1_traj_true", "fold0_U2_traj_true"]):
            learned = model.bases_[k](torch.from_numpy(truth[f"mode{k}_values"]))[:, 0].numpy()
            res[f"corr_u{k + 1}"] = float(abs(np.corrcoef(learned, truth[key])[0, 1]))
        out[f"cp_r1_seed{seed}"] = res
    warm = {**SYNTHETIC_CP, "decomposition": "tucker", "warm_start_epochs": 50, "n_epochs": 50, "damping_core": 0.5}
    out["tucker_warm_r1"], _ = fit_and_score(data, **warm)
    out["tucker_warm_r2"], _ = fit_and_score(data, **{**warm, "rank": 2})
    out["tucker_cold_r1_parity"], _ = fit_and_score(data, **{**warm, "init": "random", "parity_mode": True, "n_epochs": 100})
    out["defaults_tucker_r1"], _ = fit_and_score(data, rank=1)
    g = torch.Generator().manual_seed(0)
    noisy = dict(data)
    noisy["y_train"] = data["y_train"] + 0.01 * torch.randn(675, generator=g, dtype=torch.float64)
    y_noisy_test = data["y_test"] + 0.01 * torch.randn(675, generator=g, dtype=torch.float64)
    out["defaults_tucker_r1_noise0.01"], _ = fit_and_score(noisy, y_noisy_test, rank=1)
    out["defaults_cp_r1_noise0.01"], _ = fit_and_score(noisy, y_noisy_test, rank=1, decomposition="cp")
    return out


def beijing(folds) -> dict:
    runs = {"cp_r2_reference_config": BEIJING_CP, "tucker_r2_warm_reference_config": BEIJING_TUCKER,
            "cp_r2_defaults": dict(rank=2, decomposition="cp"), "tucker_r2_defaults": dict(rank=2)}
    out = {name: {} for name in runs}
    for fold in folds:
        data = load_binned_fold(BEIJING_PM25, fold)
        for name, config in runs.items():
            out[name][f"fold{fold}"], _ = fit_and_score(data, **config)
            print(f"beijing fold {fold} {name}: {out[name][f'fold{fold}']}", flush=True)
    return out


def us_temp(folds) -> dict:
    out = {}
    for decomposition in ("cp", "tucker"):
        for rank in (2, 3, 5):
            name = f"{decomposition}_r{rank}_defaults"
            out[name] = {}
            for fold in folds:
                data = load_binned_fold(US_TEMP, fold)
                out[name][f"fold{fold}"], _ = fit_and_score(data, rank=rank, decomposition=decomposition, n_epochs=100)
                print(f"us-temp fold {fold} {name}: {out[name][f'fold{fold}']}", flush=True)
    return out


def summarise(per_fold: dict) -> dict:
    summary = {}
    for key in ("rmse", "mae", "coverage95", "fit_seconds"):
        values = np.array([r[key] for r in per_fold.values()])
        summary[key] = {"mean": float(values.mean()), "std": float(values.std(ddof=1)) if len(values) > 1 else 0.0}
    summary["n_folds"] = len(per_fold)
    summary["collapsed_folds"] = int(sum(r["collapsed"] for r in per_fold.values()))
    return summary


def markdown(results: dict) -> str:
    lines = ["# FunBaT reproduction (tensorkit)", "", f"Machine: {results['machine']}; torch {results['torch']}; "
             "single CPU thread. Reference numbers: method note (reference code / independent prototype).", ""]
    lines += ["## Synthetic `simulation_r1` (A1)", "", "| run | RMSE | MAE | 95% coverage | corr u1/u2 | epochs | fit s | reference RMSE / MAE |",
              "|---|---|---|---|---|---|---|---|"]
    ref = {"cp_r1_seed0": "synthetic_cp_r1", "tucker_warm_r1": "synthetic_tucker_warm_r1",
           "tucker_warm_r2": "synthetic_tucker_warm_r2", "tucker_cold_r1_parity": "synthetic_tucker_cold_r1"}
    for name, r in results["synthetic"].items():
        corr = f"{r['corr_u1']:.4f} / {r['corr_u2']:.4f}" if "corr_u1" in r else "–"
        rf = REFERENCE.get(ref.get(name, ""), None)
        rtxt = f"{rf['rmse']} / {rf['mae']} ({rf['source']})" if rf else "–"
        flag = " **collapsed (flagged)**" if r["collapsed"] else ""
        lines.append(f"| {name}{flag} | {r['rmse']:.4f} | {r['mae']:.4f} | {r['coverage95']:.3f} | {corr} | {r['epochs']} | {r['fit_seconds']} | {rtxt} |")
    for title, key, refs in [("Beijing PM2.5, bin-centre coordinates (A3)", "beijing",
                              {"cp_r2_reference_config": "beijing_fold0_cp_r2", "tucker_r2_warm_reference_config": "beijing_fold0_tucker_warm_r2"}),
                             ("US-Temp, bin-centre coordinates", "us_temp", {})]:
        lines += ["", f"## {title}", "", "| run | fold-0 RMSE / MAE | mean ± std RMSE | mean ± std MAE | 95% coverage | folds (collapsed) | fit s / fold | reference fold 0 |",
                  "|---|---|---|---|---|---|---|---|"]
        for name, per_fold in results[key].items():
            s = results[f"{key}_summary"][name]
            f0 = per_fold.get("fold0")
            rf = REFERENCE.get(refs.get(name, ""), None)
            rtxt = f"{rf['rmse']} / {rf['mae']} ({rf['source']})" if rf else "–"
            lines.append(f"| {name} | {f0['rmse']:.4f} / {f0['mae']:.4f} | {s['rmse']['mean']:.4f} ± {s['rmse']['std']:.4f} | "
                         f"{s['mae']['mean']:.4f} ± {s['mae']['std']:.4f} | {s['coverage95']['mean']:.3f} | {s['n_folds']} ({s['collapsed_folds']}) | "
                         f"{s['fit_seconds']['mean']:.1f} | {rtxt} |")
    lines += ["", "Reference Tucker R=2 with the shipped config (σ²=1) collapses to RMSE 0.969 on Beijing fold 0 (684 s);",
              "the authors' 5-fold logs (0.2876 ± 0.0079 CP R=2) used continuous-index files that are not available and are not comparable.",
              "US-Temp runs use the defaults with `n_epochs=100`; targets in °F (the model standardises internally)."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fold 0 only")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent)
    args = parser.parse_args()
    torch.set_num_threads(1)
    folds = [0] if args.quick else [0, 1, 2, 3, 4]
    results = {"machine": f"{platform.machine()} {platform.processor() or ''}".strip(), "torch": torch.__version__, "folds": folds}
    results["synthetic"] = synthetic()
    print("synthetic done", flush=True)
    results["beijing"] = beijing(folds)
    results["beijing_summary"] = {k: summarise(v) for k, v in results["beijing"].items()}
    results["us_temp"] = us_temp(folds if not args.quick else [0])
    results["us_temp_summary"] = {k: summarise(v) for k, v in results["us_temp"].items()}
    results["reference"] = REFERENCE
    args.out.mkdir(parents=True, exist_ok=True)
    with atomic_write(args.out / "results.json", "w") as fh:
        json.dump(results, fh, indent=1)
    with atomic_write(args.out / "results.md", "w") as fh:
        fh.write(markdown(results))
    print(markdown(results))


if __name__ == "__main__":
    main()
