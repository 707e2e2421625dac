"""``sddr demo``: the offline first run. Refines the Middlebury Motorcycle scene.

Uses ``skimage.data.stereo_motorcycle()`` (evaluation data, never trained on) and the
``simulated`` predictor built from its ground truth, writes a side-by-side figure and prints
depth (δ1, REL) and edge (D³R, boundary F1) metrics for low, high and refined.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from sddr_core.errors import OutputExistsError

#: The demo's own output folder: re-running the demo replaces its two files there.
DEFAULT_OUT = "sddr-demo"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo",
        help="refine the Middlebury Motorcycle scene offline and print metrics",
        description="Offline demo: the Motorcycle scene from scikit-image with a simulated "
        "predictor built from its ground truth.",
    )
    p.add_argument(
        "-o",
        "--out",
        default=DEFAULT_OUT,
        help="output folder (%(default)s; the demo replaces its own two files there on a "
        "re-run, elsewhere only with --overwrite)",
    )
    p.add_argument("--refiner", default=None, help="refiner (default: best available)")
    p.add_argument("--mode", choices=("one-stage", "two-stage"), default="one-stage")
    p.add_argument("--strength", type=float, default=1.0, help="simulated noise strength")
    p.add_argument("--device", default=None)
    p.add_argument("--overwrite", action="store_true", help="replace existing output files")
    p.set_defaults(func=run)


def run_demo(
    out_dir: str | Path = "sddr-demo",
    *,
    refiner: str | None = None,
    mode: str = "one-stage",
    strength: float = 1.0,
    device: Any = None,
    overwrite: bool = False,
) -> dict[str, dict[str, float]]:
    """Run the demo; returns ``{method: metrics}`` and writes ``out_dir/motorcycle.png``."""
    from sddr_core.datasets.motorcycle import load_motorcycle
    from sddr_core.inference import refine
    from sddr_core.io.preview import colorize, side_by_side, write_image
    from sddr_core.metrics import depth_metrics, edge_metrics
    from sddr_core.predictors.simulated import SimulatedPredictor

    out = Path(out_dir)
    overwrite = overwrite or Path(out_dir) == Path(DEFAULT_OUT)  # its own files: re-runs work
    figure = out / "motorcycle.png"
    depth_file = out / "motorcycle_refined.png"
    for path in (figure, depth_file):
        if path.exists() and not overwrite:
            raise OutputExistsError(f"{path} exists; pass --overwrite or another --out folder.")
    sample = load_motorcycle()  # evaluation data: never trained on
    rgb, gt, valid = sample.rgb, sample.gt, sample.valid
    predictor = SimulatedPredictor(gt, kind="disparity", strength=strength)
    result = refine(rgb, predictor, mode=mode, refiner=refiner, device=device)
    metrics = {}
    for name, pred in (("low", result.low), ("high", result.high), ("refined", result.depth)):
        m = depth_metrics(
            pred, gt, mask=valid, space="disparity", gt_kind="disparity", pred_kind="disparity"
        )
        e = edge_metrics(pred, gt, mask=valid, gt_kind="disparity", pred_kind="disparity")
        metrics[name] = {"delta1": m["delta1"], "abs_rel": m["abs_rel"], **e}
    out.mkdir(parents=True, exist_ok=True)
    panels = [rgb] + [
        colorize(x, kind="disparity", valid=valid if x is gt else None)
        for x in (result.low, result.high, result.depth, gt)
    ]
    titles = ["image", "low", "high", f"refined ({result.info['refiner']})", "ground truth"]
    write_image(figure, side_by_side(panels, titles), overwrite=overwrite)
    result.save(depth_file, overwrite=overwrite)
    return {"result": result, "metrics": metrics, "figure": figure}  # type: ignore[return-value]


def run(args: argparse.Namespace) -> int:
    out = run_demo(
        args.out,
        refiner=args.refiner,
        mode=args.mode,
        strength=args.strength,
        device=args.device,
        overwrite=args.overwrite,
    )
    result, metrics = out["result"], out["metrics"]
    print(
        f"Motorcycle 741x500, simulated predictor (native {result.info['low_resolution']} px, "
        f"high {result.info['high_resolution']} px), refiner {result.info['refiner']}, "
        f"{result.info['mode']}, {result.timings['total']:.1f} s"
    )
    print(f"{'':10}{'δ1 ↑':>8}{'REL ↓':>8}{'D³R ↓':>8}{'ORD ↓':>8}{'bF1 ↑':>8}")
    for name, m in metrics.items():
        print(
            f"{name:10}{m['delta1']:8.3f}{m['abs_rel']:8.3f}{m['d3r']:8.3f}{m['ord']:8.3f}"
            f"{m['boundary_f1']:8.3f}"
        )
    low, ref = metrics["low"], metrics["refined"]
    print(
        f"Refined vs low resolution: D³R {low['d3r']:.3f} -> {ref['d3r']:.3f}, "
        f"boundary F1 {low['boundary_f1']:.3f} -> {ref['boundary_f1']:.3f}."
    )
    print(
        f"Wrote {out['figure']} (image, low, high, refined, ground truth) and "
        f"{out['figure'].with_name('motorcycle_refined.png')} (the refined map, 16-bit PNG)"
    )
    return 0
