"""The FunBaT estimator: functional Bayesian Tucker (or CP) decomposition of scattered tensor data."""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from tensorkit._estimator import Regressor, check_fitted, like_input, read_estimator, write_estimator
from tensorkit._validation import as_tensor, check_choice, check_positive_float, check_positive_int, check_probability
from tensorkit.funbat.basis import GPBasis
from tensorkit.funbat.chains import ModeChain
from tensorkit.funbat.checkpoint import resume_fit, save_fit
from tensorkit.funbat.core_posterior import CorePosterior, core_posterior
from tensorkit.funbat.gap_calibration import block_variance_model
from tensorkit.funbat.hyper import select_lengthscales
from tensorkit.funbat.inference import ConditionalEP, EPSettings
from tensorkit.funbat.inputs import is_dataarray, training_data
from tensorkit.funbat.kernels import (check_kernels, mode_hyperparameters, mode_kernels, per_mode_floats, singular_hyperparameters,
                                      state_space_kernel)
from tensorkit.funbat.rank import resolve_ranks
from tensorkit.funbat.residual import fit_residual
from tensorkit.gp import Matern
from tensorkit.runtime import GracefulInterrupt, data_fingerprint, milestone, progress, resolve_device

__all__ = ["AUTO_MAX_RANK", "CorePosterior", "FunBaT"]

#: largest per-mode rank ``rank="auto"`` considers: with the residual GP the low-rank part needs only
#: the large scales (on the built-in field, (8, 8, 8) was no more accurate than (3, 3, 3) once the
#: residual was added, and took 14× its fit time when a Tucker epoch still cost O(N r^(2K)); it now
#: costs O(N r^(2K-2) + Σ_k n_k r^(2K)), see :mod:`tensorkit.funbat.contraction`)
AUTO_MAX_RANK = 5


