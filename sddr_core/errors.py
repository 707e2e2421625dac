"""The one exception family of sddr.

Every error sddr raises on purpose is an :class:`SddrError`. Each subclass names a kind of
problem; each message says what was wrong *and* what to do about it, so callers (the CLI,
ComfyUI nodes, the Blender add-on) can show it to a person unchanged.
"""

from __future__ import annotations

import contextvars
import difflib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

__all__ = [
    "CancelledError",
    "ImageTooLargeError",
    "InputError",
    "OutputError",
    "OutputExistsError",
    "PredictorError",
    "SddrError",
    "ShapeError",
    "UnknownNameError",
    "UnsupportedFormatError",
    "WeightsError",
]
# Also here, outside __all__ (which lists the exception classes): command_line_syntax() and
# option(), which spell options in the caller's syntax inside messages.


class SddrError(Exception):
    """Base class of every error raised by sddr on purpose."""


class InputError(SddrError, ValueError):
    """An input image or depth map cannot be used (empty, too small, non-finite, wrong type)."""


class ShapeError(InputError):
    """An array or tensor has a shape that the function does not accept."""


class UnsupportedFormatError(InputError):
    """A file type or extension that sddr cannot read or write."""


class ImageTooLargeError(InputError):
    """An image has more pixels than the configured limit (see the message for the option)."""


class OutputError(SddrError):
    """An output location cannot be used: it is a file where a folder is needed, lies under
    a file, or is not writable."""


class OutputExistsError(SddrError, FileExistsError):
    """Refusing to overwrite an existing file the caller did not ask to replace."""


class UnknownNameError(SddrError, KeyError):
    """A predictor, refiner or other registered name that is not registered."""

    def __init__(self, kind: str, name: str, known: Iterable[str]) -> None:
        known = sorted(known)
        close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        listing = ", ".join(known) if known else "(none registered)"
        self.kind, self.name, self.known = kind, name, known
        super().__init__(f"Unknown {kind} {name!r}.{hint} Known {kind}s: {listing}.")

    def __str__(self) -> str:  # KeyError would repr() the message otherwise
        return str(self.args[0])


class WeightsError(SddrError):
    """Model weights are missing, corrupt, truncated or do not match the architecture."""


class PredictorError(SddrError):
    """A depth predictor failed or returned something unusable (wrong shape, NaN, inf)."""


class CancelledError(SddrError):
    """Refinement was stopped because a plugin (a UI's Cancel button) asked for it."""


# ---------------------------------------------------------------------------------------
# Messages in the caller's language: ``--weights DIR`` on the command line, ``weights=``
# in Python.
# ---------------------------------------------------------------------------------------

_CLI_SYNTAX: contextvars.ContextVar[bool] = contextvars.ContextVar("sddr_cli_syntax", default=False)


@contextmanager
def command_line_syntax() -> Iterator[None]:
    """Within this block, :func:`option` spells options as command-line flags (the ``sddr``
    command wraps every sub-command in it)."""
    token = _CLI_SYNTAX.set(True)
    try:
        yield
    finally:
        _CLI_SYNTAX.reset(token)


def option(name: str, value: object = True) -> str:
    """How the caller sets option ``name`` to ``value``, for error messages.

    ``option("refiner", "poisson")`` is ``refiner='poisson'`` from Python and
    ``--refiner poisson`` from the command line; ``option("overwrite")`` is
    ``overwrite=True`` / ``--overwrite``. A value in angle brackets (``"<folder>"``) is a
    placeholder.
    """
    if _CLI_SYNTAX.get():
        flag = "--" + name.replace("_", "-")
        return flag if value is True else f"{flag} {value}"
    if isinstance(value, str):
        return f"{name}={value!r}"
    return f"{name}={value}"
