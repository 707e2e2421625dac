"""Per-sample comparison figures: every method's depth, error and edges beside the truth.

Layout (one PNG per sample): the first row holds the image, the ground truth and the ground
truth's edge map; then one row per method with

* its prediction, coloured (turbo, near = warm; each map spread over its own 1st-99th
  percentile, as the metrics are scale-and-shift invariant);
* its per-pixel absolute relative error ``|d − d*| / d*`` after the same alignment the metrics
  used (:func:`sddr_core.metrics.align_prediction`), on one colour scale shared by every
  method (black where the ground truth is unknown); its mean is the AbsRel column;
* its edge map G (:func:`sddr_core.ops.edge_map`), grey, each over its own range.

Maps are shown at most :data:`MAX_PANEL_SIDE` pixels on their long side, and a figure whose
lossless PNG would exceed :data:`MAX_FIGURE_BYTES` is stored with a 256-colour palette, to keep
files small.
"""

from __future__ import annotations

import io
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from sddr_core.datasets.base import Sample
from sddr_core.evaluation.methods import MethodOutput
from sddr_core.io.files import atomic_write, check_writable

__all__ = [
    "MAX_FIGURE_BYTES",
    "MAX_PANEL_SIDE",
    "comparison_figure",
    "write_comparison_figure",
]

#: Long side, in pixels, maps are reduced to before plotting.
MAX_PANEL_SIDE = 480
#: A figure larger than this as an RGB PNG is stored with a 256-colour palette instead.
MAX_FIGURE_BYTES = 1_400_000
_PANEL_BOX_IN = 3.4
_DPI = 100


def _shrink(x: np.ndarray, interpolation: int) -> np.ndarray:
    h, w = x.shape[:2]
    s = MAX_PANEL_SIDE / max(h, w)
    if s >= 1:
        return x
    size = (max(1, round(w * s)), max(1, round(h * s)))
    return cv2.resize(np.ascontiguousarray(x), size, interpolation=interpolation)


def _rgb_uint8(rgb: np.ndarray) -> np.ndarray:
    if rgb.dtype == np.uint8:
        return rgb
    return np.rint(np.clip(np.nan_to_num(rgb), 0.0, 1.0) * 255.0).astype(np.uint8)


def _edges(depth: np.ndarray) -> np.ndarray:
    from sddr_core.ops.edges import edge_map
    from sddr_core.ops.holes import fill_invalid

    return edge_map(fill_invalid(np.asarray(depth, dtype=np.float32)))


def _edge_limit(g: np.ndarray) -> float:
    hi = float(np.percentile(g, 99.5))
    return hi if hi > 0 else float(g.max()) or 1.0


