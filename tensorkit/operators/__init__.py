"""Tensorized Fourier neural operators: factorized spectral convolution, TFNO, multigrid patching, training."""

from tensorkit.operators.patching import MultigridPatching
from tensorkit.operators.spectral_conv import FactorizedSpectralConv
from tensorkit.operators.tfno import FNO, TFNO
from tensorkit.operators.weights import SpectralWeight

__all__ = ["FNO", "TFNO", "FactorizedSpectralConv", "MultigridPatching", "SpectralWeight"]
