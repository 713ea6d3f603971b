"""Output paths checked before any work starts: the overwrite policy and writability.

A batch job should fail in its first second, not after hours of compute, when an output cannot be
written. The policy of every ``tensorkit`` command: an existing output is refused unless
``overwrite`` is set; an input file is never an output, whatever ``overwrite`` says.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Mapping
from pathlib import Path

from tensorkit.runtime.atomic import new_temporary

__all__ = ["check_outputs", "check_run_folder", "check_writable"]

PathLike = str | os.PathLike


def check_outputs(outputs: Mapping[str, PathLike | None], inputs: Iterable[PathLike] = (),
                  overwrite: bool = False) -> None:  # fmt: skip
    """Check that every output file can be written now without losing data.

    Parameters
    ----------
    outputs : mapping of option name → path
        The command's output files (``None`` entries are skipped), named as the user gave them.
    inputs : iterable of path
        Files the command reads; no output may be one of them (also through a link).
    overwrite : bool
        Replace existing outputs instead of refusing them.

    Raises
    ------
    FileExistsError
        An output exists and ``overwrite`` is False.
    ValueError
        An output is an input, another output, a folder, or cannot be created (missing or read-only
        folder, name too long); the message names the option and the path.
    """
    given = {name: Path(path) for name, path in outputs.items() if path is not None}
    seen: dict[Path, str] = {}
    for name, path in given.items():
        key = path.resolve()
        if key in seen:
            raise ValueError(f"{name} and {seen[key]} name the same file {str(path)!r}")
        seen[key] = name
        found = _stat(path, name)
        if found is None:
            check_writable(path, name)
            continue
        for source in inputs:
            if os.path.exists(source) and os.path.samefile(path, source):
                raise ValueError(f"{name} {str(path)!r} is the input file {str(source)!r}; choose another output path")
        if stat.S_ISDIR(found.st_mode):
            raise ValueError(f"{name} {str(path)!r} is a folder; give a file path")
        if not overwrite:
            raise FileExistsError(f"{name} {str(path)!r} already exists; pass --overwrite to replace it")
        check_writable(path, name)


def check_writable(path: PathLike, name: str) -> None:
    """Create and remove the temporary file an atomic write of ``path`` would use; raise ``ValueError`` if that fails."""
    path = Path(path)
    if not path.parent.is_dir():
        what = "does not exist" if not path.parent.exists() else "is not a folder"
        raise ValueError(f"{name} {str(path)!r}: folder {str(path.parent)!r} {what}")
    try:
        new_temporary(path).unlink()
    except OSError as err:
        raise ValueError(f"{name} {str(path)!r} cannot be written: {err.strerror or err}") from None


def check_run_folder(path: PathLike, name: str = "--out") -> Path:
    """Check that the run folder ``path`` is a folder, or can be created, and that files can be written in it.

    Nothing is created: the check probes the folder, or its nearest existing parent.
    """
    folder = Path(path)
    found = _stat(folder, name)
    if found is not None and not stat.S_ISDIR(found.st_mode):
        raise ValueError(f"{name} {str(folder)!r} is a file; a run folder is needed")
    if found is not None:
        check_writable(folder / "checkpoint.pt", name)
        return folder
    missing = [folder]
    while _stat(missing[-1].parent, name) is None:
        missing.append(missing[-1].parent)
    existing = missing[-1].parent
    if not existing.is_dir():
        raise ValueError(f"{name} {str(folder)!r} cannot be created: {str(existing)!r} is a file")
    for part in missing:  # every folder to create must be creatable there (e.g. its name not too long)
        check_writable(existing / part.name, name)
    return folder


def _stat(path: Path, name: str) -> os.stat_result | None:
    """``os.stat`` of ``path``, ``None`` if it does not exist; other failures (a name too long) name ``name``."""
    try:
        return path.stat()
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as err:
        raise ValueError(f"{name} {str(path)!r} cannot be written: {err.strerror or err}") from None
