"""Complete a sparse tensor with a neural model and influence-guided augmentation (DAIN).

INPUT is a netCDF file (NaN = missing; pick the variable with --var) or a DAIN tab-separated file
(``i<TAB>j<TAB>k<TAB>value`` per line). A seeded --holdout fraction of the observed cells is hidden
from the fit to report a held-out RMSE. netCDF input gives the completed grid (``completed``,
``prediction``, ``observed``); TSV input gives the observed and augmented cells along ``obs``. The
file type is read from the file's first bytes, not its name. SIGTERM/SIGUSR1/SIGINT save the
training state to ``<out>.ckpt.*.pt`` (settings in ``<out>.ckpt.json``) and exit with 143/130
without writing --out; the same command resumes it (the checkpoints stay until --out is written), the
same command with other settings is refused, and a second run with the same --out is refused while one runs.

Example:  tensorkit complete data.tensor --model mlp --augment influence --out completed.nc
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
import xarray as xr

from tensorkit._validation import check_positive_int
from tensorkit.completion.arms import mae, rmse
from tensorkit.completion.data import holdout_split, read_tsv
from tensorkit.completion.estimator import DAIN, STAGES, stage_checkpoint
from tensorkit.completion.models import MODEL_NAMES
from tensorkit.completion.xarray_io import complete_dataarray, sparse_dataset
from tensorkit.data import is_netcdf, open_dataarray
from tensorkit.data.cf import add_precision_argument, carry_metadata, flag_variable, write_cf_netcdf
from tensorkit.runtime import check_outputs, command_settings, resolve_device, resumable


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", help="netCDF file or DAIN tab-separated tensor file")
    parser.add_argument("--var", help="netCDF variable (default: the only data variable)")
    parser.add_argument("--model", choices=MODEL_NAMES, default="mlp", help="completion backbone (default: mlp)")
    parser.add_argument("--rank", type=int, default=16,
                        help="embedding width per mode (mlp), rank (costco, cp, tucker); default 16")  # fmt: skip
    parser.add_argument("--layers", type=int, nargs="+", default=[256, 256, 64], help="MLP hidden widths")
    parser.add_argument("--augment", choices=("influence", "uniform", "frequency", "none"), default="influence",
                        help="augmentation sampler; 'influence' is DAIN, 'none' trains once (default: influence)")  # fmt: skip
    parser.add_argument("--ratio", type=float, default=0.5, help="new cells per training cell (default: 0.5)")
    parser.add_argument("--epochs", type=int, help="maximum epochs (default: the backbone's, see DAIN)")
    parser.add_argument("--patience", type=int, help="early-stopping patience (default: the backbone's, see DAIN)")
    parser.add_argument("--lr", type=float, help="Adam learning rate (default: the backbone's, see DAIN)")
    parser.add_argument("--batch-size", type=int, help="mini-batch size (default: the backbone's, see DAIN)")
    parser.add_argument("--holdout", type=float, default=0.1, help="held-out fraction for the RMSE (default: 0.1)")
    parser.add_argument("--standardize", action="store_true", default=None,
                        help="fit on standardised values (default: the backbone's, see DAIN)")  # fmt: skip
    add_precision_argument(parser)


def _model_options(args: argparse.Namespace, n_modes: int) -> dict:
    check_positive_int(args.rank, "--rank")
    if args.model == "mlp":
        return {"layers": [args.rank * n_modes, *args.layers]}
    return {"rank": args.rank}


def run(args: argparse.Namespace) -> int:
    if not 0 <= args.holdout < 1:
        raise ValueError(f"--holdout must lie in [0, 1), got {args.holdout}")
    out = args.out or f"{Path(args.input).stem}_completed.nc"
    check_outputs({"--out": out}, inputs=[args.input], overwrite=args.overwrite)
    checkpoint = f"{out}.ckpt"
    settings = dict(augment_ratio=args.ratio, seed=args.seed, max_epochs=args.epochs, patience=args.patience,
                    lr=args.lr, batch_size=args.batch_size, verbose=not args.quiet and None,
                    checkpoint_path=checkpoint)  # fmt: skip
    with resumable(out, command_settings(args, [args.input]), [stage_checkpoint(checkpoint, stage) for stage in STAGES]):
        netcdf = is_netcdf(args.input)
        ds = (_complete_grid if netcdf else _complete_table)(args, settings)
        with xr.open_dataset(args.input) if netcdf else xr.Dataset() as source:
            write_cf_netcdf(carry_metadata(ds, source, args._command_line), out, float64=args.float64)
    if not args.quiet:
        summary = f"held-out RMSE {ds.attrs.get('holdout_rmse', float('nan')):.4f}"
        print(f"tensorkit complete: {args.model} + {args.augment}: {summary}; wrote {out}")
    return 0


def _complete_grid(args: argparse.Namespace, settings: dict) -> xr.Dataset:
    """A netCDF variable completed on its grid (:func:`complete_dataarray`), ``observed`` as a CF flag variable."""
    da = open_dataarray(args.input, var=args.var)
    ds = complete_dataarray(da, model=args.model, sampler=args.augment, holdout=args.holdout, device=args.device,
                            standardize=args.standardize, model_options=_model_options(args, da.ndim), **settings)  # fmt: skip
    ds["observed"] = flag_variable(ds["observed"].dims, ds["observed"].values, ("missing", "observed"),
                                   f"whether the cell of {da.name} was observed in the input")
    return ds


def _complete_table(args: argparse.Namespace, settings: dict) -> xr.Dataset:
    """A DAIN table's observed and augmented cells along ``obs``."""
    obs = read_tsv(args.input).to(resolve_device(args.device))
    fit, test = holdout_split(obs, args.holdout, args.seed, "--holdout")
    est = DAIN(args.model, sampler=args.augment, standardize=args.standardize,
               model_options=_model_options(args, obs.ndim), **settings).fit(fit.indices, fit.values, shape=obs.shape)  # fmt: skip
    cells = torch.cat([obs.indices, est.augmented_indices_])
    values = torch.cat([obs.values, torch.full((est.augmented_indices_.shape[0],), float("nan"), device=cells.device)])
    attrs = {"method": f"tensorkit.completion.DAIN (model={args.model}, sampler={args.augment})", "seed": args.seed,
             "n_observed": len(obs), "n_augmented": int(est.augmented_indices_.shape[0])}  # fmt: skip
    if test is not None:
        pred = est.predict(test.indices)
        attrs.update(holdout=args.holdout, holdout_rmse=rmse(pred, test.values), holdout_mae=mae(pred, test.values))
    return sparse_dataset(cells, values, est.predict(cells), obs.dims, attrs)
