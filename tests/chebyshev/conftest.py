"""Chebyshev tests run single-threaded: their tensors are small, and thread oversubscription on shared
CI machines costs far more than it gains."""

import pytest
import torch


@pytest.fixture(autouse=True)
def _single_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
