"""One mode ordering everywhere: factor messages, core statistics and prediction agree (A2)."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
import torch

from tensorkit.core.sparse import SparseCells
from tensorkit.core.tenalg import contract_rows
from tensorkit.funbat.contraction import CPContraction, TuckerContraction, core_statistics

RANKS = (2, 3, 4)


def _random_state(ranks, n=7, seed=0):
    g = torch.Generator().manual_seed(seed)
    core = torch.randn(ranks, generator=g, dtype=torch.float64)
    R = core.numel()
    L = torch.randn(R, R, generator=g, dtype=torch.float64) * 0.1
    core_cov = L @ L.T
    means, covs = [], []
    for r in ranks:
        means.append(torch.randn(n, r, generator=g, dtype=torch.float64))
        B = torch.randn(n, r, r, generator=g, dtype=torch.float64) * 0.3
        covs.append(B @ B.transpose(-1, -2))
    seconds = [V + m[:, :, None] * m[:, None, :] for m, V in zip(means, covs)]
    flat = core.reshape(-1)
    second = (torch.outer(flat, flat) + core_cov).reshape(*ranks, *ranks)
    return core, core_cov, means, covs, seconds, TuckerContraction(core, second)


def _per_datum(n, n_modes):
    """Every datum its own coordinate in every mode: the sums over the data are the per-datum terms."""
    return SparseCells([torch.arange(n)] * n_modes, [n] * n_modes)


def _kron_rows(rows):
    out = rows[0]
    for r in rows[1:]:
        out = torch.einsum("ni,nj->nij", out, r).reshape(out.shape[0], -1)
    return out


def test_every_mode_message_implies_the_prediction():
    core, _, means, _, seconds, tucker = _random_state(RANKS)
    prediction = tucker.predict_mean(means)
    assert torch.allclose(prediction, contract_rows(core, means))  # the core package's contraction
    assert torch.allclose(prediction, _kron_rows(means) @ core.reshape(-1))  # C-order vec W with m1 ⊗ m2 ⊗ m3
    cells, ones = _per_datum(7, len(RANKS)), torch.ones(7, dtype=torch.float64)
    for k in range(len(RANKS)):
        Ea, _ = tucker.factor_messages(cells, means, seconds, ones, k)
        assert torch.allclose((Ea * means[k]).sum(1), prediction, rtol=1e-12)


def test_second_moments_match_kronecker_formulas():
    core, core_cov, means, covs, seconds, tucker = _random_state(RANKS)
    C = torch.outer(core.reshape(-1), core.reshape(-1)) + core_cov
    kron_M = torch.stack([torch.kron(torch.kron(seconds[0][n], seconds[1][n]), seconds[2][n]) for n in range(7)])
    expected = torch.einsum("ij,nij->n", C, kron_M)
    assert torch.allclose(tucker.predict_second(seconds), expected, rtol=1e-12)
    cells, ones = _per_datum(7, 3), torch.ones(7, dtype=torch.float64)
    eta, precision = core_statistics(cells, means, seconds, ones)
    assert torch.allclose(precision, kron_M.sum(0), rtol=1e-12)
    assert torch.allclose(eta.reshape(-1), _kron_rows(means).sum(0), rtol=1e-12)
    # E[a aᵀ] of mode k, contracted with M^k, gives E[f²] for every mode
    for k in range(3):
        _, Eaa = tucker.factor_messages(cells, means, seconds, ones, k)
        assert torch.allclose((Eaa * seconds[k]).sum((1, 2)), expected, rtol=1e-10)


def test_predictive_variance_matches_monte_carlo():
    core, core_cov, means, covs, seconds, tucker = _random_state(RANKS, n=3, seed=1)
    g = torch.Generator().manual_seed(2)
    S = 200_000
    w = core.reshape(-1) + torch.randn(S, core.numel(), generator=g, dtype=torch.float64) @ torch.linalg.cholesky(core_cov + 1e-12 * torch.eye(core.numel(), dtype=torch.float64)).T
    for n in range(3):
        rows = [m[n] + torch.randn(S, m.shape[1], generator=g, dtype=torch.float64) @ torch.linalg.cholesky(V[n]).T for m, V in zip(means, covs)]
        f = (w * _kron_rows(rows)).sum(1)
        var = tucker.predict_second([s[n : n + 1] for s in seconds]) - tucker.predict_mean([m[n : n + 1] for m in means]) ** 2
        assert f.var().item() == pytest.approx(var.item(), rel=0.03)
        assert f.mean().item() == pytest.approx(tucker.predict_mean([m[n : n + 1] for m in means]).item(), abs=4 * (var.sqrt().item() / S**0.5))


def test_cp_equals_tucker_with_superdiagonal_core():
    R = 3
    _, _, means, _, seconds, _ = _random_state((R, R, R))
    diag = torch.zeros(R, R, R, dtype=torch.float64)
    diag[torch.arange(R), torch.arange(R), torch.arange(R)] = 1.0
    flat = diag.reshape(-1)
    tucker = TuckerContraction(diag, torch.outer(flat, flat).reshape(*diag.shape, *diag.shape))
    cp = CPContraction(3)
    assert torch.allclose(cp.predict_mean(means), tucker.predict_mean(means))
    assert torch.allclose(cp.predict_second(seconds), tucker.predict_second(seconds))
    cells, y = _per_datum(7, 3), torch.randn(7, dtype=torch.float64)
    for k in range(3):
        for a, b in zip(cp.factor_messages(cells, means, seconds, y, k), tucker.factor_messages(cells, means, seconds, y, k)):
            assert torch.allclose(a, b)
    for a, b in zip(cp.fit_statistics(cells, means, seconds, y), tucker.fit_statistics(cells, means, seconds, y)):
        assert torch.allclose(a, b)


@settings(max_examples=25, deadline=None)
@given(ranks=st.lists(st.integers(1, 3), min_size=2, max_size=4), seed=st.integers(0, 1000))
def test_ordering_holds_for_any_number_of_modes_and_ranks(ranks, seed):
    core, _, means, _, seconds, tucker = _random_state(tuple(ranks), n=4, seed=seed)
    prediction = tucker.predict_mean(means)
    assert torch.allclose(prediction, _kron_rows(means) @ core.reshape(-1))
    cells, ones = _per_datum(4, len(ranks)), torch.ones(4, dtype=torch.float64)
    for k in range(len(ranks)):
        Ea, Eaa = tucker.factor_messages(cells, means, seconds, ones, k)
        assert torch.allclose((Ea * means[k]).sum(1), prediction)
        assert torch.allclose((Eaa * seconds[k]).sum((1, 2)), tucker.predict_second(seconds))


@pytest.mark.parametrize("decomposition", ["cp", "tucker"])
def test_grouped_messages_equal_per_datum_sums(decomposition, monkeypatch):
    """Messages from per-coordinate moments, grouped by cell in blocks smaller than N, equal the per-datum
    computation (gather every datum's moments, form its message, add onto its coordinate)."""
    import tensorkit.core.sparse as sparse

    monkeypatch.setattr(sparse, "BLOCK_ENTRIES", 40)
    ranks = (2, 2, 2) if decomposition == "cp" else (2, 3, 2)
    shape, n = (5, 4, 6), 60
    core, _, means, _, seconds, tucker = _random_state(ranks, n=6, seed=3)
    means, seconds = [m[:s] for m, s in zip(means, shape)], [s2[:s] for s2, s in zip(seconds, shape)]
    g = torch.Generator().manual_seed(4)
    indices = [torch.randint(0, s, (n,), generator=g) for s in shape]
    y = torch.randn(n, generator=g, dtype=torch.float64)
    contraction = CPContraction(3) if decomposition == "cp" else tucker
    if decomposition == "cp":
        core = torch.zeros(ranks, dtype=torch.float64)
        core[torch.arange(2), torch.arange(2), torch.arange(2)] = 1.0
        C = torch.outer(core.reshape(-1), core.reshape(-1))
    else:
        C = tucker.second.reshape(core.numel(), core.numel())
    m_n = [m[i] for m, i in zip(means, indices)]
    M_n = [s[i] for s, i in zip(seconds, indices)]
    kron_M = torch.stack([torch.kron(torch.kron(M_n[0][d], M_n[1][d]), M_n[2][d]) for d in range(n)])
    cells = SparseCells(indices, shape)
    for k in range(3):
        # E[a_n] and E[a_n a_nᵀ] of each datum from the dense core and the datum's own rows
        Ea = _message(core, m_n, k, paired_letters=False)
        Eaa = _message(C.reshape(*ranks, *ranks), M_n, k, paired_letters=True)
        vector, matrix = contraction.factor_messages(cells, means, seconds, y, k)
        assert torch.allclose(vector, torch.zeros_like(vector).index_add_(0, indices[k], y[:, None] * Ea), rtol=1e-10, atol=1e-12)
        assert torch.allclose(matrix, torch.zeros_like(matrix).index_add_(0, indices[k], Eaa), rtol=1e-10, atol=1e-12)
    fitted, second = contraction.fit_statistics(cells, means, seconds, y)
    assert torch.allclose(fitted, (y * (_kron_rows(m_n) @ core.reshape(-1))).sum(), rtol=1e-10)
    assert torch.allclose(second, torch.einsum("ij,nij->", C, kron_M), rtol=1e-10)
    eta, precision = core_statistics(cells, means, seconds, y)
    assert torch.allclose(precision, kron_M.sum(0), rtol=1e-10)
    assert torch.allclose(eta.reshape(-1), (y[:, None] * _kron_rows(m_n)).sum(0), rtol=1e-10)


def _message(core_or_second, rows, k, paired_letters):
    """Per datum: the core (or its second moment, ``paired_letters``) contracted with the other modes' rows."""
    first, second = "abc", "def"
    core_idx = first + (second if paired_letters else "")
    operands = ["z" + first[j] + (second[j] if paired_letters else "") for j in range(3) if j != k]
    out = "z" + first[k] + (second[k] if paired_letters else "")
    return torch.einsum(core_idx + "," + ",".join(operands) + "->" + out, core_or_second, *[rows[j] for j in range(3) if j != k])
