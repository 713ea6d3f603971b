"""Reference datasets: the shared folder beside the repo, and the small dataset shipped in the package."""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from tensorkit.data.observations import Observations

ENV_VAR = "TENSORKIT_SHARED_DATA"


def shared_data_dir() -> Path:
    """The reference-data folder: ``$TENSORKIT_SHARED_DATA``, else ``../shared/data`` beside the repo.

    The default is looked up relative to the current directory and to the source checkout.
    """
    if ENV_VAR in os.environ:
        return Path(os.environ[ENV_VAR])
    candidates = [Path.cwd() / ".." / "shared" / "data", Path(__file__).resolve().parents[3] / "shared" / "data"]
    return next((p.resolve() for p in candidates if p.is_dir()), candidates[0])


def shared_file(*parts: str) -> Path:
    """Path of a file in the reference-data folder; raises a clear error when it is absent."""
    path = shared_data_dir().joinpath(*parts)
    if not path.exists():
        raise FileNotFoundError(
            f"reference data {str(path)!r} not found; set {ENV_VAR} to the folder holding the shared data"
        )
    return path


def load_funbat_folds(relpath: str) -> dict[str, np.ndarray]:
    """Arrays of a FunBaT ``.npz`` file under ``funbat/`` (plain arrays; no pickle is loaded)."""
    with np.load(shared_file("funbat", relpath), allow_pickle=False) as npz:
        return {key: npz[key] for key in npz.files}


def funbat_fold_arrays(relpath: str, fold: int) -> dict[str, np.ndarray]:
    """The arrays of one fold of a FunBaT ``.npz`` file, its ``fold{k}_`` prefix dropped (``tr_ind``,
    ``te_y``, ``tr_ind_CONTI``, …), beside the file-wide ones (``ndims``, ``n_folds``, ``mode{k}_values``).

    Raises
    ------
    ValueError
        ``fold`` is not one of the file's folds.
    """
    arrays = load_funbat_folds(relpath)
    n_folds = int(arrays["n_folds"])
    if not 0 <= fold < n_folds:
        raise ValueError(f"fold must lie in [0, {n_folds - 1}] for {relpath!r}, got {fold}")
    prefix = f"fold{fold}_"
    return {key.removeprefix(prefix): value for key, value in arrays.items()
            if key.startswith(prefix) or not key.startswith("fold")}


def funbat_fold(relpath: str, fold: int = 0) -> tuple[Observations, Observations]:
    """Train and test :class:`Observations` of one fold of a FunBaT ``.npz`` file.

    Continuous-index files (with ``mode{k}_values``) keep those rescaled coordinates; binned
    (``DISCT_*``) files get integer bin codes ``0 … ndims[k]-1`` as coordinates.
    """
    arrays = funbat_fold_arrays(relpath, fold)
    ndims = arrays["ndims"].tolist()
    continuous = "mode0_values" in arrays
    coords = [arrays[f"mode{k}_values"] if continuous else np.arange(n, dtype=np.float64) for k, n in enumerate(ndims)]
    suffix = "_DISCT" if continuous else ""
    return tuple(  # type: ignore[return-value]
        Observations.from_indices(arrays[f"{part}_ind{suffix}"].astype(np.int64), arrays[f"{part}_y"],
                                  coords=coords, attrs={"source": relpath, "fold": fold, "part": part})
        for part in ("tr", "te")
    )


def load_air_temperature() -> Any:
    """The built-in default dataset: NCEP reanalysis air temperature, 20 × 25 × 53 (time, lat, lon), K.

    See ``tensorkit/data/datasets/air_temperature_small.md`` for provenance and licence.
    """
    import xarray as xr

    with resources.as_file(resources.files("tensorkit.data") / "datasets" / "air_temperature_small.nc") as path:
        with xr.open_dataset(path) as ds:
            return ds["air"].load()
