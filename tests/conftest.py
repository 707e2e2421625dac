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
