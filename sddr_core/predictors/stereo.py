"""Stereo matchers as depth predictors: OpenCV's semi-global (SGBM) and block matching (BM),
and three optical-flow methods used as dense matchers (OpenCV's DIS, scikit-image's TV-L1 and
iterative Lucas-Kanade).

A :class:`StereoPredictor` holds a rectified stereo pair and answers ``predict(image,
resolution)`` like a monocular predictor: it downscales the pair so its long side is
``resolution``, matches it with OpenCV, fills the pixels the matcher leaves invalid (occlusions,
low texture, the image border) from the background side along each scanline, as stereo tools
do, and returns disparity. These are real estimators with real errors, unlike the
``simulated`` predictor: at a low resolution the matching window covers more of the scene, so
thin parts vanish and boundaries fatten; at a high resolution the map is sharp but noisy, with
streaks where texture is weak (BM far more than SGBM).

The optical-flow matcher (``dis``: OpenCV's dense inverse search flow, medium preset) searches
in two dimensions from coarse to fine and regularises the field, so its errors differ from the
window matchers': smooth, rounded boundaries that bleed into the background, over-smoothed thin
parts, layout errors in weak texture, and no streaks. Its horizontal flow from the left to the
right view is minus the disparity; a forward-backward check (the flow from the right view back
must bring a pixel home within a pixel) and a same-row check (a rectified pair's matches share
a row) mark occlusions and failed matches, which are filled like the window matchers'.
Band-fusion stages 1-6 trained with SGBM and BM passes only (:mod:`sddr_core.train.band`), so
for them ``stereo-dis`` was a real estimator never seen; stage 9 (the default since
2026-12-05) was fine-tuned with DIS too.
(Farnebäck's flow was tried too and dropped: with Middlebury's disparities of up to 80 px its
δ1 was 0.35 at any pyramid depth, useless as a predictor.)

Two more flow matchers, from scikit-image (the ``eval`` extra), are there to *evaluate* on
estimators that no refiner here trained on or was chosen with: ``tvl1``
(:func:`skimage.registration.optical_flow_tvl1`, a total-variation regularised flow: piecewise
smooth fields with staircased slopes, and wrong layouts where a region has no texture) and
``ilk`` (:func:`skimage.registration.optical_flow_ilk`, iterative Lucas-Kanade over 15×15
windows: blurred boundaries, no regularisation across a region). Both are weaker than DIS on
Middlebury 2006 (δ1 about 0.77 against 0.88, mostly from the textureless ``lampshade`` and
``bowling`` scenes) and go through the same checks and hole fill.

Conventions:

- The pair is rectified: a point at column ``x`` of the left view is at ``x − d`` in the right
  view, ``d ≥ 0`` (Middlebury's convention).
- The reference view (the one ``predict`` is asked about) is the left one by default; with
  ``view="right"`` the right view is the reference, matched by mirroring the pair.
- Output disparity is in pixels *of the full-size pair*, whatever resolution it was matched
  at, so the low and high passes share a scale (sddr fits scale and shift anyway).

In ``sddr eval`` the predictors ``stereo-<method>`` (``sgbm``, ``bm``, ``dis``, ``tvl1``,
``ilk``) are built per sample from its stereo pair (``meta["left"]`` and ``meta["right"]``, as the
``middlebury2006`` loader gives).
"""

from __future__ import annotations

import math
from typing import Any, Literal

import cv2
import numpy as np

from sddr_core.errors import InputError, ShapeError
from sddr_core.hookspecs import hookimpl
from sddr_core.ops.holes import fill_disparity_holes
from sddr_core.predictors.base import Box, PredictorSpec

__all__ = [
    "FLOW_METHODS",
    "STEREO_METHODS",
    "StereoPredictor",
    "stereo_predictor_for_sample",
]

StereoMethod = Literal["sgbm", "bm", "dis", "tvl1", "ilk"]

#: The matchers, with their matching window (in pixels at the working resolution; TV-L1 has
#: none, its smoothness is global).
STEREO_METHODS: dict[str, int] = {"sgbm": 5, "bm": 11, "dis": 8, "tvl1": 0, "ilk": 15}

#: The optical-flow matchers among :data:`STEREO_METHODS`.
FLOW_METHODS = ("dis", "tvl1", "ilk")

