"""Runtime policy: devices, atomic files, checkpoints with RNG state, progress, graceful stops."""

from tensorkit.runtime.atomic import atomic_save, atomic_write
from tensorkit.runtime.checkpoint import load_checkpoint, save_checkpoint
from tensorkit.runtime.device import resolve_device
from tensorkit.runtime.interrupt import GracefulInterrupt
from tensorkit.runtime.progress import progress

__all__ = [
    "GracefulInterrupt",
    "atomic_save",
    "atomic_write",
    "load_checkpoint",
    "progress",
    "resolve_device",
    "save_checkpoint",
]
