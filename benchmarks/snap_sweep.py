"""Settings of the edge snap (``sddr_core.ops.snap``) on real ground truth.

For each predictor and validation scene, runs ``refine(..., snap=False)`` once with the given
refiner, then snaps the result to the image with each setting and measures it (δ1, REL, D³R,
boundary F1, family means), beside the unsnapped result and the two inputs. This is how the
defaults of :data:`sddr_core.ops.snap.SNAP_DEFAULTS` and :func:`~sddr_core.ops.snap.snap_radius`
were chosen (docs/MODEL_CARD.md, "Snapping edges to the image").

    python benchmarks/snap_sweep.py --predictors stereo-sgbm,stereo-bm,family-high-good \\
        --setting base=5,taps=3,threshold=0.2 --setting base=4,taps=none,threshold=0.2

A setting is ``key=value`` pairs: ``base`` (radius before the upsampling factor), ``taps``
(``none``: every pixel of the window), ``threshold``, ``noise_factor``, ``iterations``,
``sigma_color``, ``cleanup`` (3, 5, or ``none`` for no clean-up after the passes).

The name ``ground-truth`` among ``--predictors`` snaps each scene's ground truth itself (its
unknown pixels filled from the background side, radius ``base``: as if fused at the photo's
size): what the snap does to a map whose edges are already exact.

    python benchmarks/snap_sweep.py --predictors ground-truth --setting base=5 --setting base=7
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

KEYS = ("delta1", "abs_rel", "d3r", "boundary_f1")
GROUND_TRUTH = "ground-truth"


def _ground_truth(sample: Any) -> Any:
    """The sample's ground truth as disparity, unknown pixels filled from the background."""
    from sddr_core.evaluation.methods import MethodOutput
    from sddr_core.ops.holes import fill_disparity_holes

    gt = np.asarray(sample.gt_as("disparity"), dtype=np.float32)
    known = np.isfinite(gt) & (gt > 0)
    return MethodOutput(fill_disparity_holes(gt, known), "disparity", 0.0)


def parse_setting(text: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for part in text.split(","):
        key, value = part.split("=", 1)
        if key in ("base", "threshold", "sigma_color", "noise_factor"):
            out[key] = float(value)
        elif key in ("taps", "iterations", "cleanup"):
            out[key] = None if value.lower() == "none" else int(value)
        else:
            raise SystemExit(f"unknown snap setting {key!r}")
    return out


def main() -> None:
    from sddr_core.datasets.base import load_dataset
    from sddr_core.evaluation.methods import MethodOutput, run_methods
    from sddr_core.evaluation.runner import _PredictorSource, _sample_metrics
    from sddr_core.inference import as_refiner
    from sddr_core.ops.snap import snap_radius, snap_to_image

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dataset", default="middlebury2006:../shared/data/middlebury2006@val")
    ap.add_argument("--predictors", default="stereo-sgbm,stereo-bm")
    ap.add_argument("--refiner", default="sddr_core/weights/sddr_default.safetensors")
    ap.add_argument("--setting", action="append", required=True, metavar="K=V,...")
    ap.add_argument("--out", help="JSON file for the per-scene metrics")
    args = ap.parse_args()

    settings = {s: parse_setting(s) for s in args.setting}
    ref, poisson = as_refiner(args.refiner), as_refiner("poisson")
    ds = load_dataset(args.dataset)
    results: dict[str, dict[str, list[dict[str, float]]]] = {}
    seconds: dict[str, list[float]] = {s: [] for s in settings}
    for name in args.predictors.split(","):
        source = None if name == GROUND_TRUTH else _PredictorSource(name, {}, None)
        rows = results.setdefault(name, {})
        for sample in ds:
            if source is None:  # the exact map, as if fused at the photo's size
                outs = {"ground truth": _ground_truth(sample)}
                fused, working = outs["ground truth"], sample.rgb.shape[:2]
            else:
                outs = run_methods(
                    sample.rgb,
                    source.for_sample(sample),
                    ["low", "high", "one-stage"],
                    refiner=ref,
                    poisson=poisson,
                    snap=False,
                )
                fused = outs["one-stage"]
                ww, wh = (int(v) for v in fused.info["working_size"].split("x"))
                working = (wh, ww)
            for label, s in settings.items():
                radius = snap_radius(sample.rgb.shape[:2], working, s.get("base", 5.0))
                options = {k: v for k, v in s.items() if k != "base"}
                t = time.perf_counter()
                depth, _ = snap_to_image(
                    fused.depth, sample.rgb, kind=fused.kind, radius=radius, **options
                )
                seconds[label].append(time.perf_counter() - t)
                outs[label] = MethodOutput(depth, fused.kind, 0.0)
            for method, m in _sample_metrics(sample, outs, "disparity").items():
                rows.setdefault(method, []).append({k: float(m[k]) for k in KEYS})
        print(name)
        for method, per in rows.items():
            means = "  ".join(f"{k} {np.nanmean([r[k] for r in per]):.4f}" for k in KEYS)
            print(f"  {method:40s} {means}")
    for label, t in seconds.items():
        print(f"{label}: {np.mean(t):.3f} s per image")
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
