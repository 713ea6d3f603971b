"""The Chebyshev–Tucker estimator: Chebyshev interpolation, then Tucker truncation of the coefficients."""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from tensorkit._estimator import Regressor, check_fitted, like_input, read_estimator, write_estimator
from tensorkit._validation import as_tensor, check_choice, check_positive_float, check_positive_int, check_rank
from tensorkit.chebyshev.basis import ChebyshevBasis
from tensorkit.chebyshev.function import ChebTuckerFunction
from tensorkit.chebyshev.io import function_arrays, function_from_arrays
from tensorkit.chebyshev.points import check_domain
from tensorkit.chebyshev.sources import CPSource, FunctionSource, GridSource, relative_tails, uniform_grid
from tensorkit.core import CPTensor, DenseTensor
from tensorkit.core.truncation import hooi_sweep, truncate

__all__ = ["ChebTucker"]

_FIRST_ADAPTIVE_POINTS = 17


class ChebTucker(Regressor):
    """Mesh-free Chebyshev–Tucker approximation of a multivariate function (Benner et al., 2025).

    Level 1 interpolates on a tensor grid of Chebyshev points (coefficients by DCT); level 2 truncates
    the coefficient tensor ``C`` to Tucker format. The result is a Tucker format in function space:
    evaluable anywhere, integrable and differentiable in closed form.

    A scikit-learn estimator for its parameters (``get_params``, ``set_params``, ``clone``); ``fit``
    takes a function or a grid rather than ``(X, y)``, ``predict(X)`` evaluates at ``N×d`` points and
    ``score`` is R² there. :meth:`save` / :meth:`load` persist a fitted model without pickle.

    Parameters
    ----------
    degree : None, int or tuple of int
        Polynomial degree per mode (``degree + 1`` Chebyshev points). ``None`` chooses it adaptively:
        the number of points is doubled (17, 33, 65, …) per mode until the trailing eighth of that
        mode's coefficients has relative Frobenius norm ``≤ tol/√d``.
    tol : float
        Relative Frobenius tolerance on the coefficient tensor: ranks are the smallest with
        ``‖C − C_r‖_F ≤ tol‖C‖_F`` (HOSVD bound). Frobenius on coefficients approximates the
        Chebyshev-weighted L² norm; it is not a max-norm guarantee (in practice the max error is
        about ``tol·max|f|``).
    rank : None, int or tuple of int
        Fixed Tucker ranks, overriding ``tol`` for the truncation.
    domain : None, (a, b) or sequence of (a, b)
        The box. ``None``: ``[-1, 1]^3`` for a function, ``[-1, 1]^d`` for a tensor, the coordinate
        range for an ``xarray.DataArray`` (a datetime coordinate counts days since its first time).
    kind : {1, 2}
        Chebyshev points of the 1st (Gauss) or 2nd (Lobatto) kind.
    hooi_iters : int
        HOOI (Tucker-ALS) sweeps at the selected ranks after the HOSVD.
    truncation : {"hosvd", "rhosvd"}
        ``"hosvd"``: the relative rule above for every input (exact modal singular values for CP input).
        ``"rhosvd"`` (CP input only): the reference code's rule, an absolute tail ``tol/d`` on the SVD of
        each unweighted coefficient factor; kept to reproduce the published tables.
    max_degree : int
        Largest degree adaptive selection may reach (a warning is issued if it is not enough).
    dtype, device
        Precision and device of the fitted model (float64 by default; the device follows tensor inputs).

    Attributes
    ----------
    core_, bases_ : the Tucker core and one :class:`ChebyshevBasis` per mode.
    function_ : :class:`ChebTuckerFunction` (a :class:`tensorkit.core.FunctionalTucker`).
    ranks_, degree_ : tuples. singular_values_ : modal singular values of ``C`` per mode.
    dims_, coords_ : after a fit on a DataArray, its dimension names and coordinates (else None).
    interpolation_error_, truncation_error_, error_estimate_ : relative Frobenius error estimates on the
        coefficients: the largest per-mode trailing-coefficient norm, the truncation error (HOSVD bound
        from the discarded singular values; for ``"rhosvd"`` the exact ``(‖C‖²−‖G‖²)^{1/2}/‖C‖``, reliable
        above ~1e-8), and their sum.
    """

    _per_mode_attribute = "degree_"

    def __init__(self, degree: None | int | Sequence[int] = None, tol: float = 1e-7,
                 rank: None | int | Sequence[int] = None, domain: Any = None, kind: int = 2, hooi_iters: int = 0,
                 truncation: str = "hosvd", max_degree: int = 256, dtype: torch.dtype = torch.float64,
                 device: Any = None) -> None:
        self.degree = degree
        self.tol = tol
        self.rank = rank
        self.domain = domain
        self.kind = kind
        self.hooi_iters = hooi_iters
        self.truncation = truncation
        self.max_degree = max_degree
        self.dtype = dtype
        self.device = device
        self._check_params()

    def _check_params(self) -> None:
        """Validate the parameters (by ``__init__``, and by ``fit`` again after ``set_params``)."""
        if self.degree is not None:
            for k, p in enumerate([self.degree] if isinstance(self.degree, int) else self.degree):
                check_positive_int(p, f"degree[{k}]")
        check_positive_float(self.tol, "tol")
        if self.rank is not None and not isinstance(self.rank, (int, Sequence)):
            raise TypeError(f"rank must be None, an int or a sequence of ints, got {self.rank!r}")
        check_choice(self.kind, "kind", (1, 2))
        if self.hooi_iters != 0:
            check_positive_int(self.hooi_iters, "hooi_iters")
        check_choice(self.truncation, "truncation", ("hosvd", "rhosvd"))
        check_positive_int(self.max_degree, "max_degree")
        if self.dtype not in (torch.float32, torch.float64):
            raise ValueError(f"dtype must be torch.float32 or torch.float64, got {self.dtype}")

    # ------------------------------------------------------------------ fitting
    def fit(self, f: Any, grid: Any = "cell") -> ChebTucker:
        """Fit to ``f``: a vectorised callable ``f(x, y, z)``, a dense grid tensor (array or
        ``xarray.DataArray``), or a CP tensor (``tensorkit.core.CPTensor``, tensorly ``CPTensor`` or a
        ``(weights, factors)`` pair) on a grid.

        ``grid`` describes where tensor values live when no coordinates come with them: ``"cell"``
        (uniform cell centres, the reference data's layout), ``"vertex"`` (uniform incl. both ends) or
        a list of 1-D coordinate arrays, one per mode.
        """
        self._check_params()
        if _is_dataarray(f):
            self.dims_ = tuple(map(str, f.dims))
            self.coords_ = {str(d): np.asarray(f[d].values) if d in f.coords else np.arange(f.sizes[d], dtype=float)
                            for d in f.dims}
        else:
            self.dims_, self.coords_ = None, None
        source = self._source(f, grid)
        d = source.ndim
        n_points, coeffs, tails = self._resolve_degree(source, d)
        ranks = None if self.rank is None else check_rank(self.rank, n_points, "rank")
        if isinstance(coeffs, torch.Tensor):
            if self.truncation == "rhosvd":
                raise ValueError("truncation='rhosvd' applies to CP input only; use 'hosvd'")
            tensor = DenseTensor(coeffs)
        else:
            tensor = CPTensor(*coeffs)
        cut = truncate(tensor, rank=ranks, tol=self.tol if ranks is None else None, rule=self.truncation)
        tucker = cut.tucker
        for _ in range(self.hooi_iters):
            tucker = hooi_sweep(tensor, tucker.factors)
        core, factors = tucker.core, tucker.factors
        if not math.isfinite(max(tails) + cut.relative_error_bound):
            raise ValueError(f"f's values are too large: their Chebyshev coefficients overflow float64 (error estimate "
                             f"{max(tails) + cut.relative_error_bound}); fit f divided by its magnitude and scale the model back")
        function = ChebTuckerFunction(core, [ChebyshevBasis(u, dom) for u, dom in zip(factors, source.domains)])
        return self._set_fitted(function, cut.singular_values, max(tails), cut.relative_error_bound,
                                getattr(source, "n_evaluations", 0))

    def _set_fitted(self, function: ChebTuckerFunction, singular_values: list[torch.Tensor],
                    interpolation_error: float, truncation_error: float, n_evaluations: int) -> ChebTucker:
        self.function_, self.core_, self.bases_ = function, function.core, list(function.bases)
        self.domain_ = function.domain
        self.degree_ = tuple(b.n_coeffs - 1 for b in function.bases)
        self.ranks_ = tuple(int(r) for r in function.core.shape)
        self.singular_values_ = singular_values
        self.interpolation_error_ = interpolation_error
        self.truncation_error_ = truncation_error
        self.error_estimate_ = interpolation_error + truncation_error
        self.n_evaluations_ = n_evaluations
        return self

    def _resolve_degree(self, source: Any, d: int) -> tuple[list[int], Any, list[float]]:
        if self.degree is not None:
            degrees = [self.degree] * d if isinstance(self.degree, int) else list(self.degree)
            if len(degrees) != d:
                raise ValueError(f"degree must have one entry per mode ({d}), got {len(degrees)}")
            n_points = [int(p) + 1 for p in degrees]
            coeffs = source.coefficients(n_points)
            return n_points, coeffs, relative_tails(coeffs)
        n_points, cap = [_FIRST_ADAPTIVE_POINTS] * d, self.max_degree + 1
        target = self.tol / math.sqrt(d)
        while True:
            coeffs = source.coefficients(n_points)
            tails = relative_tails(coeffs)
            grow = [t > target and m < cap for t, m in zip(tails, n_points)]
            if not any(grow):
                if any(t > target for t in tails):
                    warnings.warn(f"degree capped at max_degree={self.max_degree}; trailing coefficients "
                                  f"{max(tails):.1e} > tol", RuntimeWarning, stacklevel=3)
                return n_points, coeffs, tails
            n_points = [min(2 * m - 1, cap) if g else m for m, g in zip(n_points, grow)]

    def _domains(self, d: int, default: Sequence[tuple[float, float]] | None = None) -> list[tuple[float, float]]:
        if self.domain is None:
            return list(default) if default is not None else [(-1.0, 1.0)] * d
        dom = self.domain
        if _is_pair(dom):
            return [check_domain(dom)] * d
        if len(dom) != d:
            raise ValueError(f"domain must be one (a, b) pair or one per mode ({d}), got {len(dom)}")
        return [check_domain(p, f"domain[{k}]") for k, p in enumerate(dom)]

    def _source(self, f: Any, grid: Any) -> Any:
        if _is_dataarray(f):
            coords = [_numeric(c, _origin(c), d) for d, c in self.coords_.items()]
            values = as_tensor(np.asarray(f.values), "f").numpy().astype(float)
            for axis, (dim, c) in enumerate(zip(self.coords_, coords)):  # the spline needs increasing coordinates
                if descending(c, f"f: dimension {dim!r}"):
                    coords[axis], values = c[::-1], np.flip(values, axis)
            domains = self._domains(values.ndim, [(c.min(), c.max()) for c in coords])
            return GridSource(values, coords, domains, self.kind, self.dtype, self.device)
        if (hasattr(f, "weights") and hasattr(f, "factors")) or (isinstance(f, tuple) and len(f) == 2):
            weights, factors = (f.weights, f.factors) if hasattr(f, "factors") else f
            factors = [as_tensor(u, f"factors[{k}]", ndim=2) for k, u in enumerate(factors)]
            device = self.device if self.device is not None else factors[0].device
            weights = as_tensor(weights, "weights", dtype=self.dtype, device=device, ndim=1)
            for k, u in enumerate(factors):
                if u.shape[1] != weights.shape[0]:
                    raise ValueError(f"factors[{k}] has {u.shape[1]} columns, weights has {weights.shape[0]}")
            numpy_factors = [u.detach().cpu().double().numpy() for u in factors]
            domains = self._domains(len(factors))
            coords = self._coords(grid, [u.shape[0] for u in numpy_factors], domains)
            return CPSource(weights, numpy_factors, coords, domains, self.kind)
        if callable(f):
            d = len(self.domain) if self.domain is not None and not _is_pair(self.domain) else 3
            return FunctionSource(f, self._domains(d), self.kind, self.dtype, self.device)
        values = as_tensor(f, "f")
        device = self.device if self.device is not None else values.device
        domains = self._domains(values.ndim)
        coords = self._coords(grid, list(values.shape), domains)
        return GridSource(values.detach().cpu().double().numpy(), coords, domains, self.kind, self.dtype, device)

    @staticmethod
    def _coords(grid: Any, sizes: list[int], domains: list[tuple[float, float]]) -> list[np.ndarray]:
        if isinstance(grid, str):
            return [uniform_grid(n, dom, grid) for n, dom in zip(sizes, domains)]
        if len(grid) != len(sizes):
            raise ValueError(f"grid must have one coordinate array per mode ({len(sizes)}), got {len(grid)}")
        coords = [np.asarray(g, dtype=float) for g in grid]
        for k, (c, n) in enumerate(zip(coords, sizes)):
            if c.shape != (n,) or not np.all(np.diff(c) > 0):
                raise ValueError(f"grid[{k}] must be {n} strictly increasing coordinates")
        return coords

    # ------------------------------------------------------------------ fitted model
    def _fitted(self) -> ChebTuckerFunction:
        check_fitted(self, "function_")
        return self.function_

    def __call__(self, points: Any) -> torch.Tensor:
        """Values at an ``N×d`` tensor of coordinates (batched; no grid is formed)."""
        return self._fitted()(points)

    def predict(self, X: Any) -> Any:
        """Values at ``N×d`` coordinates ``X``: a tensor for a tensor, else a NumPy array.

        Datetime coordinates of a DataArray fit are given as days since the first fitted time. For a
        DataArray ``X`` (after a DataArray fit; its values are not used), a DataArray on its grid:
        its dims, order and coordinates, its name and attributes.
        """
        if _is_dataarray(X):
            if self.dims_ is None or sorted(map(str, X.dims)) != sorted(self.dims_):
                raise ValueError(f"X must be a DataArray with the fitted dims {self.dims_}, got {X.dims}")
            out = self.to_dataarray(name=X.name, **{d: X[d].values for d in X.dims if d in X.coords})
            return out.transpose(*X.dims).assign_coords(X.coords).assign_attrs(X.attrs)
        return like_input(self(X), X)

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | os.PathLike) -> None:
        """Write the fitted model to ``path`` (an ``.npz`` archive without pickles), atomically.

        :meth:`load` reads it back with the same parameters, dimensions, coordinates and bit-for-bit
        the same values.
        """
        arrays = function_arrays(self._fitted())
        arrays |= {f"singular_values_{k}": s for k, s in enumerate(self.singular_values_)}
        if self.dims_ is not None:
            arrays |= {f"coordinate_{k}": c for k, c in enumerate(self.coords_.values())}
        state = {"dims_": self.dims_, "interpolation_error_": self.interpolation_error_,
                 "truncation_error_": self.truncation_error_, "n_evaluations_": self.n_evaluations_}
        write_estimator(path, self, arrays, state)

    @classmethod
    def load(cls, path: str | os.PathLike) -> ChebTucker:
        """Read a model written by :meth:`save` (on the CPU). Files holding pickled data are refused."""
        params, arrays, state = read_estimator(path, cls)
        model = cls(**params)
        function = function_from_arrays(arrays)
        dims = state["dims_"]
        model.dims_ = None if dims is None else tuple(dims)
        model.coords_ = None if dims is None else {d: arrays[f"coordinate_{k}"] for k, d in enumerate(dims)}
        singular_values = [torch.from_numpy(arrays[f"singular_values_{k}"]) for k in range(function.ndim)]
        return model._set_fitted(function, singular_values, state["interpolation_error_"],
                                 state["truncation_error_"], state["n_evaluations_"])

    def integral(self) -> torch.Tensor:
        """Integral over the box."""
        return self._fitted().integral()

    def on_grid(self, grids: Sequence[Any]):
        """The tensor grid as a ``tensorkit.core.TuckerTensor`` (not expanded)."""
        return self._fitted().on_grid(grids)

    def to_dense(self, grids: Sequence[Any]) -> torch.Tensor:
        """Dense values on a tensor grid."""
        return self._fitted().to_dense(grids)

    def diff(self, mode: int, order: int = 1) -> ChebTuckerFunction:
        """Partial derivative along ``mode``."""
        return self._fitted().diff(mode, order)

    def laplacian(self, tol: float = 1e-12) -> ChebTuckerFunction:
        """Laplacian, recompressed."""
        return self._fitted().laplacian(tol)

    def hosvd(self):
        """Continuous HOSVD: modal singular values and L²-orthonormal factors (see ChebTuckerFunction)."""
        return self._fitted().hosvd()

    def to_dataarray(self, name: str | None = None, **coords: Any):
        """Sample on the tensor grid of named coordinates and return an ``xarray.DataArray``.

        After a fit on a DataArray, the keywords are its dimension names, in any order; a dimension left
        out keeps the fitted coordinates, a datetime dimension takes datetimes, and the result has the
        fitted dimension order. Otherwise give one keyword per mode, in mode order.
        """
        import xarray as xr

        function = self._fitted()
        if self.dims_ is None:
            return function.to_dataarray(name=name, **coords)
        unknown = sorted(set(coords) - set(self.dims_))
        if unknown:
            raise ValueError(f"to_dataarray got dimensions {unknown}; the model was fitted on {self.dims_}")
        grid = {d: np.asarray(coords.get(d, fitted)) for d, fitted in self.coords_.items()}
        numeric = [torch.as_tensor(_numeric(v, _origin(self.coords_[d]), d), dtype=function.core.dtype,
                                   device=function.core.device) for d, v in grid.items()]
        values = function.to_dense(numeric).cpu().numpy()
        return xr.DataArray(values, coords=grid, dims=self.dims_, name=name, attrs={"ranks": list(self.ranks_)})

    def __repr__(self) -> str:
        state = f", ranks_={self.ranks_}, degree_={self.degree_}" if hasattr(self, "ranks_") else ""
        return f"ChebTucker(degree={self.degree}, tol={self.tol}, rank={self.rank}{state})"


