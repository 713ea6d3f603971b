"""Multigrid patching: shapes, exact round trip, level windows, input compression, memory."""

import pytest
import torch

from tensorkit.operators import TFNO, MultigridPatching


@pytest.mark.parametrize("levels,fraction", [(0, 0.0), (1, 0.125), (2, 1 / 16), (2, 0.0)])
def test_shapes_and_exact_round_trip(levels, fraction):
    x = torch.randn(3, 2, 64, 32)
    mg = MultigridPatching(levels, fraction)
    patches = mg.patch(x)
    p_h, p_w = round(fraction * 64), round(fraction * 32)
    assert patches.shape == (3 * 4**levels, 2 * (levels + 1), 64 // 2**levels + 2 * p_h, 32 // 2**levels + 2 * p_w)
    assert torch.equal(mg.unpatch(patches[:, :2]), x)
    assert torch.equal(mg.unpatch(patches[:, :2], spatial=(64, 32)), x)


@pytest.mark.parametrize("shape", [(2, 3, 32), (1, 1, 16, 16, 32)])
def test_round_trip_1d_and_3d(shape):
    x = torch.randn(*shape)
    mg = MultigridPatching(2, 0.125)
    patches = mg.patch(x)
    d = x.ndim - 2
    assert patches.shape[:2] == (shape[0] * 2 ** (2 * d), shape[1] * 3)
    assert torch.equal(mg.unpatch(patches[:, : shape[1]], tuple(shape[2:])), x)


@pytest.mark.parametrize("levels,fraction", [(1, 0.125), (2, 1 / 16)])
def test_level_channels_are_decimated_periodic_windows(levels, fraction):
    n, channels, batch = 64, 2, 2
    x = torch.randn(batch, channels, n, n)
    mg = MultigridPatching(levels, fraction)
    patches = mg.patch(x).reshape(batch, 2**levels, 2**levels, channels * (levels + 1), *mg.patch(x).shape[2:])
    h, p = n // 2**levels, round(fraction * n)
    w = h + 2 * p
    for level in range(levels + 1):
        s = 2**level
        coarse = x[:, :, ::s, ::s]
        m = coarse.shape[-1]
        tiled = coarse.repeat(1, 1, 5, 5)  # periodic extension, centre copy at offset 2m
        for i in range(2**levels):
            for j in range(2**levels):
                # patch centre in full-resolution pixels, then in decimated pixels
                ci, cj = (i * h + h // 2) // s, (j * h + h // 2) // s
                r0, c0 = 2 * m + ci - w // 2, 2 * m + cj - w // 2
                window = tiled[:, :, r0:r0 + w, c0:c0 + w]
                got = patches[:, i, j, level * channels:(level + 1) * channels]
                assert torch.equal(got, window), (level, i, j)
    # level 0, interior of the patch = the patch itself
    assert torch.equal(patches[:, 1, 0, :channels, p:p + h, p:p + h], x[:, :, h:2 * h, :h])


def test_input_compression_of_the_paper_settings():
    assert MultigridPatching(1, 16 / 128).input_compression((128, 128)) == pytest.approx(1.78, abs=0.005)
    assert MultigridPatching(2, 1 / 16).input_compression((128, 128)) == pytest.approx(7.1, abs=0.05)


def test_without_stitching_returns_patches_matching_the_target():
    x, y = torch.randn(2, 1, 32, 32), torch.randn(2, 3, 32, 32)
    mg = MultigridPatching(1, 0.125, stitching=False)
    target = mg.patch_target(y)
    assert target.shape == (8, 3, 16, 16)
    out = mg.unpatch(MultigridPatching(1, 0.125).patch(y)[:, :3])
    assert torch.equal(out, target)
    assert mg.patch(x).shape == (8, 2, 24, 24)


def test_apply_in_chunks_equals_one_pass():
    torch.manual_seed(0)
    model = TFNO((4, 4), 2, 1, 4, n_layers=1, factorization="tucker", rank=0.5)
    x = torch.randn(1, 1, 32, 32)
    mg = MultigridPatching(1, 0.125)
    with torch.no_grad():
        torch.testing.assert_close(mg.apply(model, x, chunk_size=3), mg.apply(model, x))


def _saved_bytes(model, x):
    total = 0

    def pack(t):
        nonlocal total
        total += t.numel() * t.element_size()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        model(x).sum().backward()
    return total


def test_per_patch_activation_memory_is_six_times_smaller():
    torch.manual_seed(0)
    mg = MultigridPatching(2, 1 / 16)
    x = torch.randn(1, 1, 256, 256)
    full = TFNO((8, 8), 1, 1, 8, n_layers=2, rank=0.5)
    patched = TFNO((8, 8), 3, 1, 8, n_layers=2, rank=0.5)
    one_patch = mg.patch(x)[:1]
    ratio = _saved_bytes(full, x) / _saved_bytes(patched, one_patch)
    assert ratio >= 6.0, ratio


def test_bad_arguments():
    with pytest.raises(ValueError, match="levels"):
        MultigridPatching(-1, 0.1)
    with pytest.raises(ValueError, match="padding_fraction"):
        MultigridPatching(1, 0.6)
    with pytest.raises(ValueError, match="divisible"):
        MultigridPatching(2, 0.1).patch(torch.randn(1, 1, 20, 20))


def test_global_coordinate_channels():
    x = torch.randn(2, 1, 32, 32)
    mg = MultigridPatching(1, 0.125, global_coordinates=True)
    patches = mg.patch(x)
    assert patches.shape == (8, 2 + 4, 24, 24) and mg.extra_channels(2) == 4
    assert torch.equal(mg.unpatch(patches[:, :1]), x)
    # patch (row 1, col 0) of sample 1: the level-0 window covers rows 12…35 and columns −4…19 (wrapped)
    rows = (torch.arange(24) + 12) % 32 / 32
    cols = (torch.arange(24) - 4) % 32 / 32
    patch = patches[4 + 2]
    torch.testing.assert_close(patch[2], torch.sin(2 * torch.pi * rows)[:, None].expand(24, 24))
    torch.testing.assert_close(patch[5], torch.cos(2 * torch.pi * cols)[None, :].expand(24, 24))


@pytest.mark.parametrize("levels,fraction", [(1, 0.125), (2, 1 / 16)])
def test_without_global_coordinates_patched_model_is_blind_to_patch_position(levels, fraction):
    """Why MG-TFNO needs global coordinates for position-dependent PDE terms (e.g. NS forcing).

    TFNO's "grid" embedding is local to each patch, so for an input that repeats with the patch
    period every patch gets identical channels and the stitched output repeats too: no choice of
    weights can produce a target that varies from patch to patch. Global coordinates break this.
    """
    torch.manual_seed(0)
    n = 32
    tile = torch.randn(1, 1, n // 2**levels, n // 2**levels)
    x = tile.repeat(1, 1, 2**levels, 2**levels)  # periodic with the patch period
    shift = n // 2**levels
    blind = MultigridPatching(levels, fraction)
    model = TFNO((4, 4), levels + 1, 1, 8, n_layers=1)
    with torch.no_grad():
        y = blind.apply(model, x)
    torch.testing.assert_close(y, torch.roll(y, shift, dims=-1), rtol=1e-4, atol=1e-5)
    seeing = MultigridPatching(levels, fraction, global_coordinates=True)
    model = TFNO((4, 4), levels + 1 + seeing.extra_channels(2), 1, 8, n_layers=1)
    with torch.no_grad():
        y = seeing.apply(model, x)
    assert (y - torch.roll(y, shift, dims=-1)).abs().max() > 1e-3
