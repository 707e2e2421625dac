"""``sddr refine IMAGE... -o OUT_DIR``: refine depth for a batch of images."""

from __future__ import annotations

import argparse
from pathlib import Path

from sddr_core.errors import InputError, OutputExistsError

FORMATS = ("png", "exr", "npy", "pfm", "tiff")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "refine",
        help="refine the depth of one or more images",
        description="Run a depth predictor at two resolutions and fuse the results into a "
        "sharp, consistent depth map at each image's size.",
    )
    p.add_argument("images", nargs="+", metavar="IMAGE", help="input image files")
    p.add_argument("-o", "--out", required=True, metavar="OUT_DIR", help="output folder")
    p.add_argument(
        "--predictor",
        default="depth-anything-v2-small",
        help="registered predictor name (see `sddr predictors`; default: %(default)s)",
    )
    p.add_argument("--weights", help="local folder with the predictor's weights")
    p.add_argument("--mode", choices=("one-stage", "two-stage"), default="one-stage")
    p.add_argument(
        "--refiner",
        default=None,
        help="refiner name or .safetensors checkpoint (default: the best available)",
    )
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:N (default: auto)")
    p.add_argument("--format", choices=FORMATS, default="png", help="depth file format")
    p.add_argument("--low-resolution", type=int, default=None, metavar="PX")
    p.add_argument("--high-resolution", type=int, default=None, metavar="PX")
    p.add_argument(
        "--preview", action="store_true", help="also write a colorised preview PNG per image"
    )
    p.add_argument("--overwrite", action="store_true", help="replace existing output files")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from sddr_core.cli.progress_bar import StageProgress
    from sddr_core.inference import as_refiner, refine
    from sddr_core.io.preview import colorize, write_image
    from sddr_core.plugins import temporary_plugin
    from sddr_core.predictors.base import as_predictor

    images = [Path(p) for p in args.images]
    missing = [str(p) for p in images if not p.is_file()]
    if missing:
        raise InputError(f"input image(s) not found: {', '.join(missing)}.")
    out_dir = Path(args.out)
    ext = "tif" if args.format == "tiff" else args.format
    jobs = []
    for img in images:
        target = out_dir / f"{img.stem}_depth.{ext}"
        preview = out_dir / f"{img.stem}_depth_preview.png"
        for path in (target, preview) if args.preview else (target,):
            if path.exists() and not args.overwrite:
                raise OutputExistsError(
                    f"{path} already exists; pass --overwrite to replace it or choose another "
                    "--out folder."
                )
        jobs.append((img, target, preview))
    options = {"device": args.device}
    if args.weights:
        options["weights"] = args.weights
    predictor = as_predictor(args.predictor, **options)
    refiner = as_refiner(args.refiner, device=args.device)
    out_dir.mkdir(parents=True, exist_ok=True)
    bar = tqdm(jobs, desc="refining", unit="image")
    with temporary_plugin(StageProgress(bar)):
        for img, target, preview in bar:
            result = refine(
                img,
                predictor,
                mode=args.mode,
                refiner=refiner,
                device=args.device,
                low_resolution=args.low_resolution,
                high_resolution=args.high_resolution,
            )
            result.save(target, overwrite=args.overwrite)
            if args.preview:
                write_image(preview, colorize(result.depth, kind=result.kind), overwrite=True)
            bar.write(f"{img} -> {target} ({result.timings['total']:.1f} s)")
    return 0
