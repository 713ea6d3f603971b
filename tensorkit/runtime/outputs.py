"""Output paths checked before any work starts: the overwrite policy and writability.

A batch job should fail in its first second, not after hours of compute, when an output cannot be
written. The policy of every ``tensorkit`` command: an existing output is refused unless
``overwrite`` is set; an input file is never an output, whatever ``overwrite`` says.
"""

from __future__ import annotations

import os
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
        for source in inputs:
            if path.exists() and os.path.exists(source) and os.path.samefile(path, source):
                raise ValueError(f"{name} {str(path)!r} is the input file {str(source)!r}; choose another output path")
        if path.is_dir():
            raise ValueError(f"{name} {str(path)!r} is a folder; give a file path")
        if path.exists() and not overwrite:
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
    """Create the run folder ``path`` if needed and check that files can be written in it."""
    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"{name} {str(folder)!r} is a file; a run folder is needed")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ValueError(f"{name} {str(folder)!r} cannot be created: {err.strerror or err}") from None
    check_writable(folder / "checkpoint.pt", name)
    return folder
