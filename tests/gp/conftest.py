"""FunBaT tests run single-threaded: the tiny batched solves gain nothing from threads on a shared CI box."""

import pytest
import torch


@pytest.fixture(autouse=True)
def _single_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
