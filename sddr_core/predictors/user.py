"""Bring your own predictor by reference: ``MODULE:NAME`` or ``path/to/file.py:NAME``.

The command line's ``--predictor`` takes either a registered name or such a reference, so a
function ``f(image, resolution) -> (h, w) array`` (or a class or object following
:class:`~sddr_core.predictors.base.DepthPredictor`) can be used without writing a plugin.
"""

from __future__ import annotations

import importlib
import importlib.util
import re
import sys
from pathlib import Path
from typing import Any

from sddr_core.errors import InputError, PredictorError, option
from sddr_core.predictors.base import CallablePredictor, DepthPredictor, check_kind

__all__ = ["is_reference", "load_predictor_reference"]

_MODULE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
_ATTR = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")

#: Defaults given to a plain function (the same as :class:`CallablePredictor`'s).
DEFAULT_NATIVE_RESOLUTION = 518
DEFAULT_KIND = "disparity"


def is_reference(text: str) -> bool:
    """True when ``text`` names a predictor by ``MODULE:NAME`` or ``FILE.py:NAME`` rather
    than by a registered name."""
    where, sep, attr = text.rpartition(":")
    if not sep or not where or not attr:
        return False
    return where.endswith(".py") or bool(_MODULE.match(where))


def _split(text: str) -> tuple[str, str]:
    where, _, attr = text.rpartition(":")
    if not _ATTR.match(attr):
        raise InputError(
            f"predictor reference {text!r}: {attr!r} is not a Python name. Use MODULE:FUNCTION "
            "or path/to/file.py:FUNCTION, e.g. my_models:predict_depth."
        )
    return where, attr


def _import_file(path: Path, text: str) -> Any:
    if not path.is_file():
        what = "is a folder" if path.is_dir() else "does not exist"
        raise InputError(
            f"predictor file {str(path)!r} {what}. Give the path of a .py file that defines "
            f"the function, as in path/to/file.py:FUNCTION (got {text!r})."
        )
    name = f"_sddr_user_predictor_{abs(hash(str(path.resolve())))}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise InputError(f"cannot import {str(path)!r} as Python code; is it a .py file?")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and pickling look the module up by name
    folder = str(path.resolve().parent)
    sys.path.insert(0, folder)  # so the file can import its neighbours
    try:
        spec.loader.exec_module(module)
    except BaseException as exc:
        sys.modules.pop(name, None)
        if not isinstance(exc, Exception):
            raise
        raise PredictorError(
            f"running {str(path)!r} failed with {type(exc).__name__}: {exc}. Fix the error in "
            "that file (the original error is chained below)."
        ) from exc
    finally:
        if sys.path and sys.path[0] == folder:
            sys.path.pop(0)
    return module


def _import_module(module_name: str, text: str) -> Any:
    if "" not in sys.path and "." not in sys.path:
        sys.path.insert(0, "")  # the current folder, as `python -m` would have it
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and (module_name == exc.name or module_name.startswith(exc.name + ".")):
            raise InputError(
                f"cannot find the Python module {module_name!r} (from --predictor {text}). "
                "Run sddr from the folder that holds it, add that folder to PYTHONPATH, or "
                "give the file's path: path/to/file.py:FUNCTION."
            ) from exc
        raise PredictorError(
            f"importing {module_name!r} failed: it needs the module {exc.name!r}, which is not "
            "installed. Install it in this Python environment."
        ) from exc
    except Exception as exc:
        raise PredictorError(
            f"importing {module_name!r} failed with {type(exc).__name__}: {exc}. Fix the error "
            "in that module (the original error is chained below)."
        ) from exc


def _resolve(module: Any, attr: str, where: str) -> Any:
    obj = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            names = sorted(
                n
                for n, v in vars(module).items()
                if not n.startswith("_")
                and callable(v)
                and getattr(v, "__module__", None) == module.__name__
            )
            listing = ", ".join(names) if names else "(none)"
            raise InputError(
                f"{where} has no {attr!r}. Functions and classes defined there: {listing}."
            )
        obj = getattr(obj, part)
    return obj


def load_predictor_reference(
    text: str,
    *,
    native_resolution: int | None = None,
    kind: str | None = None,
) -> DepthPredictor:
    """The predictor named by ``MODULE:NAME`` or ``FILE.py:NAME``.

    ``NAME`` may be

    * a plain function ``f(image, resolution) -> (h, w) array``: wrapped in
      :class:`CallablePredictor` with ``native_resolution`` (default 518) and ``kind``
      (default ``"disparity"``);
    * a class following the predictor protocol: created without arguments;
    * an object following the protocol (has ``predict``, ``name``, ``native_resolution``,
      ``kind``).

    For the last two, ``native_resolution`` and ``kind`` replace the object's own values
    when given.

    Raises:
        InputError: the module, file or name does not exist, or is not a predictor.
        PredictorError: importing the module or creating the class raised.
    """
    where, attr = _split(text)
    if kind is not None:
        check_kind(kind)
    if native_resolution is not None and int(native_resolution) < 16:
        raise InputError(
            f"native resolution must be at least 16 pixels, got {native_resolution}. "
            f"Set it with {option('native_resolution', 518)}."
        )
    if where.endswith(".py"):
        path = Path(where).expanduser()
        module = _import_file(path, text)
        label = f"file {str(path)!r}"
    else:
        module = _import_module(where, text)
        label = f"module {where!r}"
    obj = _resolve(module, attr, label)
    if isinstance(obj, type):
        if not hasattr(obj, "predict"):
            raise InputError(
                f"class {attr} in {label} has no predict(image, resolution) method: a "
                "predictor class needs name, native_resolution, kind and predict()."
            )
        try:
            obj = obj()
        except Exception as exc:
            raise PredictorError(
                f"creating {attr}() from {label} failed with {type(exc).__name__}: {exc}. A "
                "predictor class given by reference must be creatable without arguments; "
                "wrap it in a function otherwise."
            ) from exc
    if hasattr(obj, "predict"):
        if native_resolution is not None:
            obj.native_resolution = int(native_resolution)
        if kind is not None:
            obj.kind = kind
        if not hasattr(obj, "name"):
            obj.name = attr
        missing = [a for a in ("native_resolution", "kind") if not hasattr(obj, a)]
        if missing:
            raise InputError(
                f"{attr} in {label} lacks {', '.join(missing)}; set "
                f"{' and '.join(option(m, '...') for m in missing)}, or add the attribute."
            )
        check_kind(obj.kind)
        return obj
    if not callable(obj):
        raise InputError(
            f"{attr} in {label} is a {type(obj).__name__}, not a function or predictor. Point "
            "at a function f(image, resolution) -> (h, w) array."
        )
    return CallablePredictor(
        obj,
        name=f"{Path(where).stem if where.endswith('.py') else where}:{attr}",
        native_resolution=int(native_resolution or DEFAULT_NATIVE_RESOLUTION),
        kind=check_kind(kind or DEFAULT_KIND),
    )
