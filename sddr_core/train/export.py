"""Export training checkpoints for shipping: half precision, metadata kept, optionally the
mean of several runs.

``python -m sddr_core.train.export runs/default/best.safetensors
sddr_core/weights/sddr_default.safetensors`` writes the weights as float16 (half the size;
:func:`sddr_core.refiners.network.read_checkpoint` loads them back as float32) with the
training metadata plus ``precision`` and ``exported_from``.

Given several sources (``python -m sddr_core.train.export A.safetensors B.safetensors
OUT.safetensors``) it writes the element-wise mean of their weights (a "model soup"). That is
only meaningful for runs that share a starting point, e.g. fine-tunes of one checkpoint with
different seeds: two networks trained from scratch are not aligned unit by unit, and their
mean is a broken network. The sources must have one architecture and configuration.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sddr_core.errors import InputError, SddrError, WeightsError

__all__ = ["average_checkpoints", "export_checkpoint", "main"]


def _labels(paths: Sequence[str | os.PathLike[str]]) -> list[str]:
    """File names, or the paths as given where names repeat (runs/a/last, runs/b/last)."""
    names = [Path(p).name for p in paths]
    return names if len(set(names)) == len(names) else [os.fspath(p) for p in paths]


def average_checkpoints(
    paths: Sequence[str | os.PathLike[str]],
) -> tuple[Any, dict[str, str]]:
    """The element-wise mean of the weights of the refiner checkpoints ``paths``.

    Returns ``(model, metadata)``: the network (float32, on the CPU) and the first
    checkpoint's metadata with ``averaged_from`` (the file names, or the paths where names
    repeat) added.

    Raises:
        InputError: no paths. WeightsError: a file is not a valid refiner checkpoint, or the
            files differ in architecture or configuration.
    """
    from sddr_core.refiners.network import read_checkpoint

    if not paths:
        raise InputError("average_checkpoints needs at least one checkpoint.")
    model, meta = read_checkpoint(paths[0])
    if len(paths) == 1:
        return model, meta
    arch = (meta.get("architecture"), json.loads(meta["config"]))
    total = {k: v.detach().double().clone() for k, v in model.state_dict().items()}
    for p in paths[1:]:
        other, other_meta = read_checkpoint(p)
        other_arch = (other_meta.get("architecture"), json.loads(other_meta["config"]))
        if other_arch != arch:
            raise WeightsError(
                f"cannot average {Path(paths[0]).name} and {Path(p).name}: they hold different "
                f"networks ({arch[0]} {arch[1].get('name')!r} against {other_arch[0]} "
                f"{other_arch[1].get('name')!r}, or another configuration). Average runs of "
                "one architecture only."
            )
        for k, v in other.state_dict().items():
            total[k] += v.detach().double()
    n = float(len(paths))
    state = model.state_dict()
    averaged = {
        k: (total[k] / n).to(state[k].dtype) if state[k].is_floating_point() else state[k]
        for k in state
    }
    model.load_state_dict(averaged)
    meta = dict(meta)
    meta["averaged_from"] = json.dumps(_labels(paths))
    return model, meta


def export_checkpoint(
    src: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    dst: str | os.PathLike[str],
    *,
    fp16: bool = True,
    overwrite: bool = False,
    extra: dict[str, str] | None = None,
) -> Path:
    """Copy the refiner checkpoint ``src`` to ``dst`` (float16 weights when ``fp16``); a
    sequence of checkpoints is averaged first (:func:`average_checkpoints`).

    Raises:
        WeightsError: a source is not a valid refiner checkpoint, or the sources differ in
            architecture. OutputExistsError: ``dst`` exists and ``overwrite`` is False.
    """
    from sddr_core.refiners.network import save_refiner

    sources = [src] if isinstance(src, (str, os.PathLike)) else list(src)
    model, meta = average_checkpoints(sources)
    keep = {
        k: v
        for k, v in meta.items()
        if k not in ("format", "format_version", "architecture", "config", "sddr_version")
    }
    keep["precision"] = "float16" if fp16 else "float32"
    keep["exported_from"] = ", ".join(_labels(sources))
    keep.update(extra or {})
    if fp16:
        model = model.half()
    return save_refiner(model, dst, meta=keep, overwrite=overwrite)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m sddr_core.train.export",
        description="Export a refiner checkpoint (float16), or the mean of several.",
    )
    parser.add_argument(
        "src", nargs="+", help="checkpoint(s); several are averaged (runs from one start only)"
    )
    parser.add_argument("dst", help="the .safetensors file to write")
    parser.add_argument("--fp32", action="store_true", help="keep float32 weights")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing dst")
    parser.add_argument(
        "--meta",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="set a metadata entry (e.g. training=..., run=...); repeatable",
    )
    args = parser.parse_args(argv)
    extra = {}
    for item in args.meta:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            parser.error(f"--meta takes KEY=VALUE, got {item!r}")
        extra[key.strip()] = value
    try:
        out = export_checkpoint(
            args.src, args.dst, fp16=not args.fp32, overwrite=args.overwrite, extra=extra
        )
    except SddrError as exc:
        parser.exit(2, f"{parser.prog}: error: {exc}\n")
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