class FunBaT(Regressor):
    """Functional Bayesian Tucker decomposition with state-space GP factor priors (Fang et al., ICLR 2024).

    ``f(x_1, …, x_K) = Σ W[i_1…i_K] Π_k u^k_{i_k}(x_k)``, each ``u^k_i ~ GP(0, Matérn)``, a Gaussian core
    ``vec W ~ N(0, I)`` (``decomposition="cp"``: the super-diagonal core of ones), Gaussian noise with a
    Gamma prior on its precision. Inference is conditional EP with Kalman/RTS smoothing per mode.

    **Units.** With ``standardize=True`` (default) every mode is rescaled to ``[0, 1]`` by its training
    min and max, and the values are z-scored; ``lengthscale`` and ``variance`` are in those units
    (so the defaults work whatever the raw units: months, degrees, pascals). All outputs
    (predictions, core, factor functions' coordinates, noise precision) are in the user's units.

    Parameters
    ----------
    rank : "auto", int or sequence of int
        Rank per mode (CP: one rank). ``"auto"``: chosen on a held-out split of the training cells
        (:func:`tensorkit.funbat.rank.select_ranks`).
    kernel : str, gpytorch kernel, or sequence of them
        Prior of the factor functions (and of the residual GP along that mode): ``"matern12"``,
        ``"matern32"``, ``"matern52"``, or ``"periodic"`` for a mode that wraps (period = the span of
        its coordinates plus one median spacing, e.g. 360° for a global longitude grid) or
        ``"periodic:P"`` with the period ``P`` in the coordinate's units. One entry, or one per mode.
        Or a gpytorch ``MaternKernel``, maybe in a ``ScaleKernel`` (:mod:`tensorkit.funbat.gpytorch_kernels`).
    residual : {"gp", None}
        ``"gp"``: add a residual GP ``g`` on the grid of unique training coordinates,
        ``y = f_lowrank + g + ε`` (see :mod:`tensorkit.funbat.residual`): it restores local detail the
        low rank misses and widens the intervals inside gaps. Switched off, with a warning, when the
        coordinates are not (mostly) a grid.
    n_samples : int
        Pathwise samples for the residual GP's variance (relative standard error ``√(2/S)``).
    lengthscale : "auto", float or sequence of float
        Per-mode ℓ in rescaled units. ``"auto"``: chosen per mode by maximising the Kalman evidence of
        that mode's merged pseudo-observations over a log grid, re-selected while EP runs. (A gpytorch
        kernel's mode uses its own lengthscale, and a ``ScaleKernel``'s outputscale as ``variance``.)
    variance : float or sequence of float
        Per-mode prior variance σ² of the functions.
    decomposition : {"tucker", "cp"}
    n_epochs : int
        Maximum number of EP epochs (per phase, see ``init``).
    damping, damping_core, damping_noise : float in [0, 1)
        Message damping (weight of the old message sums) for factors, core, noise precision.
    tol : float
        Stop when the relative change of the training predictions falls below ``tol``.
    init : {"cp", "random"}
        Tucker only: warm start from a converged FunBaT-CP of rank ``min(rank)`` (default), or a cold
        uniform(0, 1) start (collapse-prone, kept for comparison).
    warm_start_epochs : int, optional
        Maximum CP epochs of the warm start (default ``n_epochs``).
    schedule : {"inner", "jacobi"}
        Update modes one after the other with fresh posteriors, or all from the same state.
    noise_prior : (float, float)
        Gamma(a0, b0) prior of the noise precision (standardised units).
    standardize : bool
    parity_mode : bool
        Reproduce the reference code's model choices (see :class:`EPSettings`).
    smoother : {"auto", "parallel", "sequential"}
        Kalman filter/RTS smoother as parallel associative scans or classical recursions; ``"auto"``
        picks per chain (:func:`tensorkit.gp.smooth`: the recursions on a CPU for large states, e.g.
        CP rank ≥ 12 with Matérn-3/2). The posterior is the same up to round-off.
    checkpoint : path, optional
        On SIGTERM/SIGUSR1/SIGINT the fit stops after the current epoch and writes its state here
        (atomically), as does a completed EP; a later ``fit`` on the same data and settings resumes
        from it bit-for-bit, or skips EP. The file stays until the caller removes it (``tensorkit
        funbat`` does once its output is written); one of other data or settings is a ``ValueError``.
    seed : int
    device : str or torch.device, optional
        Where to fit (``"auto"``: CUDA when available). Default: the device of the inputs.
    verbose : bool, optional
        As DAIN's: ``None``: a progress bar on a terminal, else log lines on the ``"tensorkit"`` logger,
        plus one line at the start and one per EP phase with its last relative change; ``False``: silent.

    Attributes
    ----------
    rank_ : tuple of int
        The ranks used.
    dims_ : tuple of str
        Dimension names of a DataArray fit (else ``dim_0``, ``dim_1``, …).
    time_encoding_ : dict
        Per dim, how dates map to the model's numbers (days since the first fitted time; empty for
        numeric coordinates).
    kernels_ : list of str
        Per-mode kernel as used, a bare ``"periodic"`` resolved to ``"periodic:<period>"`` (user units).
    residual_ : dict or None
        The residual GP's learned hyper-parameters (lengthscales in rescaled and user units, variances
        in value units²), and the gap variance model (``gap_variance_scale``, ``gap_added_variance``:
        at locations of modes 2..K never observed, the predictive variance ``v`` becomes
        ``scale · v + added``; see :mod:`tensorkit.funbat.gap_calibration`), or None.
    bases_ : list of GPBasis
        Per mode, the posterior of its functions at any raw coordinate (``__call__``: mean;
        ``moments``: mean and covariance; ``std``).
    core_ : CorePosterior
        Core posterior mean and covariance in value units (CP: the mean is a :class:`~tensorkit.core.CPTensor`).
    noise_precision_ : float
        ``E[τ]`` in value units.
    lengthscales_ : list of float
        The lengthscales used at the end (rescaled units); ``lengthscales_user_`` in the coordinates'
        units (days for a time), as a gpytorch kernel's lengthscale.
    history_ : list of float
        Relative change of the training predictions per epoch.
    n_epochs_run_, converged_, collapsed_, interrupted_
        Epochs run (all phases), whether ``tol`` was reached, whether the fit collapsed to the zero
        predictor (a warning is raised), whether a SIGTERM/SIGUSR1 stopped it.
    coordinate_shift_, coordinate_scale_, value_offset_, value_scale_
        The internal standardisation: ``x_rescaled = (x - shift) / scale``, ``y = offset + scale · f``.

    Notes
    -----
    Hyper-parameters: ``lengthscale="auto"`` is learned (evidence maximisation per mode, see
    :mod:`tensorkit.funbat.hyper`); ``variance=1`` is a fixed default that matches the z-scored values
    (the core and the other modes absorb any scale). Tucker fits start from a converged FunBaT-CP,
    which avoids the zero-predictor collapse of cold starts (``collapsed_`` flags it if it happens).
    """

    _per_mode_attribute = "dims_"

    def __init__(
        self,
        rank: str | int | Sequence[int] = "auto",
        kernel: str | Sequence[str] = "matern32",
        residual: str | None = "gp",
        n_samples: int = 64,
        lengthscale: str | float | Sequence[float] = "auto",
        variance: float | Sequence[float] = 1.0,
        decomposition: str = "tucker",
        n_epochs: int = 200,
        damping: float = 0.3,
        damping_core: float = 0.5,
        damping_noise: float = 0.5,
        tol: float = 1e-4,
        init: str = "cp",
        warm_start_epochs: int | None = None,
        schedule: str = "inner",
        noise_prior: tuple[float, float] = (1.0, 1.0),
        standardize: bool = True,
        parity_mode: bool = False,
        smoother: str = "auto",
        checkpoint: str | os.PathLike | None = None,
        seed: int = 0,
        device: str | torch.device | None = None,
        verbose: bool | None = None,
    ) -> None:
        if isinstance(rank, str):
            check_choice(rank, "rank", ("auto",))
        elif isinstance(rank, (int, float, np.integer, np.floating)):
            check_positive_int(rank, "rank")
        else:
            for k, r in enumerate(rank):
                check_positive_int(r, f"rank[{k}]")
        self.rank = rank
        check_kernels(kernel)
        self.kernel = kernel
        self.residual = check_choice(residual, "residual", ("gp", None))
        self.n_samples = check_positive_int(n_samples, "n_samples")
        if isinstance(lengthscale, str):
            check_choice(lengthscale, "lengthscale", ("auto",))
        else:
            per_mode_floats(lengthscale, "lengthscale")
        self.lengthscale = lengthscale
        per_mode_floats(variance, "variance")
        self.variance = variance
        self.decomposition = check_choice(decomposition, "decomposition", ("tucker", "cp"))
        if decomposition == "cp" and not isinstance(rank, (int, str)) and len(set(rank)) > 1:
            raise ValueError(f"rank must be one number for decomposition='cp', got {tuple(rank)}")
        self.n_epochs = check_positive_int(n_epochs, "n_epochs")
        for name, value in [("damping", damping), ("damping_core", damping_core), ("damping_noise", damping_noise)]:
            if check_probability(value, name) >= 1:
                raise ValueError(f"{name} must be < 1, got {value}")
        self.damping, self.damping_core, self.damping_noise = damping, damping_core, damping_noise
        self.tol = check_positive_float(tol, "tol", allow_zero=True)
        self.init = check_choice(init, "init", ("cp", "random"))
        self.warm_start_epochs = None if warm_start_epochs is None else check_positive_int(warm_start_epochs, "warm_start_epochs")
        self.schedule = check_choice(schedule, "schedule", ("inner", "jacobi"))
        if len(noise_prior) != 2:
            raise ValueError(f"noise_prior must be (a0, b0), got {noise_prior!r}")
        check_positive_float(noise_prior[0], "noise_prior[0]")
        check_positive_float(noise_prior[1], "noise_prior[1]")
        self.noise_prior = noise_prior
        self.standardize = standardize
        self.parity_mode = parity_mode
        self.smoother = check_choice(smoother, "smoother", ("auto", "parallel", "sequential"))
        self.checkpoint = checkpoint
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
            raise TypeError(f"seed must be an int, got {seed!r}")
        self.seed = seed
        self.device = device
        self.verbose = verbose

    # ------------------------------------------------------------------ fitting
    def fit(self, coords: Any, values: Any = None) -> FunBaT:
        """Fit to values at ``N×K`` real coordinates (rows with NaN values are ignored), or to a DataArray.

        Parameters
        ----------
        coords : (N, K) tensor or array, or xarray.DataArray
            Raw coordinates of the observations; a DataArray carries its own coordinates and values
            (NaN = not observed), and ``values`` must then be None.
        values : (N,) tensor or array

        Returns
        -------
        self
        """
        X, y, self.dims_, self.time_encoding_ = training_data(coords, values)
        if self.device is not None:
            device = resolve_device(self.device)
            X, y = X.to(device), y.to(device)
        K = X.shape[1]
        kinds, periods = mode_kernels(self.kernel, X)
        self.n_modes_ = K
        self.kernels_ = [kind if period is None else f"{kind}:{period!r}" for kind, period in zip(kinds, periods)]
        self.coordinate_shift_ = X.amin(0)
        span = X.amax(0) - self.coordinate_shift_
        self.coordinate_scale_ = torch.where(span > 0, span, torch.ones_like(span)) if self.standardize else torch.ones_like(span)
        if not self.standardize:
            self.coordinate_shift_ = torch.zeros_like(span)
        self.value_offset_ = float(y.mean()) if self.standardize else 0.0
        self.value_scale_ = float(y.std()) if self.standardize and y.numel() > 1 and float(y.std()) > 0 else 1.0
        Xs = (X - self.coordinate_shift_) / self.coordinate_scale_
        ys = (y - self.value_offset_) / self.value_scale_
        periods = [None if p is None else p / float(self.coordinate_scale_[k]) for k, p in enumerate(periods)]
        ranks = resolve_ranks(self.rank, Xs, ys, self.decomposition, AUTO_MAX_RANK, int(self.seed))
        self.rank_ = tuple(ranks)
        grids, indices = zip(*(torch.unique(Xs[:, k], return_inverse=True) for k in range(K)))
        lengthscales, variances, self._learned, self._log_priors = mode_hyperparameters(
            self.kernel, self.lengthscale, self.variance, grids, kinds, self.coordinate_scale_.tolist())
        self._auto = any(self._learned)
        self._generator = torch.Generator().manual_seed(int(self.seed))
        settings = self._ep_settings()
        warm = self.decomposition == "tucker" and self.init == "cp"
        first_ranks = [min(ranks)] * K if warm else ranks
        chains = [
            self._initial_chain(g, state_space_kernel(kind, period, ell, var), r)
            for g, kind, period, ell, var, r in zip(grids, kinds, periods, lengthscales, variances, first_ranks)
        ]
        ep = ConditionalEP(chains, list(indices), ys, settings)
        self.history_: list[float] = []
        self.n_epochs_run_ = 0
        self.converged_ = False
        if self.decomposition == "tucker" and not warm:
            ep.use_tucker_core(torch.rand(ranks, generator=self._generator, dtype=ys.dtype).to(ys.device))
        phases = [(self.warm_start_epochs or self.n_epochs, "FunBaT-CP"), (self.n_epochs, "FunBaT")] if warm else [
            (self.n_epochs, "FunBaT-CP" if self.decomposition == "cp" else "FunBaT")]
        self._fingerprint = data_fingerprint(X, y)
        phase, start = resume_fit(self, ep)
        milestone(self.verbose, "FunBaT: fitting a %s model of rank %s to %d values on a %s grid", self.decomposition,
                  tuple(ranks), len(ys), "×".join(str(g.numel()) for g in grids))
        with GracefulInterrupt() as stop, singular_hyperparameters(self.lengthscale, self.variance):
            for index in range(phase, len(phases)):
                if index == 1 and not (phase == 1 and start > 0):
                    self._expand_to_tucker(ep, ranks)
                self.converged_ = self._run(ep, phases[index], stop, index, start if index == phase else 0)
                milestone(self.verbose, "%s: %s after %d epochs in all (relative change %.2e)", phases[index][1],
                          "converged" if self.converged_ else "interrupted" if stop.requested else "reached n_epochs",
                          self.n_epochs_run_, self.history_[-1])
                if stop.requested:
                    break
            self.interrupted_ = stop.requested
        if self.checkpoint is not None and not self.interrupted_ and phase < len(phases):
            save_fit(self, ep, len(phases), 0)  # EP done: a rerun killed later (residual, output) skips it
        self._ep = ep
        self.lengthscales_ = [float(c.kernel.lengthscale) for c in ep.chains]
        extra = ep.extra_precision
        self.bases_ = [GPBasis(c, float(self.coordinate_shift_[k]), float(self.coordinate_scale_[k]), extra) for k, c in enumerate(ep.chains)]
        fitted = ep.train_mean()
        self.collapsed_ = bool((fitted**2).sum() < 0.01 * (ys**2).sum())
        if self.collapsed_:
            warnings.warn("FunBaT collapsed to the zero predictor (train predictions ≈ 0); use init='cp' or a larger variance",
                          RuntimeWarning, stacklevel=2)
        off = self.interrupted_ or self.residual is None
        self._residual = None if off else fit_residual(Xs, ys - fitted, kinds, periods, self.n_samples, int(self.seed))
        if self._residual is not None:
            gap_model = block_variance_model(self, X, y)
            self.interrupted_ = gap_model is None
            self._residual.block_scale, self._residual.block_variance = gap_model or (1.0, 0.0)
        self.residual_ = None if self._residual is None else self._residual.describe(self.coordinate_scale_.tolist(), self.value_scale_)
        return self

    def _ep_settings(self) -> EPSettings:
        return EPSettings(self.damping, self.damping_core, self.damping_noise, tuple(float(v) for v in self.noise_prior), 1.0,
                          self.schedule, bool(self.parity_mode))

    def _initial_chain(self, grid: torch.Tensor, kernel: Matern, rank: int) -> ModeChain:
        chain = ModeChain(grid, kernel, rank, self.smoother)
        chain.mean = torch.rand(grid.numel(), rank, generator=self._generator, dtype=grid.dtype).to(grid.device)
        return chain

    def _run(self, ep: ConditionalEP, phase_spec: tuple[int, str], stop: GracefulInterrupt, phase: int, start: int) -> bool:
        """EP epochs until the relative change of the training predictions is below ``tol``."""
        n_epochs, desc = phase_spec
        if start == 0:
            self._selections, self._next_selection = [], 3
        previous = ep.train_mean()
        for epoch in progress(range(start, n_epochs), total=n_epochs - start, desc=desc, verbose=self.verbose):
            ep.epoch()
            self.n_epochs_run_ += 1
            selections = self._selections
            if self._auto and epoch + 1 == self._next_selection and (len(selections) < 2 or selections[-1] != selections[-2]):
                selections.append(select_lengthscales(ep.chains, ep.extra_precision, self._learned, self._log_priors))
                self._next_selection *= 2
            current = ep.train_mean()
            change = float((current - previous).norm() / current.norm().clamp_min(1e-12))
            self.history_.append(change)
            previous = current
            if stop.requested:
                if self.checkpoint is not None:
                    save_fit(self, ep, phase, epoch + 1)
                return False
            if change < self.tol and epoch >= 2 and (not self._auto or epoch + 1 > self._next_selection // 2):
                return True
        return False

    def _expand_to_tucker(self, ep: ConditionalEP, ranks: list[int]) -> None:
        """Warm start: CP factors and messages fill the leading columns, the core starts super-diagonal.

        The extra columns start as random functions at the scale of the CP columns, and the core is
        updated once before any factor: with a zero core block and zero extra columns, every message to
        them is zero and the extra components would stay at zero for good.
        """
        R0 = ep.chains[0].rank
        for k, r in enumerate(ranks):
            old = ep.chains[k]
            if r == R0:
                continue
            new = self._initial_chain(old.grid, old.kernel, r)
            scale = old.mean.pow(2).mean().sqrt() / new.mean[:, R0:].pow(2).mean().sqrt().clamp_min(1e-12)
            new.mean = torch.cat([old.mean, scale * new.mean[:, R0:]], 1)
            new.cov[:, :R0, :R0] = old.cov
            new.info_matrix[:, :R0, :R0] = old.info_matrix
            new.info_vector[:, :R0] = old.info_vector
            ep.chains[k] = new
        ep._refresh_moments()
        core = ep.y.new_zeros(ranks)
        core[tuple(torch.arange(R0) for _ in ranks)] = 1.0
        ep.use_tucker_core(core)
        ep.update_core()

    # ------------------------------------------------------------------ results
    def _check_fitted(self) -> None:
        check_fitted(self, "bases_")

    def predict(self, coords: Any, return_std: bool = False, include_noise: bool = True) -> Any:
        """Predictive mean (and standard deviation) at ``N×K`` raw coordinates; a tensor for a tensor
        ``coords``, else NumPy arrays; for a DataArray, DataArrays on its grid (see :meth:`predict_grid`).

        With the residual GP, mean and variance are those of ``f_lowrank + g`` (the GP's variance,
        plus its noise variance with ``include_noise``). Without it, the standard deviation includes
        the factor posteriors, the core's posterior covariance and, with ``include_noise``, the
        expected noise variance ``E[1/τ] = b / (a - 1)``.
        """
        self._check_fitted()
        if is_dataarray(coords):
            return self.predict_grid(coords, return_std, include_noise)
        X = as_tensor(coords, "coords", dtype=self._ep.y.dtype, device=self._ep.y.device, ndim=2)
        if X.shape[1] != self.n_modes_:
            raise ValueError(f"coords must have {self.n_modes_} columns, got {X.shape[1]}")
        mean, var = self._moments(X, return_std, include_noise)
        out = like_input(self.value_offset_ + self.value_scale_ * mean, coords)
        return (out, like_input(self.value_scale_ * var.sqrt(), coords)) if return_std else out

    def predict_grid(self, da: Any, return_std: bool = False, include_noise: bool = True) -> Any:
        """Predictive mean (and std) as DataArrays on the grid of the DataArray ``da`` (see
        :func:`tensorkit.funbat.xarray_io.predict_on_grid`)."""
        from tensorkit.funbat.xarray_io import predict_on_grid

        self._check_fitted()
        return predict_on_grid(self, da, return_std, include_noise)

    def _moments(self, X: torch.Tensor, variance: bool, include_noise: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Standardised predictive mean and (if asked) variance at rows of ``X``."""
        means, seconds, indices = [], [], []
        for k, basis in enumerate(self.bases_):
            unique, inverse = torch.unique(X[:, k], return_inverse=True)
            m, V = basis.moments(unique)
            means.append(m)
            seconds.append(V + m[:, :, None] * m[:, None, :])
            indices.append(inverse)
        contraction = self._ep.contraction()
        mean = contraction.predict_mean(means, indices)
        if self._residual is not None:
            Xs = (X - self.coordinate_shift_) / self.coordinate_scale_
            g_mean, g_var = self._residual.predict(Xs)
            # The residual GP was fitted to what the low-rank mean misses, its estimation error included,
            # so its variance (plus its noise) is the predictive variance of f_lowrank + g, scaled where
            # a location was never observed (gap_calibration).
            var = g_var + float(self._residual.kernel.noise) if include_noise else g_var
            return mean + g_mean, self._residual.calibrate(Xs, var)
        if not variance:
            return mean, None
        var = (contraction.predict_second(seconds, indices) - mean**2).clamp_min(0)
        if include_noise:
            var = var + float(self._ep.noise_rate) / (self._ep.noise_shape - 1.0)
        return mean, var

    def __sklearn_tags__(self) -> Any:
        """scikit-learn's tags: ``poor_score``, as its check data (200 scattered points in 10 columns) is no low-rank field."""
        tags = super().__sklearn_tags__()
        tags.regressor_tags.poor_score = True
        return tags

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | os.PathLike) -> None:
        """Write the fitted model to ``path`` (an ``.npz`` archive without pickles), atomically.

        :meth:`load` gives bit-for-bit the same ``predict(X, return_std=True)`` on the same device type
        (the residual GP's pathwise variance is redrawn from the stored seed). The file holds the
        standardised training values, as the residual GP conditions on them. gpytorch kernel objects are
        stored as descriptions (ν, lengthscale, outputscale, the prior's class and parameters) and rebuilt.
        """
        from tensorkit.funbat.persistence import fitted_arrays, saved_params

        self._check_fitted()
        write_estimator(path, self, *fitted_arrays(self), params=saved_params(self))

    @classmethod
    def load(cls, path: str | os.PathLike) -> FunBaT:
        """Read a model written by :meth:`save` (on the CPU). Files holding pickled data are refused."""
        from tensorkit.funbat.persistence import rebuilt_params, restore_fitted

        params, arrays, state = read_estimator(path, cls)
        return restore_fitted(cls(**rebuilt_params(params)), arrays, state)

    @property
    def lengthscales_user_(self) -> list[float]:
        """The factor functions' lengthscales in the coordinates' units (periodic ones are dimensionless)."""
        self._check_fitted()
        return [ell if k.startswith("periodic") else ell * float(c) for ell, k, c in zip(self.lengthscales_, self.kernels_, self.coordinate_scale_)]

    @property
    def noise_precision_(self) -> float:
        """``E[τ]`` in the units of the values."""
        self._check_fitted()
        return self._ep.expected_precision / self.value_scale_**2

    @property
    def core_(self) -> CorePosterior:
        """Core posterior in the units of the values (CP: a CP tensor of equal weights, zero covariance)."""
        self._check_fitted()
        return core_posterior(self._ep, self.value_scale_)

    def to_functional(self) -> Any:
        """The low-rank posterior-mean model over GP-posterior bases: a :class:`tensorkit.core.FunctionalTucker`
        (Tucker fit) or :class:`tensorkit.core.FunctionalCP` (CP fit; no ``r^K`` core is formed).

        Its values equal ``predict``'s mean without the residual GP (all of it when ``residual=None``). A
        non-zero value offset (from standardisation) is carried by one extra constant basis column per
        mode, so each rank then grows by one.
        """
        return self.core_.functional(self.bases_, self.value_offset_)

    def to_functional_tucker(self) -> Any:
        """:meth:`to_functional` as a :class:`tensorkit.core.FunctionalTucker` also for a CP fit (whose
        super-diagonal ``r^K`` core it then forms)."""
        return self.core_.functional(self.bases_, self.value_offset_, tucker=True)
