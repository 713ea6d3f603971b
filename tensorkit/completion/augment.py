"""Sampling of new cells from per-mode entity distributions, and their labels.

The default is the paper's product of marginals: each mode's index is drawn independently from its
categorical, with replacement. ``dedup`` and ``exclude_observed`` work by rejection in rounds, with
cells keyed as mixed-radix int64 and membership tested by ``torch.isin``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from tensorkit._validation import check_choice
from tensorkit.completion.importance import entity_frequency
from tensorkit.core.tenalg import ravel_index

__all__ = ["SAMPLERS", "cell_keys", "label_cells", "sample_cells", "sampling_distribution"]

SAMPLERS = ("influence", "uniform", "frequency")


def sampling_distribution(
    sampler: str,
    train_idx: torch.Tensor,
    shape: Sequence[int],
    importance: list[torch.Tensor] | None = None,
    all_entities: bool = False,
) -> list[torch.Tensor]:
    """Per-mode probabilities of a sampler: ``influence`` (= ``importance``), ``uniform`` or ``frequency``.

    ``uniform`` covers the entities seen in training (all entities with ``all_entities=True``).
    """
    check_choice(sampler, "sampler", SAMPLERS)
    if sampler == "influence":
        if importance is None:
            raise ValueError("sampler='influence' needs the entity importance")
        return importance
    if sampler == "frequency":
        return entity_frequency(train_idx, shape)
    out = []
    for k, n in enumerate(shape):
        seen = torch.ones(n, dtype=torch.float64, device=train_idx.device)
        if not all_entities:
            seen = (torch.bincount(train_idx[:, k], minlength=n) > 0).double()
        out.append(seen / seen.sum())
    return out


def cell_keys(idx: torch.Tensor, shape: Sequence[int]) -> torch.Tensor:
    """Mixed-radix int64 key of every cell (row-major), so that cells compare as integers."""
    return ravel_index(idx, shape)


def sample_cells(
    probs: list[torch.Tensor],
    n_cells: int,
    generator: torch.Generator,
    dedup: bool = False,
    exclude: torch.Tensor | None = None,
    max_rounds: int = 20,
) -> torch.Tensor:
    """Draw ``n_cells`` cells, mode ``k``'s index from ``probs[k]`` independently.

    Parameters
    ----------
    probs : list of torch.Tensor
        One probability vector per mode (non-negative, summing to 1).
    n_cells : int
        Number of new cells ``M``.
    generator : torch.Generator
        Seeded CPU generator; draws are bit-identical for a fixed seed.
    dedup : bool
        No cell appears twice among the new cells.
    exclude : torch.Tensor, optional
        ``(m, N)`` cells that must not be drawn (training and validation cells, never test cells).
    max_rounds : int
        Rejection rounds before giving up with a ``RuntimeError``.
    """
    shape = [len(p) for p in probs]
    device = probs[0].device
    cpu_probs = [p.detach().double().cpu() for p in probs]
    if not dedup and exclude is None:
        return _draw(cpu_probs, n_cells, generator).to(device)
    banned = cell_keys(exclude.cpu(), shape).unique() if exclude is not None else torch.empty(0, dtype=torch.long)
    kept = torch.empty(0, len(shape), dtype=torch.long)
    for _ in range(max_rounds):
        need = n_cells - kept.shape[0]
        if need <= 0:
            break
        cand = _draw(cpu_probs, 2 * need + 16, generator)
        cand = cand[~torch.isin(cell_keys(cand, shape), banned)]
        kept = torch.cat([kept, cand])
        if dedup:
            keys = cell_keys(kept, shape)
            _, first = _first_occurrence(keys)
            kept = kept[first]
    if kept.shape[0] < n_cells:
        raise RuntimeError(
            f"could not draw {n_cells} admissible cells in {max_rounds} rounds (got {kept.shape[0]}); "
            "the support of the sampling distribution is too small for dedup/exclude_observed"
        )
    return kept[:n_cells].to(device)


def _draw(probs: list[torch.Tensor], n: int, generator: torch.Generator) -> torch.Tensor:
    return torch.stack([torch.multinomial(p, n, replacement=True, generator=generator) for p in probs], dim=1)


def _first_occurrence(keys: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Unique keys and the positions of their first occurrences, in order of appearance."""
    uniq, inverse = torch.unique(keys, return_inverse=True)
    first = torch.full((uniq.shape[0],), keys.shape[0], dtype=torch.long)
    first.scatter_reduce_(0, inverse, torch.arange(keys.shape[0]), reduce="amin")
    return uniq, first.sort().values


@torch.no_grad()
def label_cells(
    labeler: str,
    idx: torch.Tensor,
    predictor: torch.nn.Module | None = None,
    train_y: torch.Tensor | None = None,
    clip: tuple[float, float] | None = None,
    batch_size: int = 65536,
) -> torch.Tensor:
    """Labels of new cells: ``"model"`` (the predictor, eval mode, no autograd) or ``"constant"`` (training mean)."""
    check_choice(labeler, "labeler", ("model", "constant"))
    if idx.shape[0] == 0:
        dtype = train_y.dtype if predictor is None else next(predictor.parameters()).dtype
        return torch.empty(0, dtype=dtype, device=idx.device)
    if labeler == "constant":
        return torch.full((idx.shape[0],), float(train_y.double().mean()), dtype=train_y.dtype, device=idx.device)
    was_training = predictor.training
    predictor.eval()
    values = torch.cat([predictor(idx[s : s + batch_size]) for s in range(0, idx.shape[0], batch_size)])
    predictor.train(was_training)
    if clip is not None:
        values = values.clamp(*clip)
    return values