def _is_dataarray(f: Any) -> bool:
    return hasattr(f, "dims") and hasattr(f, "coords")


def descending(coordinate: np.ndarray, name: str) -> bool:
    """Whether a grid coordinate descends, after checking that samples can be placed on it.

    Parameters
    ----------
    coordinate : numpy.ndarray
        1-D real coordinate values.
    name : str
        What the coordinate is, for the message (``"f: dimension 'lat'"``).

    Raises
    ------
    ValueError
        If it has fewer than 2 points or is not strictly increasing or decreasing (duplicates, NaN).
    """
    if len(coordinate) < 2:
        raise ValueError(f"{name} has {len(coordinate)} point; at least 2 are needed")
    step = np.diff(coordinate)
    if np.all(step < 0):
        return True
    if not np.all(step > 0):
        raise ValueError(f"{name} must be strictly increasing or decreasing (no duplicates or NaN)")
    return False


def _origin(fitted: np.ndarray) -> np.datetime64 | None:
    """The first time of a fitted datetime coordinate (its zero in the model's units of days), else None."""
    return fitted.min() if np.issubdtype(fitted.dtype, np.datetime64) else None


def _numeric(values: np.ndarray, origin: np.datetime64 | None, name: str) -> np.ndarray:
    """Coordinates in the model's units: numbers as they are, datetimes as days since ``origin``."""
    if values.ndim != 1:
        raise ValueError(f"coordinate {name!r} must be 1-D, got shape {values.shape}")
    if origin is None:
        if not np.issubdtype(values.dtype, np.number):
            raise TypeError(f"coordinate {name!r} must be numeric, got dtype {values.dtype}")
        return values.astype(float)
    if not np.issubdtype(values.dtype, np.datetime64):
        raise TypeError(f"coordinate {name!r} must hold datetimes like the fitted one, got dtype {values.dtype}")
    return (values - origin) / np.timedelta64(1, "D")


def _is_pair(domain: Any) -> bool:
    """Whether ``domain`` is a single ``(a, b)`` pair of numbers (rather than one pair per mode)."""
    return isinstance(domain, Sequence) and len(domain) == 2 and all(
        isinstance(v, (int, float, np.number)) for v in domain)
