"""Data layer: the observation container, netCDF I/O and reference datasets."""

from tensorkit.data.filetype import is_netcdf
from tensorkit.data.io import open_dataarray, write_netcdf
from tensorkit.data.observations import Observations
from tensorkit.data.reference import (
    funbat_fold,
    funbat_fold_arrays,
    load_air_temperature,
    load_funbat_folds,
    shared_data_dir,
    shared_file,
)

__all__ = [
    "Observations",
    "funbat_fold",
    "funbat_fold_arrays",
    "is_netcdf",
    "load_air_temperature",
    "load_funbat_folds",
    "open_dataarray",
    "shared_data_dir",
    "shared_file",
    "write_netcdf",
]
