"""Training tests run torch on one thread: on a loaded 2-core machine OpenMP threads
waiting on each other make small CPU passes many times slower."""

import pytest
import torch


@pytest.fixture(autouse=True)
def _one_torch_thread():
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)
