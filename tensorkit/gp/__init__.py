"""State-space Gaussian processes: Matérn SDEs, the periodic kernel and a batched Kalman filter / RTS smoother."""

from tensorkit.gp.kalman import ChainPosterior, chain_prior, smooth
from tensorkit.gp.periodic import Periodic
from tensorkit.gp.statespace import KERNELS, Matern

__all__ = ["ChainPosterior", "KERNELS", "Matern", "Periodic", "chain_prior", "smooth"]
