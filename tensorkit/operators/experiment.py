"""Experiment configurations (YAML) for training neural operators, and the run that executes one."""

from __future__ import annotations

import contextlib
import copy
import inspect
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from tensorkit._validation import check_positive_int, check_value_type, read_yaml_mapping
from tensorkit.runtime import distributed as ddp
from tensorkit.operators.loading import PairData, as_dataset, scan
from tensorkit.operators.normalizer import ChannelMoments, GaussianNormalizer
from tensorkit.operators.patching import MultigridPatching
from tensorkit.operators.predictor import TrainedOperator
from tensorkit.operators.tfno import TFNO
from tensorkit.operators.trainer import Trainer
from tensorkit.runtime import atomic_write, check_run_folder, folder_lock, load_checkpoint, resolve_device

DEFAULTS: dict[str, dict[str, Any]] = {
    "data": {"name": "darcy", "path": None, "input_var": "a", "output_var": "u", "n_train": None, "n_test": 50,
             "train_resolution": 16, "test_resolutions": [16, 32], "streaming": None, "num_workers": 0,
             "prefetch_factor": 2, "channel_dim": "channel", "output_channel_dim": None},
    "model": {"n_modes": [16, 16], "hidden_channels": 32, "n_layers": 4, "factorization": "tucker", "rank": 0.1},
    "training": {"n_epochs": 10, "batch_size": 32, "optimizer": "adamw", "lr": 8e-3, "weight_decay": 1e-4,
                 "scheduler": "cosine", "step_size": 100, "gamma": 0.5, "loss": "h1", "normalize_output": True,
                 "grad_clip": None, "mixed_precision": False, "amp_dtype": "float16", "save_every": None, "seed": 0},
    "patching": {"levels": 0, "padding_fraction": 0.0, "stitching": True, "patch_parallel": False,
                 "global_coordinates": False, "chunk_size": None},
}
_SCHEDULERS = ("cosine", "step", "none")
_MODEL_KEYS = set(inspect.signature(TFNO.__init__).parameters) - {"self", "in_channels", "out_channels", "seed"}
# model keys whose defaults do not show every accepted type: None (dense FNO), or ranks as a
# fraction, an int or a list; TFNO checks them itself
_UNTYPED_MODEL_KEYS = {"factorization", "rank"}
# settings a run may change between a checkpoint and its resume (how data are read does not change the run)
_RESUMABLE_KEYS = {"training.n_epochs", "training.save_every", "data.streaming", "data.num_workers",
                   "data.prefetch_factor"}


