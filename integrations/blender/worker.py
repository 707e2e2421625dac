"""Run ``sddr_core.refine`` for the Blender add-on, in another Python or in Blender's own.

This file is both sides of a small JSON-lines protocol and never imports bpy:

* **Worker** (``python worker.py``), run by the user's own Python where ``sddr`` is installed.
  It reads one JSON object per line on stdin and writes one per line on stdout.
* **Client** (:class:`WorkerClient`, :class:`Job`), used by the add-on inside Blender: it
  spawns the worker with :mod:`subprocess`, never blocks (``Job.poll()`` is called from a
  modal operator's timer), cancels, and enforces a timeout.
* **In process** (:class:`InProcessJob`): the same requests and messages, run on a thread of
  Blender's Python when ``sddr_core`` imports there.

Protocol (version :data:`PROTOCOL`), add-on to worker::

    {"type": "refine", "id": "j1", "image": "/photo.jpg", "predictor": "depth-anything-v2-small",
     "mode": "one-stage", "refiner": null, "device": null, "low_resolution": null,
     "high_resolution": null, "snap": true, "depth_out": "/tmp/d.npy",
     "edges_out": "/tmp/e.npy"}
    {"type": "cancel"}            # stop the running request (between units of work)
    {"type": "predictors"}        # list the registered predictors
    {"type": "save", "id": "s1", "depth": "/tmp/d.npy", "kind": "disparity",
     "out": "/x/depth.png", "overwrite": false}   # write a depth map with sddr's writer
    {"type": "shutdown"}

worker to add-on::

    {"type": "hello", "protocol": 1, "python": "...", "sddr_version": "..."}   # once, at start
    {"type": "progress", "id": "j1", "stage": "predict-low", "done": 0, "total": 1}
    {"type": "result", "id": "j1", "depth": "/tmp/d.npy", "edges": "/tmp/e.npy",
     "kind": "disparity", "shape": [H, W], "timings": {...}, "info": {...}, "focal_35mm": 26}
    {"type": "cancelled", "id": "j1", "message": "..."}
    {"type": "error", "id": "j1", "error": "PredictorError", "message": "...", "traceback": "..."}
    {"type": "predictors", "items": [{"name": ..., "kind": ..., ...}]}
    {"type": "saved", "id": "s1", "path": "/x/depth.png"}
    {"type": "fatal", "code": "sddr_core_missing", "message": "...", "fix": "..."}  # then exits

``predictor`` is a registered name, or ``path/to/file.py:attr`` / ``package.module:attr`` for
a predictor object, class or plain function ``f(image, resolution)`` of your own.
"""

from __future__ import annotations

import abc
import contextlib
import importlib
import importlib.util
import json
import os
import queue
import re
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable
from typing import Any

PROTOCOL = 1
#: What to run in the worker's Python to install sddr there.
PIP_PACKAGE = "sddr"

Emit = Callable[[dict], None]


class WorkerError(Exception):
    """A problem with the worker, with a ``fix`` telling the user what to do about it.

    Attributes:
        message: what went wrong.
        fix: what to do (a sentence, or a command to run).
        code: a short machine-readable kind (``python_missing``, ``sddr_core_missing``,
            ``sddr_core_broken``, ``weights``, ``timeout``, ``crashed``, ``protocol``,
            ``error``, ``busy``).
        details: a traceback or the worker's stderr, for the console.
    """

    def __init__(self, message: str, fix: str = "", code: str = "error", details: str = ""):
        super().__init__(message)
        self.message, self.fix, self.code, self.details = message, fix, code, details
        #: a command the user can run to fix it (copied exactly by "Copy Command"), or "".
        self.command = ""
        #: the model whose weights are missing (``code == "weights"``), or "".
        self.model_id = ""

    def __str__(self) -> str:
        return f"{self.message} {self.fix}".strip()


def _quote(path: str) -> str:
    return f'"{path}"' if any(c in path for c in " ()&;") else path


def pip_command(python: str, source: str = "") -> str:
    """The command that installs sddr into ``python`` from ``source``.

    sddr is not on a package index: ``source`` is a wheel (``sddr-*.whl``) or the folder of
    a clone of the repository (installed editable, with ``constraints.txt`` when the clone
    has one). Without a source the command names the placeholder ``<sddr wheel or clone>``.
    """
    py = _quote(python)
    if not source:
        return f"{py} -m pip install <sddr wheel or clone>"
    if os.path.isdir(source):
        constraints = os.path.join(source, "constraints.txt")
        extra = f" -c {_quote(constraints)}" if os.path.isfile(constraints) else ""
        return f"{py} -m pip install{extra} -e {_quote(source)}"
    return f"{py} -m pip install {_quote(source)}"


def _is_sddr_checkout(folder: str) -> bool:
    pyproject = os.path.join(folder, "pyproject.toml")
    if not (os.path.isfile(pyproject) and os.path.isdir(os.path.join(folder, "sddr_core"))):
        return False
    with open(pyproject, encoding="utf-8") as fh:
        return re.search(r'^name\s*=\s*"sddr"', fh.read(), re.MULTILINE) is not None


