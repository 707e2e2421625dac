"""Time of the edge snap on a real scene at a given size (the snap's cost depends on how much
of the map lies near depth edges, which random-weight predictors do not show).

    python benchmarks/snap_cost.py --width 1024
    python benchmarks/snap_cost.py --width 1024 --device cuda   # on a GPU: also checks the result
    python benchmarks/snap_cost.py --width 4000 --default-resolution --repeats 2   # a large photo

Refines the Motorcycle scene (scikit-image's; the ``simulated`` predictor on its ground truth,
with the default refiner) resized to ``--width`` (high-resolution pass at that width, or at
refine()'s default with ``--default-resolution``), ``--repeats`` times, ``--threads`` torch
threads (default one), and
prints the median time of the snap and of the fusion. With ``--device`` other than the CPU it
also snaps the same fused map on the CPU and prints how many pixels differ (the weighted
medians must agree; float rounding in the colour weights may flip a tie).
"""

from __future__ import annotations

import argparse
import statistics

import cv2
import numpy as np
import torch


def main() -> None:
    from device_agreement import motorcycle_at  # benchmarks/device_agreement.py

    from sddr_core import refine
    from sddr_core.predictors.simulated import SimulatedPredictor

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--width", type=int, default=1024)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N (default: %(default)s)")
    ap.add_argument(
        "--default-resolution",
        action="store_true",
        help="the high-resolution pass at refine()'s default (capped) instead of the photo's "
        "width: a large photo is then fused smaller and snapped with a wider radius",
    )
    ap.add_argument("--threads", type=int, default=1, help="torch and OpenCV threads")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)
    rgb, gt = motorcycle_at(args.width)
    size = (rgb.shape[1], rgb.shape[0])
    pred = SimulatedPredictor(gt, seed=0)
    snap, fuse, pixels = [], [], 0
    for _ in range(args.repeats + 1):
        high = None if args.default_resolution else max(size)
        r = refine(rgb, pred, high_resolution=high, device=args.device)
        snap.append(r.timings["snap"])
        fuse.append(r.timings["refine"])
        pixels = r.info["snapped_pixels"]
    snap, fuse = snap[1:], fuse[1:]  # the first round loads the network
    print(
        f"{size[0]}x{size[1]} on {args.device} ({args.threads} thread(s), fused at "
        f"{r.info['working_size']}): snap median {statistics.median(snap):.3f} s "
        f"(radius {r.info['snap_radius']}, {pixels} pixels changed, "
        f"{100 * pixels / (size[0] * size[1]):.1f} %), fusion {statistics.median(fuse):.3f} s"
    )
    if args.device != "cpu":
        from sddr_core.ops.snap import snap_to_image

        fused = refine(rgb, pred, high_resolution=high, device=args.device, snap=False)
        radius = r.info["snap_radius"]
        on_device, _ = snap_to_image(fused.depth, rgb, radius=radius, device=args.device)
        on_cpu, _ = snap_to_image(fused.depth, rgb, radius=radius)
        differ = int(np.count_nonzero(on_device != on_cpu))
        print(f"snap on {args.device} against the CPU: {differ} pixels differ")


if __name__ == "__main__":
    main()