def comparison_figure(
    sample: Sample,
    outputs: Mapping[str, MethodOutput],
    metrics: Mapping[str, Mapping[str, Any]],
    *,
    space: str = "disparity",
    labels: Mapping[str, str] | None = None,
    title: str | None = None,
) -> Any:
    """A matplotlib :class:`~matplotlib.figure.Figure` comparing ``outputs`` on ``sample``.

    Args:
        sample: the sample (image, ground truth, valid mask).
        outputs: ``{method: MethodOutput}`` from :func:`sddr_core.evaluation.run_methods`.
        metrics: ``{method: metrics}``; AbsRel, D³R and bF1 go into the panel titles.
        space: the alignment space the metrics used.
        labels: display names of the methods (default: the method names).
        title: the figure's title.

    Returns:
        The figure (not attached to pyplot; save it with ``fig.savefig``).
    """
    from matplotlib.figure import Figure

    from sddr_core.io.preview import colorize
    from sddr_core.metrics import align_prediction

    labels = dict(labels or {})
    h, w = sample.shape
    nearest, area = cv2.INTER_NEAREST, cv2.INTER_AREA
    errors: dict[str, np.ndarray] = {}
    for method, out in outputs.items():
        al = align_prediction(
            out.depth,
            sample.gt,
            mask=sample.valid,
            space=space,  # type: ignore[arg-type]
            gt_kind=sample.gt_kind,
            pred_kind=out.kind,
        )
        err = np.full((h, w), np.nan, dtype=np.float32)
        err[al.valid] = np.abs(al.pred[al.valid] - al.gt[al.valid]) / al.gt[al.valid]
        errors[method] = err
    finite = [e[np.isfinite(e)] for e in errors.values()]
    finite = [f for f in finite if f.size]
    vmax = float(np.percentile(np.concatenate(finite), 99)) if finite else 1.0
    vmax = vmax if vmax > 0 else 1.0

    rows = 1 + len(outputs)
    scale = _PANEL_BOX_IN / max(h, w)  # each panel fits a square box
    panel_w, panel_h = w * scale, h * scale
    # Fixed layout in inches: a label margin, three columns, a title strip above each row,
    # the colour bar of the error column below the last row.
    left, gap, title_h, top = 0.32, 0.08, 0.28, (0.4 if title else 0.05)
    grid_h = rows * (title_h + panel_h)
    fig_w = left + 3 * panel_w + 2 * gap + 0.08
    fig_h = top + grid_h + 0.75
    fig = Figure(figsize=(fig_w, fig_h), dpi=_DPI)
    if title:
        fig.suptitle(title, fontsize=11, y=1 - 0.12 / fig_h, va="top")
    axes = np.empty((rows, 3), dtype=object)
    for r in range(rows):
        y = top + r * (title_h + panel_h) + title_h + panel_h  # bottom edge, from the top
        for c in range(3):
            x = left + c * (panel_w + gap)
            axes[r, c] = fig.add_axes((x / fig_w, 1 - y / fig_h, panel_w / fig_w, panel_h / fig_h))
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
        for spine in ax.spines.values():
            spine.set_visible(False)
    bar_y = top + grid_h + 0.12 + 0.14
    bar_axes = fig.add_axes(
        ((left + panel_w + gap) / fig_w, 1 - bar_y / fig_h, panel_w / fig_w, 0.14 / fig_h)
    )

    gt_kind = sample.gt_kind
    gt_edges = _edges(sample.gt)
    axes[0, 0].imshow(_shrink(_rgb_uint8(sample.rgb), area))
    axes[0, 0].set_title("image", fontsize=9)
    axes[0, 0].set_ylabel("input", fontsize=10)
    gt_rgb = colorize(sample.gt, kind=gt_kind, valid=sample.valid)
    axes[0, 1].imshow(_shrink(gt_rgb, area))
    axes[0, 1].set_title(f"ground truth ({gt_kind})", fontsize=9)
    axes[0, 2].imshow(_shrink(gt_edges, area), cmap="gray", vmin=0, vmax=_edge_limit(gt_edges))
    axes[0, 2].set_title("ground-truth edges", fontsize=9)

    error_image = None
    for row, (method, out) in enumerate(outputs.items(), start=1):
        m = metrics.get(method, {})
        ax_d, ax_e, ax_g = axes[row]
        ax_d.imshow(_shrink(colorize(out.depth, kind=out.kind), area))
        ax_d.set_ylabel(labels.get(method, method), fontsize=10)
        ax_d.set_title(f"{out.kind}, δ1 {_num(m.get('delta1'))}", fontsize=9)
        cmap = _error_cmap()
        error_image = ax_e.imshow(_shrink(errors[method], nearest), cmap=cmap, vmin=0.0, vmax=vmax)
        ax_e.set_title(f"|d−d*|/d*, AbsRel {_num(m.get('abs_rel'))}", fontsize=9)
        g = _edges(out.depth)
        ax_g.imshow(_shrink(g, area), cmap="gray", vmin=0, vmax=_edge_limit(g))
        ax_g.set_title(
            f"edges, D³R {_num(m.get('d3r'))}, bF1 {_num(m.get('boundary_f1'))}", fontsize=9
        )
    if error_image is None:
        bar_axes.set_visible(False)
    else:
        cbar = fig.colorbar(error_image, cax=bar_axes, orientation="horizontal")
        cbar.set_label(f"|d−d*|/d* after alignment in {space} space", fontsize=8)
        cbar.ax.tick_params(labelsize=7)
    return fig


def _error_cmap() -> Any:
    import matplotlib

    return matplotlib.colormaps["inferno"].with_extremes(bad="black")


def _num(v: Any) -> str:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return "–"
    return f"{f:.3f}" if np.isfinite(f) else "–"


def write_comparison_figure(
    path: str | os.PathLike[str],
    sample: Sample,
    outputs: Mapping[str, MethodOutput],
    metrics: Mapping[str, Mapping[str, Any]],
    *,
    space: str = "disparity",
    labels: Mapping[str, str] | None = None,
    title: str | None = None,
    overwrite: bool = False,
) -> Path:
    """Draw :func:`comparison_figure` and save it as PNG, atomically.

    Raises:
        OutputExistsError: ``path`` exists and ``overwrite`` is False.
    """
    check_writable(path, overwrite=overwrite)
    fig = comparison_figure(sample, outputs, metrics, space=space, labels=labels, title=title)
    data = _png_bytes(fig)
    return atomic_write(path, lambda fh: fh.write(data), overwrite=overwrite)


def _png_bytes(fig: Any) -> bytes:
    """The figure as an RGB PNG; as a 256-colour palette PNG when that exceeds
    :data:`MAX_FIGURE_BYTES` (large images, many methods)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from PIL import Image

    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    image = Image.fromarray(np.asarray(canvas.buffer_rgba())[..., :3])
    buf = io.BytesIO()
    image.save(buf, format="PNG", optimize=True)
    if buf.tell() > MAX_FIGURE_BYTES:
        buf = io.BytesIO()
        palette = image.quantize(256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
        palette.save(buf, format="PNG", optimize=True)
    return buf.getvalue()
