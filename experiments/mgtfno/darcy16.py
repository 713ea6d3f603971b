"""Darcy-16 calibration of the method note: TFNO (Tucker, rank 0.1) vs dense FNO, 10 epochs, 3 seeds.

Hyper-parameters of the note's table: AdamW lr 8e-3, weight decay 1e-4, cosine schedule over the
10 epochs, batch 32, relative-H1 training loss on the normalised output, width 32, 4 layers, 1
thread. Spectral coverage: ``n_modes=(16, 18)`` keeps all 16 rfft rows and 9 rfft columns of the 16²
grid, the same 16×9 block that neuraloperator's ``n_modes=(16, 16)`` keeps. Writes
``results/darcy16.json`` and ``results/darcy16.md``.

    python experiments/mgtfno/darcy16.py [--seeds 0 1 2] [--epochs 10] [--peer]

``--peer`` also trains neuraloperator's TFNO/FNO with the same loop (see benchmarks/mgtfno_darcy.py).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from tensorkit.data.pde import load_darcy
from tensorkit.operators import TFNO
from tensorkit.operators.normalizer import GaussianNormalizer
from tensorkit.operators.trainer import Trainer
from tensorkit.runtime import atomic_write

HERE = Path(__file__).resolve().parent
MODELS = {
    "TFNO tucker r=0.1": dict(factorization="tucker", rank=0.1),
    "FNO dense": dict(factorization=None),
}


def build(kind: str, seed: int, peer: bool = False) -> torch.nn.Module:
    """The model of a table row; ``peer`` uses neuraloperator 2.0's TFNO with the same settings."""
    torch.manual_seed(seed)
    settings = MODELS[kind]
    if peer:
        from neuralop.models import TFNO as PeerTFNO

        fact = settings["factorization"]
        return PeerTFNO(n_modes=(16, 16), in_channels=1, out_channels=1, hidden_channels=32, n_layers=4,
                        factorization=None if fact is None else fact.capitalize(), rank=settings.get("rank", 1.0),
                        implementation="factorized")
    return TFNO((16, 18), 1, 1, 32, n_layers=4, seed=seed, **settings)


def train_darcy(kind: str, seed: int, n_epochs: int = 10, peer: bool = False,
                model: torch.nn.Module | None = None, label: str | None = None) -> dict[str, float]:
    """Train one model; returns test rel-L2/H1 at 16² and zero-shot rel-L2 at 32², sizes, CPU time.

    ``model`` replaces the model of ``kind`` (e.g. one initialised from another library's draw);
    ``label`` then names it in the result.
    """
    x, y = load_darcy("train", 16)
    tests = {"16": load_darcy("test", 16), "32": load_darcy("test", 32)}
    if model is None:
        model = build(kind, seed, peer)
    optimizer = torch.optim.AdamW(model.parameters(), lr=8e-3, weight_decay=1e-4)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=n_epochs)
    trainer = Trainer(model, optimizer, scheduler, train_loss="h1", batch_size=32, seed=seed,
                      output_normalizer=GaussianNormalizer(1).fit(y), verbose=False)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    history = trainer.fit((x, y), n_epochs, tests)
    spectral = getattr(model, "n_spectral_parameters", None)
    return {
        "model": label or ("neuralop " if peer else "tensorkit ") + kind, "seed": seed, "epochs": n_epochs,
        "rel_l2_16": history[-1]["16_l2"], "rel_h1_16": history[-1]["16_h1"], "rel_l2_32": history[-1]["32_l2"],
        "n_parameters_real": sum(p.numel() * (2 if p.is_complex() else 1) for p in model.parameters()),
        "spectral_complex_parameters": spectral, "cpu_s": time.process_time() - cpu0,
        "wall_s": time.perf_counter() - wall0,
    }


def markdown(rows: list[dict]) -> str:
    lines = ["| model | seed | rel-L2 @16 | rel-H1 @16 | rel-L2 @32 (zero-shot) | real params | CPU s |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['model']} | {r['seed']} | {r['rel_l2_16']:.4f} | {r['rel_h1_16']:.4f} | "
                     f"{r['rel_l2_32']:.4f} | {r['n_parameters_real']:,} | {r['cpu_s']:.0f} |")
    by_model: dict[str, list[dict]] = {}
    for r in rows:
        by_model.setdefault(r["model"], []).append(r)
    lines += ["", "| model | mean rel-L2 @16 | mean rel-L2 @32 |", "|---|---|---|"]
    for name, rs in by_model.items():
        lines.append(f"| {name} | {sum(r['rel_l2_16'] for r in rs) / len(rs):.4f} | "
                     f"{sum(r['rel_l2_32'] for r in rs) / len(rs):.4f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--peer", action="store_true")
    parser.add_argument("--out", default=str(HERE / "results" / "darcy16"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows = []
    for peer in ([False, True] if args.peer else [False]):
        for kind in MODELS:
            for seed in args.seeds:
                rows.append(train_darcy(kind, seed, args.epochs, peer))
                print(json.dumps(rows[-1]), flush=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(out.with_suffix(".json"), "w") as fh:
        json.dump({"torch": torch.__version__, "threads": 1, "rows": rows}, fh, indent=1)
    with atomic_write(out.with_suffix(".md"), "w") as fh:
        fh.write(f"# Darcy-16, {args.epochs} epochs (tensorkit experiments/mgtfno/darcy16.py)\n\n" + markdown(rows))


if __name__ == "__main__":
    main()
