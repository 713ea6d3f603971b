"""Tensorized Fourier neural operators: factorized spectral convolution, TFNO, multigrid patching, training."""

from tensorkit.operators.losses import H1Loss, LpLoss, relative_h1, relative_lp
from tensorkit.operators.normalizer import GaussianNormalizer
from tensorkit.operators.patching import MultigridPatching
from tensorkit.operators.spectral_conv import FactorizedSpectralConv
from tensorkit.operators.tfno import FNO, TFNO
from tensorkit.operators.trainer import Trainer
from tensorkit.operators.weights import SpectralWeight

__all__ = [
    "FNO", "TFNO", "FactorizedSpectralConv", "GaussianNormalizer", "H1Loss", "LpLoss", "MultigridPatching",
    "SpectralWeight", "Trainer", "relative_h1", "relative_lp",
]
