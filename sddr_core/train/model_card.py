"""Measurements for ``docs/MODEL_CARD.md``, all through :func:`sddr_core.evaluation.evaluate`
(the code behind ``sddr eval``), with the simulated predictor.

``python -m sddr_core.train.model_card COMMAND ...``:

- ``compare``: every method (low, high, Poisson, one-stage, two-stage) on a dataset at one
  noise strength (what ``sddr eval`` prints, saved as JSON);
- ``robustness``: D³R and δ1 against the simulated predictor's noise strength for low, high,
  Poisson and the network (one-stage), as JSON and a PNG (like the paper's Fig. 7);
- ``ablation``: one-stage metrics of several checkpoints (the loss ablation, like the
  paper's Table 4b) on the same datasets.

Torch runs on one thread (``--threads``): on a shared CPU that is faster than two.
"""

from __future__ import annotations

import argparse
import json
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["ablation", "compare", "main", "plot_robustness", "robustness"]

SUMMARY_KEYS = ("delta1", "abs_rel", "ord", "d3r", "boundary_f1", "time")


def _summary(report: Any) -> dict[str, Any]:
    mean = report.mean
    return {
        "dataset": report.dataset,
        "samples": len(report.samples),
        "refiner": report.refiner,
        "settings": report.settings,
        "notes": report.notes,
        "mean": {m: {k: mean[m].get(k, math.nan) for k in SUMMARY_KEYS} for m in mean},
    }


def compare(
    dataset: str,
    refiner: str | None,
    methods: str = "low,high,poisson,one-stage,two-stage",
    *,
    strength: float = 1.0,
    out_dir: str | None = None,
    limit: int | None = None,
) -> dict[str, Any]:
    """All ``methods`` on ``dataset`` with the simulated predictor at ``strength``."""
    from sddr_core.evaluation import evaluate

    report = evaluate(
        dataset,
        "simulated",
        methods,
        refiner=refiner,
        out_dir=out_dir,
        device="cpu",
        progress=True,
        overwrite=True,
        figures=out_dir is not None,
        limit=limit,
        predictor_options={"strength": float(strength)},
    )
    return _summary(report)


def robustness(
    datasets: Sequence[str],
    refiner: str | None,
    strengths: Sequence[float] = (0.0, 0.5, 1.0, 1.5, 2.0, 3.0),
    *,
    limit: int | None = None,
) -> dict[str, Any]:
    """``{dataset: {strength: {method: metrics}}}`` for low, high, Poisson and one-stage."""
    from sddr_core.evaluation import evaluate

    out: dict[str, Any] = {}
    for ds in datasets:
        rows: dict[str, Any] = {}
        for s in strengths:
            report = evaluate(
                ds, "simulated", "low,high,poisson,one-stage", refiner=refiner, device="cpu",
                progress=False, figures=False, limit=limit,
                predictor_options={"strength": float(s)},
            )  # fmt: skip
            mean = _summary(report)["mean"]
            rows[f"{float(s):g}"] = mean
            text = ", ".join(
                f"{m} D3R {v['d3r']:.3f} d1 {v['delta1']:.3f}" for m, v in mean.items()
            )
            print(f"{ds} strength {s:g}: {text}")
        out[ds] = rows
    return out


