"""Neural tensor-completion backbones behind one interface.

Every backbone is an ``nn.Module`` over an integer index batch ``idx`` of shape ``(B, N)`` with

- ``features(idx)``: the penultimate features ``h``, shape ``(B, H)``;
- ``head``: an ``nn.Linear(H, 1)``, so ``forward(idx) == head(features(idx)).squeeze(-1)``;
- ``shape`` (mode sizes) and ``n_features`` (``H``);
- ``head_gradient(idx, residuals)``: ``Σ_b r_b h_b``, the summed squared-error gradient of the head
  weight (up to the factor 2), shaped like ``head.weight[0]``;
- ``forward_with_inner(idx, g)``: predictions (with autograd) and the detached inner products
  ``⟨h(x), g⟩`` for a head-shaped vector ``g``, from one forward pass;
- ``residual_and_head_gradient(idx, y)``: residuals and ``Σ r h`` from one forward pass.

Influence, importance, sampling and retraining use nothing else, so a new backbone that follows this
interface gets DAIN for free. The Tucker backbone evaluates by the core's row contraction and never
forms the (possibly long) Tucker feature vector. Backbones do not range-check indices per batch (a
device-to-host synchronisation); :func:`tensorkit._validation.check_index_range` does it once per data set.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from tensorkit._validation import check_choice, check_positive_float, check_positive_int, check_rank
from tensorkit.core.tenalg import contract_rows, contract_rows_adjoint, hadamard_rows, kronecker_rows

__all__ = ["CPModel", "CoSTCo", "MLP", "CompletionModel", "TuckerModel", "build_model", "MODEL_NAMES"]

MODEL_NAMES = ("mlp", "costco", "cp", "tucker")


class CompletionModel(nn.Module):
    """Base class: the interface shared by all backbones (see the module docstring)."""

    head: nn.Linear

    def __init__(self, shape: Sequence[int]) -> None:
        super().__init__()
        if len(shape) < 2:
            raise ValueError(f"shape must have at least 2 modes, got {tuple(shape)}")
        self.shape = tuple(check_positive_int(n, f"shape[{k}]") for k, n in enumerate(shape))

    @property
    def n_features(self) -> int:
        return self.head.in_features

    def features(self, idx: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(idx)).squeeze(-1)

    def forward_with_inner(self, idx: torch.Tensor, g: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.features(idx)
        return self.head(h).squeeze(-1), (h.detach() @ g.to(h.dtype)).to(g.dtype)

    def head_gradient(self, idx: torch.Tensor, residuals: torch.Tensor) -> torch.Tensor:
        h = self.features(idx)
        return residuals.to(h.dtype) @ h

    def residual_and_head_gradient(self, idx: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Residuals ``ŷ − y`` and ``Σ r h`` from a single forward pass (the validation pass)."""
        h = self.features(idx)
        r = self.head(h).squeeze(-1) - y.to(h.dtype)
        return r, r @ h


class MLP(CompletionModel):
    """The reference's NCF-style MLP: concatenated embeddings, then ReLU layers.

    Parameters
    ----------
    shape : sequence of int
        Mode sizes.
    layers : sequence of int
        ``layers[0]`` is the concatenated embedding width (divisible by the number of modes); one
        ReLU layer follows for every further entry, the last one included (its output is ``h``).
    embedding_std : float, optional
        Standard deviation of the embedding init; ``None`` keeps PyTorch's N(0, 1) (reference parity).
    """

    def __init__(
        self, shape: Sequence[int], layers: Sequence[int] = (150, 1024, 1024, 128), embedding_std: float | None = None
    ) -> None:
        super().__init__(shape)
        layers = [check_positive_int(w, f"layers[{i}]") for i, w in enumerate(layers)]
        if len(layers) < 2:
            raise ValueError(f"layers needs an embedding width and at least one hidden layer, got {layers}")
        if layers[0] % len(self.shape):
            raise ValueError(f"layers[0] = {layers[0]} must be divisible by the number of modes ({len(self.shape)})")
        dim = layers[0] // len(self.shape)
        self.embeddings = nn.ModuleList(nn.Embedding(n, dim) for n in self.shape)
        if embedding_std is not None:
            for emb in self.embeddings:
                nn.init.normal_(emb.weight, std=embedding_std)
        blocks: list[nn.Module] = []
        for w_in, w_out in zip(layers[:-1], layers[1:]):
            blocks += [nn.Linear(w_in, w_out), nn.ReLU()]
        self.body = nn.Sequential(*blocks)
        self.head = nn.Linear(layers[-1], 1)

    def features(self, idx: torch.Tensor) -> torch.Tensor:
        z = torch.cat([emb(idx[:, k]) for k, emb in enumerate(self.embeddings)], dim=1)
        return self.body(z)


