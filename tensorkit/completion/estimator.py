"""The DAIN estimator: train, stream influence, entity importance, sample, label, retrain."""

from __future__ import annotations

import copy
import dataclasses
import math
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch

from tensorkit._validation import as_tensor, check_choice, check_positive_float, check_probability, check_same_length
from tensorkit.completion.augment import label_cells, sample_cells, sampling_distribution
from tensorkit.completion.importance import entity_importance
from tensorkit.completion.models import MODEL_NAMES, CompletionModel, build_model, check_index_range
from tensorkit.completion.training import TrainConfig, TrainResult, train_model
from tensorkit.data import Observations

__all__ = ["DAIN"]

_SPLIT, _SAMPLE, _RETRAIN = 0, 7919, 104729  # seed offsets of the independent random streams
# Multilinear backbones need a larger, decaying step and enough steps per epoch (patience counts epochs)
# to leave their zero saddle and reach the least-squares optimum; see TrainConfig and CPModel.
_MULTILINEAR = {"lr": 1e-2, "lr_decays": 2, "min_steps": 32, "patience": 30, "max_epochs": 500, "standardize": True}
_TRAINING_DEFAULTS = {"cp": _MULTILINEAR, "tucker": _MULTILINEAR}
_NEURAL_DEFAULTS = {"lr": 1e-3, "lr_decays": 0, "min_steps": 1, "patience": 10, "max_epochs": 200, "standardize": False}


