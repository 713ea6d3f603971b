"""``TFNO(seed=s)`` fixes the whole initialisation and leaves the caller's RNG alone."""

import torch

from tensorkit.operators import TFNO


def _state(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_seed_fixes_every_layer_and_leaves_the_global_rng_untouched():
    torch.manual_seed(123)
    before = torch.get_rng_state()
    a = _state(TFNO((8, 8), 1, 1, 8, n_layers=2, seed=0))
    assert torch.equal(torch.get_rng_state(), before)
    torch.rand(5)  # move the global RNG: the seeded model must not care
    b = _state(TFNO((8, 8), 1, 1, 8, n_layers=2, seed=0))
    c = _state(TFNO((8, 8), 1, 1, 8, n_layers=2, seed=1))
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["lifting.fc1.weight"], c["lifting.fc1.weight"])
    assert not torch.equal(a["spectral.weight.core"], c["spectral.weight.core"])

