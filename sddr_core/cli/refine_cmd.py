"""``sddr refine IMAGE... -o OUT_DIR``: refine depth for a batch of images."""

from __future__ import annotations

import argparse
from pathlib import Path

from sddr_core.cli.options import (
    add_max_pixels_option,
    add_predictor_options,
    add_snap_option,
    apply_max_pixels,
    depth_format,
    predictor_from_args,
)
from sddr_core.errors import InputError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "refine",
        help="refine the depth of one or more images",
        description="Run a depth predictor at two resolutions and fuse the results into a "
        "sharp, consistent depth map at each image's size. Inputs sharing a name get distinct "
        "outputs; a failing image is reported at the end (exit status 1) and the rest are "
        "still refined.",
    )
    p.add_argument("images", nargs="+", metavar="IMAGE", help="input image files")
    p.add_argument("-o", "--out", required=True, metavar="OUT_DIR", help="output folder")
    add_predictor_options(p)
    p.add_argument("--mode", choices=("one-stage", "two-stage"), default="one-stage")
    p.add_argument(
        "--refiner",
        default=None,
        help="refiner name or .safetensors checkpoint (default: the best available)",
    )
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:N (default: auto)")
    p.add_argument(
        "--format", type=depth_format, default="png", help="depth file format: png (16-bit), "
        "exr, npy, pfm or tif (float32; 'tiff' means tif) (default: %(default)s)"
    )  # fmt: skip
    p.add_argument("--low-resolution", type=int, default=None, metavar="PX")
    p.add_argument("--high-resolution", type=int, default=None, metavar="PX")
    add_snap_option(p)
    add_max_pixels_option(p)
    p.add_argument(
        "--preview", action="store_true", help="also write a colorised preview PNG per image"
    )
    p.add_argument("--overwrite", action="store_true", help="replace existing output files")
    from sddr_core.cli.sequence import add_arguments as add_sequence_arguments

    add_sequence_arguments(p)  # --sequence: videos and folders of frames
    p.set_defaults(func=run)


def _check_inputs(images: list[Path]) -> list[tuple[Path, str]]:
    """Inputs that are missing or folders, with the reason."""
    bad = []
    for p in images:
        if p.is_dir():
            bad.append((p, f"is a folder, not an image; pass the images in it ({p / '*.png'})"))
        elif not p.exists():
            bad.append((p, "not found; check the path"))
    return bad


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from sddr_core.cli.batch import Batch, dedupe, output_stems, write_outputs
    from sddr_core.cli.progress_bar import StageProgress
    from sddr_core.cli.sequence import is_sequence_run, run_sequence
    from sddr_core.inference import as_refiner, refine
    from sddr_core.io.depth import write_depth
    from sddr_core.io.files import check_output_folder, check_writable
    from sddr_core.io.preview import colorize, write_image
    from sddr_core.plugins import temporary_plugin

    if is_sequence_run(args):
        return run_sequence(args)
    if getattr(args, "compile", False):
        raise InputError(
            "--compile is for sequences (a video, or a folder with --sequence): frames of one "
            "size repay the tens of seconds each size takes to compile; photos do not."
        )
    apply_max_pixels(args)
    images, repeated = dedupe(Path(p) for p in args.images)
    for p in repeated:
        print(f"sddr: note: {p} was given more than once; refining it once.")
    bad = _check_inputs(images)
    if len(bad) == len(images):
        raise InputError(
            "no usable input image: " + "; ".join(f"{p} {why}" for p, why in bad) + "."
        )
    out_dir = check_output_folder(args.out)
    jobs = []
    for img, stem in zip(images, output_stems(images), strict=True):
        target = out_dir / f"{stem}_depth.{args.format}"
        preview = out_dir / f"{stem}_depth_preview.png"
        for path in (target, preview) if args.preview else (target,):
            check_writable(path, overwrite=args.overwrite)  # refuse before any model loads
        jobs.append((img, target, preview))
    with Batch(out_dir) as batch:  # removes the folder again if nothing gets written
        predictor = predictor_from_args(args)
        refiner = as_refiner(args.refiner, device=args.device)
        for p, why in bad:
            batch.failures.append((str(p), why))
        jobs = [j for j in jobs if j[0] not in {p for p, _ in bad}]
        bar = tqdm(jobs, desc="refining", unit="image")

        def one(img: Path, target: Path, preview: Path) -> None:
            result = refine(
                img,
                predictor,
                mode=args.mode,
                refiner=refiner,
                device=args.device,
                low_resolution=args.low_resolution,
                high_resolution=args.high_resolution,
                snap=args.snap,
            )
            meta = {k: str(v) for k, v in result.info.items() if isinstance(v, (str, int, float))}
            writes = [
                (
                    target,
                    lambda tmp: write_depth(tmp, result.depth, kind=result.kind, meta=meta),
                )
            ]
            if args.preview:
                colour = colorize(result.depth, kind=result.kind)
                writes.append((preview, lambda tmp: write_image(tmp, colour)))
            batch.record(write_outputs(writes, overwrite=args.overwrite))
            bar.write(f"{img} -> {target} ({result.timings['total']:.1f} s)")

        with temporary_plugin(StageProgress(bar)):
            for img, target, preview in bar:
                batch.run(str(img), lambda i=img, t=target, v=preview: one(i, t, v), bar.write)
        return batch.finish(len(images))