#: The matchers that need scikit-image (``pip install "sddr[eval]"``).
SKIMAGE_METHODS = ("tvl1", "ilk")

_DESCRIPTIONS = {
    "sgbm": "OpenCV StereoSGBM",
    "bm": "OpenCV StereoBM",
    "dis": "OpenCV DIS optical flow as a stereo matcher",
    "tvl1": "scikit-image TV-L1 optical flow as a stereo matcher",
    "ilk": "scikit-image iterative Lucas-Kanade flow as a stereo matcher",
}

#: Default native (low-pass) resolution, long side: about 0.4 of a third-size Middlebury pair.
DEFAULT_NATIVE_RESOLUTION = 192

_ROW_MARGIN = 8  # rows of context above and below a window, full-size pixels


def _as_uint8_rgb(image: Any, what: str) -> np.ndarray:
    arr = np.asarray(image)
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise ShapeError(f"{what} must be an (H, W, 3) RGB image, got shape {arr.shape}.")
    if arr.dtype == np.uint8:
        return np.ascontiguousarray(arr)
    if np.issubdtype(arr.dtype, np.floating):
        if not np.isfinite(arr).all():
            raise InputError(f"{what} has non-finite values; give RGB in [0, 1] or uint8.")
        return np.ascontiguousarray(np.clip(np.round(arr * 255.0), 0, 255).astype(np.uint8))
    raise InputError(f"{what} must be uint8 or float RGB in [0, 1], got {arr.dtype}.")