class DAIN:
    """Neural tensor completion with influence-guided data augmentation (Oh et al., CIKM 2021).

    Parameters
    ----------
    model : {"mlp", "costco", "cp", "tucker"} or callable
        Backbone name, or a factory ``model(shape, seed) -> CompletionModel``.
    augment_ratio : float
        New cells ``M = ⌊augment_ratio · n_train⌋``.
    sampler : {"influence", "uniform", "frequency", "none"}
        Entity distribution of the new cells; ``"none"`` skips augmentation (``model_`` is then the
        Step-1 model).
    seed : int
        Seeds the split, inits, batch orders and sampling (independent streams).
    labeler : {"model", "constant"}
        New-cell values from the selected Step-1 checkpoint, or the training mean (control arm).
    model_options : mapping, optional
        Backbone options (``layers``, ``rank``, ``channels``, ``hidden``, ...).
    lr, batch_size, max_epochs, patience, min_delta, lr_decays : training settings (see
        :class:`TrainConfig`). ``None`` takes the backbone's default: for the MLP, CoSTCo and
        callables the reference's Adam 1e-3, batch 1024, no decay, patience 10, at most 200 epochs; for
        CP and Tucker Adam 1e-2 with two decays, patience 30, at most 500 epochs and a batch of
        ``n_train / 32`` clipped to [16, 1024], so that an epoch (the unit of ``patience``) holds at
        least 32 steps whenever the batch allows it.
    val_fraction : float
        Fraction of the fitted cells held out for validation when no validation set is given.
    include_bias, lr_weighted, parity : bool
        Influence options (see :func:`train_model`).
    score_transform : {"abs", "positive"}
        Cell-score transform before aggregation into entity importance.
    fallback : {"frequency", "raise"}
        Policy for degenerate (all-zero) influence scores.
    dedup, exclude_observed : bool
        No repeated new cells; no new cell on a training or validation cell.
    all_entities : bool
        The uniform sampler covers all entities rather than those seen in training.
    aug_weight : float
        Loss weight of augmented cells (1.0 as in the reference).
    clip_labels : bool
        Clip pseudo-labels to the training value range.
    standardize : bool, optional
        Fit on values standardised with the training mean and std (predictions in original units).
        ``None``: on for CP and Tucker (their init scale and step size assume unit-variance values),
        off for the others (reference parity).
    dtype : torch.dtype
        Model dtype (float32 by default). Device follows the input indices.
    verbose : bool, optional
        Progress bars.
    checkpoint_path : path-like, optional
        Prefix of the SIGTERM/SIGUSR1 checkpoints (``<prefix>.step1.pt``, ``<prefix>.retrain.pt``). An
        interrupted ``fit`` raises ``InterruptedError``; calling ``fit`` again with the same data resumes.

    Attributes
    ----------
    base_model_ : CompletionModel
        Step-1 model at its validation-selected state (the value predictor; the no-augmentation arm).
    model_ : CompletionModel
        Retrained model (``base_model_`` when ``sampler="none"``); used by :meth:`predict`.
    influence_ : torch.Tensor
        Streamed TracIn score of every training cell (float64).
    entity_importance_ : list of torch.Tensor
        One probability vector per mode (sums to 1; unseen entities 0).
    augmented_indices_, augmented_values_ : torch.Tensor
        New cells and their labels (empty when ``sampler="none"``).
    base_result_, result_ : TrainResult
        Best epoch, stopping reason (``"max_epochs"`` = not converged), timings of both trainings.
    history_ : dict
        Per-epoch validation and training losses of both trainings.
    """

    def __init__(
        self,
        model: str | Callable[[Sequence[int], int], CompletionModel] = "mlp",
        augment_ratio: float = 0.5,
        sampler: str = "influence",
        seed: int = 0,
        *,
        labeler: str = "model",
        model_options: Mapping[str, Any] | None = None,
        lr: float | None = None,
        batch_size: int | None = None,
        max_epochs: int | None = None,
        patience: int | None = None,
        min_delta: float = 0.0,
        lr_decays: int | None = None,
        val_fraction: float = 0.2,
        include_bias: bool = False,
        lr_weighted: bool = False,
        parity: bool = False,
        score_transform: str = "abs",
        fallback: str = "frequency",
        dedup: bool = False,
        exclude_observed: bool = False,
        all_entities: bool = False,
        aug_weight: float = 1.0,
        clip_labels: bool = False,
        standardize: bool | None = None,
        dtype: torch.dtype = torch.float32,
        verbose: bool | None = False,
        checkpoint_path: str | os.PathLike | None = None,
    ) -> None:
        if not callable(model):
            check_choice(model, "model", MODEL_NAMES)
        self.model = model
        self.augment_ratio = check_positive_float(augment_ratio, "augment_ratio", allow_zero=True)
        self.sampler = check_choice(sampler, "sampler", ("influence", "uniform", "frequency", "none"))
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise TypeError(f"seed must be an int, got {seed!r}")
        self.seed = seed
        self.labeler = check_choice(labeler, "labeler", ("model", "constant"))
        self.model_options = dict(model_options or {})
        defaults = _TRAINING_DEFAULTS.get(model, _NEURAL_DEFAULTS) if isinstance(model, str) else _NEURAL_DEFAULTS
        self._min_steps = defaults["min_steps"] if batch_size is None else None  # batch from n_train in _train
        given = {"lr": lr, "max_epochs": max_epochs, "patience": patience, "lr_decays": lr_decays}
        self.train_config = TrainConfig(
            batch_size=1024 if batch_size is None else batch_size, min_delta=min_delta,
            **{key: defaults[key] if value is None else value for key, value in given.items()},
        )
        self.val_fraction = check_probability(val_fraction, "val_fraction")
        if not 0 < self.val_fraction < 1:
            raise ValueError(f"val_fraction must lie strictly between 0 and 1, got {val_fraction}")
        self.include_bias, self.lr_weighted, self.parity = bool(include_bias), bool(lr_weighted), bool(parity)
        self.score_transform = check_choice(score_transform, "score_transform", ("abs", "positive"))
        self.fallback = check_choice(fallback, "fallback", ("frequency", "raise"))
        self.dedup, self.exclude_observed, self.all_entities = bool(dedup), bool(exclude_observed), bool(all_entities)
        self.aug_weight = check_positive_float(aug_weight, "aug_weight", allow_zero=True)
        self.clip_labels = bool(clip_labels)
        self.standardize = defaults["standardize"] if standardize is None else bool(standardize)
        if dtype not in (torch.float32, torch.float64):
            raise ValueError(f"dtype must be torch.float32 or torch.float64, got {dtype}")
        self.dtype = dtype
        self.verbose = verbose
        self.checkpoint_path = checkpoint_path

    # ------------------------------------------------------------------ fitting
    def fit(
        self,
        indices: Any,
        values: Any = None,
        *,
        shape: Sequence[int] | None = None,
        val_indices: Any = None,
        val_values: Any = None,
    ) -> DAIN:
        """Train Step 1 (streaming influence), augment, retrain. Returns ``self``.

        ``indices`` is an ``(n, N)`` long tensor (or an :class:`~tensorkit.data.Observations`, whose
        values and shape are then used) and ``values`` has length ``n``. Without ``val_indices``, a
        seeded ``val_fraction`` of the cells becomes the validation set.
        """
        idx, y, shape = self._check_data(indices, values, shape, "indices", "values")
        if val_indices is None:
            perm = torch.randperm(idx.shape[0], generator=torch.Generator().manual_seed(self.seed + _SPLIT))
            n_val = max(1, round(self.val_fraction * idx.shape[0]))
            if n_val >= idx.shape[0]:
                raise ValueError(f"need at least 2 cells to carve a validation set, got {idx.shape[0]}")
            perm = perm.to(idx.device)
            idx, y, val_idx, val_y = idx[perm[n_val:]], y[perm[n_val:]], idx[perm[:n_val]], y[perm[:n_val]]
        else:
            val_idx, val_y, _ = self._check_data(val_indices, val_values, shape, "val_indices", "val_values")
            val_idx, val_y = val_idx.to(idx.device), val_y.to(idx.device)
        self.shape_ = tuple(shape)
        self.train_indices_, self.train_values_ = idx, y
        self.val_indices_, self.val_values_ = val_idx, val_y
        self.value_mean_, self.value_scale_ = (float(y.mean()), float(y.std())) if self.standardize else (0.0, 1.0)
        if self.value_scale_ <= 0:
            raise ValueError("values are constant; cannot standardize")
        step1 = self._train(idx, self._scale(y), track=True, seed=self.seed, stage="step1")
        self.base_model_ = step1.model
        self.base_result_ = step1
        self.influence_ = step1.influence
        self.entity_importance_ = entity_importance(
            step1.influence, idx, self.shape_, self.score_transform, self.fallback
        )
        return self._fit_arm(self.sampler, self.labeler)

    def with_arm(self, sampler: str, labeler: str = "model") -> DAIN:
        """A copy of this fitted estimator re-run from the shared Step 1 with another sampler/labeler."""
        self._check_fitted()
        other = copy.copy(self)
        other.sampler = check_choice(sampler, "sampler", ("influence", "uniform", "frequency", "none"))
        other.labeler = check_choice(labeler, "labeler", ("model", "constant"))
        return other._fit_arm(other.sampler, other.labeler)

    def _fit_arm(self, sampler: str, labeler: str) -> DAIN:
        idx, y = self.train_indices_, self.train_values_
        n_new = math.floor(self.augment_ratio * idx.shape[0])
        if sampler == "none" or n_new == 0:
            self.sampling_probs_ = None
            self.augmented_indices_ = idx.new_empty((0, idx.shape[1]))
            self.augmented_values_ = y.new_empty(0)
            self.model_, self.result_ = self.base_model_, self.base_result_
            self.history_ = {"step1": self.base_result_.history}
            return self
        self.sampling_probs_ = sampling_distribution(sampler, idx, self.shape_, self.entity_importance_,
                                                     self.all_entities)  # fmt: skip
        generator = torch.Generator().manual_seed(self.seed + _SAMPLE)
        exclude = torch.cat([idx, self.val_indices_]) if self.exclude_observed else None
        new_idx = sample_cells(self.sampling_probs_, n_new, generator, dedup=self.dedup, exclude=exclude)
        clip = (float(y.min()), float(y.max())) if self.clip_labels else None
        labels = label_cells(labeler, new_idx, self.base_model_, self._scale(y).to(self.dtype),
                             None if clip is None else tuple(self._scale(torch.tensor(c)).item() for c in clip))  # fmt: skip
        self.augmented_indices_ = new_idx
        self.augmented_values_ = self._unscale(labels)
        weights = torch.cat([torch.ones(idx.shape[0]), torch.full((n_new,), self.aug_weight)]).to(idx.device)
        result = self._train(torch.cat([idx, new_idx]), torch.cat([self._scale(y).to(self.dtype), labels]),
                             track=False, seed=self.seed + _RETRAIN, weights=weights, stage="retrain")  # fmt: skip
        self.model_, self.result_ = result.model, result
        self.history_ = {"step1": self.base_result_.history, "retrain": result.history}
        return self

    def _train(self, idx: torch.Tensor, y: torch.Tensor, track: bool, seed: int,
               weights: torch.Tensor | None = None, stage: str = "step1") -> TrainResult:  # fmt: skip
        if callable(self.model):
            net = self.model(self.shape_, seed)
        else:
            options = dict(self.model_options)
            if self.model in ("cp", "tucker"):
                options.setdefault("bias_init", float(y.double().mean()))
            net = build_model(self.model, self.shape_, seed=seed, **options)
        net = net.to(device=idx.device, dtype=self.dtype)
        path = None if self.checkpoint_path is None else f"{os.fspath(self.checkpoint_path)}.{stage}.pt"
        config = self.train_config
        if self._min_steps is not None:
            config = dataclasses.replace(config, batch_size=min(1024, max(16, -(-idx.shape[0] // self._min_steps))))
        result = train_model(
            net, idx, y.to(self.dtype), self.val_indices_, self._scale(self.val_values_).to(self.dtype),
            config, seed=seed, track_influence=track, include_bias=self.include_bias,
            lr_weighted=self.lr_weighted, parity=self.parity, sample_weight=weights, checkpoint_path=path,
            verbose=self.verbose,
        )  # fmt: skip
        if result.stop_reason == "interrupted":
            saved = f"state saved to {path!r}; call fit again to resume" if path else "no checkpoint_path, nothing saved"
            raise InterruptedError(f"{stage} training interrupted; {saved}")
        return result

    # --------------------------------------------------------------- prediction
    @torch.no_grad()
    def predict(self, indices: Any, model: str = "final") -> torch.Tensor:
        """Predicted values at ``(m, N)`` cells, in the units of the fitted values.

        ``model="base"`` uses the Step-1 (no augmentation) model instead of the retrained one.
        """
        self._check_fitted()
        check_choice(model, "model", ("final", "base"))
        net = self.model_ if model == "final" else self.base_model_
        idx = as_tensor(indices, "indices", dtype=torch.long, ndim=2, device=self.train_indices_.device)
        check_index_range(idx, self.shape_, "indices")
        net.eval()
        out = torch.cat([net(idx[s : s + 65536]) for s in range(0, idx.shape[0], 65536)]) if idx.shape[0] else \
            torch.empty(0, dtype=self.dtype, device=idx.device)  # fmt: skip
        return self._unscale(out)

    # ------------------------------------------------------------------ helpers
    def _scale(self, y: torch.Tensor) -> torch.Tensor:
        return (y - self.value_mean_) / self.value_scale_

    def _unscale(self, y: torch.Tensor) -> torch.Tensor:
        return y * self.value_scale_ + self.value_mean_

    def _check_fitted(self) -> None:
        if not hasattr(self, "model_"):
            raise RuntimeError("this DAIN instance is not fitted yet; call fit(indices, values) first")

    def _check_data(self, indices: Any, values: Any, shape: Sequence[int] | None, iname: str, vname: str):
        if isinstance(indices, Observations):
            if values is not None:
                raise ValueError(f"give {vname} only with an index tensor, not with Observations")
            shape = indices.shape if shape is None else shape
            indices, values = indices.indices, indices.values
        if values is None:
            raise ValueError(f"{vname} is required")
        idx = as_tensor(indices, iname, dtype=torch.long, ndim=2)
        y = as_tensor(values, vname, ndim=1, device=idx.device)
        check_same_length(**{iname: idx, vname: y})
        if shape is None:
            shape = (idx.max(0).values + 1).tolist()
        shape = tuple(int(n) for n in shape)
        if len(shape) != idx.shape[1]:
            raise ValueError(f"{iname} has {idx.shape[1]} columns but shape has {len(shape)} modes")
        check_index_range(idx, shape, iname)
        return idx, y.to(torch.float64), shape

    def __repr__(self) -> str:
        return f"DAIN(model={self.model!r}, augment_ratio={self.augment_ratio}, sampler={self.sampler!r}, seed={self.seed})"

