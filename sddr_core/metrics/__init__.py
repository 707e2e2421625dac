"""Evaluation metrics: pure numpy functions (METHOD.md section 6).

- :mod:`~sddr_core.metrics.depth`: δ1-3, AbsRel, SqRel, RMSE, log10 after a least-squares
  scale-and-shift fit (:func:`depth_metrics`, :func:`align_prediction`, :func:`valid_mask`).
- :mod:`~sddr_core.metrics.edges`: Boost's ORD and D³R over ground-truth superpixels and Depth
  Pro's boundary F1 (:func:`ord_error`, :func:`d3r_error`, :func:`boundary_f1`,
  :func:`edge_metrics`; :func:`gt_superpixels` to run SLIC once per ground truth).
- :mod:`~sddr_core.metrics.boundaries`: PatchFusion's Soft Edge Error and iBims-1's depth
  boundary errors DBE_acc / DBE_comp (:func:`soft_edge_error`, :func:`depth_boundary_error`,
  :func:`boundary_metrics`).
"""

from sddr_core.metrics.boundaries import (
    boundary_metrics,
    canny_depth_edges,
    depth_boundary_error,
    depth_jump_edges,
    soft_edge_error,
)
from sddr_core.metrics.depth import AlignedDepth, align_prediction, depth_metrics, valid_mask
from sddr_core.metrics.edges import (
    BOUNDARY_THRESHOLDS,
    Superpixels,
    boundary_f1,
    d3r_error,
    edge_metrics,
    gt_superpixels,
    ord_error,
)

__all__ = [
    "BOUNDARY_THRESHOLDS",
    "AlignedDepth",
    "Superpixels",
    "align_prediction",
    "boundary_f1",
    "boundary_metrics",
    "canny_depth_edges",
    "d3r_error",
    "depth_boundary_error",
    "depth_jump_edges",
    "depth_metrics",
    "edge_metrics",
    "gt_superpixels",
    "ord_error",
    "soft_edge_error",
    "valid_mask",
]