class CoSTCo(CompletionModel):
    """CoSTCo (Liu et al., KDD 2019): convolutions over the stacked mode × rank embedding map.

    The first convolution spans all modes at one rank position, the second all rank positions; a
    fully connected ReLU layer gives ``h``.
    """

    def __init__(self, shape: Sequence[int], rank: int = 16, channels: int = 32, hidden: int = 32) -> None:
        super().__init__(shape)
        rank, channels, hidden = (check_positive_int(v, n) for v, n in ((rank, "rank"), (channels, "channels"), (hidden, "hidden")))
        self.embeddings = nn.ModuleList(nn.Embedding(n, rank) for n in self.shape)
        self.conv_modes = nn.Conv2d(1, channels, kernel_size=(1, len(self.shape)))
        self.conv_rank = nn.Conv2d(channels, channels, kernel_size=(rank, 1))
        self.fc = nn.Linear(channels, hidden)
        self.head = nn.Linear(hidden, 1)

    def features(self, idx: torch.Tensor) -> torch.Tensor:
        grid = torch.stack([emb(idx[:, k]) for k, emb in enumerate(self.embeddings)], dim=2)  # (B, R, N)
        z = torch.relu(self.conv_modes(grid.unsqueeze(1)))  # (B, C, R, 1)
        z = torch.relu(self.conv_rank(z)).flatten(1)  # (B, C)
        return torch.relu(self.fc(z))


class CPModel(CompletionModel):
    """CP completion model: ``h = ⊙_n A_n[i_n]``, head weight = CP weights λ (ones at init).

    ``ŷ = λᵀh + b`` is the CP gather at the cells, so the generic ``forward`` of the base class is it.

    Parameters
    ----------
    shape : sequence of int
        Mode sizes.
    rank : int
        CP rank ``R`` (``H = R``).
    bias, bias_init : bool, float
        A learned offset and its initial value (the estimator starts it at the training mean).
    freeze_weights : bool
        Keep λ = 1 (plain CP); the head gradient still defines the influence.
    init_scale : float
        Standard deviation of ``λᵀh`` at init, in units of the fitted values. Factor entries are
        N(0, σ²) with ``R σ^{2N} = init_scale²``: a small balanced start, which leaves the zero saddle
        of the multilinear model along the data's leading directions instead of first having to
        unlearn a random tensor.
    """

    def __init__(
        self, shape: Sequence[int], rank: int = 8, bias: bool = True, freeze_weights: bool = False,
        bias_init: float = 0.0, init_scale: float = 0.1,
    ) -> None:  # fmt: skip
        super().__init__(shape)
        rank = check_positive_int(rank, "rank")
        std = (check_positive_float(init_scale, "init_scale") ** 2 / rank) ** (1 / (2 * len(self.shape)))
        self.factors = nn.ParameterList(nn.Parameter(torch.randn(n, rank) * std) for n in self.shape)
        self.head = nn.Linear(rank, 1, bias=bias)
        with torch.no_grad():
            self.head.weight.fill_(1.0)
            if bias:
                self.head.bias.fill_(bias_init)
        self.head.weight.requires_grad_(not freeze_weights)

    def features(self, idx: torch.Tensor) -> torch.Tensor:
        return hadamard_rows(_gather_rows(self.factors, idx))


