"""Fit FunBaT (functional Bayesian Tucker with GP factors) to a netCDF variable; report held-out skill.

Hides a random fraction of the observed cells (--holdout), fits on the rest, prints the held-out
RMSE, MAE and the coverage of the 95 % predictive interval, and writes the posterior mean and std
(``<var>_mean``, ``<var>_std``), the ``observed`` flags
(missing, fitted, held out) and the factor functions (fitted on the non-held-out cells) to --out as
CF netCDF that keeps the input's metadata (compressed float32 unless --float64). --figure saves the factor
functions with ±2σ bands and maps of the mean and std. SIGTERM/SIGUSR1/SIGINT save the fit to
``<out>.ckpt.pt`` (and its settings to ``<out>.ckpt.json``) and exit with 143/130 without writing
--out; the same command resumes it, the same command with other settings is refused.
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Iterator

import numpy as np


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from tensorkit.data.cf import add_precision_argument

    parser.add_argument("input", metavar="INPUT.nc", help="netCDF file")
    parser.add_argument("--var", help="variable name (default: the only data variable)")
    parser.add_argument("--rank", nargs="+", default=["auto"], help="'auto' (held-out choice), or ranks: one, or one per dimension")
    parser.add_argument("--holdout", type=float, default=0.2, help="fraction of observed cells held out (0 = none)")
    parser.add_argument("--kernel", nargs="+", default=["matern32"],
                        help="kernel of the factors and the residual: matern12, matern32, matern52, periodic (a mode that "
                             "wraps, e.g. global longitude) or periodic:PERIOD; one, or one per dimension")
    parser.add_argument("--residual", default="gp", choices=["gp", "none"], help="residual GP on the grid (default) or none")
    parser.add_argument("--decomposition", default="tucker", choices=["tucker", "cp"])
    parser.add_argument("--epochs", type=int, default=200, help="maximum EP epochs")
    parser.add_argument("--figure", metavar="PNG", help="save factor functions and mean/std maps here")
    add_precision_argument(parser)


def checkpoint_path(out: str) -> str:
    """Where a command writing ``out`` keeps its resumable state."""
    return f"{out}.ckpt.pt"


def evaluate(da, args: argparse.Namespace, checkpoint: str | None = None):
    """Fit on the non-held-out cells (resumable through ``checkpoint``); return the Dataset and the held-out metrics."""
    import xarray as xr

    from tensorkit.funbat.xarray_io import funbat_dataset, predictive_moments

    held = held_out_cells(da, args.holdout, args.seed)
    rank = parse_rank(args.rank)
    kernel = args.kernel[0] if len(args.kernel) == 1 else args.kernel
    device = None if args.device == "auto" else args.device
    ds = funbat_dataset(da.where(~xr.DataArray(held, dims=da.dims, coords=da.coords)), rank=rank, kernel=kernel,
                        residual=None if args.residual == "none" else args.residual, decomposition=args.decomposition, n_epochs=args.epochs, seed=args.seed, device=device,
                        verbose=not args.quiet and None, checkpoint=checkpoint)
    metrics = {"n_heldout": int(held.sum())}
    if held.any():
        mean, std = predictive_moments(ds)
        err = mean.values[held] - da.values[held]
        inside = np.abs(err) <= 1.959964 * std.values[held]
        metrics.update(heldout_rmse=float(np.sqrt(np.mean(err**2))), heldout_mae=float(np.mean(np.abs(err))),
                       heldout_coverage95=float(np.mean(inside)))
    ds.attrs.update(holdout=args.holdout, **metrics)
    return named_outputs(ds, da, held), metrics


def named_outputs(ds, da, held: np.ndarray):
    """``ds`` with its ``observed`` cells as CF flags of ``da``'s cells: 0 missing, 1 fitted, 2 held out."""
    from tensorkit.data.cf import flag_variable

    flags = np.where(held, 2, np.isfinite(da.values))
    out = ds.copy()
    out["observed"] = flag_variable(da.dims, flags, ("missing", "fitted", "held_out"), f"how each cell of {da.name} entered the fit")
    return out


def held_out_cells(da, holdout: float, seed: int) -> np.ndarray:
    """The observed cells hidden from the fit: each with probability ``holdout`` (seeded; none for 0)."""
    from tensorkit.data.holdout import holdout_mask

    if not 0 <= holdout < 1:
        raise ValueError(f"--holdout must lie in [0, 1), got {holdout}")
    observed = np.isfinite(da.values)
    if holdout == 0:
        return np.zeros_like(observed)
    return holdout_mask(observed, holdout, seed, draw="bernoulli", name="--holdout")


def parse_rank(values: list[str]) -> str | int | list[int]:
    """``--rank``: ``auto``, or one positive integer, or one per dimension."""
    if values == ["auto"]:
        return "auto"
    try:
        ranks = [int(v) for v in values]
    except ValueError:
        raise ValueError(f"--rank must be 'auto' or positive integers, got {' '.join(values)}") from None
    if any(r < 1 for r in ranks):
        raise ValueError(f"--rank must be 'auto' or positive integers, got {' '.join(values)}")
    return ranks[0] if len(ranks) == 1 else ranks


@contextlib.contextmanager
def single_thread() -> Iterator[None]:
    """Run FunBaT's many tiny batched solves on one CPU thread (faster and predictable); restore after."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def run(args: argparse.Namespace) -> int:
    import xarray as xr

    from tensorkit.data import open_dataarray
    from tensorkit.data.cf import carry_metadata, write_cf_netcdf
    from tensorkit.runtime import check_outputs, command_settings, resumable

    out = args.out or "funbat.nc"
    check_outputs({"--out": out, "--figure": args.figure}, inputs=[args.input], overwrite=args.overwrite)
    with resumable(out, command_settings(args, [args.input]), [checkpoint_path(out)]), single_thread():
        da = open_dataarray(args.input, var=args.var)
        ds, metrics = evaluate(da.load(), args, checkpoint_path(out))
        with xr.open_dataset(args.input) as source:
            write_cf_netcdf(carry_metadata(ds, source, args._command_line), out, float64=args.float64)
        if args.figure:
            from tensorkit.funbat.plotting import save_funbat_figure

            save_funbat_figure(ds, args.figure)
    if not args.quiet:
        units = da.attrs.get("units", "")
        if metrics["n_heldout"]:
            print(f"held-out cells {metrics['n_heldout']}: RMSE {metrics['heldout_rmse']:.4g} {units}, "
                  f"MAE {metrics['heldout_mae']:.4g} {units}, 95% interval coverage {metrics['heldout_coverage95']:.3f}")
        print(f"FunBaT {ds.attrs['decomposition']} ranks {ds.attrs['ranks']}, {ds.attrs['n_epochs_run']} epochs; wrote {out}"
              + (f" and {args.figure}" if args.figure else ""))
    return 0
