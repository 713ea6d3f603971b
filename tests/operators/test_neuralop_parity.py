"""tensorkit's dense TFNO backbone computes the same function as neuraloperator 2.0's FNO.

With neuraloperator's initial weights copied in, both models must agree to float32 round-off, in
1-D, 2-D and 3-D and at a resolution other than the one the modes were chosen for. This pins every
backbone component (grid embedding, lifting/projection MLP widths, Fourier block order, double
skips, channel-MLP expansion, spectral bias, corner-block and single-block layouts, FFT normalisation).
"""

import pytest
import torch

from tensorkit.operators import TFNO
from tensorkit.operators.interop import load_neuralop_dense_fno

neuralop_models = pytest.importorskip("neuralop.models")
tl = pytest.importorskip("tensorly")


@pytest.fixture(autouse=True)
def _pytorch_backend():
    """neuraloperator contracts through tensorly, whose global backend other tests may switch."""
    with tl.backend_context("pytorch"):
        yield


@pytest.mark.parametrize(
    "nl_modes, tk_modes, grids",
    [((12,), (14,), [(24,), (40,)]), ((8, 8), (8, 10), [(16, 16), (24, 20)]), ((4, 4, 4), (4, 4, 6), [(8, 8, 8)])],
)
@pytest.mark.parametrize("blocks", ["corners", "single"])
def test_dense_backbone_matches_neuralop(nl_modes, tk_modes, grids, blocks):
    torch.manual_seed(0)
    peer = neuralop_models.FNO(n_modes=nl_modes, in_channels=2, out_channels=1, hidden_channels=8, n_layers=3)
    ours = load_neuralop_dense_fno(TFNO(tk_modes, 2, 1, 8, n_layers=3, factorization=None, blocks=blocks), peer)
    for grid in grids:
        x = torch.randn(3, 2, *grid)
        with torch.no_grad():
            expected, got = peer(x), ours(x)
        assert expected.abs().max() > 1e-3
        torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-6)


def test_mismatched_modes_are_rejected():
    torch.manual_seed(0)
    peer = neuralop_models.FNO(n_modes=(8, 8), in_channels=1, out_channels=1, hidden_channels=8, n_layers=2)
    with pytest.raises(ValueError, match="modes"):
        load_neuralop_dense_fno(TFNO((8, 8), 1, 1, 8, n_layers=2, factorization=None), peer)
    with pytest.raises(ValueError, match="dense"):
        load_neuralop_dense_fno(TFNO((8, 10), 1, 1, 8, n_layers=2, factorization="tucker"), peer)
