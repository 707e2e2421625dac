"""Evaluation: run methods over a dataset, measure them, write tables and figures.

``sddr eval`` and Python share one entry point::

    from sddr_core.evaluation import evaluate
    report = evaluate("motorcycle", "simulated", "low,high,poisson,one-stage", out_dir="out")
    print(report.mean_table())

- :mod:`~sddr_core.evaluation.methods`: the compared methods (:data:`METHODS`) and running
  them on one image with shared predictor calls (:func:`run_methods`).
- :mod:`~sddr_core.evaluation.runner`: :func:`evaluate` over a dataset.
- :mod:`~sddr_core.evaluation.report`: :class:`EvalReport` and its Markdown, CSV and JSON.
- :mod:`~sddr_core.evaluation.figures`: per-sample comparison figures.
"""

from sddr_core.evaluation.figures import comparison_figure, write_comparison_figure
from sddr_core.evaluation.methods import (
    METHODS,
    CachingPredictor,
    MethodOutput,
    available_methods,
    parse_methods,
    run_methods,
)
from sddr_core.evaluation.report import METRICS, REPORT_FILES, EvalReport, SampleResult
from sddr_core.evaluation.runner import FIGURES_DIR, evaluate, evaluate_sample, needs_ground_truth

__all__ = [
    "FIGURES_DIR",
    "METHODS",
    "METRICS",
    "REPORT_FILES",
    "CachingPredictor",
    "EvalReport",
    "MethodOutput",
    "SampleResult",
    "available_methods",
    "comparison_figure",
    "evaluate",
    "evaluate_sample",
    "needs_ground_truth",
    "parse_methods",
    "run_methods",
    "write_comparison_figure",
]
