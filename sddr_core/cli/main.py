"""The ``sddr`` command line: one sub-command a module, dispatched from here."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from sddr_core.errors import SddrError, command_line_syntax

__all__ = ["build_parser", "main"]

#: Sub-command modules; each defines ``register(subparsers)`` which adds its parser(s) and
#: sets ``func`` to a ``(args) -> int`` callable.
COMMAND_MODULES: tuple[str, ...] = (
    "sddr_core.cli.refine_cmd",
    "sddr_core.cli.fuse_cmd",
    "sddr_core.cli.listing",
    "sddr_core.cli.demo",
    "sddr_core.cli.eval_cmd",
    "sddr_core.cli.bench",
    "sddr_core.cli.train_cmd",
)


def build_parser() -> argparse.ArgumentParser:
    from sddr_core import __version__

    parser = argparse.ArgumentParser(
        prog="sddr",
        description="Sharp, consistent high-resolution depth from any monocular predictor "
        "(Self-Distilled Depth Refinement).",
    )
    parser.add_argument("--version", action="version", version=f"sddr {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for modname in COMMAND_MODULES:
        try:
            mod = importlib.import_module(modname)
        except ModuleNotFoundError as exc:
            if exc.name == modname:
                continue  # a command not shipped in this build
            raise
        mod.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``sddr`` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        with command_line_syntax():  # messages say --weights DIR, not weights=
            return int(args.func(args) or 0)
    except SddrError as exc:
        print(f"sddr: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("sddr: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
