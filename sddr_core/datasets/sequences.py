"""Test sequences with ground truth and known motion, a jittery video predictor, and the
temporal error of a depth sequence.

- :func:`camera_sequence` turns one still scene (RGB + ground-truth disparity) into a video:
  a camera that pans and zooms over it (known affine offsets per frame) and, optionally, a
  near object that moves on its own over the scene (a moving depth edge with occlusions).
  Every frame knows where each of its pixels is in the next frame (:attr:`SequenceFrame.
  to_next`) and which surface it shows (:attr:`SequenceFrame.labels`).
- :class:`JitteryPredictor` is the ``simulated`` predictor (:mod:`sddr_core.predictors.
  simulated`) with what video depth models add from frame to frame: a drifting global scale
  and shift and a low-frequency wobble, and independent noise per frame.
- :func:`temporal_error`: mean absolute change of motion-compensated disparity between
  consecutive frames after one global scale-and-shift fit of the whole sequence to ground
  truth, minus the ground truth's own change (interpolation at edges), relative to the
  ground truth's mean.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

from sddr_core.errors import InputError
from sddr_core.io.images import load_image
from sddr_core.ops.align import fit_scale_shift
from sddr_core.predictors.simulated import SimulatedPredictor

__all__ = [
    "CameraPath",
    "JitteryPredictor",
    "SequenceFrame",
    "camera_sequence",
    "cut_sequence",
    "temporal_error",
]


@dataclass
class SequenceFrame:
    """One frame of a test sequence.

    Attributes:
        index: frame number.
        image: float32 RGB ``(h, w, 3)`` in ``[0, 1]``.
        gt: float32 disparity ``(h, w)``; NaN where unknown.
        labels: int8 ``(h, w)``: 0 the scene, 1 the moving object, -1 outside the scene.
        to_next: float32 ``(h, w, 2)``: where each pixel is in the next frame (``x, y``);
            ``None`` for the last frame of a shot.
        shot: index of the shot (scene) the frame belongs to.
    """

    index: int
    image: np.ndarray
    gt: np.ndarray
    labels: np.ndarray
    to_next: np.ndarray | None
    shot: int = 0


@dataclass(frozen=True)
class CameraPath:
    """A camera moving over a still scene, in source pixels.

    Frame pixel ``(x, y)`` of frame ``t`` shows source pixel ``zoom_t·(x, y) + offset_t``;
    ``zoom`` and ``offset`` move linearly from ``start`` to ``end`` plus a small sinusoidal
    shake (``shake`` px).
    """

    zoom: tuple[float, float] = (1.0, 0.85)
    pan: tuple[float, float] = (0.0, 1.0)  # fraction of the free range, start and end
    tilt: tuple[float, float] = (0.3, 0.7)
    shake: float = 1.5

    def at(self, t: float, src: tuple[int, int], frame: tuple[int, int]) -> tuple[float, ...]:
        """``(zoom, ox, oy)`` at time ``t`` in ``[0, 1]``."""
        z = self.zoom[0] + (self.zoom[1] - self.zoom[0]) * t
        free_x = max(src[1] - z * frame[1], 0.0)
        free_y = max(src[0] - z * frame[0], 0.0)
        fx = self.pan[0] + (self.pan[1] - self.pan[0]) * t
        fy = self.tilt[0] + (self.tilt[1] - self.tilt[0]) * t
        sx = self.shake * np.sin(2 * np.pi * 3.1 * t)
        sy = self.shake * np.sin(2 * np.pi * 2.3 * t + 1.0)
        ox = float(np.clip(fx * free_x + sx, 0.0, free_x))
        oy = float(np.clip(fy * free_y + sy, 0.0, free_y))
        return z, ox, oy


def _sprite(rng: np.random.Generator, size: int) -> tuple[np.ndarray, np.ndarray]:
    """A textured, rounded object: ``(mask (s, s) bool, rgb (s, s, 3))``."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    c = (size - 1) / 2
    r = np.hypot((xx - c) / (0.48 * size), (yy - c) / (0.36 * size))
    angle = np.arctan2(yy - c, xx - c)
    mask = r < 1.0 + 0.12 * np.sin(3 * angle + rng.uniform(0, 6))
    base = rng.uniform(0.2, 0.9, 3).astype(np.float32)
    noise = cv2.GaussianBlur(rng.standard_normal((size, size, 3)).astype(np.float32), (0, 0), 3)
    stripes = 0.15 * np.sign(np.sin(xx / 4.0 + yy / 7.0))[..., None]
    rgb = np.clip(base + 0.25 * noise / (noise.std() + 1e-6) + stripes, 0, 1)
    return mask, rgb.astype(np.float32)


