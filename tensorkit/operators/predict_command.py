"""Apply a trained operator (a train-operator run folder) to the input fields of a netCDF file or zarr store.

The model is rebuilt from RUN_DIR/checkpoint.pt with the run's output normaliser and multigrid
patching (patches stitched, ``patching.chunk_size`` patches per call). INPUT (netCDF, or a zarr
store with the zarr package installed) holds the input variable (default: the run's
``data.input_var``) with dims (sample, x, …) or (x, …); --out gets the predicted output variable (named after the run's ``data.output_var``) on the input's coordinates,
with the input's metadata, as compressed netCDF (float32, the model's precision), written atomically.
An operator with several input channels reads them along the input variable's --channel-dim (placed
anywhere; the other dims as above); one with several output channels writes them along a dim of that
name, after the sample dim.

Example:  tensorkit predict darcy_run new_permeabilities.nc --out pressure.nc
"""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", metavar="RUN_DIR", help="the --out folder of tensorkit train-operator")
    parser.add_argument("input", metavar="INPUT.nc", help="netCDF file (or zarr store) with the input fields")
    parser.add_argument("--var", help="input variable (default: the run's data.input_var)")
    parser.add_argument("--batch-size", type=int, help="samples per model call (default: the run's training.batch_size)")
    parser.add_argument("--channel-dim", default=None,
                        help="dim of the channels of a multi-channel operator's input and output (default: the run's "
                             "data.channel_dim, 'channel' unless set)")


def run(args: argparse.Namespace) -> int:
    import numpy as np
    import torch
    import xarray as xr

    from tensorkit.data import open_dataarray
    from tensorkit.data.cf import carry_metadata, write_cf_netcdf
    from tensorkit.data.io import open_dataset
    from tensorkit.operators import TFNO
    from tensorkit.runtime import check_outputs

    out = args.out or f"{Path(args.input).stem}_predicted.nc"
    check_outputs({"--out": out}, inputs=[args.input], overwrite=args.overwrite)
    operator = TFNO.from_checkpoint(args.run_dir, device=args.device)
    if operator.patching is not None and not operator.patching.stitching:
        raise ValueError(f"run {str(args.run_dir)!r} was trained with patching.stitching=false: its outputs are "
                         "patches, not fields")
    data = operator.config["data"]
    var = args.var or data["input_var"]
    da = open_dataarray(args.input, var=var).load()
    dim, channel = operator.model.dim, args.channel_dim or data["channel_dim"]
    n_in, n_out = operator.in_channels, operator.model.out_channels
    if n_in > 1 and da.sizes.get(channel) != n_in:
        raise ValueError(f"{str(args.input)!r}: the operator takes {n_in} input channels, so variable {var!r} needs a "
                         f"{channel!r} dim of that size (see --channel-dim); got dims {dict(da.sizes)}")
    fields = [d for d in da.dims if n_in == 1 or d != channel]  # (sample,) space…
    if len(fields) not in (dim, dim + 1):
        raise ValueError(f"{str(args.input)!r}: variable {var!r} must have {dim} spatial dims, optionally after a sample "
                         f"dim{' and a channel dim' if n_in > 1 else ''}; got dims {da.dims}")
    samples, space = fields[:-dim], fields[-dim:]
    values = da.transpose(*samples, *([channel] if n_in > 1 else []), *space).values
    if not np.isfinite(values).all():
        raise ValueError(f"{str(args.input)!r}: variable {var!r} holds NaN or infinite values")
    x = torch.from_numpy(values).float().reshape(-1, n_in, *values.shape[-dim:])  # (sample, channel, space…)
    batch_size = args.batch_size or int(operator.config["training"]["batch_size"])
    pred = operator.predict(x, batch_size).cpu().numpy()
    out_dims = (*samples, *([channel] if n_out > 1 else []), *space)
    pred = pred.reshape([da.sizes[d] if d != channel else n_out for d in out_dims])
    name = data["output_var"]
    attrs = {"long_name": f"TFNO prediction of {name} from {da.attrs.get('long_name', var)}"}
    coords = {k: c for k, c in da.coords.items() if channel not in c.dims or n_in == 1}
    result = xr.Dataset({name: (out_dims, pred, attrs)}, coords=coords,
                        attrs={"method": "tensorkit.operators.TFNO", "run_dir": str(args.run_dir),
                               "epochs_trained": operator.epochs_done, "input_variable": var})
    with open_dataset(args.input) as source:
        write_cf_netcdf(carry_metadata(result, source, args._command_line), out)
    if not args.quiet:
        print(f"tensorkit predict: {len(x)} field(s) of {var!r} → {name!r}; wrote {out}")
    return 0
