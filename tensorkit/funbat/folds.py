"""The FunBaT reference folds as (coordinates, values) tensors, with bin-centre coordinates for binned files."""

from __future__ import annotations

import torch

from tensorkit.data.reference import funbat_fold_arrays

__all__ = ["BEIJING_PM25", "SYNTHETIC", "US_TEMP", "load_binned_fold", "load_continuous_fold"]

SYNTHETIC = "data/synthetic/simulation_r1.npz"
BEIJING_PM25 = "data/beijing/beijing_PM2.5/DISCT_428x501x1461_no_agg.npz"
US_TEMP = "data/US_temp/DISCT_15x95x267.npz"


def load_binned_fold(relpath: str, fold: int, span: float | None = None) -> dict[str, torch.Tensor]:
    """Train/test tensors of a binned (``DISCT_*``) file with bin-centre coordinates.

    Bin code ``b`` of mode k becomes ``(b + 0.5) · span / n_k`` (the method note's construction; the
    binned modes were rescaled to ``[0, span]`` before cutting: 10 for Beijing, 1 for US-Temp).

    Returns
    -------
    dict with ``X_train``, ``y_train``, ``X_test``, ``y_test`` (float64).
    """
    data = funbat_fold_arrays(relpath, fold)
    if span is None:
        span = 10.0 if "beijing" in relpath else 1.0
    sizes = torch.from_numpy(data["ndims"]).to(torch.float64)

    def centres(codes):
        return (torch.from_numpy(codes.astype("float64")) + 0.5) * span / sizes

    return {
        "X_train": centres(data["tr_ind"]),
        "y_train": torch.from_numpy(data["tr_y"]),
        "X_test": centres(data["te_ind"]),
        "y_test": torch.from_numpy(data["te_y"]),
    }


def load_continuous_fold(relpath: str = SYNTHETIC, fold: int = 0) -> dict[str, torch.Tensor]:
    """Train/test tensors of a continuous-index file (rescaled coordinates as shipped)."""
    data = funbat_fold_arrays(relpath, fold)
    return {
        "X_train": torch.from_numpy(data["tr_ind_CONTI"]),
        "y_train": torch.from_numpy(data["tr_y"]),
        "X_test": torch.from_numpy(data["te_ind_CONTI"]),
        "y_test": torch.from_numpy(data["te_y"]),
    }
