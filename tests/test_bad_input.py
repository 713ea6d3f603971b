"""The bad-input matrix: every public entry point, fed each kind of bad input, raises a clear error
that names the offending argument — never a traceback from deep inside torch, never silent coercion.

Each row is ``(call, exception type, regex the message must match)``. CLI rows run ``tensorkit`` in
process and expect exit status 2 with the message on stderr. No row may leave a file behind: no
output, no checkpoint, no hidden temporary file.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
from pathlib import Path

import numpy as np
import pytest
import torch
import xarray as xr

from tensorkit import ChebTucker, FunBaT
from tensorkit._validation import read_yaml_mapping
from tensorkit.cli import main
from tensorkit.completion import DAIN, read_tsv
from tensorkit.core import CPTensor, FunctionalTucker, IndexBasis, TTTensor, TuckerTensor, cp_als, hooi, hosvd, tt_svd
from tensorkit.data import Observations, funbat_fold, open_dataarray, write_netcdf
from tensorkit.operators import FNO, TFNO, MultigridPatching
from tensorkit.chebyshev.expression import parse_expression
from tensorkit.completion.xarray_io import complete_dataarray
from tensorkit.funbat.xarray_io import funbat_dataset
from tensorkit.operators.experiment import load_config, merge_config
from tensorkit.runtime import (
    atomic_write, check_outputs, check_run_folder, check_writable, load_checkpoint, resolve_device, save_checkpoint,
)


class CLIError(Exception):
    """A CLI run that exited with status 2; the message is its stderr."""


def run_cli(*argv: str) -> None:
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        try:
            status = main(list(argv))
        except SystemExit as exc:
            status = exc.code
    if status != 0:
        raise CLIError(f"status {status}: {err.getvalue()}")


def run_cli_in(folder: Path, *argv: str) -> None:
    """:func:`run_cli` with ``folder`` as the working directory (for default output names)."""
    previous = os.getcwd()
    os.chdir(folder)
    try:
        run_cli(*argv)
    finally:
        os.chdir(previous)


_BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{n}: &{n} [{', '.join([f'*{p}'] * 9)}]\n" for p, n in zip("abcdefgh", "bcdefghi"))


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("bad")
    nc = root / "two.nc"
    xr.Dataset({"a": ("x", [1.0, 2.0]), "b": ("x", [3.0, 4.0])}, coords={"x": [0.0, 1.0]}).to_netcdf(nc)
    truncated = root / "truncated.nc"
    truncated.write_bytes(nc.read_bytes()[:64])
    ckpt = root / "ckpt.pt"
    save_checkpoint(ckpt, {"step": 1})
    corrupt = root / "corrupt.pt"
    corrupt.write_bytes(ckpt.read_bytes()[:40])
    configs = {"unknown": "bogus: 1\n", "wrong_type": "seed: one\n", "not_mapping": "[1, 2]\n", "bad_yaml": "seed: [\n",
               "model_unknown": "model:\n  n_modes: [4, 4]\n  widht: 8\n", "model_modes_str": "model:\n  n_modes: four\n",
               "training_lr_str": "training:\n  lr: fast\n", "data_name": "data:\n  name: weather\n",
               "section_unknown": "optimiser:\n  lr: 0.1\n", "epochs_zero": "training:\n  n_epochs: 0\n",
               "experiment": "training:\n  n_epochs: 1\n"}
    paths = {"nc": nc, "truncated": truncated, "ckpt": ckpt, "corrupt": corrupt, "out": root / "out.nc"}
    paths["tsv_text"] = root / "text.tsv"
    paths["tsv_text"].write_text("0\t1\t2\t0.5\n1\tx\t2\t0.3\n")
    paths["tsv_ragged"] = root / "ragged.tsv"
    paths["tsv_ragged"].write_text("0\t1\t2\t0.5\n1\t2\t0.3\n")
    configs.update(bomb=_BOMB, deep="a: " + "[" * 5000 + "]" * 5000 + "\n", recursive="a: &x [1, *x]\n",
                   nested="a: " + "[" * 60 + "]" * 60 + "\n", huge="# " + "x" * 1_000_001 + "\n",
                   seed_bomb=_BOMB + "seed: *i\n", model_bomb="model:\n  n_modes: " + _BOMB.replace("\n", "\n  ").split(": ", 1)[1])
    for name, text in configs.items():
        paths[name] = root / f"{name}.yaml"
        paths[name].write_text(text)
    grid = xr.DataArray(np.arange(12.0).reshape(3, 4), dims=("t", "x"), coords={"t": np.arange(3.0), "x": np.arange(4.0)}, name="v")
    paths["grid"] = root / "grid.nc"
    grid.to_netcdf(paths["grid"])
    paths["classic"] = root / "classic.nc"
    grid.to_netcdf(paths["classic"], format="NETCDF3_CLASSIC", engine="scipy")
    paths["classic_cut"] = root / "classic_cut.nc"
    paths["classic_cut"].write_bytes(paths["classic"].read_bytes()[:-8])
    paths["header_cut"] = root / "header_cut.nc"
    paths["header_cut"].write_bytes(paths["classic"].read_bytes()[:30])
    paths["scalar"] = root / "scalar.nc"
    xr.Dataset({"s": ((), 1.5)}).to_netcdf(paths["scalar"])
    paths["text_nc"] = root / "text.nc"
    paths["text_nc"].write_text("0\t0.5\n1\t0.3\n2\t0.1\n")
    paths["tsv"] = root / "cells.tsv"
    paths["tsv"].write_text("".join(f"{i % 3}\t{i % 4}\t{i % 5}\t{i / 10}\n" for i in range(10)))
    (grid * 1e160).to_netcdf(root / "huge.nc")
    grid.assign_coords(x=[0.0, 1.0, 1.0, 2.0]).to_netcdf(root / "dup_coord.nc")
    grid.isel(t=slice(0, 1)).to_netcdf(root / "one_point.nc")
    grid.assign_coords(t=xr.cftime_range("2000-01-01", periods=3, calendar="noleap")).to_netcdf(root / "cftime.nc")
    for name in ("run_cut", "run_old"):  # a train-operator run folder with a cut checkpoint, one without its configuration
        (root / name).mkdir()
    (root / "run_cut" / "checkpoint.pt").write_bytes(corrupt.read_bytes())
    (root / "run_old" / "checkpoint.pt").write_bytes(ckpt.read_bytes())
    paths["existing"] = root / "existing.nc"
    paths["existing"].write_text("keep me")
    paths["folder"] = root / "folder"
    paths["folder"].mkdir()
    paths["cwd"] = root / "cwd"
    paths["cwd"].mkdir()
    for name in ("funbat.nc", "tensorkit_demo.nc"):
        (paths["cwd"] / name).write_bytes(paths["grid"].read_bytes())
    paths["long"] = root / ("n" * 300 + ".nc")
    paths["missing_dir"] = root / "missing" / "out.nc"
    paths["under_file"] = paths["existing"] / "out.nc"
    return paths


X = torch.randn(6, 5, 4, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
TUCKER = TuckerTensor(torch.ones(2, 2, 2, dtype=torch.float64), [torch.ones(n, 2, dtype=torch.float64) for n in X.shape])
DA = xr.DataArray(X[:, :, 0].numpy(), dims=("lat", "lon"), coords={"lat": np.arange(6.0), "lon": np.arange(5.0)})
P = pytest.param

CORE = [
    P(lambda f: TuckerTensor(torch.zeros(2, 2), [torch.zeros(3, 2), torch.zeros(3, 3)]), ValueError, r"factors\[1\]", id="tucker-factor-shape"),
    P(lambda f: TuckerTensor(torch.zeros(2, 2), [torch.zeros(3, 2)]), ValueError, "factors", id="tucker-factor-count"),
    P(lambda f: TuckerTensor(torch.zeros(2), [np.zeros((3, 2))]), TypeError, "torch.Tensor", id="tucker-numpy-factor"),
    P(lambda f: CPTensor(torch.zeros(2, 2), [torch.zeros(3, 2)]), ValueError, "weights", id="cp-weights-ndim"),
    P(lambda f: CPTensor(torch.ones(2, dtype=torch.long), [torch.ones(3, 2, dtype=torch.long)]), TypeError, "floating", id="cp-integer"),
    P(lambda f: CPTensor(torch.ones(2), []), ValueError, "factors", id="cp-empty"),
    P(lambda f: TTTensor([torch.zeros(1, 3, 2), torch.zeros(3, 3, 1)]), ValueError, "left rank", id="tt-rank-chain"),
    P(lambda f: TTTensor([torch.zeros(2, 3, 1)]), ValueError, "rank must be 1", id="tt-boundary-rank"),
    P(lambda f: TTTensor([torch.zeros(3, 1)]), ValueError, "3-D", id="tt-core-ndim"),
    P(lambda f: TUCKER.at(torch.tensor([[0, 0, 4]])), IndexError, r"indices\[:, 2\]", id="at-out-of-range"),
    P(lambda f: TUCKER.at(torch.tensor([[0, 0]])), ValueError, "columns", id="at-columns"),
    P(lambda f: TUCKER.at(torch.tensor([[0.5, 0.0, 0.0]])), TypeError, "integers", id="at-float-indices"),
    P(lambda f: TUCKER.at(torch.tensor([0, 0, 0])), ValueError, "2 dimension", id="at-1d"),
    P(lambda f: TUCKER.mode_product(torch.ones(2, 7, dtype=torch.float64), 0), ValueError, "matrix", id="mode-product-shape"),
    P(lambda f: TUCKER.mode_product(torch.ones(2, 6, dtype=torch.float64), 3), ValueError, "mode", id="mode-product-mode"),
    P(lambda f: TUCKER.inner(torch.zeros(2, 2, 2)), ValueError, "shape", id="inner-shape"),
    P(lambda f: hooi(X, rank=0), ValueError, r"rank\[0\]", id="hooi-rank-zero"),
    P(lambda f: hooi(X, rank=(3, 6, 2)), ValueError, "exceeds the size of mode 1", id="hooi-rank-too-large"),
    P(lambda f: hooi(X, rank=(2, 2)), ValueError, "one entry per mode", id="hooi-rank-length"),
    P(lambda f: hooi(X, rank="2"), TypeError, "rank", id="hooi-rank-string"),
    P(lambda f: hooi(X), ValueError, "rank, tol", id="hooi-no-rank"),
    P(lambda f: hooi(X, tol=-1.0), ValueError, "tol", id="hooi-negative-tol"),
    P(lambda f: hooi(X.masked_fill(X > 0.5, float("nan")), rank=2), ValueError, "NaN", id="hooi-nan-no-mask"),
    P(lambda f: hooi(X, rank=2, mask=torch.ones(3, 3, dtype=torch.bool)), ValueError, "mask must have", id="hooi-mask-shape"),
    P(lambda f: hooi(X, rank=2, mask=torch.zeros(X.shape, dtype=torch.bool)), ValueError, "no observed", id="hooi-all-missing"),
    P(lambda f: hooi(X, rank=2, mask=torch.ones(X.shape)), TypeError, "mask", id="hooi-mask-dtype"),
    P(lambda f: hooi(X.long(), rank=2), TypeError, "floating", id="hooi-integer-tensor"),
    P(lambda f: hooi(X.numpy(), rank=2), TypeError, "torch.Tensor", id="hooi-numpy"),
    P(lambda f: hooi(X, rank=2, n_iter_max=0), ValueError, "n_iter_max", id="hooi-iterations"),
    P(lambda f: cp_als(X, rank=1.5), TypeError, "rank", id="cp-als-float-rank"),
    P(lambda f: cp_als(X, rank=2, init="magic"), ValueError, "init", id="cp-als-init"),
    P(lambda f: cp_als(X.masked_fill(X > 0, float("inf")), rank=2), ValueError, "infinite", id="cp-als-inf"),
    P(lambda f: tt_svd(X), ValueError, "rank, tol", id="tt-svd-no-rank"),
    P(lambda f: tt_svd(X, rank=[2]), ValueError, "inner", id="tt-svd-rank-length"),
    P(lambda f: tt_svd(X[0, 0], rank=2), ValueError, "at least 2 modes", id="tt-svd-vector"),
    P(lambda f: hosvd(X.masked_fill(X > 0.5, float("inf")), 2), ValueError, "infinite", id="hosvd-inf"),
    P(lambda f: hosvd(torch.zeros(0, 3, dtype=torch.float64), 1), ValueError, "empty", id="hosvd-empty"),
    P(lambda f: FunctionalTucker(torch.zeros(2, 2), [IndexBasis(torch.zeros(3, 2))]), ValueError, "bases", id="functional-count"),
    P(lambda f: FunctionalTucker(torch.zeros(2), [object()]), TypeError, "Basis", id="functional-not-basis"),
    P(lambda f: IndexBasis(torch.zeros(3, 2))(torch.tensor([0.5])), ValueError, "whole numbers", id="index-basis-fraction"),
    P(lambda f: IndexBasis(torch.zeros(3))(torch.tensor([0])), ValueError, "2-D", id="index-basis-matrix"),
]

DATA = [
    P(lambda f: Observations.from_dataarray(DA.assign_coords(lon=[0.0, 2.0, 1.0, 3.0, 4.0])), ValueError, "unsorted", id="obs-unsorted"),
    P(lambda f: Observations.from_dataarray(DA.assign_coords(lon=[0.0, 1.0, 1.0, 3.0, 4.0])), ValueError, "duplicated", id="obs-duplicated"),
    P(lambda f: Observations.from_dataarray(DA.assign_coords(lon=[0.0, np.nan, 1.0, 3.0, 4.0])), ValueError, "NaN", id="obs-nan-coordinate"),
    P(lambda f: Observations.from_dataarray(DA.where(False)), ValueError, "no observed", id="obs-all-nan"),
    P(lambda f: Observations.from_dataarray(DA.isel(lat=slice(0, 0))), ValueError, "empty", id="obs-empty"),
    P(lambda f: Observations.from_dataarray(DA.copy(data=np.full(DA.shape, np.inf))), ValueError, "infinite", id="obs-inf"),
    P(lambda f: Observations.from_dataarray(DA.astype(str)), TypeError, "numeric", id="obs-strings"),
    P(lambda f: Observations.from_dataarray(DA.assign_coords(lon=list("abcde"))), TypeError, "coordinate 'lon'", id="obs-string-coordinate"),
    P(lambda f: Observations.from_dataarray(DA.values), TypeError, "DataArray", id="obs-not-dataarray"),
    P(lambda f: Observations.from_indices([[0, 1]], [1.0, 2.0]), ValueError, "mismatched lengths", id="obs-lengths"),
    P(lambda f: Observations.from_indices([[0, 5]], [1.0], shape=(2, 3)), IndexError, r"indices\[:, 1\]", id="obs-index-range"),
    P(lambda f: Observations.from_indices([[0.5, 1]], [1.0]), TypeError, "integers", id="obs-float-indices"),
    P(lambda f: Observations.from_indices([[0, 1]], [np.inf]), ValueError, "infinite", id="obs-inf-values"),
    P(lambda f: Observations.from_indices(np.zeros((0, 2), int), []), ValueError, "empty", id="obs-no-rows"),
    P(lambda f: Observations.from_indices([[0, 1]], [1.0], coords=[[0.0], [2.0, 1.0]]), ValueError, r"coords\[1\]", id="obs-coords-unsorted"),
    P(lambda f: Observations.from_points([[0.0, np.nan]], [1.0]), ValueError, "points", id="obs-nan-points"),
    P(lambda f: Observations.from_points([[0.0, 1.0]], [1.0, 2.0]), ValueError, "mismatched lengths", id="obs-points-lengths"),
    P(lambda f: Observations.from_points([0.0, 1.0], [1.0, 2.0]), ValueError, "2 dimension", id="obs-points-1d"),
    P(lambda f: Observations.from_points([["a", "b"]], [1.0]), TypeError, "numeric", id="obs-points-strings"),
    P(lambda f: Observations.from_dataarray(DA).split((0.5, 0.6)), ValueError, "fractions", id="obs-split-fractions"),
    P(lambda f: open_dataarray(f["nc"], "c"), KeyError, "'c' not found", id="nc-missing-variable"),
    P(lambda f: open_dataarray(f["nc"]), ValueError, "choose one with var", id="nc-ambiguous-variable"),
    P(lambda f: open_dataarray(f["nc"].with_name("none.nc")), FileNotFoundError, "does not exist", id="nc-missing-file"),
    P(lambda f: open_dataarray(f["truncated"], "a"), ValueError, "cannot read", id="nc-truncated"),
    P(lambda f: open_dataarray(f["nc"], "a", engine="zarr"), ValueError, "engine", id="nc-engine"),
    P(lambda f: write_netcdf(np.zeros(3), f["out"]), TypeError, "obj", id="nc-write-not-xarray"),
    P(lambda f: write_netcdf(DA, f["out"].parent / "missing" / "x.nc"), FileNotFoundError, "directory", id="nc-write-missing-dir"),
    P(lambda f: funbat_fold("data/none.npz"), FileNotFoundError, "TENSORKIT_SHARED_DATA", id="loader-missing"),
]

PTS = torch.rand(30, 2, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
VALS = torch.rand(30, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
SUM3 = lambda x, y, z: x + y + z  # noqa: E731

FUNBAT = [
    P(lambda f: FunBaT(rank=0), ValueError, "rank", id="funbat-rank-zero"),
    P(lambda f: FunBaT(kernel="rbf"), ValueError, "kernel", id="funbat-kernel"),
    P(lambda f: FunBaT(damping=1.5), ValueError, "damping", id="funbat-damping"),
    P(lambda f: FunBaT(n_epochs=0), ValueError, "n_epochs", id="funbat-epochs"),
    P(lambda f: FunBaT(lengthscale=-1.0), ValueError, "lengthscale", id="funbat-lengthscale"),
    P(lambda f: FunBaT(decomposition="tt"), ValueError, "decomposition", id="funbat-decomposition"),
    P(lambda f: FunBaT(rank=2.0), TypeError, "rank", id="funbat-rank-float"),
    P(lambda f: FunBaT(seed=1.5), TypeError, "seed", id="funbat-seed-float"),
    P(lambda f: FunBaT(n_epochs=2).fit(PTS.half(), VALS), TypeError, "coords must be float32", id="funbat-float16"),
    P(lambda f: FunBaT(n_epochs=2).fit(PTS, VALS.clone().requires_grad_()), ValueError, "values requires grad", id="funbat-requires-grad"),
    P(lambda f: FunBaT(n_epochs=2).fit(PTS[:, :1], VALS), ValueError, "at least 2 columns", id="funbat-one-mode"),
    P(lambda f: FunBaT(n_epochs=2).fit(PTS.masked_fill(PTS > 0.9, float("nan")), VALS), ValueError, "coords contains NaN", id="funbat-nan-coords"),
    P(lambda f: FunBaT(n_epochs=2).fit(PTS, VALS.masked_fill(VALS > 0.9, float("inf"))), ValueError, "values contains infinite", id="funbat-inf-values"),
    P(lambda f: FunBaT(n_epochs=2).fit(PTS, VALS[:5]), ValueError, "values", id="funbat-lengths"),
    P(lambda f: FunBaT(n_epochs=2).fit(PTS[:, 0], VALS), ValueError, "coords must have 2 dimension", id="funbat-1d-coords"),
    P(lambda f: FunBaT(n_epochs=2).fit(PTS[:0], VALS[:0]), ValueError, "coords is empty", id="funbat-empty"),
    P(lambda f: FunBaT(n_epochs=2).fit(np.array([["a", "b"]]), [1.0]), TypeError, "coords must be numeric", id="funbat-strings"),
    P(lambda f: FunBaT(rank=(2, 2, 2), n_epochs=2).fit(PTS, VALS), ValueError, "rank", id="funbat-rank-modes"),
    P(lambda f: FunBaT(n_epochs=2).fit(DA.where(False)), ValueError, "no observed", id="funbat-all-nan"),
    P(lambda f: FunBaT(n_epochs=2).fit(DA, VALS), ValueError, "values must be None", id="funbat-dataarray-and-values"),
    P(lambda f: FunBaT().predict(PTS), RuntimeError, "not fitted", id="funbat-predict-unfitted"),
    P(lambda f: FunBaT(n_epochs=2).fit(PTS, VALS).predict(PTS[:, :1]), ValueError, "coords must have 2 columns", id="funbat-predict-columns"),
]

CHEBTUCKER = [
    P(lambda f: ChebTucker(tol=0), ValueError, "tol", id="chebtucker-tol"),
    P(lambda f: ChebTucker(kind=3), ValueError, "kind", id="chebtucker-kind"),
    P(lambda f: ChebTucker(degree=0), ValueError, r"degree\[0\]", id="chebtucker-degree"),
    P(lambda f: ChebTucker(degree=4, rank=9).fit(SUM3), ValueError, r"rank\[0\]", id="chebtucker-rank-too-large"),
    P(lambda f: ChebTucker().fit(torch.full((5, 5, 5), float("nan"), dtype=torch.float64)), ValueError, "NaN", id="chebtucker-nan-grid"),
    P(lambda f: ChebTucker().fit("sin"), TypeError, "f must be numeric", id="chebtucker-string-input"),
    P(lambda f: ChebTucker(domain=[(1, 0)] * 3).fit(SUM3), ValueError, r"domain\[0\]", id="chebtucker-domain"),
    P(lambda f: ChebTucker(degree=4).fit(lambda x, y, z: x / 0 * 0), ValueError, "non-finite", id="chebtucker-nan-function"),
    P(lambda f: ChebTucker()(torch.zeros(1, 3)), RuntimeError, "not fitted", id="chebtucker-unfitted"),
    P(lambda f: ChebTucker(degree=4).fit(SUM3)(torch.zeros(2, 2, dtype=torch.float64)), ValueError, "points must have 3 columns", id="chebtucker-point-columns"),
    P(lambda f: ChebTucker(degree=4).fit(DA.assign_coords(lon=[0.0, 1.0, 1.0, 2.0, 3.0])), ValueError,
      "f: dimension 'lon' must be strictly increasing or decreasing", id="chebtucker-duplicated-coordinate"),
    P(lambda f: ChebTucker(degree=4).fit(DA.isel(lat=[0])), ValueError, "f: dimension 'lat' has 1 point; at least 2", id="chebtucker-one-point"),
    P(lambda f: ChebTucker(degree=4).fit(DA.assign_coords(lon=[0.0, np.nan, 1.0, 3.0, 4.0])), ValueError, "no duplicates or NaN", id="chebtucker-nan-coordinate"),
]

IDX = torch.stack([torch.randint(0, n, (60,), generator=torch.Generator().manual_seed(n)) for n in (5, 6, 7)], 1)
Y = torch.randn(60, generator=torch.Generator().manual_seed(3), dtype=torch.float64)

DAIN_ROWS = [
    P(lambda f: DAIN(model="transformer"), ValueError, "model must be one of", id="dain-model"),
    P(lambda f: DAIN(augment_ratio=-0.1), ValueError, "augment_ratio", id="dain-ratio"),
    P(lambda f: DAIN(sampler="random"), ValueError, "sampler must be one of", id="dain-sampler"),
    P(lambda f: DAIN(seed=1.5), TypeError, "seed", id="dain-seed"),
    P(lambda f: DAIN(model="cp").fit(IDX.double(), Y), TypeError, "indices must hold integers", id="dain-float-indices"),
    P(lambda f: DAIN(model="cp").fit(IDX - 1, Y), IndexError, r"indices\[:, 0\]", id="dain-negative-indices"),
    P(lambda f: DAIN(model="cp").fit(IDX, Y.masked_fill(Y > 1, float("nan"))), ValueError, "values contains NaN", id="dain-nan-values"),
    P(lambda f: DAIN(model="cp").fit(IDX, Y[:10]), ValueError, "indices=60, values=10", id="dain-lengths"),
    P(lambda f: DAIN(model="cp").fit(IDX[:0], Y[:0]), ValueError, "indices is empty", id="dain-empty"),
    P(lambda f: DAIN(model="cp").fit(IDX[:, 0], Y), ValueError, "indices must have 2 dimension", id="dain-1d-indices"),
    P(lambda f: DAIN(model="cp").fit(np.array([["a", "b", "c"]]), [1.0]), TypeError, "indices must be numeric", id="dain-strings"),
    P(lambda f: DAIN().predict(IDX), RuntimeError, "not fitted", id="dain-predict-unfitted"),
    P(lambda f: DA.where(False).tk.complete(), ValueError, "no observed", id="accessor-complete-all-nan"),
    P(lambda f: DA.tk.complete(model="svd"), ValueError, "model must be one of", id="accessor-complete-model"),
    P(lambda f: read_tsv(f["tsv_text"]), ValueError, "not a tab-separated", id="tsv-text"),
    P(lambda f: read_tsv(f["tsv_ragged"]), ValueError, "tab-separated", id="tsv-ragged"),
]

OPERATORS = [
    P(lambda f: TFNO((8, 8), 1, 1, 8, factorization="svd"), ValueError, "factorization must be one of", id="tfno-factorization"),
    P(lambda f: TFNO((8, 8), 1, 1, 8, rank=-0.5), ValueError, "rank", id="tfno-rank-negative"),
    P(lambda f: TFNO((8, 8), 1, 1, 8, rank=(2, 2)), ValueError, "rank must have one entry per mode", id="tfno-rank-length"),
    P(lambda f: TFNO((8, 0), 1, 1, 8), ValueError, r"n_modes\[1\]", id="tfno-modes"),
    P(lambda f: TFNO((8, 8), 1, 1, 8, implementation="fast"), ValueError, "implementation", id="tfno-implementation"),
    P(lambda f: TFNO((8, 8), 1, 1, 8, blocks="centred"), ValueError, "blocks must be one of", id="tfno-blocks"),
    P(lambda f: TFNO((8, 8), 0, 1, 8), ValueError, "in_channels", id="tfno-channels"),
    P(lambda f: TFNO((8, 8), 1, 1, 8, n_layers=0), ValueError, "n_layers", id="tfno-layers"),
    P(lambda f: TFNO((8, 8), 1, 1, 8)(torch.randn(2, 3, 16, 16)), ValueError, "x must have shape", id="tfno-input-channels"),
    P(lambda f: TFNO((8, 8), 1, 1, 8)(torch.randn(2, 1, 16)), ValueError, "x must have shape", id="tfno-input-ndim"),
    P(lambda f: TFNO((8, 8), 1, 1, 8)(torch.randn(2, 1, 16, 16, dtype=torch.float64)), TypeError, "x must have the model's dtype", id="tfno-input-dtype"),
    *(P(lambda f, a=a, k=k: TFNO(*a, **k), ValueError, "would store .* complex entries, more than 2.68e\\+08 \\(2 GiB\\): lower n_modes",
        id=f"tfno-too-large-{i}") for i, (a, k) in enumerate([(((1000, 1000), 1, 1, 64), {}), (((256, 256), 1, 1, 128), {"factorization": None})])),
    P(lambda f: TFNO((8, 8), 1, 1, 8)(torch.randn(2, 1, 16, 16).index_fill_(2, torch.tensor([3]), float("nan"))), ValueError,
      "x holds 32 NaN or infinite value", id="tfno-input-nan"),
    P(lambda f: TFNO((8, 8), 1, 1, 8).eval()(torch.full((1, 1, 16, 16), float("inf"))), ValueError, "x holds 256 NaN or infinite", id="tfno-input-inf-eval"),
    P(lambda f: FNO((8, 8), 1, 1, 8).eval()(torch.full((1, 1, 16, 16), float("nan"))), ValueError, "x holds 256 NaN", id="fno-input-nan-eval"),
    P(lambda f: MultigridPatching(-1, 0.1), ValueError, "levels", id="patching-levels"),
    P(lambda f: MultigridPatching(1, 0.7), ValueError, "padding_fraction", id="patching-padding"),
    P(lambda f: MultigridPatching(2, 0.1).patch(torch.randn(1, 1, 10, 10)), ValueError, "x: spatial size 10", id="patching-indivisible"),
    P(lambda f: MultigridPatching(1, 0.125).unpatch(torch.randn(3, 1, 10, 10)), ValueError, "y must have shape", id="patching-unpatch-batch"),
    P(lambda f: load_config(f["model_unknown"]), ValueError, "unknown key model.widht", id="operator-config-model-key"),
    P(lambda f: load_config(f["model_modes_str"]), TypeError, "model.n_modes must be list", id="operator-config-modes-type"),
    P(lambda f: load_config(f["training_lr_str"]), TypeError, "training.lr must be float", id="operator-config-lr-type"),
    P(lambda f: load_config(f["section_unknown"]), ValueError, "unknown config section 'optimiser'", id="operator-config-section"),
    P(lambda f: load_config(f["nc"]), ValueError, "experiment file: cannot read", id="operator-config-binary"),
    P(lambda f: merge_config({"patching": {"stitching": 1}}), TypeError, "patching.stitching must be bool", id="operator-config-bool"),
]

NEEDS_SHARED_DATA = [
    P(lambda f: funbat_fold("data/synthetic/simulation_r1.npz", fold=3), ValueError, "fold", id="loader-fold"),
]

RUNTIME = [
    P(lambda f: load_checkpoint(f["corrupt"]), ValueError, "truncated or corrupt", id="checkpoint-corrupt"),
    P(lambda f: load_checkpoint(f["ckpt"].with_name("none.pt")), FileNotFoundError, "does not exist", id="checkpoint-missing"),
    P(lambda f: load_checkpoint(f["nc"]), ValueError, "truncated or corrupt|not a tensorkit", id="checkpoint-not-checkpoint"),
    P(lambda f: save_checkpoint(f["out"], {"rng_state": 0}), ValueError, "reserved", id="checkpoint-reserved-key"),
    P(lambda f: resolve_device("tpu7"), ValueError, "device", id="device-unknown"),
    P(lambda f: atomic_write(f["out"], "a").__enter__(), ValueError, "mode", id="atomic-append"),
]

CLI = [
    P(lambda f: run_cli("demo", "--config", str(f["unknown"]), "--out", str(f["out"])), CLIError, "unknown option 'bogus'", id="cli-config-unknown-key"),
    P(lambda f: run_cli("demo", "--config", str(f["wrong_type"]), "--out", str(f["out"])), CLIError, "'seed' must be int", id="cli-config-wrong-type"),
    P(lambda f: run_cli("demo", "--config", str(f["not_mapping"]), "--out", str(f["out"])), CLIError, "mapping", id="cli-config-not-mapping"),
    P(lambda f: run_cli("demo", "--config", str(f["bad_yaml"]), "--out", str(f["out"])), CLIError, "not valid YAML", id="cli-config-bad-yaml"),
    P(lambda f: run_cli("demo", "--config", str(f["out"].with_name("none.yaml"))), CLIError, "cannot read", id="cli-config-missing"),
    P(lambda f: run_cli("demo", "--holdout", "1.5", "--out", str(f["out"])), CLIError, "--holdout", id="cli-demo-holdout"),
    P(lambda f: run_cli("demo", "--seed", "x"), CLIError, "--seed", id="cli-seed-type"),
    P(lambda f: run_cli("nosuchcommand"), CLIError, "invalid choice", id="cli-unknown-command"),
    P(lambda f: run_cli("funbat", str(f["nc"]), "--var", "c", "--out", str(f["out"])), CLIError, "'c' not found", id="cli-funbat-missing-variable"),
    P(lambda f: run_cli("funbat", str(f["truncated"]), "--var", "a", "--out", str(f["out"])), CLIError, "cannot read", id="cli-funbat-truncated"),
    P(lambda f: run_cli("funbat", str(f["nc"]) + ".none", "--out", str(f["out"])), CLIError, "does not exist", id="cli-funbat-missing-file"),
    P(lambda f: run_cli("funbat", str(f["nc"]), "--var", "a", "--rank", "0", "--out", str(f["out"])), CLIError, "rank", id="cli-funbat-rank"),
    P(lambda f: run_cli("chebtucker", "x + foo", "--out", str(f["out"])), CLIError, "unknown names", id="cli-chebtucker-unknown-name"),
    P(lambda f: run_cli("chebtucker", "__import__('os')", "--out", str(f["out"])), CLIError, "expression", id="cli-chebtucker-code"),
    P(lambda f: run_cli("chebtucker", str(f["nc"]), "--var", "c", "--out", str(f["out"])), CLIError, "'c' not found", id="cli-chebtucker-missing-variable"),
    P(lambda f: run_cli("chebtucker", "x+y+z", "--tol", "-1", "--out", str(f["out"])), CLIError, "tol", id="cli-chebtucker-tol"),
    P(lambda f: run_cli("complete", str(f["nc"]), "--var", "c", "--out", str(f["out"])), CLIError, "'c' not found", id="cli-complete-missing-variable"),
    P(lambda f: run_cli("complete", str(f["nc"]), "--out", str(f["out"])), CLIError, "choose one", id="cli-complete-ambiguous-variable"),
    P(lambda f: run_cli("complete", str(f["truncated"]), "--var", "a", "--out", str(f["out"])), CLIError, "cannot read", id="cli-complete-truncated"),
    P(lambda f: run_cli("complete", str(f["tsv_text"]), "--out", str(f["out"])), CLIError, "tab-separated", id="cli-complete-bad-tsv"),
    P(lambda f: run_cli("complete", str(f["nc"]), "--var", "a", "--rank", "0", "--out", str(f["out"])), CLIError, "--rank", id="cli-complete-rank"),
    P(lambda f: run_cli("complete", str(f["nc"]), "--var", "a", "--ratio", "-1", "--out", str(f["out"])), CLIError, "augment_ratio", id="cli-complete-ratio"),
    P(lambda f: run_cli("complete", str(f["nc"]), "--var", "a", "--holdout", "1", "--out", str(f["out"])), CLIError, "--holdout", id="cli-complete-holdout"),
    P(lambda f: run_cli("train-operator", str(f["model_unknown"]), "--out", str(f["out"])), CLIError, "unknown key model.widht", id="cli-operator-model-key"),
    P(lambda f: run_cli("train-operator", str(f["data_name"]), "--out", str(f["out"])), CLIError, "data.name", id="cli-operator-data-name"),
    P(lambda f: run_cli("train-operator", str(f["epochs_zero"]), "--out", str(f["out"])), CLIError, "n_epochs", id="cli-operator-epochs"),
    P(lambda f: run_cli("train-operator", str(f["out"].with_name("none.yaml")), "--out", str(f["out"])), CLIError, "cannot read", id="cli-operator-missing-config"),
    *(P(lambda f, r=r: run_cli("predict", str(f["out"].with_name(r)), str(f["grid"]), "--out", str(f["out"])), CLIError, m, id=f"cli-predict-{r}")
      for r, m in [("none_run", "run folder '.*none_run' does not exist"), ("existing.nc", "existing.nc' is a file; give the --out folder"),
                   ("folder", "folder' holds no checkpoint.pt"), ("run_cut", "checkpoint.pt' is truncated or corrupt"),
                   ("run_old", "checkpoint.pt' holds no run configuration")]),
]


def _listing(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): p.stat().st_size for p in folder.rglob("*")}


# -- batch jobs: every command's outputs checked before any work, by one policy --------------------
_CMD_INPUT = {"funbat": ["funbat", "{grid}"], "complete": ["complete", "{grid}"], "chebtucker": ["chebtucker", "{grid}"],
              "demo": ["demo"], "predict": ["predict", "{folder}", "{grid}"]}


def _cmd(name: str, f: dict[str, Path], *extra: str) -> list[str]:
    return [a.format(grid=f["grid"], folder=f["folder"]) for a in _CMD_INPUT[name]] + list(extra)


OUTPUTS = [
    *(P(lambda f, c=c: run_cli(*_cmd(c, f), "--out", str(f["existing"])), CLIError, "--out '.*existing.nc' already exists; pass --overwrite",
        id=f"cli-{c}-existing-output") for c in _CMD_INPUT),
    *(P(lambda f, c=c: run_cli(*_cmd(c, f), "--out", str(f["folder"]), "--overwrite"), CLIError, "--out '.*folder' is a folder",
        id=f"cli-{c}-output-is-folder") for c in _CMD_INPUT),
    *(P(lambda f, c=c: run_cli(*_cmd(c, f), "--out", str(f["missing_dir"])), CLIError, "--out .*folder '.*missing' does not exist",
        id=f"cli-{c}-output-folder-missing") for c in _CMD_INPUT),
    *(P(lambda f, c=c: run_cli(*_cmd(c, f), "--out", str(f["under_file"])), CLIError, "--out .*existing.nc' is not a folder",
        id=f"cli-{c}-output-under-a-file") for c in _CMD_INPUT),
    *(P(lambda f, c=c: run_cli(*_cmd(c, f), "--out", str(f["long"])), CLIError, "--out '.*nnn.nc' cannot be written: File name too long",
        id=f"cli-{c}-output-name-too-long") for c in _CMD_INPUT),
    *(P(lambda f, c=c: run_cli(*_cmd(c, f), "--out", str(f["grid"]), "--overwrite"), CLIError, "--out '.*grid.nc' is the input file",
        id=f"cli-{c}-output-is-input") for c in ("funbat", "complete", "chebtucker", "predict")),
    P(lambda f: run_cli_in(f["cwd"], "funbat", "funbat.nc", "--overwrite"), CLIError, "--out 'funbat.nc' is the input file", id="cli-funbat-default-output-is-input"),
    P(lambda f: run_cli_in(f["cwd"], "funbat", "funbat.nc"), CLIError, "--out 'funbat.nc' is the input file", id="cli-funbat-default-output-is-input-no-overwrite"),
    P(lambda f: run_cli_in(f["cwd"], "demo"), CLIError, "--out 'tensorkit_demo.nc' already exists", id="cli-demo-default-output-exists"),
    *(P(lambda f, c=c: run_cli(*_cmd(c, f), "--out", str(f["out"]), "--figure", str(f["out"])), CLIError, "--figure and --out name the same file",
        id=f"cli-{c}-figure-is-output") for c in ("funbat", "demo")),
    *(P(lambda f, c=c: run_cli(*_cmd(c, f), "--out", str(f["out"]), "--figure", str(f["missing_dir"])), CLIError, "--figure .*missing' does not exist",
        id=f"cli-{c}-figure-folder-missing") for c in ("funbat", "demo")),
    *(P(lambda f, c=c: run_cli(*_cmd(c, f), "--out", str(f["out"]), "--figure", str(f["existing"])), CLIError, "--figure .*existing.nc' already exists",
        id=f"cli-{c}-figure-exists") for c in ("funbat", "demo")),
    P(lambda f: run_cli("funbat", str(f["grid"]), "--out", str(f["out"]), "--figure", str(f["grid"]), "--overwrite"), CLIError, "--figure .*is the input file", id="cli-funbat-figure-is-input"),
    P(lambda f: run_cli("train-operator", str(f["experiment"]), "--out", str(f["existing"])), CLIError, "--out '.*existing.nc' is a file; a run folder is needed", id="cli-operator-run-folder-is-file"),
    P(lambda f: run_cli("train-operator", str(f["experiment"]), "--out", str(f["under_file"])), CLIError, "--out '.*out.nc' cannot be created: '.*existing.nc' is a file", id="cli-operator-run-folder-under-file"),
    P(lambda f: run_cli("train-operator", str(f["experiment"]), "--out", str(f["long"])), CLIError, "--out '.*nnn.nc' cannot be written: File name too long", id="cli-operator-run-folder-name-too-long"),
    P(lambda f: run_cli("train-operator", str(f["experiment"]), "--out", str(f["missing_dir"].parent / ("n" * 300) / "run")), CLIError, "cannot be written: File name too long", id="cli-operator-run-folder-parent-too-long"),
    P(lambda f: check_outputs({"--out": f["existing"]}), FileExistsError, "--out .*existing.nc' already exists", id="outputs-existing"),
    P(lambda f: check_outputs({"out": f["nc"]}, inputs=[f["nc"]], overwrite=True), ValueError, "out '.*two.nc' is the input file", id="outputs-input"),
    P(lambda f: check_outputs({"a": f["out"], "b": f["out"]}), ValueError, "b and a name the same file", id="outputs-duplicate"),
    P(lambda f: check_writable(f["long"], "checkpoint"), ValueError, "checkpoint '.*' cannot be written: File name too long", id="writable-long-name"),
    P(lambda f: check_writable(f["missing_dir"], "checkpoint"), ValueError, "checkpoint .*missing' does not exist", id="writable-missing-folder"),
    P(lambda f: check_run_folder(f["existing"]), ValueError, "--out '.*existing.nc' is a file", id="run-folder-is-file"),
    P(lambda f: check_run_folder(f["under_file"]), ValueError, "--out '.*out.nc' cannot be created", id="run-folder-under-file"),
]

DAMAGED = [
    *(P(lambda f, c=c: run_cli(c, str(f["classic_cut"]), "--out", str(f["out"])), CLIError, "classic_cut.nc' is damaged \(truncated\)",
        id=f"cli-{c}-truncated-classic") for c in ("funbat", "complete", "chebtucker")),
    *(P(lambda f, c=c: run_cli(c, str(f["header_cut"]), "--out", str(f["out"])), CLIError, "header_cut.nc' is damaged: its netCDF header",
        id=f"cli-{c}-cut-header") for c in ("funbat", "complete", "chebtucker")),
    P(lambda f: open_dataarray(f["classic_cut"]), ValueError, "classic_cut.nc' is damaged \(truncated\)", id="nc-truncated-classic"),
    P(lambda f: open_dataarray(f["header_cut"]), ValueError, "header_cut.nc' is damaged", id="nc-cut-header"),
    P(lambda f: run_cli("chebtucker", str(f["text_nc"]), "--out", str(f["out"])), CLIError, "text.nc' is not a netCDF file", id="cli-chebtucker-text-named-nc"),
    P(lambda f: run_cli("chebtucker", str(f["folder"]), "--out", str(f["out"])), CLIError, "folder' does not exist", id="cli-chebtucker-input-folder"),
    P(lambda f: run_cli("complete", str(f["text_nc"]), "--out", str(f["out"])), CLIError, "text.nc' needs at least two index columns", id="cli-complete-text-named-nc"),
    *(P(lambda f, c=c: run_cli(c, str(f["scalar"]), "--out", str(f["out"])), CLIError, "scalar",
        id=f"cli-{c}-scalar-variable") for c in ("funbat", "complete", "chebtucker")),
    *(P(lambda f, n=n: run_cli("chebtucker", str(f["grid"].with_name(f"{n}.nc")), "--degree", "2", "--out", str(f["out"])), CLIError, f"{n}.nc': {m}",
        id=f"cli-chebtucker-{n}") for n, m in [("dup_coord", "dimension 'x' must be strictly increasing or decreasing"),
                                                ("one_point", "dimension 't' has 1 point"),
                                                ("cftime", "coordinate 't' must be real numbers, got dtype object")]),
    P(lambda f: load_checkpoint(f["folder"]), ValueError, "folder' is a folder", id="checkpoint-folder"),
    *(P(lambda f, k=k: _truncated_checkpoint(f, k), ValueError, "ckpt_cut.pt' is truncated or corrupt", id=f"checkpoint-cut-{k}")
      for k in (0.25, 0.5, 0.75, 0.95)),
]


def _truncated_checkpoint(f: dict[str, Path], fraction: float) -> None:
    data = f["ckpt"].read_bytes()
    path = f["ckpt"].with_name("ckpt_cut.pt")
    path.write_bytes(data[: int(len(data) * fraction)])
    try:
        load_checkpoint(path)
    finally:
        path.unlink()


_EXPRESSIONS = [("x + 2**10**10", "exponent '10 \\*\\* 10'"), ("9**9**9", "exponent '9 \\*\\* 9'"), ("x + 1/0", "'1 / 0' is not finite"),
                ("x + log(0)", "'log\\(0\\)' is not finite"), ("x + 1e999", "number .* is larger than"), ("0" + "-" * 300 + "x", "nested deeper"),
                ("sin(" * 300 + "x" + ")" * 300, "too many nested parentheses"), ("x" + "+x" * 1200, "characters long"),
                ("x + 10**10**3", "'10 \\*\\* 10 \\*\\* 3' is not finite")]

UNBOUNDED = [
    *(P(lambda f, t=t: parse_expression(t, ["x", "y", "z"]), ValueError, m, id=f"expression-{i}") for i, (t, m) in enumerate(_EXPRESSIONS)),
    *(P(lambda f, t=t: run_cli("chebtucker", t, "--out", str(f["out"])), CLIError, m, id=f"cli-chebtucker-expression-{i}")
      for i, (t, m) in enumerate(_EXPRESSIONS)),
    P(lambda f: run_cli("chebtucker", "x+y+z", "--degree", "3000", "--out", str(f["out"])), CLIError, "--degree needs a grid of", id="cli-chebtucker-degree-3000"),
    P(lambda f: run_cli("chebtucker", "x+y+z", "--degree", "600", "600", "600", "--out", str(f["out"])), CLIError, "--degree needs a grid", id="cli-chebtucker-degree-per-mode"),
    P(lambda f: run_cli("chebtucker", "x+y+z", "--degree", "-2", "--out", str(f["out"])), CLIError, r"--degree\[0\] must be a positive integer", id="cli-chebtucker-degree-negative"),
    P(lambda f: run_cli("chebtucker", "x", "--ndim", "0", "--out", str(f["out"])), CLIError, "--ndim must be a positive integer, got 0", id="cli-chebtucker-ndim-0"),
    P(lambda f: run_cli("chebtucker", "x0", "--ndim", "-3", "--out", str(f["out"])), CLIError, "--ndim must be a positive integer", id="cli-chebtucker-ndim-negative"),
    P(lambda f: run_cli("chebtucker", "x0", "--ndim", "12", "--out", str(f["out"])), CLIError, "--ndim 12 needs a grid", id="cli-chebtucker-ndim-12"),
    P(lambda f: run_cli("chebtucker", "1e300*(x+y+z)", "--degree", "4", "--out", str(f["out"])), CLIError, "f's values are too large: their Chebyshev coefficients overflow", id="cli-chebtucker-overflow"),
    *(P(lambda f, g=g: ChebTucker(degree=d).fit(g), ValueError, "f's values are too large", id=f"chebtucker-overflow-{d}")
      for g, d in [(lambda x, y, z: 1e300 * (x + y + z), 4), (1e300 * torch.rand(5, 5, 5, generator=torch.Generator().manual_seed(0), dtype=torch.float64), None)]),
    *(P(lambda f, c=c: run_cli("demo", "--config", str(f[c]), "--out", str(f["out"])), CLIError, m, id=f"cli-config-{c}")
      for c, m in [("bomb", "expands to more than 100000 values"), ("deep", "nested more than 50 levels"),
                   ("recursive", "recursive alias"), ("nested", "nested more than 50 levels"),
                   ("huge", "larger than 1000000 bytes"), ("seed_bomb", "expands to more than")]),
    *(P(lambda f, c=c: run_cli("train-operator", str(f[c]), "--out", str(f["out"])), CLIError, m, id=f"cli-operator-{c}")
      for c, m in [("bomb", "experiment file: .* expands to more than"), ("model_bomb", "expands to more than"),
                   ("deep", "nested more than"), ("recursive", "recursive alias")]),
    *(P(lambda f, c=c: load_config(f[c]), ValueError, "experiment file: .*" + c, id=f"operator-config-{c}")
      for c in ("bomb", "deep", "recursive", "huge")),
    *(P(lambda f, c=c: read_yaml_mapping(f[c], "settings"), ValueError, f"settings: '.*{c}.yaml' (expands|is nested|holds a recursive|is larger)",
        id=f"yaml-{c}") for c in ("bomb", "deep", "recursive", "huge", "nested")),
]

COMPLEX = DA.astype(complex) + 1j
VALUES = [
    *(P(lambda f, h=h: DA.tk.complete(holdout=h, model="cp", max_epochs=1), ValueError, m, id=f"accessor-complete-holdout-{h}")
      for h, m in [(-0.5, "holdout must be finite and ≥ 0"), (1.5, "holdout must lie in \[0, 1\]"), (1.0, "holdout must lie in \[0, 1\)"),
                   (0.99, "holdout=0.99 splits the 30 observed cells into 0 to fit"), (0.001, "0 held out"),
                   (float("nan"), "holdout must be finite")]),
    P(lambda f: DA.tk.complete(holdout="0.5"), TypeError, "holdout must be a number", id="accessor-complete-holdout-string"),
    P(lambda f: complete_dataarray(DA, holdout=-0.5), ValueError, "holdout", id="complete-dataarray-holdout-negative"),
    *(P(lambda f, h=h: run_cli("complete", str(f["tsv"]), "--holdout", h, "--model", "cp", "--out", str(f["out"])), CLIError,
        f"--holdout={h} splits the 10 observed cells", id=f"cli-complete-tsv-holdout-{h}") for h in ("0.99", "0.01")),
    *(P(lambda f, c=c: run_cli(c, str(f["grid"]), "--holdout", "nan", "--out", str(f["out"])), CLIError, "--holdout must lie in \\[0, 1\\)",
        id=f"cli-{c}-holdout-nan") for c in ("funbat", "complete")),
    P(lambda f: COMPLEX.tk.funbat(n_epochs=2), TypeError, "real numeric", id="accessor-funbat-complex"),
    P(lambda f: (DA * 1e155).tk.funbat(n_epochs=2), ValueError, "da .* holds values up to .*rescale", id="accessor-funbat-huge-values"),
    P(lambda f: run_cli("funbat", str(f["huge"].with_name("huge.nc")), "--out", str(f["out"])), CLIError, "holds values up to", id="cli-funbat-huge-values"),
    P(lambda f: complete_dataarray(DA, seed=1.5, max_epochs=1), TypeError, "seed", id="complete-dataarray-seed-float"),
    *(P(lambda f, c=c: run_cli(c, str(f["grid"]), "--holdout", "-0.5", "--out", str(f["out"])), CLIError, "--holdout must lie in \[0, 1\)",
        id=f"cli-{c}-holdout-negative") for c in ("funbat", "complete")),
    *(P(lambda f, c=c: run_cli(c, str(f["grid"]), "--holdout", "1.5", "--out", str(f["out"])), CLIError, "--holdout must lie in \[0, 1\)",
        id=f"cli-{c}-holdout-above-one") for c in ("funbat", "complete")),
    *(P(lambda f, c=c: run_cli(*_cmd(c, f), "--seed", "1.5", "--out", str(f["out"])), CLIError, "--seed: invalid int value: '1.5'",
        id=f"cli-{c}-seed-float") for c in _CMD_INPUT),
    P(lambda f: Observations.from_dataarray(COMPLEX), TypeError, "da must be real numeric, got dtype complex128", id="obs-complex"),
    P(lambda f: Observations.from_dataarray(DA.assign_coords(lon=np.arange(5.0) + 1j)), TypeError, "coordinate 'lon' must be real", id="obs-complex-coordinate"),
    P(lambda f: Observations.from_dataarray(xr.DataArray(1.5, name="s")), ValueError, "da is a scalar \(variable 's'", id="obs-scalar"),
    P(lambda f: COMPLEX.tk.complete(), TypeError, "real numeric", id="accessor-complete-complex"),
    P(lambda f: FunBaT(n_epochs=2).fit(COMPLEX), TypeError, "real numeric", id="funbat-complex-dataarray"),
    P(lambda f: funbat_dataset(COMPLEX, n_epochs=2), TypeError, "real numeric", id="funbat-dataset-complex"),
    *(P(lambda f, g=g: ChebTucker(degree=4).fit(g), TypeError, r"f returned complex values \(dtype torch.complex", id=f"chebtucker-complex-callable-{i}")
      for i, g in enumerate([lambda x, y, z: x + 1j * y, lambda x, y, z: (x + 1j * y).numpy(), lambda x, y, z: 1j])),
    P(lambda f: ChebTucker(degree=4).fit(torch.ones(5, 5, 5, dtype=torch.complex128)), TypeError, "f must be a real numeric tensor", id="chebtucker-complex-grid"),
    *(P(lambda f, kw=kw: FunBaT(n_epochs=3, rank=2, residual=None, **kw).fit(PTS, VALS), ValueError,
        re.escape(f"numerically singular with lengthscale={kw.get('lengthscale', 'auto')!r} and variance={kw.get('variance', 1.0)!r}"),
        id=f"funbat-extreme-{'-'.join(map(str, kw.items()))}") for kw in [{"lengthscale": 1e-300}, {"lengthscale": 1e300}, {"variance": 1e300}]),
    P(lambda f: FunBaT(n_epochs=2).fit(PTS, VALS + 1j), TypeError, "values must be a real numeric tensor", id="funbat-complex-values"),
    P(lambda f: DAIN(model="cp", standardize=True).fit(IDX[:2], Y[:2]), ValueError, r"standardize needs at least 2 training cells, got 1 \(1 kept",
      id="dain-standardize-two-values"),
    P(lambda f: DAIN(model="cp", standardize=True).fit(IDX, torch.ones(len(IDX))), ValueError, "values are constant; cannot standardize", id="dain-standardize-constant"),
    P(lambda f: FunBaT(n_epochs=2).fit(PTS, VALS.bfloat16()), TypeError, "values must be float32 or float64", id="funbat-bfloat16"),
    P(lambda f: DAIN(model="cp").fit(IDX, Y.clone().requires_grad_()), ValueError, "values requires grad; .* pass values.detach", id="dain-requires-grad"),
    P(lambda f: DAIN(model="cp").fit(IDX, Y + 1j), TypeError, "values must be a real numeric tensor", id="dain-complex-values"),
    P(lambda f: FunBaT(n_epochs=2).fit(PTS.to("meta"), VALS.to("meta")), ValueError, "coords is a meta tensor", id="funbat-meta"),
    P(lambda f: DAIN(model="cp").fit(IDX.to("meta"), Y.to("meta")), ValueError, "indices is a meta tensor", id="dain-meta"),
    P(lambda f: hooi(X.to("meta"), rank=2), ValueError, "is a meta tensor", id="hooi-meta"),
    P(lambda f: Observations.from_indices(IDX.to("meta"), Y), ValueError, "is a meta tensor", id="obs-meta"),
]

ACCESSOR = [
    P(lambda f: DA.tk.tucker(), ValueError, "give rank, tol or both", id="accessor-tucker-no-rank"),
    P(lambda f: DA.tk.tucker(rank=[9, 9]), ValueError, r"rank\[0\] = 9 exceeds the size of mode 0 \(6\)", id="accessor-tucker-rank-too-large"),
    P(lambda f: (DA * np.nan).tk.tucker(rank=2), ValueError, "da has no observed", id="accessor-tucker-all-nan"),
    P(lambda f: COMPLEX.tk.tucker(rank=2), TypeError, "da must be real numeric", id="accessor-tucker-complex"),
    P(lambda f: DA.assign_coords(lon=[0.0, 1.0, 1.0, 2.0, 3.0]).tk.chebtucker(), ValueError, "dimension 'lon' must be strictly increasing",
      id="accessor-chebtucker-duplicated-coordinate"),
    P(lambda f: DA.where(DA > 0).tk.chebtucker(), ValueError, "contains NaN", id="accessor-chebtucker-nan"),
    P(lambda f: DA.tk.chebtucker(degree=-1), ValueError, r"degree\[0\] must be a positive integer", id="accessor-chebtucker-degree"),
    P(lambda f: DA.isel(lat=slice(0, 1)).tk.chebtucker(), ValueError, "dimension 'lat' has 1 point", id="accessor-chebtucker-one-point"),
    P(lambda f: DA.tk.funbat(rank=0), ValueError, "rank must be a positive integer", id="accessor-funbat-rank"),
]


def check(call, error, match, files):
    root = files["out"].parent
    before = _listing(root)
    with pytest.raises(error, match=match):
        call(files)
    assert not files["out"].exists(), "a failed call left an output file"
    assert _listing(root) == before, "a failed call left (or changed) a file"


@pytest.mark.parametrize("call, error, match", CORE + DATA + RUNTIME + FUNBAT + CHEBTUCKER + DAIN_ROWS + OPERATORS + CLI
                         + OUTPUTS + DAMAGED + UNBOUNDED + VALUES + ACCESSOR)
def test_bad_input_raises_clear_error(files, call, error, match):
    check(call, error, match, files)


@pytest.mark.parametrize("call, error, match", NEEDS_SHARED_DATA)
def test_bad_input_on_reference_data(shared_data, files, call, error, match):
    check(call, error, match, files)
