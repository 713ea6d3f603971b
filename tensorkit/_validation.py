"""Argument validation shared by every public entry point.

Each check raises ``ValueError`` or ``TypeError`` with a message that names the offending argument,
so users never see a traceback from deep inside torch. Nothing is silently coerced.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import torch

__all__ = [
    "as_tensor",
    "check_choice",
    "check_positive_int",
    "check_positive_float",
    "check_probability",
    "check_rank",
    "check_same_length",
    "check_value_type",
    "read_yaml_mapping",
]


def check_positive_int(value: Any, name: str) -> int:
    """Return ``value`` if it is an integer ≥ 1, else raise naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be a positive integer, got {value!r} ({type(value).__name__})")
    if value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value}")
    return int(value)


def check_positive_float(value: Any, name: str, allow_zero: bool = False) -> float:
    """Return ``value`` as float if it is a finite number > 0 (≥ 0 with ``allow_zero``)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number, got {value!r} ({type(value).__name__})")
    value = float(value)
    if not np.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        bound = "≥ 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be finite and {bound}, got {value}")
    return value


def check_probability(value: Any, name: str) -> float:
    """Return ``value`` if it is a number in [0, 1]."""
    value = check_positive_float(value, name, allow_zero=True)
    if value > 1:
        raise ValueError(f"{name} must lie in [0, 1], got {value}")
    return value


def check_choice(value: Any, name: str, choices: Iterable[Any]) -> Any:
    """Return ``value`` if it is one of ``choices``."""
    choices = tuple(choices)
    if value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")
    return value


def check_rank(rank: Any, shape: Sequence[int], name: str = "rank") -> tuple[int, ...]:
    """Expand an int or per-mode sequence to a tuple of ranks, each in ``[1, shape[k]]``."""
    if isinstance(rank, (int, np.integer)) and not isinstance(rank, bool):
        ranks = (int(rank),) * len(shape)
    elif isinstance(rank, Sequence) and not isinstance(rank, str):
        ranks = tuple(rank)
        if len(ranks) != len(shape):
            raise ValueError(f"{name} must have one entry per mode ({len(shape)}), got {len(ranks)}")
    else:
        raise TypeError(f"{name} must be an int or a sequence of ints, got {rank!r}")
    for k, (r, n) in enumerate(zip(ranks, shape)):
        check_positive_int(r, f"{name}[{k}]")
        if r > n:
            raise ValueError(f"{name}[{k}] = {r} exceeds the size of mode {k} ({n})")
    return tuple(int(r) for r in ranks)


def as_tensor(
    x: Any,
    name: str,
    *,
    dtype: torch.dtype | None = None,
    device: torch.device | str | None = None,
    ndim: int | None = None,
    allow_nan: bool = False,
    allow_empty: bool = False,
    allow_complex: bool = False,
) -> torch.Tensor:
    """Convert array-like ``x`` to a tensor after checking it.

    Parameters
    ----------
    x : array-like
        Tensor, NumPy array or nested sequence of numbers.
    name : str
        Argument name used in error messages.
    dtype : torch.dtype, optional
        Target dtype. Floating targets accept integer input (exact); integer targets reject floats.
    device : torch.device or str, optional
        Target device; default keeps the input's device (CPU for non-tensors).
    ndim : int, optional
        Required number of dimensions.
    allow_nan : bool
        Whether NaN is allowed (±inf never is).
    allow_empty : bool
        Whether a tensor with no elements is allowed.
    allow_complex : bool
        Whether a complex tensor is allowed (its real and imaginary parts are checked like a float's).
    """
    if isinstance(x, torch.Tensor):
        t = x
    elif type(x).__module__.startswith("scipy.sparse"):
        raise TypeError(f"{name} is a scipy sparse {type(x).__name__}: sparse input is not supported, pass {name}.toarray()")
    else:
        arr = np.asarray(x)
        if arr.dtype == object or arr.dtype.kind not in ("biufc" if allow_complex else "biuf"):
            raise TypeError(f"{name} must be numeric, got dtype {arr.dtype}")
        t = torch.from_numpy(np.array(arr, copy=True))
    if t.device.type == "meta":
        raise ValueError(f"{name} is a meta tensor (a shape without values)")
    numeric = t.is_floating_point() or _is_integer(t) or (allow_complex and t.is_complex())
    if t.dtype == torch.bool or not numeric:
        raise TypeError(f"{name} must be a {'' if allow_complex else 'real '}numeric tensor, got dtype {t.dtype}")
    if ndim is not None and t.ndim != ndim:
        hint = "; Reshape your data: one row per point, one column per mode" if (ndim, t.ndim) == (2, 1) else ""
        raise ValueError(f"{name} must have {ndim} dimension(s), got shape {tuple(t.shape)}{hint}")
    if t.numel() == 0 and not allow_empty:
        if t.ndim == 2 and t.shape[0] > 0:  # scikit-learn's wording
            raise ValueError(f"{name} has 0 feature(s) (shape={tuple(t.shape)}) while a minimum of 1 is required.")
        raise ValueError(f"{name} is empty (shape {tuple(t.shape)})")
    if dtype is not None and dtype != t.dtype:
        if _is_integer_dtype(dtype) and t.is_floating_point():
            raise TypeError(f"{name} must hold integers, got dtype {t.dtype}")
        t = t.to(dtype)
    if device is not None:
        t = t.to(device)
    if t.is_floating_point() or t.is_complex():
        parts = torch.view_as_real(t) if t.is_complex() else t
        if torch.isinf(parts).any():
            raise ValueError(f"{name} contains infinite values")
        if not allow_nan and torch.isnan(parts).any():
            raise ValueError(f"{name} contains NaN values")
    return t


def check_same_length(**arrays: Any) -> int:
    """Check that every keyword argument has the same first-axis length; return it."""
    lengths = {name: len(a) for name, a in arrays.items()}
    if len(set(lengths.values())) > 1:
        detail = ", ".join(f"{name}={n}" for name, n in lengths.items())
        raise ValueError(f"mismatched lengths: {detail}")
    return next(iter(lengths.values()))


def check_value_type(value: Any, expected: type, name: str) -> Any:
    """Return ``value`` if it is an ``expected`` (ints pass as floats and are converted; bools never pass as numbers)."""
    if expected is bool or isinstance(value, bool):
        ok = isinstance(value, bool) and expected is bool
    elif expected is float:
        ok = isinstance(value, (int, float))
    else:
        ok = isinstance(value, expected)
    if not ok:
        raise TypeError(f"{name} must be {expected.__name__}, got {value!r} ({type(value).__name__})")
    return float(value) if expected is float else value


MAX_YAML_BYTES = 1_000_000
MAX_YAML_NODES = 100_000
MAX_YAML_DEPTH = 50


def read_yaml_mapping(path: str | os.PathLike, name: str) -> dict[str, Any]:
    """Read a YAML file (``yaml.safe_load``) that must hold a mapping; errors name ``name``.

    The file is bounded before it is built: at most :data:`MAX_YAML_BYTES` bytes,
    :data:`MAX_YAML_DEPTH` levels of nesting and :data:`MAX_YAML_NODES` values once its aliases are
    expanded (an "alias bomb" of a few hundred bytes would otherwise expand to gigabytes).
    """
    import yaml

    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read(MAX_YAML_BYTES + 1)
        if len(text) > MAX_YAML_BYTES:
            raise ValueError(f"{name}: {str(path)!r} is larger than {MAX_YAML_BYTES} bytes")
        _check_yaml_size(yaml.compose(text, Loader=yaml.SafeLoader), name, path)
        data = yaml.safe_load(text)
    except (OSError, UnicodeDecodeError) as err:
        raise ValueError(f"{name}: cannot read {str(path)!r}: {err}") from None
    except yaml.YAMLError as err:
        raise ValueError(f"{name}: {str(path)!r} is not valid YAML: {err}") from None
    except RecursionError:
        raise ValueError(f"{name}: {str(path)!r} is nested more than {MAX_YAML_DEPTH} levels deep") from None
    data = {} if data is None else data
    if not isinstance(data, Mapping):
        raise ValueError(f"{name}: {str(path)!r} must hold a mapping, got {type(data).__name__}")
    return dict(data)


def _check_yaml_size(root: Any, name: str, path: str | os.PathLike) -> None:
    """Raise if the composed YAML ``root`` is too deep, recursive, or expands to too many values."""
    import yaml

    sizes: dict[int, int] = {}

    def size(node: Any, depth: int) -> int:
        if depth > MAX_YAML_DEPTH:
            raise ValueError(f"{name}: {str(path)!r} is nested more than {MAX_YAML_DEPTH} levels deep")
        if id(node) in sizes:
            if sizes[id(node)] < 0:
                raise ValueError(f"{name}: {str(path)!r} holds a recursive alias")
            return sizes[id(node)]
        sizes[id(node)] = -1
        if isinstance(node, yaml.MappingNode):
            children = [child for pair in node.value for child in pair]
        else:
            children = node.value if isinstance(node, yaml.SequenceNode) else []
        total = 1 + sum(size(child, depth + 1) for child in children)
        if total > MAX_YAML_NODES:
            raise ValueError(f"{name}: {str(path)!r} expands to more than {MAX_YAML_NODES} values (aliases included)")
        sizes[id(node)] = total
        return total

    if root is not None:
        size(root, 0)


def _is_integer_dtype(dtype: torch.dtype) -> bool:
    return not dtype.is_floating_point and not dtype.is_complex and dtype != torch.bool


def _is_integer(t: torch.Tensor) -> bool:
    return _is_integer_dtype(t.dtype)


def check_index_range(idx: torch.Tensor, shape: Sequence[int], name: str) -> None:
    """Raise unless ``idx`` has ``len(shape)`` columns with ``0 ≤ idx[:, k] < shape[k]`` (one host sync)."""
    if idx.shape[1] != len(shape):
        raise ValueError(f"{name} must have {len(shape)} columns, got {idx.shape[1]}")
    if idx.numel() == 0:
        return
    lo, hi = idx.min(0).values.tolist(), idx.max(0).values.tolist()
    for k, n in enumerate(shape):
        if lo[k] < 0 or hi[k] >= n:
            raise IndexError(f"{name}[:, {k}] must lie in [0, {n - 1}], got range [{lo[k]}, {hi[k]}]")
