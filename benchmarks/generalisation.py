"""Generalisation table: refiners against their baselines on real ground truth, per family.

For each predictor (the ``family-<name>`` predictors: real ground truth degraded by one
degradation family; the real estimators ``stereo-sgbm`` / ``stereo-bm``, which band training
uses, ``stereo-dis``, which stage 9's fine-tunes use and earlier stages never did, and
``stereo-tvl1`` and ``stereo-ilk``, which no shipped refiner saw) and each dataset,
runs ``sddr eval``'s methods (low, high, poisson, split, one-stage and optionally two-stage)
with each refiner given, and writes a Markdown and JSON summary: family means of δ1, REL, D³R
and boundary F1, and the share of (scene, predictor) pairs whose δ1 is more than 0.02 below
the better of the two inputs.

    python benchmarks/generalisation.py --refiner new=sddr_core/weights/sddr_default.safetensors \
        --dataset middlebury2006:../shared/data/middlebury2006@val --out docs/eval/generalisation

Two-stage merge sweeps (docs/MODEL_CARD.md): ``--two-stage --previous-weight 1.0`` or
``--merge-grid initial``.

Every refiner's result (poisson, split, one-stage, two-stage) is measured as fused and
snapped to the image's edges (rows ``...+snap``, what ``refine()`` returns by default);
``--snap off`` / ``on`` keeps one of the two.

Is a refiner free of a preferred side? ``--mirror`` also measures each refiner on the pairs
mirrored left to right (its result mirrored back; rows ``one-stage:NAME+mirror``). ``--flip``
measures the mean of the two (flip test-time augmentation). ``--strength S`` degrades the
``family-<name>`` predictors at strength S (as ``sddr eval --strength``); ``--kind depth``
makes them return depth (the reciprocal) instead of disparity.

Leave-one-family-out: pass ``--refiner no-texture=runs/lofo-texture/last.safetensors
--predictors family-texture`` for each held-out family (see docs/MODEL_CARD.md).
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from sddr_core.evaluation import evaluate

DEFAULT_PREDICTORS = (
    "family-sddr",
    "family-structural",
    "family-texture",
    "family-lowfreq",
    "family-holes",
    "family-quantize",
    "family-high-good",
    "family-high-unusable",
    "stereo-sgbm",
    "stereo-bm",
    "stereo-dis",
    "stereo-tvl1",
    "stereo-ilk",
)
KEYS = ("delta1", "abs_rel", "d3r", "boundary_f1")


def method_rows(
    dataset: str,
    predictor: Any,
    refiners: dict[str, Any],
    two_stage: bool,
    snaps: tuple[bool, ...] = (False, True),
    predictor_options: dict[str, Any] | None = None,
) -> dict[str, list[dict[str, float]]]:
    """Per-scene metrics (:data:`KEYS`) of every method on one dataset and predictor (a name
    or a predictor object): the inputs and baselines once, each refiner's one-stage (and
    two-stage) result as ``one-stage:NAME``; with ``True`` in ``snaps`` also the snapped
    results (rows ``...+snap``, what ``refine()`` returns by default)."""
    per_method: dict[str, list[dict[str, float]]] = {}
    for (ref_name, ref), snap in ((r, s) for r in refiners.items() for s in snaps):
        methods = ["low", "high", "poisson", "split", "one-stage"]
        if two_stage:
            methods.append("two-stage")
        report = evaluate(
            dataset,
            predictor,
            methods,
            refiner=ref,
            progress=False,
            figures=False,
            predictor_options=predictor_options,
            snap=snap,
        )
        for method in report.methods:
            label = method if method not in ("one-stage", "two-stage") else f"{method}:{ref_name}"
            if snap and method not in ("low", "high"):
                label += "+snap"
            if label not in per_method:
                per_method[label] = [
                    {k: float(s.metrics[method].get(k, math.nan)) for k in KEYS}
                    for s in report.samples
                ]
    return per_method


def run(
    datasets: list[str],
    predictors: list[str],
    refiners: dict[str, Any],
    two_stage: bool,
    predictor_options: dict[str, Any] | None = None,
    snaps: tuple[bool, ...] = (False, True),
) -> dict[str, Any]:
    rows: dict[str, Any] = {}
    for predictor in predictors:
        for dataset in datasets:
            per_method = method_rows(
                dataset, predictor, refiners, two_stage, snaps, predictor_options
            )
            rows[f"{predictor} @ {dataset}"] = per_method
            print(
                f"{predictor} @ {dataset}: "
                + ", ".join(
                    f"{m} d1={np.nanmean([r['delta1'] for r in v]):.3f} "
                    f"d3r={np.nanmean([r['d3r'] for r in v]):.3f} "
                    f"bf1={np.nanmean([r['boundary_f1'] for r in v]):.3f}"
                    for m, v in per_method.items()
                ),
                flush=True,
            )
    return rows


def with_model_options(path: str, options: list[str]) -> Any:
    """The refiner at ``path`` with ``KEY=VALUE`` architecture options of its band-fusion
    network changed (values parsed as JSON: numbers, booleans)."""
    import dataclasses

    from sddr_core.models.band_fusion import BandFusionNet
    from sddr_core.refiners.network import load_refiner

    refiner = load_refiner(path)
    if not isinstance(refiner.model, BandFusionNet):
        raise SystemExit(f"--model-option needs band-fusion refiners; {path} is not one")
    changes = {k: json.loads(v) for k, v in (o.split("=", 1) for o in options)}
    refiner.model.config = dataclasses.replace(refiner.model.config, **changes)
    return refiner


def mean_fusion(fusions: Any) -> Any:
    """The mean of several fusions of one pair (depth and Ω), with the first one's info."""
    from sddr_core.refiners.base import Fusion

    depth = np.mean([f.depth for f in fusions], axis=0).astype(np.float32)
    omega = np.mean([f.omega for f in fusions], axis=0).astype(np.float32)
    return Fusion(depth, omega, dict(fusions[0].info))


