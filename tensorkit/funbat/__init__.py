"""FunBaT: functional Bayesian Tucker decomposition with state-space GP factor priors.

``FunBaT(rank, ...).fit(coords, values)`` learns posterior GP factor functions (one Kalman chain
per mode), a Gaussian Tucker core (or the CP super-diagonal) and the noise precision by conditional
expectation propagation; ``predict(coords, return_std=True)`` gives the predictive mean and standard
deviation; ``to_functional()`` returns a :class:`tensorkit.core.FunctionalTucker` (or, for a CP fit,
a :class:`tensorkit.core.FunctionalCP`).
"""

from tensorkit.funbat.basis import GPBasis
from tensorkit.funbat.core_posterior import CorePosterior
from tensorkit.funbat.estimator import FunBaT

__all__ = ["CorePosterior", "FunBaT", "GPBasis"]
