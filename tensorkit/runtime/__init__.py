"""Runtime policy: devices, atomic files, output checks, run-folder locks, checkpoints and resumes, progress, graceful stops."""

from tensorkit.runtime.atomic import atomic_save, atomic_write
from tensorkit.runtime.checkpoint import data_fingerprint, load_checkpoint, save_checkpoint
from tensorkit.runtime.device import resolve_device
from tensorkit.runtime.interrupt import GracefulInterrupt
from tensorkit.runtime.lock import folder_lock, output_lock
from tensorkit.runtime.outputs import check_outputs, check_run_folder, check_writable
from tensorkit.runtime.progress import milestone, progress
from tensorkit.runtime.resume import command_settings, resumable

__all__ = [
    "GracefulInterrupt",
    "atomic_save",
    "atomic_write",
    "check_outputs",
    "check_run_folder",
    "check_writable",
    "command_settings",
    "data_fingerprint",
    "folder_lock",
    "load_checkpoint",
    "output_lock",
    "milestone",
    "progress",
    "resolve_device",
    "resumable",
    "save_checkpoint",
]