def find_install_source(hint: str = "", search: list[str] | None = None) -> str:
    """Where sddr can be installed from: ``hint`` (a wheel or a clone, from the add-on
    preferences) if it is one, else the clone this add-on sits in (a developer's symlinked
    add-on), else the newest ``sddr-*.whl`` in ``search`` (default: ~/Downloads). ``""`` when
    nothing is found."""
    if hint:
        hint = os.path.expanduser(hint)
        if (os.path.isfile(hint) and hint.endswith(".whl")) or _is_sddr_checkout(hint):
            return os.path.abspath(hint)
    here = os.path.dirname(os.path.realpath(__file__))
    clone = os.path.dirname(os.path.dirname(here))
    if _is_sddr_checkout(clone):
        return clone
    for folder in search if search is not None else [os.path.expanduser("~/Downloads")]:
        try:
            wheels = [
                os.path.join(folder, f)
                for f in os.listdir(folder)
                if f.startswith("sddr-") and f.endswith(".whl")
            ]
        except OSError:
            continue
        if wheels:
            return max(wheels, key=os.path.getmtime)
    return ""


def install_fix(python: str, source: str) -> tuple[str, str]:
    """``(fix sentence, command)`` for installing sddr into ``python`` (command ``""`` when no
    wheel or clone is known)."""
    if source:
        kind = "the clone at" if os.path.isdir(source) else "the wheel"
        return f"Install it from {kind} {source} (Copy Command), then Check Python.", (
            pip_command(python, source)
        )
    return (
        "sddr is not on a package index: set 'sddr wheel or clone' in the add-on preferences "
        "to an sddr-*.whl or a clone of the sddr repository, then try again.",
        "",
    )


# ==========================================================================================
# Finding a Python where sddr_core imports (runs inside Blender, never imports sddr)
# ==========================================================================================

#: Seconds one ``python -c "import sddr_core"`` check may take (torch's import is ~2 s warm).
IMPORT_CHECK_TIMEOUT = 20.0


def _env_python(folder: str) -> str:
    """The Python executable of an environment folder (venv or conda), or ``""``."""
    for rel in (("bin", "python3"), ("bin", "python"), ("Scripts", "python.exe"), ("python.exe",)):
        exe = os.path.join(folder, *rel)
        if os.path.isfile(exe):
            return exe
    return ""


def _subfolders(folder: str) -> list[str]:
    try:
        return sorted(os.path.join(folder, f) for f in os.listdir(folder))
    except OSError:
        return []


def python_candidates(
    preference: str = "",
    *,
    clone: str | None = None,
    environ: dict[str, str] | None = None,
    home: str | None = None,
    path_lookup: Callable[[str], str | None] | None = None,
) -> list[tuple[str, str]]:
    """Pythons that may have sddr installed, most likely first, as ``(executable, origin)``.

    In order: the add-on preference; the ``.venv`` / ``venv`` of the sddr clone the add-on sits
    in (a developer's symlinked add-on); the active environments (``VIRTUAL_ENV``,
    ``CONDA_PREFIX``); conda environments (``~/.conda/environments.txt`` and the usual
    installs' ``envs/``); virtualenvs in ``~/.virtualenvs``, ``~/venvs``, ``~/.venv``,
    ``~/venv``; ``python3`` / ``python`` on PATH. Duplicates (same real file) are dropped, and
    so is Blender's own Python (``sys.executable``), which the in-process option covers.
    """
    environ = os.environ if environ is None else environ
    home = os.path.expanduser("~") if home is None else home
    which = path_lookup or shutil_which
    if clone is None:
        here = os.path.dirname(os.path.realpath(__file__))
        clone = os.path.dirname(os.path.dirname(here))
        clone = clone if _is_sddr_checkout(clone) else ""
    found: list[tuple[str, str]] = []
    if preference:
        found.append((os.path.expanduser(preference), "the add-on preference"))
    if clone:
        for name in (".venv", "venv", ".venv-sddr"):
            found.append((_env_python(os.path.join(clone, name)), f"the clone's {name}"))
    for var in ("VIRTUAL_ENV", "CONDA_PREFIX"):
        if environ.get(var):
            found.append((_env_python(environ[var]), f"${var}"))
    conda_envs: list[str] = []
    listed = os.path.join(home, ".conda", "environments.txt")
    with contextlib.suppress(OSError), open(listed, encoding="utf-8") as fh:
        conda_envs += [line.strip() for line in fh if line.strip()]
    for base in ("miniconda3", "anaconda3", "miniforge3", "mambaforge", "micromamba"):
        conda_envs += _subfolders(os.path.join(home, base, "envs"))
    found += [(_env_python(f), "a conda environment") for f in conda_envs]
    for base in (".virtualenvs", "venvs", "envs"):
        found += [(_env_python(f), "a virtualenv") for f in _subfolders(os.path.join(home, base))]
    for name in (".venv", "venv"):
        found.append((_env_python(os.path.join(home, name)), f"~/{name}"))
    for name in ("python3", "python"):
        found.append((which(name) or "", f"{name} on PATH"))
    out, seen = [], {os.path.realpath(sys.executable)}
    for exe, origin in found:
        if not exe:
            continue
        key = os.path.realpath(exe)
        if key in seen and origin != "the add-on preference":
            continue
        seen.add(key)
        out.append((exe, origin))
    return out


