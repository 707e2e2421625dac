"""Temporally stable refinement of video and image sequences: :func:`refine_sequence`.

Each frame is refined as :func:`sddr_core.refine` refines a photo (the predictor at a low and
a high resolution, one fusion by the refiner), then stabilised against the previous output,
motion-compensated with OpenCV's DIS optical flow (``cv2.DISOpticalFlow``):

1. **Flow and validity.** Flow from frame ``t`` to ``t−1`` and back, at a reduced size
   (``flow_side``). A pixel's history is *valid* when the two flows agree (forward-backward
   check, Sundaram et al. 2010), its source lies inside frame ``t−1`` and the warped previous
   frame has the same colour (photometric check). Occluded, disoccluded and mis-tracked pixels
   are not valid.
2. **Scene cuts.** When too few pixels are valid, or the grey-level histograms of the two
   frames differ, the frame starts a new shot: no history is used, and the shot's first map
   is put in the sequence's range by a robust (median / mean absolute deviation) match to
   the previous output.
3. **One scale and shift.** The fused map is fitted by scale and shift (least squares,
   trimmed of the worst 20 % of residuals) to the motion-compensated previous output on valid
   pixels, so every frame is in the scale of the first one (no per-frame normalisation).
4. **Low-frequency layer.** The residual between the history and the fitted map is low-passed
   with a normalised (masked) Gaussian: alignment drift and the predictor's low-frequency
   wobble. ``history`` of it is kept (a recursive filter along motion trajectories).
5. **Detail.** The rest of the residual is the refinement detail's flicker. Where the history
   is valid *and* agrees with the current map (a Gaussian weight of the residual against its
   robust spread, so a mis-warped moving edge gets weight ~0), ``detail_history`` of it is
   kept; elsewhere the current frame's own detail is used as is: moving edges are not smeared.
   The previous output is warped bicubically: a bilinear warp softens its depth edges a little
   each frame, and the recursive filter would carry that blur along (it cost 0.010 D³R on a
   procedural sequence with ``detail_history`` 0.75; bicubic and 0.6 keep D³R at the
   per-frame level with a 75 % lower temporal error there).

Only the previous frame's small state (its grey image and stabilised map) is kept, so memory
does not grow with the sequence.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from sddr_core.errors import InputError
from sddr_core.inference.guard import keep_positive
from sddr_core.inference.one_stage import (
    choose_resolutions,
    fuse_batch_at,
    reciprocal,
    working_size_for,
)
from sddr_core.inference.refine import MODES, Mode, _result, as_refiner, snap_to_photo
from sddr_core.inference.result import RefinedDepth
from sddr_core.io.images import load_image
from sddr_core.ops.align import fit_scale_shift
from sddr_core.ops.edges import edge_map
from sddr_core.ops.resize import resize_long_side, resize_map
from sddr_core.predictors.base import DepthPredictor, as_predictor, run_predictor_batch
from sddr_core.progress import check_cancel, report
from sddr_core.refiners.base import Refiner

__all__ = [
    "FlowField",
    "SequenceStabilizer",
    "TemporalOptions",
    "backward_warp",
    "masked_lowpass",
    "refine_sequence",
]

_DIS_PRESETS = {
    "ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
    "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
    "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,
}


@dataclass(frozen=True)
class TemporalOptions:
    """Settings of the temporal stabilisation (see the module docstring for the steps).

    Attributes:
        history: weight of the motion-compensated history in the low-frequency layer
            (0 = none, per-frame alignment only; 0.9 ≈ a 10-frame memory).
        detail_history: weight of the history in the refinement detail where it is valid.
        lowpass: σ of the low-frequency layer as a fraction of the long side.
        flow_side: long side at which the optical flow is computed (pixels).
        flow_preset: DIS preset, ``"ultrafast"``, ``"fast"`` or ``"medium"``.
        photometric: largest grey-level difference (0..1) of a valid warped pixel.
        cut_fraction: a frame with fewer valid pixels than this starts a new shot.
        cut_histogram: a frame whose grey histogram correlates less than this with the
            previous one starts a new shot.
        detail_tolerance: residuals beyond this many robust standard deviations are treated as
            a real change (moving edge), not flicker.
        trim: fraction of the largest residuals left out of the scale-and-shift fit.
    """

    history: float = 0.85
    detail_history: float = 0.6
    lowpass: float = 0.06
    flow_side: int = 384
    flow_preset: str = "fast"
    photometric: float = 0.08
    cut_fraction: float = 0.3
    cut_histogram: float = 0.5
    detail_tolerance: float = 3.0
    trim: float = 0.2

    def __post_init__(self) -> None:
        for name in ("history", "detail_history", "cut_fraction", "trim"):
            v = getattr(self, name)
            if not 0.0 <= v <= (0.9 if name == "trim" else 1.0):
                raise InputError(f"temporal option {name} must lie in [0, 1], got {v!r}.")
        if not 0.0 < self.lowpass <= 0.5:
            raise InputError(f"temporal option lowpass must lie in (0, 0.5], got {self.lowpass}.")
        if int(self.flow_side) < 32:
            raise InputError(f"flow_side must be at least 32 pixels, got {self.flow_side}.")
        if self.flow_preset not in _DIS_PRESETS:
            raise InputError(
                f"flow_preset must be one of {', '.join(_DIS_PRESETS)}, got {self.flow_preset!r}."
            )
        if self.photometric <= 0 or self.detail_tolerance <= 0:
            raise InputError("photometric and detail_tolerance must be positive.")
        if not -1.0 <= self.cut_histogram <= 1.0:
            raise InputError(f"cut_histogram must lie in [-1, 1], got {self.cut_histogram}.")


# --------------------------------------------------------------------------------------------
# pure pieces


def backward_warp(x: np.ndarray, flow: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sample ``x`` at ``p + flow(p)`` (bilinear): ``out(p) = x(p + flow(p))``.

    Args:
        x: float ``(H, W)`` or ``(H, W, C)`` map of the frame the flow points into.
        flow: float32 ``(H, W, 2)`` displacement ``(dx, dy)`` in pixels.

    Returns:
        ``(warped, inside)``: the warped map (same shape as ``x``) and a boolean ``(H, W)``
        mask of pixels whose source lies inside ``x``.
    """
    sampler = _Sampler(flow)
    return sampler.warp(x), sampler.inside


