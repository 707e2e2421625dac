"""``evaluate(dataset, predictor, methods)``: the engine behind ``sddr eval``."""

from __future__ import annotations

import itertools
import os
import re
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from sddr_core.datasets.base import Dataset, Sample, load_dataset
from sddr_core.errors import InputError
from sddr_core.evaluation.methods import MethodOutput, parse_methods, run_methods
from sddr_core.evaluation.report import REPORT_FILES, EvalReport, SampleResult

__all__ = [
    "FIGURES_DIR",
    "evaluate",
    "evaluate_sample",
    "needs_ground_truth",
    "needs_sample",
]

#: Sub-folder of ``out_dir`` holding one comparison figure per sample.
FIGURES_DIR = "figures"


def needs_ground_truth(name: str) -> bool:
    """Whether the registered predictor ``name`` is built from each sample's ground truth
    (``simulated``, or any whose spec sets ``extra["needs_ground_truth"]``)."""
    from sddr_core.registry import get_predictor_spec

    spec = get_predictor_spec(name)
    return bool(spec.extra.get("needs_ground_truth", spec.name == "simulated"))


def needs_sample(name: str) -> bool:
    """Whether the registered predictor ``name`` is built per sample from the whole sample
    (its spec sets ``extra["needs_sample"]``: the stereo predictors, which match the sample's
    stereo pair); the factory then receives ``sample=``."""
    from sddr_core.registry import get_predictor_spec

    return bool(get_predictor_spec(name).extra.get("needs_sample", False))


class _PredictorSource:
    """Gives the predictor for each sample: one shared object, or one built per sample from
    its ground truth."""

    def __init__(self, predictor: Any, options: dict[str, Any], device: Any) -> None:
        from sddr_core.predictors.base import as_predictor

        self.from_sample = isinstance(predictor, str) and needs_sample(predictor)
        self.per_sample = self.from_sample or (
            isinstance(predictor, str) and needs_ground_truth(predictor)
        )
        self.options = dict(options)
        self.device = device
        if self.per_sample:
            from sddr_core.registry import get_predictor_spec

            self.spec = get_predictor_spec(predictor)
            self.name = self.spec.name
            self.shared = None
        else:
            if isinstance(predictor, str):
                self.shared = as_predictor(predictor, device=device, **self.options)
            else:
                if self.options:
                    raise InputError(
                        "predictor_options only apply to a predictor given by name; configure "
                        "the predictor object yourself."
                    )
                self.shared = as_predictor(predictor)
            self.name = str(getattr(self.shared, "name", type(self.shared).__name__))

    def for_sample(self, sample: Sample) -> Any:
        if self.shared is not None:
            return self.shared
        from sddr_core.registry import create_predictor

        if self.from_sample:
            return create_predictor(self.name, sample=sample, device=self.device, **self.options)
        kind = self.options.get("kind", self.spec.kind)
        options = {k: v for k, v in self.options.items() if k != "kind"}
        return create_predictor(
            self.name,
            ground_truth=sample.gt_as(kind),
            kind=kind,
            device=self.device,
            **options,
        )


def _sample_metrics(
    sample: Sample, outputs: dict[str, MethodOutput], space: str
) -> dict[str, dict[str, Any]]:
    from sddr_core.metrics import (
        boundary_metrics,
        canny_depth_edges,
        depth_metrics,
        edge_metrics,
        gt_superpixels,
    )

    superpixels = gt_superpixels(sample.gt, sample.valid, kind=sample.gt_kind)
    gt_edges = canny_depth_edges(sample.gt_as("depth"), sample.valid)
    result = {}
    for method, out in outputs.items():
        common = {
            "mask": sample.valid,
            "space": space,
            "gt_kind": sample.gt_kind,
            "pred_kind": out.kind,
        }
        d = depth_metrics(out.depth, sample.gt, **common)
        e = edge_metrics(out.depth, sample.gt, superpixels=superpixels, **common)
        b = boundary_metrics(out.depth, sample.gt, gt_edges=gt_edges, **common)
        result[method] = {
            **{k: d[k] for k in ("delta1", "delta2", "delta3", "abs_rel", "sq_rel", "rmse")},
            "log10": d["log10"],
            "ord": e["ord"],
            "d3r": e["d3r"],
            "boundary_f1": e["boundary_f1"],
            "see": b["see"],
            "dbe_acc": b["dbe_acc"],
            "dbe_comp": b["dbe_comp"],
            "time": out.seconds,
            "scale": d["scale"],
            "shift": d["shift"],
            "n_valid": d["n_valid"],
            "n_clamped": d["n_clamped"],
            "n_ord_pairs": e["n_ord_pairs"],
            "n_d3r_pairs": e["n_d3r_pairs"],
            "n_see_pixels": b["n_see_pixels"],
            "n_gt_edges": b["n_gt_edges"],
            "predictor_calls": 1 if method in ("low", "high") else out.info.get("predictor_calls"),
        }
    return result