def shutil_which(name: str) -> str | None:
    import shutil

    return shutil.which(name)


def imports_sddr(
    python: str, env: dict[str, str] | None = None, timeout: float = IMPORT_CHECK_TIMEOUT
) -> tuple[bool, str]:
    """Run ``python -c "import sddr_core"``; ``(ok, why not)`` (why: a short reason)."""
    if not python or not os.path.isfile(python) or not os.access(python, os.X_OK):
        return False, "no such executable"
    run_env = dict(os.environ)
    for key in ("PYTHONHOME", "PYTHONPATH"):  # Blender's own would break another Python
        run_env.pop(key, None)
    run_env.update(env or {})
    try:
        proc = subprocess.run(
            [python, "-c", "import sddr_core"],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=run_env,
            cwd=tempfile.gettempdir(),  # not Blender's folder: an sddr_core there would count
            creationflags=getattr(subprocess, "CREATE_NO_WINDOW", 0),
        )
    except subprocess.TimeoutExpired:
        return False, f"no answer within {timeout:g} s"
    except OSError as exc:
        return False, f"does not run ({exc.strerror or exc})"
    if proc.returncode == 0:
        return True, ""
    last = (proc.stderr.strip().splitlines() or [f"exit code {proc.returncode}"])[-1]
    if "No module named 'sddr" in last:
        return False, "sddr not installed"
    return False, last[:120]


def find_worker_python(
    candidates: list[tuple[str, str]],
    env: dict[str, str] | None = None,
    timeout: float = IMPORT_CHECK_TIMEOUT,
) -> dict:
    """Check ``candidates`` in order (:func:`python_candidates`) until ``sddr_core`` imports.

    Returns:
        ``{"python": exe or "", "origin": ..., "tried": [(exe, origin, reason), ...],
        "summary": one line for the panel}``.
    """
    tried: list[tuple[str, str, str]] = []
    for exe, origin in candidates:
        ok, why = imports_sddr(exe, env=env, timeout=timeout)
        if ok:
            summary = f"sddr imports in {exe} ({origin})."
            if tried:
                summary += " Not in: " + "; ".join(f"{t[0]} ({t[2]})" for t in tried[:3])
            return {"python": exe, "origin": origin, "tried": tried, "summary": summary}
        tried.append((exe, origin, why))
    if not tried:
        summary = "No Python found (none on PATH, no venv or conda environment)."
    else:
        summary = f"sddr imports in none of {len(tried)} Pythons: " + "; ".join(
            f"{t[0]} ({t[2]})" for t in tried[:3]
        )
    return {"python": "", "origin": "", "tried": tried, "summary": summary}


# ==========================================================================================
# Worker side: runs where sddr_core is installed
# ==========================================================================================


def _load_object(ref: str) -> Any:
    """``file.py:attr`` or ``package.module:attr`` to the object (classes are instantiated)."""
    path, _, attr = ref.rpartition(":")
    if path.endswith(".py"):
        if not os.path.isfile(path):
            raise FileNotFoundError(f"Predictor file {path!r} does not exist.")
        name = "sddr_user_predictor_" + str(abs(hash(os.path.abspath(path))))
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
        sys.modules[name] = module
        spec.loader.exec_module(module)  # type: ignore[union-attr]
    else:
        module = importlib.import_module(path)
    obj = module
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj() if isinstance(obj, type) else obj


def _is_object_ref(predictor: str) -> bool:
    path, sep, attr = predictor.rpartition(":")
    if not sep or not attr.replace(".", "").replace("_", "").isalnum():
        return False
    return path.endswith(".py") or all(p.isidentifier() for p in path.split("."))


def read_focal_35mm(path: str) -> float | None:
    """The EXIF 35 mm-equivalent focal length of a photo (``FocalLengthIn35mmFilm``), if any."""
    try:
        from PIL import Image

        with Image.open(path) as im:
            exif = im.getexif()
            value = exif.get_ifd(0x8769).get(0xA405) or exif.get(0xA405)
        return float(value) if value else None
    except Exception:
        return None


