"""Temporal stability of refine_sequence against per-frame refine (docs/SEQUENCES.md).

Sequences with ground truth and known motion (:mod:`sddr_core.datasets.sequences`): a camera
panning and zooming over a still scene with a near object moving on its own path, predicted
by a jittery video predictor (the simulated predictor plus drifting global scale and shift
and a low-frequency wobble). Scenes: procedural (held-out seeds), Motorcycle (scikit-image,
evaluation only) and Middlebury 2006 scenes (``view1.png``, ``disp1.png`` / 3, 0 unknown)
when ``--middlebury`` points at them.

For each sequence and method it prints the temporal error (relative to the ground truth's
mean disparity; see :func:`sddr_core.datasets.sequences.temporal_error`), the per-frame δ1 and
D³R (each frame fitted on its own, as ``sddr eval`` does), and frames per second::

    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/sequence.py \
        --middlebury ../shared/data/middlebury2006 --scenes baby1,bowling1,rocks1 --frames 24

Methods: ``per-frame`` is :func:`sddr_core.refine` on each frame; ``sequence`` is
:func:`sddr_core.refine_sequence`. Both use the same predictor and refiner objects, warmed up
by one untimed call. Each method runs on the whole sequence ``--repeats`` times in one
process, interleaved (A B, B A, A B, ...: each goes first equally often) so that load from
other processes and warm-up hit both alike; frames per second count the median run, and the
throughput ratio is taken per repeat (the sequence run against the per-frame run beside it)
and its median reported. ``stab ms`` is the stabiliser's own time per frame
(``timings["stabilize"]``, optical flow included).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np


def _middlebury(root: Path, name: str) -> tuple[np.ndarray, np.ndarray]:
    folder = root / name
    bgr = cv2.imread(str(folder / "view1.png"), cv2.IMREAD_COLOR)
    disp = cv2.imread(str(folder / "disp1.png"), cv2.IMREAD_UNCHANGED)
    if bgr is None or disp is None:
        raise SystemExit(f"cannot read {folder}/view1.png and disp1.png")
    gt = disp.astype(np.float32) / 3.0
    gt[disp == 0] = np.nan
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB).astype(np.float32) / 255.0, gt


def scenes(args: argparse.Namespace) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
    from sddr_core.datasets.motorcycle import load_motorcycle
    from sddr_core.datasets.procedural import HELDOUT_SPLIT, make_scene

    for seed in range(args.procedural):
        sc = make_scene(seed, (360, 480), split=HELDOUT_SPLIT)
        yield f"procedural-{seed}", sc.image, sc.disparity
    if args.motorcycle:
        m = load_motorcycle()
        yield "motorcycle", m.rgb, m.gt_as("disparity")
    if args.middlebury:
        for name in [s for s in args.scenes.split(",") if s]:
            yield f"mb2006-{name}", *_middlebury(Path(args.middlebury), name)


class ReciprocalPredictor:
    """A depth-kind video predictor: the reciprocal of a disparity predictor's passes (floored
    at 0.1 % of their median where its drifting shift made them non-positive), as ZoeDepth or
    Depth Pro run frame by frame would return."""

    kind = "depth"

    def __init__(self, predictor: Any) -> None:
        self.predictor = predictor
        self.name = f"reciprocal-{getattr(predictor, 'name', 'predictor')}"
        self.native_resolution = predictor.native_resolution
        self.size_multiple = getattr(predictor, "size_multiple", 1)
        self.wants_full_image = getattr(predictor, "wants_full_image", False)

    def predict(self, image: np.ndarray, resolution: int) -> np.ndarray:
        disparity = self.predictor.predict(image, resolution)
        floor = 1e-3 * float(np.median(np.abs(disparity)))
        return (1.0 / np.maximum(disparity, floor)).astype(np.float32)


def run_sequence(
    name: str, image: np.ndarray, gt: np.ndarray, args: argparse.Namespace, refiner: Any
) -> dict[str, Any]:
    import sddr_core
    from sddr_core.datasets.sequences import JitteryPredictor, camera_sequence, temporal_error
    from sddr_core.metrics import depth_metrics, edge_metrics

    frames = list(
        camera_sequence(
            image, gt, frames=args.frames, frame_shape=(args.height, args.width), seed=args.seed
        )
    )
    predictor = JitteryPredictor(native_resolution=args.native, seed=args.seed, keep=len(frames))
    for frame in frames:
        predictor.add(frame)
    if args.kind == "depth":
        predictor = ReciprocalPredictor(predictor)

    def as_disparity(depth: np.ndarray) -> np.ndarray:  # what the metrics compare
        return depth if args.kind == "disparity" else (1.0 / depth).astype(np.float32)

    def per_frame() -> list[np.ndarray]:
        return [
            as_disparity(
                sddr_core.refine(
                    f.image, predictor, refiner=refiner, high_resolution=args.high, snap=args.snap
                ).depth
            )
            for f in frames
        ]

    stab: list[float] = []

    def sequence() -> list[np.ndarray]:
        results = list(
            sddr_core.refine_sequence(
                (f.image for f in frames),
                predictor,
                refiner=refiner,
                high_resolution=args.high,
                snap=args.snap,
            )
        )
        stab.extend(r.timings["stabilize"] for r in results)
        return [as_disparity(r.depth) for r in results]

    sddr_core.refine(frames[0].image, predictor, refiner=refiner, high_resolution=args.high)
    # A B, B A, A B, ...: load from other processes and warm-up hit both alike
    out: dict[str, list[np.ndarray]] = {}
    runs: dict[str, list[float]] = {"per-frame": [], "sequence": []}
    methods = [("per-frame", per_frame), ("sequence", sequence)]
    for i in range(args.repeats):
        for method, fn in methods if i % 2 == 0 else methods[::-1]:
            t = time.perf_counter()
            out[method] = fn()
            runs[method].append(time.perf_counter() - t)
    seconds = {k: statistics.median(v) for k, v in runs.items()}
    ratios = [a / b for a, b in zip(runs["per-frame"], runs["sequence"], strict=True)]
    row: dict[str, Any] = {
        "scene": name,
        "frames": len(frames),
        "runs": runs,
        "throughput_ratio": statistics.median(ratios),
        "stabilize_ms": 1000 * statistics.median(stab),
    }
    for method in ("per-frame", "sequence"):
        maps = out[method]
        te = temporal_error(maps, frames)
        d1, d3r = [], []
        for m, f in zip(maps, frames, strict=True):
            kw = {"gt_kind": "disparity", "pred_kind": "disparity"}
            d1.append(depth_metrics(m, f.gt, **kw)["delta1"])
            d3r.append(edge_metrics(m, f.gt, n_segments=args.segments, **kw)["d3r"])
        row[method] = {
            "temporal": te.error,
            "delta1": float(np.mean(d1)),
            "d3r": float(np.nanmean(d3r)),
            "fps": len(frames) / seconds[method],
        }
    return row


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--frames", type=int, default=24)
    p.add_argument("--width", type=int, default=320)
    p.add_argument("--height", type=int, default=240)
    p.add_argument("--native", type=int, default=160, help="simulated native resolution")
    p.add_argument("--high", type=int, default=None, help="fixed high resolution")
    p.add_argument("--procedural", type=int, default=2, help="number of procedural scenes")
    p.add_argument("--no-motorcycle", dest="motorcycle", action="store_false")
    p.add_argument("--middlebury", default=None, help="folder of Middlebury 2006 scenes")
    p.add_argument("--scenes", default="baby1,bowling1,rocks1", help="Middlebury 2006 scene names")
    p.add_argument("--refiner", default=None, help="refiner name (default: best available)")
    p.add_argument("--segments", type=int, default=1500, help="SLIC superpixels for D3R")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-snap", dest="snap", action="store_false",
                   help="both methods without the edge snap (refine snaps by default)")  # fmt: skip
    p.add_argument("--kind", choices=("disparity", "depth"), default="disparity",
                   help="the video predictor's convention (depth: the reciprocal of its "
                   "disparity, as a metric network returns); metrics on disparity")  # fmt: skip
    p.add_argument("--repeats", type=int, default=4, help="timed runs per method (A B, B A, ...)")
    p.add_argument("--json", default=None, help="also write the rows to this JSON file")
    args = p.parse_args(argv)

    from sddr_core.inference import as_refiner

    refiner = as_refiner(args.refiner)
    rows = []
    header = (
        f"{'sequence':<18} {'method':<10} {'temporal':>9} {'δ1':>7} {'D³R':>7} {'fps':>6}"
        f" {'seq/pf':>6} {'stab ms':>7}"
    )
    print(
        f"refiner: {refiner.name}; {args.frames} frames {args.width}x{args.height}; "
        f"predictor kind {args.kind}"
    )
    print(header)
    for name, image, gt in scenes(args):
        row = run_sequence(name, image, gt, args, refiner)
        rows.append(row)
        for method in ("per-frame", "sequence"):
            r = row[method]
            extra = (
                f" {row['throughput_ratio']:>6.3f} {row['stabilize_ms']:>7.1f}"
                if method == "sequence"
                else ""
            )
            print(
                f"{name:<18} {method:<10} {r['temporal']:>9.4f} {r['delta1']:>7.3f} "
                f"{r['d3r']:>7.3f} {r['fps']:>6.2f}{extra}",
                flush=True,
            )
    print("mean")
    for method in ("per-frame", "sequence"):
        vals = {k: statistics.fmean(r[method][k] for r in rows) for k in rows[0][method]}
        print(
            f"{'all':<18} {method:<10} {vals['temporal']:>9.4f} {vals['delta1']:>7.3f} "
            f"{vals['d3r']:>7.3f} {vals['fps']:>6.2f}"
        )
    te = [r["sequence"]["temporal"] / r["per-frame"]["temporal"] for r in rows]
    print(f"temporal error, sequence / per-frame: mean ratio {statistics.fmean(te):.3f}")
    tp = [r["throughput_ratio"] for r in rows]
    print(
        f"throughput, sequence / per-frame (median of interleaved pairs): per sequence "
        f"{', '.join(f'{x:.3f}' for x in tp)}; median {statistics.median(tp):.3f}; "
        f"stabiliser {statistics.fmean(r['stabilize_ms'] for r in rows):.1f} ms/frame"
    )
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    sys.exit(main())
