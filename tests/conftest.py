"""Shared fixtures and marker handling."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tensorkit.data.reference import ENV_VAR, shared_data_dir


@pytest.fixture(autouse=True, scope="session")
def _single_thread():
    """One intra-op thread: the test problems are small, and oversubscribed OpenMP threads on a
    shared 2-core CI machine slow small FFT/solve-heavy tests down by an order of magnitude."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs CUDA")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


SMALL_AIR = {"time": slice(0, 6), "lat": slice(0, 5), "lon": slice(0, 8)}
"""A corner of the built-in air-temperature field: the demo's whole pipeline in seconds."""


@pytest.fixture
def small_air(monkeypatch: pytest.MonkeyPatch) -> None:
    """``tensorkit.data.load_air_temperature`` (what ``tensorkit demo`` fits) returns :data:`SMALL_AIR` of the field."""
    import tensorkit.data

    small = tensorkit.data.load_air_temperature().isel(**SMALL_AIR)
    monkeypatch.setattr(tensorkit.data, "load_air_temperature", lambda: small)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The reference-data folder (``../shared/data`` or ``$TENSORKIT_SHARED_DATA``); skips when absent."""
    path = shared_data_dir()
    if not path.is_dir():
        pytest.skip(f"reference data not found at {path} (set {ENV_VAR})")
    return path


@pytest.fixture(params=["cpu", pytest.param("cuda", marks=pytest.mark.gpu)])
def device(request: pytest.FixtureRequest) -> torch.device:
    """Run a test on the CPU and, where available, on CUDA."""
    return torch.device(request.param)
