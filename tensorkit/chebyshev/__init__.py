"""Chebyshev–Tucker: mesh-free hybrid Chebyshev–Tucker approximation of multivariate functions.

Level 1 is product Chebyshev interpolation (coefficients by DCT along each mode), level 2 a Tucker
truncation of the coefficient tensor; the result is a :class:`tensorkit.core.FunctionalTucker` whose
bases are Chebyshev series (:class:`ChebyshevBasis`). See ``ChebTucker`` and
``tensorkit.chebyshev.potentials`` (range-separated Newton kernel, multi-particle long-range sums).
"""

from tensorkit.chebyshev.basis import ChebyshevBasis
from tensorkit.chebyshev.estimator import ChebTucker
from tensorkit.chebyshev.function import ChebTuckerFunction
from tensorkit.chebyshev.points import chebyshev_points
from tensorkit.chebyshev.transforms import coeffs_to_vals, vals_to_coeffs

__all__ = [
    "ChebTucker",
    "ChebTuckerFunction",
    "ChebyshevBasis",
    "chebyshev_points",
    "coeffs_to_vals",
    "to_dataarray",
    "vals_to_coeffs",
]


def to_dataarray(model, name=None, **coords):
    """Sample a fitted :class:`ChebTucker` (or a :class:`ChebTuckerFunction`) onto named coordinates."""
    return model.to_dataarray(name=name, **coords)
