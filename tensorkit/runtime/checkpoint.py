"""Checkpoints that carry every random-number generator's state, for bit-for-bit resumes."""

from __future__ import annotations

import hashlib
import os
import pickle
import random
import zipfile
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from tensorkit.runtime.atomic import atomic_save

_RNG_KEY = "rng_state"


def rng_state() -> dict[str, Any]:
    """Capture the torch (CPU and CUDA), NumPy and Python RNG states as plain tensors and lists."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": [kind, torch.from_numpy(keys.astype(np.int64)), int(pos), int(has_gauss), float(cached)],
        "python": _python_state_to_plain(random.getstate()),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore the RNG states captured by :func:`rng_state`."""
    torch.set_rng_state(state["torch"])
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(path: str | os.PathLike, state: dict[str, Any]) -> None:
    """Write ``state`` plus the current RNG states to ``path`` atomically.

    ``state`` may hold tensors, state dicts, numbers, strings, lists and dicts (whatever
    ``torch.load(weights_only=True)`` can read back).
    """
    if _RNG_KEY in state:
        raise ValueError(f"state must not contain the reserved key {_RNG_KEY!r}")
    atomic_save({**state, _RNG_KEY: rng_state()}, path)


def load_checkpoint(path: str | os.PathLike, restore_rng: bool = True, map_location: Any = None,
                    match: Mapping[str, Any] | None = None) -> dict[str, Any]:  # fmt: skip
    """Read a checkpoint written by :func:`save_checkpoint` (``weights_only=True``: no code runs).

    Parameters
    ----------
    path : path-like
        Checkpoint file.
    restore_rng : bool
        Restore the saved RNG states, so a resumed run continues the same random stream.
    map_location : optional
        Passed to :func:`torch.load`.
    match : mapping, optional
        Entries the checkpoint must hold with exactly these values (e.g. a :func:`data_fingerprint`
        and the settings of the run that wrote it); checked before any RNG state is restored. Of a
        mapping, the message names each differing entry (``settings.kernel``).

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the file is truncated, corrupt or not a tensorkit checkpoint, or differs from ``match``
        (the message names the file and the differing entries).
    """
    if not os.path.exists(path):
        raise FileNotFoundError(f"checkpoint {str(path)!r} does not exist")
    if os.path.isdir(path):
        raise ValueError(f"checkpoint {str(path)!r} is a folder, not a file")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except (RuntimeError, EOFError, OSError, zipfile.BadZipFile, pickle.UnpicklingError) as err:
        raise ValueError(f"checkpoint {str(path)!r} is truncated or corrupt: {err}") from err
    if not isinstance(state, dict) or _RNG_KEY not in state:
        raise ValueError(f"{str(path)!r} is not a tensorkit checkpoint (no {_RNG_KEY!r} entry)")
    changed = [name for key, value in sorted((match or {}).items()) for name in _differing(key, state.get(key), value)]
    if changed:
        raise ValueError(f"checkpoint {str(path)!r} was written for other data or settings (differing: "
                         f"{', '.join(changed)}); remove it to start afresh")  # fmt: skip
    rng = state.pop(_RNG_KEY)
    if restore_rng:
        set_rng_state(rng)
    return state


def _differing(key: str, saved: Any, expected: Any) -> list[str]:
    """``[key]`` if ``saved`` differs from ``expected``; of two mappings, the name of each differing entry."""
    if saved == expected:
        return []
    if not (isinstance(saved, Mapping) and isinstance(expected, Mapping)):
        return [key]
    return [f"{key}.{entry}" for entry in sorted(set(saved) | set(expected), key=str) if saved.get(entry) != expected.get(entry)]


def data_fingerprint(*tensors: torch.Tensor | None) -> str:
    """SHA-256 of the shapes, dtypes and values of ``tensors`` (identifies the data a checkpoint belongs to)."""
    digest = hashlib.sha256()
    for t in tensors:
        if t is None:
            digest.update(b"None")
            continue
        digest.update(f"{tuple(t.shape)} {t.dtype}".encode())
        digest.update(t.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def _python_state_to_plain(state: tuple) -> list:
    version, internal, gauss = state
    return [version, list(internal), gauss]
