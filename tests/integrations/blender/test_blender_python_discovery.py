"""Finding the worker Python: the first environment where ``import sddr_core`` works.

Plain pytest (no bpy, no sddr_core needed). The candidate Pythons are real executables: small
shell scripts that run this Python with a stand-in ``sddr_core`` on their path, fail the
import, or hang, so each check really runs ``python -c "import sddr_core"``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from blender_helpers import load_addon_module

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="shell-script stand-in Pythons")
worker = load_addon_module("worker")


def fake_python(folder: Path, behaviour: str, stub: Path | None = None) -> str:
    """``folder/bin/python``: 'imports' (a stand-in sddr_core), 'missing' or 'hangs'."""
    exe = folder / "bin" / "python"
    exe.parent.mkdir(parents=True, exist_ok=True)
    if behaviour == "imports":
        body = f'PYTHONPATH="{stub}" exec "{sys.executable}" -S "$@"'
    elif behaviour == "missing":  # -S: no site-packages, where sddr may be installed here
        body = f'exec "{sys.executable}" -S "$@"'
    else:
        body = "sleep 30"
    exe.write_text(f"#!/bin/sh\n{body}\n")
    exe.chmod(0o755)
    return str(exe)


@pytest.fixture
def stub(tmp_path) -> Path:
    pkg = tmp_path / "stub" / "sddr_core"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    return pkg.parent


def test_candidates_in_order_preference_clone_envs_then_path(tmp_path, stub):
    home, clone = tmp_path / "home", tmp_path / "clone"
    pref = fake_python(tmp_path / "pref", "missing")
    clone_py = fake_python(clone / ".venv", "missing")
    active = fake_python(tmp_path / "active", "missing")
    conda = fake_python(tmp_path / "condaenv", "missing")
    (home / ".conda").mkdir(parents=True)
    (home / ".conda" / "environments.txt").write_text(f"{tmp_path / 'condaenv'}\n")
    virtualenv = fake_python(home / ".virtualenvs" / "sd", "missing")
    on_path = fake_python(tmp_path / "usr", "missing")
    found = worker.python_candidates(
        pref,
        clone=str(clone),
        environ={"VIRTUAL_ENV": str(tmp_path / "active"), "CONDA_PREFIX": ""},
        home=str(home),
        path_lookup=lambda name: on_path if name == "python3" else clone_py,  # a duplicate
    )
    exes = [exe for exe, _ in found]
    assert exes == [pref, clone_py, active, conda, virtualenv, on_path]
    origins = dict(found)
    assert origins[clone_py] == "the clone's .venv" and origins[on_path] == "python3 on PATH"
    assert origins[conda] == "a conda environment"


def test_the_first_python_where_sddr_imports_is_chosen_and_the_others_explained(tmp_path, stub):
    missing = fake_python(tmp_path / "a", "missing")
    hangs = fake_python(tmp_path / "b", "hangs")
    good = fake_python(tmp_path / "c", "imports", stub)
    also_good = fake_python(tmp_path / "d", "imports", stub)
    candidates = [
        (str(tmp_path / "nothing" / "python"), "the add-on preference"),
        (missing, "a conda environment"),
        (hangs, "a virtualenv"),
        (good, "python3 on PATH"),
        (also_good, "python on PATH"),
    ]
    found = worker.find_worker_python(candidates, timeout=3.0)
    assert found["python"] == good and found["origin"] == "python3 on PATH"
    reasons = [why for _exe, _origin, why in found["tried"]]
    assert reasons == ["no such executable", "sddr not installed", "no answer within 3 s"]
    assert found["summary"].startswith(f"sddr imports in {good} (python3 on PATH).")
    assert f"{missing} (sddr not installed)" in found["summary"]


def test_nothing_found_says_why_for_each(tmp_path):
    missing = fake_python(tmp_path / "a", "missing")
    found = worker.find_worker_python([(missing, "python3 on PATH")], timeout=10)
    assert found["python"] == ""
    assert found["summary"] == f"sddr imports in none of 1 Pythons: {missing} (sddr not installed)"
    assert worker.find_worker_python([])["summary"].startswith("No Python found")


def test_the_worker_pythonpath_counts_and_blenders_own_is_ignored(tmp_path, stub):
    missing = fake_python(tmp_path / "a", "missing")
    ok, why = worker.imports_sddr(missing, env={"PYTHONPATH": str(stub)})
    assert ok and why == ""
    os.environ["PYTHONPATH"] = str(stub)  # Blender's own PYTHONPATH must not leak in
    try:
        assert worker.imports_sddr(missing) == (False, "sddr not installed")
    finally:
        del os.environ["PYTHONPATH"]
    exes = [exe for exe, _ in worker.python_candidates("", clone="", home=str(tmp_path))]
    assert os.path.realpath(sys.executable) not in map(os.path.realpath, exes)
