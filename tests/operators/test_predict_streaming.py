"""`tensorkit predict` streams: it reads, predicts and writes --batch-size samples at a time."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import xarray as xr
from xarray.backends import netCDF4_
from xarray.backends import zarr as zarr_backend

from tensorkit.cli import main
from tensorkit.data.pde import darcy_flow
from tensorkit.data.pde.storage import to_dataset, write_dataset
from tensorkit.operators import TFNO
from tensorkit.operators.predictor import TrainedOperator
from tests.operators.test_predict_command import _train

N, BATCH = 13, 4  # blocks of 4, 4, 4 and 1 samples


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """13 Darcy samples as netCDF and as a zarr store (stored in chunks of 5, across the blocks of 4)."""
    pytest.importorskip("zarr")
    folder = tmp_path_factory.mktemp("darcy")
    ds = to_dataset(darcy_flow(N, resolution=8, seed=0), {"generator": "darcy_flow"})
    write_dataset(ds, folder / "darcy.nc")
    write_dataset(ds, folder / "darcy.zarr", chunk_samples=5)
    return folder / "darcy.nc", folder / "darcy.zarr"


@pytest.fixture
def events(monkeypatch):
    """("read", samples) for each read of a field block from a file, ("model", samples) for each prediction call."""
    log = []
    for wrapper in (netCDF4_.NetCDF4ArrayWrapper, zarr_backend.ZarrArrayWrapper):
        def read(self, key, original=wrapper.__getitem__):
            values = original(self, key)
            if np.ndim(values) == 3:  # the (sample, x, y) variable, not a coordinate
                log.append(("read", len(values)))
            return values

        monkeypatch.setattr(wrapper, "__getitem__", read)
    predict = TrainedOperator.predict

    def model(self, x, batch_size=32):
        log.append(("model", len(x)))
        return predict(self, x, batch_size)

    monkeypatch.setattr(TrainedOperator, "predict", model)
    return log


@pytest.mark.parametrize("patching", [{}, {"levels": 1, "padding_fraction": 0.125, "chunk_size": 3}])
def test_blocks_are_read_predicted_in_turn_and_equal_the_in_memory_prediction(tmp_path, inputs, patching, events):
    run = _train(tmp_path, inputs[0], patching)
    with xr.open_dataset(inputs[0]) as ds:
        x = torch.from_numpy(ds["a"].values).float().unsqueeze(1)
    expected = TFNO.from_checkpoint(run).predict(x, batch_size=BATCH)[:, 0].numpy()  # all samples in memory at once
    for source in inputs:
        events.clear()
        out = tmp_path / f"pred_{source.suffix[1:]}.nc"
        assert main(["predict", str(run), str(source), "--out", str(out), "--batch-size", str(BATCH),
                     "--device", "cpu", "--quiet"]) == 0
        # each block of at most 4 samples is read, then predicted, before the next one is read
        kinds, sizes = zip(*events)
        assert kinds == ("read", "model") * 4 and sizes[::2] == sizes[1::2] and sorted(sizes[::2]) == [1, 4, 4, 4]
        with xr.open_dataset(out) as pred:
            np.testing.assert_array_equal(pred["u"].values, expected)
            assert pred["u"].dims == ("sample", "x", "y") and pred["u"].dtype == np.float32
            assert pred["u"].encoding["zlib"] and pred.attrs["generator"] == "darcy_flow"
            assert pred["u"].encoding["chunksizes"] == (BATCH, 8, 8)  # a block is written as one stored chunk


def test_a_bad_block_midway_leaves_no_output(tmp_path, inputs, capsys):
    run = _train(tmp_path, inputs[0], {})
    with xr.open_dataset(inputs[0]) as ds:
        bad = ds.load()
    bad["a"][10, 3, 3] = np.nan  # in the third block of four
    bad.to_netcdf(tmp_path / "bad.nc")
    out = tmp_path / "pred.nc"
    assert main(["predict", str(run), str(tmp_path / "bad.nc"), "--out", str(out), "--batch-size", str(BATCH),
                 "--quiet"]) == 2
    assert "'a' holds NaN or infinite values" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.nc", "exp.yaml", "run"]  # no output, no temporary
    assert main(["predict", str(run), str(inputs[0]), "--out", str(out), "--batch-size", "0", "--quiet"]) == 2
    assert "--batch-size must be" in capsys.readouterr().err and not out.exists()


def test_a_grid_larger_than_training_is_patched_with_its_multigrid_context_and_streamed(tmp_path, inputs):
    run = _train(tmp_path, inputs[0], {"levels": 1, "padding_fraction": 0.125, "chunk_size": 3})
    write_dataset(to_dataset(darcy_flow(5, resolution=16, seed=1), {}), tmp_path / "fine.nc")
    out = tmp_path / "pred.nc"
    assert main(["predict", str(run), str(tmp_path / "fine.nc"), "--out", str(out), "--batch-size", "2",
                 "--quiet"]) == 0
    with xr.open_dataset(tmp_path / "fine.nc") as ds, xr.open_dataset(out) as pred:
        x = torch.from_numpy(ds["a"].values).float().unsqueeze(1)
        assert pred["u"].shape == (5, 16, 16) and pred["u"].encoding["chunksizes"] == (2, 16, 16)
        expected = TFNO.from_checkpoint(run).predict(x, batch_size=2)[:, 0].numpy()
        np.testing.assert_array_equal(pred["u"].values, expected)


def test_the_progress_report_steps_once_per_block_and_ends(tmp_path, inputs, monkeypatch):
    import tensorkit.runtime

    run = _train(tmp_path, inputs[0], {})
    steps = []

    def report(iterable, desc, verbose):  # records each block done (the next one asked for) and the end
        assert desc == "predict" and verbose is False  # --quiet
        for item in iterable:
            yield item
            steps.append(item)
        steps.append("end")

    monkeypatch.setattr(tensorkit.runtime, "progress", report)
    assert main(["predict", str(run), str(inputs[0]), "--out", str(tmp_path / "o.nc"), "--batch-size", str(BATCH),
                 "--quiet"]) == 0
    assert steps == [0, 1, 2, 3, "end"]