def run_request(req: dict, emit: Emit, cancel: threading.Event) -> None:
    """Run one ``refine`` request and ``emit`` its progress and its final message.

    The final message is exactly one of ``result``, ``cancelled`` or ``error``. Used by the
    worker loop and by :class:`InProcessJob` alike.
    """
    job_id = req.get("id")
    try:
        import numpy as np

        import sddr_core
        from sddr_core import plugins

        class Bridge:
            @sddr_core.hookimpl
            def sddr_progress(self, stage: str, done: int, total: int) -> None:
                emit(
                    {"type": "progress", "id": job_id, "stage": stage, "done": done, "total": total}
                )

            @sddr_core.hookimpl
            def sddr_should_cancel(self, stage: str) -> bool | None:
                return True if cancel.is_set() else None

        for key in ("image", "predictor", "depth_out"):
            if not req.get(key):
                raise ValueError(f"The request has no {key!r}.")
        outputs = [req["depth_out"]] + ([req["edges_out"]] if req.get("edges_out") else [])
        if not req.get("overwrite", False):
            for out in outputs:
                if os.path.exists(out):
                    raise FileExistsError(
                        f"{out} already exists; the worker never overwrites files unless the "
                        "request says overwrite=true."
                    )
        predictor: Any = req["predictor"]
        if _is_object_ref(predictor):
            predictor = _load_object(predictor)
        with plugins.temporary_plugin(Bridge()):
            if cancel.is_set():
                raise sddr_core.CancelledError("Cancelled before the refinement started.")
            result = sddr_core.refine(
                req["image"],
                predictor,
                mode=req.get("mode") or "one-stage",
                refiner=req.get("refiner") or None,
                device=req.get("device") or None,
                low_resolution=req.get("low_resolution") or None,
                high_resolution=req.get("high_resolution") or None,
                snap=bool(req.get("snap", True)),
            )
        _save_npy(np, req["depth_out"], result.depth)
        if req.get("edges_out"):
            _save_npy(np, req["edges_out"], result.edges)
        info = {k: v for k, v in getattr(result, "info", {}).items() if _jsonable(v)}
        emit(
            {
                "type": "result",
                "id": job_id,
                "depth": req["depth_out"],
                "edges": req.get("edges_out"),
                "kind": result.kind,
                "shape": list(result.depth.shape),
                "timings": {k: float(v) for k, v in result.timings.items()},
                "info": info,
                "focal_35mm": read_focal_35mm(req["image"]),
            }
        )
    except Exception as exc:
        if type(exc).__name__ == "CancelledError" and type(exc).__module__.startswith("sddr"):
            emit({"type": "cancelled", "id": job_id, "message": str(exc)})
            return
        emit(
            {
                "type": "error",
                "id": job_id,
                "error": type(exc).__name__,
                "message": str(exc) or type(exc).__name__,
                "traceback": traceback.format_exc(),
            }
        )


def save_depth(req: dict) -> str:
    """Write the ``.npy`` depth of a ``save`` request to ``req["out"]`` with sddr's public
    writer (``sddr_core.io.write_depth``, what ``RefinedDepth.save`` uses: 16-bit PNG with its
    range and kind stored, EXR, TIFF, ...); the path written."""
    import numpy as np

    from sddr_core.io import write_depth

    for key in ("depth", "out"):
        if not req.get(key):
            raise ValueError(f"The request has no {key!r}.")
    depth = np.load(req["depth"]).astype(np.float32)
    return str(
        write_depth(
            req["out"],
            depth,
            overwrite=bool(req.get("overwrite", False)),
            kind=req.get("kind") or None,
            meta={"source": "sddr Blender add-on"},
        )
    )


def _save_npy(np: Any, path: str, array: Any) -> None:
    """Write atomically, so the reader never sees half a file."""
    tmp = f"{path}.part{os.getpid()}.npy"
    np.save(tmp, np.ascontiguousarray(array, dtype=np.float32))
    os.replace(tmp, path)


def _jsonable(value: Any) -> bool:
    return isinstance(value, (str, int, float, bool)) or value is None


def list_predictors() -> list[dict]:
    """The registered predictors as plain dicts (name, kind, licence, resolution, text)."""
    import sddr_core

    return [
        {
            "name": s.name,
            "kind": s.kind,
            "licence": getattr(s, "licence", ""),
            "native_resolution": int(getattr(s, "native_resolution", 0) or 0),
            "description": getattr(s, "description", ""),
        }
        for s in sddr_core.list_predictors()
    ]


