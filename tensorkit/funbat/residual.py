"""FunBaT's residual term: a GP on the grid of unique training coordinates, fitted to what the low-rank mean misses.

The model is ``y = f_lowrank(x) + g(x) + ε``. After the low-rank fit, ``g`` (a sum of a short- and a
long-range separable kernel, see :class:`tensorkit.gp.grid.GridGP`) is learned from the training
residuals on the grid ``x_1 × … × x_K`` of the unique training coordinates, observed at the
training cells. This is exact GP inference when the data lie on a grid (gridded fields with gaps);
for scattered coordinates that grid is mostly empty, and the residual is switched off with a warning.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import torch

from tensorkit.gp.grid import GridGP, GridKernel

__all__ = ["MAX_GRID_CELLS", "ResidualField", "fit_residual", "grid_layout"]

#: largest grid (training or prediction) the residual GP works on
MAX_GRID_CELLS = 2_000_000
#: the training grid may be at most this many times larger than the number of observations
MAX_EMPTY_RATIO = 10


def grid_layout(X: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor] | str:
    """The unique coordinates per mode and each point's flat cell, or why the points are not a grid."""
    grids, cells = [], torch.zeros(X.shape[0], dtype=torch.long, device=X.device)
    for k in range(X.shape[1]):
        grid, index = torch.unique(X[:, k], return_inverse=True)
        grids.append(grid)
        cells = cells * grid.numel() + index
    size = math.prod(g.numel() for g in grids)
    if size > MAX_GRID_CELLS:
        return f"the grid of unique coordinates has {size:,} cells (more than {MAX_GRID_CELLS:,})"
    if size > MAX_EMPTY_RATIO * X.shape[0]:
        return f"the points fill only {X.shape[0] / size:.1%} of the grid of their unique coordinates"
    if torch.unique(cells).numel() != X.shape[0]:
        return "some grid cells are observed more than once"
    return grids, cells