def plot_robustness(data: dict[str, Any], path: str | os.PathLike[str]) -> Path:
    """Draw D³R and δ1 against noise strength, one column per dataset."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(data)
    fig, axes = plt.subplots(2, len(names), figsize=(5 * len(names), 7), squeeze=False)
    styles = {
        "low": ("tab:blue", "o"),
        "high": ("tab:orange", "s"),
        "poisson": ("tab:green", "^"),
        "one-stage": ("k", "D"),
    }
    labels = {"one-stage": "SDDR network (one-stage)", "poisson": "Poisson fusion"}
    for j, ds in enumerate(names):
        rows = data[ds]
        xs = [float(s) for s in rows]
        for i, (key, title) in enumerate((("d3r", "D³R ↓"), ("delta1", "δ1 ↑"))):
            ax = axes[i][j]
            for method, (color, marker) in styles.items():
                ys = [rows[s][method][key] for s in rows if method in rows[s]]
                if ys:
                    ax.plot(xs[: len(ys)], ys, marker=marker, color=color,
                            label=labels.get(method, method))  # fmt: skip
            ax.set_xlabel("simulated noise strength")
            ax.set_title(f"{ds}: {title}")
            ax.grid(alpha=0.3)
        axes[0][j].legend()
    fig.tight_layout()
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(p, dpi=100)
    plt.close(fig)
    return p


def ablation(
    checkpoints: dict[str, str], datasets: Sequence[str], *, limit: int | None = None
) -> dict[str, Any]:
    """One-stage metrics of each checkpoint on each dataset (strength 1)."""
    from sddr_core.evaluation import evaluate

    out: dict[str, Any] = {}
    for name, path in checkpoints.items():
        out[name] = {}
        for ds in datasets:
            report = evaluate(
                ds, "simulated", "one-stage", refiner=path, device="cpu", progress=False,
                figures=False, limit=limit,
            )  # fmt: skip
            out[name][ds] = _summary(report)["mean"]["one-stage"]
            m = out[name][ds]
            print(f"{name} on {ds}: D3R {m['d3r']:.4f} d1 {m['delta1']:.4f} bF1 "
                  f"{m['boundary_f1']:.4f} REL {m['abs_rel']:.4f}")  # fmt: skip
    return out


def _write(obj: Any, path: str) -> None:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps(obj, indent=1, default=float))


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry (see the module docstring)."""
    parser = argparse.ArgumentParser(prog="python -m sddr_core.train.model_card")
    parser.add_argument("--threads", type=int, default=1)
    sub = parser.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("compare")
    c.add_argument("--dataset", required=True)
    c.add_argument("--refiner", default=None)
    c.add_argument("--methods", default="low,high,poisson,one-stage,two-stage")
    c.add_argument("--strength", type=float, default=1.0)
    c.add_argument("--limit", type=int, default=None)
    c.add_argument("--figures", default=None, help="folder for eval reports and figures")
    c.add_argument("--json", required=True)
    r = sub.add_parser("robustness")
    r.add_argument("--datasets", default="motorcycle,procedural:20")
    r.add_argument("--refiner", default=None)
    r.add_argument("--strengths", default="0,0.5,1,1.5,2,3")
    r.add_argument("--limit", type=int, default=None)
    r.add_argument("--json", required=True)
    r.add_argument("--png", required=True)
    a = sub.add_parser("ablation")
    a.add_argument("--checkpoint", action="append", required=True, metavar="NAME=PATH")
    a.add_argument("--datasets", default="motorcycle,procedural:50")
    a.add_argument("--limit", type=int, default=None)
    a.add_argument("--json", required=True)
    args = parser.parse_args(argv)

    import torch

    torch.set_num_threads(max(1, args.threads))
    if args.cmd == "compare":
        res = compare(args.dataset, args.refiner, args.methods, strength=args.strength,
                      out_dir=args.figures, limit=args.limit)  # fmt: skip
        _write(res, args.json)
        for m, v in res["mean"].items():
            print(f"{m:10} " + " ".join(f"{k} {v[k]:.4f}" for k in SUMMARY_KEYS))
    elif args.cmd == "robustness":
        strengths = [float(s) for s in args.strengths.split(",")]
        res = robustness(args.datasets.split(","), args.refiner, strengths, limit=args.limit)
        _write(res, args.json)
        plot_robustness(res, args.png)
    else:
        ckpts = dict(item.split("=", 1) for item in args.checkpoint)
        res = ablation(ckpts, args.datasets.split(","), limit=args.limit)
        _write(res, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