def serve(stdin: Any = None, stdout: Any = None) -> int:
    """The worker loop: requests in on ``stdin``, messages out on ``stdout``; returns an exit code.

    A reader thread takes lines off stdin so a ``cancel`` reaches a running request; requests
    run one at a time on the main thread. End of input (the add-on went away) ends the loop.
    """
    stdin = stdin or sys.stdin
    stdout = stdout or sys.stdout
    lock = threading.Lock()

    def emit(msg: dict) -> None:
        with lock:
            stdout.write(json.dumps(msg) + "\n")
            stdout.flush()

    try:
        import sddr_core
    except Exception as exc:
        missing = isinstance(exc, ModuleNotFoundError) and (exc.name or "").startswith("sddr")
        emit(
            {
                "type": "fatal",
                "code": "sddr_core_missing" if missing else "sddr_core_broken",
                "message": (
                    f"sddr is not installed in {sys.executable}."
                    if missing
                    else f"sddr_core failed to import in {sys.executable}: {exc}"
                ),
                "fix": (
                    "Install sddr there from a wheel or a clone of the repository, then "
                    "Check Python."
                    if missing
                    else "Repair that environment (reinstall sddr and torch there) or choose "
                    "another Python in the add-on preferences."
                ),
                "traceback": traceback.format_exc(),
            }
        )
        return 3

    emit(
        {
            "type": "hello",
            "protocol": PROTOCOL,
            "python": sys.executable,
            "python_version": sys.version.split()[0],
            "sddr_version": getattr(sddr_core, "__version__", "unknown"),
            "pid": os.getpid(),
        }
    )
    requests: queue.Queue[dict | None] = queue.Queue()
    cancel = threading.Event()

    def reader() -> None:
        for line in stdin:
            line = line.strip()
            if not line:
                continue
            try:
                msg = json.loads(line)
            except json.JSONDecodeError as exc:
                emit({"type": "error", "id": None, "error": "ProtocolError", "message": str(exc)})
                continue
            kind = msg.get("type")
            if kind == "cancel":
                cancel.set()
            elif kind == "shutdown":
                break
            else:
                if kind == "refine":
                    cancel.clear()  # here, in arrival order: a cancel sent after it still counts
                requests.put(msg)
        requests.put(None)

    threading.Thread(target=reader, daemon=True, name="sddr-stdin").start()
    while True:
        msg = requests.get()
        if msg is None:
            return 0
        kind = msg.get("type")
        if kind == "refine":
            run_request(msg, emit, cancel)
        elif kind == "predictors":
            try:
                emit({"type": "predictors", "id": msg.get("id"), "items": list_predictors()})
            except Exception as exc:
                emit(_error_message(msg.get("id"), exc))
        elif kind == "save":
            try:
                emit({"type": "saved", "id": msg.get("id"), "path": save_depth(msg)})
            except Exception as exc:
                emit(_error_message(msg.get("id"), exc))
        elif kind == "ping":
            emit({"type": "pong", "id": msg.get("id")})
        else:
            emit(
                {
                    "type": "error",
                    "id": msg.get("id"),
                    "error": "ProtocolError",
                    "message": f"Unknown request type {kind!r}.",
                }
            )


def _error_message(job_id: Any, exc: BaseException) -> dict:
    return {
        "type": "error",
        "id": job_id,
        "error": type(exc).__name__,
        "message": str(exc) or type(exc).__name__,
        "traceback": traceback.format_exc(),
    }


# ==========================================================================================
# Client side: runs inside Blender (or tests), never blocks unless asked to
# ==========================================================================================

FINAL = ("result", "error", "cancelled")


class Job(abc.ABC):
    """One request in flight. Call :meth:`poll` often (a timer); it never blocks.

    Attributes:
        state: ``"running"``, ``"done"``, ``"error"`` or ``"cancelled"``.
        stage, done, total: the latest progress.
        result: the ``result`` message when ``state == "done"``.
        error: a :class:`WorkerError` when ``state == "error"``.
    """

    def __init__(self, request: dict, timeout: float | None) -> None:
        self.request = request
        self.id = request.get("id")
        self.started = time.monotonic()
        self.timeout = timeout
        self.state = "running"
        self.stage, self.done, self.total = "starting", 0, 1
        self.result: dict | None = None
        self.error: WorkerError | None = None
        self.messages: list[dict] = []
        self._cancel_sent: float | None = None

    @property
    def finished(self) -> bool:
        return self.state != "running"

    @property
    def fraction(self) -> float:
        return min(1.0, max(0.0, self.done / self.total)) if self.total else 0.0

    def _handle(self, msg: dict) -> None:
        self.messages.append(msg)
        kind = msg.get("type")
        if kind == "progress":
            self.stage, self.done, self.total = msg["stage"], msg["done"], msg["total"]
        elif kind == "result":
            self.state, self.result = "done", msg
        elif kind == "cancelled":
            self.state = "cancelled"
        elif kind == "error":
            self.state = "error"
            self.error = error_from_message(msg)

    def _fail(self, error: WorkerError) -> None:
        if not self.finished:
            self.state, self.error = "error", error

    @abc.abstractmethod
    def poll(self) -> list[dict]:
        """Handle what arrived since the last call (never blocks); returns the messages."""

    @abc.abstractmethod
    def cancel(self) -> None:
        """Ask the job to stop; it ends as cancelled."""

    def wait(self, timeout: float | None = None, interval: float = 0.02) -> Job:
        """Block until the job finishes (tests, background mode); returns ``self``."""
        end = None if timeout is None else time.monotonic() + timeout
        while not self.finished:
            self.poll()
            if end is not None and time.monotonic() > end:
                break
            time.sleep(interval)
        return self


_WEIGHTS_ID = re.compile(r"Weights for '([^']+)' not found")


def error_from_message(msg: dict) -> WorkerError:
    """A worker ``error`` message as a :class:`WorkerError` with a short text and a fix.

    A missing-weights error (the first thing a new user meets offline) becomes code
    ``weights`` with a one-line message, ``model_id`` set and ``command`` the download
    command; the full text goes to ``details`` (the console).
    """
    error, text = msg.get("error", "Error"), msg.get("message", "")
    found = _WEIGHTS_ID.search(text) if error == "WeightsError" else None
    if found:
        model_id = found.group(1)
        exc = WorkerError(
            f"The weights of {model_id} are not downloaded.",
            "Download them once with internet access, or pick another predictor.",
            code="weights",
            details=f"{text}\n{msg.get('traceback', '')}",
        )
        exc.model_id = model_id
        exc.command = f"hf download {model_id}"
        return exc
    return WorkerError(
        f"{error}: {text}", _fix_for(msg), code="error", details=msg.get("traceback", "")
    )


