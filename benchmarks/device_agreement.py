"""Does ``refine()`` on a device give what it gives on the CPU?

    python benchmarks/device_agreement.py --device cuda
    python benchmarks/device_agreement.py --device cpu     # a dry run: every row must agree

Refines the Motorcycle scene (scikit-image's; the ``simulated`` predictor on its ground truth,
so both runs get the same passes) on the CPU and on ``--device`` with each combination of
refiner (the default network, Poisson), mode (one-stage, two-stage), snap (on, off) and the
predictor's convention (disparity, depth), and prints for each: the largest difference
relative to the map's range, the share of pixels that differ by more than 0.1 % of it, whether
the guard and the snap decided alike (``info``), and both wall times (the first call on each
device warms it up and is not timed). The network's float arithmetic differs between devices,
so small differences are expected; a pixel share of several per cent, a different guard
decision or a snap that touched very different pixels is a bug to look at.
"""

from __future__ import annotations

import argparse
import itertools
import time
from typing import Any

import numpy as np

DECISIONS = ("guard", "fusion_space", "snap_radius", "working_size")


def motorcycle_at(width: int) -> tuple[np.ndarray, np.ndarray]:
    """Motorcycle's photo and ground-truth disparity (unknown pixels set to its median)
    resized to ``width`` pixels wide (photo by area, ground truth by nearest neighbour)."""
    import cv2

    from sddr_core.datasets.motorcycle import load_motorcycle

    sample = load_motorcycle()
    h, w = sample.rgb.shape[:2]
    size = (width, round(h * width / w))
    rgb = cv2.resize(sample.rgb, size, interpolation=cv2.INTER_AREA)
    gt = sample.gt_as("disparity")
    gt = np.nan_to_num(gt, nan=float(np.nanmedian(gt)))
    return rgb, cv2.resize(gt, size, interpolation=cv2.INTER_NEAREST)


def compare(rgb: np.ndarray, gt: np.ndarray, device: str) -> list[dict[str, Any]]:
    from sddr_core import refine
    from sddr_core.predictors.simulated import SimulatedPredictor

    rows = []
    combos = itertools.product(("sddr", "poisson"), ("one-stage", "two-stage"), (True, False))
    for (refiner, mode, snap), kind in itertools.product(combos, ("disparity", "depth")):
        truth = gt if kind == "disparity" else 1.0 / np.maximum(gt, 1e-3)
        results, seconds = {}, {}
        for dev in ("cpu", device):
            pred = SimulatedPredictor(  # a metric-like depth pass has no affine shift
                truth.astype(np.float32), seed=0, kind=kind, affine=kind == "disparity"
            )
            options = {"refiner": refiner, "mode": mode, "snap": snap, "device": dev}
            if (refiner, mode, snap, kind) == ("sddr", "one-stage", True, "disparity"):
                refine(rgb, pred, **options)  # warm-up: loads the network, starts the device
            t = time.perf_counter()
            results[dev] = refine(rgb, pred, **options)
            seconds[dev] = time.perf_counter() - t
        a, b = results["cpu"].depth, results[device].depth
        span = float(np.ptp(a)) or 1.0
        diff = np.abs(a.astype(np.float64) - b) / span
        same = {k: results["cpu"].info.get(k) == results[device].info.get(k) for k in DECISIONS}
        snapped = [results[d].info.get("snapped_pixels", 0) for d in ("cpu", device)]
        rows.append(
            {
                "refiner": refiner,
                "mode": mode,
                "snap": snap,
                "kind": kind,
                "max_diff": float(diff.max()),
                "share_over_0.1%": float(np.mean(diff > 1e-3)),
                "decisions_alike": all(same.values()),
                "differing": [k for k, v in same.items() if not v],
                "snapped_pixels": snapped,
                "cpu_s": seconds["cpu"],
                "device_s": seconds[device],
            }
        )
    return rows


def main() -> None:
    import torch

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--device", default="cuda", help="cuda, cuda:N, cpu (default: %(default)s)")
    ap.add_argument("--width", type=int, default=741, help="photo width (default: as shipped)")
    args = ap.parse_args()
    torch.manual_seed(0)
    rgb, gt = motorcycle_at(args.width)
    rows = compare(rgb, gt, args.device)
    print(
        f"refine() on cpu and {args.device}, Motorcycle {rgb.shape[1]}x{rgb.shape[0]}, "
        f"torch {torch.__version__}"
    )
    print("| refiner | mode | snap | kind | max diff | pixels > 0.1 % | decisions | snapped "
          "(cpu, device) | cpu s | device s |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        decisions = "alike" if r["decisions_alike"] else "differ: " + ", ".join(r["differing"])
        print(
            f"| {r['refiner']} | {r['mode']} | {'on' if r['snap'] else 'off'} | {r['kind']} | "
            f"{r['max_diff']:.2e} | {100 * r['share_over_0.1%']:.2f} % | {decisions} | "
            f"{r['snapped_pixels'][0]}, {r['snapped_pixels'][1]} | {r['cpu_s']:.2f} | "
            f"{r['device_s']:.2f} |"
        )


if __name__ == "__main__":
    main()