class Ensemble:
    """The mean of several refiners' fusions (``--refiner NAME=A.safetensors+B.safetensors``):
    what distilling an ensemble (``train.teachers``) aims at, measured beside its student."""

    def __init__(self, paths: list[str]) -> None:
        from sddr_core.refiners.network import load_refiner

        self.members = [load_refiner(p) for p in paths]
        self.name = "ensemble"
        self.size_multiple = self.members[0].size_multiple
        self.max_working_side = min(m.max_working_side for m in self.members)

    def fuse_batch(self, lows: list[Any], highs: list[Any], **options: Any) -> list[Any]:
        runs = [m.fuse_batch(lows, highs, **options) for m in self.members]
        return [mean_fusion(fusions) for fusions in zip(*runs, strict=True)]

    def fuse(self, low: Any, high: Any) -> Any:
        return self.fuse_batch([low], [high])[0]


class Mirrored:
    """A refiner run on the pair mirrored left to right, its result mirrored back: the same
    refiner in a mirrored world (``--mirror``; the world has no preferred side, so a refiner
    that generalises scores about the same), or with ``average`` the mean of that and the
    plain fusion (``--flip``: flip test-time augmentation, twice the network's cost)."""

    def __init__(self, refiner: Any, *, average: bool = False) -> None:
        from sddr_core.refiners.network import load_refiner

        self.refiner = load_refiner(refiner) if isinstance(refiner, str) else refiner
        self.average = average
        self.name = f"{self.refiner.name}+{'flip' if average else 'mirror'}"
        self.size_multiple = self.refiner.size_multiple
        self.max_working_side = self.refiner.max_working_side

    def fuse_batch(self, lows: list[Any], highs: list[Any], **options: Any) -> list[Any]:
        from sddr_core.refiners.base import Fusion

        mirror = self.refiner.fuse_batch(
            [np.ascontiguousarray(lo[:, ::-1]) for lo in lows],
            [np.ascontiguousarray(hi[:, ::-1]) for hi in highs],
            **options,
        )
        back = [
            Fusion(
                np.ascontiguousarray(f.depth[:, ::-1]),
                np.ascontiguousarray(f.omega[:, ::-1]),
                dict(f.info),
            )
            for f in mirror
        ]
        if not self.average:
            return back
        direct = self.refiner.fuse_batch(lows, highs, **options)
        return [mean_fusion(pair) for pair in zip(direct, back, strict=True)]

    def fuse(self, low: Any, high: Any) -> Any:
        return self.fuse_batch([low], [high])[0]


def summarise(rows: dict[str, Any]) -> str:
    lines = [
        "| predictor @ dataset | method | δ1 ↑ | REL ↓ | D³R ↓ | bF1 ↑ | δ1 < best input − 0.02 |",
        "|---|---|---|---|---|---|---|",
    ]
    for key, per_method in rows.items():
        lows, highs = per_method["low"], per_method["high"]
        better = [max(a["delta1"], b["delta1"]) for a, b in zip(lows, highs, strict=True)]
        for method, samples in per_method.items():
            mean = {k: float(np.nanmean([s[k] for s in samples])) for k in KEYS}
            worse = sum(s["delta1"] < b - 0.02 for s, b in zip(samples, better, strict=True))
            lines.append(
                f"| {key} | {method} | {mean['delta1']:.3f} | {mean['abs_rel']:.3f} | "
                f"{mean['d3r']:.3f} | {mean['boundary_f1']:.3f} | {worse}/{len(samples)} |"
            )
    return "\n".join(lines) + "\n"


