"""Time of the edge snap on a real scene at a given size (the snap's cost depends on how much
of the map lies near depth edges, which random-weight predictors do not show).

    python benchmarks/snap_cost.py --width 1024

Refines the Motorcycle scene (scikit-image's; the ``simulated`` predictor on its ground truth,
with the default refiner) resized to ``--width``, with and without the snap, ``--repeats``
times, one torch thread, and prints the median time of the snap and of the fusion.
"""

from __future__ import annotations

import argparse
import statistics

import cv2
import numpy as np
import torch


def main() -> None:
    from sddr_core import refine
    from sddr_core.datasets.motorcycle import load_motorcycle
    from sddr_core.predictors.simulated import SimulatedPredictor

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--width", type=int, default=1024)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    sample = load_motorcycle()
    h, w = sample.rgb.shape[:2]
    size = (args.width, round(h * args.width / w))
    rgb = cv2.resize(sample.rgb, size, interpolation=cv2.INTER_AREA)
    gt = sample.gt_as("disparity")
    gt = cv2.resize(np.nan_to_num(gt, nan=float(np.nanmedian(gt))), size, cv2.INTER_NEAREST)
    pred = SimulatedPredictor(gt, seed=0)
    snap, fuse, pixels = [], [], 0
    for _ in range(args.repeats + 1):
        r = refine(rgb, pred, high_resolution=max(size))
        snap.append(r.timings["snap"])
        fuse.append(r.timings["refine"])
        pixels = r.info["snapped_pixels"]
    snap, fuse = snap[1:], fuse[1:]  # the first round loads the network
    print(
        f"{size[0]}x{size[1]}: snap median {statistics.median(snap):.3f} s "
        f"(radius {r.info['snap_radius']}, {pixels} pixels changed, "
        f"{100 * pixels / (size[0] * size[1]):.1f} %), fusion {statistics.median(fuse):.3f} s"
    )


if __name__ == "__main__":
    main()