def merge_config(config: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Defaults updated with ``config``; unknown sections or keys and wrongly typed values raise.

    Values must have the type of their default; keys without one (a ``null`` default, a ``model`` key
    absent from :data:`DEFAULTS`, ``factorization`` and ``rank``) are checked where they are used.
    ``model`` keys must be :class:`TFNO` arguments.
    """
    merged = copy.deepcopy(DEFAULTS)
    for section, values in config.items():
        if section not in merged:
            raise ValueError(f"unknown config section {section!r}; known: {sorted(merged)}")
        if not isinstance(values, Mapping):
            raise ValueError(f"config section {section!r} must be a mapping, got {values!r}")
        known = _MODEL_KEYS if section == "model" else set(merged[section])
        for key, value in values.items():
            if key not in known:
                raise ValueError(f"unknown key {section}.{key}; known: {sorted(known)}")
            default = merged[section].get(key)
            if default is not None and not (section == "model" and key in _UNTYPED_MODEL_KEYS):
                value = check_value_type(value, type(default), f"{section}.{key}")
            merged[section][key] = value
    for key in ("n_epochs", "batch_size"):
        check_positive_int(merged["training"][key], f"training.{key}")
    return merged


def load_config(path: str | os.PathLike) -> dict[str, dict[str, Any]]:
    """Read a YAML experiment file and merge it with :data:`DEFAULTS`."""
    return merge_config(read_yaml_mapping(path, "experiment file"))


def load_data(data: Mapping[str, Any]) -> tuple[PairData, dict[str, PairData]]:
    """Training set and named test sets for a ``data`` section.

    ``data.name: netcdf`` reads ``data.path``: the first ``n_train`` samples train, the last
    ``n_test`` test (also on every coarser ``test_resolutions`` entry that divides the grid). With
    ``data.streaming`` true or null (the default) the sets are
    :class:`~tensorkit.data.pde.NetCDFPairs` read from disk batch by batch, so host memory does
    not grow with the number of samples; ``false`` reads them into memory. Input and output may have
    several channels along ``data.channel_dim`` (the output's along ``data.output_channel_dim`` when
    it is another dim, see :class:`~tensorkit.data.pde.NetCDFPairs`). ``data.name: darcy``
    (the small shipped set, stored as ``.pt``) is always in memory; asking it to stream raises.
    """
    streaming = data["streaming"]
    if streaming is not None and not isinstance(streaming, bool):
        raise TypeError(f"data.streaming must be true, false or null, got {streaming!r}")
    if data["name"] == "darcy":
        if streaming:
            raise ValueError("data.streaming: true needs file-backed data (data.name: netcdf); the shipped darcy "
                             "set is read into memory")  # fmt: skip
        from tensorkit.data.pde import load_darcy

        train = load_darcy("train", data["train_resolution"], data["n_train"])
        tests = {str(r): load_darcy("test", r, data["n_test"]) for r in data["test_resolutions"]}
        return train, tests
    if data["name"] == "netcdf":
        from tensorkit.data.pde import NetCDFPairs

        if data["path"] is None:
            raise ValueError("data.path must name the netCDF file when data.name is 'netcdf'")
        pairs = NetCDFPairs(data["path"], data["input_var"], data["output_var"], channel_dim=data["channel_dim"],
                            output_channel_dim=data["output_channel_dim"])
        n_all, size = len(pairs), pairs.shape[-1]
        n_test = int(data["n_test"])
        n_train = n_all - n_test if data["n_train"] is None else int(data["n_train"])
        if n_train < 1 or n_test < 1 or n_train + n_test > n_all:
            raise ValueError(f"data.n_train + data.n_test must be ≤ the {n_all} samples of {data['path']!r} "
                             f"(each ≥ 1), got {n_train} + {n_test}")  # fmt: skip
        train, test = pairs.subset(range(n_train)), pairs.subset(range(n_all - n_test, n_all))
        tests = {str(size): test}
        for r in map(int, data["test_resolutions"]):
            if r != size and 1 <= r < size and size % r == 0:
                tests[str(r)] = test.strided(size // r)
        if streaming is False:
            return train.load(), {name: t.load() for name, t in tests.items()}
        return train, tests
    raise ValueError(f"data.name must be 'darcy' or 'netcdf', got {data['name']!r}")


def build_operator(model: Mapping[str, Any], in_channels: int, out_channels: int, levels: int, seed: int,
                extra_channels: int = 0) -> TFNO:
    """TFNO from the ``model`` section; with multigrid patching the input has ``in_channels·(levels+1) + extra_channels`` channels."""
    kwargs = dict(model)
    kwargs["n_modes"] = tuple(check_value_type(kwargs["n_modes"], list, "model.n_modes"))
    return TFNO(in_channels=in_channels * (levels + 1) + extra_channels, out_channels=out_channels, seed=seed,
                **kwargs)


def build_patching(patching: Mapping[str, Any]) -> MultigridPatching | None:
    """Multigrid patching of a ``patching`` section, or None when it asks for none (no levels, no padding)."""
    if not (patching["levels"] or patching["padding_fraction"]):
        return None
    return MultigridPatching(patching["levels"], patching["padding_fraction"], patching["stitching"],
                             patching["global_coordinates"])


def load_run(run_dir: str | os.PathLike, device: str | torch.device = "cpu") -> TrainedOperator:
    """The operator of a ``train-operator`` run folder, from its ``checkpoint.pt`` (no code runs while loading).

    The model is rebuilt from the configuration stored in the checkpoint, with its weights, output
    normaliser, multigrid patching and patch chunk size; the epochs it was trained for are in
    ``epochs_done``. A run that is still training gives its last checkpoint.

    Raises
    ------
    FileNotFoundError
        No folder ``run_dir``, or no ``checkpoint.pt`` in it.
    ValueError
        ``run_dir`` is a file; the checkpoint is damaged, holds no configuration, or does not match it.
    """
    run = Path(run_dir)
    if not run.exists():
        raise FileNotFoundError(f"run folder {str(run)!r} does not exist")
    if not run.is_dir():
        raise ValueError(f"run folder {str(run)!r} is a file; give the --out folder of tensorkit train-operator")
    path = run / "checkpoint.pt"
    if not path.exists():
        raise FileNotFoundError(f"{str(run)!r} holds no checkpoint.pt; is it the --out folder of tensorkit train-operator?")
    state = load_checkpoint(path, restore_rng=False, map_location="cpu")
    if "fingerprint" not in state or "model" not in state:
        raise ValueError(f"checkpoint {str(path)!r} holds no run configuration (written by an older tensorkit?)")
    nested: dict[str, dict[str, Any]] = {}
    for key, value in state["fingerprint"].items():
        section, _, name = key.partition(".")
        nested.setdefault(section, {})[name] = value
    cfg = merge_config(nested)
    patching = build_patching(cfg["patching"])
    levels = int(cfg["patching"]["levels"])
    n_dims = len(cfg["model"]["n_modes"])
    extra = 0 if patching is None else patching.extra_channels(n_dims)
    embedded = n_dims if cfg["model"].get("positional_embedding", "grid") == "grid" else 0
    try:
        model_in = state["model"]["lifting.fc1.weight"].shape[1] - embedded
        out_channels = state["model"]["projection.fc2.weight"].shape[0]
        model = build_operator(cfg["model"], (model_in - extra) // (levels + 1), out_channels, levels, int(cfg["training"]["seed"]), extra)
        model.load_state_dict(state["model"])
        normalizer = None
        if "output_normalizer" in state:
            normalizer = GaussianNormalizer(out_channels)
            normalizer.load_state_dict(state["output_normalizer"])
    except (KeyError, RuntimeError) as err:
        raise ValueError(f"checkpoint {str(path)!r} does not match its own configuration: {err}") from None
    operator = TrainedOperator(model, normalizer, patching, cfg["patching"]["chunk_size"]).to(resolve_device(device))
    operator.config, operator.epochs_done = cfg, int(state["epoch"])
    return operator.eval()


def _optimizer(model: torch.nn.Module, training: Mapping[str, Any]) -> tuple[torch.optim.Optimizer, Any]:
    name = training["optimizer"]
    cls = {"adamw": torch.optim.AdamW, "adam": torch.optim.Adam}.get(name)
    if cls is None:
        raise ValueError(f"training.optimizer must be 'adam' or 'adamw', got {name!r}")
    opt = cls(model.parameters(), lr=float(training["lr"]), weight_decay=float(training["weight_decay"]))
    kind = training["scheduler"]
    if kind == "cosine":
        return opt, torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=int(training["n_epochs"]))
    if kind == "step":
        return opt, torch.optim.lr_scheduler.StepLR(opt, int(training["step_size"]), float(training["gamma"]))
    if kind == "none":
        return opt, None
    raise ValueError(f"training.scheduler must be one of {_SCHEDULERS}, got {kind!r}")


def run_experiment(
    config: Mapping[str, Any],
    out_dir: str | os.PathLike | None = None,
    device: str = "auto",
    resume: bool = True,
    verbose: bool | None = None,
) -> dict[str, Any]:
    """Train the configured TFNO and return (and write, with ``out_dir``) its results.

    Under ``torchrun`` the process group is initialised from the environment (and destroyed at
    the end when this call created it). ``out_dir`` gets ``checkpoint.pt`` (resumable),
    ``metrics.json`` (per epoch) and ``results.json``; it is checked before the data are read, and
    created and locked before training (a second run on it is refused). A resume with settings other
    than the checkpoint's (except ``training.n_epochs`` and ``training.save_every``) is refused. The
    returned dict has ``interrupted`` True when SIGTERM/SIGUSR1/SIGINT stopped the run early.
    """
    cfg = merge_config(config)
    dev = resolve_device(device)
    with ddp.process_group_from_env(dev), contextlib.ExitStack() as stack:
        if out_dir is not None and ddp.rank() == 0:
            check_run_folder(out_dir)
        return _train(cfg, ddp.local_device(dev), out_dir, resume, verbose, stack)


def fingerprint(cfg: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """The flattened settings (``"section.key": value``) that a checkpoint of ``cfg`` belongs to."""
    flat = {f"{section}.{key}": value for section, values in cfg.items() for key, value in values.items()}
    return {key: value for key, value in flat.items() if key not in _RESUMABLE_KEYS}


def _check_data(train: PairData, tests: Mapping[str, PairData], source: str, batch_size: int, loader: Mapping[str, Any],
                dev: torch.device) -> ChannelMoments:
    """One streaming pass over every set: non-finite values raise; returns the training outputs' moments."""

    def checked(name: str, data: PairData) -> ChannelMoments:
        found = scan(data, batch_size, dev, **loader)
        for what, count in (("inputs", found.nonfinite_inputs), ("outputs", found.nonfinite_outputs)):
            if count:
                raise ValueError(f"{source}: {name} {what} holds NaN or infinite values ({count} of them)")
        return found.output_moments

    moments = checked("training", train)
    for name, data in tests.items():
        checked(f"test ({name})", data)
    return moments


def _train(cfg: dict[str, Any], dev: torch.device, out_dir: str | os.PathLike | None, resume: bool,
           verbose: bool | None, stack: contextlib.ExitStack) -> dict[str, Any]:
    """The body of :func:`run_experiment` on a merged config, inside its process group; the run
    folder's lock joins ``stack``."""
    training, patching_cfg = cfg["training"], cfg["patching"]
    seed = int(training["seed"])
    train, tests = load_data(cfg["data"])
    source = f"data ({cfg['data']['path'] or cfg['data']['name']})"
    loader = {"num_workers": int(cfg["data"]["num_workers"]), "prefetch_factor": int(cfg["data"]["prefetch_factor"])}
    moments = _check_data(train, tests, source, int(training["batch_size"]), loader, dev)
    train_set = as_dataset(train)
    x, y = train_set.__getitems__([0])  # one sample: channel counts and grid dims
    patching = build_patching(patching_cfg)
    extra = patching.extra_channels(x.ndim - 2) if patching is not None else 0
    torch.manual_seed(seed)
    model = build_operator(cfg["model"], x.shape[1], y.shape[1], int(patching_cfg["levels"]), seed, extra).to(dev)
    optimizer, scheduler = _optimizer(model, training)
    normalizer = GaussianNormalizer(y.shape[1]).to(dev).fit_moments(moments) if training["normalize_output"] else None
    out = None if out_dir is None else Path(out_dir)
    if out is not None and ddp.rank() == 0:
        out.mkdir(parents=True, exist_ok=True)
        stack.enter_context(folder_lock(out))
    trainer = Trainer(
        model, optimizer, scheduler, train_loss=training["loss"], batch_size=int(training["batch_size"]), seed=seed,
        output_normalizer=normalizer, patching=patching, patch_parallel=bool(patching_cfg["patch_parallel"]),
        mixed_precision=bool(training["mixed_precision"]), amp_dtype=training["amp_dtype"],
        patch_chunk_size=patching_cfg["chunk_size"],
        grad_clip=training["grad_clip"], save_every=training["save_every"], verbose=verbose,
        checkpoint_path=None if out is None else out / "checkpoint.pt",
        log_path=None if out is None else out / "metrics.json", fingerprint=fingerprint(cfg), **loader,
    )
    history = trainer.fit(train, int(training["n_epochs"]), tests, resume=resume)
    results = {
        "config": cfg, "interrupted": trainer.interrupted, "epochs_done": trainer.epoch,
        "n_parameters": sum(p.numel() for p in model.parameters()),
        "n_spectral_complex_parameters": model.n_spectral_parameters,
        "spectral_compression_ratio": model.compression_ratio,
        "final": history[-1] if history else {}, "world_size": ddp.world_size(),
        "streamed": not isinstance(train, tuple), "n_train": len(train_set),
        "output_normalizer": None if normalizer is None else {"mean": normalizer.mean.tolist(),
                                                               "std": normalizer.std.tolist()},
    }
    if out is not None and ddp.rank() == 0:
        with atomic_write(out / "results.json", "w") as fh:
            json.dump(results, fh, indent=1, default=str)
    return results
