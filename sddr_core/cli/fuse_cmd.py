"""``sddr fuse LOW HIGH -o OUT_DIR``: fuse two depth maps made by any other tool.

The command-line face of :func:`sddr_core.refine_depths`: ``LOW`` is a predictor's output at
its native resolution (consistent, blurry), ``HIGH`` the same predictor's output at a higher
resolution (sharp, locally inconsistent). With two folders, files are paired by name (for
sequences: ``low/frame_0001.png`` with ``high/frame_0001.exr``).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

from sddr_core.cli.options import add_snap_option, depth_format
from sddr_core.errors import InputError

__all__ = ["pair_folders", "read_map", "register", "run"]


def register(sub: argparse._SubParsersAction) -> None:
    from sddr_core.io.depth import DEPTH_FORMATS

    exts = ", ".join(sorted({e.lstrip(".") for e in DEPTH_FORMATS}))
    p = sub.add_parser(
        "fuse",
        help="fuse a low- and a high-resolution depth map made by another tool",
        description="Fuse two depth maps of the same view: LOW from a predictor at its native "
        "resolution, HIGH from the same predictor at a higher one (any sizes). Give two "
        "files, or two folders whose files are paired by name. Reads "
        f"{exts} (8/16-bit PNG and TIFF too).",
    )
    p.add_argument("low", metavar="LOW", help="low-resolution depth map, or a folder of them")
    p.add_argument("high", metavar="HIGH", help="high-resolution depth map, or a folder")
    p.add_argument("-o", "--out", required=True, metavar="OUT_DIR", help="output folder")
    p.add_argument(
        "--kind",
        choices=("disparity", "depth"),
        default=None,
        help="what the maps hold: disparity (near = large) or depth (default: what an sddr "
        "PNG says, else disparity)",
    )
    p.add_argument(
        "--invalid",
        type=float,
        default=None,
        metavar="VALUE",
        help="a value that marks missing pixels in both maps, such as 0 in stereo disparity "
        "PNGs, as read (16-bit files: the integers; 8-bit: value/255). NaN and inf always "
        "mark holes, and so do values <= 0 with --kind depth; holes are filled from the "
        "background side of each row",
    )
    p.add_argument(
        "--refiner",
        default=None,
        help="refiner name or .safetensors checkpoint (default: the best available)",
    )
    p.add_argument(
        "--image",
        metavar="PHOTO",
        help="the photo (or, with folders, a folder of photos paired by name) the maps were "
        "predicted from: the output takes its size and its edges snap to the photo's edges "
        "(default: the larger input's size, no snapping)",
    )
    add_snap_option(p)
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:N (default: auto)")
    p.add_argument(
        "--format", type=depth_format, default="png", help="depth file format: png, exr, "
        "npy, pfm or tif (default: %(default)s)"
    )  # fmt: skip
    p.add_argument("--preview", action="store_true", help="also write a colorised preview PNG")
    p.add_argument("--overwrite", action="store_true", help="replace existing output files")
    p.set_defaults(func=run)


def read_map(path: Path, invalid: float | None = None) -> tuple[np.ndarray, str | None]:
    """A depth file as a float32 map and the kind it declares (sddr PNGs).

    Invalid pixels (NaN, inf; 0 in sddr PNGs; pixels equal to ``invalid`` when given) are
    NaN: :func:`sddr_core.refine_depths` treats them as holes.

    Raises:
        InputError: the file cannot be read, or has no valid pixel.
    """
    from sddr_core.io.depth import read_depth

    f = read_depth(path)
    bad = ~np.isfinite(f.depth)
    if invalid is not None:
        bad |= f.depth == np.float32(invalid)
    depth = np.where(bad, np.nan, f.depth).astype(np.float32)
    if bad.all():
        also = "" if invalid is None else f" or {invalid:g}"
        raise InputError(
            f"{path} has no valid pixel (all NaN or inf{also}); export it again"
            + (", or check --invalid." if invalid is not None else ".")
        )
    return depth, f.kind


def _depth_files(folder: Path) -> dict[str, Path]:
    from sddr_core.io.depth import DEPTH_FORMATS

    files = [p for p in sorted(folder.iterdir()) if p.suffix.lower() in DEPTH_FORMATS]
    out: dict[str, Path] = {}
    for p in files:
        if p.stem in out:
            raise InputError(
                f"{folder} holds two maps named {p.stem!r} ({out[p.stem].name}, {p.name}); "
                "keep one per name so LOW and HIGH pair unambiguously."
            )
        out[p.stem] = p
    if not out:
        raise InputError(
            f"{folder} holds no depth maps ({', '.join(DEPTH_FORMATS)}); check the folder."
        )
    return out


def pair_folders(low: Path, high: Path) -> tuple[list[tuple[str, Path, Path]], list[str]]:
    """``(pairs, unpaired)``: ``(name, low_file, high_file)`` for every name found in both
    folders (sorted), and a description of each file present in only one."""
    lows, highs = _depth_files(low), _depth_files(high)
    pairs = [(n, lows[n], highs[n]) for n in sorted(set(lows) & set(highs))]
    unpaired = [f"{lows[n]} has no match in {high}" for n in sorted(set(lows) - set(highs))]
    unpaired += [f"{highs[n]} has no match in {low}" for n in sorted(set(highs) - set(lows))]
    return pairs, unpaired


def _photo_for(image: Path | None, name: str, folder_mode: bool) -> Path | None:
    if image is None or not folder_mode:
        return image
    matches = [p for p in sorted(image.iterdir()) if p.stem == name and p.is_file()]
    if not matches:
        raise InputError(f"no photo named {name}.* in {image} to take the output size from.")
    return matches[0]


def run(args: argparse.Namespace) -> int:
    from sddr_core.cli.batch import Batch, write_outputs
    from sddr_core.inference import as_refiner, refine_depths
    from sddr_core.io.depth import write_depth
    from sddr_core.io.files import check_output_folder, check_writable
    from sddr_core.io.preview import colorize, write_image

    low, high = Path(args.low), Path(args.high)
    for p in (low, high):
        if not p.exists():
            raise InputError(f"{p} not found; check the path.")
    if low.is_dir() != high.is_dir():
        raise InputError(
            f"LOW and HIGH must both be files or both be folders; got {low} "
            f"({'folder' if low.is_dir() else 'file'}) and {high} "
            f"({'folder' if high.is_dir() else 'file'})."
        )
    folder_mode = low.is_dir()
    image = Path(args.image) if args.image else None
    if image is not None:
        if not image.exists():
            raise InputError(f"--image {image} not found; check the path.")
        if image.is_dir() != folder_mode:
            raise InputError(
                "--image must be a folder of photos when LOW and HIGH are folders, and a photo "
                "when they are files."
            )
    if folder_mode:
        pairs, unpaired = pair_folders(low, high)
        if not pairs:
            raise InputError(
                f"no file name appears in both {low} and {high}; maps are paired by name "
                "(frame_0001.png with frame_0001.exr)."
            )
    else:
        pairs, unpaired = [(low.stem, low, high)], []
    out_dir = check_output_folder(args.out)
    jobs = []
    for name, lo, hi in pairs:
        target = out_dir / f"{name}_fused.{args.format}"
        preview = out_dir / f"{name}_fused_preview.png"
        for path in (target, preview) if args.preview else (target,):
            check_writable(path, overwrite=args.overwrite)
        jobs.append((name, lo, hi, target, preview))

    def one(name: str, lo: Path, hi: Path, target: Path, preview: Path) -> None:
        (low_map, low_kind), (high_map, high_kind) = (
            read_map(lo, args.invalid),
            read_map(hi, args.invalid),
        )
        declared = {k for k in (low_kind, high_kind) if k in ("depth", "disparity")}
        if args.kind is None and len(declared) > 1:
            raise InputError(
                f"{lo} holds {low_kind} but {hi} holds {high_kind}; both maps must use one "
                "convention (or pass --kind to say which)."
            )
        kind = args.kind or (declared.pop() if declared else "disparity")
        size: Any = None
        rgb: Any = None
        photo = _photo_for(image, name, folder_mode)
        if photo is not None:
            from sddr_core.io.images import load_image

            rgb = load_image(photo)
            size = rgb.shape[:2]
        result = refine_depths(
            low_map,
            high_map,
            kind=kind,
            refiner=refiner,
            device=args.device,
            size=size,
            image=rgb if args.snap else None,
        )
        meta = {k: str(v) for k, v in result.info.items() if isinstance(v, (str, int, float))}
        writes = [(target, lambda tmp: write_depth(tmp, result.depth, kind=kind, meta=meta))]
        if args.preview:
            colour = colorize(result.depth, kind=kind)
            writes.append((preview, lambda tmp: write_image(tmp, colour)))
        batch.record(write_outputs(writes, overwrite=args.overwrite))
        print(f"{lo} + {hi} -> {target}")
        holes = {k: result.info.get(f"unknown_{k}") for k in ("low", "high")}
        holes = {k: v for k, v in holes.items() if v}
        if holes:
            said = ", ".join(f"{k} {v:.1%}" for k, v in holes.items())
            print(f"  holes ({said}): filled from the background side of each row")

    with Batch(out_dir) as batch:  # removes the folder again if nothing gets written
        refiner = as_refiner(args.refiner, device=args.device)
        for what in unpaired:
            batch.failures.append((what.split(" has no match")[0], what))
        for job in jobs:
            batch.run(f"{job[1]} + {job[2]}", lambda j=job: one(*j), print)
        return batch.finish(len(jobs) + len(unpaired))
