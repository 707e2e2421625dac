"""``sddr refine --sequence VIDEO_OR_FOLDER... -o OUT_DIR``: temporally stable depth for a
video file (read with OpenCV) or a folder of frames.

Each source becomes ``OUT_DIR/<source name>/``: one depth file per frame (a folder's frames
keep their names, ``<stem>_depth.<ext>``; a video's are ``frame_00000_depth.<ext>``), plus
``OUT_DIR/<source name>_preview.mp4`` with ``--preview``. 16-bit PNGs share one value range
for the whole sequence (set from the first frame with head-room; the range travels in each
file, see :func:`sddr_core.io.read_depth`), so their raw codes do not flicker either.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from sddr_core.errors import InputError, OutputExistsError

__all__ = ["add_arguments", "is_sequence_run", "png_range", "run_sequence"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The options ``sddr refine`` gains for sequences."""
    p.add_argument(
        "--sequence",
        action="store_true",
        help="treat each input (a video file or a folder of frames) as one temporally stable "
        "sequence; video files imply it",
    )
    p.add_argument(
        "--no-stabilize",
        dest="stabilize",
        action="store_false",
        help="with --sequence: refine each frame on its own (no temporal stabilisation)",
    )
    p.add_argument(
        "--compile",
        action="store_true",
        help="with --sequence: run the refiner network compiled (torch.compile; CUDA graphs on "
        "a GPU): each frame size compiles once, tens of seconds, then every frame is faster. "
        "For long clips",
    )


def is_sequence_run(args: argparse.Namespace) -> bool:
    """Whether ``sddr refine`` was asked for sequences (``--sequence`` or a video input)."""
    from sddr_core.io.video import is_video_file

    return bool(getattr(args, "sequence", False)) or any(
        is_video_file(p) for p in getattr(args, "images", [])
    )


def png_range(depth: np.ndarray, headroom: float = 0.5) -> tuple[float, float]:
    """A 16-bit PNG value range for a whole sequence from its first map: its range widened
    by ``headroom`` of it on each side (stabilised sequences stay well inside)."""
    finite = depth[np.isfinite(depth)]
    if finite.size == 0:
        return 0.0, 1.0
    lo, hi = float(finite.min()), float(finite.max())
    span = max(hi - lo, 1e-6 * max(abs(hi), 1.0))
    return lo - headroom * span, hi + headroom * span


def _targets(source: Path, out_dir: Path, ext: str, overwrite: bool) -> Path:
    folder = out_dir / source.stem if source.is_file() else out_dir / source.name
    if folder.exists() and any(folder.iterdir()) and not overwrite:
        raise OutputExistsError(
            f"{folder} already holds files; pass --overwrite to replace them or choose another "
            "--out folder."
        )
    return folder


def run_sequence(args: argparse.Namespace) -> int:
    """``sddr refine`` for sequences; returns the exit status."""
    from tqdm import tqdm

    from sddr_core.cli.options import apply_max_pixels, predictor_from_args
    from sddr_core.cli.progress_bar import StageProgress
    from sddr_core.inference import as_refiner
    from sddr_core.inference.sequence import refine_sequence
    from sddr_core.io.depth import write_depth
    from sddr_core.io.files import check_output_folder
    from sddr_core.io.video import (
        PreviewVideoWriter,
        count_frames,
        frame_rate,
        is_video_file,
        iter_frames,
    )
    from sddr_core.plugins import temporary_plugin

    apply_max_pixels(args)
    sources = [Path(p) for p in args.images]
    for src in sources:
        if not src.exists():
            raise InputError(f"{src} not found; check the path.")
        if not (src.is_dir() or is_video_file(src)):
            raise InputError(
                f"{src} is neither a video file nor a folder of frames: with --sequence pass "
                "videos (.mp4, .mov, ...) or folders of frames; drop --sequence for photos."
            )
    out_dir = check_output_folder(args.out)
    ext = args.format
    plans = []
    for src in sources:  # refuse before any model loads
        folder = _targets(src, out_dir, ext, args.overwrite)
        preview = out_dir / f"{folder.name}_preview.mp4"
        if args.preview and preview.exists() and not args.overwrite:
            raise OutputExistsError(f"{preview} already exists; pass --overwrite to replace it.")
        plans.append((src, folder, preview))
    predictor = predictor_from_args(args)
    refiner = as_refiner(args.refiner, device=args.device)
    if getattr(args, "compile", False):
        if not hasattr(refiner, "compile"):
            raise InputError(
                f"--compile runs a refiner network compiled; the refiner {args.refiner!r} has "
                "no network. Drop --compile, or use the default refiner."
            )
        refiner.compile = True
    for src, folder, preview in plans:
        total = count_frames(src)
        names = [p.stem for p in iter_frames(src)] if src.is_dir() else None
        folder.mkdir(parents=True, exist_ok=True)
        results = refine_sequence(
            iter_frames(src),
            predictor,
            mode=args.mode,
            refiner=refiner,
            device=args.device,
            low_resolution=args.low_resolution,
            high_resolution=args.high_resolution,
            stabilize=getattr(args, "stabilize", True),
            snap=getattr(args, "snap", True),
        )
        writer = (
            PreviewVideoWriter(preview, fps=frame_rate(src), kind=predictor.kind, overwrite=True)
            if args.preview
            else None
        )
        value_range: tuple[float, float] | None = None
        clipped = 0
        bar = tqdm(results, total=total, desc=f"{src.name}", unit="frame")
        try:
            with temporary_plugin(StageProgress(bar)):
                for i, result in enumerate(bar):
                    stem = names[i] if names is not None else f"frame_{i:05d}"
                    target = folder / f"{stem}_depth.{ext}"
                    meta = {
                        k: str(v)
                        for k, v in result.info.items()
                        if isinstance(v, (str, int, float, bool))
                    }
                    if ext == "png":
                        if value_range is None:
                            value_range = png_range(result.depth)
                        lo, hi = value_range
                        clipped += int(((result.depth < lo) | (result.depth > hi)).sum())
                    write_depth(
                        target,
                        result.depth,
                        overwrite=args.overwrite,
                        kind=result.kind,
                        meta=meta,
                        value_range=value_range,
                    )
                    if writer is not None:
                        writer.write(result.depth)
        finally:
            if writer is not None:
                writer.close()
        bar.write(
            f"{src} -> {folder} ({bar.n} frames)" + (f", preview {preview}" if writer else "")
        )
        if clipped:
            bar.write(
                f"sddr: note: {clipped} pixels of {src.name} fell outside the PNG range set by "
                "its first frame and were clipped; use --format exr for unclipped floats."
            )
    return 0
