"""A tiny TFNO training run, launched as a subprocess by the resume and DDP tests (or called as :func:`run`)."""

import argparse
import os
import signal

import torch

from tensorkit.data.pde import NetCDFPairs
from tensorkit.operators import TFNO, MultigridPatching
from tensorkit.runtime import distributed as ddp
from tensorkit.operators.trainer import Trainer, named_loss


def parse(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--checkpoint")
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--n-samples", type=int, default=16)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--size", type=int, default=8)
    parser.add_argument("--patch-parallel", action="store_true", help="MG patches (L=1) spread over the ranks")
    parser.add_argument("--netcdf", help="stream the same samples from this file (written by the test); each "
                                         "rank saves the sample indices it read to OUT.rankR")
    parser.add_argument("--signal-at", type=int, help="send this process SIGUSR1 during this training step "
                                                       "(counted from the start of this process), as SLURM does")
    parser.add_argument("--signal-rank", type=int, default=0, help="the rank that --signal-at signals")
    return parser.parse_args(argv)


def data(n_samples, size):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n_samples, 1, size, size, generator=g)
    return x, torch.roll(x, 1, dims=-1) ** 2 + 0.5 * x


class LoggedPairs(NetCDFPairs):
    """A streamed set that records every sample index this process reads."""

    def __init__(self, path):
        super().__init__(path)
        self.read = []

    def __getitems__(self, indices):
        self.read.extend(int(i) for i in indices)
        return super().__getitems__(indices)


def signalling_h1(at_step, rank):
    """The relative-H1 loss, sending SIGUSR1 to this process during training step ``at_step`` on ``rank``."""
    h1, calls = named_loss("h1", 2), [0]

    def loss(pred, y):
        calls[0] += 1
        if calls[0] == at_step and ddp.rank() == rank:
            os.kill(os.getpid(), signal.SIGUSR1)
        return h1(pred, y)

    return loss


def run(argv=None):
    """Train; a function, so the trainer and its DDP wrapper (which hold the process group) are
    released before the group is destroyed, not at interpreter teardown."""
    args = parse(argv)
    train = LoggedPairs(args.netcdf) if args.netcdf else data(args.n_samples, args.size)
    torch.manual_seed(0)
    patching = MultigridPatching(1, 0.125) if args.patch_parallel else None
    model = TFNO((4, 4), 2 if patching else 1, 1, 8, n_layers=2, factorization="tucker", rank=0.5)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
    loss = "h1" if args.signal_at is None else signalling_h1(args.signal_at, args.signal_rank)
    trainer = Trainer(model, optimizer, scheduler, train_loss=loss, batch_size=args.batch_size, seed=1,
                      patching=patching, patch_parallel=args.patch_parallel, checkpoint_path=args.checkpoint, save_every=1 if args.checkpoint else None, verbose=False)
    trainer.fit(train, args.epochs, resume=args.resume)
    result = {"model": model.state_dict(), "losses": torch.tensor(trainer.step_losses, dtype=torch.float64),
              "interrupted": trainer.interrupted, "global_step": trainer.global_step}
    if ddp.rank() == 0:
        torch.save(result, args.out)
    if args.netcdf:
        torch.save(torch.tensor(train.read), f"{args.out}.rank{ddp.rank()}")
    print("interrupted" if trainer.interrupted else "finished", trainer.epoch, trainer.step_in_epoch, flush=True)
    return result


if __name__ == "__main__":
    torch.set_num_threads(1)
    with ddp.process_group_from_env():
        run()
    print("process group destroyed" if not torch.distributed.is_initialized() else "process group alive", flush=True)
