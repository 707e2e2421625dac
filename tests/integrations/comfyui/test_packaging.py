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
    required_files = ("__init__.py", "nodes.py", "core.py", "hooks.py", "weights.py", "sequence.py")
    for required in (*required_files, "web/sizes.js"):
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


REPO = PACK_DIR.parents[1]


def test_git_url_requirements_install_the_clones_own_sddr_the_managers_way() -> None:
    """ComfyUI-Manager runs ``pip install <line>`` per line of the clone's root
    requirements.txt, in the clone's folder: the one line must be the clone itself with
    its hf extra (``-e .[hf]`` would reach pip as one argument and fail)."""
    from engine_setup import manager_pip_commands

    commands = manager_pip_commands(REPO / "requirements.txt", Path("python"))
    assert [c[3:] for c in commands] == [["install", ".[hf]"]]
    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert "hf" in extras["optional-dependencies"]


def test_the_root_entry_point_only_re_exports_the_pack(tmp_path: Path) -> None:
    """The repository root's __init__.py (what ComfyUI imports after a Git-URL install)
    imports nothing at import time and points at the pack's entry point and web folder."""
    import ast
    import importlib.util
    import sys

    source = (REPO / "__init__.py").read_text()
    tree = ast.parse(source)
    top_imports = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    assert {a.name for n in top_imports for a in n.names} <= {"os", "sys"}
    assert "from .integrations.comfyui import comfy_entrypoint" in source
    spec = importlib.util.spec_from_file_location(
        "sddr_clone_root", REPO / "__init__.py", submodule_search_locations=[str(REPO)]
    )
    module = importlib.util.module_from_spec(spec)
    path = list(sys.path)
    spec.loader.exec_module(module)
    assert sys.path == path  # only comfy_entrypoint touches sys.path, when ComfyUI calls it
    assert callable(module.comfy_entrypoint)
    assert (REPO / module.WEB_DIRECTORY / "sizes.js").is_file()
    assert not hasattr(module, "NODE_CLASS_MAPPINGS")  # V3: ComfyUI calls comfy_entrypoint
