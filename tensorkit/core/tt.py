"""Tensor-train format: ``x[i_1..i_K] = G_1[:, i_1, :] G_2[:, i_2, :] … G_K[:, i_K, :]``."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch

from tensorkit._validation import check_positive_int
from tensorkit.core.format import Draw, TensorFormat, check_components


class TTTensor(TensorFormat):
    """A tensor in tensor-train (matrix product state) format.

    Parameters
    ----------
    cores : sequence of torch.Tensor
        ``cores[k]`` has shape ``(r_{k-1}, n_k, r_k)`` with ``r_0 = r_K = 1``.
    """

    component_names = ("cores",)

    def __init__(self, cores: Sequence[torch.Tensor]) -> None:
        cores = list(cores)
        if not cores:
            raise ValueError("cores must not be empty")
        check_components(cores, "cores")
        for k, g in enumerate(cores):
            if g.ndim != 3:
                raise ValueError(f"cores[{k}] must be 3-D (r_prev, n, r_next), got shape {tuple(g.shape)}")
            if k and g.shape[0] != cores[k - 1].shape[2]:
                raise ValueError(f"cores[{k}] has left rank {g.shape[0]}, expected {cores[k - 1].shape[2]}")
        if cores[0].shape[0] != 1 or cores[-1].shape[2] != 1:
            raise ValueError("the first core's left rank and the last core's right rank must be 1")
        self.cores = cores

    def components(self) -> list[torch.Tensor]:
        return list(self.cores)

    def _from_components(self, tensors: list[torch.Tensor]) -> TTTensor:
        return TTTensor(tensors)

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(g.shape[1] for g in self.cores)

    @property
    def rank(self) -> tuple[int, ...]:
        return (1, *(g.shape[2] for g in self.cores))

    def to_dense(self) -> torch.Tensor:
        out = self.cores[0].reshape(-1, self.cores[0].shape[2])
        for g in self.cores[1:]:
            out = (out @ g.reshape(g.shape[0], -1)).reshape(-1, g.shape[2])
        return out.reshape(self.shape)

    def at(self, indices: torch.Tensor) -> torch.Tensor:
        idx = self._check_indices(indices)
        out = self.cores[0][0, idx[:, 0], :]  # (N, r_1)
        for k, g in enumerate(self.cores[1:], start=1):
            out = torch.einsum("na,anb->nb", out, g[:, idx[:, k], :])
        return out[:, 0]

    def mode_product(self, matrix: torch.Tensor, mode: int) -> TTTensor:
        self._check_mode(matrix, mode)
        cores = list(self.cores)
        cores[mode] = torch.einsum("anb,mn->amb", cores[mode], matrix.to(self.dtype))
        return TTTensor(cores)

    def take(self, index: torch.Tensor | slice, mode: int) -> TTTensor:
        self._check_take_mode(mode)
        cores = list(self.cores)
        cores[mode] = cores[mode][:, index, :]
        return TTTensor(cores)

    def einsum_operands(self, labels: str, rank_labels: str | None = None) -> tuple[list[str], list[torch.Tensor]]:
        ranks = self._rank_letters(labels, rank_labels, self.ndim + 1)
        return [ranks[k] + m + ranks[k + 1] for k, m in enumerate(labels)], list(self.cores)

    @classmethod
    def random(cls, shape: Sequence[int], rank: Sequence[int], std: float, draw: Draw) -> TTTensor:
        """Cores of spread ``s``: ``std = s^K·√(r_1 ⋯ r_{K-1})`` (``rank`` has the ``K+1`` entries)."""
        s = (std / math.sqrt(math.prod(rank[1:-1]))) ** (1.0 / len(shape))
        return TTTensor([draw((rank[k], n, rank[k + 1]), s) for k, n in enumerate(shape)])

    @classmethod
    def n_parameters(cls, shape: Sequence[int], rank: Sequence[int]) -> int:
        """``Σ r_{k-1} n_k r_k`` for the TT ranks ``(1, r_1, …, r_{K-1}, 1)``."""
        return sum(rank[k] * n * rank[k + 1] for k, n in enumerate(shape))

    @classmethod
    def _rank_for_scale(cls, shape: tuple[int, ...], scale: float, fixed: tuple[int, ...]) -> tuple[int, ...]:
        """``r_k = round(s·(n_k + n_{k+1}))``, capped at ``min(prod(shape[:k]), prod(shape[k:]))``."""
        caps = [min(math.prod(shape[:k]), math.prod(shape[k:])) for k in range(1, len(shape))]
        inner = [min(cap, max(1, round(scale * (shape[k - 1] + shape[k])))) for k, cap in enumerate(caps, start=1)]
        return (1, *inner, 1)

    @classmethod
    def _explicit_rank(cls, shape: tuple[int, ...], rank: Any) -> tuple[int, ...]:
        """One int for every inner rank, the ``K-1`` inner ranks, or all ``K+1`` with unit ends."""
        order = len(shape)
        if isinstance(rank, int) and not isinstance(rank, bool):
            ranks = (1, *(check_positive_int(rank, "rank"),) * (order - 1), 1)
        elif isinstance(rank, Sequence) and not isinstance(rank, str):
            ranks = tuple(rank)
            if len(ranks) == order - 1:
                ranks = (1, *ranks, 1)
            if len(ranks) != order + 1 or ranks[0] != 1 or ranks[-1] != 1:
                raise ValueError(f"TT rank must have {order - 1} inner entries or {order + 1} entries with unit ends, got {rank!r}")
            for k, r in enumerate(ranks):
                check_positive_int(r, f"rank[{k}]")
        else:
            raise TypeError(f"rank must be a float, an int or a sequence of ints, got {rank!r}")
        return tuple(int(r) for r in ranks)

    def _inner_same(self, other: TTTensor) -> torch.Tensor:
        env = torch.ones(1, 1, dtype=self.dtype, device=self.device)
        for g, h in zip(self.cores, other.cores):
            env = torch.einsum("ab,anc,bnd->cd", env, g.conj(), h)
        return env.reshape(())

    def _inner_dense(self, dense: torch.Tensor) -> torch.Tensor:
        rest = dense.reshape(1, -1)  # (r_{k-1}, n_k … n_K) contracted left to right
        for g in self.cores:
            rest = rest.reshape(g.shape[0], g.shape[1], -1)
            rest = torch.einsum("anr,anb->br", rest, g.conj()).reshape(g.shape[2], -1)
        return rest.reshape(())

    def to_tensorly(self) -> Any:
        """A ``tensorly.tt_tensor.TTTensor`` sharing these cores."""
        from tensorly.tt_tensor import TTTensor as TlTT

        return TlTT(list(self.cores))

    @classmethod
    def from_tensorly(cls, obj: Any) -> TTTensor:
        """Build from a tensorly ``TTTensor`` or a list of cores (NumPy or torch)."""
        return cls([torch.as_tensor(g) for g in obj])
