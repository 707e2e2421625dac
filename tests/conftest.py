"""Shared fixtures: small scenes, cheap predictors, entry-point plugins off by default."""

from __future__ import annotations

import numpy as np
import pytest

from helpers import ToyPredictor, make_scene


@pytest.fixture(autouse=True, scope="session")
def _no_installed_plugins():
    """Tests see only the built-in plugins unless a test loads others on purpose."""
    import os

    old = os.environ.get("SDDR_LOAD_PLUGINS")
    os.environ["SDDR_LOAD_PLUGINS"] = ""
    from sddr_core.plugins import reload_plugins

    reload_plugins()
    yield
    if old is None:
        os.environ.pop("SDDR_LOAD_PLUGINS", None)
    else:
        os.environ["SDDR_LOAD_PLUGINS"] = old


@pytest.fixture
def scene() -> tuple[np.ndarray, np.ndarray]:
    return make_scene()


@pytest.fixture
def toy_predictor() -> ToyPredictor:
    return ToyPredictor()


@pytest.fixture
def fast_cpu_torch():
    """One torch thread and no oneDNN for tiny-model tests on a shared CPU.

    oneDNN compiles a kernel per convolution shape (about 50 ms each on the dev machine), which
    dominates tests that run tiny networks at many sizes; the native kernels need no warm-up.
    Both settings are restored afterwards. Use with
    ``pytestmark = pytest.mark.usefixtures("fast_cpu_torch")``.
    """
    import warnings

    import torch

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
