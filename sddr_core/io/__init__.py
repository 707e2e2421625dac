"""Files in and out: depth maps (:mod:`.depth`), previews and figures (:mod:`.preview`),
and the atomic, no-overwrite write that both use (:mod:`.files`)."""

from sddr_core.io.depth import DEPTH_FORMATS, DepthFile, read_depth, write_depth
from sddr_core.io.files import atomic_write
from sddr_core.io.images import load_image
from sddr_core.io.preview import COLORMAPS, IMAGE_FORMATS, colorize, side_by_side, write_image

__all__ = [
    "COLORMAPS",
    "DEPTH_FORMATS",
    "IMAGE_FORMATS",
    "DepthFile",
    "atomic_write",
    "colorize",
    "load_image",
    "read_depth",
    "side_by_side",
    "write_depth",
    "write_image",
]
