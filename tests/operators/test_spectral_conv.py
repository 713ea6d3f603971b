"""Factorized spectral convolution: contraction paths, joint tensor, oracles, rank budgets."""

import itertools
import math

import pytest
import tensorly as tl
import torch

from tensorkit.core import tucker as _tucker  # noqa: F401  (formats are imported by the module under test)
from tensorkit.operators import TFNO, FactorizedSpectralConv
from tensorkit.core import FORMATS as FORMAT_CLASSES

FORMATS = ["dense", "tucker", "cp", "tt"]


def _conv(fmt, n_modes, separable=False, n_layers=2, implementation="factorized", joint=True, seed=0,
          blocks="corners"):
    return FactorizedSpectralConv(
        4, 4, n_modes, n_layers=n_layers, factorization=fmt, rank=0.5, joint=joint, blocks=blocks,
        implementation=implementation, separable=separable, generator=torch.Generator().manual_seed(seed),
    )


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("n_modes", [(4,), (4, 6), (4, 4, 2)])
@pytest.mark.parametrize("separable", [False, True])
@pytest.mark.parametrize("blocks", ["corners", "single"])
def test_factorized_equals_reconstructed(fmt, n_modes, separable, blocks):
    fac = _conv(fmt, n_modes, separable, blocks=blocks)
    rec = _conv(fmt, n_modes, separable, implementation="reconstructed", blocks=blocks)
    rec.load_state_dict(fac.state_dict())
    assert list(fac.state_dict()) == list(rec.state_dict())
    x = torch.randn(3, 4, *(8,) * len(n_modes))
    for layer in range(2):
        torch.testing.assert_close(fac(x, layer), rec(x, layer), rtol=1e-5, atol=1e-6)


