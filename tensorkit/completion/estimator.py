"""The DAIN estimator: train, stream influence, entity importance, sample, label, retrain."""

from __future__ import annotations

import copy
import dataclasses
import math
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import torch

from tensorkit._estimator import Regressor, check_fitted, like_input, read_estimator, write_estimator
from tensorkit._validation import (
    as_tensor,
    check_choice,
    check_index_range,
    check_positive_float,
    check_probability,
    check_same_length,
)
from tensorkit.completion.augment import label_cells, sample_cells, sampling_distribution
from tensorkit.completion.importance import entity_importance
from tensorkit.completion.models import MODEL_NAMES, CompletionModel, build_model
from tensorkit.completion.training import TrainConfig, TrainResult, train_model
from tensorkit.data import Observations
from tensorkit.data.holdout import random_rows
from tensorkit.runtime.progress import milestone

__all__ = ["DAIN"]

_SPLIT, _SAMPLE, _RETRAIN = 0, 7919, 104729  # seed offsets of the independent random streams
STAGES = ("step1", "retrain")  # the trainings of a fit, each with its own checkpoint


def stage_checkpoint(prefix: str | os.PathLike, stage: str) -> str:
    """The checkpoint file of training ``stage`` (one of ``STAGES``) of a fit with ``checkpoint_path=prefix``."""
    return f"{os.fspath(prefix)}.{stage}.pt"
# Multilinear backbones need a larger, decaying step and enough steps per epoch (patience counts epochs)
# to leave their zero saddle and reach the least-squares optimum; see TrainConfig and CPModel.
_MULTILINEAR = {"lr": 1e-2, "lr_decays": 2, "min_steps": 32, "patience": 30, "max_epochs": 500, "standardize": True}
_TRAINING_DEFAULTS = {"cp": _MULTILINEAR, "tucker": _MULTILINEAR}
_NEURAL_DEFAULTS = {"lr": 1e-3, "lr_decays": 0, "min_steps": 1, "patience": 10, "max_epochs": 200, "standardize": False}