def evaluate_sample(
    sample: Sample,
    predictor: Any,
    methods: list[str],
    *,
    refiner: Any,
    poisson: Any,
    space: str = "disparity",
    device: Any = None,
    low_resolution: int | None = None,
    high_resolution: int | None = None,
    split: Any = None,
    snap: bool = True,
) -> tuple[dict[str, MethodOutput], dict[str, dict[str, Any]]]:
    """Run ``methods`` on one sample and measure them.

    Args:
        sample: the sample.
        predictor: a predictor object for this sample.
        methods: validated method names.
        refiner, poisson, split: refiner objects (see
            :func:`sddr_core.evaluation.run_methods`).
        space: alignment space of the metrics.
        device, low_resolution, high_resolution, snap: as in :func:`sddr_core.refine`.

    Returns:
        ``(outputs, metrics)``: ``{method: MethodOutput}`` and ``{method: {metric: value}}``.
    """
    outputs = run_methods(
        sample.rgb,
        predictor,
        methods,
        refiner=refiner,
        poisson=poisson,
        device=device,
        low_resolution=low_resolution,
        high_resolution=high_resolution,
        split=split,
        snap=snap,
    )
    return outputs, _sample_metrics(sample, outputs, space)


def _figure_path(name: str) -> str:
    """``figures/NAME.png`` relative to the report folder, with a file-system-safe NAME."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "sample"
    return f"{FIGURES_DIR}/{safe}.png"


def _resolutions(outputs: dict[str, MethodOutput]) -> dict[str, Any]:
    """The resolutions the predictor ran at (from the first refine call's info)."""
    for out in outputs.values():
        info = out.info
        if "low_resolution" in info:
            return {k: info[k] for k in ("low_resolution", "high_resolution") if k in info}
    return {}


def _jsonable_meta(meta: dict[str, Any]) -> dict[str, Any]:
    return {
        str(k): v for k, v in meta.items() if isinstance(v, (str, int, float, bool)) or v is None
    }


def evaluate(
    dataset: str | Dataset,
    predictor: str | Any,
    methods: str | Iterable[str] = ("low", "high", "poisson", "split", "one-stage"),
    *,
    refiner: Any = None,
    out_dir: str | os.PathLike[str] | None = None,
    space: str = "disparity",
    device: Any = None,
    progress: bool = True,
    overwrite: bool = False,
    figures: bool = True,
    limit: int | None = None,
    predictor_options: dict[str, Any] | None = None,
    low_resolution: int | None = None,
    high_resolution: int | None = None,
    snap: bool = True,
) -> EvalReport:
    """Run every method on every sample of ``dataset`` and measure them against the truth.

    The metrics are those of :mod:`sddr_core.metrics` after a least-squares scale-and-shift
    fit in ``space``; SLIC superpixels are computed once per ground truth. The methods are
    described in :mod:`sddr_core.evaluation.methods`.

    Args:
        dataset: a :class:`~sddr_core.datasets.base.Dataset` or a spec string
            (``"motorcycle"``, ``"middlebury:PATH"``, ``"folder:PATH"``, a path; see
            :func:`~sddr_core.datasets.base.load_dataset`).
        predictor: a registered predictor name or a predictor object. A name whose predictor
            needs the ground truth (``"simulated"``) is built per sample from it, in the
            predictor's own convention.
        methods: names from :data:`~sddr_core.evaluation.METHODS`, as a list or
            ``"low,high,..."``.
        refiner: the refiner of ``one-stage`` and ``two-stage``: None for the best available
            (the trained network, else Poisson fusion), a registered name, a ``.safetensors``
            path or a refiner object.
        out_dir: where to write ``results.md``, ``results.csv``, ``results.json`` and
            ``figures/NAME.png``; None writes nothing.
        space: ``"disparity"`` or ``"depth"``, the space of the alignment fit.
        device: torch device for the predictor and the refiner.
        progress: show a tqdm progress bar over samples.
        overwrite: replace existing report files and figures.
        figures: write a comparison figure per sample (when ``out_dir`` is given).
        limit: evaluate only the first ``limit`` samples.
        predictor_options: options for the predictor's factory (``weights=``, for
            ``simulated``: ``strength=``, ``seed=``, ``native_resolution=``).
        low_resolution, high_resolution: as in :func:`sddr_core.refine`.
        snap: snap the refiners' results (poisson, split, one-stage, two-stage) to the
            image's edges, as :func:`sddr_core.refine` does by default; low and high are the
            predictor's own maps either way.

    Returns:
        An :class:`~sddr_core.evaluation.EvalReport` (written to ``out_dir`` when given).

    Raises:
        InputError: unknown method or space, an empty dataset, a bad ``limit``;
        OutputExistsError: a report file or figure exists and ``overwrite`` is False (checked
        before any work where the sample names are known up front); UnknownNameError:
        unknown predictor or refiner.
    """
    from tqdm.auto import tqdm

    from sddr_core import __version__
    from sddr_core.evaluation.figures import write_comparison_figure
    from sddr_core.inference import as_refiner
    from sddr_core.io.files import check_writable

    if space not in ("disparity", "depth"):
        raise InputError(f"space must be 'disparity' or 'depth', got {space!r}.")
    method_list = parse_methods(methods)
    if limit is not None and (isinstance(limit, bool) or int(limit) < 1):
        raise InputError(f"limit must be a positive number of samples, got {limit!r}.")
    ds = load_dataset(dataset) if isinstance(dataset, (str, Path)) else dataset
    total = len(ds) if limit is None else min(len(ds), int(limit))
    if total == 0:
        raise InputError(f"dataset {getattr(ds, 'name', ds)!r} has no sample.")

    out = Path(out_dir) if out_dir is not None else None
    if out is not None:
        for name in REPORT_FILES.values():
            check_writable(out / name, overwrite=overwrite)
        names = getattr(ds, "names", None)
        if figures and names is not None:
            for name in list(names)[:total]:
                check_writable(out / _figure_path(name), overwrite=overwrite)

    source = _PredictorSource(predictor, predictor_options or {}, device)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ref = as_refiner(refiner, device=device)
    for w in caught:  # e.g. missing network weights: shown once, and noted in the report
        warnings.warn(w.message, w.category, stacklevel=2)
    poisson = as_refiner("poisson", device=device)
    split = as_refiner("split", device=device)

    notes = []
    if (
        ref.name == poisson.name
        and refiner is None
        and set(method_list) & {"one-stage", "two-stage"}
    ):
        notes.append(
            "no trained refiner weights are available, so one-stage and two-stage use "
            "Poisson fusion (refiner `poisson`)"
        )
    if caught:
        notes += [str(w.message) for w in caught]
    method_refiners: dict[str, str | None] = {
        "low": None,
        "high": None,
        "poisson": poisson.name,
        "split": split.name,
        "one-stage": ref.name,
        "two-stage": ref.name,
    }
    report = EvalReport(
        dataset=str(getattr(ds, "name", "dataset")),
        predictor=source.name,
        refiner=ref.name,
        space=space,
        methods=method_list,
        version=__version__,
        notes=notes,
        settings={
            "device": None if device is None else str(device),
            "low_resolution": low_resolution,
            "high_resolution": high_resolution,
            "snap": bool(snap),
            "limit": limit,
            "predictor_options": _jsonable_meta(dict(predictor_options or {})),
            "refiner_requested": None
            if refiner is None
            else str(getattr(refiner, "name", refiner)),
        },
        method_refiners={m: method_refiners[m] for m in method_list},
    )
    labels = {m: report.label(m) for m in method_list}

    bar = tqdm(
        itertools.islice(iter(ds), total),
        total=total,
        desc=f"eval {report.dataset}",
        unit="sample",
        disable=not progress,
    )
    for sample in bar:
        bar.set_postfix_str(sample.name, refresh=False)
        pred = source.for_sample(sample)
        outputs, metrics = evaluate_sample(
            sample,
            pred,
            method_list,
            refiner=ref,
            poisson=poisson,
            space=space,
            device=device,
            low_resolution=low_resolution,
            high_resolution=high_resolution,
            snap=snap,
            split=split,
        )
        figure = None
        if out is not None and figures:
            figure = _figure_path(sample.name)
            write_comparison_figure(
                out / figure,
                sample,
                outputs,
                metrics,
                space=space,
                labels=labels,
                title=f"{sample.name}: predictor {report.predictor}, refiner {ref.name}",
                overwrite=overwrite,
            )
        report.samples.append(
            SampleResult(
                name=sample.name,
                size=sample.shape,
                metrics=metrics,
                figure=figure,
                meta=_jsonable_meta({**sample.meta, **_resolutions(outputs)}),
            )
        )
    bar.close()
    if out is not None:
        report.write(out, overwrite=overwrite)
    return report
