"""Navier–Stokes 64² on CPU: generate a small vorticity set, train TFNO vs FNO vs MG-TFNO.

Data: ν = 1e-3, FNO forcing, GRF initial vorticity (α 2.5, τ 7), original CN scheme, dt = 1e-3,
map ω(0) → ω(T = 1). Models (width 32, 4 layers, 16×9 rfft modes): dense FNO, TFNO with joint
Tucker at rank 0.05 and 0.2, and MG-TFNO (the TFNO at rank 0.05 on 1- and 2-level patches,
stitched), with and without global periodic coordinates on the patches. The forcing
0.1(sin 2π(x+y) + cos 2π(x+y)) depends on absolute position; a model whose only positional input
is patch-local cannot represent its effect, which the row "TFNO ..., no positional embedding"
(full domain, no coordinates at all) isolates. Writes results/ns64.json and results/ns64.md.

    python experiments/mgtfno/navier_stokes.py [--n-samples 200] [--epochs 20] [--data /tmp/ns64.nc]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from tensorkit.data.pde import navier_stokes_2d, to_dataset, write_dataset
from tensorkit.operators.experiment import run_experiment
from tensorkit.operators.patching import MultigridPatching
from tensorkit.runtime import atomic_write

HERE = Path(__file__).resolve().parent


def generate(path: Path, n_samples: int, resolution: int, seed: int) -> dict:
    params = dict(resolution=resolution, visc=1e-3, t_final=1.0, dt=1e-3, n_snapshots=1, scheme="cn", seed=seed)
    start = time.process_time()
    out = navier_stokes_2d(n_samples, **params, batch_size=50)
    seconds = time.process_time() - start
    write_dataset(to_dataset(out, {**params, "equation": "vorticity NS, FNO forcing", "generator": "tensorkit"}), path)
    return {**params, "n_samples": n_samples, "cpu_s": seconds,
            "ms_per_sample_step": 1e3 * seconds / (n_samples * 1000)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-samples", type=int, default=200)
    parser.add_argument("--n-test", type=int, default=40)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--data", default="/tmp/tensorkit_ns64.nc")
    parser.add_argument("--generate-only", action="store_true")
    parser.add_argument("--only", nargs="+", help="run only these models and merge them into results/ns64.json")
    args = parser.parse_args()
    torch.set_num_threads(1)
    data = Path(args.data)
    generation = generate(data, args.n_samples, 64, seed=0) if not data.exists() else {"reused": str(data)}
    print(json.dumps(generation), flush=True)
    if args.generate_only:
        return
    base = {
        "data": {"name": "netcdf", "path": str(data), "n_test": args.n_test, "test_resolutions": [32]},
        "training": {"n_epochs": args.epochs, "batch_size": 16, "optimizer": "adam", "lr": 3e-3,
                     "weight_decay": 1e-4, "scheduler": "cosine", "loss": "h1", "seed": 0},
    }
    model = {"n_modes": [16, 18], "hidden_channels": 32, "n_layers": 4}
    runs = {
        "FNO dense": {**base, "model": {**model, "factorization": None}},
        "TFNO tucker r=0.05": {**base, "model": {**model, "factorization": "tucker", "rank": 0.05}},
        "TFNO tucker r=0.2": {**base, "model": {**model, "factorization": "tucker", "rank": 0.2}},
        "TFNO tucker r=0.05, no positional embedding": {
            **base, "model": {**model, "factorization": "tucker", "rank": 0.05, "positional_embedding": None},
        },
        "MG-TFNO L=2 p=1/16 tucker r=0.05": {
            **base, "model": {**model, "factorization": "tucker", "rank": 0.05},
            "patching": {"levels": 2, "padding_fraction": 1 / 16, "stitching": True},
        },
        "MG-TFNO L=1 p=1/8 tucker r=0.05": {
            **base, "model": {**model, "factorization": "tucker", "rank": 0.05},
            "patching": {"levels": 1, "padding_fraction": 1 / 8, "stitching": True},
        },
        # the forcing depends on absolute position: give the patches their global coordinates
        "MG-TFNO L=1 p=1/8 tucker r=0.05 + global coords": {
            **base, "model": {**model, "factorization": "tucker", "rank": 0.05},
            "patching": {"levels": 1, "padding_fraction": 1 / 8, "stitching": True, "global_coordinates": True},
        },
        "MG-TFNO L=2 p=1/16 tucker r=0.05 + global coords": {
            **base, "model": {**model, "factorization": "tucker", "rank": 0.05},
            "patching": {"levels": 2, "padding_fraction": 1 / 16, "stitching": True, "global_coordinates": True},
        },
    }
    order = list(runs)
    if args.only:
        runs = {name: runs[name] for name in args.only}
    previous = HERE / "results" / "ns64.json"
    kept: list[dict] = []
    if args.only and previous.exists():  # merge: keep the rows of models not rerun
        old = json.loads(previous.read_text())
        generation = old["generation"]
        kept = [r for r in old["rows"] if r["model"] not in runs]
    rows = []
    for name, config in runs.items():
        start = time.process_time()
        res = run_experiment(config, out_dir=None, device="cpu", resume=False, verbose=False)
        patch = config.get("patching")
        rows.append({"model": name, "rel_l2_64": res["final"]["64_l2"], "rel_h1_64": res["final"]["64_h1"],
                     "rel_l2_32": res["final"].get("32_l2"), "n_parameters_real": res["n_parameters"],
                     "spectral_compression": res["spectral_compression_ratio"],
                     "input_compression": MultigridPatching(patch["levels"], patch["padding_fraction"]).input_compression((64, 64)) if patch else 1.0,
                     "cpu_s": time.process_time() - start})
        print(json.dumps(rows[-1]), flush=True)
        # written after every model, so a long run that stops keeps what it finished
        table = sorted(kept + rows, key=lambda r: order.index(r["model"]) if r["model"] in order else len(order))
        write_results(table, generation, args)


def write_results(rows: list[dict], generation: dict, args: argparse.Namespace) -> None:
    with atomic_write(HERE / "results" / "ns64.json", "w") as fh:
        json.dump({"generation": generation, "epochs": args.epochs, "rows": rows}, fh, indent=1)
    lines = [f"# Navier–Stokes 64² (ν=1e-3, ω(0)→ω(1)), {args.n_samples - args.n_test} train / {args.n_test} test, "
             f"{args.epochs} epochs, CPU", "",
             "| model | rel-L2 @64 | rel-H1 @64 | rel-L2 @32 | real params | spectral CR | input CR | CPU s |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        l32 = "–" if r["rel_l2_32"] is None else f"{r['rel_l2_32']:.4f}"
        lines.append(f"| {r['model']} | {r['rel_l2_64']:.4f} | {r['rel_h1_64']:.4f} | {l32} | {r['n_parameters_real']:,} | "
                     f"{r['spectral_compression']:.1f}× | {r['input_compression']:.2f}× | {r['cpu_s']:.0f} |")
    with atomic_write(HERE / "results" / "ns64.md", "w") as fh:
        fh.write("\n".join(lines) + "\n")

if __name__ == "__main__":
    main()
