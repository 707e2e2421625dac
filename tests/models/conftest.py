"""Fast torch on a shared CPU: one thread and no oneDNN for these tiny-model tests.

oneDNN compiles a kernel per convolution shape (about 50 ms each on the dev machine), which
dominates tests that run tiny networks at many sizes; the native kernels need no warm-up.
Both settings are restored after each test.
"""

from __future__ import annotations

import warnings

import pytest
import torch


@pytest.fixture(autouse=True)
def _fast_cpu_torch():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        ctx = torch.backends.mkldnn.flags(enabled=False)
        ctx.__enter__()
    try:
        yield
    finally:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            ctx.__exit__(None, None, None)
        torch.set_num_threads(threads)
