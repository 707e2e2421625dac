"""Export a training checkpoint for shipping: half precision, metadata kept.

``python -m sddr_core.train.export runs/default/best.safetensors
sddr_core/weights/sddr_default.safetensors`` writes the weights as float16 (half the size;
:func:`sddr_core.refiners.network.read_checkpoint` loads them back as float32) with the
training metadata plus ``precision`` and ``exported_from``.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from pathlib import Path

__all__ = ["export_checkpoint", "main"]


def export_checkpoint(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    *,
    fp16: bool = True,
    overwrite: bool = False,
    extra: dict[str, str] | None = None,
) -> Path:
    """Copy the refiner checkpoint ``src`` to ``dst`` (float16 weights when ``fp16``).

    Raises:
        WeightsError: ``src`` is not a valid refiner checkpoint. OutputExistsError: ``dst``
            exists and ``overwrite`` is False.
    """
    from sddr_core.refiners.network import read_checkpoint, save_refiner

    model, meta = read_checkpoint(src)
    keep = {
        k: v
        for k, v in meta.items()
        if k not in ("format", "format_version", "architecture", "config", "sddr_version")
    }
    keep["precision"] = "float16" if fp16 else "float32"
    keep["exported_from"] = Path(src).name
    keep.update(extra or {})
    if fp16:
        model = model.half()
    return save_refiner(model, dst, meta=keep, overwrite=overwrite)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sddr_core.train.export")
    parser.add_argument("src")
    parser.add_argument("dst")
    parser.add_argument("--fp32", action="store_true", help="keep float32 weights")
    parser.add_argument("--overwrite", action="store_true")
    args = parser.parse_args(argv)
    out = export_checkpoint(args.src, args.dst, fp16=not args.fp32, overwrite=args.overwrite)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
