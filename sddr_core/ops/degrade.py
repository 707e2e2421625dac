"""Degradation families: how real predictors and tools get depth wrong.

The SDDR noise model (:mod:`sddr_core.ops.noise`) describes one predictor family: blur at low
resolution, per-region scale and shift at high resolution. Real predictors and tools also
make the errors below. Each function is pure and seeded: a float32 ``(H, W)`` map in
(disparity-like: larger = nearer, as the training data are generated in disparity), a
``numpy.random.Generator`` and a ``strength`` knob (0 = unchanged, 1 = typical, 2 = severe),
a float32 map of the same shape out.

==========================  =============================================================
:func:`fatten_boundaries`   foreground grows into the background (blurry networks, stereo)
:func:`remove_thin`         thin near structures vanish into the background
:func:`bleed`               depth bleeds across boundaries (smooth transitions)
:func:`warp`                shapes warped by a smooth displacement field
:func:`texture_copy`        image texture leaks into depth (high-resolution passes)
:func:`bias_field`          smooth multiplicative and additive low-frequency error
:func:`gamma_curve`         a monotonic non-linear response (gamma)
:func:`range_compress`      far range squashed (log-like response)
:func:`punch_holes`         holes (blobs and occlusion bands) filled as tools fill them
:func:`quantize`            8-bit (or coarser) storage: banding
:func:`unusable`            a map unrelated to the scene (a pass that failed)
==========================  =============================================================
"""

from __future__ import annotations

import cv2
import numpy as np

from sddr_core.ops.holes import fill_invalid, fill_rows_from_background

__all__ = [
    "FILL_METHODS",
    "bias_field",
    "bleed",
    "fatten_boundaries",
    "fill_holes",
    "gamma_curve",
    "punch_holes",
    "quantize",
    "range_compress",
    "remove_thin",
    "smooth_field",
    "texture_copy",
    "unusable",
    "warp",
]

#: How :func:`fill_holes` fills unknown pixels, as depth tools do.
FILL_METHODS: tuple[str, ...] = ("nearest", "background", "inpaint", "zero")


def _span(x: np.ndarray) -> float:
    lo, hi = np.percentile(x, [2, 98])
    return float(hi - lo) or 1.0


def _disk(radius: int) -> np.ndarray:
    r = max(int(radius), 1)
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))


def smooth_field(rng: np.random.Generator, shape: tuple[int, int], scale: float) -> np.ndarray:
    """Smooth random field of unit standard deviation whose features are about ``scale``
    pixels wide (white noise on a coarse grid, bicubically upsampled)."""
    h, w = shape
    gh, gw = (
        max(2, int(round(h / max(scale, 1.0))) + 1),
        max(2, int(round(w / max(scale, 1.0))) + 1),
    )
    coarse = rng.standard_normal((gh, gw)).astype(np.float32)
    f = cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC)
    return (f - f.mean()) / (f.std() + 1e-6)


def fatten_boundaries(x: np.ndarray, rng: np.random.Generator, strength: float) -> np.ndarray:
    """Foreground (larger values) dilated by ``1 + 3·strength`` pixels (jittered): object
    boundaries move into the background, as blurry networks and window matchers do."""
    if strength <= 0:
        return x.astype(np.float32, copy=True)
    r = max(1, int(round((1 + 3 * strength) * rng.uniform(0.6, 1.4))))
    return cv2.dilate(x.astype(np.float32), _disk(r))


def remove_thin(x: np.ndarray, rng: np.random.Generator, strength: float) -> np.ndarray:
    """Structures thinner than about ``2·(1 + 2·strength)`` pixels that stand in front of
    their surroundings disappear (grey opening): wires, spokes, branches missing."""
    if strength <= 0:
        return x.astype(np.float32, copy=True)
    r = max(1, int(round((1 + 2 * strength) * rng.uniform(0.6, 1.4))))
    return cv2.morphologyEx(x.astype(np.float32), cv2.MORPH_OPEN, _disk(r))


