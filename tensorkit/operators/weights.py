"""Complex spectral weights stored as real ``nn.Parameter``s and exposed as ``tensorkit.core`` formats."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from tensorkit._validation import check_choice, check_positive_float, check_positive_int
from tensorkit.core import FORMATS, CPTensor, DenseTensor, TensorFormat, TTTensor, TuckerTensor

#: the most complex entries one spectral weight may store (2 GiB as float32 pairs): a larger one took
#: minutes to draw before any check (``TFNO((1000, 1000), 1, 1, 64)``: 0.8e9 entries, 83 s)
MAX_ENTRIES = 2**28


def _complex_parameter(shape: Sequence[int], std: float, generator: torch.Generator | None) -> nn.Parameter:
    """A complex tensor of ``shape`` with entries ``std·(N(0,½) + i N(0,½))``, stored as real ``(…, 2)``."""
    data = torch.randn(*shape, 2, generator=generator) * (std / math.sqrt(2.0))
    return nn.Parameter(data)


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
        order = len(self.shape)
        if self.factorization == "dense":
            self.weight = _complex_parameter(self.shape, std, generator)
        elif self.factorization == "tucker":
            n_core = math.prod(self.rank)
            # core and K factors share the spread: std = s^(K+1)·sqrt(prod r)
            s = (std / math.sqrt(n_core)) ** (1.0 / (order + 1))
            self.core = _complex_parameter(self.rank, s, generator)
            self.factors = nn.ParameterList(
                _complex_parameter((n, r), s, generator) for n, r in zip(self.shape, self.rank)
            )
        elif self.factorization == "cp":
            s = (std / math.sqrt(self.rank)) ** (1.0 / order)
            self.weights = nn.Parameter(torch.ones(self.rank, 2) * torch.tensor([1.0, 0.0]))
            self.factors = nn.ParameterList(_complex_parameter((n, self.rank), s, generator) for n in self.shape)
        else:
            inner = math.prod(self.rank[1:-1])
            s = (std / math.sqrt(inner)) ** (1.0 / order)
            self.cores = nn.ParameterList(
                _complex_parameter((self.rank[k], n, self.rank[k + 1]), s, generator) for k, n in enumerate(self.shape)
            )

    def tensor(self) -> TensorFormat:
        """The complex tensor, as a ``tensorkit.core`` format (a :class:`DenseTensor` when dense)."""
        c = torch.view_as_complex
        if self.factorization == "dense":
            return DenseTensor(c(self.weight))
        if self.factorization == "tucker":
            return TuckerTensor(c(self.core), [c(u) for u in self.factors])
        if self.factorization == "cp":
            return CPTensor(c(self.weights), [c(u) for u in self.factors])
        return TTTensor([c(g) for g in self.cores])

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
