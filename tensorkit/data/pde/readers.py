"""Readers for neuraloperator's small Darcy and Burgers ``.pt`` files (safe loading only)."""

from __future__ import annotations

import os
from pathlib import Path

import torch

from tensorkit.data.reference import shared_file

DARCY_SPLITS = ("train", "test")


def _load_dict(path: str | os.PathLike, keys: tuple[str, ...]) -> dict[str, torch.Tensor]:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"data file {str(path)!r} does not exist")
    data = torch.load(path, map_location="cpu", weights_only=True)  # tensors only: no code can run
    if not isinstance(data, dict) or any(k not in data for k in keys):
        found = sorted(data) if isinstance(data, dict) else type(data).__name__
        raise ValueError(f"{str(path)!r} must hold a dict with keys {keys}, found {found}")
    return data


def load_darcy_pt(path: str | os.PathLike, n_samples: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Read a Darcy file: permeability ``x`` and pressure ``y``, both (N, 1, n, n) float32.

    The stored ``x`` is boolean (two-valued coefficient); it is returned as 0/1 floats.
    ``n_samples`` keeps the first samples only.
    """
    data = _load_dict(path, ("x", "y"))
    x, y = data["x"], data["y"]
    if x.ndim != 3 or x.shape != y.shape:
        raise ValueError(f"{str(path)!r}: x and y must both be (N, n, n), got {tuple(x.shape)} and {tuple(y.shape)}")
    if n_samples is not None:
        x, y = x[:n_samples], y[:n_samples]
    return x.float().unsqueeze(1), y.float().unsqueeze(1)


def load_darcy(split: str = "train", resolution: int = 16, n_samples: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The shared Darcy set (``darcy_{split}_{resolution}.pt`` under ``neuralop/``).

    Train: 1000 samples at 16²; test: the same 50 problems at 16² and 32².
    """
    if split not in DARCY_SPLITS:
        raise ValueError(f"split must be one of {DARCY_SPLITS}, got {split!r}")
    return load_darcy_pt(shared_file("neuralop", f"darcy_{split}_{resolution}.pt"), n_samples)


def load_burgers_pt(path: str | os.PathLike, n_samples: int | None = None) -> tuple[torch.Tensor, torch.Tensor, float]:
    """Read a Burgers file: ``u0`` (N, 1, n), ``u(t, x)`` (N, 1, T, n) as float32, and the viscosity."""
    data = _load_dict(path, ("x", "y", "visc"))
    x, y = data["x"], data["y"]
    if x.ndim != 2 or y.ndim != 3 or y.shape[0] != x.shape[0] or y.shape[2] != x.shape[1]:
        raise ValueError(f"{str(path)!r}: expected x (N, n) and y (N, T, n), got {tuple(x.shape)}, {tuple(y.shape)}")
    if n_samples is not None:
        x, y = x[:n_samples], y[:n_samples]
    return x.float().unsqueeze(1), y.float().unsqueeze(1), float(data["visc"].reshape(-1)[0])


def load_burgers(split: str = "train", n_samples: int | None = None) -> tuple[torch.Tensor, torch.Tensor, float]:
    """The shared Burgers set (``burgers_{split}_16.pt``): 800 train / 400 test, ν = 0.01."""
    if split not in DARCY_SPLITS:
        raise ValueError(f"split must be one of {DARCY_SPLITS}, got {split!r}")
    return load_burgers_pt(shared_file("neuralop", f"burgers_{split}_16.pt"), n_samples)
