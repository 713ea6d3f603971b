"""Complex spectral weights stored as real ``nn.Parameter``s and exposed as ``tensorkit.core`` formats."""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import partial
from typing import Any

import torch
from torch import nn

from tensorkit._validation import check_choice, check_positive_float, check_positive_int
from tensorkit.core import FORMATS, TensorFormat

#: the most complex entries one spectral weight may store (2 GiB as float32 pairs): a larger one took
#: minutes to draw before any check (``TFNO((1000, 1000), 1, 1, 64)``: 0.8e9 entries, 83 s)
MAX_ENTRIES = 2**28


#: parameter names that differ from the format's component names (kept so that checkpoints still load)
_PARAMETER_NAMES = {"data": "weight"}


def _complex_draw(shape: Sequence[int], std: float, generator: torch.Generator | None) -> torch.Tensor:
    """A complex tensor of ``shape`` with entries ``std·(N(0,½) + i N(0,½))``, a view of real ``(…, 2)`` storage."""
    return torch.view_as_complex(torch.randn(*shape, 2, generator=generator) * (std / math.sqrt(2.0)))


class SpectralWeight(nn.Module):
    """A complex tensor of ``shape`` in a :data:`tensorkit.core.FORMATS` format, trained through real views.

    Every complex component is an ``nn.Parameter`` of real dtype with a trailing axis of size 2
    (real, imaginary), so optimisers, DDP and NCCL all-reduce need no complex support; the
    complex view is taken in :meth:`tensor`.

    Parameters
    ----------
    shape : sequence of int
        Shape of the full complex tensor.
    factorization : {"dense", "tucker", "cp", "tt"}
    rank : float or int or sequence of int
        Budget fraction of the dense entry count, or explicit ranks (see
        :meth:`tensorkit.core.TensorFormat.resolve_rank`). Ignored for ``"dense"``.
    fixed_rank_modes : sequence of int
        Tucker modes kept at full rank.
    std : float
        Target standard deviation of the entries of the full tensor at initialisation; the
        factors are scaled so that their product has roughly this spread.
    generator : torch.Generator, optional
        Source of randomness for the initialisation.
    """

    def __init__(
        self,
        shape: Sequence[int],
        factorization: str = "dense",
        rank: Any = 0.1,
        fixed_rank_modes: Sequence[int] = (),
        std: float = 0.02,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        self.shape = tuple(check_positive_int(n, f"shape[{k}]") for k, n in enumerate(shape))
        self.factorization = check_choice(factorization, "factorization", tuple(FORMATS))
        std = check_positive_float(std, "std")
        self.rank = FORMATS[self.factorization].resolve_rank(self.shape, rank, fixed_rank_modes)
        stored = FORMATS[self.factorization].n_parameters(self.shape, self.rank)
        if stored > MAX_ENTRIES:
            raise ValueError(f"spectral weights of shape {self.shape} ({self.factorization}, rank {self.rank}) would store "
                             f"{stored:.3g} complex entries, more than {MAX_ENTRIES:.3g} ({8 * MAX_ENTRIES / 2**30:.0f} GiB): "
                             "lower n_modes, hidden_channels or rank")  # fmt: skip
        init = FORMATS[self.factorization].random(self.shape, self.rank, std, partial(_complex_draw, generator=generator))
        for name, value in init.named_components().items():
            param = (nn.ParameterList(nn.Parameter(torch.view_as_real(v)) for v in value) if isinstance(value, list)
                     else nn.Parameter(torch.view_as_real(value)))
            setattr(self, _PARAMETER_NAMES.get(name, name), param)

    def tensor(self) -> TensorFormat:
        """The complex tensor, as a ``tensorkit.core`` format (a :class:`DenseTensor` when dense)."""
        fmt, c = FORMATS[self.factorization], torch.view_as_complex
        named = {}
        for name in fmt.component_names:
            value = getattr(self, _PARAMETER_NAMES.get(name, name))
            named[name] = [c(p) for p in value] if isinstance(value, nn.ParameterList) else c(value)
        return fmt(**named)

    def to_dense(self) -> torch.Tensor:
        """The full complex tensor (the oracle; materialises every entry)."""
        return self.tensor().to_dense()

    @property
    def n_complex_parameters(self) -> int:
        """Number of complex entries stored (real parameters are twice this)."""
        return FORMATS[self.factorization].n_parameters(self.shape, self.rank)

    @property
    def compression_ratio(self) -> float:
        """Dense entry count over stored entry count."""
        return math.prod(self.shape) / self.n_complex_parameters

    def extra_repr(self) -> str:
        return f"shape={self.shape}, factorization={self.factorization!r}, rank={self.rank}"
