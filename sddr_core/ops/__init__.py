"""Pure array functions used by every part of sddr: no IO, no state."""

from sddr_core.ops.align import (
    apply_scale_shift,
    depth_to_disparity,
    disparity_to_depth,
    fit_scale_shift,
    normalize_minmax,
    normalize_robust,
)
from sddr_core.ops.edges import edge_map, sobel_magnitude
from sddr_core.ops.local_range import clamp_to_local_range, local_range
from sddr_core.ops.maps import as_depth_map
from sddr_core.ops.poisson import poisson_fuse, trust_map
from sddr_core.ops.resize import (
    resize_long_side,
    resize_map,
    round_to_multiple,
    working_shape,
)
from sddr_core.ops.resolution import adaptive_resolution, edge_density
from sddr_core.ops.split import gaussian_split

__all__ = [
    "adaptive_resolution",
    "apply_scale_shift",
    "as_depth_map",
    "clamp_to_local_range",
    "depth_to_disparity",
    "disparity_to_depth",
    "edge_density",
    "edge_map",
    "fit_scale_shift",
    "gaussian_split",
    "local_range",
    "normalize_minmax",
    "normalize_robust",
    "poisson_fuse",
    "resize_long_side",
    "resize_map",
    "round_to_multiple",
    "sobel_magnitude",
    "trust_map",
    "working_shape",
]
