"""Timing and markdown helpers shared by the benchmark scripts."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

from tensorkit.runtime import atomic_write

RESULTS = Path(__file__).resolve().parent / "results"


def best_time(fn: Callable[[], Any], repeats: int = 3, device: torch.device | None = None) -> float:
    """Fewest seconds of ``repeats`` calls (after one warm-up): process CPU time, or on a CUDA ``device``
    wall-clock time with the device synchronised (a GPU's work is not CPU time)."""
    cuda = device is not None and device.type == "cuda"
    clock = time.perf_counter if cuda else time.process_time
    fn()
    times = []
    for _ in range(repeats):
        if cuda:
            torch.cuda.synchronize(device)
        start = clock()
        fn()
        if cuda:
            torch.cuda.synchronize(device)
        times.append(clock() - start)
    return min(times)


def machine_load() -> str:
    """The 1-minute load average and core count, for a benchmark's note (CPU time rises under load too)."""
    return f"machine load {os.getloadavg()[0]:.1f} (1-min average) on {os.cpu_count()} cores"


def child_cpu_seconds(cmd: Sequence[str], **kwargs: Any) -> float:
    """CPU seconds (user + system) that the subprocess ``cmd`` and its own children used; it must succeed."""
    import resource
    import subprocess

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(cmd, check=True, **kwargs)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)


def markdown_table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]], note: str = "") -> str:
    """A ``## title`` section with a markdown table (floats to 3 significant digits) and a note."""
    fmt = lambda v: f"{v:.3g}" if isinstance(v, float) else str(v)  # noqa: E731
    lines = [f"## {title}", "", "| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(fmt(v) for v in row) + " |" for row in rows]
    return "\n".join(lines) + ("\n\n" + note if note else "") + "\n"


def write_table(name: str, title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]], note: str = "") -> str:
    """Write ``results/<name>.md`` with a :func:`markdown_table` and return its text."""
    text = markdown_table(title, columns, rows, note)
    RESULTS.mkdir(exist_ok=True)
    with atomic_write(RESULTS / f"{name}.md", "w") as fh:
        fh.write(text)
    return text


def status_bytes(field: str) -> int | None:
    """A memory figure (``"VmRSS"``, ``"VmHWM"``) of this process from ``/proc/self/status``, in bytes;
    ``None`` off Linux."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def peak_memory(fn: Callable[[], Any], device: torch.device) -> tuple[Any, int | None]:
    """``fn()``'s result and the peak memory it needed above what was in use when it started.

    CUDA: peak allocated bytes (``torch.cuda.max_memory_allocated``). CPU: growth of the process's
    resident-set high-water mark after resetting it (Linux ``/proc/self/clear_refs``); ``None``
    where that reset is not available.
    """
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        start = torch.cuda.memory_allocated(device)
        out = fn()
        torch.cuda.synchronize(device)
        return out, torch.cuda.max_memory_allocated(device) - start
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")  # resets VmHWM to the current resident set
    except OSError:
        return fn(), None
    start = status_bytes("VmRSS")
    out = fn()
    peak = status_bytes("VmHWM")
    return out, None if start is None or peak is None else peak - start


def measuring_env() -> dict[str, str]:
    """Environment for a child process whose resident set is measured: one thread, and glibc
    serving every block ≥ 64 KiB by ``mmap`` (returned to the system when freed), so the
    high-water mark follows the live tensors rather than the allocator's retained slack."""
    return {**os.environ, "OMP_NUM_THREADS": "1", "MALLOC_MMAP_THRESHOLD_": "65536"}