def _two_stage_options(previous_weight: float | None, merge_grid: str | None) -> None:
    """Swap the library's two-stage merge settings for a sweep (docs/MODEL_CARD.md)."""
    import functools

    import sddr_core.inference.two_stage as two_stage

    options: dict[str, Any] = {}
    if previous_weight is not None:
        options["previous_weight"] = previous_weight
    if merge_grid is not None:
        options["full_size"] = merge_grid == "image"
    if options:
        two_stage.coarse_to_fine = functools.partial(two_stage.coarse_to_fine, **options)


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--refiner",
        action="append",
        required=True,
        metavar="NAME=PATH",
        help="a refiner to measure (repeatable); PATH may join checkpoints with + for the "
        "mean of their fusions (an ensemble)",
    )
    ap.add_argument("--dataset", action="append", metavar="SPEC")
    ap.add_argument("--predictors", default=",".join(DEFAULT_PREDICTORS))
    ap.add_argument("--two-stage", action="store_true")
    ap.add_argument(
        "--snap",
        choices=("off", "on", "both"),
        default="both",
        help="refiners' results as fused (off), snapped to the image's edges as refine() "
        "does by default (on: rows NAME+snap), or both (default)",
    )
    ap.add_argument(
        "--previous-weight",
        type=float,
        help="two-stage: weight of the current estimate in each level's merge "
        "(default: the library's DEFAULT_PREVIOUS_WEIGHT)",
    )
    ap.add_argument(
        "--merge-grid",
        choices=("image", "initial"),
        help="two-stage: merge on the image's grid (the library's default) or the one-stage one",
    )
    ap.add_argument(
        "--model-option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="change an architecture option of every band-fusion refiner given, e.g. "
        "align_trim=0.1 (the trimmed alignment, measured on the shipped weights)",
    )
    ap.add_argument(
        "--flip",
        action="store_true",
        help="measure each refiner as the mean of its fusions of the pair and of the pair "
        "mirrored left to right (flip test-time augmentation)",
    )
    ap.add_argument(
        "--mirror",
        action="store_true",
        help="also measure each refiner on the pairs mirrored left to right (its result "
        "mirrored back), as NAME+mirror: does it prefer a side?",
    )
    ap.add_argument(
        "--strength",
        type=float,
        help="degradation strength of the family-<name> predictors (default 1)",
    )
    ap.add_argument(
        "--kind",
        choices=("disparity", "depth"),
        help="convention of the family-<name> predictors' passes (default disparity; depth: "
        "the reciprocal, as ZoeDepth or Depth Pro return)",
    )
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    _two_stage_options(args.previous_weight, args.merge_grid)
    refiners: dict[str, Any] = dict(r.split("=", 1) for r in args.refiner)
    refiners = {k: Ensemble(v.split("+")) if "+" in v else v for k, v in refiners.items()}
    if args.model_option:
        refiners = {k: with_model_options(v, args.model_option) for k, v in refiners.items()}
    if args.flip:
        refiners = {f"{k}+flip": Mirrored(v, average=True) for k, v in refiners.items()}
    if args.mirror:
        refiners = {
            **refiners,
            **{f"{k}+mirror": Mirrored(v) for k, v in refiners.items()},
        }
    options: dict[str, Any] = {}
    for option in ("strength", "kind"):
        if getattr(args, option) is None:
            continue
        others = [p for p in args.predictors.split(",") if not p.startswith("family-")]
        if others:
            raise SystemExit(f"--{option} applies to family-<name> predictors only, not {others}")
        options[option] = getattr(args, option)
    datasets = args.dataset or ["middlebury2006:../shared/data/middlebury2006@val"]
    snaps = {"off": (False,), "on": (True,), "both": (False, True)}[args.snap]
    rows = run(datasets, args.predictors.split(","), refiners, args.two_stage, options, snaps)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "generalisation.json").write_text(json.dumps(rows, indent=1))
    (out / "generalisation.md").write_text(summarise(rows))
    print(summarise(rows))


if __name__ == "__main__":
    main()
