"""2-D Darcy flow ``−∇·(a ∇u) = f`` on the unit square with a two-valued GRF coefficient."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
import torch

from tensorkit._validation import check_positive_float, check_positive_int
from tensorkit.data.pde.fields import neumann_grf_2d
from tensorkit.runtime import progress


def solve_darcy(a: np.ndarray, forcing: float = 1.0) -> np.ndarray:
    """Five-point finite-difference solution of ``−∇·(a∇u) = forcing``, ``u = 0`` on the boundary.

    ``a`` is sampled on the ``s × s`` grid ``x_i = i/(s−1)`` (boundary nodes included); fluxes
    use the arithmetic mean of ``a`` at the two nodes of each face. Returns ``u`` on the same grid.
    """
    s = a.shape[0]
    if a.shape != (s, s) or s < 3:
        raise ValueError(f"a must be a square grid of at least 3×3 nodes, got shape {a.shape}")
    h2 = (1.0 / (s - 1)) ** 2
    m = s - 2
    idx = np.arange(m * m).reshape(m, m)
    rows, cols, vals = [], [], []
    diag = np.zeros((m, m))
    for di, dj in ((1, 0), (-1, 0), (0, 1), (0, -1)):
        face = 0.5 * (a[1:-1, 1:-1] + a[1 + di:s - 1 + di, 1 + dj:s - 1 + dj]) / h2
        diag += face
        ni, nj = np.meshgrid(np.arange(m) + di, np.arange(m) + dj, indexing="ij")
        inside = (ni >= 0) & (ni < m) & (nj >= 0) & (nj < m)
        rows.append(idx[inside])
        cols.append(idx[ni[inside], nj[inside]])
        vals.append(-face[inside])
    rows.append(idx.ravel())
    cols.append(idx.ravel())
    vals.append(diag.ravel())
    matrix = sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(m * m, m * m))
    u = np.zeros_like(a, dtype=np.float64)
    u[1:-1, 1:-1] = spla.spsolve(matrix, np.full(m * m, forcing)).reshape(m, m)
    return u


def darcy_flow(
    n_samples: int, resolution: int = 64, alpha: float = 2.0, tau: float = 3.0, high: float = 12.0,
    low: float = 4.0, forcing: float = 1.0, seed: int = 0, verbose: bool | None = None,
) -> dict[str, torch.Tensor]:
    """Darcy problems with piecewise-constant permeability (the FNO recipe, on CPU).

    ``a = high`` where a Neumann GRF (α, τ) is ≥ 0, else ``low``; ``f ≡ forcing``; returns ``a``
    and ``u`` as (N, s, s) float64 tensors on the node grid ``i/(s−1)``.
    """
    n_samples = check_positive_int(n_samples, "n_samples")
    s = check_positive_int(resolution, "resolution")
    for value, name in ((alpha, "alpha"), (tau, "tau"), (high, "high"), (low, "low")):
        check_positive_float(value, name)
    field = neumann_grf_2d(n_samples, s, alpha, tau, generator=torch.Generator().manual_seed(seed))
    a = torch.where(field >= 0, torch.tensor(high, dtype=field.dtype), torch.tensor(low, dtype=field.dtype))
    u = torch.stack([torch.from_numpy(solve_darcy(a[i].numpy(), forcing))
                     for i in progress(range(n_samples), desc="Darcy", verbose=verbose)])
    return {"a": a, "u": u}
