"""Choosing the torch device: CUDA when present, otherwise the CPU."""

from __future__ import annotations

from typing import Any

from sddr_core.errors import InputError

__all__ = ["resolve_device"]


def resolve_device(device: Any = None) -> Any:
    """A ``torch.device`` from ``None`` (CUDA if available, else CPU), a string or a device.

    Asking for CUDA on a machine without it raises :class:`InputError` saying so.
    """
    import torch

    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise InputError(
            f"unknown device {device!r}: use 'cpu', 'cuda', 'cuda:N', 'mps' or 'auto'."
        ) from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise InputError(
            f"device {device!r} was requested but this torch has no CUDA device "
            f"(torch {torch.__version__}); use --device cpu or install a CUDA build of torch."
        )
    if dev.type == "mps" and not torch.backends.mps.is_available():
        raise InputError(f"device {device!r} was requested but MPS is not available here.")
    return dev
