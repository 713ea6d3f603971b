"""One mode's latent functions: message sums, the Kalman chain and the posterior at any coordinate."""

from __future__ import annotations

import torch

from tensorkit.gp import Matern, chain_prior, smooth

__all__ = ["ModeChain", "update_together"]


class ModeChain:
    """The ``rank`` functions of one mode, as one state-space chain over its unique training coordinates.

    Conditional-EP messages from the data are stored only as damped sums per unique coordinate
    (information matrix ``(T, r, r)`` and vector ``(T, r)``), never per data point.

    Parameters
    ----------
    grid : (T,) tensor
        Sorted unique (rescaled) training coordinates of the mode.
    kernel : Matern
        Prior shared by the mode's functions.
    rank : int
    method : {"auto", "parallel", "sequential"}
        Kalman recursions (see :func:`tensorkit.gp.smooth`).
    """

    def __init__(self, grid: torch.Tensor, kernel: Matern, rank: int, method: str = "auto") -> None:
        self.grid = grid
        self.rank = rank
        self.method = method
        T, dt, dev = grid.numel(), grid.dtype, grid.device
        self.info_matrix = torch.zeros(T, rank, rank, dtype=dt, device=dev)
        self.info_vector = torch.zeros(T, rank, dtype=dt, device=dev)
        self.mean = torch.zeros(T, rank, dtype=dt, device=dev)
        self.cov = torch.zeros(T, rank, rank, dtype=dt, device=dev)
        self.set_kernel(kernel)

    def set_kernel(self, kernel: Matern) -> None:
        """Replace the prior (e.g. after a lengthscale update)."""
        self.kernel = kernel.with_hyperparameters(kernel.lengthscale.to(self.grid), kernel.variance.to(self.grid))
        self._prior = chain_prior(self.kernel, self.grid, self.rank)

    def accumulate(self, vector: torch.Tensor, matrix: torch.Tensor, tau: float, damping: float) -> None:
        """Damp in new messages given as per-state sums over the data, ``Σ y E[a]`` (T, r) and ``Σ E[aaᵀ]`` (T, r, r), times ``τ``."""
        self.info_matrix = damping * self.info_matrix + (1.0 - damping) * (tau * matrix)
        self.info_vector = damping * self.info_vector + (1.0 - damping) * (tau * vector)

    def _information(self, extra_precision: float) -> tuple[torch.Tensor, torch.Tensor]:
        if extra_precision == 0.0:
            return self.info_matrix, self.info_vector
        eye = torch.eye(self.rank, dtype=self.grid.dtype, device=self.grid.device)
        return self.info_matrix + extra_precision * eye, self.info_vector

    def update(self, extra_precision: float = 0.0) -> None:
        """Run the Kalman filter + RTS smoother; refresh the posterior at the training coordinates.

        ``extra_precision`` adds ``c·I`` to every pseudo-observation's precision (the reference
        code's shrinkage; only used in parity mode).
        """
        A, Q, P0, observed = self._prior
        Lam, eta = self._information(extra_precision)
        post = smooth(A[None], Q[None], P0[None], Lam[None], eta[None], observed, method=self.method)
        self.mean = post.mean[0][:, observed]
        self.cov = post.cov[0][:, observed][:, :, observed]

    def locate(self, x: torch.Tensor) -> torch.Tensor:
        """Positions of ``x`` in the training grid, or -1 where ``x`` is not a training coordinate."""
        pos = torch.searchsorted(self.grid, x).clamp(max=self.grid.numel() - 1)
        return torch.where(self.grid[pos] == x, pos, torch.full_like(pos, -1))

    def posterior(self, x: torch.Tensor, extra_precision: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
        """Posterior mean (n, r) and covariance (n, r, r) of the functions at rescaled coordinates ``x``.

        Coordinates that are not training coordinates are inserted into the chain as states with zero
        information, so their marginals are exact (left of, between and right of the data).
        """
        pos = self.locate(x)
        if bool((pos >= 0).all()):
            return self.mean[pos], self.cov[pos]
        union, inverse = torch.unique(torch.cat([self.grid, x]), return_inverse=True)
        train_pos = inverse[: self.grid.numel()]
        Lam, eta = self._information(extra_precision)
        big_Lam = Lam.new_zeros(union.numel(), self.rank, self.rank)
        big_Lam[train_pos] = Lam
        big_eta = eta.new_zeros(union.numel(), self.rank)
        big_eta[train_pos] = eta
        A, Q, P0, observed = chain_prior(self.kernel, union, self.rank)
        post = smooth(A[None], Q[None], P0[None], big_Lam[None], big_eta[None], observed, method=self.method)
        query = inverse[self.grid.numel():]
        mean = post.mean[0][query][:, observed]
        cov = post.cov[0][query][:, observed][:, :, observed]
        return mean, cov

    def log_evidence(self, kernel: Matern, extra_precision: float = 0.0) -> torch.Tensor:
        """Log evidence of the current pseudo-observations under a (batched) kernel, shape ``kernel`` batch."""
        A, Q, P0, observed = chain_prior(kernel, self.grid, self.rank)
        batch = A.shape[:-3]
        A, Q, P0 = A.reshape(-1, *A.shape[-3:]), Q.reshape(-1, *Q.shape[-3:]), P0.reshape(-1, *P0.shape[-2:])
        Lam, eta = self._information(extra_precision)
        B = A.shape[0]
        post = smooth(A, Q, P0, Lam.expand(B, *Lam.shape), eta.expand(B, *eta.shape), observed, smoother=False, evidence=True, method=self.method)
        return post.log_evidence.reshape(batch)


def update_together(chains: list[ModeChain], extra_precision: float = 0.0) -> None:
    """Smooth several chains of equal rank and kernel order in **one** batched Kalman call.

    Shorter chains are padded at the end with steps that neither move (``A = I``, ``Q = 0``) nor
    observe, which leaves their posteriors unchanged. Chains of different ranks are smoothed one by one.
    """
    ranks = {c.rank for c in chains}
    dims = {c._prior[0].shape[-1] for c in chains}
    if len(chains) == 1 or len(ranks) > 1 or len(dims) > 1 or len({c.method for c in chains}) > 1:
        for chain in chains:
            chain.update(extra_precision)
        return
    T = max(c.grid.numel() for c in chains)
    d = dims.pop()
    eye = torch.eye(d, dtype=chains[0].grid.dtype, device=chains[0].grid.device)
    As, Qs, P0s, Lams, etas = [], [], [], [], []
    for chain in chains:
        A, Q, P0, observed = chain._prior
        Lam, eta = chain._information(extra_precision)
        pad = T - chain.grid.numel()
        As.append(torch.cat([A, eye.expand(pad, d, d)]))
        Qs.append(torch.cat([Q, Q.new_zeros(pad, d, d)]))
        P0s.append(P0)
        Lams.append(torch.cat([Lam, Lam.new_zeros(pad, *Lam.shape[1:])]))
        etas.append(torch.cat([eta, eta.new_zeros(pad, *eta.shape[1:])]))
    post = smooth(torch.stack(As), torch.stack(Qs), torch.stack(P0s), torch.stack(Lams), torch.stack(etas),
                  observed, method=chains[0].method)
    for b, chain in enumerate(chains):
        n = chain.grid.numel()
        chain.mean = post.mean[b, :n][:, observed]
        chain.cov = post.cov[b, :n][:, observed][:, :, observed]
