"""One intra-op thread for the operator tests: the CI machine's cores are shared, and oversubscribed
OpenMP threads slow small FFT models down by an order of magnitude."""

import pytest
import torch


@pytest.fixture(autouse=True)
def _single_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
