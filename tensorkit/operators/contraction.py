"""Contraction of Fourier coefficients with a (possibly factorized) spectral weight.

The weight has modes ``(block, in, out, k_1, …, k_d)`` (or ``(block, channel, k_1, …, k_d)`` when
separable) and the input ``(batch, block, in, k_1, …, k_d)``. The *reconstructed* path forms the
dense weight and performs one einsum; the *factorized* path hands the input and every factor to a
single einsum, whose contraction order torch plans with opt_einsum, so the weight is never formed.
In training, the batch-free part of either path is recomputed in the backward pass rather than
stored, so the memory kept per layer is what the batch contraction needs.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Callable

import torch
from torch.utils.checkpoint import checkpoint

from tensorkit.core import TensorFormat

IMPLEMENTATIONS = ("factorized", "reconstructed")
_SPATIAL = "xyz"


def weight_labels(n_spatial: int, separable: bool) -> tuple[str, str, str]:
    """Einsum labels ``(input, weight, output)`` for ``n_spatial`` frequency axes."""
    if not 1 <= n_spatial <= len(_SPATIAL):
        raise ValueError(f"only 1-D, 2-D and 3-D spectra are supported, got {n_spatial} axes")
    k = _SPATIAL[:n_spatial]
    if separable:
        return f"bni{k}", f"ni{k}", f"bni{k}"
    return f"bni{k}", f"nio{k}", f"bno{k}"


def contract(x: torch.Tensor, weight: TensorFormat, separable: bool = False, implementation: str = "factorized") -> torch.Tensor:
    """Contract ``x`` (batch, block, in, k…) with ``weight`` (block, in, out, k…) over ``in``.

    For a separable weight (block, channel, k…) the product is elementwise in the channel.
    Returns (batch, block, out, k…).
    """
    x_labels, w_labels, out_labels = weight_labels(x.ndim - 3, separable)
    if implementation not in IMPLEMENTATIONS:
        raise ValueError(f"implementation must be one of {IMPLEMENTATIONS}, got {implementation!r}")
    subs, operands = weight.einsum_operands(w_labels)
    if subs == [w_labels]:  # stored entry by entry: nothing to reconstruct or plan
        return _contract_dense(x, operands[0], x_labels, w_labels, out_labels)
    if implementation == "reconstructed":
        # rebuild the weight batch-major (block, k…, channels) so the einsum batches over a view of it
        k = x_labels[3:]
        layout = "n" + k + w_labels[1:len(w_labels) - len(k)]
        return torch.einsum(f"{x_labels},{layout}->{out_labels}", x, reconstruct(weight, w_labels, layout))
    equation = ",".join([x_labels, *subs]) + f"->{out_labels}"
    operands = [x, *operands]
    return _planned(equation, tuple(tuple(t.shape) for t in operands), 0)(*operands)


def _contract_dense(x: torch.Tensor, weight: torch.Tensor, x_labels: str, w_labels: str, out_labels: str) -> torch.Tensor:
    """One einsum per block: within a block the weight's frequency axes are adjacent in memory, so
    torch batches over them with a view of the weight; a single einsum over (block, k…) would have
    to copy the whole weight into a batch-major layout and keep that copy for the backward pass."""
    if weight.shape[0] == 1:
        return torch.einsum(f"{x_labels},{w_labels}->{out_labels}", x, weight)
    eq = f"{x_labels.replace('n', '')},{w_labels[1:]}->{out_labels.replace('n', '')}"
    return torch.stack([torch.einsum(eq, x[:, j], weight[j]) for j in range(weight.shape[0])], dim=1)


def reconstruct(weight: TensorFormat, labels: str, output: str | None = None) -> torch.Tensor:
    """The dense weight, contracted from its factors along a planned path (equal to ``to_dense()``).

    ``output`` orders its axes (a permutation of ``labels``; default ``labels``).
    """
    output = labels if output is None else output
    subs, operands = weight.einsum_operands(labels)
    if len(operands) == 1:
        dense = weight.to_dense()
        return torch.einsum(f"{labels}->{output}", dense) if output != labels else dense
    return _planned(",".join(subs) + f"->{output}", tuple(tuple(t.shape) for t in operands))(*operands)


@lru_cache(maxsize=256)
def _planned(equation: str, shapes: tuple[tuple[int, ...], ...], batch_operand: int | None = None) -> Callable[..., Any]:
    """A contraction whose pairwise order is planned once per equation and shapes (opt_einsum
    "optimal"/"greedy"), then replayed as torch einsums; plain ``torch.einsum`` without opt_einsum.

    The pairwise steps that involve only weight operands (all steps when ``batch_operand`` is None,
    else those not fed by operand ``batch_operand``) are batch-free and cheap: when autograd
    records, they run under a non-reentrant checkpoint, so their intermediates are recomputed in
    the backward pass instead of being kept; only what the batch steps consume is stored.
    """
    try:
        import opt_einsum
    except ImportError:  # pragma: no cover - opt_einsum ships with neuraloperator
        return lambda *ops: torch.einsum(equation, *ops)
    path, _ = opt_einsum.contract_path(equation, *shapes, shapes=True, optimize="auto")
    inputs, output = equation.split("->")
    terms = list(enumerate(inputs.split(",")))  # (operand id, subscripts); step k produces id len(shapes) + k
    batched = set() if batch_operand is None else {batch_operand}
    weight_steps, batch_steps = [], []
    for new_id, pair in enumerate(path, start=len(shapes)):
        picked = [terms[i] for i in pair]
        rest = [t for i, t in enumerate(terms) if i not in pair]
        keep = set(output).union(*(sub for _, sub in rest)) if rest else set(output)
        seen = "".join(dict.fromkeys("".join(sub for _, sub in picked)))
        result = "".join(c for c in seen if c in keep) if rest else output
        ids = tuple(i for i, _ in picked)
        step = (ids, ",".join(sub for _, sub in picked) + "->" + result, new_id)
        if batched.intersection(ids):
            batched.add(new_id)
            batch_steps.append(step)
        else:
            weight_steps.append(step)
        terms = rest + [(new_id, result)]
    final = terms[0][0]
    made = {out for _, _, out in weight_steps}
    weight_inputs = sorted({i for ids, _, _ in weight_steps for i in ids} - made)
    frontier = sorted(({i for ids, _, _ in batch_steps for i in ids} | {final}) & made)

    def weight_side(*ops: torch.Tensor) -> tuple[torch.Tensor, ...]:
        values = dict(zip(weight_inputs, ops))
        _replay(weight_steps, values)
        return tuple(values[i] for i in frontier)

    def run(*ops: torch.Tensor) -> torch.Tensor:
        values = dict(enumerate(ops))
        args = [values.pop(i) for i in weight_inputs]
        if weight_steps and torch.is_grad_enabled() and any(t.requires_grad for t in args):
            values.update(zip(frontier, checkpoint(weight_side, *args, use_reentrant=False, preserve_rng_state=False)))
        else:
            values.update(zip(frontier, weight_side(*args)))
        _replay(batch_steps, values)
        return values[final]

    return run


def _replay(steps: list[tuple[tuple[int, ...], str, int]], values: dict[int, torch.Tensor]) -> None:
    """Run pairwise einsum ``steps`` on the operands in ``values`` (by id), adding their results."""
    for ids, eq, out in steps:
        values[out] = torch.einsum(eq, *(values.pop(i) for i in ids))