def _fix_for(msg: dict) -> str:
    error = msg.get("error", "")
    text = msg.get("message", "")
    if error == "UnknownNameError":
        return "Pick a predictor listed by 'Check Python' in the add-on preferences."
    if error == "WeightsError":
        return "Download the model once with internet access, or choose another predictor."
    if "CUDA" in text or "out of memory" in text.lower():
        return "Choose the CPU device, a smaller resolution, or one-stage mode."
    return "See the system console for the worker's traceback."


class WorkerClient:
    """A long-lived worker process in the user's Python, reused for many requests.

    Keeping it alive keeps models loaded between runs; :meth:`stop` frees them ("release").

    Args:
        python: the Python executable where ``sddr`` is installed.
        script: this file (the worker entry point).
        env: extra environment variables for the worker.
        startup_timeout: seconds allowed for the worker to import ``sddr_core`` and say hello.
        cancel_grace: seconds a cancelled request may take to stop before the process is
            terminated.
    """

    def __init__(
        self,
        python: str,
        *,
        script: str | None = None,
        env: dict[str, str] | None = None,
        startup_timeout: float = 120.0,
        cancel_grace: float = 5.0,
    ) -> None:
        self.python = python
        self.script = script or os.path.abspath(__file__)
        self.env = env
        self.startup_timeout = startup_timeout
        self.cancel_grace = cancel_grace
        self.proc: subprocess.Popen | None = None
        self.hello: dict | None = None
        self.fatal: WorkerError | None = None
        self._messages: queue.Queue[dict | None] = queue.Queue()
        self._stderr: deque[str] = deque(maxlen=200)
        self._job: WorkerJob | None = None
        self._spawned = 0.0
        self._counter = 0

    # -- process ---------------------------------------------------------------------------

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self) -> None:
        """Spawn the worker (no-op when it runs); raises :class:`WorkerError` if it cannot."""
        if self.alive:
            return
        check_python_path(self.python)
        env = dict(os.environ)
        for key in ("PYTHONHOME", "PYTHONPATH"):  # Blender's own would break another Python
            env.pop(key, None)
        env.update(self.env or {})
        env["PYTHONUNBUFFERED"] = "1"
        env.setdefault("PYTHONIOENCODING", "utf-8")
        flags = getattr(subprocess, "CREATE_NO_WINDOW", 0)
        try:
            self.proc = subprocess.Popen(
                [self.python, "-u", self.script],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                encoding="utf-8",
                bufsize=1,
                env=env,
                creationflags=flags,
            )
        except OSError as exc:
            raise WorkerError(
                f"Could not start {self.python}: {exc}.",
                _python_fix(),
                code="python_missing",
            ) from exc
        self.hello, self.fatal = None, None
        self._messages = queue.Queue()
        self._stderr.clear()
        self._spawned = time.monotonic()
        threading.Thread(
            target=self._read_stdout, args=(self.proc, self._messages), daemon=True
        ).start()
        threading.Thread(target=self._read_stderr, args=(self.proc,), daemon=True).start()

    def _read_stdout(self, proc: subprocess.Popen, messages: queue.Queue) -> None:
        """Each process gets its own queue, so a killed worker's leftovers never mix in."""
        assert proc.stdout is not None
        for line in proc.stdout:
            line = line.strip()
            if not line:
                continue
            try:
                messages.put(json.loads(line))
            except json.JSONDecodeError:
                self._stderr.append(line)  # a library printed to stdout: keep it for the log
        messages.put(None)

    def _read_stderr(self, proc: subprocess.Popen) -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            self._stderr.append(line.rstrip("\n"))

    @property
    def stderr_tail(self) -> str:
        return "\n".join(list(self._stderr)[-40:])

    def _send(self, msg: dict) -> None:
        if not self.alive:
            raise WorkerError("The worker is not running.", "Run Generate again.", "crashed")
        assert self.proc is not None and self.proc.stdin is not None
        try:
            self.proc.stdin.write(json.dumps(msg) + "\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError) as exc:
            raise WorkerError(
                "The worker stopped unexpectedly.", "Run Generate again.", "crashed"
            ) from exc

    def stop(self, timeout: float = 3.0) -> None:
        """Ask the worker to exit, then terminate and finally kill it if it does not."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.poll() is None:
            with contextlib.suppress(Exception):
                proc.stdin.write(json.dumps({"type": "shutdown"}) + "\n")  # type: ignore[union-attr]
                proc.stdin.flush()  # type: ignore[union-attr]
            with contextlib.suppress(Exception):
                proc.stdin.close()  # type: ignore[union-attr]
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                kill_process(proc)
        if self._job is not None and not self._job.finished:
            self._job._fail(WorkerError("The worker was stopped.", "", code="cancelled"))

    # -- messages --------------------------------------------------------------------------

    def pump(self) -> None:
        """Move every waiting message to its job; notice exits and timeouts. Never blocks."""
        while True:
            try:
                msg = self._messages.get_nowait()
            except queue.Empty:
                break
            if msg is None:
                self._on_exit()
                break
            kind = msg.get("type")
            if kind == "hello":
                self.hello = msg
                if msg.get("protocol") != PROTOCOL:
                    self.fatal = WorkerError(
                        f"The worker speaks protocol {msg.get('protocol')}, the add-on {PROTOCOL}.",
                        "Install matching versions of the add-on and sddr.",
                        code="protocol",
                    )
            elif kind == "fatal":
                self.fatal = WorkerError(
                    msg.get("message", "The worker could not start."),
                    msg.get("fix", ""),
                    code=msg.get("code", "fatal"),
                    details=msg.get("traceback", ""),
                )
            elif self._job is not None and (msg.get("id") in (None, self._job.id)):
                self._job._handle(msg)
        job = self._job
        if job is not None and not job.finished:
            if self.fatal is not None:
                job._fail(self.fatal)
            elif self.hello is None and time.monotonic() - self._spawned > self.startup_timeout:
                job._fail(
                    WorkerError(
                        f"The worker did not start within {self.startup_timeout:g} s.",
                        "Check the Python path in the add-on preferences ('Check Python').",
                        code="timeout",
                        details=self.stderr_tail,
                    )
                )
                kill_process(self.proc)
            self._check_job_time(job)

    def _check_job_time(self, job: WorkerJob) -> None:
        now = time.monotonic()
        if job.finished:
            return
        if job.timeout is not None and now - job.started > job.timeout:
            job._fail(
                WorkerError(
                    f"Depth estimation took longer than {job.timeout:g} s and was stopped.",
                    "Raise the timeout in the add-on preferences, use one-stage mode or a "
                    "smaller resolution.",
                    code="timeout",
                    details=self.stderr_tail,
                )
            )
            self.kill()
        elif job._cancel_sent is not None and now - job._cancel_sent > self.cancel_grace:
            job.state = "cancelled"  # it did not stop in time: end the process
            self.kill()

    def _on_exit(self) -> None:
        code = self.proc.wait() if self.proc is not None else None
        job = self._job
        if job is not None and not job.finished:
            if self.fatal is not None:
                job._fail(self.fatal)
            elif job._cancel_sent is not None:
                job.state = "cancelled"
            else:
                job._fail(
                    WorkerError(
                        f"The worker exited with code {code} before finishing.",
                        "See the details in the system console; a crash here is often "
                        "out-of-memory: try one-stage mode or a smaller resolution.",
                        code="crashed",
                        details=self.stderr_tail,
                    )
                )

    def kill(self) -> None:
        """End the worker process now (its models are lost)."""
        proc, self.proc = self.proc, None
        kill_process(proc)

    # -- requests --------------------------------------------------------------------------

    def submit(self, request: dict, timeout: float | None = None) -> WorkerJob:
        """Send a ``refine`` request; returns its :class:`Job` at once."""
        if self._job is not None and not self._job.finished:
            raise WorkerError(
                "A depth estimation is already running.", "Wait for it or cancel it.", "busy"
            )
        self.start()
        self._counter += 1
        request = {"type": "refine", "id": f"job{self._counter}", **request}
        request["type"] = "refine"
        job = WorkerJob(self, request, timeout)
        self._job = job
        self._send(request)
        return job

    def predictors(self, timeout: float = 120.0) -> list[dict]:
        """Ask the worker for its predictors (blocking; for 'Check Python')."""
        return list(self.request({"type": "predictors"}, timeout).get("items", []))

    def save_depth(
        self, depth_npy: str, kind: str, out: str, overwrite: bool = False, timeout: float = 120.0
    ) -> str:
        """Write a depth map with sddr's writer in the worker (blocking); the path written."""
        msg = {"type": "save", "depth": depth_npy, "kind": kind, "out": out}
        return str(self.request({**msg, "overwrite": overwrite}, timeout)["path"])

    def request(self, msg: dict, timeout: float = 120.0) -> dict:
        """Send a short request and wait for its answer (blocking); raises its error."""
        if self._job is not None and not self._job.finished:
            raise WorkerError("A depth estimation is running.", "Wait for it or cancel it.", "busy")
        self.start()
        self._counter += 1
        job_id = f"{msg['type']}{self._counter}"
        self._send({**msg, "id": job_id})
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                msg = self._messages.get(timeout=0.1)
            except queue.Empty:
                continue
            if msg is None:
                self._on_exit()
                raise self.fatal or WorkerError(
                    "The worker exited before answering.",
                    "See the details in the system console.",
                    code="crashed",
                    details=self.stderr_tail,
                )
            if msg.get("type") == "hello":
                self.hello = msg
            elif msg.get("type") == "fatal":
                self.fatal = WorkerError(
                    msg["message"], msg.get("fix", ""), msg.get("code", "fatal")
                )
                raise self.fatal
            elif msg.get("id") == job_id:
                if msg.get("type") == "error":
                    raise WorkerError(
                        f"{msg.get('error', 'Error')}: {msg.get('message', '')}",
                        _fix_for(msg),
                        "error",
                        details=msg.get("traceback", ""),
                    )
                return msg
        raise WorkerError(
            f"The worker did not answer within {timeout:g} s.",
            "Check the Python path in the add-on preferences.",
            code="timeout",
            details=self.stderr_tail,
        )


class WorkerJob(Job):
    """A :class:`Job` running in a :class:`WorkerClient`'s process."""

    def __init__(self, client: WorkerClient, request: dict, timeout: float | None) -> None:
        super().__init__(request, timeout)
        self.client = client

    def poll(self) -> list[dict]:
        before = len(self.messages)
        self.client.pump()
        return self.messages[before:]

    def cancel(self, hard: bool = False) -> None:
        """Ask the worker to stop between units of work; ``hard`` ends the process at once."""
        if self.finished:
            return
        if hard or not self.client.alive:
            self.state = "cancelled"
            self.client.kill()
            return
        self._cancel_sent = time.monotonic()
        try:
            self.client._send({"type": "cancel"})
        except WorkerError:
            self.state = "cancelled"


class InProcessJob(Job):
    """A request run on a thread of this Python (``sddr_core`` must import here).

    A timeout cannot stop a thread: it reports the error and sets the cancel flag, so the
    refinement stops at its next cancel check.
    """

    def __init__(self, request: dict, timeout: float | None = None) -> None:
        request = {"type": "refine", "id": "inproc", **request}
        super().__init__(request, timeout)
        self._queue: queue.Queue[dict] = queue.Queue()
        self._cancel = threading.Event()
        self._thread = threading.Thread(
            target=run_request, args=(request, self._queue.put, self._cancel), daemon=True
        )
        self._thread.start()

    def poll(self) -> list[dict]:
        before = len(self.messages)
        while True:
            try:
                msg = self._queue.get_nowait()
            except queue.Empty:
                break
            if not self.finished:
                self._handle(msg)
        if (
            not self.finished
            and self.timeout is not None
            and time.monotonic() - self.started > self.timeout
        ):
            self._cancel.set()
            self._fail(
                WorkerError(
                    f"Depth estimation took longer than {self.timeout:g} s and was stopped.",
                    "Raise the timeout in the add-on preferences.",
                    code="timeout",
                )
            )
        return self.messages[before:]

    def cancel(self, hard: bool = False) -> None:
        self._cancel.set()
        if hard and not self.finished:
            self.state = "cancelled"


def kill_process(proc: subprocess.Popen | None) -> None:
    """Terminate, then kill, one process we started."""
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=2.0)
    except subprocess.TimeoutExpired:
        proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=2.0)