class _Sampler:
    """The sampling positions ``p + flow(p)`` of one flow field, made once and shared by
    every map warped with it (the forward flow, the previous grey frame and the previous
    output each frame)."""

    def __init__(self, flow: np.ndarray) -> None:
        h, w = flow.shape[:2]
        gx, gy = _grid(h, w)
        self.mx = gx + flow[..., 0]
        self.my = gy + flow[..., 1]
        self.shape = (h, w)
        self._inside: np.ndarray | None = None

    @property
    def inside(self) -> np.ndarray:
        """Boolean ``(H, W)``: the sampling position lies inside the frame."""
        if self._inside is None:
            h, w = self.shape
            mx, my = self.mx, self.my
            self._inside = (mx >= 0) & (mx <= w - 1) & (my >= 0) & (my <= h - 1)
        return self._inside

    def warp(self, x: np.ndarray, interpolation: int = cv2.INTER_LINEAR) -> np.ndarray:
        return cv2.remap(
            np.ascontiguousarray(x, dtype=np.float32),
            self.mx,
            self.my,
            interpolation=interpolation,
            borderMode=cv2.BORDER_REPLICATE,
        )


@functools.lru_cache(maxsize=4)
def _grid(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """The pixel coordinates of an ``(h, w)`` frame (read-only, reused frame after frame)."""
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    gx.flags.writeable = False
    gy.flags.writeable = False
    return gx, gy


def masked_lowpass(x: np.ndarray, mask: np.ndarray, sigma: float) -> np.ndarray:
    """Normalised Gaussian low-pass of ``x`` over ``mask`` (σ in pixels), float32 ``(H, W)``.

    Pixels outside the mask are filled from the masked ones nearby; where no masked pixel is
    within a few σ the result fades to 0. Computed at a reduced size (σ ≥ 2 px there) for
    speed.
    """
    return _masked_lowpasses([x], mask, sigma)[0]


def _masked_lowpasses(
    xs: list[np.ndarray], mask: np.ndarray, sigma: float, step: int = 1
) -> list[np.ndarray]:
    """:func:`masked_lowpass` of several maps over one mask: the maps and the mask go through
    the resizes and the blur together, as the channels of one array (the mask's weights are
    computed once). ``step`` > 1 returns every ``step``-th pixel of each result only."""
    h, w = mask.shape
    factor = max(1.0, sigma / 2.0)
    small = (max(4, int(round(h / factor))), max(4, int(round(w / factor))))
    m = mask.astype(np.float32)
    stack = np.empty((h, w, len(xs) + 1), np.float32)
    for i, x in enumerate(xs):
        stack[..., i] = np.where(mask, x, 0.0)
    stack[..., -1] = m
    stack = _resize_channels(stack, small)
    s = sigma * small[1] / w
    stack = cv2.GaussianBlur(stack, (0, 0), s, borderType=cv2.BORDER_REFLECT)
    den = np.maximum(stack[..., -1:], 0.05)
    out = _resize_channels(np.ascontiguousarray(stack[..., :-1] / den), (h, w))
    if out.ndim == 2:
        out = out[..., None]
    return [out[::step, ::step, i] for i in range(len(xs))]


def _resize_channels(x: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """:func:`~sddr_core.ops.resize.resize_map` of ``(H, W, C)`` without its clipping
    (these maps are smooth averages; the clip only removed float rounding)."""
    h, w = shape
    if x.shape[:2] == (h, w):
        return x
    shrinking = h * w < x.shape[0] * x.shape[1]
    interp = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    return cv2.resize(x, (w, h), interpolation=interp)


def _symmetric_fit(pred: np.ndarray, target: np.ndarray, mask: np.ndarray) -> tuple[float, float]:
    """Scale and shift of ``pred`` to ``target`` by reduced major axis regression (the
    geometric mean of the two least-squares slopes): unbiased when both maps are noisy, where
    least squares shrinks the scale by the noise of ``pred`` (and, chained over a video,
    would shrink the sequence frame after frame)."""
    valid = mask & np.isfinite(pred) & np.isfinite(target)
    p = pred[valid].astype(np.float64)
    q = target[valid].astype(np.float64)
    if p.size < 2:
        return fit_scale_shift(pred, target, mask)  # its error, or its constant case
    # one pass over the moments: both least-squares slopes come from them
    mp, mq = p.mean(), q.mean()
    p -= mp
    q -= mq
    var_p, var_q, cov = float(p @ p), float(q @ q), float(p @ q)
    if var_p <= 1e-24 * max(1.0, mp * mp) * p.size or var_q <= 0.0 or cov == 0.0:
        return fit_scale_shift(pred, target, mask)
    scale = float(np.sign(cov) * np.sqrt(var_q / var_p))
    return scale, float(mq - scale * mp)


def _robust_fit(
    pred: np.ndarray, target: np.ndarray, mask: np.ndarray, trim: float
) -> tuple[float, float]:
    """Scale and shift of ``pred`` to ``target`` on ``mask`` (:func:`_symmetric_fit`),
    refitted once without the largest ``trim`` fraction of residuals (moving objects, flow
    errors)."""
    s, t = _symmetric_fit(pred, target, mask)
    if trim > 0:
        res = np.abs(s * pred + t - target)
        cut = np.quantile(res[mask], 1.0 - trim)
        keep = mask & (res <= cut)
        if keep.sum() >= 16:
            s, t = _symmetric_fit(pred, target, keep)
    return s, t


def _subsample(x: np.ndarray, most: int = 8_000) -> np.ndarray:
    """Every k-th pixel of ``x`` along both axes, at most about ``most`` of them (robust
    statistics of a smooth map need no more)."""
    k = max(1, int(np.sqrt(x.size / most)))
    return x[::k, ::k] if x.ndim >= 2 else x[::k]


def _robust_stats(x: np.ndarray) -> tuple[float, float]:
    """Median and mean absolute deviation from it (on about 8 000 pixels at most)."""
    x = _subsample(x)
    v = x[np.isfinite(x)].astype(np.float64)
    med = float(np.median(v))
    return med, max(float(np.mean(np.abs(v - med))), 1e-12)


def _consistent(back: np.ndarray, fwd: np.ndarray, sampler: _Sampler) -> np.ndarray:
    """Forward-backward check (Sundaram et al. 2010): the backward flow ``back`` (sampled by
    ``sampler``) and the forward flow ``fwd`` at its target cancel out, up to 1 % of their
    squared length plus 0.5 px². (Tried: the forward flow at half size, a quarter of its
    cost, raised the temporal error by 13 % and lost 0.007 δ1 on Middlebury baby1.)"""
    fwd_at = sampler.warp(fwd)
    # per channel: numpy's reductions over a last axis of 2 are ~20x slower
    bx, by, fx, fy = back[..., 0], back[..., 1], fwd_at[..., 0], fwd_at[..., 1]
    err = cv2.magnitude(bx + fx, by + fy) ** 2
    mag = cv2.magnitude(bx, by) ** 2 + cv2.magnitude(fx, fy) ** 2
    return err < 0.01 * mag + 0.5


@dataclass
class FlowField:
    """Motion from the current frame to the previous one, at the stabiliser's working size.

    Attributes:
        flow: float32 ``(h, w, 2)``: pixel ``p`` of the current frame was at ``p + flow(p)``.
        valid: boolean ``(h, w)``: forward-backward consistent, inside, photometrically equal.
        valid_fraction: mean of ``valid`` (at the flow's own size).
        histogram: correlation of the two frames' grey histograms.
    """

    flow: np.ndarray
    valid: np.ndarray
    valid_fraction: float
    histogram: float
    # the sampling positions of ``flow`` (when it was computed at this size), reused by the
    # stabiliser to warp the previous output
    sampler: _Sampler | None = dataclasses.field(default=None, repr=False, compare=False)


class SequenceStabilizer:
    """The temporal state of :func:`refine_sequence`: stabilises one fused map after another.

    ``stabilize(image, fused)`` takes a frame (float RGB ``(H, W, 3)``) and its fused map (any
    size; the stabiliser works at that size) and returns the stabilised map and what happened
    (``scene_cut``, ``valid_fraction``, ``scale``, ``shift``). It keeps only the previous
    frame's grey image and output.
    """

    def __init__(self, options: TemporalOptions | None = None) -> None:
        self.options = options or TemporalOptions()
        self._dis = cv2.DISOpticalFlow_create(_DIS_PRESETS[self.options.flow_preset])
        if self.options.flow_preset == "fast":
            # 2 variational refinement passes instead of the preset's 5: 1 ms a frame less at
            # 320x240 with the same temporal error and δ1 (docs/SEQUENCES.md, "Throughput")
            self._dis.setVariationalRefinementIterations(2)
        # small frames: the finer preset costs little there and tracks large relative motion
        self._dis_small = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
        self._prev_gray: np.ndarray | None = None
        self._prev_out: np.ndarray | None = None
        # the last output (kept by reset): a new shot is put in its range
        self._last: np.ndarray | None = None
        self.shots = 0

    @property
    def previous_shape(self) -> tuple[int, int] | None:
        """Shape of the previous stabilised map (``None`` before the first frame)."""
        return None if self._prev_out is None else self._prev_out.shape  # type: ignore[return-value]

    def reset(self) -> None:
        """Forget the history (the next frame starts a new shot in the same range)."""
        self._prev_gray = None
        self._prev_out = None

    def _gray(self, image: np.ndarray) -> np.ndarray:
        return _gray_image(image, self.options.flow_side)

    def flow(self, gray: np.ndarray, shape: tuple[int, int]) -> FlowField | None:
        """Motion from ``gray`` (this frame at flow size) to the previous frame, resized to
        ``shape``; ``None`` without a comparable previous frame."""
        prev = self._prev_gray
        if prev is None or prev.shape != gray.shape:
            return None
        opt = self.options
        dis = self._dis_small if max(gray.shape) <= 256 else self._dis
        back = dis.calc(gray, prev, None)  # t -> t-1
        fwd = dis.calc(prev, gray, None)  # t-1 -> t
        sampler = _Sampler(back)
        valid = sampler.inside & _consistent(back, fwd, sampler)
        prev_warped = sampler.warp(prev.astype(np.float32))
        valid &= np.abs(prev_warped - gray.astype(np.float32)) < opt.photometric * 255.0
        fraction = float(valid.mean())
        h1 = _histogram(gray)
        h0 = _histogram(prev)
        hist = float(cv2.compareHist(h0, h1, cv2.HISTCMP_CORREL))
        fh, fw = gray.shape
        if (fh, fw) != tuple(shape):
            flow = resize_map(back, shape)
            flow[..., 0] *= shape[1] / fw
            flow[..., 1] *= shape[0] / fh
            valid = cv2.resize(
                valid.astype(np.uint8), (shape[1], shape[0]), interpolation=cv2.INTER_NEAREST
            ).astype(bool)
            return FlowField(flow, valid, fraction, hist)
        return FlowField(back, valid, fraction, hist, sampler)

    def is_cut(self, field: FlowField | None) -> bool:
        """Whether the frame starts a new shot (no usable flow, too few valid pixels, or a
        different grey histogram)."""
        return (
            field is None
            or field.valid_fraction < self.options.cut_fraction
            or field.histogram < self.options.cut_histogram
        )

    def gray(self, image: np.ndarray) -> np.ndarray:
        """``image`` (float RGB) as the uint8 grey image at flow size the flow works on."""
        return self._gray(image)

    def stabilize(
        self,
        image: np.ndarray,
        fused: np.ndarray,
        field: FlowField | None = None,
        gray: np.ndarray | None = None,
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Stabilise ``fused`` (the refiner's map for ``image``) against the history.

        ``gray`` (from :meth:`gray`) and ``field`` (from :meth:`flow`) may be given when the
        caller already computed them for ``image``.
        """
        opt = self.options
        fused = np.asarray(fused, dtype=np.float32)
        if gray is None:
            gray = self._gray(image)
        if field is None:
            field = self.flow(gray, fused.shape)
        prev = self._prev_out
        cut = self.is_cut(field) or prev is None
        info: dict[str, Any] = {
            "scene_cut": bool(cut),
            "valid_fraction": 0.0 if field is None else round(field.valid_fraction, 4),
        }
        if cut:
            med, mad = _robust_stats(fused)
            if self._last is None:
                scale, shift = 1.0, 0.0
            else:  # a new shot (or motion too fast to track) in the range of the last frame
                ref_med, ref_mad = _robust_stats(self._last)
                scale = ref_mad / mad
                shift = ref_med - scale * med
            out = (scale * fused + shift).astype(np.float32)
            self.shots += 1
        else:
            assert field is not None and prev is not None
            if prev.shape != fused.shape:
                prev = resize_map(prev, fused.shape)
            sampler = field.sampler
            if sampler is None or sampler.shape != fused.shape:
                sampler = _Sampler(field.flow)
            # bicubic: a bilinear warp softens the history's depth edges, and the recursive
            # filter carries that blur from frame to frame (D³R +0.010 on procedural-1)
            history = sampler.warp(prev, cv2.INTER_CUBIC)
            valid = field.valid & sampler.inside
            # fitted on smoothed maps: the history went through bilinear warps and the frames
            # differ in detail; both would bias the fit (and the bias adds up over a video)
            # (and on every few pixels: smoothed maps hold nothing finer than σ / 2)
            smooth = 0.02 * max(fused.shape)
            k = max(1, int(smooth / 2))
            fused_s, history_s = _masked_lowpasses([fused, history], valid, smooth, step=k)
            scale, shift = _robust_fit(fused_s, history_s, valid[::k, ::k], opt.trim)
            current = np.float32(scale) * fused + np.float32(shift)
            diff = history - current
            sigma = opt.lowpass * max(fused.shape)
            low = masked_lowpass(diff, valid, sigma)
            detail = np.subtract(diff, low, out=diff)
            sampled = _subsample(detail)[_subsample(valid)]
            spread = 1.4826 * float(np.median(np.abs(sampled))) + 1e-12
            # weight = exp(-(detail / (tolerance · spread))²) on valid pixels, in place
            weight = detail * np.float32(1.0 / (opt.detail_tolerance * spread))
            np.square(weight, out=weight)
            np.negative(weight, out=weight)
            np.exp(weight, out=weight)
            weight *= valid
            info["history_weight"] = round(float(weight.mean()), 4)
            # out = current + history · low + detail_history · weight · detail
            weight *= detail
            weight *= np.float32(opt.detail_history)
            low *= np.float32(opt.history)
            out = current
            out += low
            out += weight
        info["scale"], info["shift"], info["shot"] = float(scale), float(shift), self.shots
        self._last = out
        self._prev_gray = gray
        self._prev_out = out
        return out, info


# --------------------------------------------------------------------------------------------
# the driver


def _frames_of(frames: Any) -> Iterable[Any]:
    if isinstance(frames, (str, os.PathLike)):
        from sddr_core.io.video import iter_frames

        return iter_frames(Path(frames))
    if isinstance(frames, np.ndarray) and frames.ndim == 4:
        return iter(frames)  # (N, H, W, C): a batch held by the caller already
    if hasattr(frames, "__iter__"):
        return frames
    raise InputError(
        f"frames must be an iterable of images (arrays, paths), a video file or a folder of "
        f"frames, got {type(frames).__name__}."
    )


def refine_sequence(
    frames: Iterable[Any] | str | os.PathLike[str],
    predictor: str | DepthPredictor | Any,
    *,
    mode: Mode = "one-stage",
    refiner: str | Refiner | None = None,
    device: Any = None,
    low_resolution: int | None = None,
    high_resolution: int | None = None,
    temporal: TemporalOptions | None = None,
    stabilize: bool = True,
    prefetch: bool | None = None,
    batch_size: int = 2,
    snap: bool = True,
) -> Iterator[RefinedDepth]:
    """Refine every frame of a sequence with temporally stable results, yielded in order.

    Frames are read, refined and yielded in order, ``batch_size`` at a time (bounded memory:
    only those frames and the previous frame's small state are kept). Every result is in one
    scale and shift, that of the first frame's low-resolution prediction; see the module
    docstring for the stabilisation.

    Args:
        frames: an iterable of images (anything :func:`sddr_core.refine` accepts: arrays,
            paths, PIL images, tensors), a ``(N, H, W, 3)`` array, or the path of a video file
            (read with OpenCV) or of a folder of frames.
        predictor, mode, refiner, device, low_resolution: as in :func:`sddr_core.refine`.
        high_resolution: long side of the high-resolution pass; default: adaptive, chosen on
            the first frame of each shot and kept for the shot (a resolution that changed
            from frame to frame would itself cause flicker).
        temporal: :class:`TemporalOptions` (defaults suit 24-60 fps video).
        stabilize: False refines each frame alone (still one refiner and predictor for the
            whole sequence), for comparisons.
        prefetch: predict and fuse the next frame in a worker thread while the current one
            is stabilised (one frame ahead at most); ``None``: when torch leaves a CPU core
            free (fewer torch threads than cores, e.g. ``OMP_NUM_THREADS=1``) or there are
            more than two cores. Measured on two cores with one torch thread: 1.02-1.03× the
            throughput of per-frame ``refine`` with it, 0.89-0.93× without; with both cores
            busy the threads contend and lose ~25 %. The predictor and refiner are then called
            from that thread (one call at a time).
        snap: snap each stabilised frame's edges to the frame's image, as
            :func:`sddr_core.refine` does (``snap``).

    Yields:
        A :class:`~sddr_core.RefinedDepth` per frame, at that frame's size. ``info`` holds
        ``frame`` (index), ``shot``, ``scene_cut``, ``valid_fraction`` (pixels with usable
        history), ``scale`` and ``shift`` (applied to the fused map); ``timings`` adds
        ``stabilize`` (which includes the optical flow).

    Raises:
        InputError: bad options or frames; the errors of :func:`sddr_core.refine` per frame.
    """
    if mode not in MODES:
        raise InputError(f"mode must be one of {', '.join(MODES)}, got {mode!r}.")
    for name, value in (("low_resolution", low_resolution), ("high_resolution", high_resolution)):
        if value is not None and (not isinstance(value, (int, np.integer)) or value < 16):
            raise InputError(f"{name} must be an integer of at least 16 pixels, got {value!r}.")
    if temporal is not None and not isinstance(temporal, TemporalOptions):
        raise InputError(
            f"temporal must be a TemporalOptions, got {type(temporal).__name__}; build one with "
            "sddr_core.TemporalOptions(history=..., ...)."
        )
    if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise InputError(f"batch_size must be a positive integer, got {batch_size!r}.")
    if prefetch is None:
        prefetch = _core_to_spare()
    source = _frames_of(frames)
    pred = (
        as_predictor(predictor, device=device)
        if isinstance(predictor, str)
        else as_predictor(predictor)
    )
    ref = as_refiner(refiner, device=device)
    return _run(
        source,
        pred,
        ref,
        mode,
        low_resolution,
        high_resolution,
        temporal,
        stabilize,
        prefetch,
        int(batch_size),
        snap=snap,
        device=device,
    )


@dataclass
class _Fused:
    """A frame after prediction and fusion (the producer's output)."""

    index: int
    rgb: np.ndarray
    low: np.ndarray
    high: np.ndarray
    work: np.ndarray
    omega: np.ndarray | None
    info: dict[str, Any]
    timings: dict[str, float]
    start: float
    gray: np.ndarray  # at flow size: the shot check's and the optical flow's input
    fused_at: tuple[int, int] | None = None  # the first fusion's size (the snap's radius)


def _histogram(gray: np.ndarray) -> np.ndarray:
    return cv2.calcHist([gray], [0], None, [32], [0, 256])


def _gray_image(image: np.ndarray, side: int) -> np.ndarray:
    """``image`` (float RGB) as a uint8 grey image with a long side of at most ``side``."""
    small = resize_long_side(image, min(int(side), max(image.shape[:2])))
    gray = small if small.ndim == 2 else cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)
    return np.clip(np.rint(gray * 255.0), 0, 255).astype(np.uint8)


def _produce(
    source: Iterable[Any],
    pred: DepthPredictor,
    ref: Refiner,
    mode: str,
    low_resolution: int | None,
    high_resolution: int | None,
    cut_histogram: float,
    flow_side: int,
    batch_size: int = 1,
) -> Iterator[_Fused]:
    """Load, predict and fuse each frame. The resolutions are chosen on the first frame of a
    shot (a frame whose size or grey histogram differs from the previous one's) and kept.
    The grey image of that check is the one the optical flow then uses (made once).

    Up to ``batch_size`` consecutive frames of one size and pair of resolutions are
    predicted together (:func:`~sddr_core.predictors.base.run_predictor_batch`: one
    ``predict_batch`` call per resolution where the predictor has it) and fused together
    (:func:`~sddr_core.inference.one_stage.fuse_batch_at`: one forward pass of a network
    refiner for all of them, the guard still per frame): at most that many frames are held.
    """

    def loaded() -> Iterator[_Loaded]:
        resolutions: tuple[int, int] | None = None
        prev_hist: np.ndarray | None = None
        prev_shape: tuple[int, ...] | None = None
        for index, frame in enumerate(source):
            check_cancel("sequence")
            start = time.perf_counter()
            rgb = load_image(frame)
            gray = _gray_image(rgb, flow_side)
            hist = _histogram(gray)
            new_shot = (
                resolutions is None
                or prev_shape != rgb.shape
                or prev_hist is None
                or cv2.compareHist(prev_hist, hist, cv2.HISTCMP_CORREL) < cut_histogram
            )
            prev_hist, prev_shape = hist, rgb.shape
            if new_shot or resolutions is None:
                resolutions = choose_resolutions(rgb, pred, low_resolution, high_resolution)
            yield _Loaded(index, rgb, gray, resolutions, start)

    for batch in _runs(loaded(), lambda f: (f.rgb.shape, f.resolutions), batch_size):
        yield from _predict_and_fuse(batch, pred, ref, mode)


def _runs(items: Iterable[Any], key: Any, size: int | None = None) -> Iterator[list[Any]]:
    """Consecutive ``items`` with one ``key(item)``, in lists of at most ``size`` (``None``:
    any length); at most one list is held at a time."""
    batch: list[Any] = []
    for item in items:
        if batch and key(batch[0]) != key(item):
            yield batch
            batch = []
        batch.append(item)
        if size is not None and len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


@dataclass
class _Loaded:
    """A frame read, waiting to be predicted with its neighbours."""

    index: int
    rgb: np.ndarray
    gray: np.ndarray
    resolutions: tuple[int, int]
    start: float


def _predict_and_fuse(
    loaded: list[_Loaded], pred: DepthPredictor, ref: Refiner, mode: str
) -> Iterator[_Fused]:
    """Predict ``loaded`` (frames of one size and one pair of resolutions) with one
    :func:`~sddr_core.predictors.base.run_predictor_batch` call per resolution (one forward
    pass of a network predictor for all of them), then fuse them in one batch per working
    size. Each frame's prediction timings are its share of the batch's."""
    maps: dict[str, list[np.ndarray]] = {}
    timings: dict[str, float] = {}
    for k, stage in enumerate(("predict-low", "predict-high")):
        check_cancel(stage)
        t = time.perf_counter()
        res = loaded[0].resolutions[k]
        maps[stage] = run_predictor_batch(pred, [f.rgb for f in loaded], res)
        timings[stage] = (time.perf_counter() - t) / len(loaded)
    predicted = (
        _Predicted(
            f.index,
            f.rgb,
            f.gray,
            low,
            high,
            working_size_for(f.rgb.shape[:2], high.shape, ref),
            f.resolutions,
            dict(timings),
            f.start,
        )
        for f, low, high in zip(loaded, maps["predict-low"], maps["predict-high"], strict=True)
    )
    for batch in _runs(predicted, lambda item: item.shape):
        yield from _fuse_pending(batch, pred, ref, mode)


@dataclass
class _Predicted:
    """A frame after prediction, waiting to be fused with its neighbours."""

    index: int
    rgb: np.ndarray
    gray: np.ndarray
    low: np.ndarray
    high: np.ndarray
    shape: tuple[int, int]  # working size of the fusion
    resolutions: tuple[int, int]
    timings: dict[str, float]
    start: float


def _fuse_pending(
    pending: list[_Predicted], pred: DepthPredictor, ref: Refiner, mode: str
) -> Iterator[_Fused]:
    """Fuse ``pending`` (frames of one working size) in one batch and yield them in order;
    each frame's ``timings["refine"]`` is its share of the batch's time."""
    check_cancel("refine")
    report("refine", 0, 1)
    t = time.perf_counter()
    shape = pending[0].shape
    # resized once: the fusion's inputs, and (at the image's size) the result's low and high
    lows = [resize_map(p.low, shape) for p in pending]
    highs = [resize_map(p.high, shape) for p in pending]
    fusions = fuse_batch_at(ref, lows, highs, shape, str(pred.kind))
    share = (time.perf_counter() - t) / len(pending)
    report("refine", 1, 1)
    for p, fusion, low, high in zip(pending, fusions, lows, highs, strict=True):
        if p.rgb.shape[:2] == shape:
            p.low, p.high = low, high
        timings = p.timings
        timings["refine"] = share
        work = fusion.depth
        info: dict[str, Any] = {
            "predictor": pred.name,
            "refiner": ref.name,
            "mode": mode,
            "low_resolution": p.resolutions[0],
            "high_resolution": p.resolutions[1],
            "working_size": f"{work.shape[1]}x{work.shape[0]}",
            "predictor_calls": 2,
            "refiner_calls": 1,
            "frame": p.index,
            **fusion.info,  # the guard's agreement and what it did, as in refine()
        }
        if mode == "two-stage":
            from sddr_core.inference.two_stage import two_stage_step

            work = two_stage_step(p.rgb, pred, ref, work, info, timings).depth
        yield _Fused(
            p.index,
            p.rgb,
            p.low,
            p.high,
            work,
            fusion.omega,
            info,
            timings,
            p.start,
            p.gray,
            fused_at=(int(shape[0]), int(shape[1])),
        )


_DONE = object()


def _core_to_spare() -> bool:
    """Whether a worker thread can run beside torch without taking its cores."""
    import torch

    cores = os.cpu_count() or 1
    return cores > 2 or torch.get_num_threads() < cores


def _prefetched(items: Iterator[_Fused], depth: int = 1) -> Iterator[_Fused]:
    """Run ``items`` in a worker thread, at most ``depth`` items ahead of the consumer.

    Prediction and fusion of the next frame (torch, OpenCV and SciPy release the GIL) then
    overlap the optical flow and stabilisation of the current one. Errors in the worker are
    raised here; closing this generator stops the worker.
    """
    import queue
    import threading

    q: queue.Queue[Any] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: Any) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        try:
            for item in items:
                if not put(item):
                    return
            put(_DONE)
        except BaseException as exc:  # handed to the consumer, re-raised there
            put(exc)

    thread = threading.Thread(target=work, name="sddr-sequence", daemon=True)
    thread.start()
    try:
        while True:
            item = q.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join(timeout=30)


def _run(
    source: Iterable[Any],
    pred: DepthPredictor,
    ref: Refiner,
    mode: str,
    low_resolution: int | None,
    high_resolution: int | None,
    temporal: TemporalOptions | None,
    stabilize: bool,
    prefetch: bool,
    batch_size: int = 1,
    *,
    snap: bool = False,
    device: Any = None,
) -> Iterator[RefinedDepth]:
    stabilizer = SequenceStabilizer(temporal) if stabilize else None
    options = stabilizer.options if stabilizer is not None else TemporalOptions()
    fused = _produce(
        source,
        pred,
        ref,
        mode,
        low_resolution,
        high_resolution,
        options.cut_histogram,
        options.flow_side,
        batch_size,
    )
    if prefetch:
        fused = _prefetched(fused)
    for item in fused:
        work, info, timings = item.work, item.info, item.timings
        if stabilizer is not None:
            t = time.perf_counter()
            if pred.kind == "depth":  # stabilised as disparity, as the fusion and the snap run
                fused = reciprocal(work)
                disparity, tinfo = stabilizer.stabilize(item.rgb, fused, gray=item.gray)
                # the temporal filter adds maps: the disparity, hence the depth, stays positive
                disparity, raised = keep_positive(disparity, fused)
                work = reciprocal(disparity)
                if raised:
                    info["raised_to_positive"] = info.get("raised_to_positive", 0) + raised
            else:
                work, tinfo = stabilizer.stabilize(item.rgb, work, gray=item.gray)
            info.update(tinfo)
            timings["stabilize"] = time.perf_counter() - t
        if snap:
            work = snap_to_photo(
                work,
                item.rgb,
                info,
                timings,
                device=device,
                fused_at=item.fused_at,
                kind=pred.kind,
            )
        yield _result(
            item.rgb.shape[:2],
            work,
            edge_map(work),
            item.low,
            item.high,
            item.omega,
            pred.kind,
            timings,
            info,
            item.start,
        )
