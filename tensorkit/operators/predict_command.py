"""Apply a trained operator (a train-operator run folder) to the input fields of a netCDF file or zarr store.

The model is rebuilt from RUN_DIR/checkpoint.pt with the run's output normaliser and multigrid
patching (patches stitched, ``patching.chunk_size`` patches per call). INPUT (netCDF, or a zarr
store with the zarr package installed) holds the input variable (default: the run's
``data.input_var``) with dims (sample, x, …) or (x, …); --out gets the predicted output variable (named after the run's ``data.output_var``) on the input's coordinates,
with the input's metadata, as compressed netCDF (float32, the model's precision), written atomically.
The input is streamed: --batch-size samples are read, predicted and written at a time (one stored
chunk each), so host memory is bounded whatever the number of samples.
An operator with several input channels reads them along the input variable's --channel-dim (placed
anywhere; the other dims as above); one with several output channels writes them along a dim of that
name, after the sample dim.

Example:  tensorkit predict darcy_run new_permeabilities.nc --out pressure.nc
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

    import dask.array

    from tensorkit.operators.predictor import TrainedOperator


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", metavar="RUN_DIR", help="the --out folder of tensorkit train-operator")
    parser.add_argument("input", metavar="INPUT.nc", help="netCDF file (or zarr store) with the input fields")
    parser.add_argument("--var", help="input variable (default: the run's data.input_var)")
    parser.add_argument("--batch-size", type=int,
                        help="samples read, predicted and written at a time; host memory grows with it, not with the "
                             "input's size (default: the run's training.batch_size)")
    parser.add_argument("--channel-dim", default=None,
                        help="dim of the channels of a multi-channel operator's input and output (default: the run's "
                             "data.channel_dim, 'channel' unless set)")


def run(args: argparse.Namespace) -> int:
    import dask
    import xarray as xr

    from tensorkit._validation import check_positive_int
    from tensorkit.data import open_dataarray
    from tensorkit.data.cf import carry_metadata, write_cf_netcdf
    from tensorkit.data.io import open_dataset
    from tensorkit.operators import TFNO
    from tensorkit.runtime import check_outputs, progress

    out = args.out or f"{Path(args.input).stem}_predicted.nc"
    check_outputs({"--out": out}, inputs=[args.input], overwrite=args.overwrite)
    operator = TFNO.from_checkpoint(args.run_dir, device=args.device)
    if operator.patching is not None and not operator.patching.stitching:
        raise ValueError(f"run {str(args.run_dir)!r} was trained with patching.stitching=false: its outputs are "
                         "patches, not fields")
    data = operator.config["data"]
    var = args.var or data["input_var"]
    batch_size = check_positive_int(operator.config["training"]["batch_size"] if args.batch_size is None
                                    else args.batch_size, "--batch-size")
    da = open_dataarray(args.input, var=var)  # lazy: read block by block while the output is written
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
    x = da.transpose(*samples, *([channel] if n_in > 1 else []), *space)
    x = x.chunk({d: batch_size if d in samples else -1 for d in x.dims})  # blocks of whole fields
    ticks = iter(progress(range(x.data.numblocks[0] if samples else 1), desc="predict",
                          verbose=False if args.quiet else None))
    pred = _predicted_blocks(operator, x.data, len(samples), batch_size, f"{str(args.input)!r}: variable {var!r}",
                             lambda: next(ticks, None))
    out_dims = (*samples, *([channel] if n_out > 1 else []), *space)
    name = data["output_var"]
    attrs = {"long_name": f"TFNO prediction of {name} from {da.attrs.get('long_name', var)}"}
    coords = {k: c for k, c in da.coords.items() if channel not in c.dims or n_in == 1}
    result = xr.Dataset({name: (out_dims, pred, attrs)}, coords=coords,
                        attrs={"method": "tensorkit.operators.TFNO", "run_dir": str(args.run_dir),
                               "epochs_trained": operator.epochs_done, "input_variable": var})
    with open_dataset(args.input) as source, dask.config.set(scheduler="synchronous"):  # one block at a time
        write_cf_netcdf(carry_metadata(result, source, args._command_line), out,
                        chunks=dict.fromkeys(samples, batch_size))  # a block is one stored chunk
    next(ticks, None)  # the last block is done: ends the progress report
    if not args.quiet:
        print(f"tensorkit predict: {x.shape[0] if samples else 1} field(s) of {var!r} → {name!r}; wrote {out}")
    return 0


def _predicted_blocks(operator: TrainedOperator, x: dask.array.Array, sample_axes: int, batch_size: int,
                      what: str, starting: Callable[[], object]) -> dask.array.Array:
    """The operator's outputs for the dask array ``x`` (sample?, channel?, space…), one model call per sample block.

    The result is lazy (dask, float32), with the input's sample blocks; its channel axis (after the
    sample axis) is present when the operator has several output channels. ``starting()`` is called
    as each block is computed (progress); ``what`` names the input in errors.
    """
    import dask.array
    import numpy as np
    import torch

    n_in, n_out, dim = operator.in_channels, operator.model.out_channels, operator.model.dim
    if n_in == 1:
        x = dask.array.expand_dims(x, sample_axes)
    chunks = (*x.chunks[:sample_axes], (n_out,), *x.chunks[sample_axes + 1:])

    def block(values: np.ndarray) -> np.ndarray:
        starting()
        if not np.isfinite(values).all():
            raise ValueError(f"{what} holds NaN or infinite values")
        fields = torch.tensor(values, dtype=torch.float32).reshape(-1, n_in, *values.shape[-dim:])
        pred = operator.predict(fields, batch_size).cpu().numpy()
        return pred.reshape(*values.shape[:sample_axes], n_out, *values.shape[-dim:])

    pred = dask.array.map_blocks(block, x, chunks=chunks, dtype=np.float32, meta=np.empty((0,) * x.ndim, np.float32))
    return pred if n_out > 1 else pred.squeeze(sample_axes)
