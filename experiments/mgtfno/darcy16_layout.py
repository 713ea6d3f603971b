"""Layout of the negative-frequency block in the joint TFNO tensor, chosen on a validation split.

The joint weight has shape (2·L, C_in, C_out, 8, 9) on Darcy-16; its first frequency mode (the
full-FFT axis) is shared by the low block (frequencies 0…7) and the high block (−8…−1). Which
slot of the high block holds which frequency decides which frequencies the shared factor of that
mode pairs up:

- ``shifted`` (tensorkit's layout): high slot i ↔ k = i − 8, so slot i pairs k = i with k = i − 8;
- ``reversed``: high slot i ↔ k = −(i + 1), so slot i pairs |k| = i with |k| = i + 1;
- ``mirrored``: high slot i ↔ k = −i for i ≥ 1 and slot 0 ↔ k = −8, so slot i pairs k = i with
  k = −i (|k| equal) for i ≥ 1.

``fixed-layer-mode`` keeps the shifted layout but holds the layer/block mode at full rank
(``fixed_rank_modes=(0,)``: ranks (8, 18, 18, 4, 5) instead of (5, 20, 20, 5, 6)), so that every
layer-block gets its own mix of the shared core. ``single-block`` stores each layer's kept
frequencies as one block (``blocks="single"``: joint shape (L, C_in, C_out, 16, 9)), so one factor
spans the low and the high frequencies of the first axis. ``neuralop`` is a reference row:
neuraloperator 2.0's per-layer Tucker TFNO (built as in ``darcy16.py --peer``) in the same loop
and split.

The three layouts are a permutation of the reduced spectrum along the leading axis, applied before
the block reshape and undone after it; the same seed gives the same initial parameter values in
all three. The two rank/block variants change the shape of the spectral weight, so only its
initial values differ (the other layers, data order and split are the same). Protocol: train on the first 900 Darcy-16 training samples, validate on the last 100
(the normaliser is fitted on the 900), 10 epochs, the note's hyper-parameters, seeds 0–2. The
test set is not loaded. Writes ``results/darcy16_layout.{json,md}``.

    python experiments/mgtfno/darcy16_layout.py [--layouts shifted reversed mirrored fixed-layer-mode single-block neuralop] [--seeds 0 1 2]
    python experiments/mgtfno/darcy16_layout.py --merge part1.json part2.json   # combine parallel runs
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch

from tensorkit.data.pde import load_darcy
from tensorkit.operators import TFNO
from tensorkit.operators.normalizer import GaussianNormalizer
from tensorkit.operators.trainer import Trainer
from tensorkit.runtime import atomic_write

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
N_TRAIN = 900


def high_order(layout: str, h: int) -> list[int]:
    """Position j (frequency j − h) of the high block that goes to slot i, for each slot i."""
    if layout == "shifted":
        return list(range(h))
    if layout == "reversed":
        return [h - 1 - i for i in range(h)]
    if layout == "mirrored":
        return [0] + [h - i for i in range(1, h)]
    raise ValueError(layout)


def with_layout(model: TFNO, layout: str) -> TFNO:
    """Permute the high-frequency slots of every leading axis of ``model.spectral`` (full blocks only)."""
    conv = model.spectral
    if layout == "shifted":
        return model
    perms = []
    for h in conv.half_modes[:-1]:
        perm = torch.tensor(list(range(h)) + [h + j for j in high_order(layout, h)])
        perms.append((perm, torch.argsort(perm)))
    reduced, full = conv._reduced_spectrum, conv._full_field

    def reduced_spectrum(x, lead, a):
        x_red = reduced(x, lead, a)
        kept = (*conv.n_modes[:-1], conv.half_modes[-1])
        assert tuple(x_red.shape[2:]) == kept, "layout experiment runs at the training resolution only"
        for k, (perm, _) in enumerate(perms):
            x_red = x_red.index_select(2 + k, perm)
        return x_red

    def full_field(out, lead, spatial):
        for k, (_, inv) in enumerate(perms):
            out = out.index_select(2 + k, inv)
        return full(out, lead, spatial)

    conv._reduced_spectrum, conv._full_field = reduced_spectrum, full_field
    return model


def run(layout: str, seed: int, n_epochs: int) -> dict:
    x, y = load_darcy("train", 16)
    x_tr, y_tr, x_val, y_val = x[:N_TRAIN], y[:N_TRAIN], x[N_TRAIN:], y[N_TRAIN:]
    if layout == "neuralop":
        from darcy16 import build

        model = build("TFNO tucker r=0.1", seed, peer=True)
    else:
        torch.manual_seed(seed)
        variant = {"fixed-layer-mode": {"fixed_rank_modes": (0,)}, "single-block": {"blocks": "single"}}.get(layout, {})
        model = TFNO((16, 18), 1, 1, 32, n_layers=4, seed=seed, factorization="tucker", rank=0.1, **variant)
        model = with_layout(model, "shifted" if variant else layout)
    optimizer = torch.optim.AdamW(model.parameters(), lr=8e-3, weight_decay=1e-4)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=n_epochs)
    trainer = Trainer(model, optimizer, scheduler, train_loss="h1", batch_size=32, seed=seed,
                      output_normalizer=GaussianNormalizer(1).fit(y_tr), verbose=False)
    cpu0 = time.process_time()
    history = trainer.fit((x_tr, y_tr), n_epochs, {"val": (x_val, y_val)})
    return {"layout": layout, "seed": seed, "epochs": n_epochs, "val_rel_l2": history[-1]["val_l2"],
            "val_rel_h1": history[-1]["val_h1"], "cpu_s": time.process_time() - cpu0}


def markdown(rows: list[dict]) -> str:
    lines = ["| layout | seed | val rel-L2 @16 | val rel-H1 @16 |", "|---|---|---|---|"]
    for r in sorted(rows, key=lambda r: (r["layout"], r["seed"])):
        lines.append(f"| {r['layout']} | {r['seed']} | {r['val_rel_l2']:.4f} | {r['val_rel_h1']:.4f} |")
    val = {(r["layout"], r["seed"]): r["val_rel_l2"] for r in rows}
    layouts = list(dict.fromkeys(r["layout"] for r in rows))
    first = [0, 1, 2]
    lines += ["", "| layout | mean val rel-L2, seeds 0–2 | mean, all its seeds (n) "
              "| paired difference to shifted (mean ± sd over seeds) | seeds better than shifted |",
              "|---|---|---|---|---|"]
    for name in layouts:
        mine = {s: v for (lay, s), v in val.items() if lay == name}
        mean3 = f"{statistics.mean(mine[s] for s in first):.4f}" if all(s in mine for s in first) else "–"
        diffs = [mine[s] - val[("shifted", s)] for s in mine if ("shifted", s) in val]
        paired = (f"{statistics.mean(diffs):+.4f} ± {statistics.stdev(diffs):.4f}"
                  if name != "shifted" and len(diffs) > 1 else "–")
        better = f"{sum(d < 0 for d in diffs)} / {len(diffs)}" if name != "shifted" and diffs else "–"
        lines.append(f"| {name} | {mean3} | {statistics.mean(mine.values()):.4f} ({len(mine)}) | {paired} | {better} |")
    return "\n".join(lines) + "\n"


def write(out: Path, rows: list[dict], n_epochs: int) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(out.with_suffix(".json"), "w") as fh:
        json.dump({"torch": torch.__version__, "threads": 1, "n_train": N_TRAIN, "rows": rows}, fh, indent=1)
    with atomic_write(out.with_suffix(".md"), "w") as fh:
        fh.write(f"# Darcy-16 joint-Tucker layout, validation split (train 0–{N_TRAIN - 1}, "
                 f"validate {N_TRAIN}–999), {n_epochs} epochs\n\n" + markdown(rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layouts", nargs="+", default=["shifted", "reversed", "mirrored", "neuralop"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--out", default=str(HERE / "results" / "darcy16_layout"))
    parser.add_argument("--merge", nargs="+", metavar="JSON",
                        help="only combine the rows of earlier runs' JSON files (e.g. run in parallel) into --out")
    args = parser.parse_args()
    out = Path(args.out)
    if args.merge:
        parts = [json.loads(Path(f).read_text()) for f in args.merge]
        write(out, [r for part in parts for r in part["rows"]], parts[0]["rows"][0]["epochs"])
        return
    torch.set_num_threads(1)
    rows = []
    for layout in args.layouts:
        for seed in args.seeds:
            rows.append(run(layout, seed, args.epochs))
            print(json.dumps(rows[-1]), flush=True)
            write(out, rows, args.epochs)


if __name__ == "__main__":
    main()