class DAIN(Regressor):
    """Neural tensor completion with influence-guided data augmentation (Oh et al., CIKM 2021).

    A scikit-learn regressor on integer cells: ``X`` is an ``(n, N)`` index array, ``y`` the values, so
    ``clone``, ``GridSearchCV`` and ``cross_val_score`` work (pass the tensor's ``shape`` as a fit
    parameter when folds may miss an entity); ``score`` is R²; :meth:`save` / :meth:`load` persist a
    fitted estimator without pickle.

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
        ``None``: progress bars on a terminal, else (batch jobs, notebooks) log lines on the
        ``"tensorkit"`` logger (see :func:`tensorkit.runtime.progress.progress`), plus one line per stage
        with its validation RMSE; ``True``: bars and stage lines; ``False``: silent.
    checkpoint_path : path-like, optional
        Prefix of the checkpoints of the two trainings (``<prefix>.step1.pt``, ``<prefix>.retrain.pt``),
        written on SIGTERM/SIGUSR1/SIGINT and when a training finishes. An interrupted ``fit`` raises
        ``InterruptedError``; calling ``fit`` again with the same data and settings resumes it (a
        finished training is not run again). The files are kept until you remove them (``tensorkit
        complete`` removes them once its output is written); a checkpoint of other data or settings is
        refused with ``ValueError``. Copies made by :meth:`with_arm` checkpoint under
        ``<prefix>.<sampler>-<labeler>``.

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

    _per_mode_attribute = "shape_"

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
        verbose: bool | None = None,
        checkpoint_path: str | os.PathLike | None = None,
    ) -> None:
        self.model = model
        self.augment_ratio = augment_ratio
        self.sampler = sampler
        self.seed = seed
        self.labeler = labeler
        self.model_options = model_options
        self.lr = lr
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.patience = patience
        self.min_delta = min_delta
        self.lr_decays = lr_decays
        self.val_fraction = val_fraction
        self.include_bias = include_bias
        self.lr_weighted = lr_weighted
        self.parity = parity
        self.score_transform = score_transform
        self.fallback = fallback
        self.dedup = dedup
        self.exclude_observed = exclude_observed
        self.all_entities = all_entities
        self.aug_weight = aug_weight
        self.clip_labels = clip_labels
        self.standardize = standardize
        self.dtype = dtype
        self.verbose = verbose
        self.checkpoint_path = checkpoint_path
        self._check_params()

    def _check_params(self) -> None:
        """Validate the parameters (by ``__init__``, and by ``fit`` again after ``set_params``)."""
        if not callable(self.model):
            check_choice(self.model, "model", MODEL_NAMES)
        check_positive_float(self.augment_ratio, "augment_ratio", allow_zero=True)
        check_choice(self.sampler, "sampler", ("influence", "uniform", "frequency", "none"))
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise TypeError(f"seed must be an int, got {self.seed!r}")
        check_choice(self.labeler, "labeler", ("model", "constant"))
        if self.model_options is not None and not isinstance(self.model_options, Mapping):
            raise TypeError(f"model_options must be a mapping or None, got {self.model_options!r}")
        self.train_config  # noqa: B018  (TrainConfig validates lr, batch_size, max_epochs, patience, min_delta)
        check_probability(self.val_fraction, "val_fraction")
        if not 0 < self.val_fraction < 1:
            raise ValueError(f"val_fraction must lie strictly between 0 and 1, got {self.val_fraction}")
        check_choice(self.score_transform, "score_transform", ("abs", "positive"))
        check_choice(self.fallback, "fallback", ("frequency", "raise"))
        check_positive_float(self.aug_weight, "aug_weight", allow_zero=True)
        if self.dtype not in (torch.float32, torch.float64):
            raise ValueError(f"dtype must be torch.float32 or torch.float64, got {self.dtype}")

    @property
    def train_config(self) -> TrainConfig:
        """The training settings as a :class:`TrainConfig`."""
        defaults = self._defaults()
        given = {"lr": self.lr, "max_epochs": self.max_epochs, "patience": self.patience, "lr_decays": self.lr_decays}
        return TrainConfig(batch_size=1024 if self.batch_size is None else self.batch_size, min_delta=self.min_delta,
                           **{key: defaults[key] if value is None else value for key, value in given.items()})

    def _defaults(self) -> dict[str, Any]:
        """The backbone's training defaults (used for every setting left at None)."""
        return _TRAINING_DEFAULTS.get(self.model, _NEURAL_DEFAULTS) if isinstance(self.model, str) else _NEURAL_DEFAULTS

    @property
    def _standardizes(self) -> bool:
        return self._defaults()["standardize"] if self.standardize is None else bool(self.standardize)

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
        self._check_params()
        idx, y, shape = self._check_data(indices, values, shape, "indices", "values")
        if val_indices is None:
            n_val = max(1, round(self.val_fraction * idx.shape[0]))
            if n_val >= idx.shape[0]:
                raise ValueError(f"need at least 2 cells to carve a validation set, got {idx.shape[0]}")
            rows = random_rows(idx.shape[0], n_val, self.seed + _SPLIT)
            val_rows, fit_rows = (torch.from_numpy(r).to(idx.device) for r in rows)
            idx, y, val_idx, val_y = idx[fit_rows], y[fit_rows], idx[val_rows], y[val_rows]
        else:
            val_idx, val_y, _ = self._check_data(val_indices, val_values, shape, "val_indices", "val_values")
            val_idx, val_y = val_idx.to(idx.device), val_y.to(idx.device)
        self.shape_ = tuple(shape)
        self.train_indices_, self.train_values_ = idx, y
        self.val_indices_, self.val_values_ = val_idx, val_y
        if len(y) < 2 and self._standardizes:
            raise ValueError(f"standardize needs at least 2 training cells, got {len(y)} ({len(val_idx)} kept for validation); "
                             "pass more cells or standardize=False")  # fmt: skip
        self.value_mean_, self.value_scale_ = (float(y.mean()), float(y.std())) if self._standardizes else (0.0, 1.0)
        if not self.value_scale_ > 0:
            raise ValueError("values are constant; cannot standardize (pass standardize=False)")
        milestone(self.verbose, "DAIN: fitting a %s model on %d cells of a %s tensor (%d more for validation)",
                  self.model if isinstance(self.model, str) else "custom", len(idx), "×".join(map(str, shape)),
                  len(val_idx))
        step1 = self._train(idx, self._scale(y), track=True, seed=self.seed, stage=STAGES[0])
        self.base_model_ = step1.model
        self.base_result_ = step1
        self.influence_ = step1.influence
        self.entity_importance_ = entity_importance(
            step1.influence, idx, self.shape_, self.score_transform, self.fallback
        )
        return self._fit_arm(self.sampler, self.labeler)

    def with_arm(self, sampler: str, labeler: str = "model") -> DAIN:
        """A copy of this fitted estimator re-run from the shared Step 1 with another sampler/labeler."""
        check_fitted(self, "model_")
        other = copy.copy(self)
        other.sampler = check_choice(sampler, "sampler", ("influence", "uniform", "frequency", "none"))
        other.labeler = check_choice(labeler, "labeler", ("model", "constant"))
        if self.checkpoint_path is not None:  # the arm's retraining is not this fit's
            other.checkpoint_path = f"{os.fspath(self.checkpoint_path)}.{sampler}-{labeler}"
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
        milestone(self.verbose, "DAIN: %d new cells from the %s sampler, labelled by %s; retraining", n_new, sampler, labeler)
        weights = torch.cat([torch.ones(idx.shape[0]), torch.full((n_new,), self.aug_weight)]).to(idx.device)
        result = self._train(torch.cat([idx, new_idx]), torch.cat([self._scale(y).to(self.dtype), labels]),
                             track=False, seed=self.seed + _RETRAIN, weights=weights, stage=STAGES[1])  # fmt: skip
        self.model_, self.result_ = result.model, result
        self.history_ = {"step1": self.base_result_.history, "retrain": result.history}
        return self

    def _train(self, idx: torch.Tensor, y: torch.Tensor, track: bool, seed: int,
               weights: torch.Tensor | None = None, stage: str = "step1") -> TrainResult:  # fmt: skip
        net = self._new_net(seed, float(y.double().mean())).to(idx.device)
        path = None if self.checkpoint_path is None else stage_checkpoint(self.checkpoint_path, stage)
        config = self.train_config
        if self.batch_size is None:
            steps = self._defaults()["min_steps"]
            config = dataclasses.replace(config, batch_size=min(1024, max(16, -(-idx.shape[0] // steps))))
        result = train_model(
            net, idx, y.to(self.dtype), self.val_indices_, self._scale(self.val_values_).to(self.dtype),
            config, seed=seed, track_influence=track, include_bias=self.include_bias,
            lr_weighted=self.lr_weighted, parity=self.parity, sample_weight=weights, checkpoint_path=path,
            verbose=self.verbose,
        )  # fmt: skip
        milestone(self.verbose, "DAIN %s: %s after %d epochs; best epoch %d, validation RMSE %.4g (%.1f s)", stage,
                  result.stop_reason, result.n_epochs, result.best_epoch,
                  math.sqrt(result.best_val_loss) * self.value_scale_, result.seconds)
        if result.stop_reason == "interrupted":
            saved = f"state saved to {path!r}; call fit again to resume" if path else "no checkpoint_path, nothing saved"
            raise InterruptedError(f"{stage} training interrupted; {saved}")
        return result

    def _new_net(self, seed: int, bias_init: float) -> CompletionModel:
        """A freshly initialised backbone for ``shape_`` (CP/Tucker biases start at ``bias_init``)."""
        if callable(self.model):
            net = self.model(self.shape_, seed)
        else:
            options = dict(self.model_options or {})
            if self.model in ("cp", "tucker"):
                options.setdefault("bias_init", bias_init)
            net = build_model(self.model, self.shape_, seed=seed, **options)
        return net.to(dtype=self.dtype)

    # --------------------------------------------------------------- prediction
    @torch.no_grad()
    def predict(self, indices: Any, model: str = "final") -> torch.Tensor | np.ndarray:
        """Predicted values at ``(m, N)`` cells, in the units of the fitted values.

        A tensor for tensor ``indices`` (on the model's device), else a NumPy array. ``model="base"``
        uses the Step-1 (no augmentation) model instead of the retrained one.
        """
        check_fitted(self, "model_")
        check_choice(model, "model", ("final", "base"))
        net = self.model_ if model == "final" else self.base_model_
        idx = as_tensor(indices, "indices", dtype=torch.long, ndim=2, device=self.device_)
        check_index_range(idx, self.shape_, "indices")
        net.eval()
        out = torch.cat([net(idx[s : s + 65536]) for s in range(0, idx.shape[0], 65536)]) if idx.shape[0] else \
            torch.empty(0, dtype=self.dtype, device=idx.device)  # fmt: skip
        return like_input(self._unscale(out), indices)

    @property
    def device_(self) -> torch.device:
        """Where the fitted model lives."""
        check_fitted(self, "model_")
        return next(self.model_.parameters()).device

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | os.PathLike) -> None:
        """Write the fitted estimator to ``path`` (an ``.npz`` archive without pickles), atomically.

        Holds the parameters, both networks' weights, the training and validation cells, influence,
        importances and augmented cells: :meth:`load` gives bit-for-bit the same predictions and can
        run :meth:`with_arm`. A ``model`` given as a callable cannot be saved (``TypeError``).
        """
        check_fitted(self, "model_")
        retrained = self.model_ is not self.base_model_
        nets = {"base_model": self.base_model_, **({"model": self.model_} if retrained else {})}
        arrays = {f"{name}.{key}": value for name, net in nets.items() for key, value in net.state_dict().items()}
        for name in _SAVED_TENSORS:
            arrays[name] = getattr(self, name)
        arrays |= {f"entity_importance_.{k}": p for k, p in enumerate(self.entity_importance_)}
        if self.sampling_probs_ is not None:
            arrays |= {f"sampling_probs_.{k}": p for k, p in enumerate(self.sampling_probs_)}
        state = {"shape_": self.shape_, "value_mean_": self.value_mean_, "value_scale_": self.value_scale_,
                 "retrained": retrained, "sampled": self.sampling_probs_ is not None,
                 "base_result_": _result_summary(self.base_result_), "result_": _result_summary(self.result_)}
        write_estimator(path, self, arrays, state)

    @classmethod
    def load(cls, path: str | os.PathLike) -> DAIN:
        """Read an estimator written by :meth:`save` (on the CPU). Files holding pickled data are refused."""
        params, arrays, state = read_estimator(path, cls)
        est = cls(**params)
        est.shape_ = tuple(state["shape_"])
        est.value_mean_, est.value_scale_ = state["value_mean_"], state["value_scale_"]
        for name in _SAVED_TENSORS:
            setattr(est, name, torch.from_numpy(arrays[name]))
        n_modes = len(est.shape_)
        est.entity_importance_ = [torch.from_numpy(arrays[f"entity_importance_.{k}"]) for k in range(n_modes)]
        est.sampling_probs_ = [torch.from_numpy(arrays[f"sampling_probs_.{k}"]) for k in range(n_modes)] \
            if state["sampled"] else None  # fmt: skip

        def network(name: str) -> CompletionModel:
            net = est._new_net(seed=0, bias_init=0.0)
            prefix = f"{name}."
            net.load_state_dict({k.removeprefix(prefix): torch.from_numpy(v)
                                 for k, v in arrays.items() if k.startswith(prefix)})
            return net.eval()

        est.base_model_ = network("base_model")
        est.model_ = network("model") if state["retrained"] else est.base_model_
        est.base_result_ = TrainResult(est.base_model_, influence=est.influence_, **state["base_result_"])
        est.result_ = TrainResult(est.model_, **state["result_"]) if state["retrained"] else est.base_result_
        est.history_ = {"step1": est.base_result_.history}
        if state["retrained"]:
            est.history_["retrain"] = est.result_.history
        return est

    # ------------------------------------------------------------------ helpers
    def _scale(self, y: torch.Tensor) -> torch.Tensor:
        return (y - self.value_mean_) / self.value_scale_

    def _unscale(self, y: torch.Tensor) -> torch.Tensor:
        return y * self.value_scale_ + self.value_mean_

    def _check_data(self, indices: Any, values: Any, shape: Sequence[int] | None, iname: str, vname: str):
        if isinstance(indices, Observations):
            if values is not None:
                raise ValueError(f"give {vname} only with an index tensor, not with Observations")
            shape = indices.shape if shape is None else shape
            indices, values = indices.indices, indices.values
        if values is None:
            raise ValueError(f"{vname} is required")
        if torch.is_tensor(values) and values.requires_grad:
            raise ValueError(f"{vname} requires grad; DAIN does not differentiate through its fit, pass {vname}.detach()")
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



_SAVED_TENSORS = ("train_indices_", "train_values_", "val_indices_", "val_values_", "influence_",
                  "augmented_indices_", "augmented_values_")


def _result_summary(result: TrainResult) -> dict[str, Any]:
    """The JSON-able fields of a :class:`TrainResult` (all but the model and the influence)."""
    return {name: getattr(result, name) for name in
            ("best_epoch", "best_val_loss", "stop_reason", "n_epochs", "n_steps", "seconds", "history")}

