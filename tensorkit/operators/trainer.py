"""Training loop for neural operators: exact resumes, graceful stops, DDP, AMP, multigrid patches."""

from __future__ import annotations

import json
import math
import os
import time
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from tensorkit._validation import check_choice, check_positive_float, check_positive_int
from tensorkit.runtime import distributed as ddp
from tensorkit.operators.loading import EpochBatchSampler, PairData, ShardBatchSampler, as_dataset, make_loader
from tensorkit.operators.losses import relative_h1, relative_lp
from tensorkit.operators.normalizer import GaussianNormalizer
from tensorkit.operators.patching import MultigridPatching, run_in_chunks
from tensorkit.operators.predictor import TrainedOperator
from tensorkit.runtime import GracefulInterrupt, atomic_write, load_checkpoint, progress, save_checkpoint

PerSampleLoss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def named_loss(name: str, d: int) -> PerSampleLoss:
    """A per-sample loss by name: ``"l2"`` (relative L2) or ``"h1"`` (relative H1, periodic)."""
    if name == "l2":
        return lambda pred, y: relative_lp(pred, y, d, reduction="none")
    if name == "h1":
        return lambda pred, y: relative_h1(pred, y, d, reduction="none")
    raise ValueError(f"loss must be 'l2', 'h1' or a callable returning per-sample losses, got {name!r}")


