"""The pack as the Comfy registry publishes it (``engine_setup.pack_zip``, the artifact the
engine tier installs): every file ComfyUI needs, no caches; requirements that resolve to
sddr."""

from __future__ import annotations

import zipfile
from pathlib import Path

from engine_setup import PACK_DIR, pack_zip, tomllib


def test_the_registry_zip_holds_the_pack_and_no_caches(tmp_path: Path) -> None:
    (PACK_DIR / "__pycache__").mkdir(exist_ok=True)  # what running the pack leaves behind
    names = set(zipfile.ZipFile(pack_zip(tmp_path)).namelist())
    for required in ("__init__.py", "nodes.py", "core.py", "hooks.py", "weights.py"):
        assert required in names
    assert {"requirements.txt", "pyproject.toml", "README.md"} <= names
    for wf in (PACK_DIR / "example_workflows").glob("*.json"):
        assert f"example_workflows/{wf.name}" in names
        assert f"example_workflows/{wf.stem}.jpg" in names
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]


def test_requirements_and_pyproject_agree_on_sddr() -> None:
    reqs = [
        line.strip()
        for line in (PACK_DIR / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    meta = tomllib.loads((PACK_DIR / "pyproject.toml").read_text())
    assert reqs == meta["project"]["dependencies"] == ["sddr[hf]>=0.1.0"]
    assert meta["tool"]["comfy"]["PublisherId"] and meta["tool"]["comfy"]["DisplayName"]