def camera_sequence(
    image: np.ndarray,
    disparity: np.ndarray,
    *,
    frames: int = 24,
    frame_shape: tuple[int, int] = (240, 320),
    path: CameraPath | None = None,
    moving_object: bool = True,
    object_travel: float = 1.1,
    seed: int = 0,
    shot: int = 0,
    start_index: int = 0,
) -> Iterator[SequenceFrame]:
    """A video of a camera panning and zooming over a still scene (see :class:`CameraPath`),
    with a near object moving across it when ``moving_object``; frames are made one at a time.

    Args:
        image: the scene, RGB ``(H, W, 3)`` (anything :func:`sddr_core.io.load_image` takes).
        disparity: its ground-truth disparity ``(H, W)`` (NaN, inf or <= 0 = unknown).
        frames: number of frames.
        frame_shape: ``(h, w)`` of the frames; the scene is first resized so the frame covers
            about 70 % of it at zoom 1.
        path: the camera; default ``CameraPath()``.
        moving_object: add an object nearer than the whole scene moving on its own path.
        object_travel: how far the object moves over the sequence, in frame widths.
        seed: object texture and path.
        shot, start_index: labels of the frames (for concatenating shots).
    """
    if frames < 2:
        raise InputError(f"a sequence needs at least 2 frames, got {frames}.")
    img = load_image(image)
    gt = np.asarray(disparity, dtype=np.float32).copy()
    gt[~(np.isfinite(gt) & (gt > 0))] = np.nan
    if img.shape[:2] != gt.shape:
        raise InputError(f"image {img.shape[:2]} and disparity {gt.shape} differ in size.")
    fh, fw = frame_shape
    scale = min(1.0, max(fh / (0.7 * img.shape[0]), fw / (0.7 * img.shape[1])))
    if scale < 1.0:
        size = (round(img.shape[1] * scale), round(img.shape[0] * scale))
        img = cv2.resize(img, size, interpolation=cv2.INTER_AREA)
        valid = cv2.resize(np.isfinite(gt).astype(np.float32), size, interpolation=cv2.INTER_AREA)
        gt = cv2.resize(np.nan_to_num(gt), size, interpolation=cv2.INTER_AREA) / np.maximum(
            valid, 1e-6
        )
        gt[valid < 0.999] = np.nan
    src = img.shape[:2]
    if min(src[0] - fh, src[1] - fw) < 0:
        raise InputError(
            f"the scene ({src[1]}x{src[0]}) is smaller than a {fw}x{fh} frame: pass a larger "
            "scene or smaller frames."
        )
    path = path or CameraPath()
    rng = np.random.default_rng(seed)
    obj_size = int(0.45 * min(fh, fw))
    obj_mask, obj_rgb = _sprite(rng, obj_size)
    obj_disp = 1.25 * float(np.nanmax(gt))
    start = np.array([-0.3 * obj_size, rng.uniform(0.15, 0.55) * fh])
    velocity = np.array([object_travel * fw / (frames - 1), rng.uniform(-0.6, 0.6)])

    def pose(t: int) -> tuple[float, float, float, np.ndarray]:
        z, ox, oy = path.at(t / (frames - 1), src, frame_shape)
        return z, ox, oy, start + velocity * t

    gy, gx = np.mgrid[0:fh, 0:fw].astype(np.float32)
    for t in range(frames):
        z, ox, oy, obj = pose(t)
        m = np.float32([[z, 0, ox], [0, z, oy]])
        flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
        rgb = cv2.warpAffine(img, m, (fw, fh), flags=flags, borderMode=cv2.BORDER_REFLECT)
        disp = cv2.warpAffine(
            gt,
            m,
            (fw, fh),
            flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP,
            borderMode=cv2.BORDER_REFLECT,
        )
        labels = np.zeros((fh, fw), np.int8)
        if moving_object:
            mo = np.float32([[1, 0, obj[0]], [0, 1, obj[1]]])
            om = cv2.warpAffine(
                obj_mask.astype(np.uint8), mo, (fw, fh), flags=cv2.INTER_NEAREST
            ).astype(bool)
            orgb = cv2.warpAffine(obj_rgb, mo, (fw, fh), flags=cv2.INTER_LINEAR)
            rgb[om] = orgb[om]
            disp[om] = obj_disp
            labels[om] = 1
        to_next = None
        if t < frames - 1:
            z1, ox1, oy1, obj1 = pose(t + 1)
            sx, sy = z * gx + ox, z * gy + oy  # source position
            nx, ny = (sx - ox1) / z1, (sy - oy1) / z1
            if moving_object:
                d = obj1 - obj
                nx = np.where(labels == 1, gx + d[0], nx)
                ny = np.where(labels == 1, gy + d[1], ny)
            to_next = np.stack([nx, ny], axis=2).astype(np.float32)
        yield SequenceFrame(
            start_index + t, np.clip(rgb, 0, 1), disp.astype(np.float32), labels, to_next, shot
        )


