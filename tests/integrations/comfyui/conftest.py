"""ComfyUI node pack tests.

Two tiers:

* ``test_nodes_unit.py`` runs in the main suite (plain ``pytest``): the pack's ComfyUI-free
  modules (``core``, ``hooks``), loaded from ``integrations/comfyui`` as the package
  ``sddr_comfyui_pack`` the way ComfyUI loads a custom node folder, without ComfyUI.
* ``test_engine.py`` (``@pytest.mark.comfyui``, run with ``pytest -m comfyui`` or
  ``.ci/comfyui-tests.sh``) starts a real ComfyUI engine with the pack installed.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

HERE = Path(__file__).resolve().parent
PACK_DIR = HERE.parents[2] / "integrations" / "comfyui"
PACK_NAME = "sddr_comfyui_pack"

if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))  # engine_setup (the suite uses --import-mode=importlib)


def load_pack() -> ModuleType:
    """The pack's package (its ``__init__`` only defines ``comfy_entrypoint``)."""
    if PACK_NAME not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            PACK_NAME, PACK_DIR / "__init__.py", submodule_search_locations=[str(PACK_DIR)]
        )
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[PACK_NAME] = module
        spec.loader.exec_module(module)
    return sys.modules[PACK_NAME]


@pytest.fixture(scope="session")
def pack() -> ModuleType:
    return load_pack()


@pytest.fixture(scope="session")
def core(pack: ModuleType) -> ModuleType:
    return importlib.import_module(f"{PACK_NAME}.core")


@pytest.fixture(scope="session")
def hooks(pack: ModuleType) -> ModuleType:
    return importlib.import_module(f"{PACK_NAME}.hooks")


@pytest.fixture(scope="session")
def weights(pack: ModuleType) -> ModuleType:
    return importlib.import_module(f"{PACK_NAME}.weights")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "comfyui_browser: drives ComfyUI's real front end in headless Chromium (part of the "
        "comfyui tier; needs Debian's chromium and chromium-driver)",
    )
