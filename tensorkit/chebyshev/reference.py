"""Readers for the ChebTuck authors' reference data (``.mat``, MATLAB v5, read with ``scipy.io.loadmat``).

All grids are uniform cell-centred on [-1, 1]: ``x_i = −1 + (2i − 1)/n``. By default files are looked
up in ``<shared data>/chebtuck`` (see :func:`tensorkit.data.reference.shared_file`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import scipy.io
import torch

from tensorkit.core import CPTensor

__all__ = ["first_terms", "load_biomolecule", "load_lattice", "load_newton_canonical", "slice_error"]


def _path(name: str, path: str | os.PathLike | None) -> Path:
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise FileNotFoundError(f"reference file {str(p)!r} does not exist")
        return p
    from tensorkit.data.reference import shared_file

    return Path(shared_file("chebtuck", name))


def _field(struct: np.ndarray, name: str) -> np.ndarray:
    return np.asarray(struct[name][0, 0], dtype=float)


def load_newton_canonical(n: int, path: str | os.PathLike | None = None) -> CPTensor:
    """The authors' cell-averaged sinc-quadrature CP tensor of ``1/|x|`` on the ``n³`` grid (all R terms).

    Factor column k is ``U1r[:, k]/h`` (``a_k^{1/3}`` times the cell average of ``e^{−t_k²x²}``), weights 1.
    The RS long-range part used in the paper's Table 2 is the first ``⌈R/2⌉ − 3`` columns.
    """
    data = scipy.io.loadmat(_path(f"Newt_canon_{n}.mat", path))
    u = torch.as_tensor(np.asarray(data["U1r"], dtype=float) / (2.0 / n))
    return CPTensor(torch.ones(u.shape[1], dtype=u.dtype), [u, u, u])


def load_biomolecule(path: str | os.PathLike | None = None) -> CPTensor:
    """Long-range CP tensor of the N = 500 biomolecule on the 256³ grid: weights ``LAM1C/Hunif³``."""
    data = scipy.io.loadmat(_path("n256_Pn500.mat", path))
    red = data["LRed"]
    hunif = float(np.asarray(data["Hunif"]).ravel()[0])
    weights = torch.as_tensor(_field(red, "LAM1C").ravel() / hunif**3)
    return CPTensor(weights, [torch.as_tensor(_field(red, f"CU{k}")) for k in (1, 2, 3)])


def load_lattice(path: str | os.PathLike | None = None, n_short: int = 11) -> CPTensor:
    """Long-range CP tensor of the 24×24×4 lattice (charge +1) minus its interstitial list (charge −1).

    Applies the authors' rescaling (factors divided by ``2/x_max``, ``2/y_max``, ``1/z_max``), drops the
    ``n_short`` narrowest terms of each 25-term part (the short range), and normalises columns to unit
    norm with the norms moved into the weights.
    """
    data = scipy.io.loadmat(_path("Lattice_n960_ParticlesNumber_2304_Rank_50.mat", path))
    lat, ldip = data["Lat"], data["Ldip"]
    scales = [2.0 / _field(lat, "x").ravel()[-1], 2.0 / _field(lat, "y").ravel()[-1], 1.0 / _field(lat, "z").ravel()[-1]]
    factors = [_field(ldip, f"Ut{k}") / s for k, s in zip((1, 2, 3), scales)]
    half = factors[0].shape[1] // 2
    keep = np.r_[0 : half - n_short, half : 2 * half - n_short]
    weights = np.r_[np.ones(half), -np.ones(half)][keep]
    factors = [f[:, keep] for f in factors]
    norms = [np.linalg.norm(f, axis=0) for f in factors]
    weights = weights * np.prod(norms, axis=0)
    return CPTensor(torch.as_tensor(weights), [torch.as_tensor(f / nrm) for f, nrm in zip(factors, norms)])


def first_terms(cp: CPTensor, count: int) -> CPTensor:
    """The first ``count`` rank-one terms of ``cp`` (the long-range part of a sinc CP of 1/r)."""
    return CPTensor(cp.weights[:count], [f[:, :count] for f in cp.factors])


def slice_error(model: Any, cp: CPTensor) -> tuple[float, float]:
    """``(max |model − cp|, max |cp|)`` on the authors' error slice ``z = x_{n/2}`` (0-based ``n/2 − 1``).

    ``model`` is a fitted :class:`~tensorkit.ChebTucker` (anything with ``on_grid``); ``cp`` the
    reference on the ``n³`` cell-centred grid. Only the ``n × n`` slice is formed.
    """
    from tensorkit.chebyshev.sources import uniform_grid

    n = cp.shape[0]
    x = torch.as_tensor(uniform_grid(n, (-1.0, 1.0)))
    k = n // 2 - 1
    exact = (cp.factors[0] * (cp.weights * cp.factors[2][k])) @ cp.factors[1].mT
    tucker = model.on_grid([x, x, x[k : k + 1]])  # contract the one-point mode first: no n²·r intermediate
    approx = tucker.factors[0] @ (tucker.core @ tucker.factors[2][0]) @ tucker.factors[1].mT
    return float((approx - exact).abs().max()), float(exact.abs().max())
