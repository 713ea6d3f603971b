"""Spectral weights built by the formats keep their parameter names and seeded values.

``spectral_weights_v1.pt`` was written by the code that set up each format's parameters in
``operators/weights.py`` (before issue 13): per format, the state dict of
``SpectralWeight((3, 4, 5), fmt, rank, generator=Generator().manual_seed(0))`` and its dense tensor.
"""

from pathlib import Path

import pytest
import torch

from tensorkit.core import FORMATS
from tensorkit.operators import SpectralWeight

SAVED = torch.load(Path(__file__).with_name("spectral_weights_v1.pt"), weights_only=True)


@pytest.mark.parametrize("fmt", list(SAVED))
def test_saved_checkpoint_loads_and_seeded_init_is_unchanged(fmt):
    saved = SAVED[fmt]
    rank = saved["rank"] if saved["rank"] is not None else 0.1
    fresh = SpectralWeight((3, 4, 5), fmt, rank=rank, generator=torch.Generator().manual_seed(0))
    assert list(fresh.state_dict()) == list(saved["state"])
    for key, value in fresh.state_dict().items():
        assert torch.equal(value, saved["state"][key]), key
    other = SpectralWeight((3, 4, 5), fmt, rank=rank, generator=torch.Generator().manual_seed(1))
    other.load_state_dict(saved["state"])  # strict: same names and shapes
    assert torch.equal(other.to_dense(), saved["dense"])
    assert type(other.tensor()) is FORMATS[fmt]


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_every_registered_format_sets_up_parameters_that_train(fmt):
    weight = SpectralWeight((4, 3, 5), fmt, rank=0.5, std=0.1, generator=torch.Generator().manual_seed(2))
    params = list(weight.parameters())
    assert params and all(p.dtype == torch.float32 and p.shape[-1] == 2 for p in params)
    assert weight.n_complex_parameters == sum(p.numel() // 2 for p in params)
    dense = weight.to_dense()
    assert dense.shape == (4, 3, 5) and dense.is_complex()
    assert 0.02 < float(dense.abs().square().mean().sqrt()) < 0.5  # the init spread is about std = 0.1
    dense.abs().square().sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in params)