def cut_sequence(*parts: Iterator[SequenceFrame]) -> Iterator[SequenceFrame]:
    """Concatenate shots; frame indices and shot numbers continue across the cuts."""
    index = 0
    for shot, part in enumerate(parts):
        for frame in part:
            frame.index, frame.shot = index, shot
            index += 1
            yield frame


class JitteryPredictor:
    """A video depth predictor simulated from ground truth: the ``simulated`` predictor's
    resolution-dependent degradation, with per-frame noise, plus what video models add
    from frame to frame:

    - a global scale and shift that drift (random walks, ``drift`` per frame in log-scale and
      in units of the disparity's spread) and jitter (``jitter`` per frame);
    - a low-frequency wobble: a smooth multiplicative field ``1 + wobble·f_t(x, y)`` whose
      shape changes slowly over time;
    - an independent small scale and shift between the low- and high-resolution passes.

    Frames are registered with :meth:`add` before they are predicted (the predictor looks up
    the ground truth of the image it is given); only the last ``keep`` frames are held.

    Args:
        native_resolution: of the simulated model (long side).
        drift, jitter, wobble: strengths described above.
        strength: noise strength of the simulated predictor.
        seed: makes the sequence of jitters reproducible.
    """

    kind = "disparity"
    size_multiple = 1
    wants_full_image = True  # the ground truth is looked up by the full frame

    def __init__(
        self,
        *,
        native_resolution: int = 160,
        drift: float = 0.02,
        jitter: float = 0.03,
        wobble: float = 0.08,
        strength: float = 1.0,
        seed: int = 0,
        keep: int = 4,
        name: str = "simulated-video",
    ) -> None:
        self.native_resolution = int(native_resolution)
        self.drift, self.jitter, self.wobble = float(drift), float(jitter), float(wobble)
        self.strength = float(strength)
        self.seed = int(seed)
        self.keep = int(keep)
        self.name = name
        self._frames: OrderedDict[bytes, tuple[int, np.ndarray]] = OrderedDict()
        self._walk: list[tuple[float, float]] = []
        self._rng = np.random.default_rng([self.seed, 7])
        self._phases = self._rng.uniform(0, 2 * np.pi, 6)

    @staticmethod
    def _key(image: np.ndarray) -> bytes:
        return hashlib.blake2b(
            np.ascontiguousarray(image, np.float32).tobytes(), digest_size=16
        ).digest()

    def add(self, frame: SequenceFrame) -> None:
        """Register the ground truth of ``frame`` (call before refining the frame)."""
        self._frames[self._key(frame.image)] = (frame.index, frame.gt)
        while len(self._frames) > self.keep:
            self._frames.popitem(last=False)

    def _affine(self, index: int) -> tuple[float, float]:
        while len(self._walk) <= index:
            ls, sh = self._walk[-1] if self._walk else (0.0, 0.0)
            self._walk.append(
                (
                    ls + self.drift * self._rng.standard_normal(),
                    sh + self.drift * self._rng.standard_normal(),
                )
            )
        ls, sh = self._walk[index]
        r = np.random.default_rng([self.seed, 11, index])
        return float(np.exp(ls + self.jitter * r.standard_normal())), float(
            sh + self.jitter * r.standard_normal()
        )

    def _wobble(self, index: int, shape: tuple[int, int]) -> np.ndarray:
        h, w = shape
        y, x = np.mgrid[0:h, 0:w].astype(np.float32)
        x, y = x / w - 0.5, y / h - 0.5
        p, t = self._phases, 0.15 * index
        f = (
            np.sin(t + p[0]) * x
            + np.sin(0.7 * t + p[1]) * y
            + 0.5 * np.sin(1.3 * t + p[2]) * np.cos(np.pi * x * 1.5 + p[3])
            + 0.5 * np.sin(0.9 * t + p[4]) * np.cos(np.pi * y * 1.5 + p[5])
        )
        return (1.0 + self.wobble * f).astype(np.float32)

    def predict(self, image: np.ndarray, resolution: int) -> np.ndarray:
        entry = self._frames.get(self._key(image))
        if entry is None:
            raise InputError(
                "JitteryPredictor was given a frame it does not know: register each frame "
                "with .add(frame) before refining it."
            )
        index, gt = entry
        base = SimulatedPredictor(
            gt,
            native_resolution=self.native_resolution,
            strength=self.strength,
            seed=self.seed * 100_003 + index,
            affine=False,
        ).predict(image, resolution)
        scale, shift = self._affine(index)
        spread = float(np.std(base))
        out = base * self._wobble(index, base.shape)
        r = np.random.default_rng([self.seed, 13, index, int(resolution)])
        if resolution > self.native_resolution:
            scale *= float(np.exp(0.1 * r.standard_normal()))
            shift += 0.1 * float(r.standard_normal())
        return (scale * out + shift * spread).astype(np.float32)

    def predict_batch(self, images: Sequence[np.ndarray], resolution: int) -> list[np.ndarray]:
        """:meth:`predict` for each image (the protocol's batch call; a simulation on the
        CPU has no forward pass to share, so this is the loop sddr would run without it)."""
        return [self.predict(image, resolution) for image in images]


