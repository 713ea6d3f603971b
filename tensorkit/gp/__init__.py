"""State-space Gaussian processes: Matérn SDEs and a batched Kalman filter / RTS smoother."""

from tensorkit.gp.kalman import ChainPosterior, chain_prior, smooth
from tensorkit.gp.statespace import KERNELS, Matern

__all__ = ["ChainPosterior", "KERNELS", "Matern", "chain_prior", "smooth"]
