"""``sddr eval --dataset SPEC --predictor NAME --methods ...``: benchmark methods on a dataset."""

from __future__ import annotations

import argparse

from sddr_core.cli.options import add_snap_option
from sddr_core.errors import InputError


def register(sub: argparse._SubParsersAction) -> None:
    from sddr_core.datasets.base import DATASET_SPECS
    from sddr_core.evaluation.methods import METHODS, available_methods

    default_methods = ",".join(available_methods())
    p = sub.add_parser(
        "eval",
        help="measure low/high/Poisson/SDDR depth against ground truth; tables and figures",
        description="Run each method on each sample of a dataset, measure depth (δ1-3, "
        "AbsRel, SqRel, RMSE, log10) and edge quality (ORD, D³R, boundary F1) after a "
        "scale-and-shift fit, print the mean table, and write results.md/.csv/.json and a "
        "comparison figure per sample to --out.",
    )
    p.add_argument(
        "--dataset",
        required=True,
        metavar="SPEC",
        help=" | ".join(DATASET_SPECS) + " (see the README)",
    )
    p.add_argument(
        "--predictor",
        default="simulated",
        help="registered predictor name (see `sddr predictors`; default: %(default)s, built "
        "from each sample's ground truth)",
    )
    p.add_argument(
        "--methods",
        default=default_methods,
        help=f"comma-separated, from {','.join(METHODS)} (default: %(default)s)",
    )
    p.add_argument(
        "--refiner",
        default=None,
        help="refiner of one-stage/two-stage: name or .safetensors (default: best available)",
    )
    p.add_argument("--space", choices=("disparity", "depth"), default="disparity",
                   help="space of the scale-and-shift fit (default: %(default)s)")  # fmt: skip
    p.add_argument("--out", metavar="DIR", default=None, help="folder for tables and figures")
    p.add_argument("--overwrite", action="store_true", help="replace existing report files")
    p.add_argument("--limit", type=int, default=None, metavar="N", help="first N samples only")
    p.add_argument("--no-figures", action="store_true", help="write tables only")
    p.add_argument("--weights", help="local folder with the predictor's weights")
    p.add_argument(
        "--strength",
        type=float,
        default=None,
        help="degradation strength of the simulated and family-<name> predictors (default 1)",
    )
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:N (default: auto)")
    p.add_argument("--low-resolution", type=int, default=None, metavar="PX")
    p.add_argument("--high-resolution", type=int, default=None, metavar="PX")
    add_snap_option(p)
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from sddr_core.evaluation import evaluate

    options: dict[str, object] = {}
    if args.weights:
        options["weights"] = args.weights
    if args.strength is not None:
        if args.predictor != "simulated" and not args.predictor.startswith("family-"):
            raise InputError(
                f"--strength applies to the simulated and family-<name> predictors, not to "
                f"{args.predictor!r}; drop --strength or pick one of those."
            )
        options["strength"] = args.strength
    report = evaluate(
        args.dataset,
        args.predictor,
        args.methods,
        refiner=args.refiner,
        out_dir=args.out,
        space=args.space,
        device=args.device,
        progress=not args.quiet,
        overwrite=args.overwrite,
        figures=not args.no_figures,
        limit=args.limit,
        predictor_options=options,
        low_resolution=args.low_resolution,
        high_resolution=args.high_resolution,
        snap=args.snap,
    )
    for line in report.header_lines():
        print(line)
    print()
    print(report.mean_table())
    if args.out:
        paths = report.paths(args.out)
        print()
        print(f"Wrote {', '.join(str(p) for p in paths.values())}")
        figures = [s.figure for s in report.samples if s.figure]
        if figures:
            print(f"and {len(figures)} figure(s) in {args.out}/figures/")
    return 0
