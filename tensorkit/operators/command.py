"""Train a (tensorized) Fourier neural operator from a YAML experiment file.

The file has sections ``data``, ``model`` (TFNO arguments), ``training`` and ``patching``; see
``experiments/mgtfno/configs/``. Runs plainly, under ``torchrun --nproc_per_node=N`` (DDP; gloo on
CPU, NCCL on GPU), or as tasks that SLURM's ``srun`` starts without torchrun (rank, address and
port from SLURM's variables; see :mod:`tensorkit.runtime.slurm`). Rank 0 writes checkpoint.pt,
metrics.json and results.json to --out and prints the summary; an existing checkpoint there is
resumed unless --restart is given (a changed configuration is refused); the folder is locked while
a run uses it. SIGTERM/SIGUSR1 (SIGINT) checkpoint and exit with code 143
(130), so a SLURM job can be requeued and resumed. ``training.seed`` holds unless --seed is given.
netCDF data (``data.name: netcdf``) are streamed from disk by default, so host memory does not
grow with the number of samples; --no-streaming (``data.streaming: false``) reads them into memory.
Several input or output fields lie along a channel dim of the variables (--channel-dim,
``data.channel_dim``; ``data.output_channel_dim`` for an output whose channel dim has another name).
"""

from __future__ import annotations

import argparse
import json

SEED_FROM_CONFIG = True


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("experiment", metavar="CONFIG.yaml", help="experiment file (data/model/training/patching)")
    parser.add_argument("--epochs", type=int, default=None, help="override training.n_epochs")
    parser.add_argument("--restart", action="store_true", help="ignore an existing checkpoint in --out")
    parser.add_argument("--streaming", action=argparse.BooleanOptionalAction, default=None,
                        help="read netCDF samples from disk batch by batch (default for data.name: netcdf), or "
                             "--no-streaming to read them into memory; overrides data.streaming")
    parser.add_argument("--num-workers", type=int, default=None, help="override data.num_workers (DataLoader workers)")
    parser.add_argument("--channel-dim", default=None,
                        help="override data.channel_dim: the dim of the netCDF variables' channels (default: channel)")


def run(args: argparse.Namespace) -> int:
    from tensorkit.operators.experiment import load_config, run_experiment
    from tensorkit.runtime import distributed as ddp
    from tensorkit.runtime import resolve_device

    config = load_config(args.experiment)
    if args.seed is not None:
        config["training"]["seed"] = args.seed
    if args.epochs is not None:
        config["training"]["n_epochs"] = args.epochs
    if args.streaming is not None:
        config["data"]["streaming"] = args.streaming
    if args.num_workers is not None:
        config["data"]["num_workers"] = args.num_workers
    if args.channel_dim is not None:
        config["data"]["channel_dim"] = args.channel_dim
    out = args.out or "tfno_run"
    # the group is held here, so this process's rank is known after training (it reads 0 once destroyed)
    with ddp.process_group_from_env(resolve_device(args.device)):
        results = run_experiment(config, out_dir=out, device=args.device,
                                 resume=not args.restart, verbose=False if args.quiet else None)
        main_rank = ddp.rank() == 0
    if not args.quiet and main_rank:
        print(json.dumps({k: results[k] for k in ("interrupted", "epochs_done", "n_parameters",
                                                    "spectral_compression_ratio", "final")}, indent=1))
    if results["interrupted"]:
        raise InterruptedError(f"checkpoint saved in {out!r}; run the same command again to resume")
    return 0
