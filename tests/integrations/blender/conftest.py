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

import os
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))  # blender_helpers (the suite uses --import-mode=importlib)

# bpy reads its user folders when it is first imported: keep tests out of ~/.config/blender.
if "bpy" not in sys.modules and not os.environ.get("BLENDER_USER_RESOURCES"):
    os.environ["BLENDER_USER_RESOURCES"] = tempfile.mkdtemp(prefix="sddr_blender_user_")
