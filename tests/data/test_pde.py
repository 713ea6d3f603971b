"""PDE generators against exact solutions; readers of the shared neuraloperator files; storage."""

import math

import numpy as np
import pytest
import torch

from tensorkit.data.pde import (
    burgers_1d, darcy_flow, load_burgers, load_darcy, navier_stokes_2d, periodic_grf, read_pairs, solve_darcy,
    to_dataset, write_dataset,
)


@pytest.mark.parametrize("scheme,tol", [("cn", 1e-4), ("ifrk4", 1e-10)])
def test_navier_stokes_single_mode_decays_exactly(scheme, tol):
    # ω0 = sin(2πx)sin(2πy) is a Laplacian eigenfunction: u·∇ω = 0, so ω(t) = ω0 exp(−8π²νt)
    s, nu, t = 32, 1e-2, 0.5
    x = torch.arange(s, dtype=torch.float64) / s
    w0 = (torch.sin(2 * math.pi * x)[:, None] * torch.sin(2 * math.pi * x)[None, :]).expand(2, s, s).clone()
    out = navier_stokes_2d(2, s, visc=nu, t_final=t, dt=1e-3, n_snapshots=5, forcing=False, w0=w0, scheme=scheme)
    expected = w0 * math.exp(-8 * math.pi**2 * nu * t)
    assert out["u"].shape == (2, 5, s, s)
    assert torch.allclose(out["u"][:, -1], expected, atol=tol)


def test_navier_stokes_schemes_agree_and_conserve_mean():
    out_cn = navier_stokes_2d(2, 32, visc=1e-3, t_final=0.2, dt=1e-3, n_snapshots=2, seed=3, scheme="cn")
    out_rk = navier_stokes_2d(2, 32, visc=1e-3, t_final=0.2, dt=1e-3, n_snapshots=2, seed=3, scheme="ifrk4")
    assert torch.equal(out_cn["a"], out_rk["a"])
    rel = (out_cn["u"] - out_rk["u"]).norm() / out_rk["u"].norm()
    assert rel < 1e-2  # first- vs fourth-order in time, same dynamics
    assert abs(out_rk["u"].mean(dim=(-1, -2))).max() < 1e-10  # zero-mean vorticity stays zero-mean


def test_grf_spectrum_follows_the_covariance():
    f = periodic_grf(400, 32, 1, alpha=2.5, tau=7.0, generator=torch.Generator().manual_seed(0))
    power = torch.fft.fft(f).abs().pow(2).mean(0)
    k = torch.arange(1, 5, dtype=torch.float64)
    # f = Re ifft(c), E|c_k|² = 4 s² σ² λ_k²  ⇒  E|fft(f)_k|² = 2 s² σ² λ_k², σ = τ^(α − ½) = 49
    expected = 2 * 32**2 * 49.0**2 * (4 * math.pi**2 * k**2 + 49) ** -2.5
    assert torch.allclose(power[1:5], expected, rtol=0.15)


def test_darcy_constant_coefficient_matches_the_poisson_centre_value():
    # −Δu = 1 on the unit square, u = 0 on the boundary: u(½, ½) = 0.0736713532…
    u = solve_darcy(np.ones((65, 65)))
    assert u[32, 32] == pytest.approx(0.0736713532, abs=2e-4)
    assert u[0].max() == 0 and u[:, -1].max() == 0


def test_darcy_generator_shapes_and_values():
    out = darcy_flow(3, 17, seed=1)
    assert out["a"].shape == out["u"].shape == (3, 17, 17)
    assert set(torch.unique(out["a"]).tolist()) <= {4.0, 12.0}
    assert (out["u"] >= 0).all()  # maximum principle for f ≥ 0


def test_burgers_small_amplitude_follows_the_heat_equation():
    s, nu = 64, 0.05
    x = torch.arange(s, dtype=torch.float64) / s
    u0 = 1e-6 * torch.sin(2 * math.pi * x)[None]
    out = burgers_1d(1, s, visc=nu, t_final=0.5, n_snapshots=2, u0=u0)
    assert out["u"].shape == (1, 3, s)
    expected = u0 * math.exp(-nu * 4 * math.pi**2 * 0.5)
    assert torch.allclose(out["u"][:, -1], expected, atol=1e-12)
    big = burgers_1d(4, 64, visc=0.01, t_final=0.2, n_snapshots=2, seed=0)
    assert torch.allclose(big["u"].mean(-1), big["a"].mean(-1, keepdim=True).expand(-1, 3), atol=1e-10)  # mass
    energy = big["u"].pow(2).mean(-1)
    assert (energy[:, 1:] <= energy[:, :-1] + 1e-12).all()  # viscous energy decay


def test_dataset_round_trip_through_netcdf(tmp_path):
    out = navier_stokes_2d(3, 16, t_final=0.01, dt=1e-3, n_snapshots=2, seed=0)
    ds = to_dataset(out, {"visc": 1e-3, "scheme": "cn", "resolution": 16})
    assert ds["u"].dims == ("sample", "t", "x", "y") and ds.attrs["scheme"] == "cn"
    path = tmp_path / "ns.nc"
    write_dataset(ds, path, chunk_samples=2)
    x, y = read_pairs(path)
    assert x.shape == y.shape == (3, 1, 16, 16) and x.dtype == torch.float32
    torch.testing.assert_close(y[:, 0], out["u"][:, -1].float())


def test_shared_neuralop_readers(shared_data):
    x, y = load_darcy("train", 16)
    assert x.shape == y.shape == (1000, 1, 16, 16) and set(torch.unique(x).tolist()) == {0.0, 1.0}
    x32, _ = load_darcy("test", 32)
    assert x32.shape == (50, 1, 32, 32)
    u0, u, visc = load_burgers("test")
    assert u0.shape == (400, 1, 16) and u.shape == (400, 1, 17, 16) and visc == 0.01
    torch.testing.assert_close(u[:, 0, 0], u0[:, 0])  # the first time slice is the initial condition
    with pytest.raises(ValueError, match="split"):
        load_darcy("val")
