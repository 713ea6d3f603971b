"""Darcy-16 side by side: tensorkit's TFNO/FNO vs neuraloperator 2.0's, same data, loop and seeds.

Both libraries' models are trained by the same tensorkit Trainer (method note hyper-parameters:
AdamW 8e-3, wd 1e-4, cosine, batch 32, H1 loss, normalised output, width 32, 16×9 rfft modes,
10 epochs, 1 thread), so only the models differ. Writes benchmarks/results/mgtfno_darcy.{json,md}.

    python benchmarks/mgtfno_darcy.py [--seeds 0 1 2] [--reuse [JSON]]   # --reuse: re-tabulate a JSON

``--reuse experiments/mgtfno/results/darcy16.json`` tabulates a ``darcy16.py --peer`` run, which
trains the same models with the same function and seeds.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
from pathlib import Path

import torch

from tensorkit.runtime import atomic_write

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results" / "mgtfno_darcy"


def _darcy16():
    spec = importlib.util.spec_from_file_location("mgtfno_darcy16", ROOT / "experiments" / "mgtfno" / "darcy16.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def table(rows: list[dict]) -> str:
    groups: dict[tuple[str, str], list[dict]] = {}
    for r in rows:
        lib, kind = r["model"].split(" ", 1)
        groups.setdefault((kind, lib), []).append(r)
    lines = ["| model | library | seeds | rel-L2 @16 (per seed) | mean | zero-shot rel-L2 @32 (mean) | real params | "
             "CPU s / run | ratio tk/nl: L2 @16, params, CPU s |", "|---|---|---|---|---|---|---|---|---|"]
    for kind in dict.fromkeys(k for k, _ in groups):
        stats = {}
        for lib in ("tensorkit", "neuralop"):
            rs = groups.get((kind, lib))
            if not rs:
                continue
            stats[lib] = (statistics.mean(r["rel_l2_16"] for r in rs), rs[0]["n_parameters_real"],
                          statistics.mean(r["cpu_s"] for r in rs))
            ratio = ""
            if lib == "neuralop" and "tensorkit" in stats:
                tk, nl = stats["tensorkit"], stats["neuralop"]
                ratio = f"{tk[0] / nl[0]:.2f}, {tk[1] / nl[1]:.2f}, {tk[2] / nl[2]:.2f}"
            per_seed = " / ".join(f"{r['rel_l2_16']:.4f}" for r in rs)
            lines.append(f"| {kind} | {lib} | {len(rs)} | {per_seed} | "
                         f"{stats[lib][0]:.4f} | {statistics.mean(r['rel_l2_32'] for r in rs):.4f} | "
                         f"{rs[0]['n_parameters_real']:,} | {stats[lib][2]:.0f} | {ratio} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--reuse", nargs="?", const=str(OUT.with_suffix(".json")), default=None, metavar="JSON",
                        help="only re-tabulate rows from JSON (default benchmarks/results/mgtfno_darcy.json)")
    args = parser.parse_args()
    if args.reuse:
        rows = json.loads(Path(args.reuse).read_text())["rows"]
        if Path(args.reuse).resolve() != OUT.with_suffix(".json").resolve():
            with atomic_write(OUT.with_suffix(".json"), "w") as fh:
                json.dump({"torch": torch.__version__, "threads": 1, "source": str(args.reuse), "rows": rows}, fh, indent=1)
    else:
        torch.set_num_threads(1)
        darcy = _darcy16()
        rows = [darcy.train_darcy(kind, seed, args.epochs, peer)
                for peer in (False, True) for kind in darcy.MODELS for seed in args.seeds]
        with atomic_write(OUT.with_suffix(".json"), "w") as fh:
            json.dump({"torch": torch.__version__, "threads": 1, "rows": rows}, fh, indent=1)
    header = ("# Darcy-16, 10 epochs: tensorkit vs neuraloperator 2.0 (same Trainer, data, seeds; CPU, 1 thread)\n\n"
              "Real parameters count real and imaginary parts separately. CPU seconds are process time on a shared "
              "2-core machine (load varied during the run).\n\n")
    with atomic_write(OUT.with_suffix(".md"), "w") as fh:
        fh.write(header + table(rows))


if __name__ == "__main__":
    main()
