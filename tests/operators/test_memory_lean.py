"""Memory-lean training: per-block checkpointing, bf16 autocast, half-precision FFT fallback, chunked patches."""

from __future__ import annotations

import logging

import pytest
import torch

from tensorkit.operators import FactorizedSpectralConv, MultigridPatching, Trainer
from tensorkit.operators.losses import relative_h1
from tensorkit.operators.spectral_conv import half_fft_unsupported
from tensorkit.operators.tfno import TFNO


def _model(n_layers: int = 3, **kwargs) -> TFNO:
    return TFNO((8, 8), 1, 1, 8, n_layers=n_layers, seed=0, **kwargs)


def _data(n: int = 3, size: int = 16) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    return torch.randn(n, 1, size, size, generator=g), torch.randn(n, 1, size, size, generator=g)


def _grads(model: torch.nn.Module, loss: torch.Tensor) -> list[torch.Tensor]:
    model.zero_grad(set_to_none=True)
    loss.backward()
    return [p.grad.clone() for p in model.parameters()]


def _saved_bytes(forward) -> int:
    """Bytes of the distinct storages autograd saves for the backward pass of ``forward()``."""
    storages: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        storages[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        forward()
    return sum(storages.values())


@pytest.mark.parametrize("options", [{}, {"norm": "instance_norm", "preactivation": True},
                                     {"channel_mlp_expansion": None, "domain_padding": 0.25}])
def test_block_checkpointing_gives_bit_identical_gradients(options: dict) -> None:
    x, y = _data()
    plain, ckpt = _model(**options), _model(checkpoint_blocks=True, **options)
    ckpt.load_state_dict(plain.state_dict())
    out_plain, out_ckpt = plain(x), ckpt(x)
    assert torch.equal(out_plain, out_ckpt)
    for a, b in zip(_grads(plain, relative_h1(out_plain, y, 2)), _grads(ckpt, relative_h1(out_ckpt, y, 2))):
        assert torch.equal(a, b)


def test_block_checkpointing_saves_only_block_inputs() -> None:
    x, _ = _data(1, 32)
    plain, ckpt = _model(n_layers=6), _model(n_layers=6, checkpoint_blocks=True)
    assert _saved_bytes(lambda: ckpt(x)) < 0.4 * _saved_bytes(lambda: plain(x))


def test_checkpoint_blocks_must_be_bool() -> None:
    with pytest.raises(TypeError, match="checkpoint_blocks"):
        _model(checkpoint_blocks="yes")


def test_bf16_autocast_on_cpu_matches_fp32() -> None:
    """bf16 (8-bit mantissa) in the pointwise layers only. Stated tolerance against float32: output
    within 3e-2 and loss within 1e-3 (relative); the whole gradient vector within 0.2 relative
    (measured ≈ 0.1: bf16 rounding of the activations) and pointing the same way (cosine ≥ 0.99)."""
    x, _ = _data()
    model = _model()
    with torch.no_grad():
        y = model(x) + 0.3 * torch.randn(x.shape, generator=torch.Generator().manual_seed(2))
    ref = model(x)
    ref_loss = relative_h1(ref, y, 2)
    ref_grad = torch.cat([g.flatten() for g in _grads(model, ref_loss)])
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(x)
    assert out.dtype == torch.bfloat16
    loss = relative_h1(out.float(), y, 2)
    grad = torch.cat([g.flatten() for g in _grads(model, loss)])
    assert torch.linalg.vector_norm(out.float() - ref) <= 3e-2 * torch.linalg.vector_norm(ref)
    assert abs(loss.item() - ref_loss.item()) <= 1e-3 * ref_loss.item()
    assert torch.linalg.vector_norm(grad - ref_grad) <= 0.2 * torch.linalg.vector_norm(ref_grad)
    assert torch.nn.functional.cosine_similarity(grad, ref_grad, 0) >= 0.99


def test_spectral_part_runs_in_float32_under_autocast() -> None:
    conv = FactorizedSpectralConv(4, 4, (8, 8), factorization="tucker", rank=0.5,
                                  generator=torch.Generator().manual_seed(0))
    x = torch.randn(2, 4, 16, 16, generator=torch.Generator().manual_seed(1))
    ref = conv(x.bfloat16().float())
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = conv(x.bfloat16())
    assert out.dtype == torch.bfloat16
    torch.testing.assert_close(out.float(), ref.bfloat16().float(), rtol=0, atol=0)


def test_half_fft_support_rule() -> None:
    cuda = torch.device("cuda")
    assert half_fft_unsupported(torch.float16, cuda, (64, 128)) is None
    assert "power-of-two" in half_fft_unsupported(torch.float16, cuda, (48, 64))
    assert "bfloat16" in half_fft_unsupported(torch.bfloat16, cuda, (64, 64))
    assert "cpu has no half-precision FFT" == half_fft_unsupported(torch.float16, torch.device("cpu"), (64, 64))


def test_half_fft_falls_back_to_float32_and_logs_once(caplog: pytest.LogCaptureFixture) -> None:
    gen = torch.Generator().manual_seed(0)
    conv = FactorizedSpectralConv(4, 4, (8, 8), half_fft=True, generator=gen)
    plain = FactorizedSpectralConv(4, 4, (8, 8), half_fft=False, generator=torch.Generator().manual_seed(0))
    x = torch.randn(2, 4, 24, 24, generator=torch.Generator().manual_seed(1)).half()
    with caplog.at_level(logging.WARNING, logger="tensorkit.operators.spectral_conv"):
        out = conv(x)
        conv(x)
    assert torch.equal(out, plain(x))
    fallbacks = [r for r in caplog.records if "float32 FFTs" in r.getMessage()]
    assert len(fallbacks) == 1 and "no half-precision FFT" in fallbacks[0].getMessage()


@pytest.mark.gpu
def test_half_fft_on_cuda_close_to_float32() -> None:
    conv = FactorizedSpectralConv(8, 8, (16, 16), half_fft=True, generator=torch.Generator().manual_seed(0)).cuda()
    x = torch.randn(2, 8, 64, 64, generator=torch.Generator().manual_seed(1)).cuda()
    out = conv(x.half())
    assert out.dtype == torch.float16
    ref = conv(x)
    assert torch.linalg.vector_norm(out.float() - ref) <= 1e-2 * torch.linalg.vector_norm(ref)


@pytest.mark.gpu
def test_half_fft_on_cuda_falls_back_for_non_power_of_two(caplog: pytest.LogCaptureFixture) -> None:
    conv = FactorizedSpectralConv(8, 8, (16, 16), half_fft=True, generator=torch.Generator().manual_seed(0)).cuda()
    x = torch.randn(2, 8, 48, 64, generator=torch.Generator().manual_seed(1)).cuda().half()
    with caplog.at_level(logging.WARNING, logger="tensorkit.operators.spectral_conv"):
        out = conv(x)
    assert out.dtype == torch.float16 and torch.isfinite(out).all()
    assert any("power-of-two" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("stitching", [True, False])
def test_chunked_patches_give_the_all_at_once_gradient(stitching: bool) -> None:
    x, y = _data(2, 32)
    patching = MultigridPatching(2, 1 / 16, stitching=stitching)
    grads = {}
    for chunk in (None, 5):
        model = TFNO((8, 8), 3, 1, 8, n_layers=2, seed=0)
        trainer = Trainer(model, torch.optim.SGD(model.parameters(), lr=0.0), train_loss="l2", batch_size=2,
                          patching=patching, patch_chunk_size=chunk, verbose=False)
        trainer.fit((x, y), 1)
        grads[chunk] = [p.grad.clone() for p in model.parameters()]
    for a, b in zip(grads[None], grads[5]):
        torch.testing.assert_close(b, a, rtol=1e-5, atol=1e-7)


def test_chunked_patches_bound_saved_activations() -> None:
    x, _ = _data(1, 64)
    patching = MultigridPatching(2, 1 / 16)
    model = TFNO((8, 8), 3, 1, 8, n_layers=2, seed=0)
    assert _saved_bytes(lambda: patching.apply(model, x, 2)) < 0.25 * _saved_bytes(lambda: patching.apply(model, x))


def test_bf16_mixed_precision_trains_on_cpu() -> None:
    x, y = _data(4)
    model = _model()
    trainer = Trainer(model, torch.optim.Adam(model.parameters(), lr=1e-3), batch_size=2, mixed_precision=True,
                      amp_dtype="bfloat16", verbose=False)
    assert trainer.mixed_precision
    history = trainer.fit((x, y), 2)
    assert all(torch.isfinite(torch.tensor(h["train_loss"])) for h in history)
    with pytest.raises(ValueError, match="amp_dtype"):
        Trainer(model, torch.optim.Adam(model.parameters()), amp_dtype="float8")
    with pytest.raises(ValueError, match="patch_chunk_size needs patching"):
        Trainer(model, torch.optim.Adam(model.parameters()), patch_chunk_size=4)


def test_config_keys_reach_model_and_trainer() -> None:
    from tensorkit.operators.experiment import build_operator, merge_config

    cfg = merge_config({"model": {"checkpoint_blocks": True, "half_fft": True},
                        "training": {"amp_dtype": "bfloat16"}, "patching": {"chunk_size": 4}})
    model = build_operator(cfg["model"], 1, 1, 0, seed=0)
    assert model.checkpoint_blocks and model.spectral.half_fft
    assert cfg["training"]["amp_dtype"] == "bfloat16" and cfg["patching"]["chunk_size"] == 4
    with pytest.raises(TypeError, match="amp_dtype"):
        merge_config({"training": {"amp_dtype": 16}})
