"""Holes a tool reports: how ``refine_depths`` should fill the unknown pixels of the maps it
is given, measured on real stereo matchers' real holes: the background side of each row (as
the stereo predictors fill occlusions; what ``refine_depths`` does with NaN), or the nearest
pixel (what ``sddr fuse`` did before). The first version of hole support kept the low pass in
the high pass's holes instead; its numbers, from this script at commit 54bfcca, are in
docs/eval/refiner-2026-12/known-holes-keep-low.

    python benchmarks/known_holes.py --out docs/eval/refiner-2026-12/known-holes

For each scene of each dataset and each matcher (``StereoPredictor(fill_holes=False)``
gives the NaN pass): low at the native resolution, high at the resolution ``refine`` picks,
then ``refine_depths(low, high, size=image)`` with each version of the high pass. Cells are
means over scenes of δ1 / REL / D³R / bF1 (``sddr_core.metrics``, least-squares fit in
disparity, as ``sddr eval``). Writes ``known_holes.md`` to ``--out``.
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch

import sddr_core
from sddr_core.datasets import load_dataset
from sddr_core.inference.one_stage import choose_resolutions
from sddr_core.metrics import depth_metrics, edge_metrics, gt_superpixels
from sddr_core.ops.holes import fill_invalid
from sddr_core.ops.resize import resize_map
from sddr_core.predictors.stereo import stereo_predictor_for_sample

DATASETS = ("middlebury2006:../shared/data/middlebury2006@val", "motorcycle")
METHODS = ("sgbm", "bm", "dis")
KEYS = ("delta1", "abs_rel", "d3r", "boundary_f1")


def scores(depth: np.ndarray, sample, superpixels) -> tuple[float, ...]:
    common = {"mask": sample.valid, "gt_kind": sample.gt_kind, "pred_kind": "disparity"}
    d = depth_metrics(depth, sample.gt, **common)
    e = edge_metrics(depth, sample.gt, superpixels=superpixels, **common)
    return tuple(float({**d, **e}[k]) for k in KEYS)


def rows_for(sample, method: str, refiners: list[str]) -> dict[str, tuple[float, ...]]:
    image = sample.rgb.astype(np.float32) / (255.0 if sample.rgb.dtype == np.uint8 else 1.0)
    filled = stereo_predictor_for_sample(sample, method=method)
    raw = stereo_predictor_for_sample(sample, method=method, fill_holes=False)
    low_res, high_res = choose_resolutions(image, filled)
    low = filled.predict(image, low_res)
    high_bg = filled.predict(image, high_res)
    high_nan = raw.predict(image, high_res)
    shape = sample.gt.shape
    sp = gt_superpixels(sample.gt, sample.valid, kind=sample.gt_kind)
    out = {
        "low": scores(resize_map(low, shape), sample, sp),
        "high (background fill)": scores(resize_map(high_bg, shape), sample, sp),
        "holes in high (share)": (float(np.isnan(high_nan).mean()),),
    }
    versions = {
        "background fill": high_bg,
        "nearest fill": fill_invalid(high_nan),
        "NaN, filled by refine_depths": high_nan,
    }
    for ref in refiners:
        for label, high in versions.items():
            fused = sddr_core.refine_depths(low, high, refiner=ref, size=shape)
            out[f"{ref}: {label}"] = scores(fused.depth, sample, sp)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--refiners", default="sddr,poisson")
    args = ap.parse_args()
    refiners = args.refiners.split(",")
    lines = []
    for spec in DATASETS:
        samples = list(load_dataset(spec))
        for method in METHODS:
            acc: dict[str, list[tuple[float, ...]]] = defaultdict(list)
            for sample in samples:
                for label, value in rows_for(sample, method, refiners).items():
                    acc[label].append(value)
            name = spec.split(":")[0] + ("@val" if "@val" in spec else "")
            lines += [
                f"\n### stereo-{method} @ {name} ({len(samples)} scenes)\n",
                "| method | δ1 ↑ / REL ↓ / D³R ↓ / bF1 ↑ |",
                "|---|---|",
            ]
            for label, values in acc.items():
                mean = np.mean(np.array(values), axis=0)
                lines.append(f"| {label} | {' / '.join(f'{v:.3f}' for v in mean)} |")
            print("\n".join(lines[-len(acc) - 3 :]), flush=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    head = "# Holes a tool reports (benchmarks/known_holes.py)\n"
    (out / "known_holes.md").write_text(head + "\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    torch.set_num_threads(1)
    main()
