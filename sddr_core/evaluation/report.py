"""The result of an evaluation and its tables: Markdown, CSV and JSON.

An :class:`EvalReport` holds, for every sample and method, the metrics of
:mod:`sddr_core.metrics` (:data:`METRICS`) and the method's time, plus the means over samples
(NaN-aware: a sample without ground-truth discontinuities has no D³R and is left out of that
mean only). :meth:`EvalReport.write` puts ``results.md``, ``results.csv`` and
``results.json`` in a folder, refusing to replace existing files unless ``overwrite=True``.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sddr_core.errors import InputError
from sddr_core.io.files import atomic_write, check_writable

__all__ = ["METRICS", "REPORT_FILES", "EvalReport", "SampleResult"]

#: ``(key, column title, higher_is_better)`` of every reported metric, in table order.
METRICS: tuple[tuple[str, str, bool], ...] = (
    ("delta1", "δ1 ↑", True),
    ("delta2", "δ2 ↑", True),
    ("delta3", "δ3 ↑", True),
    ("abs_rel", "AbsRel ↓", False),
    ("sq_rel", "SqRel ↓", False),
    ("rmse", "RMSE ↓", False),
    ("log10", "log10 ↓", False),
    ("ord", "ORD ↓", False),
    ("d3r", "D³R ↓", False),
    ("boundary_f1", "bF1 ↑", True),
    ("see", "SEE ↓", False),
    ("dbe_acc", "DBEacc ↓", False),
    ("dbe_comp", "DBEcomp ↓", False),
    ("time", "time s ↓", False),
)
METRIC_KEYS: tuple[str, ...] = tuple(k for k, _, _ in METRICS)

#: File names :meth:`EvalReport.write` creates.
REPORT_FILES: dict[str, str] = {"md": "results.md", "csv": "results.csv", "json": "results.json"}

_SPACE_TEXT = "least-squares scale and shift fitted in {space} space on valid pixels"


@dataclass
class SampleResult:
    """The metrics of every method on one sample.

    Attributes:
        name: the sample's name.
        size: ``(H, W)``.
        metrics: ``{method: {metric: value}}``; the keys of :data:`METRICS` plus diagnostics
            (``scale``, ``shift``, ``n_valid``, ``n_clamped``, ``n_ord_pairs``,
            ``n_d3r_pairs``, ``predictor_calls``).
        figure: the comparison figure written for it, if any.
        meta: the sample's metadata (JSON-able values only).
    """

    name: str
    size: tuple[int, int]
    metrics: dict[str, dict[str, Any]]
    figure: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class EvalReport:
    """Metrics of several methods over a dataset (see the module docstring).

    Attributes:
        dataset: the dataset's name.
        predictor: the predictor's name.
        refiner: the refiner of ``one-stage`` and ``two-stage``.
        space: the alignment space, ``"disparity"`` or ``"depth"``.
        methods: the methods, in report order.
        samples: one :class:`SampleResult` per sample, in dataset order.
        version: the sddr version that produced it.
        notes: lines shown under the title (e.g. that the network fell back to Poisson).
        settings: other options of the run (resolutions, device, predictor options).
        method_refiners: ``{method: refiner name or None}``.
    """

    dataset: str
    predictor: str
    refiner: str
    space: str
    methods: list[str]
    samples: list[SampleResult] = field(default_factory=list)
    version: str = ""
    notes: list[str] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)
    method_refiners: dict[str, str | None] = field(default_factory=dict)

    # ------------------------------------------------------------------ numbers

    @property
    def mean(self) -> dict[str, dict[str, float]]:
        """``{method: {metric: mean over samples}}``; NaN values are left out of a mean
        (all NaN gives NaN)."""
        out: dict[str, dict[str, float]] = {}
        for method in self.methods:
            row = {}
            for key in METRIC_KEYS:
                values = np.array(
                    [float(s.metrics[method].get(key, math.nan)) for s in self.samples], float
                )
                finite = values[np.isfinite(values)]
                row[key] = float(finite.mean()) if finite.size else math.nan
            out[method] = row
        return out

    def label(self, method: str) -> str:
        """``method``, with its refiner in brackets for ``one-stage`` / ``two-stage``."""
        ref = self.method_refiners.get(method)
        return f"{method} ({ref})" if ref and method not in ("poisson", "split") else method

    # ------------------------------------------------------------------ Markdown

    def header_lines(self) -> list[str]:
        n = len(self.samples)
        lines = [
            f"dataset `{self.dataset}` ({n} sample{'s' if n != 1 else ''}), predictor "
            f"`{self.predictor}`, refiner `{self.refiner}`, sddr {self.version}",
            "alignment: " + _SPACE_TEXT.format(space=self.space),
        ]
        chosen = self.chosen_settings()
        if chosen:
            lines.append("settings: " + ", ".join(f"{k} `{v}`" for k, v in chosen.items()))
        return lines + list(self.notes)

    def chosen_settings(self) -> dict[str, Any]:
        """The settings given for this run (predictor options spelled out), without those
        left at their defaults: what a reader needs to repeat it."""
        out: dict[str, Any] = {}
        for key, value in self.settings.items():
            if key == "predictor_options":
                out.update({f"predictor {k}": v for k, v in (value or {}).items()})
            elif value is not None:
                out[key] = value
        return out

    def mean_table(self) -> str:
        """The Markdown table of the means (one row per method)."""
        return _markdown_table(
            [self.label(m) for m in self.methods], [self.mean[m] for m in self.methods]
        )

    def sample_table(self, sample: SampleResult) -> str:
        """The Markdown table of one sample."""
        return _markdown_table(
            [self.label(m) for m in self.methods], [sample.metrics[m] for m in self.methods]
        )

    def to_markdown(self, *, per_sample: bool = True) -> str:
        """The whole report as Markdown: header, mean table, then each sample's table and
        figure."""
        parts = [f"# sddr eval: {self.dataset}", ""]
        parts += [f"- {line}" for line in self.header_lines()]
        parts += [
            "- columns: δk = share of pixels within 1.25^k of the truth; AbsRel, SqRel, "
            "RMSE, log10 in depth after alignment (RMSE in the ground truth's depth units); "
            "ORD, D³R: ordinal errors over ground-truth superpixels (Boost); bF1: "
            "scale-invariant boundary F1 (Depth Pro); time: seconds per image, alone",
            "",
            f"## Mean over {len(self.samples)} sample{'s' if len(self.samples) != 1 else ''}",
            "",
            self.mean_table(),
            "",
        ]
        if per_sample:
            parts += ["## Per sample", ""]
            for s in self.samples:
                parts += [f"### {s.name} ({s.size[1]}x{s.size[0]})", ""]
                if len(self.samples) > 1:  # one sample: the mean table says it all
                    parts += [self.sample_table(s), ""]
                if s.figure:
                    parts += [f"![{s.name}]({s.figure})", ""]
        return "\n".join(parts)

    # ------------------------------------------------------------------ CSV / JSON

    def to_csv(self) -> str:
        """One row per (sample, method), then one per method with ``sample = "mean"``."""
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        extra = ["dataset", "predictor", "space", "sddr_version"]
        writer.writerow(["sample", "method", "refiner", *METRIC_KEYS, "n_valid", *extra])
        context = [self.dataset, self.predictor, self.space, self.version]
        for s in self.samples:
            for m in self.methods:
                values = s.metrics[m]
                writer.writerow(
                    [s.name, m, self.method_refiners.get(m) or ""]
                    + [_csv_number(values.get(k)) for k in METRIC_KEYS]
                    + [values.get("n_valid", ""), *context]
                )
        mean = self.mean
        for m in self.methods:
            writer.writerow(
                ["mean", m, self.method_refiners.get(m) or ""]
                + [_csv_number(mean[m][k]) for k in METRIC_KEYS]
                + ["", *context]
            )
        return buf.getvalue()

    def to_dict(self) -> dict[str, Any]:
        """Everything as JSON-able Python objects (NaN becomes None)."""
        return _jsonable(
            {
                "sddr_version": self.version,
                "dataset": self.dataset,
                "predictor": self.predictor,
                "refiner": self.refiner,
                "space": self.space,
                "alignment": _SPACE_TEXT.format(space=self.space),
                "methods": list(self.methods),
                "method_refiners": dict(self.method_refiners),
                "notes": list(self.notes),
                "settings": dict(self.settings),
                "metrics": {k: {"title": t, "higher_is_better": hb} for k, t, hb in METRICS},
                "mean": self.mean,
                "samples": [
                    {
                        "name": s.name,
                        "size": list(s.size),
                        "figure": s.figure,
                        "meta": s.meta,
                        "methods": s.metrics,
                    }
                    for s in self.samples
                ],
            }
        )

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False, allow_nan=False) + "\n"

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EvalReport:
        """Rebuild a report from :meth:`to_dict` output (or a parsed ``results.json``)."""
        try:
            samples = [
                SampleResult(
                    name=s["name"],
                    size=tuple(s["size"]),  # type: ignore[arg-type]
                    metrics={
                        m: {k: math.nan if v is None else v for k, v in d.items()}
                        for m, d in s["methods"].items()
                    },
                    figure=s.get("figure"),
                    meta=s.get("meta", {}),
                )
                for s in data["samples"]
            ]
            return cls(
                dataset=data["dataset"],
                predictor=data["predictor"],
                refiner=data["refiner"],
                space=data["space"],
                methods=list(data["methods"]),
                samples=samples,
                version=data.get("sddr_version", ""),
                notes=list(data.get("notes", [])),
                settings=dict(data.get("settings", {})),
                method_refiners=dict(data.get("method_refiners", {})),
            )
        except (KeyError, TypeError) as exc:
            raise InputError(f"not an sddr evaluation report: missing or bad {exc}.") from exc

    # ------------------------------------------------------------------ files

    @staticmethod
    def paths(out_dir: str | os.PathLike[str]) -> dict[str, Path]:
        """``{"md": ..., "csv": ..., "json": ...}`` file paths in ``out_dir``."""
        return {k: Path(out_dir) / name for k, name in REPORT_FILES.items()}

    def write(self, out_dir: str | os.PathLike[str], *, overwrite: bool = False) -> dict[str, Path]:
        """Write ``results.md``, ``results.csv`` and ``results.json`` into ``out_dir``.

        Raises:
            OutputExistsError: one of them exists and ``overwrite`` is False (nothing is
                written then).
        """
        paths = self.paths(out_dir)
        for p in paths.values():
            check_writable(p, overwrite=overwrite)
        texts = {"md": self.to_markdown(), "csv": self.to_csv(), "json": self.to_json()}
        return {
            k: atomic_write(
                p, lambda fh, t=texts[k]: fh.write(t.encode("utf-8")), overwrite=overwrite
            )
            for k, p in paths.items()
        }

    def __repr__(self) -> str:
        return (
            f"EvalReport({self.dataset!r}, {len(self.samples)} samples, methods={self.methods}, "
            f"predictor={self.predictor!r}, refiner={self.refiner!r}, space={self.space!r})"
        )


# ---------------------------------------------------------------------------------------


def _fmt(key: str, value: Any) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    v = float(value)
    if key == "time":
        return f"{v:.3f}"
    if key in ("rmse", "sq_rel", "see"):
        return f"{v:.4g}"
    if key in ("dbe_acc", "dbe_comp"):
        return f"{v:.2f}"
    return f"{v:.3f}"


def _markdown_table(labels: list[str], rows: list[dict[str, Any]]) -> str:
    head = "| method | " + " | ".join(t for _, t, _ in METRICS) + " |"
    rule = "|:--|" + "--:|" * len(METRICS)
    body = [
        f"| {label} | " + " | ".join(_fmt(k, row.get(k)) for k in METRIC_KEYS) + " |"
        for label, row in zip(labels, rows, strict=True)
    ]
    return "\n".join([head, rule, *body])


def _csv_number(value: Any) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    return repr(float(value))


def _jsonable(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, (bool, np.bool_)):
        return bool(x)
    if isinstance(x, (int, np.integer)):
        return int(x)
    if isinstance(x, (float, np.floating)):
        return float(x) if math.isfinite(float(x)) else None
    if x is None or isinstance(x, str):
        return x
    if isinstance(x, os.PathLike):
        return os.fspath(x)
    return str(x)
