"""The bounded-memory paths: in-place blockwise DCTs and the slab-wise (TSQR) modal SVD agree with the
straightforward full-size computations, and the public transforms leave their input untouched."""

import numpy as np
import pytest
import scipy.fft
import torch

from tensorkit.chebyshev import coeffs_to_vals, transforms, vals_to_coeffs
from tensorkit.core import truncation
from tensorkit.core.tenalg import unfold


def _scipy_vals_to_coeffs(v: np.ndarray, axes) -> np.ndarray:
    for ax in axes:
        m = v.shape[ax]
        c = scipy.fft.dct(np.flip(v, ax), type=1, axis=ax) / (m - 1)
        idx = [slice(None)] * v.ndim
        for end in (0, -1):
            idx[ax] = end
            c[tuple(idx)] /= 2
        v = c
    return v


@pytest.mark.parametrize("shape, dims", [((33, 40, 29), None), ((17, 9, 300), [2, 0]), ((5, 700, 3), 1)])
def test_blockwise_inplace_dct_matches_scipy(monkeypatch, shape, dims):
    monkeypatch.setattr(transforms, "_ENTRIES_PER_BLOCK", 256)  # force many blocks along every mode
    x = torch.randn(*shape, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    before = x.clone()
    axes = range(len(shape)) if dims is None else ([dims] if isinstance(dims, int) else dims)
    np.testing.assert_allclose(vals_to_coeffs(x, 2, dims).numpy(), _scipy_vals_to_coeffs(x.numpy(), axes),
                               atol=1e-13)
    round_trip = coeffs_to_vals(vals_to_coeffs(x, 1, dims), 1, dims)
    torch.testing.assert_close(round_trip, x, atol=1e-12, rtol=0)
    assert torch.equal(x, before)  # the public transforms never overwrite their input


def test_transforms_accept_non_contiguous_input():
    x = torch.randn(20, 30, dtype=torch.float64).mT
    torch.testing.assert_close(vals_to_coeffs(x), vals_to_coeffs(x.contiguous()), atol=0, rtol=0)


@pytest.mark.parametrize("mode", [0, 1, 2])
def test_slabwise_modal_svd_matches_full_unfolding(monkeypatch, mode):
    monkeypatch.setattr(truncation, "_QR_BLOCK_ENTRIES", 64)  # slabs of 8·m² entries
    g = torch.Generator().manual_seed(1)
    # graded singular values down to 1e-14, so the small ones are checked too
    u = [torch.linalg.qr(torch.randn(n, 12, dtype=torch.float64, generator=g))[0] for n in (30, 41, 37)]
    core = torch.randn(12, 12, 12, dtype=torch.float64, generator=g) * torch.logspace(0, -14, 12, dtype=torch.float64)
    x = torch.einsum("abc,ia,jb,kc->ijk", core, *u)
    left, s = truncation.modal_svd(x, mode)
    ref_u, ref_s, _ = torch.linalg.svd(unfold(x, mode), full_matrices=False)
    assert s.shape == ref_s.shape
    torch.testing.assert_close(s, ref_s, atol=1e-15 * float(ref_s[0]) * 10, rtol=0)
    k = 8  # well-separated leading singular vectors agree up to sign
    torch.testing.assert_close((left[:, :k] * ref_u[:, :k]).sum(0).abs(), torch.ones(k, dtype=torch.float64),
                               atol=1e-10, rtol=0)