class ResidualField:
    """The fitted residual GP, predicting at points of (a refinement of) the training grid.

    Build one with :meth:`fit`, or from :meth:`to_arrays` output with :meth:`from_arrays`.

    Parameters
    ----------
    gp : GridGP
        A grid GP whose kernel is learned (``gp.kernel`` set).
    block_scale, block_variance : float
        At locations of modes 2..K never observed at any index of mode 1, the predictive variance ``v``
        becomes ``block_scale · v + block_variance`` (see :mod:`tensorkit.funbat.gap_calibration`).
    """

    def __init__(self, gp: GridGP, block_scale: float = 1.0, block_variance: float = 0.0) -> None:
        if gp.kernel is None:
            raise ValueError("gp must be fitted (its kernel learned) first")
        self.gp = gp
        self.block_scale = block_scale
        self.block_variance = block_variance

    @property
    def kernel(self) -> GridKernel:
        """The learned hyper-parameters."""
        return self.gp.kernel

    @classmethod
    def fit(cls, grids: list[torch.Tensor], cells: torch.Tensor, residuals: torch.Tensor, kinds: Sequence[str],
            periods: Sequence[float | None], n_samples: int = 64, seed: int = 0) -> ResidualField:
        """Learn the residual GP.

        Parameters
        ----------
        grids : list of (n_k,) tensors
            Unique training coordinates per mode (rescaled units).
        cells : (N,) long tensor
            Flat C-order cell of each training point.
        residuals : (N,) tensor
        kinds, periods
            Kernel family and period (rescaled units) per mode.
        n_samples, seed
            Pathwise samples for the variance, and their seed.
        """
        shape = tuple(g.numel() for g in grids)
        observed = torch.zeros(math.prod(shape), dtype=torch.bool, device=residuals.device)
        observed[cells] = True
        order = torch.argsort(cells)
        gp = GridGP(grids, observed.reshape(shape), residuals[order], kinds, periods, n_samples=n_samples, seed=seed)
        gp.fit()
        return cls(gp)

    def to_arrays(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        """Everything :meth:`predict` depends on: tensors, and a JSON-able dict of the rest.

        The pathwise variance draws its prior samples from ``seed`` afresh at every prediction grid,
        so the seed (not the samples) makes a restored field predict bit-for-bit the same.
        """
        gp, kernel = self.gp, self.kernel
        arrays = {f"grid.{k}": g for k, g in enumerate(gp.grids)}
        arrays |= {"observed": gp.observed, "values": gp.values, "short": kernel.short, "long": kernel.long,
                   "weights": kernel.weights, "outputscale": kernel.outputscale, "noise": kernel.noise}
        return arrays, {"kinds": list(gp.kinds), "periods": list(gp.periods), "n_samples": gp.n_samples, "seed": gp.seed,
                        "block_scale": self.block_scale, "block_variance": self.block_variance}

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, torch.Tensor], state: Mapping[str, Any]) -> ResidualField:
        """The field :meth:`to_arrays` described."""
        kinds, periods = list(state["kinds"]), list(state["periods"])
        grids = [arrays[f"grid.{k}"] for k in range(len(kinds))]
        gp = GridGP(grids, arrays["observed"], arrays["values"], kinds, periods, n_samples=int(state["n_samples"]),
                    seed=int(state["seed"]))
        gp.kernel = GridKernel(arrays["short"], arrays["long"], arrays["weights"], arrays["outputscale"], arrays["noise"],
                               kinds, periods)
        # files written before the gap calibration have neither
        return cls(gp, float(state.get("block_scale", 1.0)), float(state.get("block_variance", 0.0)))

    def predict(self, X: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Posterior mean and variance of ``g`` at the rows of ``X`` (rescaled coordinates)."""
        grids, positions = [], []
        for k, train in enumerate(self.gp.grids):
            grid, index = torch.unique(torch.cat([train, X[:, k]]), return_inverse=True)
            grids.append(grid)
            positions.append(index[train.numel():])
        size = math.prod(g.numel() for g in grids)
        if size > MAX_GRID_CELLS:
            raise ValueError(f"predicting the residual GP needs a grid of {size:,} cells (more than {MAX_GRID_CELLS:,}): "
                             "predict at fewer new coordinates per call, or fit with residual=None")
        mean, variance = self.gp.posterior(grids)
        return mean[tuple(positions)], variance[tuple(positions)]

    def calibrate(self, X: torch.Tensor, variance: torch.Tensor) -> torch.Tensor:
        """``variance`` at the rows of ``X`` (rescaled coordinates), with the gap model applied where the
        location of modes 2..K was never observed (a coordinate off the training grid counts as never observed)."""
        if X.shape[1] < 2 or (self.block_scale, self.block_variance) == (1.0, 0.0):
            return variance
        seen = self.gp.observed.reshape(self.gp.observed.shape[0], -1).any(0)
        flat = torch.zeros(X.shape[0], dtype=torch.long, device=X.device)
        on_grid = torch.ones(X.shape[0], dtype=torch.bool, device=X.device)
        for grid, column in zip(self.gp.grids[1:], X[:, 1:].T):
            position = torch.searchsorted(grid, column.contiguous()).clamp_max(grid.numel() - 1)
            on_grid &= grid[position] == column
            flat = flat * grid.numel() + position
        return torch.where(on_grid & seen[flat], variance, self.block_scale * variance + self.block_variance)

    def describe(self, scales: Sequence[float], value_scale: float) -> dict[str, Any]:
        """Hyper-parameters, lengthscales in rescaled and in user units, variances in value units²."""
        kernel = self.kernel
        scale = torch.as_tensor(list(scales), dtype=kernel.short.dtype)
        short, long = kernel.short.cpu(), kernel.long.cpu()
        return {
            "kernels": list(kernel.kinds),
            "lengthscales_short": short.tolist(),
            "lengthscales_long": long.tolist(),
            "lengthscales_short_user_units": (short * scale).tolist(),
            "lengthscales_long_user_units": (long * scale).tolist(),
            "short_weights": kernel.weights.cpu().tolist(),
            "outputscale": float(kernel.outputscale) * value_scale**2,
            "noise_variance": float(kernel.noise) * value_scale**2,
            "gap_variance_scale": self.block_scale,
            "gap_added_variance": self.block_variance * value_scale**2,
        }


def fit_residual(Xs: torch.Tensor, residuals: torch.Tensor, kinds: Sequence[str], periods: Sequence[float | None],
                 n_samples: int, seed: int) -> ResidualField | None:
    """The residual GP on the grid of the points' unique coordinates, or None (with a warning) when they are not a grid."""
    layout = grid_layout(Xs)
    if isinstance(layout, str):
        warnings.warn(f"residual='gp' is switched off: {layout}; the fit is the low-rank model alone "
                      "(pass residual=None to silence this warning)", UserWarning, stacklevel=3)
        return None
    grids, cells = layout
    return ResidualField.fit(grids, cells, residuals, kinds, periods, n_samples, seed)
