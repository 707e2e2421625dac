"""``RefinedDepth``: what :func:`sddr_core.refine` returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sddr_core.ops.align import depth_to_disparity, disparity_to_depth, normalize_minmax
from sddr_core.predictors.base import DepthKind

__all__ = ["RefinedDepth"]


@dataclass
class RefinedDepth:
    """A refined depth map and what produced it.

    Attributes:
        depth: float32 ``(H, W)`` at the input image's size, in the predictor's convention
            (``kind``) and the scale of its low-resolution prediction.
        kind: ``"disparity"`` (larger = nearer) or ``"depth"`` (larger = farther).
        edges: float32 ``(H, W)`` edge map G of ``depth`` (larger = stronger depth edge).
        low: float32 ``(H, W)``, the low-resolution prediction resized to the image size.
        high: float32 ``(H, W)``, the high-resolution prediction resized to the image size.
        timings: seconds per stage (``predict-low``, ``predict-high``, ``refine``, ...,
            ``snap``, ``total``).
        omega: float32 ``(H, W)`` in ``[0, 1]`` where the refiner trusted the high input, or
            ``None``.
        info: what ran: predictor, refiner, mode, resolutions, working size, call counts;
            ``snap_radius`` and ``snapped_pixels`` when the edges were snapped to the image.
    """

    depth: np.ndarray
    kind: DepthKind
    edges: np.ndarray
    low: np.ndarray
    high: np.ndarray
    timings: dict[str, float] = field(default_factory=dict)
    omega: np.ndarray | None = None
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, int]:
        return self.depth.shape  # type: ignore[return-value]

    def to_depth(self) -> np.ndarray:
        """Relative depth, larger = farther, float32 ``(H, W)`` (positive)."""
        if self.kind == "depth":
            return self.depth.astype(np.float32, copy=True)
        return disparity_to_depth(self.depth)

    def to_disparity(self) -> np.ndarray:
        """Relative disparity (inverse depth), larger = nearer, float32 ``(H, W)``."""
        if self.kind == "disparity":
            return self.depth.astype(np.float32, copy=True)
        return depth_to_disparity(self.depth)

    def to_controlnet(self) -> np.ndarray:
        """The ControlNet depth hint: float32 ``(H, W, 3)`` in ``[0, 1]``, near = white.

        Disparity normalised to its full range, as the MiDaS / Depth Anything preprocessors
        that depth ControlNets were trained with produce it.
        """
        disp = normalize_minmax(self.to_disparity())
        return np.repeat(disp[..., None], 3, axis=2)

    def save(self, path: str | Path, *, overwrite: bool = False) -> Path:
        """Write ``depth`` to ``path``; the format follows the extension.

        ``.png`` 16-bit (range stored in the file, so reading gives the values back within
        quantisation), ``.exr``, ``.npy``, ``.pfm``, ``.tif``/``.tiff`` (float32). Refuses to
        replace an existing file unless ``overwrite=True``.
        """
        from sddr_core.io.depth import write_depth

        meta = {k: str(v) for k, v in self.info.items() if isinstance(v, (str, int, float))}
        return write_depth(path, self.depth, overwrite=overwrite, kind=self.kind, meta=meta)

    def __repr__(self) -> str:
        h, w = self.depth.shape
        return (
            f"RefinedDepth({w}x{h}, kind={self.kind!r}, refiner={self.info.get('refiner')!r}, "
            f"mode={self.info.get('mode')!r}, total={self.timings.get('total', 0):.2f}s)"
        )
