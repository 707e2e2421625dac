"""Blender add-on tests.

Two tiers:

* numpy mesh and worker protocol tests run in the main Python (plain ``pytest``);
* ``@pytest.mark.blender`` tests need ``bpy`` (``bpy==5.0.1``, numpy<2) in its own venv:
  ``.ci/blender-tests.sh`` runs them with
  ``.venv-bpy/bin/python -m pytest -m blender --confcutdir=tests/integrations/blender ...``
  (``--confcutdir`` keeps the repository's top conftest, which imports sddr_core, out: the bpy
  venv has no sddr_core). Without bpy they skip.
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))  # blender_helpers (the suite uses --import-mode=importlib)

# bpy reads its user folders when it is first imported: keep tests out of ~/.config/blender.
if "bpy" not in sys.modules and not os.environ.get("BLENDER_USER_RESOURCES"):
    os.environ["BLENDER_USER_RESOURCES"] = tempfile.mkdtemp(prefix="sddr_blender_user_")


#: The add-on's module once installed from its zip as a user extension.
PACKAGE = "bl_ext.user_default.sddr_depth"
ADDON_DIR = HERE.parents[2] / "integrations" / "blender"


def run_blender_ext(*args: str) -> subprocess.CompletedProcess:
    """Blender's extension command line (validate, build) from the bpy wheel, no binary."""
    import bpy

    scripts = Path(bpy.utils.system_resource("SCRIPTS"))
    tool = scripts / "addons_core" / "bl_pkg" / "cli" / "blender_ext.py"
    return subprocess.run(
        [sys.executable, str(tool), *args], capture_output=True, text=True, timeout=120
    )


@pytest.fixture(scope="session")
def extension_zip(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("ext")
    proc = run_blender_ext("build", "--source-dir", str(ADDON_DIR), "--output-dir", str(out))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (zip_path,) = out.glob("sddr_depth-*.zip")
    return zip_path


@pytest.fixture(scope="session")
def addon(extension_zip):
    """Install the built zip as a user extension and enable it, as a user would."""
    import bpy

    result = bpy.ops.extensions.package_install_files(
        filepath=str(extension_zip), repo="user_default", enable_on_install=True
    )
    assert result == {"FINISHED"}
    return importlib.import_module(PACKAGE)
