"""Command-line options shared by sub-commands: the predictor (registered name or your own
function), output formats, the image size limit."""

from __future__ import annotations

import argparse
import os
from typing import Any

from sddr_core.errors import InputError

__all__ = [
    "DEPTH_FORMATS",
    "add_max_pixels_option",
    "add_predictor_options",
    "depth_format",
    "predictor_from_args",
]

#: ``--format`` choices; the name is the file extension written.
DEPTH_FORMATS: tuple[str, ...] = ("png", "exr", "npy", "pfm", "tif")


def depth_format(value: str) -> str:
    """``--format`` values: :data:`DEPTH_FORMATS`, ``tiff`` accepted as ``tif``."""
    v = value.lower().lstrip(".")
    v = "tif" if v == "tiff" else v
    if v not in DEPTH_FORMATS:
        raise argparse.ArgumentTypeError(
            f"invalid format {value!r} (choose from {', '.join(DEPTH_FORMATS)})"
        )
    return v


def add_predictor_options(p: argparse.ArgumentParser) -> None:
    """``--predictor``, ``--weights``, ``--native-resolution``, ``--kind``."""
    p.add_argument(
        "--predictor",
        default="depth-anything-v2-small",
        metavar="NAME|MODULE:FUNCTION|FILE.py:FUNCTION",
        help="a registered predictor (see `sddr predictors`), or your own: a function "
        "f(image, resolution) -> (h, w) array, or a predictor class, named as "
        "MODULE:FUNCTION or path/to/file.py:FUNCTION (default: %(default)s)",
    )
    p.add_argument("--weights", metavar="DIR", help="local folder with the predictor's weights")
    p.add_argument(
        "--native-resolution",
        type=int,
        metavar="PX",
        help="your predictor's training resolution, long side (default 518); only with "
        "MODULE:FUNCTION predictors",
    )
    p.add_argument(
        "--kind",
        choices=("disparity", "depth"),
        help="what your predictor returns: disparity (near = large, the default) or depth; "
        "only with MODULE:FUNCTION predictors",
    )


def predictor_from_args(args: argparse.Namespace) -> Any:
    """The predictor named by ``args`` (see :func:`add_predictor_options`)."""
    from sddr_core.predictors.base import as_predictor
    from sddr_core.predictors.user import is_reference, load_predictor_reference

    if is_reference(args.predictor):
        if args.weights:
            raise InputError(
                "--weights is for registered predictors; your predictor "
                f"{args.predictor} loads its own weights."
            )
        return load_predictor_reference(
            args.predictor, native_resolution=args.native_resolution, kind=args.kind
        )
    if args.native_resolution is not None or args.kind is not None:
        raise InputError(
            f"--native-resolution and --kind describe your own predictor (MODULE:FUNCTION or "
            f"file.py:FUNCTION); {args.predictor!r} is a registered predictor whose values "
            "are fixed (see `sddr predictors`). Use --low-resolution to run it at another size."
        )
    options: dict[str, Any] = {"device": args.device}
    if args.weights:
        options["weights"] = args.weights
    return as_predictor(args.predictor, **options)


def add_max_pixels_option(p: argparse.ArgumentParser) -> None:
    from sddr_core.io.images import DEFAULT_MAX_PIXELS

    p.add_argument(
        "--max-pixels",
        type=int,
        metavar="N",
        help=f"largest image accepted, in pixels (default {DEFAULT_MAX_PIXELS}, or "
        "$SDDR_MAX_PIXELS); refining takes about 35 bytes of memory a pixel",
    )


def apply_max_pixels(args: argparse.Namespace) -> None:
    """Make ``--max-pixels`` the limit for this process."""
    from sddr_core.io.images import MAX_PIXELS_ENV

    if getattr(args, "max_pixels", None) is not None:
        if args.max_pixels <= 0:
            raise InputError(f"--max-pixels must be positive, got {args.max_pixels}.")
        os.environ[MAX_PIXELS_ENV] = str(args.max_pixels)


def add_snap_option(p: argparse.ArgumentParser) -> None:
    """``--no-snap``: keep the fused map's edges where the fusion put them."""
    p.add_argument(
        "--no-snap",
        dest="snap",
        action="store_false",
        help="do not snap the refined map's edges to the image's edges (default: snap; "
        "see docs/MODEL_CARD.md, 'Snapping edges to the image')",
    )
