"""What the estimators share: the scikit-learn contract and safe, exact persistence.

Saved estimators are single ``.npz`` files read with ``allow_pickle=False``: arrays (weights, factors,
coordinates) plus one JSON text entry with the class, the library version, the constructor parameters
and the scalar fitted state. Loading such a file can never run code.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.exceptions import NotFittedError as _SklearnNotFittedError
from sklearn.metrics import r2_score

__all__ = ["NotFittedError", "Regressor", "check_fitted", "from_json", "like_input", "read_estimator", "to_json", "write_estimator"]

_METADATA = "__tensorkit__"
_FORMAT = "tensorkit-estimator"


class NotFittedError(_SklearnNotFittedError, RuntimeError):
    """A method that needs a fitted estimator was called before ``fit``.

    Both scikit-learn's ``NotFittedError`` and the ``RuntimeError`` tensorkit raised before.
    """


def check_fitted(estimator: Any, attribute: str) -> None:
    """Raise :class:`NotFittedError` unless ``estimator`` has the fitted ``attribute``."""
    if not hasattr(estimator, attribute):
        raise NotFittedError(f"this {type(estimator).__name__} instance is not fitted yet; call fit first")


def like_input(result: torch.Tensor, x: Any) -> torch.Tensor | np.ndarray:
    """``result`` as a tensor when the input ``x`` was one, else as a NumPy array."""
    return result if isinstance(x, torch.Tensor) else result.detach().cpu().numpy()


def _numpy(x: Any) -> np.ndarray:
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


class Regressor(RegressorMixin, BaseEstimator):
    """scikit-learn base of the tensorkit regressors: ``get_params``/``set_params``, ``clone``, ``score``.

    Subclasses store every constructor argument unchanged under its own name, define ``predict`` and
    name in ``_per_mode_attribute`` a fitted attribute with one entry per mode.
    """

    _per_mode_attribute: str

    @property
    def n_features_in_(self) -> int:
        """Number of coordinate (or index) columns ``predict`` takes: one per mode (scikit-learn's name)."""
        return len(getattr(self, self._per_mode_attribute))

    def score(self, X: Any, y: Any, sample_weight: Any = None) -> float:
        """Coefficient of determination R² of ``predict(X)`` against ``y`` (1 is perfect, higher is better).

        scikit-learn's regressor convention, so ``GridSearchCV`` and ``cross_val_score`` maximise it.
        NumPy arrays and tensors (on any device) are accepted.
        """
        weight = None if sample_weight is None else _numpy(sample_weight)
        return float(r2_score(_numpy(y), _numpy(self.predict(X)), sample_weight=weight))


# ---------------------------------------------------------------------------------------- persistence
def write_estimator(path: str | os.PathLike, estimator: BaseEstimator, arrays: Mapping[str, Any],
                    state: Mapping[str, Any], params: Mapping[str, Any] | None = None) -> None:
    """Write ``estimator``'s parameters (default ``get_params(deep=False)``), fitted ``state`` (JSON) and
    ``arrays`` to ``path`` atomically.

    Raises
    ------
    TypeError
        A parameter or state value that JSON cannot hold (e.g. a callable).
    """
    from tensorkit import __version__
    from tensorkit.runtime import atomic_write

    params = estimator.get_params(deep=False) if params is None else params
    params = {name: to_json(value, name) for name, value in params.items()}
    metadata = {"format": _FORMAT, "class": type(estimator).__name__, "version": __version__,
                "params": params, "state": to_json(dict(state), "state")}
    if _METADATA in arrays:
        raise ValueError(f"array name {_METADATA!r} is reserved")
    with atomic_write(path, "wb") as fh:
        np.savez(fh, **{_METADATA: np.array(json.dumps(metadata))}, **{k: _numpy(v) for k, v in arrays.items()})


def read_estimator(path: str | os.PathLike, cls: type) -> tuple[dict[str, Any], dict[str, np.ndarray], dict[str, Any]]:
    """Read a file written by :func:`write_estimator` for class ``cls``: ``(params, arrays, state)``.

    Raises
    ------
    FileNotFoundError
        No file at ``path``.
    ValueError
        Not a tensorkit estimator file, one that holds pickled data, one for another class, or one
        written by a tensorkit version with another major.minor number.
    """
    from tensorkit import __version__

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"estimator file {str(path)!r} does not exist")
    try:  # numpy refuses pickled content (a pickle file, an object array) without running it
        loaded = np.load(path, allow_pickle=False)
        if not isinstance(loaded, np.lib.npyio.NpzFile):
            raise ValueError("it is not an .npz archive")
        with loaded as npz:
            if _METADATA not in npz.files:
                raise ValueError("it has no tensorkit metadata")
            metadata = json.loads(str(npz[_METADATA]))
            arrays = {name: npz[name] for name in npz.files if name != _METADATA}
    except ValueError as err:
        raise ValueError(f"cannot load {str(path)!r} as a tensorkit estimator: {err}") from err
    if metadata.get("format") != _FORMAT or metadata.get("class") != cls.__name__:
        raise ValueError(f"{str(path)!r} holds a {metadata.get('class')!r}, not a {cls.__name__}")
    if metadata["version"].split(".")[:2] != __version__.split(".")[:2]:
        raise ValueError(f"{str(path)!r} was written by tensorkit {metadata['version']}; this is tensorkit "
                         f"{__version__}: refit, or load it with the version that wrote it")
    params = {name: from_json(value) for name, value in metadata["params"].items()}
    return params, arrays, from_json(metadata["state"])


def to_json(value: Any, name: str) -> Any:
    """``value`` (the parameter ``name`` in messages) as JSON-able data; :func:`from_json` reverses it.

    Raises
    ------
    TypeError
        A value that JSON cannot hold (e.g. a callable).
    """
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, torch.dtype):
        return {"torch.dtype": str(value).removeprefix("torch.")}
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, torch.device):
        return str(value)
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, Mapping):
        return {str(k): to_json(v, f"{name}[{k!r}]") for k, v in value.items()}
    if isinstance(value, tuple):  # marked, so that a parameter given as a tuple comes back as one
        return {"tuple": [to_json(v, f"{name}[{k}]") for k, v in enumerate(value)]}
    if isinstance(value, list):
        return [to_json(v, f"{name}[{k}]") for k, v in enumerate(value)]
    raise TypeError(f"cannot save {name}={value!r}: only numbers, strings, dtypes, lists and mappings are stored")


def from_json(value: Any) -> Any:
    """The value :func:`to_json` described (tuples and dtypes as themselves)."""
    if isinstance(value, dict):
        if set(value) == {"torch.dtype"}:
            return getattr(torch, value["torch.dtype"])
        if set(value) == {"tuple"}:
            return tuple(from_json(v) for v in value["tuple"])
        return {k: from_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [from_json(v) for v in value]
    return value
