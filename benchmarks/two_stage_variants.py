"""Two-stage refinement variants, measured with ``sddr eval``'s code (the table "Two-stage:
holding windows in range" in docs/MODEL_CARD.md).

A research script: it swaps pieces of :mod:`sddr_core.inference.two_stage` for the variants
that were tried (window alignment, low-pass anchoring between levels, window resolution cap,
range clamp radius, clamping the one-stage fusion too) and prints the one- and two-stage
means. The shipped behaviour is the one with no options::

    python benchmarks/two_stage_variants.py                       # shipped: LS, radius 1
    python benchmarks/two_stage_variants.py --range-radius none   # as before the clamp
    python benchmarks/two_stage_variants.py --range-radius none --align trim --max-factor 2
    python benchmarks/two_stage_variants.py --range-radius none --anchor 0.015
    python benchmarks/two_stage_variants.py --range-radius none --levels 2
    python benchmarks/two_stage_variants.py --clamp-one-stage

About 2.5 minutes per run for 50 scenes with one torch thread.
"""

from __future__ import annotations

import argparse
import functools
import os
from typing import Any

import cv2
import numpy as np

METRICS = ("delta1", "abs_rel", "ord", "d3r", "boundary_f1")


def _align_trimmed(fused: np.ndarray, crop: np.ndarray) -> np.ndarray:
    """Least squares on the 80 % of pixels where the fusion (already in the crop's scale)
    differs least from the crop."""
    from sddr_core.ops.align import apply_scale_shift

    r = np.abs(fused - crop)
    return apply_scale_shift(fused, crop, r <= np.quantile(r, 0.8))


def _anchored(c2f: Any, sigma: float) -> Any:
    """Run the levels one at a time and add back the low-pass of what each level changed."""

    def run(image, predictor, refiner, initial, *, levels=(2, 3), overlaps=(0.2, 0.25), **kw):
        current = initial
        out = None
        for s, o in zip(levels, overlaps, strict=True):
            out = c2f(image, predictor, refiner, current, levels=(s,), overlaps=(o,), **kw)
            diff = current - out.depth
            out.depth = out.depth + cv2.GaussianBlur(
                diff, (0, 0), sigmaX=sigma * max(diff.shape), borderType=cv2.BORDER_REFLECT
            )
            current = out.depth
        return out

    return run


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset", default="procedural:50")
    p.add_argument("--refiner", default="sddr_core/weights/sddr_default.safetensors")
    p.add_argument("--align", choices=("ls", "none", "trim"), default="ls")
    p.add_argument("--levels", default="2,3", help="windows per side at each level")
    p.add_argument("--anchor", type=float, default=0.0, help="low-pass σ, fraction of the side")
    p.add_argument("--max-factor", type=float, default=None, help="window resolution cap")
    p.add_argument("--range-radius", default="1", help="an integer, or 'none'")
    p.add_argument("--clamp-one-stage", action="store_true")
    a = p.parse_args(argv)

    import torch

    torch.set_num_threads(1)
    import sddr_core.inference.two_stage as ts
    import sddr_core.refiners.network as network
    from sddr_core.evaluation import evaluate

    if a.align == "none":
        ts.apply_scale_shift = lambda fused, crop: fused
    elif a.align == "trim":
        ts.apply_scale_shift = _align_trimmed
    if a.max_factor is not None:
        adaptive = ts.adaptive_resolution
        ts.adaptive_resolution = lambda *x, **k: adaptive(*x, **{**k, "max_factor": a.max_factor})
    levels = tuple(int(v) for v in a.levels.split(","))
    radius = None if a.range_radius == "none" else int(a.range_radius)
    c2f = functools.partial(
        ts.coarse_to_fine,
        levels=levels,
        overlaps=(0.2, 0.25, 0.3, 0.3)[: len(levels)],
        range_radius=radius,
    )
    ts.coarse_to_fine = _anchored(c2f, a.anchor) if a.anchor > 0 else c2f
    if a.clamp_one_stage:
        fuse_batch = network.NetworkRefiner.fuse_batch

        def clamped(self, lows, highs):
            return [
                ts._hold_in_range(f, np.asarray(lo, np.float32), np.asarray(hi, np.float32), 1)
                for f, lo, hi in zip(fuse_batch(self, lows, highs), lows, highs, strict=True)
            ]

        network.NetworkRefiner.fuse_batch = clamped

    report = evaluate(
        a.dataset,
        "simulated",
        "one-stage,two-stage",
        refiner=a.refiner,
        device="cpu",
        progress=True,
        figures=False,
        predictor_options={"strength": 1.0},
    )
    for method, m in report.mean.items():
        print(f"{method:10s} " + "  ".join(f"{k} {m[k]:.4f}" for k in METRICS))


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    main()