class TuckerModel(CompletionModel):
    """Tucker completion model: ``h = ⊗_n A_n[i_n]``, head weight = ``vec(core)`` (C order).

    Predictions and influence inner products are Tucker gathers (``tensorkit.core.tenalg.contract_rows``
    on the gathered factor rows) and head gradients its adjoint (``contract_rows_adjoint``); the
    ``Π R_n``-long feature vector is only formed by :meth:`features` when asked for. Indices are not range-checked here (no host synchronisation per batch):
    :func:`~tensorkit.completion.training.train_model` and the estimator check them once.

    Parameters
    ----------
    shape : sequence of int
        Mode sizes.
    rank : int or sequence of int
        Tucker ranks ``R_n`` (``H = Π R_n``).
    bias, bias_init : bool, float
        A learned offset and its initial value.
    init_scale : float
        Standard deviation of the gather at init: factor and core entries are all N(0, σ²) with
        ``H σ^{2(N+1)} = init_scale²`` (small and balanced, see :class:`CPModel`).
    """

    def __init__(
        self, shape: Sequence[int], rank: int | Sequence[int] = 4, bias: bool = True, bias_init: float = 0.0,
        init_scale: float = 0.1,
    ) -> None:  # fmt: skip
        super().__init__(shape)
        self.ranks = check_rank(rank, self.shape)
        n_features = math.prod(self.ranks)
        std = (check_positive_float(init_scale, "init_scale") ** 2 / n_features) ** (1 / (2 * len(self.shape) + 2))
        self.factors = nn.ParameterList(nn.Parameter(torch.randn(n, r) * std) for n, r in zip(self.shape, self.ranks))
        self.head = nn.Linear(n_features, 1, bias=bias)
        with torch.no_grad():
            self.head.weight.normal_(0.0, std)
            if bias:
                self.head.bias.fill_(bias_init)

    def features(self, idx: torch.Tensor) -> torch.Tensor:
        return kronecker_rows(_gather_rows(self.factors, idx))

    def _gather(self, flat_core: torch.Tensor, rows: list[torch.Tensor]) -> torch.Tensor:
        return contract_rows(flat_core.to(rows[0].dtype).reshape(self.ranks), rows)

    def _bias(self) -> torch.Tensor | float:
        return self.head.bias[0] if self.head.bias is not None else 0.0

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        return self._gather(self.head.weight[0], _gather_rows(self.factors, idx)) + self._bias()

    def forward_with_inner(self, idx: torch.Tensor, g: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        rows = _gather_rows(self.factors, idx)
        with torch.no_grad():
            inner = self._gather(g, [row.detach() for row in rows]).to(g.dtype)
        return self._gather(self.head.weight[0], rows) + self._bias(), inner

    def head_gradient(self, idx: torch.Tensor, residuals: torch.Tensor) -> torch.Tensor:
        return contract_rows_adjoint(residuals, _gather_rows(self.factors, idx)).reshape(-1)

    def residual_and_head_gradient(self, idx: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        rows = _gather_rows(self.factors, idx)
        r = self._gather(self.head.weight[0], rows) + self._bias() - y.to(self.head.weight.dtype)
        return r, contract_rows_adjoint(r, rows).reshape(-1)


def _gather_rows(factors: nn.ParameterList, idx: torch.Tensor) -> list[torch.Tensor]:
    """The factor rows ``A_n[idx[:, n]]`` of a batch of cells, one ``(B, R_n)`` tensor per mode."""
    return [u[idx[:, k]] for k, u in enumerate(factors)]


def build_model(name: str, shape: Sequence[int], seed: int = 0, **options: object) -> CompletionModel:
    """Build backbone ``name`` (one of :data:`MODEL_NAMES`) with a seeded init, on the CPU.

    ``options`` go to the backbone's constructor (``layers`` for the MLP, ``rank``/``channels``/
    ``hidden`` for CoSTCo, ``rank`` for CP and Tucker, ...).
    """
    check_choice(name, "model", MODEL_NAMES)
    cls = {"mlp": MLP, "costco": CoSTCo, "cp": CPModel, "tucker": TuckerModel}[name]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return cls(shape, **options)  # type: ignore[arg-type]
