"""Regenerate the Chebyshev–Tucker tables (Benner, Khoromskij, Khoromskaia, Sun, arXiv:2503.01696).

Writes ``results/chebtucker.json`` (every measured number beside its reference value from
``reference_numbers.json``) and ``results/chebtucker.md``. Each table is saved as soon as it is done;
a run stopped by SIGTERM/SIGUSR1 resumes where it left off (finished tables are skipped).

Usage:  python experiments/chebtucker/reproduce.py [--quick] [--out DIR] [--tables newton_long ...]
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import torch

from tensorkit.chebyshev import ChebTucker
from tensorkit.chebyshev.potentials import gaussian_sum, sinc_quadrature
from tensorkit.chebyshev.reference import first_terms, load_biomolecule, load_lattice, load_newton_canonical, slice_error
from tensorkit.data.reference import shared_file
from tensorkit.runtime import GracefulInterrupt, atomic_write, progress

TABLES = ("acceptance_sinc", "acceptance_erf", "newton_long", "newton_full", "biomolecule", "lattice")


def timed_fit(f, **kwargs) -> tuple[ChebTucker, float]:
    start = time.perf_counter()
    model = ChebTucker(**kwargs).fit(f)
    return model, time.perf_counter() - start


def newton_table(ref: dict, quick: bool, part: str) -> dict:
    ms = [m for m in ref["m"] if not quick or m <= 1025]
    errs, ranks, secs = [], [], []
    for row, n in enumerate(progress(ref["n"], desc=f"newton {part}")):
        cp = load_newton_canonical(n)
        if part == "long":
            cp = first_terms(cp, ref["R_long"][row])
        errs.append([]), ranks.append([]), secs.append([])
        for m in ms:
            model, sec = timed_fit(cp, degree=m - 1, tol=ref["tol"], truncation="rhosvd")
            err, scale = slice_error(model, cp)
            errs[-1].append(err / scale), ranks[-1].append(max(model.ranks_)), secs[-1].append(sec)
    key = "long" if part == "long" else "full"
    return {"n": ref["n"], "m": ms, "rel_err": errs, "rank": ranks, "fit_seconds": secs,
            "ref_rel_err": [r[: len(ms)] for r in ref[f"rel_err_{key}"]],
            "ref_rank": [r[: len(ms)] for r in ref[f"rank_{key}"]]}


def biomolecule_table(ref: dict, quick: bool) -> dict:
    cp = load_biomolecule()
    ms = [m for m in ref["m"] if not quick or m <= 257]
    rows = []
    for m in progress(ms, desc="biomolecule"):
        model, sec = timed_fit(cp, degree=m - 1, tol=1e-7, truncation="rhosvd")
        rows.append({"m": m, "ranks": list(model.ranks_), "abs_err": slice_error(model, cp)[0], "fit_seconds": sec})
    by_eps = {eps: list(ChebTucker(degree=128, tol=float(eps)).fit(cp).ranks_) for eps in ref["cheb_hosvd_m129_ranks"]}
    return {"rows": rows, "ref_ranks": ref["ranks"][: len(ms)], "ref_abs_err": ref["abs_err"][: len(ms)],
            "cheb_hosvd_m129_ranks": by_eps, "ref_cheb_hosvd_m129_ranks": ref["cheb_hosvd_m129_ranks"]}


def lattice_table(ref: dict) -> dict:
    cp = load_lattice()
    rows = []
    for m in ref["m"]:
        model, sec = timed_fit(cp, degree=m - 1, tol=1e-7, truncation="rhosvd")
        rows.append({"m": m, "ranks": list(model.ranks_), "total_abs_err": slice_error(model, cp)[0], "fit_seconds": sec})
    return {"rows": rows, "ref_ranks": ref["ranks"], "ref_total_abs_err": ref["total_abs_err"]}


def _random_points(scale: float) -> torch.Tensor:
    gen = torch.Generator().manual_seed(0)
    return (torch.rand(20000, 3, generator=gen, dtype=torch.float64) * 2 - 1) * scale


def acceptance_sinc(ref: dict) -> dict:
    t, a = sinc_quadrature(10, 0.2621)
    f = gaussian_sum(t, a)
    pts = _random_points(1.0)
    exact = f(*pts.unbind(1))
    rows = []
    for eps in ref["eps"]:
        model, sec = timed_fit(f, degree=ref["m"] - 1, tol=eps)
        rows.append({"eps": eps, "rank": max(model.ranks_), "fit_seconds": sec,
                     "rel_max_err": float((model(pts) - exact).abs().max()) / ref["V0"]})
    return {"rows": rows, "ref_ranks": ref["ranks"], "ref_rel_max_err": ref["rel_max_err_20000_random"]}


def acceptance_erf(ref: dict) -> dict:
    out = {}
    for key in ("w0.5", "w1.0"):
        w = float(key[1:])
        f0 = 2 * w / math.sqrt(math.pi)

        def f(x, y, z, w=w, f0=f0):
            r = torch.sqrt(x**2 + y**2 + z**2)
            return torch.where(r > 0, torch.erf(w * r) / r.clamp_min(1e-300), torch.full_like(r, f0))

        pts = _random_points(10.0)
        exact = f(*pts.unbind(1))
        rows = []
        for eps in ref["eps"]:
            model, sec = timed_fit(f, degree=ref[key]["m"] - 1, tol=eps, domain=(-10, 10))
            rows.append({"eps": eps, "rank": max(model.ranks_), "fit_seconds": sec,
                         "rel_max_err": float((model(pts) - exact).abs().max()) / f0})
        out[key] = {"rows": rows, "ref_ranks": ref[key]["ranks"], "ref_rel_max_err": ref[key]["rel_max_err"]}
    return out


def to_markdown(results: dict) -> str:
    lines = ["# Chebyshev–Tucker reproduction (measured / reference)", ""]
    for name in ("newton_long", "newton_full"):
        if name in results:
            r = results[name]
            lines += [f"## {name}: relative slice max error (rank), measured / reference", "",
                      "| n \\ m | " + " | ".join(map(str, r["m"])) + " |", "|---" * (len(r["m"]) + 1) + "|"]
            for i, n in enumerate(r["n"]):
                cells = [f"{e:.2g} ({k}) / {re:.2g} ({rk})" for e, k, re, rk in
                         zip(r["rel_err"][i], r["rank"][i], r["ref_rel_err"][i], r["ref_rank"][i])]
                lines.append(f"| {n} | " + " | ".join(cells) + " |")
            lines.append("")
    if "biomolecule" in results:
        r = results["biomolecule"]
        lines += ["## biomolecule N=500, n=256", "", "| m | ranks | ref ranks | abs err | ref abs err | fit s |", "|---|---|---|---|---|---|"]
        for row, rr, re in zip(r["rows"], r["ref_ranks"], r["ref_abs_err"]):
            lines.append(f"| {row['m']} | {row['ranks']} | {rr} | {row['abs_err']:.3g} | {re:.3g} | {row['fit_seconds']:.3f} |")
        lines += ["", f"relative-rule ranks at m=129: {r['cheb_hosvd_m129_ranks']} (ref {r['ref_cheb_hosvd_m129_ranks']})", ""]
    if "lattice" in results:
        r = results["lattice"]
        lines += ["## lattice n=960", "", "| m | ranks | ref ranks | total abs err | ref | fit s |", "|---|---|---|---|---|---|"]
        for row, rr, re in zip(r["rows"], r["ref_ranks"], r["ref_total_abs_err"]):
            lines.append(f"| {row['m']} | {row['ranks']} | {rr} | {row['total_abs_err']:.3g} | {re:.3g} | {row['fit_seconds']:.3f} |")
        lines.append("")
    acceptance = [("acceptance_sinc", results.get("acceptance_sinc"))]
    acceptance += [(f"acceptance_erf {k}", v) for k, v in results.get("acceptance_erf", {}).items()]
    for title, r in acceptance:
        if r:
            lines += [f"## {title}", "", "| ε | rank | ref rank | rel max err | ref |", "|---|---|---|---|---|"]
            for row, rr, re in zip(r["rows"], r["ref_ranks"], r["ref_rel_max_err"]):
                lines.append(f"| {row['eps']:g} | {row['rank']} | {rr} | {row['rel_max_err']:.2g} | {re:.2g} |")
            lines.append("")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(Path(__file__).parent / "results"), help="output folder")
    parser.add_argument("--quick", action="store_true", help="m ≤ 1025 for the Newton tables, ≤ 257 for the molecule")
    parser.add_argument("--tables", nargs="+", choices=TABLES, default=list(TABLES))
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    json_path = out / "chebtucker.json"
    results = json.loads(json_path.read_text()) if json_path.exists() else {}
    ref = json.loads(shared_file("chebtuck", "reference_numbers.json").read_text())
    jobs = {
        "acceptance_sinc": lambda: acceptance_sinc(ref["acceptance_sinc_long_range"]),
        "acceptance_erf": lambda: acceptance_erf(ref["acceptance_erf_over_r_box10"]),
        "newton_long": lambda: newton_table(ref["newton"], args.quick, "long"),
        "newton_full": lambda: newton_table(ref["newton"], args.quick, "full"),
        "biomolecule": lambda: biomolecule_table(ref["biomol_n256_N500"], args.quick),
        "lattice": lambda: lattice_table(ref["lattice_n960"]),
    }
    with GracefulInterrupt() as stop:
        for name in args.tables:
            if name in results:
                continue
            if stop.requested:
                break
            results[name] = jobs[name]()
            results["_settings"] = {"quick": args.quick, "threads": args.threads, "torch": torch.__version__}
            with atomic_write(json_path, "w") as fh:
                json.dump(results, fh, indent=1)
            with atomic_write(out / "chebtucker.md", "w") as fh:
                fh.write(to_markdown(results))
    print(f"wrote {json_path} and {out / 'chebtucker.md'}")


if __name__ == "__main__":
    main()