class Trainer:
    """Mini-batch training with checkpoints that make an interrupted run finish bit-for-bit identical.

    The epoch's sample order comes from a generator seeded with ``seed + epoch``, so a run resumed
    mid-epoch replays the same batches; the checkpoint holds model, optimizer, scheduler,
    grad-scaler and normaliser states, the position (epoch, step) and every RNG state, and is
    written atomically. SIGTERM/SIGUSR1 (what SLURM sends before a time limit) makes :meth:`fit`
    write a checkpoint after the current step and return with ``interrupted=True``. A non-finite
    training loss raises ``FloatingPointError`` before anything is saved, so the last checkpoint
    stays the last good state; a resume refuses a checkpoint written under another ``fingerprint``
    or holding non-finite weights.

    Training and test data are tensor pairs ``(x, y)`` in memory or a ``Dataset`` streamed from disk
    (:class:`~tensorkit.data.pde.NetCDFPairs`); both are read through the same ``DataLoader`` in the
    same order, so the two give the same run.

    Under ``torch.distributed`` (``torchrun``), every global batch is split over the ranks (a streamed
    set: each rank reads only its share) and the model is wrapped in DDP; each rank's loss is scaled by
    ``world/global_count`` so the averaged gradient is the gradient of the mean over the global batch,
    whatever the shard sizes. The loss curve is therefore that of one process with the same global
    batch. A checkpoint holds no per-process state, so it resumes under another number of
    processes; that run equals the uninterrupted one up to floating-point summation order (bit for
    bit with an unchanged number), provided no global batch has fewer samples than processes
    (such a batch is skipped).

    Parameters
    ----------
    model : nn.Module
    optimizer : torch.optim.Optimizer
    scheduler : LR scheduler, optional
        Stepped once per epoch.
    train_loss : "h1", "l2" or callable
        A callable must return one loss per sample (shape (B,)); the batch mean is taken here.
    batch_size : int
        Global batch size (over all ranks).
    seed : int
        Seeds the per-epoch shuffling.
    output_normalizer : GaussianNormalizer, optional
        Targets are encoded for the training loss; predictions are decoded for evaluation.
    patching : MultigridPatching, optional
        Inputs are patched before the model and outputs unpatched (stitched or not).
    patch_parallel : bool
        Under DDP with stitched patching: every rank takes the whole global batch but runs the
        model on its share of the patches only; outputs are all-gathered (with autograd) for
        stitching. The gather's backward sums the ranks' identical loss copies and DDP averages,
        so gradients equal those of one process. Needs the patch count divisible by the ranks.
    mixed_precision : bool
        Autocast in ``amp_dtype`` for the pointwise layers (spectral contractions stay float32);
        float16 runs on CUDA only (with gradient scaling), bfloat16 on CUDA and CPU. Ignored where
        ``amp_dtype`` does not run.
    amp_dtype : {"float16", "bfloat16"}
        Precision of ``mixed_precision``.
    patch_chunk_size : int, optional
        With ``patching``: run the model on this many patches at a time, each chunk checkpointed,
        so a step's activation memory is that of ``patch_chunk_size`` patches, not of all patches
        of the batch (for one extra forward pass); gradients equal those of all patches at once
        up to floating-point summation order.
    grad_clip : float, optional
        Maximum gradient norm.
    checkpoint_path : path, optional
        Where checkpoints are written (atomically); needed for resumes.
    save_every : int, optional
        Also checkpoint every ``save_every`` optimizer steps (besides epoch ends and signals).
    num_workers : int
        ``DataLoader`` worker processes reading batches ahead of the step (0: read in this process).
    prefetch_factor : int, optional
        Batches each worker reads ahead (the ``DataLoader`` default of 2 when omitted).
    log_path : path, optional
        JSON file with the per-epoch metrics, rewritten atomically after every epoch.
    verbose : bool, optional
        Progress bars (default: only on a terminal).
    fingerprint : mapping, optional
        The settings a checkpoint belongs to (e.g. the flattened experiment configuration without
        its epoch count); stored in every checkpoint and compared on resume.
    """

    def __init__(
        self,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        scheduler: Any = None,
        *,
        train_loss: str | PerSampleLoss = "h1",
        batch_size: int = 32,
        seed: int = 0,
        output_normalizer: GaussianNormalizer | None = None,
        patching: MultigridPatching | None = None,
        patch_parallel: bool = False,
        mixed_precision: bool = False,
        amp_dtype: str = "float16",
        patch_chunk_size: int | None = None,
        grad_clip: float | None = None,
        checkpoint_path: str | os.PathLike | None = None,
        save_every: int | None = None,
        log_path: str | os.PathLike | None = None,
        num_workers: int = 0,
        prefetch_factor: int | None = None,
        verbose: bool | None = None,
        fingerprint: Mapping[str, Any] | None = None,
    ) -> None:
        self.model = model
        self.optimizer = optimizer
        self.scheduler = scheduler
        self.train_loss = train_loss
        self.batch_size = check_positive_int(batch_size, "batch_size")
        self.seed = int(seed)
        self.output_normalizer = output_normalizer
        self.patching = patching
        self.patch_parallel = bool(patch_parallel) and ddp.is_distributed()
        if patch_parallel and (patching is None or not patching.stitching):
            raise ValueError("patch_parallel=True needs patching with stitching=True")
        self.device = next(model.parameters()).device
        self.amp_dtype = getattr(torch, check_choice(amp_dtype, "amp_dtype", ("float16", "bfloat16")))
        self.mixed_precision = bool(mixed_precision) and (self.device.type == "cuda" or self.amp_dtype == torch.bfloat16)
        if patch_chunk_size is not None and patching is None:
            raise ValueError("patch_chunk_size needs patching")
        self.patch_chunk_size = None if patch_chunk_size is None else check_positive_int(patch_chunk_size, "patch_chunk_size")
        self.grad_clip = None if grad_clip is None else check_positive_float(grad_clip, "grad_clip")
        self.checkpoint_path = None if checkpoint_path is None else Path(checkpoint_path)
        self.save_every = None if save_every is None else check_positive_int(save_every, "save_every")
        self.log_path = None if log_path is None else Path(log_path)
        self.num_workers = int(num_workers)
        if self.num_workers < 0:
            raise ValueError(f"num_workers must be ≥ 0, got {num_workers!r}")
        self.prefetch_factor = None if prefetch_factor is None else check_positive_int(prefetch_factor, "prefetch_factor")
        self.verbose = verbose
        self.fingerprint = dict(fingerprint or {})
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.mixed_precision and self.amp_dtype == torch.float16)
        self.ddp_model = model
        if ddp.is_distributed():
            from torch.nn.parallel import DistributedDataParallel

            ids = [self.device.index] if self.device.type == "cuda" else None
            self.ddp_model = DistributedDataParallel(model, device_ids=ids)
        self.epoch = 0
        self.step_in_epoch = 0
        self.global_step = 0
        self.history: list[dict[str, float]] = []
        self.step_losses: list[float] = []
        self.interrupted = False

    # -- helpers ------------------------------------------------------------------------------
    def _loss_fn(self, d: int) -> PerSampleLoss:
        return named_loss(self.train_loss, d) if isinstance(self.train_loss, str) else self.train_loss

    def _forward(self, model: nn.Module, x: torch.Tensor, parallel: bool = False) -> torch.Tensor:
        if self.patching is None:
            return model(x)
        patches = self.patching.patch(x)
        if parallel:
            out = ddp.all_gather_cat(run_in_chunks(model, ddp.my_share(patches), self.patch_chunk_size))
        else:
            out = run_in_chunks(model, patches, self.patch_chunk_size)
        return self.patching.unpatch(out, tuple(x.shape[2:]))

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue training (RNG states are added when saved)."""
        state = {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scaler": self.scaler.state_dict(),
            "epoch": self.epoch,
            "step_in_epoch": self.step_in_epoch,
            "global_step": self.global_step,
            "history": self.history,
            "step_losses": self.step_losses,
            "fingerprint": self.fingerprint,
        }
        if self.scheduler is not None:
            state["scheduler"] = self.scheduler.state_dict()
        if self.output_normalizer is not None:
            state["output_normalizer"] = self.output_normalizer.state_dict()
        return state

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore a :meth:`state_dict` (checked first against this trainer's fingerprint and for finite weights)."""
        self._check_resumable(state)
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scaler.load_state_dict(state["scaler"])
        if self.scheduler is not None:
            self.scheduler.load_state_dict(state["scheduler"])
        if self.output_normalizer is not None:
            self.output_normalizer.load_state_dict(state["output_normalizer"])
        self.epoch, self.step_in_epoch = int(state["epoch"]), int(state["step_in_epoch"])
        self.global_step = int(state["global_step"])
        self.history = list(state["history"])
        self.step_losses = list(state["step_losses"])

    def _check_resumable(self, state: Mapping[str, Any]) -> None:
        source = f"checkpoint {str(self.checkpoint_path)!r}" if self.checkpoint_path is not None else "checkpoint"
        saved = state.get("fingerprint", self.fingerprint)  # checkpoints from before fingerprints: unchecked
        changed = sorted(k for k in set(saved) | set(self.fingerprint) if saved.get(k) != self.fingerprint.get(k))
        if changed:
            detail = ", ".join(f"{k} ({saved.get(k)!r} → {self.fingerprint.get(k)!r})" for k in changed)
            raise ValueError(f"{source} was written with other settings: {detail}; restore them, or start afresh "
                             "(--restart / resume=False)")  # fmt: skip
        bad = _non_finite(state["model"])
        if bad:
            raise ValueError(f"{source} holds non-finite weights ({', '.join(bad[:3])}); start afresh (--restart)")

    def save(self) -> None:
        """Write a checkpoint (rank 0 only; no-op without ``checkpoint_path``); non-finite weights raise instead."""
        if self.checkpoint_path is not None:
            bad = _non_finite(self.model.state_dict())  # every rank holds the same weights: all stop together
            if bad:
                raise FloatingPointError(f"weights became non-finite ({', '.join(bad[:3])}) at epoch {self.epoch + 1}; "
                                         f"the last good checkpoint {str(self.checkpoint_path)!r} is kept")  # fmt: skip
            if ddp.rank() == 0:
                save_checkpoint(self.checkpoint_path, self.state_dict())
        ddp.barrier()

    def _write_log(self) -> None:
        if self.log_path is not None and ddp.rank() == 0:
            with atomic_write(self.log_path, "w") as fh:
                json.dump(self.history, fh, indent=1)

    # -- training -----------------------------------------------------------------------------
    def _train_step(self, x: torch.Tensor, y: torch.Tensor, global_count: int, loss_fn: PerSampleLoss) -> float:
        self.optimizer.zero_grad(set_to_none=True)
        target = y if self.output_normalizer is None else self.output_normalizer.encode(y)
        if self.patching is not None:
            target = self.patching.patch_target(target)
            global_count *= target.shape[0] // y.shape[0]
        with torch.autocast(self.device.type, dtype=self.amp_dtype, enabled=self.mixed_precision):
            pred = self._forward(self.ddp_model, x, parallel=self.patch_parallel)
        per_sample = loss_fn(pred.float(), target)
        local_sum = per_sample.sum()
        # data parallel: shards' losses, DDP averages → scale by world/global_count; patch parallel:
        # every rank holds the whole batch's loss and the gather's backward sums the copies
        weight = 1.0 if self.patch_parallel else float(ddp.world_size())
        self.scaler.scale(local_sum * (weight / global_count)).backward()
        if self.grad_clip is not None:
            self.scaler.unscale_(self.optimizer)
            nn.utils.clip_grad_norm_(self.model.parameters(), self.grad_clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        total = local_sum.detach() if self.patch_parallel else ddp.all_reduce_sum(local_sum.detach())
        return float(total.item()) / global_count

    def fit(
        self,
        train: PairData,
        n_epochs: int,
        test_sets: Mapping[str, PairData] | None = None,
        resume: bool = False,
    ) -> list[dict[str, float]]:
        """Train for ``n_epochs`` (in total, counting epochs before a resume); returns the history.

        ``train`` and every test set are ``(x, y)`` tensors (N, C, …) or a ``Dataset`` whose
        ``__getitems__`` returns such batches (streamed from disk); test metrics (relative L2
        and H1, in the original units) are recorded after every epoch under ``"{name}_l2"`` and
        ``"{name}_h1"``. With ``resume=True`` and an existing checkpoint, training continues from it.
        """
        n_epochs = check_positive_int(n_epochs, "n_epochs")
        dataset = as_dataset(train, "train")
        sampler = EpochBatchSampler(len(dataset), self.batch_size, self.seed, split=not self.patch_parallel)
        loader = make_loader(dataset, sampler, self.device, self.num_workers, self.prefetch_factor)
        if resume and self.checkpoint_path is not None and self.checkpoint_path.exists():
            self.load_state_dict(load_checkpoint(self.checkpoint_path, map_location=self.device))
            if isinstance(self.scheduler, torch.optim.lr_scheduler.CosineAnnealingLR) and self.scheduler.T_max < n_epochs:
                warnings.warn(f"resuming a cosine schedule that ends at epoch {self.scheduler.T_max} with n_epochs="
                              f"{n_epochs}: the extra epochs train at the schedule's end (lr ≈ 0 after it); "
                              "start afresh to anneal over all epochs", RuntimeWarning, stacklevel=2)  # fmt: skip
        self.interrupted = False
        with GracefulInterrupt() as stop:
            while self.epoch < n_epochs:
                start = time.perf_counter()
                sampler.set_epoch(self.epoch, self.step_in_epoch)
                n_steps = len(sampler.batches)
                bar = progress(zip(sampler.global_sizes, loader), total=len(sampler),
                               desc=f"epoch {self.epoch + 1}/{n_epochs}", verbose=self.verbose)
                for global_count, (x, y) in bar:
                    x = x.to(self.device, non_blocking=True)
                    y = y.to(self.device, non_blocking=True)
                    self.model.train()
                    loss = self._train_step(x, y, global_count, self._loss_fn(x.ndim - 2))
                    if not math.isfinite(loss):
                        kept = f"; the last good checkpoint {str(self.checkpoint_path)!r} is kept" if self.checkpoint_path else ""
                        raise FloatingPointError(f"training loss is {loss} at epoch {self.epoch + 1}, step "
                                                 f"{self.step_in_epoch + 1}: the run diverged (lower the learning "
                                                 f"rate?){kept}")  # fmt: skip
                    self.step_losses.append(loss)
                    self.step_in_epoch += 1
                    self.global_step += 1
                    if ddp.any_rank(stop.requested, self.device):
                        self.interrupted = True
                        self.save()
                        return self.history
                    if self.save_every and self.global_step % self.save_every == 0:
                        self.save()
                if self.scheduler is not None:
                    self.scheduler.step()
                record = {"epoch": self.epoch + 1, "train_loss": sum(self.step_losses[-n_steps:]) / max(n_steps, 1),
                          "lr": self.optimizer.param_groups[0]["lr"], "seconds": time.perf_counter() - start}
                for name, test in (test_sets or {}).items():
                    for metric, value in self.evaluate(test).items():
                        record[f"{name}_{metric}"] = value
                self.history.append(record)
                self.epoch += 1
                self.step_in_epoch = 0
                self._write_log()
                self.save()
        return self.history

    def predict(self, x: torch.Tensor, batch_size: int | None = None) -> torch.Tensor:
        """Model output in the original units (decoded), in batches (what :class:`TrainedOperator` computes)."""
        operator = TrainedOperator(self.model, self.output_normalizer, self.patching, self.patch_chunk_size)
        return operator.predict(x, batch_size or self.batch_size)

    @torch.no_grad()
    def evaluate(self, data: PairData | torch.Tensor, y: torch.Tensor | None = None) -> dict[str, float]:
        """Mean relative L2 and H1 errors of the decoded predictions against the targets.

        ``data`` is a test set (a pair ``(x, y)`` or a streamed ``Dataset``), or the inputs ``x``
        with the targets given as ``y``. The set is read in batches of ``batch_size``; under
        ``torchrun`` each rank evaluates its contiguous share and the sums are reduced, so every
        rank gets the metrics of the whole set. The host waits for the device once, at the end.
        """
        dataset = as_dataset(data if y is None else (data, y), "test set")
        sampler = ShardBatchSampler(len(dataset), self.batch_size)
        self.model.eval()
        sums = torch.zeros(2, dtype=torch.float64, device=self.device)
        for xb, yb in make_loader(dataset, sampler, self.device, self.num_workers, self.prefetch_factor):
            pred = self._forward(self.model, xb.to(self.device, non_blocking=True)).float()
            pred = pred if self.output_normalizer is None else self.output_normalizer.decode(pred)
            yb = yb.to(pred.device, non_blocking=True)
            d = yb.ndim - 2
            sums += torch.stack([relative_lp(pred, yb, d, reduction="sum"),
                                 relative_h1(pred, yb, d, reduction="sum")]).double()
        if sampler.sharded:
            sums = ddp.all_reduce_sum(sums)
        l2, h1 = (sums / max(len(dataset), 1)).tolist()
        return {"l2": l2, "h1": h1} if math.isfinite(l2) else {"l2": float("nan"), "h1": float("nan")}


def _non_finite(state: Mapping[str, torch.Tensor]) -> list[str]:
    """Names of the floating-point entries of a state dict that hold NaN or ±inf."""
    return [name for name, t in state.items() if t.is_floating_point() and not bool(torch.isfinite(t).all())]