def bleed(x: np.ndarray, rng: np.random.Generator, strength: float) -> np.ndarray:
    """Depth bleeds across boundaries: near depth edges the map is replaced by a wide blur
    of itself (σ = ``2 + 4·strength`` px), elsewhere it is kept."""
    if strength <= 0:
        return x.astype(np.float32, copy=True)
    x = x.astype(np.float32)
    sigma = (2 + 4 * strength) * rng.uniform(0.7, 1.3)
    blurred = cv2.GaussianBlur(x, (0, 0), sigmaX=sigma, borderType=cv2.BORDER_REFLECT)
    gx = cv2.Sobel(x, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(x, cv2.CV_32F, 0, 1, ksize=3)
    edge = (np.hypot(gx, gy) > 0.05 * _span(x)).astype(np.float32)
    near = cv2.GaussianBlur(edge, (0, 0), sigmaX=sigma)
    weight = np.clip(near / (near.max() + 1e-6) * 3.0, 0.0, 1.0)
    return (weight * blurred + (1 - weight) * x).astype(np.float32)


def warp(x: np.ndarray, rng: np.random.Generator, strength: float) -> np.ndarray:
    """Shapes warped by a smooth random displacement of about ``1 + 3·strength`` px
    (features a sixth of the image wide)."""
    if strength <= 0:
        return x.astype(np.float32, copy=True)
    h, w = x.shape
    amp = (1 + 3 * strength) * rng.uniform(0.5, 1.5)
    scale = max(h, w) / 6
    dx = smooth_field(rng, (h, w), scale) * amp
    dy = smooth_field(rng, (h, w), scale) * amp
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return cv2.remap(
        x.astype(np.float32), gx + dx, gy + dy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT
    )


def texture_copy(
    x: np.ndarray, image: np.ndarray, rng: np.random.Generator, strength: float
) -> np.ndarray:
    """Image texture leaks into depth: the high-pass of the image's luminance (σ 2-8 px),
    with amplitude ``0.04·strength`` of the depth range, in random smooth regions or
    everywhere. ``image`` is RGB ``(H, W, 3)``, uint8 or float in [0, 1]."""
    if strength <= 0:
        return x.astype(np.float32, copy=True)
    img = np.asarray(image, dtype=np.float32)
    if img.max() > 1.5:
        img = img / 255.0
    lum = img @ np.array([0.299, 0.587, 0.114], np.float32) if img.ndim == 3 else img
    lum = cv2.resize(lum, (x.shape[1], x.shape[0]), interpolation=cv2.INTER_AREA)
    sigma = rng.uniform(2.0, 8.0)
    hp = lum - cv2.GaussianBlur(lum, (0, 0), sigmaX=sigma, borderType=cv2.BORDER_REFLECT)
    hp = hp / (hp.std() + 1e-6)
    if rng.random() < 0.5:
        region = np.clip(smooth_field(rng, x.shape, max(x.shape) / 4) + 0.5, 0.0, 1.0)
    else:
        region = 1.0
    sign = 1.0 if rng.random() < 0.7 else -1.0  # brighter usually reads as nearer
    return (x + sign * 0.04 * strength * _span(x) * region * hp).astype(np.float32)


def bias_field(x: np.ndarray, rng: np.random.Generator, strength: float) -> np.ndarray:
    """Smooth low-frequency error: ``x·(1 + 0.15·s·F₁) + 0.08·s·range·F₂`` with smooth
    random fields ``F`` a third to a whole image wide."""
    if strength <= 0:
        return x.astype(np.float32, copy=True)
    scale = max(x.shape) * rng.uniform(0.33, 1.0)
    f1 = smooth_field(rng, x.shape, scale)
    f2 = smooth_field(rng, x.shape, scale)
    mean = float(np.mean(x))
    return (
        (x - mean) * (1 + 0.15 * strength * f1) + mean + 0.08 * strength * _span(x) * f2
    ).astype(np.float32)


def _unit(x: np.ndarray) -> tuple[np.ndarray, float, float]:
    lo, hi = float(np.min(x)), float(np.max(x))
    span = hi - lo or 1.0
    return (x - lo) / span, lo, span


def gamma_curve(x: np.ndarray, rng: np.random.Generator, strength: float) -> np.ndarray:
    """A monotonic response ``u^γ`` on the map rescaled to [0, 1], ``log γ ~ ±0.5·strength``."""
    if strength <= 0:
        return x.astype(np.float32, copy=True)
    u, lo, span = _unit(x.astype(np.float32))
    gamma = float(np.exp(rng.choice([-1.0, 1.0]) * 0.5 * strength * rng.uniform(0.5, 1.0)))
    return (np.power(u, gamma) * span + lo).astype(np.float32)


def range_compress(x: np.ndarray, rng: np.random.Generator, strength: float) -> np.ndarray:
    """The far (small) end of the range squashed: ``log(1 + k·u) / log(1 + k)`` on the map
    rescaled to [0, 1], ``k = 3·strength``; or, at random, the near end."""
    if strength <= 0:
        return x.astype(np.float32, copy=True)
    u, lo, span = _unit(x.astype(np.float32))
    k = 3.0 * strength * rng.uniform(0.5, 1.5)
    if rng.random() < 0.5:
        v = np.log1p(k * u) / np.log1p(k)
    else:
        v = 1.0 - np.log1p(k * (1.0 - u)) / np.log1p(k)
    return (v * span + lo).astype(np.float32)


def fill_holes(x: np.ndarray, holes: np.ndarray, method: str) -> np.ndarray:
    """Fill ``holes`` (bool) as depth tools do: ``nearest`` valid pixel, ``background`` (the
    farther, smaller end of each horizontal run, as stereo tools fill occlusions),
    ``inpaint`` (OpenCV Telea) or ``zero`` (left at the map's minimum, as 8-bit exports do)."""
    x = x.astype(np.float32, copy=True)
    if not holes.any() or holes.all():
        return x
    if method == "nearest":
        return fill_invalid(x, holes)
    if method == "background":  # a row's farther side, unsmoothed; rows with nothing: the min
        fill = fill_rows_from_background(x, ~holes)
        return np.where(np.isfinite(fill), fill, float(np.min(x[~holes]))).astype(np.float32)
    if method == "inpaint":
        known = x[~holes]
        lo, span = float(known.min()), float(known.max() - known.min()) or 1.0
        u8 = np.clip(np.where(holes, 0.0, (x - lo) / span) * 255.0, 0, 255).astype(np.uint8)
        # OpenCV inpaints 8-bit images: the fill is 8-bit precise, the known pixels are kept.
        filled = cv2.inpaint(u8, holes.astype(np.uint8), 5, cv2.INPAINT_TELEA)
        out = filled.astype(np.float32) / 255.0 * span + lo
        return np.where(holes, out, x).astype(np.float32)
    if method == "zero":
        return np.where(holes, float(np.min(x[~holes])), x).astype(np.float32)
    raise ValueError(f"unknown fill method {method!r}; choose from {', '.join(FILL_METHODS)}")


def punch_holes(
    x: np.ndarray, rng: np.random.Generator, strength: float, *, fill: str | None = None
) -> np.ndarray:
    """Holes where tools lose depth, filled as tools fill them (:func:`fill_holes`, method
    drawn at random unless ``fill`` is given): blobs covering about ``3·strength`` % of the
    image and occlusion bands of ``1 + 3·strength`` px on the background side of edges.

    The bands lie left of foreground edges only, where a left view's occlusions lie: training
    on this family should mirror its pairs too (``data.mirror`` of band training), or the
    network learns a preferred side (docs/MODEL_CARD.md, "A mirrored world")."""
    if strength <= 0:
        return x.astype(np.float32, copy=True)
    x = x.astype(np.float32)
    field = smooth_field(rng, x.shape, max(x.shape) / rng.uniform(8, 24))
    holes = field > np.quantile(field, 1 - min(0.03 * strength, 0.3))
    gx = cv2.Sobel(x, cv2.CV_32F, 1, 0, ksize=3)
    step = gx > 0.05 * _span(x)  # rising to the right: the background is on the left
    width = max(1, int(round(1 + 3 * strength)))
    band = cv2.dilate(step.astype(np.uint8), np.ones((1, width), np.uint8), anchor=(width - 1, 0))
    holes |= band.astype(bool) & (x < cv2.dilate(x, np.ones((1, 2 * width + 1), np.uint8)))
    method = fill or str(rng.choice(FILL_METHODS))
    return fill_holes(x, holes, method)


def quantize(x: np.ndarray, rng: np.random.Generator, strength: float) -> np.ndarray:
    """Stored with ``8 − 2·(strength − 1)`` bits (8 at strength 1, 6 at 2) over the map's
    min-max range, as 8-bit depth exports are: banding on smooth slopes."""
    if strength <= 0:
        return x.astype(np.float32, copy=True)
    bits = float(np.clip(8 - 2 * (strength - 1), 3, 12))
    levels = 2.0**bits - 1
    u, lo, span = _unit(x.astype(np.float32))
    return (np.round(u * levels) / levels * span + lo).astype(np.float32)


def unusable(x: np.ndarray, rng: np.random.Generator, strength: float = 1.0) -> np.ndarray:
    """A map with nothing to do with the scene, in the same value range: smooth noise,
    white noise, the map flipped upside down, or blocks of it shuffled (``strength`` is
    ignored: a failed pass is failed)."""
    x = x.astype(np.float32)
    lo, span = float(np.percentile(x, 2)), _span(x)
    kind = int(rng.integers(4))
    if kind == 0:
        f = smooth_field(rng, x.shape, max(x.shape) / rng.uniform(2, 12))
        return (lo + span * (0.5 + 0.25 * f)).astype(np.float32)
    if kind == 1:
        blur = rng.uniform(0.0, 2.0)
        f = rng.standard_normal(x.shape).astype(np.float32)
        if blur > 0.3:
            f = cv2.GaussianBlur(f, (0, 0), sigmaX=blur)
            f /= f.std() + 1e-6
        return (lo + span * (0.5 + 0.25 * f)).astype(np.float32)
    if kind == 2:
        return x[::-1].copy()
    h, w = x.shape
    b = max(8, min(h, w) // 4)
    out = x.copy()
    ys, xs = list(range(0, h - b + 1, b)), list(range(0, w - b + 1, b))
    cells = [(y, xx) for y in ys for xx in xs]
    order = rng.permutation(len(cells))
    for (y, xx), j in zip(cells, order, strict=True):
        sy, sx = cells[j]
        out[y : y + b, xx : xx + b] = x[sy : sy + b, sx : sx + b]
    return out