def _full_multiplier(conv, layer, spatial):
    """Dense complex multiplier M(k) on the rfft grid, built from the reconstructed weight."""
    w = conv.layer_weight(layer).to_dense()
    if conv.separable:
        w = torch.diag_embed(w.movedim(1, -1)).movedim(-2, 1).movedim(-1, 2)  # (blocks, C, C, m…)
    d = len(spatial)
    m = torch.zeros(w.shape[1], w.shape[2], *spatial[:-1], spatial[-1] // 2 + 1, dtype=w.dtype)
    for j, combo in enumerate(itertools.product(*[("lo", "hi")] * (d - 1))):
        index = [slice(None), slice(None)]
        for side, h in zip(combo, conv.half_modes[:-1]):
            index.append(slice(0, h) if side == "lo" else slice(-h, None))
        index.append(slice(0, conv.half_modes[-1]))
        m[tuple(index)] = w[j]
    return m


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("n_modes", [(4,), (4, 4), (2, 2, 2)])
@pytest.mark.parametrize("separable", [False, True])
def test_equals_circular_convolution_with_dense_kernel(fmt, n_modes, separable):
    """Oracle: y = Σ_s x(s) K(t - s) (periodic), with K the inverse FFT of the dense multiplier."""
    conv = _conv(fmt, n_modes, separable)
    spatial = (6,) * len(n_modes)
    x = torch.randn(2, 4, *spatial, dtype=torch.float32)
    layer = 1
    kernel = torch.fft.irfftn(_full_multiplier(conv, layer, spatial), s=spatial, dim=tuple(range(2, 2 + len(spatial))))
    expected = torch.zeros(2, 4, *spatial)
    for shift in itertools.product(*(range(n) for n in spatial)):
        rolled = torch.roll(x, shifts=shift, dims=tuple(range(2, 2 + len(spatial))))  # x(t - s)
        expected += torch.einsum("bi...,io->bo...", rolled, kernel[(slice(None), slice(None), *shift)])
    expected += conv.bias[layer].reshape(1, -1, *(1,) * len(spatial))
    torch.testing.assert_close(conv(x, layer), expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("fmt", FORMATS)
def test_joint_tensor_shape_and_layer_blocks(fmt):
    conv = FactorizedSpectralConv(6, 5, (8, 6), n_layers=3, factorization=fmt, rank=0.3)
    assert conv.weight.shape == (2 * 3, 6, 5, 4, 3)
    full = conv.weight.to_dense()
    for layer in range(3):
        w = conv.layer_weight(layer).to_dense()
        torch.testing.assert_close(w, full[2 * layer: 2 * layer + 2])  # layer ℓ uses blocks 2ℓ, 2ℓ+1
    conv3d = FactorizedSpectralConv(2, 2, (4, 4, 4), n_layers=2, factorization=fmt, rank=0.3)
    assert conv3d.weight.shape == (4 * 2, 2, 2, 2, 2, 2)


@pytest.mark.parametrize("fmt", FORMATS)
def test_single_block_layout_shape_and_layers(fmt):
    conv = FactorizedSpectralConv(6, 5, (8, 6), n_layers=3, factorization=fmt, rank=0.3, blocks="single")
    assert conv.weight.shape == (3, 6, 5, 8, 3)  # one block (C_in, C_out, m_1, m_2/2) per layer
    full = conv.weight.to_dense()
    for layer in range(3):
        torch.testing.assert_close(conv.layer_weight(layer).to_dense(), full[layer: layer + 1])
    corners = FactorizedSpectralConv(6, 5, (8, 6), n_layers=3, factorization="dense")
    assert conv.compression_ratio == pytest.approx(corners.weight.n_complex_parameters / conv.n_spectral_parameters)
    conv3d = FactorizedSpectralConv(2, 2, (4, 6, 4), n_layers=2, factorization=fmt, rank=0.3, blocks="single")
    assert conv3d.weight.shape == (2, 2, 2, 4, 6, 2)


def test_layers_do_not_share_weights():
    """Regression for the 0.1.0 indexing bug (ℓ+i): changing block 2 must change layer 1 only."""
    conv = FactorizedSpectralConv(3, 3, (4, 4), n_layers=3, factorization="dense")
    x = torch.randn(1, 3, 8, 8)
    before = [conv(x, layer).detach().clone() for layer in range(3)]
    with torch.no_grad():
        conv.weight.weight[2].mul_(3.0)
    after = [conv(x, layer) for layer in range(3)]
    torch.testing.assert_close(after[0], before[0])
    torch.testing.assert_close(after[2], before[2])
    assert not torch.allclose(after[1], before[1])


def test_per_layer_factorization():
    conv = FactorizedSpectralConv(4, 4, (4, 4), n_layers=3, factorization="tucker", rank=0.5, joint=False)
    assert len(conv.weight) == 3 and conv.weight[0].shape == (2, 4, 4, 2, 2)
    rec = FactorizedSpectralConv(4, 4, (4, 4), n_layers=3, factorization="tucker", rank=0.5, joint=False,
                                 implementation="reconstructed")
    rec.load_state_dict(conv.state_dict())
    x = torch.randn(2, 4, 8, 8)
    torch.testing.assert_close(conv(x, 2), rec(x, 2), rtol=1e-5, atol=1e-6)


def test_tucker_weight_matches_tensorly_reconstruction():
    conv = FactorizedSpectralConv(3, 3, (4, 4), n_layers=2, factorization="tucker", rank=(2, 2, 2, 2, 2))
    t = conv.weight.tensor()
    tl.set_backend("pytorch")
    try:
        ref = tl.tucker_to_tensor((t.core, t.factors))
    finally:
        tl.set_backend("numpy")
    torch.testing.assert_close(conv.weight.to_dense(), ref)


def test_params_are_real_and_train_with_adam():
    conv = FactorizedSpectralConv(2, 2, (4,), n_layers=1, factorization="cp", rank=3)
    assert all(not p.is_complex() for p in conv.parameters())
    opt = torch.optim.Adam(conv.parameters(), lr=1e-2)
    x, y = torch.randn(4, 2, 16), torch.randn(4, 2, 16)
    loss0 = ((conv(x) - y) ** 2).mean()
    for _ in range(20):
        opt.zero_grad()
        loss = ((conv(x) - y) ** 2).mean()
        loss.backward()
        opt.step()
    assert loss.item() < loss0.item()


@pytest.mark.parametrize("fmt", ["tucker", "cp", "tt"])
@pytest.mark.parametrize("fraction", [0.5, 0.1, 0.02])
def test_rank_fraction_hits_budget(fmt, fraction):
    shape = (8, 32, 32, 8, 8)
    rank = FORMAT_CLASSES[fmt].resolve_rank(shape, fraction)
    got = FORMAT_CLASSES[fmt].n_parameters(shape, rank) / math.prod(shape)
    assert abs(got / fraction - 1) <= 0.15, (rank, got)


# method note's table (paper-scale joint shape, measured with tltorch): compression ratios
PAPER_CR = {
    "tucker": {0.1: 10.5, 0.05: 21.1, 0.02: 44.1, 0.01: 104.6, 0.005: 187.2},
    "cp": {0.1: 10.0, 0.05: 19.9, 0.02: 49.8, 0.01: 99.5, 0.005: 199.0},
    "tt": {0.1: 10.0, 0.05: 20.1, 0.02: 49.5, 0.01: 100.4, 0.005: 201.0},
}


@pytest.mark.parametrize("fmt", ["tucker", "cp", "tt"])
def test_paper_scale_compression_ratios(fmt):
    # 4 layers, width 64, 64×64 modes: instantiate the model (no forward, no training)
    model = TFNO((64, 64), 3, 1, 64, n_layers=4, factorization=fmt, rank=0.1)
    assert model.spectral.weight.shape == (8, 64, 64, 32, 32)
    assert math.prod(model.spectral.weight.shape) * 2 == 67_108_864  # real numbers of the dense FNO
    assert model.compression_ratio == pytest.approx(PAPER_CR[fmt][0.1], rel=0.15)
    for fraction, ratio in PAPER_CR[fmt].items():
        rank = FORMAT_CLASSES[fmt].resolve_rank((8, 64, 64, 32, 32), fraction)
        got = math.prod((8, 64, 64, 32, 32)) / FORMAT_CLASSES[fmt].n_parameters((8, 64, 64, 32, 32), rank)
        assert got == pytest.approx(ratio, rel=0.15)
    if fmt == "tucker":
        assert model.spectral.weight.rank == (5, 40, 40, 20, 20)


def test_tucker_per_layer_rank_matches_tltorch_rule():
    # neuraloperator's per-layer Tucker weight (32, 32, 16, 9) at rank 0.1 has ranks (18, 18, 9, 5)
    assert FORMAT_CLASSES["tucker"].resolve_rank((32, 32, 16, 9), 0.1) == (18, 18, 9, 5)


def test_fixed_rank_modes_keep_full_rank():
    conv = FactorizedSpectralConv(4, 4, (4, 4), n_layers=4, factorization="tucker", rank=0.05, fixed_rank_modes=(0,))
    assert conv.weight.rank[0] == 8


def test_bad_arguments_name_the_argument():
    with pytest.raises(ValueError, match="factorization"):
        FactorizedSpectralConv(2, 2, (4, 4), factorization="svd")
    with pytest.raises(ValueError, match="implementation"):
        FactorizedSpectralConv(2, 2, (4, 4), implementation="fast")
    with pytest.raises(ValueError, match="n_modes"):
        FactorizedSpectralConv(2, 2, (5, 4))
    with pytest.raises(ValueError, match="rank"):
        FactorizedSpectralConv(2, 2, (4, 4), factorization="tucker", rank=(1, 2))
    with pytest.raises(TypeError):
        TFNO((4, 4), 1, 1, 4, compression=0.42)  # stale keys are rejected, never swallowed


def test_coarse_grid_uses_the_truncated_weight():
    """On a grid coarser than the modes the layer equals a smaller layer holding the resolved slices."""
    big = FactorizedSpectralConv(2, 3, (16, 16), n_layers=1, factorization="dense")
    small = FactorizedSpectralConv(2, 3, (8, 10), n_layers=1, factorization="dense")
    with torch.no_grad():
        w = big.weight.weight  # (2 blocks, 2, 3, 8, 8, 2) real view
        small.weight.weight[0] = w[0, :, :, :4, :5]  # low rows 0..3, columns 0..4
        small.weight.weight[1] = w[1, :, :, 4:, :5]  # high rows −4..−1 are the last 4 entries
        small.bias.copy_(big.bias)
    x = torch.randn(2, 2, 8, 8)
    torch.testing.assert_close(big(x), small(x), rtol=1e-5, atol=1e-6)
    tfno = TFNO((16, 16), 1, 1, 4, n_layers=1)
    assert tfno(torch.randn(1, 1, 6, 6)).shape == (1, 1, 6, 6)


def _truncated_multiplier(conv, layer, spatial):
    """Dense multiplier on the rfft grid of ``spatial`` (any size, also odd or coarser than the modes):
    frequency ``k`` of a leading axis uses weight entry ``k`` of the low block if ``k < min(h, ceil(n/2))``
    and entry ``h - (n - k)`` of the high block if ``n - k ≤ min(h, floor(n/2))``."""
    w = conv.layer_weight(layer).to_dense()
    d = len(spatial)
    if conv.blocks == "single":  # the same multiplier, stored as one block: split it into the corners
        halves = [s for h in conv.half_modes[:-1] for s in (2, h)]  # each leading axis: (low/high, h)
        order = [*(2 + 2 * k for k in range(d - 1)), 0, 1, *(3 + 2 * k for k in range(d - 1)), 2 * d]
        w = w[0].reshape(conv.in_channels, conv.out_channels, *halves, conv.half_modes[-1]).permute(order)
        w = w.reshape(2 ** (d - 1), conv.in_channels, conv.out_channels, *conv.half_modes)
    m = torch.zeros(w.shape[1], w.shape[2], *spatial[:-1], spatial[-1] // 2 + 1, dtype=w.dtype)
    columns = min(conv.half_modes[-1], spatial[-1] // 2 + 1)
    per_axis = []
    for h, n in zip(conv.half_modes[:-1], spatial[:-1]):
        low = [(0, k, k) for k in range(min(h, (n + 1) // 2))]
        high = [(1, n - q, h - q) for q in range(1, min(h, n // 2) + 1)]
        per_axis.append(low + high)
    for combo in itertools.product(*per_axis):
        block = sum(side << (d - 2 - k) for k, (side, _, _) in enumerate(combo))
        freq = tuple(f for _, f, _ in combo)
        entry = tuple(e for _, _, e in combo)
        m[(slice(None), slice(None), *freq, slice(0, columns))] = w[(block, slice(None), slice(None), *entry,
                                                                      slice(0, columns))]
    return m


@pytest.mark.parametrize("n_modes, spatial", [((8,), (5,)), ((8, 6), (5, 7)), ((8, 6), (9, 4)), ((8, 6), (20, 16)),
                                              ((4, 6, 4), (3, 5, 4)), ((4, 6, 4), (8, 9, 7))])
@pytest.mark.parametrize("blocks", ["corners", "single"])
def test_axis_by_axis_fft_equals_full_rfftn(n_modes, spatial, blocks):
    """The layer's axis-by-axis transforms equal multiplying the full ``rfftn`` by the multiplier,
    on odd grids and on grids coarser than the modes (where blocks are truncated)."""
    conv = FactorizedSpectralConv(3, 2, n_modes, n_layers=2, factorization="tucker", rank=0.5, blocks=blocks,
                                  generator=torch.Generator().manual_seed(0))
    x = torch.randn(2, 3, *spatial)
    axes = tuple(range(2, 2 + len(spatial)))
    x_ft = torch.fft.rfftn(x, dim=axes, norm="forward")
    y_ft = torch.einsum("bi...,io...->bo...", x_ft, _truncated_multiplier(conv, 1, spatial))
    expected = torch.fft.irfftn(y_ft, s=spatial, dim=axes, norm="forward") + conv.bias[1].reshape(1, -1, *(1,) * len(spatial))
    torch.testing.assert_close(conv(x, 1), expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("implementation", ["factorized", "reconstructed"])
def test_gradients_equal_autograd_through_the_dense_weight(fmt, implementation):
    conv = _conv(fmt, (4, 6), implementation=implementation)
    oracle = _conv(fmt, (4, 6))
    oracle.load_state_dict(conv.state_dict())
    x = torch.randn(3, 4, 8, 8)
    conv(x, 1).square().sum().backward()
    # the oracle: the full weight's multiplier on the rfft grid, differentiated by plain autograd
    spectrum = torch.einsum("bixy,ioxy->boxy", torch.fft.rfft2(x, norm="forward"), _full_multiplier(oracle, 1, (8, 8)))
    y = torch.fft.irfft2(spectrum, s=(8, 8), norm="forward") + oracle.bias[1].reshape(1, -1, 1, 1)
    y.square().sum().backward()
    for (name, p), q in zip(conv.named_parameters(), oracle.parameters()):
        torch.testing.assert_close(p.grad, q.grad, rtol=1e-4, atol=1e-5, msg=name)


@pytest.mark.parametrize("implementation", ["factorized", "reconstructed"])
def test_backward_keeps_no_batch_free_intermediate_but_the_weight_side_result(implementation):
    conv = FactorizedSpectralConv(8, 8, (8, 10), n_layers=2, factorization="tucker", rank=0.5,
                                  implementation=implementation, generator=torch.Generator().manual_seed(0))
    batch = 7  # divides the size of no weight-only tensor
    x = torch.randn(batch, 8, 16, 16, requires_grad=True)
    params = {p.untyped_storage().data_ptr() for p in conv.parameters()}
    batch_free = {}

    def pack(t):
        if t.untyped_storage().data_ptr() not in params and t.numel() % batch:
            batch_free[t.untyped_storage().data_ptr()] = tuple(t.shape)
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        conv(x, 1).sum().backward()
    # the weight-only einsums run under a checkpoint: what remains is the one tensor the batch
    # contraction consumes (the dense layer weight when reconstructed)
    assert len(batch_free) == 1, batch_free
    assert all(p.grad is not None for p in conv.parameters())
