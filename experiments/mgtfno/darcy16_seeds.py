"""Darcy-16: how much of the tensorkit/neuraloperator gap is initialisation noise?

Two checks with the loop and hyper-parameters of ``darcy16.py`` (1 thread):

1. tensorkit's dense FNO **initialised with neuraloperator's seed-s draw** (weights copied by
   ``tensorkit.operators.interop.load_neuralop_dense_fno``; the two backbones are the same function,
   see tests/operators/test_neuralop_parity.py), seeds 0, 1, 2. If it lands on neuraloperator's
   numbers, the dense gap of the default table is the random draw, not the architecture.
2. More seeds for TFNO (joint Tucker 0.1) in both libraries, to put the 3-seed means in context.

Writes ``results/darcy16_seeds.{json,md}``.

    python experiments/mgtfno/darcy16_seeds.py [--transplant-seeds 0 1 2] [--extra-seeds 3 4 5 6 7]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
from pathlib import Path

import torch

from tensorkit.operators import TFNO
from tensorkit.operators.interop import load_neuralop_dense_fno
from tensorkit.runtime import atomic_write

HERE = Path(__file__).resolve().parent


def _darcy16():
    spec = importlib.util.spec_from_file_location("mgtfno_darcy16", HERE / "darcy16.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transplant-seeds", type=int, nargs="*", default=[0, 1, 2])
    parser.add_argument("--extra-seeds", type=int, nargs="*", default=[3, 4, 5, 6, 7])
    parser.add_argument("--out", default=str(HERE / "results" / "darcy16_seeds"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    darcy = _darcy16()
    rows = []
    for seed in args.transplant_seeds:
        peer = darcy.build("FNO dense", seed, peer=True)
        model = load_neuralop_dense_fno(TFNO((16, 18), 1, 1, 32, n_layers=4, factorization=None), peer)
        rows.append(darcy.train_darcy("FNO dense", seed, model=model,
                                      label="tensorkit FNO dense (neuralop init)"))
        print(json.dumps(rows[-1]), flush=True)
    for seed in args.extra_seeds:
        for peer in (False, True):
            rows.append(darcy.train_darcy("TFNO tucker r=0.1", seed, peer=peer))
            print(json.dumps(rows[-1]), flush=True)
    out = Path(args.out)
    with atomic_write(out.with_suffix(".json"), "w") as fh:
        json.dump({"torch": torch.__version__, "threads": 1, "rows": rows}, fh, indent=1)
    groups: dict[str, list[dict]] = {}
    for r in rows:
        groups.setdefault(r["model"], []).append(r)
    lines = ["# Darcy-16, 10 epochs: initialisation noise (experiments/mgtfno/darcy16_seeds.py)", "",
             "| model | seeds | rel-L2 @16 per seed | mean | sd | rel-L2 @32 mean |", "|---|---|---|---|---|---|"]
    for name, rs in groups.items():
        vals = [r["rel_l2_16"] for r in rs]
        sd = statistics.stdev(vals) if len(vals) > 1 else float("nan")
        lines.append(f"| {name} | {' '.join(str(r['seed']) for r in rs)} | "
                     f"{' / '.join(f'{v:.4f}' for v in vals)} | {statistics.mean(vals):.4f} | {sd:.4f} | "
                     f"{statistics.mean(r['rel_l2_32'] for r in rs):.4f} |")
    with atomic_write(out.with_suffix(".md"), "w") as fh:
        fh.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
