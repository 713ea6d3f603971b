"""Parallel-scan Kalman filtering and RTS smoothing (Särkkä & García-Fernández, IEEE TAC 2021).

Filtering and smoothing are written as prefix/suffix products of per-step elements under an
associative operator, evaluated with a Hillis–Steele scan: ``⌈log2 T⌉`` rounds, each one batched
tensor operation over all steps and chains. Observations enter in information form
(``exp(-½ hᵀΛh + ηᵀh)`` on ``h = z[observed]``), so zero-information steps are allowed.
"""

from __future__ import annotations

import torch

__all__ = ["parallel_smooth"]


def _mv(M: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    return (M @ v[..., None])[..., 0]


def _sym(M: torch.Tensor) -> torch.Tensor:
    return 0.5 * (M + M.transpose(-1, -2))


def _filter_elements(F, Q, Lam, eta, obs):
    """Per-step elements (A, b, C, η, J) of the conditional p(z_t | z_{t-1}, y_t) and the likelihood of y_t."""
    r = obs.numel()
    eye_r = torch.eye(r, dtype=F.dtype, device=F.device)
    QH = Q[..., :, obs]
    HF = F[..., obs, :]
    M = eye_r + Lam @ QH[..., obs, :]
    gain = torch.linalg.solve(M.transpose(-1, -2), QH.transpose(-1, -2)).transpose(-1, -2)
    gain_lam = gain @ Lam
    A = F - gain_lam @ HF
    b = _mv(gain, eta)
    C = _sym(Q - gain_lam @ QH.transpose(-1, -2))
    M_inv_lam = torch.linalg.solve(M, Lam)
    eta_el = _mv(HF.transpose(-1, -2), torch.linalg.solve(M, eta[..., None])[..., 0])
    J = _sym(HF.transpose(-1, -2) @ M_inv_lam @ HF)
    return A, b, C, eta_el, J


def _combine_filter(earlier, later):
    A_i, b_i, C_i, eta_i, J_i = earlier
    A_j, b_j, C_j, eta_j, J_j = later
    eye = torch.eye(A_i.shape[-1], dtype=A_i.dtype, device=A_i.device)
    X = eye + C_i @ J_j
    T1 = torch.linalg.solve(X.transpose(-1, -2), A_j.transpose(-1, -2)).transpose(-1, -2)  # A_j X⁻¹
    T2 = torch.linalg.solve(X, A_i).transpose(-1, -2)  # A_iᵀ (I + J_j C_i)⁻¹
    A = T1 @ A_i
    b = _mv(T1, b_i + _mv(C_i, eta_j)) + b_j
    C = _sym(T1 @ C_i @ A_j.transpose(-1, -2) + C_j)
    eta = _mv(T2, eta_j - _mv(J_j, b_i)) + eta_i
    J = _sym(T2 @ J_j @ A_i + J_i)
    return A, b, C, eta, J


def _combine_smoother(earlier, later):
    E_i, g_i, L_i = earlier
    E_j, g_j, L_j = later
    return E_i @ E_j, _mv(E_i, g_j) + g_i, _sym(E_i @ L_j @ E_i.transpose(-1, -2) + L_i)


def _scan(elements, combine, reverse: bool):
    """Inclusive Hillis–Steele scan along dimension 1 (the chain)."""
    T = elements[0].shape[1]
    shift = 1
    while shift < T:
        if reverse:
            head = combine(tuple(e[:, : T - shift] for e in elements), tuple(e[:, shift:] for e in elements))
            elements = tuple(torch.cat([h, e[:, T - shift :]], 1) for h, e in zip(head, elements))
        else:
            tail = combine(tuple(e[:, : T - shift] for e in elements), tuple(e[:, shift:] for e in elements))
            elements = tuple(torch.cat([e[:, :shift], t], 1) for t, e in zip(tail, elements))
        shift *= 2
    return elements


def parallel_smooth(transitions, noises, initial_cov, info_matrix, info_vector, observed, smoother=True, evidence=False):
    """Smoothed (or filtered) means, covariances and log evidence; same contract as :func:`tensorkit.gp.smooth`."""
    F = transitions.clone()
    F[:, 0] = 0.0  # the first element conditions the prior N(0, P0) directly
    Q = noises.clone()
    Q[:, 0] = initial_cov
    elements = _filter_elements(F, Q, info_matrix, info_vector, observed)
    _, mean, cov, _, _ = _scan(elements, _combine_filter, reverse=False)
    log_evidence = mean.new_zeros(mean.shape[0])
    pred_mean = torch.cat([torch.zeros_like(mean[:, :1]), _mv(transitions[:, 1:], mean[:, :-1])], 1)
    pred_cov = torch.cat([initial_cov[:, None], transitions[:, 1:] @ cov[:, :-1] @ transitions[:, 1:].transpose(-1, -2) + noises[:, 1:]], 1)
    if evidence:
        log_evidence = _log_evidence(pred_mean, pred_cov, info_matrix, info_vector, observed)
    if not smoother:
        return mean, cov, log_evidence
    A_next = transitions[:, 1:]
    E = torch.linalg.solve(pred_cov[:, 1:], A_next @ cov[:, :-1]).transpose(-1, -2)
    g = mean[:, :-1] - _mv(E, pred_mean[:, 1:])
    L = _sym(cov[:, :-1] - E @ pred_cov[:, 1:] @ E.transpose(-1, -2))
    E = torch.cat([E, torch.zeros_like(E[:, :1])], 1)
    g = torch.cat([g, mean[:, -1:]], 1)
    L = torch.cat([L, cov[:, -1:]], 1)
    _, smooth_mean, smooth_cov = _scan((E, g, L), _combine_smoother, reverse=True)
    return smooth_mean, smooth_cov, log_evidence


def _log_evidence(pred_mean, pred_cov, Lam, eta, obs):
    """Σ_t log ∫ N(h; μ_t, S_t) exp(-½ hᵀΛ_t h + η_tᵀ h) dh from the one-step predictions."""
    mu = pred_mean[..., obs]
    S = pred_cov[..., obs, :][..., :, obs]
    eye = torch.eye(obs.numel(), dtype=S.dtype, device=S.device)
    M = eye + Lam @ S
    resid = eta - _mv(Lam, mu)
    SMinv = torch.linalg.solve(M.transpose(-1, -2), S.transpose(-1, -2)).transpose(-1, -2)  # S M⁻¹
    terms = (
        -0.5 * torch.linalg.slogdet(M)[1]
        + (eta * mu).sum(-1)
        - 0.5 * (mu * _mv(Lam, mu)).sum(-1)
        + 0.5 * (resid * _mv(SMinv, resid)).sum(-1)
    )
    return terms.sum(1)