@dataclass
class TemporalReport:
    """What :func:`temporal_error` measured (disparity, after one global fit)."""

    error: float  # prediction's change minus the ground truth's, relative to mean GT
    prediction_change: float
    gt_change: float
    pixels: int
    per_pair: list[float] = field(default_factory=list)


def temporal_error(
    predictions: Sequence[np.ndarray],
    frames: Sequence[SequenceFrame],
    *,
    erode: int = 1,
) -> TemporalReport:
    """Temporal error of a disparity sequence against the ground truth of ``frames``.

    One least-squares scale and shift is fitted for the whole sequence (every valid pixel of
    every frame); then for each consecutive pair in a shot the aligned map of frame ``t+1`` is
    sampled where frame ``t``'s pixels moved to (:attr:`SequenceFrame.to_next`, bilinear),
    on pixels showing the same surface in both frames with known ground truth (labels eroded
    by ``erode`` px), and the mean absolute change is taken; the same for the ground truth.
    The error is the difference, divided by the ground truth's mean.
    """
    if len(predictions) != len(frames) or len(frames) < 2:
        raise InputError("temporal_error needs one prediction per frame and at least 2 frames.")
    masks = [np.isfinite(f.gt) & (f.labels >= 0) for f in frames]
    pred = np.concatenate([p[m] for p, m in zip(predictions, masks, strict=True)])
    target = np.concatenate([f.gt[m] for f, m in zip(frames, masks, strict=True)])
    s, t = fit_scale_shift(pred, target)
    mean_gt = float(np.mean(target))
    kernel = np.ones((2 * erode + 1, 2 * erode + 1), np.uint8)
    total_p = total_g = 0.0
    n = 0
    per_pair = []
    for i in range(len(frames) - 1):
        a, b = frames[i], frames[i + 1]
        if a.to_next is None or a.shot != b.shot:
            continue
        mx, my = a.to_next[..., 0], a.to_next[..., 1]
        h, w = b.gt.shape
        inside = (mx >= 0) & (mx <= w - 1) & (my >= 0) & (my <= h - 1)
        lab_b = cv2.remap(b.labels.astype(np.float32), mx, my, cv2.INTER_NEAREST)
        valid = inside & masks[i] & (lab_b == a.labels)
        for lab in (0, 1):  # stay off surface boundaries
            region = (a.labels == lab).astype(np.uint8)
            valid &= (cv2.erode(region, kernel) > 0) | (a.labels != lab)
        pa = s * predictions[i] + t
        pb = cv2.remap((s * predictions[i + 1] + t).astype(np.float32), mx, my, cv2.INTER_LINEAR)
        gb = cv2.remap(b.gt, mx, my, cv2.INTER_LINEAR)
        valid &= np.isfinite(gb)
        if not valid.any():
            continue
        dp = np.abs(pb - pa)[valid]
        dg = np.abs(gb - a.gt)[valid]
        total_p += float(dp.sum())
        total_g += float(dg.sum())
        n += int(valid.sum())
        per_pair.append(float((dp.mean() - dg.mean()) / mean_gt))
    if n == 0:
        raise InputError("no pixel is visible in two consecutive frames: check to_next.")
    change_p, change_g = total_p / n / mean_gt, total_g / n / mean_gt
    return TemporalReport(change_p - change_g, change_p, change_g, n, per_pair)