class StereoPredictor:
    """A stereo matcher on a fixed rectified pair, seen as a disparity predictor.

    Args:
        left_rgb: the left view, ``(H, W, 3)`` uint8 or float in ``[0, 1]``.
        right_rgb: the right view, same size.
        method: ``"sgbm"`` (OpenCV StereoSGBM, 3-way, 5×5 window), ``"bm"`` (StereoBM on
            grey levels, 11×11 window), ``"dis"`` (DIS optical flow, medium preset, 8×8
            patches), ``"tvl1"`` or ``"ilk"`` (scikit-image's TV-L1 and Lucas-Kanade flows;
            they need scikit-image); see the module docstring.
        native_resolution: the long side of the low (native) pass; ``refine`` runs the high
            pass above it, up to :attr:`max_resolution`.
        name: the label in reports; default ``"stereo-<method>"``.
        max_disparity: the largest disparity searched, in full-size pixels; default a quarter
            of the width.
        view: ``"left"`` or ``"right"``, the reference view whose disparity is predicted.
        max_resolution: the largest long side the pair is matched at; default the pair's own
            long side (upsampling a pair adds no information).
        fill_holes: fill the pixels the matcher leaves invalid (default, what ``refine`` and
            ``sddr eval`` need: a predictor answers every pixel), or leave them NaN, for
            :func:`sddr_core.refine_depths`, which then keeps the low pass there.

    Raises:
        InputError: unknown method or view, bad numbers, or scikit-image missing for
            ``tvl1``/``ilk``; ShapeError: the views differ in size.
    """

    kind = "disparity"
    size_multiple = 1

    def __init__(
        self,
        left_rgb: Any,
        right_rgb: Any,
        *,
        method: StereoMethod = "sgbm",
        native_resolution: int,
        name: str | None = None,
        max_disparity: float | None = None,
        view: Literal["left", "right"] = "left",
        max_resolution: int | None = None,
        fill_holes: bool = True,
    ) -> None:
        if method not in STEREO_METHODS:
            raise InputError(
                f"stereo method must be one of {', '.join(STEREO_METHODS)}, got {method!r}."
            )
        if view not in ("left", "right"):
            raise InputError(f"view must be 'left' or 'right', got {view!r}.")
        if method in SKIMAGE_METHODS:
            try:
                import skimage.registration  # noqa: F401
            except ImportError as exc:
                raise InputError(
                    f"the {method!r} matcher uses scikit-image, which is not installed: "
                    'pip install "sddr[eval]" (or scikit-image), or use sgbm, bm or dis.'
                ) from exc
        left = _as_uint8_rgb(left_rgb, "the left view")
        right = _as_uint8_rgb(right_rgb, "the right view")
        if left.shape != right.shape:
            raise ShapeError(
                f"the stereo views differ in size: left {left.shape[1]}x{left.shape[0]}, right "
                f"{right.shape[1]}x{right.shape[0]}; a rectified pair has one size."
            )
        h, w = left.shape[:2]
        if min(h, w) < 16:
            raise InputError(f"the stereo pair is {w}x{h}; it needs at least 16x16 pixels.")
        if int(native_resolution) < 16:
            raise InputError(f"native_resolution must be at least 16, got {native_resolution}.")
        self.method: StereoMethod = method
        self.view = view
        self.name = name or f"stereo-{method}"
        self.native_resolution = int(native_resolution)
        self.max_disparity = float(max_disparity) if max_disparity is not None else w / 4.0
        if not 1.0 <= self.max_disparity < w:
            raise InputError(
                f"max_disparity must be at least 1 and below the width {w}, got "
                f"{self.max_disparity}."
            )
        self.max_resolution = int(max_resolution or max(h, w))
        self.fill_holes = bool(fill_holes)
        # Matching always runs with the reference view on the left: mirror for view="right".
        if view == "left":
            self._ref, self._other = left, right
        else:
            self._ref = np.ascontiguousarray(right[:, ::-1])
            self._other = np.ascontiguousarray(left[:, ::-1])
        self._shape = (h, w)

    # -- the predictor protocol ---------------------------------------------------------------

    def predict(self, image: np.ndarray, resolution: int) -> np.ndarray:
        """Disparity of the whole reference view, matched with the long side at
        ``resolution``: float32 ``(h, w)`` at that size, in full-size pixels."""
        h, w = self._shape
        return self.predict_region(image, (0, 0, h, w), resolution)

    def predict_region(self, image: np.ndarray, box: Box, resolution: int) -> np.ndarray:
        """Disparity of the ``(top, left, bottom, right)`` window, matched with the window's
        long side at ``resolution``.

        The window is matched with context: the crop of both views extends left by the
        disparity range (so the window's pixels find their match in the other view) and a few
        rows up and down; the answer is cut back to the window. Returns float32 at the
        window's size scaled to ``resolution``, in full-size pixels.
        """
        self._check_image(image)
        h, w = self._shape
        top, left, bottom, right = (int(v) for v in box)
        if not (0 <= top < bottom <= h and 0 <= left < right <= w):
            raise InputError(f"window {box} is outside the {w}x{h} image.")
        if self.view == "right":  # mirrored frame
            left, right = w - right, w - left
        scale = float(resolution) / max(bottom - top, right - left)
        if scale <= 0:
            raise InputError(f"resolution must be positive, got {resolution}.")
        out_h = max(1, round((bottom - top) * scale))
        out_w = max(1, round((right - left) * scale))
        margin = int(math.ceil(self.max_disparity))
        r0, r1 = max(0, top - _ROW_MARGIN), min(h, bottom + _ROW_MARGIN)
        c0 = max(0, left - margin)
        ref = self._ref[r0:r1, c0:right]
        other = self._other[r0:r1, c0:right]
        size = (max(1, round(ref.shape[1] * scale)), max(1, round(ref.shape[0] * scale)))
        disp = self._match(_resize(ref, size), _resize(other, size), scale)
        # Cut the window out of the context (working-size coordinates), at the exact size.
        y0, x0 = round((top - r0) * scale), round((left - c0) * scale)
        win = disp[y0 : y0 + out_h, x0 : x0 + out_w]
        if win.shape != (out_h, out_w):
            win = cv2.resize(win, (out_w, out_h), interpolation=cv2.INTER_LINEAR)
        if self.view == "right":
            win = win[:, ::-1]
        return np.ascontiguousarray(win, dtype=np.float32)

    # -- matching -----------------------------------------------------------------------------

    def _matcher(self, num_disparities: int) -> Any:
        block = STEREO_METHODS[self.method]
        if self.method == "sgbm":
            return cv2.StereoSGBM_create(
                minDisparity=0,
                numDisparities=num_disparities,
                blockSize=block,
                P1=8 * 3 * block * block,
                P2=32 * 3 * block * block,
                disp12MaxDiff=1,
                uniquenessRatio=10,
                speckleWindowSize=50,
                speckleRange=2,
                preFilterCap=63,
                mode=cv2.STEREO_SGBM_MODE_SGBM_3WAY,
            )
        bm = cv2.StereoBM_create(numDisparities=num_disparities, blockSize=block)
        bm.setPreFilterCap(31)
        bm.setTextureThreshold(10)
        bm.setUniquenessRatio(15)
        bm.setSpeckleWindowSize(50)
        bm.setSpeckleRange(2)
        bm.setDisp12MaxDiff(1)
        return bm

    def _match(self, ref: np.ndarray, other: np.ndarray, scale: float) -> np.ndarray:
        """Match a (working-size) pair; disparity in full-size pixels, holes filled (or NaN
        without ``fill_holes``)."""
        if self.method in FLOW_METHODS:
            return self._match_flow(ref, other, scale)
        num = max(16, int(math.ceil((self.max_disparity * scale + 1) / 16.0)) * 16)
        block = STEREO_METHODS[self.method]
        # Pad on the left so matching reaches the image border (OpenCV leaves the first
        # num_disparities columns invalid), and below/right so the window fits.
        pad_y = max(0, block - ref.shape[0])
        pad_x = max(0, block - ref.shape[1])
        a = cv2.copyMakeBorder(ref, 0, pad_y, num, pad_x, cv2.BORDER_REPLICATE)
        b = cv2.copyMakeBorder(other, 0, pad_y, num, pad_x, cv2.BORDER_REPLICATE)
        if self.method == "bm":
            a = cv2.cvtColor(a, cv2.COLOR_RGB2GRAY)
            b = cv2.cvtColor(b, cv2.COLOR_RGB2GRAY)
        raw = self._matcher(num).compute(a, b)
        raw = raw[: ref.shape[0], num : num + ref.shape[1]]
        valid = raw >= 0  # OpenCV marks invalid pixels with (minDisparity - 1) * 16
        disp = raw.astype(np.float32) / 16.0
        # A match whose partner lies left of the right view's border is not a match.
        cols = np.arange(ref.shape[1], dtype=np.float32)[None, :]
        valid &= disp <= cols + 0.5
        return self._holes(disp, valid) / np.float32(scale)

    def _flow(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Dense flow ``(H, W, 2)`` (x, y) from grey uint8 ``a`` to ``b``:
        ``a(p) ≈ b(p + flow(p))``."""
        if self.method == "dis":
            dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
            return dis.calc(a, b, None)
        from skimage.registration import optical_flow_ilk, optical_flow_tvl1

        a32 = a.astype(np.float32) / 255.0
        b32 = b.astype(np.float32) / 255.0
        if self.method == "tvl1":  # skimage: reference(p) ≈ moving(p + (v, u)), rows first
            v, u = optical_flow_tvl1(a32, b32, attachment=50.0)
        else:
            v, u = optical_flow_ilk(a32, b32, radius=STEREO_METHODS["ilk"] // 2)
        return np.dstack([u, v]).astype(np.float32)

    def _match_flow(self, ref: np.ndarray, other: np.ndarray, scale: float) -> np.ndarray:
        """Disparity from optical flow: ``d = −flow_x`` left to right, kept where the flow
        back from the right view returns within a pixel, the flow stays on its row (within a
        pixel) and ``d`` is in the searched range."""
        h, w = ref.shape[:2]
        pad = max(0, 16 - min(h, w))  # the flows need a few pixels on each side
        a = cv2.cvtColor(ref, cv2.COLOR_RGB2GRAY)
        b = cv2.cvtColor(other, cv2.COLOR_RGB2GRAY)
        if pad:
            a = cv2.copyMakeBorder(a, 0, pad, 0, pad, cv2.BORDER_REPLICATE)
            b = cv2.copyMakeBorder(b, 0, pad, 0, pad, cv2.BORDER_REPLICATE)
        fwd = self._flow(a, b)[:h, :w]
        back = self._flow(b, a)[:h, :w]
        disp = -fwd[..., 0]
        ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
        map_x, map_y = xs + fwd[..., 0], ys + fwd[..., 1]
        returned = cv2.remap(
            back, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=1e4
        )
        round_trip = np.hypot(fwd[..., 0] + returned[..., 0], fwd[..., 1] + returned[..., 1])
        valid = (round_trip <= 1.0) & (disp >= -0.5) & (disp <= self.max_disparity * scale)
        valid &= np.abs(fwd[..., 1]) <= 1.0  # the pair is rectified: matches share a row
        valid &= disp <= xs + 0.5  # the partner must lie inside the right view
        return self._holes(np.maximum(disp, 0.0), valid) / np.float32(scale)

    def _holes(self, disp: np.ndarray, valid: np.ndarray) -> np.ndarray:
        if self.fill_holes:
            return fill_disparity_holes(disp, valid)
        return np.where(valid, disp, np.nan).astype(np.float32)

    def _check_image(self, image: Any) -> None:
        shape = np.shape(image)
        if tuple(shape[:2]) != self._shape:
            h, w = self._shape
            raise InputError(
                f"{self.name} was built for the {w}x{h} {self.view} view of a stereo pair but "
                f"got a {shape[1] if len(shape) > 1 else '?'}x{shape[0]} image; build it from "
                "this image's stereo pair."
            )

    def __repr__(self) -> str:
        h, w = self._shape
        return (
            f"StereoPredictor({self.name!r}, {w}x{h}, method={self.method!r}, view="
            f"{self.view!r}, native_resolution={self.native_resolution}, max_disparity="
            f"{self.max_disparity:g})"
        )


def _resize(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    if (image.shape[1], image.shape[0]) == size:
        return image
    shrink = size[0] < image.shape[1]
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA if shrink else cv2.INTER_CUBIC)


def stereo_predictor_for_sample(
    sample: Any, *, method: StereoMethod, name: str | None = None, **options: Any
) -> StereoPredictor:
    """The stereo predictor for one evaluation sample, from its stereo pair.

    Args:
        sample: a :class:`~sddr_core.datasets.base.Sample` whose ``meta`` has ``"left"`` and
            ``"right"`` views (the ``middlebury2006`` loader's samples) and ``"view"``.
        method: one of :data:`STEREO_METHODS`.
        name: the predictor's label.
        **options: ``native_resolution``, ``max_disparity``, ``max_resolution``.

    Raises:
        InputError: the sample has no stereo pair.
    """
    meta = getattr(sample, "meta", None) or {}
    if meta.get("right") is None or meta.get("left") is None:
        raise InputError(
            f"stereo-{method} needs a stereo pair, but sample {meta.get('name', '?')!r} has "
            "no meta['left'] / meta['right'] views; evaluate it on a stereo dataset such as "
            "middlebury2006:PATH, or build StereoPredictor(left, right) yourself."
        )
    options.setdefault("native_resolution", DEFAULT_NATIVE_RESOLUTION)
    return StereoPredictor(
        meta["left"],
        meta["right"],
        method=method,
        name=name,
        view=meta.get("view", "left"),
        **options,
    )


def _factory(method: StereoMethod) -> Any:
    def factory(sample: Any = None, **options: Any) -> StereoPredictor:
        options.pop("device", None)
        options.pop("kind", None)
        if sample is None:
            raise InputError(
                f"the 'stereo-{method}' predictor needs a stereo pair: build it with "
                f"StereoPredictor(left, right, method={method!r}, native_resolution=...) or "
                f"create_predictor('stereo-{method}', sample=sample) for a sample with "
                "meta['left'] and meta['right']. `sddr eval` on middlebury2006:PATH builds it "
                "for you."
            )
        return stereo_predictor_for_sample(sample, method=method, **options)

    return factory


def _library(method: str) -> str:
    return "scikit-image" if method in SKIMAGE_METHODS else "OpenCV"


@hookimpl
def sddr_register_predictors() -> list[PredictorSpec]:
    return [
        PredictorSpec(
            name=f"stereo-{method}",
            factory=_factory(method),  # type: ignore[arg-type]
            kind="disparity",
            native_resolution=DEFAULT_NATIVE_RESOLUTION,
            licence=f"Apache-2.0 (built-in; {_library(method)})",
            description=f"{_DESCRIPTIONS[method]} on a sample's stereo pair (evaluation)",
            source=f"sddr_core ({_library(method)})",
            needs=("sample",),
            extra={"needs_sample": True},
        )
        for method in STEREO_METHODS
    ]
