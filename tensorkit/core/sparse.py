"""Reductions over the observed cells of a grid: sums of products of per-coordinate rows onto one mode.

A sparse tensor with values ``w_n`` at cells ``(i^n_1, …, i^n_K)`` is contracted with one table of
rows per mode (``rows[j]`` has one row per coordinate of mode ``j``), leaving mode ``k`` free::

    out[t] = Σ_{n : i^n_k = t} w_n · ∘_{j ≠ k} rows[j][i^n_j]

with ``∘`` the Hadamard product (CP: the sparse MTTKRP) or the Kronecker product in mode order
(Tucker: the sparse tensor-times-matrices chain). This is what Bayesian tensor models need for the
first and second moments of their factor messages (e.g. FunBaT's conditional EP): on a grid the
message to a coordinate of mode ``k`` depends on the data only through such sums.

The cells are sorted once per free mode so that cells sharing all but the last other coordinate are
adjacent. Each block of cells is then reduced one mode at a time: the last other mode by one
matrix product (dense where the block fills at least a quarter of it, else CSR; no per-cell rows are
gathered), the remaining ones by gather-and-add over the distinct prefixes, which on a grid are far
fewer than the cells. Temporaries are bounded by about :data:`~tensorkit.core.tenalg.BLOCK_ENTRIES`
numbers whatever the number of cells, and no step synchronises with the host after the first call
per mode (which builds the blocks).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from tensorkit.core.tenalg import BLOCK_ENTRIES

__all__ = ["SparseCells"]


@dataclass(frozen=True)
class _Block:
    """One block of sorted cells, reduced level by level.

    ``cells``: the block's cell ids; ``crow``/``col``: CSR pattern of (distinct prefixes × last other
    coordinate); ``dense``: where the pattern is at least 1/4 full, the cells' positions in that matrix
    stored densely (a dense product is then faster), else None; ``levels``: per further reduced mode,
    the coordinate of each current prefix and its position among the shorter prefixes (with their
    count); ``target``: free-mode coordinate per final prefix.
    """

    cells: torch.Tensor
    crow: torch.Tensor
    col: torch.Tensor
    dense: torch.Tensor | None
    levels: tuple[tuple[torch.Tensor, torch.Tensor, int], ...]
    target: torch.Tensor


def _prefix_ids(indices: Sequence[torch.Tensor], shape: Sequence[int]) -> list[torch.Tensor]:
    """Per point and length ``d``, the rank of its first ``d + 1`` coordinates among all such prefixes (lexicographic).

    Ranks stay below the number of points, so ``rank · n + index`` never overflows, whatever the grid's size.
    """
    ids = [indices[0]]
    for index, n in zip(indices[1:], shape[1:]):
        ids.append(torch.unique(ids[-1] * n + index, return_inverse=True)[1])
    return ids


class SparseCells:
    """The observed cells of a ``shape`` grid, with reductions of row products onto any one mode.

    Parameters
    ----------
    indices : sequence of K (N,) long tensors
        Coordinate of each point in each mode; points may repeat a cell.
    shape : sequence of K int
        Number of coordinates per mode.

    Attributes
    ----------
    cells : (C, K) long tensor
        The distinct cells, sorted lexicographically.
    point_cell : (N,) long tensor
        Position of each point's cell in ``cells``.
    counts : (C,) long tensor
        Points per cell.
    """

    def __init__(self, indices: Sequence[torch.Tensor], shape: Sequence[int]) -> None:
        if len(indices) != len(shape) or len(shape) < 2:
            raise ValueError(f"need one index tensor per mode (at least 2), got {len(indices)} for shape {tuple(shape)}")
        self.shape = tuple(int(n) for n in shape)
        self.point_cell = _prefix_ids(indices, self.shape)[-1]
        self.counts = torch.bincount(self.point_cell)
        representative = torch.empty_like(self.counts).scatter_(0, self.point_cell, torch.arange(self.point_cell.numel(), device=self.point_cell.device))
        self.cells = torch.stack([index[representative] for index in indices], 1)
        self._plans: dict[tuple[int, int], list[_Block]] = {}

    def cell_weights(self, weights: torch.Tensor | None, like: torch.Tensor) -> torch.Tensor:
        """Per-cell sums of the point ``weights`` (None: one per point), in ``like``'s dtype."""
        if weights is None:
            return self.counts.to(like.dtype)
        return like.new_zeros(self.cells.shape[0]).index_add_(0, self.point_cell, weights.to(like.dtype))

    def reduce(self, rows: Sequence[torch.Tensor], mode: int, weights: torch.Tensor | None = None,
               kronecker: bool = False) -> torch.Tensor:
        """``out[t] = Σ_{n: i^n_mode = t} w_n ∘_{j≠mode} rows[j][i^n_j]``.

        Parameters
        ----------
        rows : sequence of K tensors
            ``rows[j]`` has shape ``(shape[j], w_j)``; ``rows[mode]`` is not used.
        mode : int
            The free mode.
        weights : (N,) tensor, optional
            Per-point weights ``w_n`` (default 1).
        kronecker : bool
            Kronecker products (row width ``Π_{j≠mode} w_j``, mode ``j`` slower than later modes)
            instead of Hadamard products (all widths equal).

        Returns
        -------
        (shape[mode], W) tensor
        """
        others = [j for j in range(len(self.shape)) if j != mode]
        widths = [rows[j].shape[1] for j in others]
        if not kronecker and len(set(widths)) > 1:
            raise ValueError(f"Hadamard products need rows of one width, got widths {widths}")
        width = math.prod(widths) if kronecker else widths[0]
        like = rows[others[0]]
        values = self.cell_weights(weights, like)
        out = like.new_zeros(self.shape[mode], width)
        last = rows[others[-1]]
        for block in self._plan(mode, max(1, BLOCK_ENTRIES // width)):
            shape = (block.crow.numel() - 1, last.shape[0])
            if block.dense is not None:
                matrix = values.new_zeros(shape[0] * shape[1]).index_copy_(0, block.dense, values[block.cells]).view(shape)
            else:
                with warnings.catch_warnings():
                    warnings.filterwarnings("ignore", "Sparse CSR tensor support is in beta state")
                    matrix = torch.sparse_csr_tensor(block.crow, block.col, values[block.cells], shape, check_invariants=False)
            acc = matrix @ last
            for j, (coordinate, position, n_prefixes) in zip(reversed(others[:-1]), block.levels):
                factor = rows[j][coordinate]
                acc = (factor[:, :, None] * acc[:, None, :]).reshape(acc.shape[0], -1) if kronecker else factor * acc
                acc = acc.new_zeros(n_prefixes, acc.shape[1]).index_add_(0, position, acc)
            out.index_add_(0, block.target, acc)
        return out

    def _plan(self, mode: int, chunk: int) -> list[_Block]:
        """Blocks of at most ``chunk`` cells, sorted by (free mode, other modes in order); built once."""
        key = (mode, chunk)
        if key not in self._plans:
            order = [mode] + [j for j in range(len(self.shape)) if j != mode]
            prefix = _prefix_ids([self.cells[:, j] for j in order], [self.shape[j] for j in order])
            sorted_cells = torch.empty_like(prefix[-1])
            sorted_cells[prefix[-1]] = torch.arange(sorted_cells.numel(), device=sorted_cells.device)
            blocks = []
            for start in range(0, sorted_cells.numel(), chunk):
                cells = sorted_cells[start:start + chunk]
                _, counts = torch.unique_consecutive(prefix[-2][cells], return_counts=True)
                crow = torch.cat([counts.new_zeros(1), counts.cumsum(0)])
                col = self.cells[cells, order[-1]]
                n_last = self.shape[order[-1]]
                dense = None
                if counts.numel() * n_last <= 4 * cells.numel():
                    dense = torch.repeat_interleave(torch.arange(counts.numel(), device=col.device), counts) * n_last + col
                first = cells[crow[:-1]]  # a cell of each prefix
                levels = []
                for depth in range(len(order) - 2, 0, -1):
                    _, position, counts = torch.unique_consecutive(prefix[depth - 1][first], return_inverse=True, return_counts=True)
                    levels.append((self.cells[first, order[depth]], position, counts.numel()))
                    first = first[torch.cat([counts.new_zeros(1), counts.cumsum(0)[:-1]])]
                blocks.append(_Block(cells, crow, col, dense, tuple(levels), self.cells[first, mode]))
            self._plans[key] = blocks
        return self._plans[key]
