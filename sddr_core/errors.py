"""The one exception family of sddr.

Every error sddr raises on purpose is an :class:`SddrError`. Each subclass names a kind of
problem; each message says what was wrong *and* what to do about it, so callers (the CLI,
ComfyUI nodes, the Blender add-on) can show it to a person unchanged.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = [
    "CancelledError",
    "InputError",
    "OutputExistsError",
    "PredictorError",
    "SddrError",
    "ShapeError",
    "UnknownNameError",
    "UnsupportedFormatError",
    "WeightsError",
]


class SddrError(Exception):
    """Base class of every error raised by sddr on purpose."""


class InputError(SddrError, ValueError):
    """An input image or depth map cannot be used (empty, too small, non-finite, wrong type)."""


class ShapeError(InputError):
    """An array or tensor has a shape that the function does not accept."""


class UnsupportedFormatError(InputError):
    """A file type or extension that sddr cannot read or write."""


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
