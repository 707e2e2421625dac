"""What the band-fusion network's base trust head does: the shipped refiner as it is, with
its base trust forced to 0 (the layout, the coarsest band, from the low pass) and forced to 1
(from the high pass), one-stage, on real estimators and the families whose high pass has the
worse layout (docs/MODEL_CARD.md, "A real estimator, a scene source and image sizes it never
saw").

    python benchmarks/base_trust.py --out docs/eval/refiner-2026-12/base-trust

Other sets with ``--set PREDICTOR@DATASET`` (repeatable), e.g. ``--set stereo-ilk@motorcycle``.

Writes ``base_trust.md`` (δ1 / REL / D³R / bF1 means per predictor and dataset) to ``--out``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from sddr_core.evaluation import evaluate
from sddr_core.refiners.network import load_refiner

VAL = "middlebury2006:../shared/data/middlebury2006@val"
SETS = (
    (VAL, "stereo-sgbm"),
    (VAL, "stereo-bm"),
    (VAL, "stereo-dis"),
    (VAL, "family-lowfreq"),
    (VAL, "family-structural"),
    (VAL, "family-holes"),
    ("motorcycle", "stereo-dis"),
    ("motorcycle", "stereo-bm"),
)
#: A logit this large puts the base trust at exactly 0 or 1 (the trust margin clamps).
FORCED_LOGIT = 20.0


def refiner_with_base(weights: str | None, force: float | None):
    """The refiner of ``weights`` (default: the shipped one), its base trust forced to
    ``force`` (0 or 1) unless None."""
    ref = load_refiner(weights)
    head = getattr(ref.model, "base_head", None)
    if force is not None:
        if head is None:
            raise SystemExit(f"{weights or 'the default refiner'} has no base trust head.")
        value = FORCED_LOGIT if force else -FORCED_LOGIT
        head[1].register_forward_hook(lambda _m, _i, out: torch.full_like(out, value))
    return ref


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--weights", default=None, help="refiner checkpoint (default: shipped)")
    ap.add_argument(
        "--set",
        action="append",
        default=None,
        metavar="PREDICTOR@DATASET",
        help="a predictor and dataset to measure instead of the default sets (repeatable)",
    )
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    sets = SETS
    if args.set:
        pairs = [item.partition("@") for item in args.set]
        if any(not p or not d for p, _, d in pairs):
            raise SystemExit("--set takes PREDICTOR@DATASET, e.g. stereo-ilk@motorcycle")
        sets = tuple((d, p) for p, _, d in pairs)
    lines = [
        "| predictor @ dataset | base trust | δ1 ↑ | REL ↓ | D³R ↓ | bF1 ↑ |",
        "|---|---|---|---|---|---|",
    ]
    for force, label in ((None, "learned"), (0.0, "0 (low)"), (1.0, "1 (high)")):
        ref = refiner_with_base(args.weights, force)
        for dataset, predictor in sets:
            report = evaluate(
                dataset, predictor, ["one-stage"], refiner=ref, progress=False, figures=False
            )
            m = report.mean["one-stage"]
            row = " | ".join(f"{m[k]:.3f}" for k in ("delta1", "abs_rel", "d3r", "boundary_f1"))
            lines.append(f"| {predictor} @ {dataset} | {label} | {row} |")
            print(lines[-1], flush=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "base_trust.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    torch.set_num_threads(1)
    main()
