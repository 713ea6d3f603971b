"""2-D incompressible Navier–Stokes (vorticity form) on the unit torus, batched, CPU or GPU."""

from __future__ import annotations

import math

import torch

from tensorkit._validation import check_choice, check_positive_float, check_positive_int
from tensorkit.data.pde.fields import periodic_grf, wavenumbers
from tensorkit.runtime import progress

SCHEMES = ("cn", "ifrk4")


def fno_forcing(resolution: int, device: torch.device | None = None, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """``f(x, y) = 0.1 (sin 2π(x+y) + cos 2π(x+y))`` on the grid ``i/resolution``."""
    x = torch.arange(resolution, device=device, dtype=dtype) / resolution
    s = x[:, None] + x[None, :]
    return 0.1 * (torch.sin(2 * math.pi * s) + torch.cos(2 * math.pi * s))


class _Spectral:
    """Wavenumbers, Laplacian and dealiasing mask of an ``s × s`` rfft2 grid."""

    def __init__(self, s: int, device: torch.device, dtype: torch.dtype) -> None:
        kx = wavenumbers(s, device, dtype)[:, None].expand(s, s // 2 + 1)
        ky = torch.arange(s // 2 + 1, device=device, dtype=dtype)[None, :].expand(s, s // 2 + 1)
        self.kx, self.ky = kx, ky
        self.lap = 4 * math.pi**2 * (kx**2 + ky**2)
        self.inv_lap = 1.0 / torch.where(self.lap == 0, torch.ones_like(self.lap), self.lap)
        self.dealias = ((kx.abs() <= 2.0 / 3.0 * s / 2) & (ky <= 2.0 / 3.0 * s / 2)).to(dtype)
        self.s = s

    def advection(self, w_h: torch.Tensor) -> torch.Tensor:
        """Fourier transform of ``u·∇ω`` (dealiased), with ``u = (∂_y ψ, −∂_x ψ)``, ``−Δψ = ω``."""
        s = (self.s, self.s)
        psi_h = w_h * self.inv_lap
        ik_x, ik_y = 2j * math.pi * self.kx, 2j * math.pi * self.ky
        u = torch.fft.irfft2(ik_y * psi_h, s=s)
        v = torch.fft.irfft2(-ik_x * psi_h, s=s)
        wx = torch.fft.irfft2(ik_x * w_h, s=s)
        wy = torch.fft.irfft2(ik_y * w_h, s=s)
        return torch.fft.rfft2(u * wx + v * wy) * self.dealias


def navier_stokes_2d(
    n_samples: int,
    resolution: int = 64,
    visc: float = 1e-3,
    t_final: float = 1.0,
    dt: float = 1e-4,
    n_snapshots: int = 10,
    scheme: str = "cn",
    forcing: bool = True,
    w0: torch.Tensor | None = None,
    batch_size: int = 64,
    seed: int = 0,
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float64,
    verbose: bool | None = None,
) -> dict[str, torch.Tensor]:
    """Vorticity trajectories ``∂_t ω + u·∇ω = ν Δω + f`` from GRF initial conditions (FNO recipe).

    Parameters
    ----------
    n_samples, resolution : int
        Number of trajectories and grid size ``s`` (even).
    visc, t_final, dt : float
        Viscosity ν, final time and time step.
    n_snapshots : int
        Saved times ``t_final·j/n_snapshots``, ``j = 1…n_snapshots``.
    scheme : {"cn", "ifrk4"}
        ``"cn"``: the original FNO scheme (explicit Euler for advection and forcing,
        Crank–Nicolson for diffusion; kept for parity with published sets). ``"ifrk4"``:
        integrating-factor RK4 (diffusion exact, fourth order in ``dt``; better for new data).
    forcing : bool
        Use the FNO forcing ``0.1(sin 2π(x+y) + cos 2π(x+y))``, or none.
    w0 : tensor, optional
        Initial vorticity (N, s, s); default: GRF with α = 2.5, τ = 7, σ = 7^1.5.
    batch_size : int
        Trajectories integrated together (GPU memory bound).
    seed : int
        Seed of the initial conditions.

    Returns
    -------
    dict with ``a`` (N, s, s) initial vorticity, ``u`` (N, n_snapshots, s, s) and ``t``.
    """
    n_samples = check_positive_int(n_samples, "n_samples")
    s = check_positive_int(resolution, "resolution")
    check_choice(scheme, "scheme", SCHEMES)
    visc, t_final, dt = (check_positive_float(v, n) for v, n in ((visc, "visc"), (t_final, "t_final"), (dt, "dt")))
    n_snapshots = check_positive_int(n_snapshots, "n_snapshots")
    dev = torch.device(device)
    steps = int(math.ceil(t_final / dt))
    record_every = steps / n_snapshots
    if abs(record_every - round(record_every)) > 1e-9:
        raise ValueError(f"t_final/dt = {steps} steps must be a multiple of n_snapshots = {n_snapshots}")
    record_every = int(round(record_every))
    dt = t_final / steps
    if w0 is None:
        w0 = periodic_grf(n_samples, s, 2, alpha=2.5, tau=7.0, sigma=7.0**1.5,
                          generator=torch.Generator().manual_seed(seed), dtype=dtype)
    if w0.shape != (n_samples, s, s):
        raise ValueError(f"w0 must have shape ({n_samples}, {s}, {s}), got {tuple(w0.shape)}")
    grid = _Spectral(s, dev, dtype)
    force = fno_forcing(s, dev, dtype) if forcing else torch.zeros(s, s, device=dev, dtype=dtype)
    f_h = torch.fft.rfft2(force)
    out = torch.empty(n_samples, n_snapshots, s, s, dtype=dtype)
    for start in progress(range(0, n_samples, batch_size), desc="Navier–Stokes", verbose=verbose):
        w_h = torch.fft.rfft2(w0[start:start + batch_size].to(dev, dtype))
        for step in range(1, steps + 1):
            w_h = _step(w_h, grid, f_h, visc, dt, scheme)
            if step % record_every == 0:
                out[start:start + batch_size, step // record_every - 1] = torch.fft.irfft2(w_h, s=(s, s)).cpu()
    t = torch.arange(1, n_snapshots + 1, dtype=dtype) * (t_final / n_snapshots)
    return {"a": w0.cpu(), "u": out, "t": t}


def _step(w_h: torch.Tensor, grid: _Spectral, f_h: torch.Tensor, visc: float, dt: float, scheme: str) -> torch.Tensor:
    if scheme == "cn":
        half = 0.5 * dt * visc * grid.lap
        return (-dt * grid.advection(w_h) + dt * f_h + (1 - half) * w_h) / (1 + half)
    # integrating factor E = exp(−ν|k|²dt): v = E⁻¹ŵ obeys v' = E⁻¹(−N(Ev) + f)
    e_half = torch.exp(-0.5 * dt * visc * grid.lap)

    def rhs(w: torch.Tensor) -> torch.Tensor:
        return -grid.advection(w) + f_h

    k1 = rhs(w_h)
    k2 = rhs(e_half * (w_h + 0.5 * dt * k1))
    k3 = rhs(e_half * w_h + 0.5 * dt * k2)
    k4 = rhs(e_half * e_half * w_h + dt * e_half * k3)
    return e_half * e_half * w_h + dt / 6 * (e_half * e_half * k1 + 2 * e_half * (k2 + k3) + k4)
