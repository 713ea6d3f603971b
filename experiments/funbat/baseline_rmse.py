"""RMSE of the gap-fill baselines on hidden cells of each field, as a Markdown table on stdout.

Two masks per field: 20 % of the observed cells at random (seed 0) and the default block (the centred
box spanning a quarter of each spatial size, in every time step). The RMSE is over the hidden cells the
method filled; "filled" is their share (DINEOF leaves never-observed columns, so the block, empty).
"box-validated" (block mask only) chooses the Tucker rank on the observed box east of the default one
instead of on random cells.

    PYTHONPATH=. python experiments/funbat/baseline_rmse.py                # every field
    PYTHONPATH=. python experiments/funbat/baseline_rmse.py ncep_air ...   # some
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
import xarray as xr
from baselines import block_mask, default_box, dineof, griddata_linear, masked_tucker, neighbour_mean, random_mask
from fields import FIELDS, load_field

METHODS: dict[str, Callable[[np.ndarray, xr.DataArray], np.ndarray]] = {
    "neighbour mean": lambda values, da: neighbour_mean(values),
    "griddata linear": lambda values, da: griddata_linear(values, da["lat"].values, da["lon"].values),
    "DINEOF": lambda values, da: dineof(values, rng_seed=0),
    "masked Tucker": lambda values, da: masked_tucker(values, rng_seed=0),
    "masked Tucker, box-validated": lambda values, da: masked_tucker(values, validation=_box_beside(values)),
}
BLOCK_ONLY = {"masked Tucker, box-validated"}


def _box_beside(values: np.ndarray) -> np.ndarray:
    """The observed cells of the default box moved east by its own width (a rank-validation set)."""
    lat, lon = default_box(values.shape)
    east = slice(lon.stop, lon.stop + lon.stop - lon.start)
    return block_mask(values.shape, (lat, east), observed=~np.isnan(values))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("fields", nargs="*", metavar="FIELD", help=f"some of {', '.join(FIELDS)} (default: all)")
    names = parser.parse_args(argv).fields or list(FIELDS)
    if unknown := sorted(set(names) - set(FIELDS)):
        parser.error(f"unknown field(s) {unknown}")
    print("| field | cells | mask | hidden | method | RMSE | filled | s |")
    print("|---|---:|---|---:|---|---:|---:|---:|")
    for name in names:
        da = load_field(name)
        truth = da.values
        observed = ~np.isnan(truth)
        masks = {
            "random 20 %": random_mask(truth.shape, 0.2, seed=0, observed=observed),
            "block": block_mask(truth.shape, observed=observed),
        }
        for mask, hidden in masks.items():
            values = np.where(hidden, np.nan, truth)
            for method, fill in METHODS.items():
                if method in BLOCK_ONLY and mask != "block":
                    continue
                start = time.perf_counter()
                error = fill(values, da)[hidden] - truth[hidden]
                seconds = time.perf_counter() - start
                done = np.isfinite(error)
                rmse = f"{np.sqrt(np.mean(error[done] ** 2)):.4g} {da.attrs['units']}" if done.any() else "n/a"
                print(
                    f"| {name} | {truth.size} | {mask} | {hidden.sum()} | {method} | {rmse} | {done.mean():.0%} "
                    f"| {seconds:.1f} |",
                    flush=True,
                )


if __name__ == "__main__":
    main()
