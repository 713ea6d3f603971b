"""DAIN backbones against masked ALS of the same rank on the built-in air temperature (20×25×53).

60 % of the cells are hidden (``np.random.default_rng(0).random(da.shape) < 0.6``); every model fits the
remaining cells (DAIN: ``sampler="none"``, seed 0, its own 20 % validation split; ALS: all of them) and
is scored by the RMSE on the hidden cells divided by their standard deviation.

    python experiments/dain/air_backbones.py
"""

from __future__ import annotations

import numpy as np
import torch

from tensorkit.completion import DAIN, masked_completion
from tensorkit.data import Observations, load_air_temperature

BACKBONES = {"cp": {"rank": 8}, "tucker": {"rank": (2, 3, 3)}, "mlp": {}, "costco": {}}
ALS = {"cp": "cp_als", "tucker": "hooi"}


def main() -> None:
    da = load_air_temperature()
    hidden = np.random.default_rng(0).random(da.shape) < 0.6
    seen, test = Observations.from_dataarray(da.where(~hidden)), Observations.from_dataarray(da.where(hidden))

    def score(pred: torch.Tensor) -> float:
        return float((pred.double() - test.values).square().mean().sqrt() / test.values.std())

    for name, options in BACKBONES.items():
        est = DAIN(name, sampler="none", standardize=True, seed=0, model_options=options)
        est.fit(seen.indices, seen.values, shape=seen.shape)
        line = f"{name:7s} {str(options.get('rank', '')):10s} DAIN {score(est.predict(test.indices)):.3f}"
        if name in ALS:
            fit = masked_completion(ALS[name], seen.indices, seen.values, seen.shape, options["rank"], n_iter_max=500)
            line += f"   masked {ALS[name]} {score(fit.at(test.indices)):.3f}"
        print(line, flush=True)


if __name__ == "__main__":
    main()
