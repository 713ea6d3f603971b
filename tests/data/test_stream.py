"""NetCDFPairs (lazy netCDF samples) and write_generated (data sets written chunk by chunk)."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
import xarray as xr

from tensorkit.data.pde import NetCDFPairs, burgers_1d, read_pairs, to_dataset, write_dataset, write_generated


def _fields(n, seed=0):
    """``a`` (n, 8, 8) and trajectories ``u`` (n, 3, 8, 8)."""
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(n, 8, 8, generator=g, dtype=torch.float64)
    return {"a": a, "u": torch.stack([a * k for k in (1.0, 2.0, 3.0)], 1), "t": torch.arange(3.0)}


@pytest.fixture(scope="module")
def traj(tmp_path_factory):
    path = tmp_path_factory.mktemp("stream") / "traj.nc"
    write_dataset(to_dataset(_fields(10), {}), path, chunk_samples=4)
    return path


def test_batches_in_any_order_equal_the_file_read_into_memory(traj):
    x, y = read_pairs(traj)
    pairs = NetCDFPairs(traj)
    assert len(pairs) == 10 and pairs.shape == (1, 8, 8)
    order = [7, 2, 3, 9, 0]  # unsorted, across chunks
    xb, yb = pairs.__getitems__(order)
    assert torch.equal(xb, x[order]) and torch.equal(yb, y[order])
    assert torch.equal(pairs[4][1], y[4])
    assert torch.equal(pairs.__getitems__([3, 4, 5])[0], x[3:6])  # contiguous: one slice read
    # subsets, coarser grids and other snapshots, as views of the same file
    test = pairs.subset(range(6, 10))
    assert torch.equal(test.load()[0], x[6:]) and torch.equal(test.strided(2).load()[1], y[6:, :, ::2, ::2])
    u = _fields(10)["u"].float().unsqueeze(1)
    assert torch.equal(NetCDFPairs(traj, time_index=0).load()[1], u[:, :, 0]) and torch.equal(y, u[:, :, -1])
    # an open file does not travel: a worker process opens its own
    pairs.close()
    clone = pickle.loads(pickle.dumps(pairs))
    assert torch.equal(clone.__getitems__(order)[1], y[order])


def test_bad_files_and_arguments_name_the_file(tmp_path, traj):
    with pytest.raises(KeyError, match="'v' not found in .*traj.nc.*available: \\['a', 'u'\\]"):
        NetCDFPairs(traj, output_var="v")
    with pytest.raises(FileNotFoundError, match="missing.nc"):
        NetCDFPairs(tmp_path / "missing.nc")
    other = tmp_path / "dims.nc"
    xr.Dataset({"a": (["sample", "x"], np.zeros((3, 4))), "u": (["sample", "y"], np.zeros((3, 4)))}).to_netcdf(other)
    with pytest.raises(ValueError, match="dims.nc.*'a' and 'u' must have the same dims"):
        NetCDFPairs(other)
    damaged = tmp_path / "damaged.nc"
    damaged.write_bytes(traj.read_bytes()[:2000])
    with pytest.raises(ValueError, match="damaged.nc"):
        NetCDFPairs(damaged)
    with pytest.raises(ValueError, match="outside the 10 samples of .*traj.nc"):
        NetCDFPairs(traj, samples=range(5, 12))
    with pytest.raises(ValueError, match="time_index 3 is out of range .*traj.nc"):
        NetCDFPairs(traj, time_index=3)
    with pytest.raises(ValueError, match="stride"):
        NetCDFPairs(traj, stride=0)
    with pytest.raises(IndexError, match="\\[0, 10\\)"):
        NetCDFPairs(traj).__getitems__([10])


def test_generated_in_chunks_appended_to_one_file(tmp_path):
    path = tmp_path / "burgers.nc"
    write_generated(path, burgers_1d, 5, chunk_samples=2, storage_samples=1, seed=7, resolution=16, n_snapshots=2,
                    dt=1e-2)
    with xr.open_dataset(path) as ds:
        assert ds["u"].dims == ("sample", "t", "x") and ds.sizes["sample"] == 5
        assert ds.attrs["generator"] == "burgers_1d" and ds.attrs["chunk_samples"] == 2 and ds.attrs["resolution"] == 16
        assert ds["u"].encoding["chunksizes"][0] == 1
        for k, start in enumerate(range(0, 5, 2)):  # chunk k is the generator's output for seed + k
            part = burgers_1d(min(2, 5 - start), 16, n_snapshots=2, dt=1e-2, seed=7 + k)
            np.testing.assert_array_equal(ds["u"].values[start:start + 2], part["u"].numpy())
            np.testing.assert_array_equal(ds["a"].values[start:start + 2], part["a"].numpy())


def test_an_interrupted_generation_leaves_no_file(tmp_path):
    def failing(n, seed):
        if seed == 2:
            raise RuntimeError("solver failed")
        return _fields(n, seed)

    path = tmp_path / "part.nc"
    with pytest.raises(RuntimeError, match="solver failed"):
        write_generated(path, failing, 9, chunk_samples=3)
    assert list(tmp_path.iterdir()) == []

    def changing(n, seed):
        return _fields(n, seed) if seed == 0 else {"a": torch.zeros(n, 4, 4), "u": torch.zeros(n, 3, 4, 4)}

    with pytest.raises(ValueError, match="changing chunk 1 has variables"):
        write_generated(path, changing, 6, chunk_samples=3)
    assert list(tmp_path.iterdir()) == []


def test_channels_are_read_along_their_dims_wherever_they_lie(tmp_path):
    g = np.random.default_rng(0)
    x, y = g.normal(size=(6, 2, 4, 5)), g.normal(size=(6, 3, 4, 5))  # (sample, channel, space…)
    path = tmp_path / "channels.nc"
    xr.Dataset({"a": (("band", "sample", "x", "y"), x.transpose(1, 0, 2, 3)),  # channels first, and between space dims
                "u": (("sample", "x", "out", "y"), y.transpose(0, 2, 1, 3))}).to_netcdf(path)
    pairs = NetCDFPairs(path, channel_dim="band", output_channel_dim="out")
    assert len(pairs) == 6 and pairs.shape == (2, 4, 5)
    order = [4, 0, 5]
    xb, yb = pairs.__getitems__(order)
    assert torch.equal(xb, torch.from_numpy(x[order]).float()) and torch.equal(yb, torch.from_numpy(y[order]).float())
    assert torch.equal(pairs.subset(range(2, 6)).strided(2).load()[1], torch.from_numpy(y[2:, :, ::2, ::2]).float())
    with pytest.raises(ValueError, match="besides their channel dims 'band' and 'band'"):
        NetCDFPairs(path, channel_dim="band")  # 'out' is then taken for a space dim
    with pytest.raises(TypeError, match="output_channel_dim must be a dim name"):
        NetCDFPairs(path, channel_dim="band", output_channel_dim=3)