def _python_fix() -> str:
    return (
        "Set 'Python' in Edit > Preferences > Add-ons > SDDR Depth to the python executable of "
        'an environment where sddr is installed (print it there with: python -c "import sys; '
        'print(sys.executable)"), or turn on "In process" if sddr imports inside Blender.'
    )


def check_python_path(python: str) -> None:
    """Raise a :class:`WorkerError` saying how to fix it if ``python`` cannot be run."""
    if not python:
        raise WorkerError("No Python is set for the SDDR worker.", _python_fix(), "python_missing")
    if os.path.isdir(python):
        raise WorkerError(
            f"{python} is a folder, not a Python executable.",
            "Point to the executable inside it, e.g. .../bin/python or ...\\python.exe. "
            + _python_fix(),
            "python_missing",
        )
    if os.sep in python or "/" in python:
        if not os.path.exists(python):
            raise WorkerError(f"There is no Python at {python}.", _python_fix(), "python_missing")
        if not os.access(python, os.X_OK):
            raise WorkerError(f"{python} is not executable.", _python_fix(), "python_missing")


def check_environment(python: str, timeout: float = 120.0, script: str | None = None) -> dict:
    """Start a worker in ``python``, list its predictors and stop it (the 'Check' button).

    Returns:
        ``{"python": ..., "python_version": ..., "sddr_version": ..., "predictors": [...]}``.

    Raises:
        WorkerError: with a fix (missing Python, sddr not installed there: the pip command).
    """
    client = WorkerClient(python, script=script, startup_timeout=timeout)
    try:
        items = client.predictors(timeout=timeout)
        hello = client.hello or {}
        return {
            "python": hello.get("python", python),
            "python_version": hello.get("python_version", ""),
            "sddr_version": hello.get("sddr_version", ""),
            "predictors": items,
        }
    finally:
        client.stop()


def sddr_importable() -> bool:
    """Whether ``sddr_core`` imports in *this* Python (the in-process option)."""
    try:
        importlib.import_module("sddr_core")
    except Exception:
        return False
    return True


if __name__ == "__main__":
    sys.exit(serve())
