"""Tensor algebra primitives (unfolding convention identical to tensorly's)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch


def unfold(x: torch.Tensor, mode: int) -> torch.Tensor:
    """Mode-``mode`` unfolding: an ``(n_mode, prod(other sizes))`` matrix (row-major in the rest)."""
    return torch.movedim(x, mode, 0).reshape(x.shape[mode], -1)


def fold(matrix: torch.Tensor, mode: int, shape: Sequence[int]) -> torch.Tensor:
    """Inverse of :func:`unfold` for a tensor of ``shape``."""
    moved = [shape[mode], *(s for k, s in enumerate(shape) if k != mode)]
    return torch.movedim(matrix.reshape(moved), 0, mode)


def mode_dot(x: torch.Tensor, matrix: torch.Tensor, mode: int) -> torch.Tensor:
    """Mode-``mode`` product ``x ×_mode matrix`` with ``matrix`` of shape ``(m, n_mode)``.

    ``x`` is viewed as ``(before, n_mode, after)`` and multiplied in place of that axis, so the
    result is contiguous and no permuted copy of ``x`` is made.
    """
    if matrix.ndim != 2 or matrix.shape[1] != x.shape[mode]:
        raise ValueError(
            f"matrix must have shape (m, {x.shape[mode]}) for mode {mode}, got {tuple(matrix.shape)}"
        )
    mode = mode % x.ndim
    before, n, after = math.prod(x.shape[:mode]), x.shape[mode], math.prod(x.shape[mode + 1:])
    shape = (*x.shape[:mode], matrix.shape[0], *x.shape[mode + 1:])
    if after == 1:
        return (x.reshape(before, n) @ matrix.mT).reshape(shape)
    return (matrix @ x.reshape(before, n, after)).reshape(shape)


def multi_mode_dot(
    x: torch.Tensor,
    matrices: Sequence[torch.Tensor],
    modes: Sequence[int] | None = None,
    transpose: bool = False,
) -> torch.Tensor:
    """Apply :func:`mode_dot` for several modes (default: all, in order); ``transpose`` uses ``Mᵀ``."""
    modes = range(len(matrices)) if modes is None else modes
    for matrix, mode in zip(matrices, modes):
        x = mode_dot(x, matrix.mT if transpose else matrix, mode)
    return x


def khatri_rao(matrices: Sequence[torch.Tensor]) -> torch.Tensor:
    """Column-wise Kronecker product; row index runs over the first matrix slowest."""
    out = matrices[0]
    for m in matrices[1:]:
        out = (out[:, None, :] * m[None, :, :]).reshape(-1, out.shape[1])
    return out


BLOCK_ENTRIES = 1 << 22  # entries of the largest temporary of a row block (32 MiB in float64)


def ravel_index(indices: torch.Tensor, shape: Sequence[int]) -> torch.Tensor:
    """Row-major flat index (int64) of every row of an ``N×K`` index tensor into ``shape``.

    Cells then compare, sort and deduplicate as integers (numpy's ``ravel_multi_index``).
    """
    if math.prod(shape) >= 2**63:
        raise ValueError(f"tensor of shape {tuple(shape)} has too many cells for int64 flat indices")
    return (indices * _row_major_strides(shape, indices.device)).sum(1)


def unravel_index(flat: torch.Tensor, shape: Sequence[int]) -> torch.Tensor:
    """The ``N×K`` index rows of row-major flat indices into ``shape`` (inverse of :func:`ravel_index`)."""
    return (flat[:, None] // _row_major_strides(shape, flat.device)) % torch.tensor(tuple(shape), device=flat.device)


def _row_major_strides(shape: Sequence[int], device: torch.device) -> torch.Tensor:
    return torch.tensor([math.prod(shape[k + 1 :]) for k in range(len(shape))], device=device)


def map_rows(fn: Callable[[slice], torch.Tensor], n: int, chunk_size: int) -> torch.Tensor:
    """``fn`` applied to consecutive row blocks ``slice(i, i + chunk_size)`` of ``range(n)``, stacked.

    The blocks are written into one preallocated result, so the memory beyond the result is that
    of one block's temporaries, whatever ``n``.
    """
    if n <= chunk_size:
        return fn(slice(0, n))
    out = None
    for start in range(0, n, chunk_size):
        rows = slice(start, min(start + chunk_size, n))
        block = fn(rows)
        if out is None:
            out = block.new_empty((n, *block.shape[1:]))
        out[rows] = block
    return out


def contract_rows(core: torch.Tensor, rows: Sequence[torch.Tensor], indices: Sequence[torch.Tensor] | None = None) -> torch.Tensor:
    """Evaluate a Tucker core at N points: ``sum_{r} core[r_1..r_K] prod_k rows[k][n, r_k]``.

    ``rows[k]`` has shape ``(N, r_k)``; with ``indices`` it is a table of rows ``(n_k, r_k)`` and point
    ``n`` uses row ``indices[k][n]`` (gathered block by block, so no ``(N, r_k)`` copy is made).
    Points are contracted in blocks whose ``(points, r_2 ⋯ r_K)`` temporaries hold about
    :data:`BLOCK_ENTRIES` numbers, so the memory beyond the N results does not grow with N; no grid
    is formed.

    Second moments use the same function: ``E[f_n²] = ⟨E[W ⊗ W], ⊗_k M_k[n]⟩`` is ``contract_rows``
    of :func:`paired` ``(E[W ⊗ W])`` with the rows ``M_k[n]`` flattened to ``r_k²``.
    """
    return map_rows(lambda block: _contract_block(core, _rows_of(rows, indices, block)), _n_points(rows, indices),
                    contraction_chunk(core))


def contract_rows_diagonal(rows: Sequence[torch.Tensor], indices: Sequence[torch.Tensor] | None = None) -> torch.Tensor:
    """:func:`contract_rows` for the super-diagonal core of ones (CP): ``sum_r prod_k rows[k][n, r]``."""
    return map_rows(lambda points: hadamard_rows(_rows_of(rows, indices, points)).sum(1), _n_points(rows, indices),
                    row_chunk(rows[0].shape[1]))


def hadamard_rows(rows: Sequence[torch.Tensor]) -> torch.Tensor:
    """``(N, r)`` products ``∘_k rows[k][n]`` of ``(N, r)`` rows: a CP tensor's features at N points."""
    out = rows[0]
    for row in rows[1:]:
        out = out * row
    return out


def kronecker_rows(rows: Sequence[torch.Tensor]) -> torch.Tensor:
    """``(N, r_1 ⋯ r_K)`` products ``⊗_k rows[k][n]`` (C order): a Tucker tensor's features at N points.

    ``contract_rows(core, rows) == kronecker_rows(rows) @ core.reshape(-1)``, which never forms this.
    """
    out = rows[0]
    for row in rows[1:]:
        out = (out[:, :, None] * row[:, None, :]).flatten(1)
    return out


def contract_rows_adjoint(values: torch.Tensor, rows: Sequence[torch.Tensor]) -> torch.Tensor:
    """``Σ_n values[n] ⊗_k rows[k][n]``, shape ``(r_1, …, r_K)``: the core gradient of ``values · contract_rows``.

    Points are taken in blocks whose ``(points, r_1 ⋯ r_{K-1})`` temporaries hold about
    :data:`BLOCK_ENTRIES` numbers; each block adds one matrix product to the result.
    """
    values = values.to(rows[0].dtype)
    if len(rows) == 1:
        return values @ rows[0]
    shape = [row.shape[1] for row in rows]
    left_width = math.prod(shape[:-1])
    out = rows[-1].new_zeros(left_width, shape[-1])
    step = row_chunk(left_width)
    for start in range(0, values.shape[0], step):
        block = slice(start, start + step)
        left = kronecker_rows([values[block, None] * rows[0][block], *(row[block] for row in rows[1:-1])])
        out += left.mT @ rows[-1][block]
    return out.reshape(shape)


def paired(second: torch.Tensor) -> torch.Tensor:
    """A second moment ``(r_1, …, r_K, r_1, …, r_K)`` reordered to ``(r_1², …, r_K²)`` (index ``a·r_k + a'``)."""
    K = second.ndim // 2
    order = [p for k in range(K) for p in (k, K + k)]
    return second.permute(order).reshape([second.shape[k] ** 2 for k in range(K)])


def contraction_chunk(core: torch.Tensor) -> int:
    """Points per block in :func:`contract_rows` for ``core``."""
    return row_chunk(math.prod(core.shape[1:]))


def row_chunk(width: int) -> int:
    """Points per block whose ``(points, width)`` temporaries hold about :data:`BLOCK_ENTRIES` numbers."""
    return max(1, BLOCK_ENTRIES // max(width, 1))


def _n_points(rows: Sequence[torch.Tensor], indices: Sequence[torch.Tensor] | None) -> int:
    return rows[0].shape[0] if indices is None else indices[0].shape[0]


def _rows_of(rows: Sequence[torch.Tensor], indices: Sequence[torch.Tensor] | None, points: slice) -> list[torch.Tensor]:
    if indices is None:
        return [row[points] for row in rows]
    return [row[index[points]] for row, index in zip(rows, indices)]


def _contract_block(core: torch.Tensor, rows: Sequence[torch.Tensor]) -> torch.Tensor:
    out = rows[0] @ core.reshape(core.shape[0], -1)  # (N, r_2 ... r_K)
    for row in rows[1:]:
        out = (out.reshape(out.shape[0], row.shape[1], out.shape[1] // row.shape[1]) * row[:, :, None]).sum(1)
    return out.reshape(-1)
