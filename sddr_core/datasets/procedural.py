"""Procedural ground-truth scenes: unlimited, seeded depth maps with textured RGB renderings.

The refiner never sees RGB and learns from depth maps alone (METHOD.md section 8), so the
training data are generated here: layered occluding objects in front of a room, an outdoor
ground plane or a curved backdrop; slanted, curved (spherical, cylindrical) and flat surfaces;
objects with holes; and thin structures (branches, wires, fences, grids, hair-like strands).
Depth ranges (far / near from 1.5 to 60) and aspect ratios (1:2 to 2:1) vary from scene to
scene. Each scene also gets a plausible RGB rendering (textures, shading, fog) so the
simulated predictor, two-stage refinement and figures have an image to work with.

Seeds
-----
:func:`make_scene` draws everything from ``numpy.random.default_rng([split, seed])`` with
``split`` = :data:`TRAIN_SPLIT` for :func:`training_scene` and :data:`HELDOUT_SPLIT` for
:func:`heldout_scenes`: the two seed spaces are disjoint, so no held-out scene is ever a
training scene. The same ``(split, seed, shape)`` always gives the same scene.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from sddr_core.errors import InputError

__all__ = [
    "DEFAULT_HELDOUT_SIDE",
    "HELDOUT_SPLIT",
    "TRAIN_SPLIT",
    "HeldOutDataset",
    "ProceduralScene",
    "held_out_dataset",
    "heldout_scenes",
    "make_scene",
    "scene_seed",
    "scene_shape",
    "training_scene",
]

#: First entry of the seed key of training scenes.
TRAIN_SPLIT = 0x5DD2_0001
#: First entry of the seed key of held-out (validation / evaluation) scenes.
HELDOUT_SPLIT = 0x5DD2_0002
#: Long side of held-out scenes (``sddr eval --dataset procedural:N``): about the size at
#: which a predictor with native resolution 384 is run at twice that (the simulated
#: predictor's default), as for the Motorcycle scene (741 px).
DEFAULT_HELDOUT_SIDE = 768


@dataclass
class ProceduralScene:
    """One generated scene.

    Attributes:
        name: ``procedural-<split>-<seed>`` (unique per scene).
        image: float32 RGB ``(H, W, 3)`` in ``[0, 1]``.
        depth: float32 ``(H, W)`` depth (positive, larger = farther; arbitrary metric units).
        labels: int32 ``(H, W)`` index of the surface that is visible at each pixel (0 =
            background); object boundaries are depth discontinuities or creases.
        info: what was generated (background kind, object and thin-structure counts, depth
            range).
    """

    name: str
    image: np.ndarray
    depth: np.ndarray
    labels: np.ndarray
    info: dict[str, Any] = field(default_factory=dict)
    #: convention of :attr:`gt`
    kind: str = "disparity"

    @property
    def disparity(self) -> np.ndarray:
        """``1 / depth``, float32 ``(H, W)`` (larger = nearer)."""
        return (1.0 / self.depth).astype(np.float32)

    @property
    def gt(self) -> np.ndarray:
        """The ground truth in :attr:`kind` convention (disparity: what relative monocular
        predictors output and what the Motorcycle ground truth is)."""
        return self.disparity if self.kind == "disparity" else self.depth

    @property
    def mask(self) -> np.ndarray:
        """Valid pixels: all of them (procedural ground truth is dense)."""
        return np.ones(self.depth.shape, bool)

    @property
    def shape(self) -> tuple[int, int]:
        return self.depth.shape  # type: ignore[return-value]

    def to_sample(self) -> Any:
        """This scene as an evaluation :class:`sddr_core.datasets.base.Sample` (ground truth
        in :attr:`kind`, every pixel valid, ``meta`` with the name and :attr:`info`)."""
        from sddr_core.datasets.base import Sample

        return Sample(
            rgb=self.image,
            gt=self.gt,
            gt_kind=self.kind,  # type: ignore[arg-type]
            valid=self.mask,
            meta={"name": self.name, "source": "procedural", **self.info},
        )


# --------------------------------------------------------------------------------------------
# helpers


class _Canvas:
    """Z-buffer compositing of surfaces with colours."""

    def __init__(self, h: int, w: int) -> None:
        self.h, self.w = h, w
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        s = float(max(h, w))
        # normalised coordinates, long side spans [-1, 1]
        self.x = (xx - (w - 1) / 2) / (s / 2)
        self.y = (yy - (h - 1) / 2) / (s / 2)
        self.depth = np.full((h, w), np.inf, np.float32)
        self.rgb = np.zeros((h, w, 3), np.float32)
        self.labels = np.zeros((h, w), np.int32)
        self.count = 0

    def put(self, mask: np.ndarray, z: np.ndarray | float, rgb: np.ndarray) -> None:
        """Draw a surface with depth ``z`` and colour ``rgb`` where ``mask`` holds and it is in
        front of what is there."""
        z = np.broadcast_to(np.asarray(z, np.float32), (self.h, self.w))
        win = mask & (z < self.depth) & (z > 0)
        if not win.any():
            return
        self.count += 1
        self.depth[win] = z[win]
        self.rgb[win] = rgb[win] if rgb.ndim == 3 else rgb
        self.labels[win] = self.count


def _smooth_noise(rng: np.random.Generator, h: int, w: int, scale: float) -> np.ndarray:
    """Zero-mean, unit-std smooth noise with features about ``scale`` pixels wide."""
    sh, sw = max(2, int(h / scale) + 2), max(2, int(w / scale) + 2)
    small = rng.standard_normal((sh, sw)).astype(np.float32)
    big = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    big -= big.mean()
    return big / max(float(big.std()), 1e-6)


def _texture(rng: np.random.Generator, cv: _Canvas) -> np.ndarray:
    """A random texture ``(H, W, 3)`` in [0, 1]: flat, stripes, checker, noise or grain."""
    h, w = cv.h, cv.w
    base = rng.uniform(0.1, 0.9, 3).astype(np.float32)
    other = np.clip(base + rng.normal(0, 0.25, 3), 0, 1).astype(np.float32)
    kind = rng.choice(["flat", "stripes", "checker", "noise", "grain"], p=[0.2, 0.2, 0.2, 0.2, 0.2])
    if kind == "flat":
        t = np.zeros((h, w), np.float32)
    elif kind == "stripes":
        a = rng.uniform(0, np.pi)
        f = rng.uniform(5, 40)
        t = 0.5 + 0.5 * np.sign(np.sin(f * (np.cos(a) * cv.x + np.sin(a) * cv.y)))
    elif kind == "checker":
        f = rng.uniform(4, 25)
        t = ((np.floor(f * cv.x) + np.floor(f * cv.y)) % 2).astype(np.float32)
    elif kind == "noise":
        t = np.clip(0.5 + 0.3 * _smooth_noise(rng, h, w, rng.uniform(2, 30)), 0, 1)
    else:
        warp = _smooth_noise(rng, h, w, 40)
        t = 0.5 + 0.5 * np.sin(rng.uniform(20, 60) * cv.y + 3 * warp)
    t = t.astype(np.float32)[..., None]
    fine = 0.04 * rng.standard_normal((h, w, 1)).astype(np.float32)
    return np.clip(base * (1 - t) + other * t + fine, 0, 1)


def _plane(rng: np.random.Generator, cv: _Canvas, z0: float, tilt: float) -> np.ndarray:
    """Depth of a plane through depth ``z0`` at a random point, slanted by up to ``tilt``:
    inverse depth is linear in image coordinates (a true perspective plane)."""
    gx, gy = rng.uniform(-tilt, tilt, 2)
    cx, cy = rng.uniform(-0.5, 0.5, 2)
    inv = 1.0 / z0 * (1.0 + gx * (cv.x - cx) + gy * (cv.y - cy))
    with np.errstate(divide="ignore"):
        return np.where(inv > 1e-6, 1.0 / np.maximum(inv, 1e-6), np.inf).astype(np.float32)


def _shape_mask(rng: np.random.Generator, cv: _Canvas, size: float) -> tuple[np.ndarray, Any]:
    """A random region about ``size`` (in normalised units) across, and its centre."""
    cx, cy = rng.uniform(-1.0, 1.0), rng.uniform(-0.9, 0.9) * cv.h / max(cv.h, cv.w)
    kind = rng.choice(["ellipse", "rect", "polygon", "blob", "ring"], p=[0.25, 0.25, 0.2, 0.2, 0.1])
    a = rng.uniform(0, np.pi)
    dx, dy = cv.x - cx, cv.y - cy
    u = np.cos(a) * dx + np.sin(a) * dy
    v = -np.sin(a) * dx + np.cos(a) * dy
    rx = size * rng.uniform(0.4, 1.0)
    ry = size * rng.uniform(0.2, 1.0)
    if kind == "ellipse":
        m = (u / rx) ** 2 + (v / ry) ** 2 < 1
    elif kind == "rect":
        m = (np.abs(u) < rx) & (np.abs(v) < ry)
    elif kind == "ring":
        r = np.sqrt((u / rx) ** 2 + (v / ry) ** 2)
        m = (r < 1) & (r > rng.uniform(0.4, 0.8))
    elif kind == "polygon":
        n = int(rng.integers(3, 9))
        ang = np.sort(rng.uniform(0, 2 * np.pi, n))
        rad = size * rng.uniform(0.4, 1.0, n)
        s = max(cv.h, cv.w) / 2
        pts = np.stack(
            [
                (cx + rad * np.cos(ang)) * s + (cv.w - 1) / 2,
                (cy + rad * np.sin(ang)) * s + (cv.h - 1) / 2,
            ],
            axis=1,
        )
        img = np.zeros((cv.h, cv.w), np.uint8)
        cv2.fillPoly(img, [np.round(pts).astype(np.int32)], 1)
        m = img.astype(bool)
    else:  # blob: thresholded smooth noise inside an ellipse envelope
        env = 1 - np.sqrt((u / rx) ** 2 + (v / ry) ** 2)
        noise = _smooth_noise(rng, cv.h, cv.w, max(4.0, size * max(cv.h, cv.w) / 6))
        m = env + 0.25 * noise > 0.2
    if rng.random() < 0.25:  # holes: see-through openings
        for _ in range(int(rng.integers(1, 6))):
            hx = cx + rng.uniform(-0.7, 0.7) * rx
            hy = cy + rng.uniform(-0.7, 0.7) * ry
            hr = size * rng.uniform(0.05, 0.25)
            m &= (cv.x - hx) ** 2 + (cv.y - hy) ** 2 > hr * hr
    return m, (cx, cy, rx, ry)


def _surface(rng: np.random.Generator, cv: _Canvas, z0: float, centre: Any, depth_span: float):
    """Depth of an object's surface near depth ``z0``: flat, slanted, spherical or cylindrical."""
    cx, cy, rx, ry = centre
    kind = rng.choice(["flat", "slanted", "sphere", "cylinder"], p=[0.25, 0.35, 0.25, 0.15])
    if kind == "flat":
        return np.full((cv.h, cv.w), z0, np.float32)
    if kind == "slanted":
        return _plane(rng, cv, z0, tilt=rng.uniform(0.2, 1.5))
    bulge = z0 * rng.uniform(0.05, 0.4) * min(1.0, depth_span)
    if kind == "sphere":
        r2 = ((cv.x - cx) / max(rx, 1e-3)) ** 2 + ((cv.y - cy) / max(ry, 1e-3)) ** 2
        return (z0 - bulge * np.sqrt(np.clip(1 - r2, 0, 1))).astype(np.float32)
    a = rng.uniform(0, np.pi)
    u = (np.cos(a) * (cv.x - cx) + np.sin(a) * (cv.y - cy)) / max(rx, 1e-3)
    return (z0 - bulge * np.sqrt(np.clip(1 - u * u, 0, 1))).astype(np.float32)


def _to_px(cv: _Canvas, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    s = max(cv.h, cv.w) / 2
    return np.stack([x * s + (cv.w - 1) / 2, y * s + (cv.h - 1) / 2], axis=-1)


def _draw_lines(cv: _Canvas, polylines: list[np.ndarray], widths: list[int]) -> np.ndarray:
    """Boolean mask of polylines (pixel coordinates) drawn with the given widths."""
    img = np.zeros((cv.h, cv.w), np.uint8)
    for pts, wd in zip(polylines, widths, strict=True):
        p = np.round(pts * 4).astype(np.int32)  # 2 fractional bits: smooth thin curves
        cv2.polylines(img, [p], False, 1, thickness=max(1, int(wd)), lineType=cv2.LINE_8, shift=2)
    return img.astype(bool)


def _branches(rng: np.random.Generator, cv: _Canvas) -> tuple[list[np.ndarray], list[int]]:
    """A recursive tree: trunk from an image border, forks with decreasing width."""
    s = max(cv.h, cv.w)
    lines: list[np.ndarray] = []
    widths: list[int] = []
    side = rng.integers(4)
    start = {
        0: (rng.uniform(0, cv.w), cv.h + 2),
        1: (rng.uniform(0, cv.w), -2),
        2: (-2, rng.uniform(0, cv.h)),
        3: (cv.w + 2, rng.uniform(0, cv.h)),
    }[int(side)]
    angle0 = {0: -np.pi / 2, 1: np.pi / 2, 2: 0.0, 3: np.pi}[int(side)] + rng.uniform(-0.5, 0.5)
    stack = [
        (np.array(start, np.float32), angle0, s * rng.uniform(0.2, 0.45), rng.uniform(3, 8), 0)
    ]
    while stack and len(lines) < 60:
        p, ang, length, width, level = stack.pop()
        n = 8
        bend = rng.normal(0, 0.15, n).cumsum()
        step = length / n
        pts = [p]
        for k in range(n):
            a = ang + bend[k]
            pts.append(pts[-1] + step * np.array([np.cos(a), np.sin(a)], np.float32))
        pts_arr = np.array(pts)
        lines.append(pts_arr)
        widths.append(max(1, int(round(width))))
        if level < 4 and width > 1.2:
            for _ in range(int(rng.integers(1, 4))):
                i = int(rng.integers(n // 3, n + 1))
                stack.append(
                    (
                        pts_arr[i],
                        ang + bend[min(i, n - 1)] + rng.choice([-1, 1]) * rng.uniform(0.3, 1.0),
                        length * rng.uniform(0.4, 0.75),
                        width * rng.uniform(0.5, 0.75),
                        level + 1,
                    )
                )
    return lines, widths


def _wires(rng: np.random.Generator, cv: _Canvas) -> tuple[list[np.ndarray], list[int]]:
    """Catenary-like wires crossing the image, 1-3 px wide."""
    lines, widths = [], []
    n = int(rng.integers(1, 5))
    y0, y1 = rng.uniform(-1, 1, 2)
    sag = rng.uniform(0.02, 0.4)
    for k in range(n):
        t = np.linspace(-1.2, 1.2, 64)
        off = 0.04 * k
        y = y0 + (y1 - y0) * (t + 1.2) / 2.4 + sag * (t * t - 1.44) * -1 + off
        lines.append(_to_px(cv, t, y * cv.h / max(cv.h, cv.w)))
        widths.append(int(rng.integers(1, 4)))
    return lines, widths


def _fence(rng: np.random.Generator, cv: _Canvas) -> np.ndarray:
    """A picket fence or railing: vertical bars plus one or two horizontal rails."""
    period = rng.uniform(6, 30)
    bar = rng.uniform(0.2, 0.6) * period
    top, bottom = sorted(rng.uniform(0, cv.h, 2))
    if bottom - top < 0.2 * cv.h:
        top, bottom = 0.3 * cv.h, cv.h
    xx = np.arange(cv.w, dtype=np.float32)[None, :]
    yy = np.arange(cv.h, dtype=np.float32)[:, None]
    phase = rng.uniform(0, period)
    bars = ((xx + phase) % period < bar) & (yy >= top) & (yy <= bottom)
    rails = np.zeros((cv.h, cv.w), bool)
    for _ in range(int(rng.integers(1, 3))):
        ry = rng.uniform(top, bottom)
        rails |= np.broadcast_to(np.abs(yy - ry) < rng.uniform(1, 5), (cv.h, cv.w))
    return bars | rails


def _grid(rng: np.random.Generator, cv: _Canvas) -> np.ndarray:
    """A mesh (grating, chain-link-like lattice) of thin lines, possibly rotated."""
    period = rng.uniform(5, 24)
    thick = rng.uniform(1.0, min(4.0, period / 2))
    a = rng.uniform(0, np.pi / 2) if rng.random() < 0.5 else 0.0
    s = max(cv.h, cv.w) / 2
    u = (np.cos(a) * cv.x + np.sin(a) * cv.y) * s
    v = (-np.sin(a) * cv.x + np.cos(a) * cv.y) * s
    m = (u % period < thick) | (v % period < thick)
    region, _ = _shape_mask(rng, cv, rng.uniform(0.4, 1.2))
    return m & region


def _strands(rng: np.random.Generator, cv: _Canvas) -> tuple[list[np.ndarray], list[int]]:
    """Hair-like strands: many 1 px smooth curves from a common root area."""
    lines, widths = [], []
    root = np.array([rng.uniform(0, cv.w), rng.uniform(0, cv.h)], np.float32)
    ang = rng.uniform(0, 2 * np.pi)
    length = max(cv.h, cv.w) * rng.uniform(0.1, 0.35)
    for _ in range(int(rng.integers(15, 80))):
        a = ang + rng.normal(0, 0.4)
        curl = rng.normal(0, 0.08, 16).cumsum()
        p = root + rng.normal(0, 4, 2).astype(np.float32)
        pts = [p]
        for k in range(16):
            pts.append(pts[-1] + length / 16 * np.array([np.cos(a + curl[k]), np.sin(a + curl[k])]))
        lines.append(np.array(pts, np.float32))
        widths.append(1)
    return lines, widths


def _background(rng: np.random.Generator, cv: _Canvas, near: float, far: float) -> str:
    kind = str(rng.choice(["room", "outdoor", "curved", "wall"], p=[0.35, 0.3, 0.2, 0.15]))
    if kind == "room":
        # inside a box: the visible wall is the nearest plane ahead
        z = np.full((cv.h, cv.w), np.inf, np.float32)
        back = rng.uniform(0.6, 1.0) * far
        z = np.minimum(z, _plane(rng, cv, back, 0.3))
        for axis, sign in ((cv.y, 1), (cv.y, -1), (cv.x, 1), (cv.x, -1)):
            if rng.random() < 0.7:
                k = rng.uniform(0.8, 3.0)
                inv = (sign * axis - rng.uniform(-0.2, 0.6)) * k / back
                zz = np.where(inv > 1e-6, 1 / np.maximum(inv, 1e-6), np.inf).astype(np.float32)
                z = np.minimum(z, zz)
        cv.put(np.ones((cv.h, cv.w), bool), np.clip(z, near, far), _texture(rng, cv))
        # second texture for walls vs floor adds creases in colour
        floor = cv.y > rng.uniform(0.0, 0.5)
        cv.rgb[floor] = _texture(rng, cv)[floor]
    elif kind == "outdoor":
        horizon = rng.uniform(-0.6, 0.3)
        k = rng.uniform(0.5, 3.0)
        inv = (cv.y - horizon) * k / near
        ground = np.where(inv > 1 / far, 1 / np.maximum(inv, 1e-6), far).astype(np.float32)
        ground = np.clip(ground, near, far)
        sky = (
            np.ones((cv.h, cv.w, 3), np.float32)
            * np.array([0.5, 0.7, 0.95], np.float32)
            * rng.uniform(0.7, 1.1)
        )
        sky_rgb = np.clip(sky + 0.1 * _smooth_noise(rng, cv.h, cv.w, 60)[..., None], 0, 1)
        tex = _texture(rng, cv)
        rgb = np.where((inv > 1 / far)[..., None], tex, sky_rgb)
        cv.put(np.ones((cv.h, cv.w), bool), ground, rgb)
        if rng.random() < 0.6:  # distant hills / skyline
            prof = horizon - 0.05 - 0.3 * np.abs(_smooth_noise(rng, 1, cv.w, 40))[0]
            hills = cv.y > prof[None, :]
            cv.put(hills, np.full((cv.h, cv.w), far * rng.uniform(0.6, 0.95)), _texture(rng, cv))
    elif kind == "curved":
        z = far * (0.75 + 0.2 * _smooth_noise(rng, cv.h, cv.w, max(cv.h, cv.w) / 2) / 3)
        cv.put(np.ones((cv.h, cv.w), bool), np.clip(z, near, far), _texture(rng, cv))
    else:
        cv.put(
            np.ones((cv.h, cv.w), bool),
            np.clip(_plane(rng, cv, rng.uniform(0.5, 1.0) * far, 0.8), near, far),
            _texture(rng, cv),
        )
    return kind


def _shade(cv: _Canvas, rng: np.random.Generator, near: float, far: float) -> np.ndarray:
    """Lambert shading from depth normals, plus fog with distance; float32 RGB in [0, 1]."""
    d = cv.depth
    s = max(cv.h, cv.w) / 2
    gy, gx = np.gradient(d / np.maximum(d, 1e-6).mean() * s / 4)
    n = np.stack([-gx, -gy, np.ones_like(gx)], -1)
    n /= np.linalg.norm(n, axis=-1, keepdims=True)
    light = np.array([rng.uniform(-0.5, 0.5), rng.uniform(-0.8, 0.1), 1.0], np.float32)
    light /= np.linalg.norm(light)
    lam = np.clip(n @ light, 0, 1)
    shaded = cv.rgb * (0.35 + 0.65 * lam[..., None])
    fog = np.clip((d - near) / max(far - near, 1e-6), 0, 1)[..., None] * rng.uniform(0.0, 0.5)
    fog_col = np.array([0.75, 0.78, 0.82], np.float32)
    img = shaded * (1 - fog) + fog_col * fog
    return np.clip(img, 0, 1).astype(np.float32)


# --------------------------------------------------------------------------------------------
# public API


def scene_shape(rng: np.random.Generator, long_side: int) -> tuple[int, int]:
    """A random ``(H, W)`` with long side ``long_side`` and aspect ratio in [1/2, 2]
    (log-uniform)."""
    aspect = float(np.exp(rng.uniform(np.log(0.5), np.log(2.0))))
    short = max(16, int(round(long_side * min(aspect, 1 / aspect))))
    return (short, long_side) if aspect >= 1 else (long_side, short)


def make_scene(
    seed: int,
    shape: tuple[int, int] | None = None,
    *,
    split: int = TRAIN_SPLIT,
    long_side: int = 384,
    kind: str = "disparity",
) -> ProceduralScene:
    """Generate one scene.

    Args:
        seed: scene index (any non-negative integer).
        shape: ``(H, W)``; when None, a random aspect ratio with long side ``long_side``.
        split: seed-space tag (:data:`TRAIN_SPLIT` or :data:`HELDOUT_SPLIT`).
        long_side: long side when ``shape`` is None.
        kind: convention of :attr:`ProceduralScene.gt` ("disparity" or "depth").

    Returns:
        A :class:`ProceduralScene`; deterministic in ``(split, seed, shape)``.
    """
    if seed < 0:
        raise InputError(f"scene seed must be non-negative, got {seed}.")
    if kind not in ("disparity", "depth"):
        raise InputError(f"kind must be 'disparity' or 'depth', got {kind!r}.")
    rng = np.random.default_rng([int(split), int(seed)])
    if shape is None:
        shape = scene_shape(rng, int(long_side))
    h, w = int(shape[0]), int(shape[1])
    if min(h, w) < 16:
        raise InputError(f"scene shape must be at least 16x16, got {h}x{w}.")
    cv = _Canvas(h, w)
    near = float(rng.uniform(0.5, 3.0))
    far = near * float(np.exp(rng.uniform(np.log(1.5), np.log(60.0))))
    span = np.log(far / near)
    bg = _background(rng, cv, near, far)

    def z_between(lo: float, hi: float) -> float:
        # log-uniform depth within [lo, hi] fractions of the log range
        return float(near * np.exp(span * rng.uniform(lo, hi)))

    n_obj = int(rng.integers(2, 12))
    n_thin = int(rng.integers(0, 5)) if rng.random() < 0.85 else 0
    # far to near, objects and thin structures interleaved so thin things occlude and are
    # occluded
    items = ["object"] * n_obj + ["thin"] * n_thin
    rng.shuffle(items)
    depths = np.sort(rng.uniform(0.0, 0.9, len(items)))[::-1]
    thin_kinds: list[str] = []
    for item, frac in zip(items, depths, strict=True):
        z0 = float(near * np.exp(span * frac))
        if item == "object":
            size = float(rng.uniform(0.08, 0.6)) * (1.2 - 0.6 * frac)
            m, centre = _shape_mask(rng, cv, size)
            z = _surface(rng, cv, z0, centre, span)
            cv.put(m, np.clip(z, near * 0.9, far), _texture(rng, cv))
        else:
            tk = str(rng.choice(["branches", "wires", "fence", "grid", "strands"]))
            thin_kinds.append(tk)
            if tk == "branches":
                m = _draw_lines(cv, *_branches(rng, cv))
            elif tk == "wires":
                m = _draw_lines(cv, *_wires(rng, cv))
            elif tk == "strands":
                m = _draw_lines(cv, *_strands(rng, cv))
            elif tk == "fence":
                m = _fence(rng, cv)
            else:
                m = _grid(rng, cv)
            z = _plane(rng, cv, z0, tilt=rng.uniform(0.0, 0.8))
            col = np.clip(rng.uniform(0.05, 0.95, 3), 0, 1).astype(np.float32)
            tex = np.clip(col + 0.05 * rng.standard_normal((h, w, 3)), 0, 1).astype(np.float32)
            cv.put(m, np.clip(z, near * 0.9, far), tex)
    depth = np.where(np.isfinite(cv.depth), cv.depth, far).astype(np.float32)
    cv.depth = depth
    image = _shade(cv, rng, near, far)
    info = {
        "background": bg,
        "objects": n_obj,
        "thin": thin_kinds,
        "near": near,
        "far": far,
        "seed": int(seed),
        "split": int(split),
    }
    tag = "train" if split == TRAIN_SPLIT else ("heldout" if split == HELDOUT_SPLIT else split)
    return ProceduralScene(f"procedural-{tag}-{seed}", image, depth, cv.labels, info, kind)


def training_scene(seed: int, shape: tuple[int, int] | None = None, **kw: Any) -> ProceduralScene:
    """A training scene: :func:`make_scene` in the training seed space."""
    return make_scene(seed, shape, split=TRAIN_SPLIT, **kw)


def heldout_scenes(
    n: int, seed: int = 0, *, long_side: int = DEFAULT_HELDOUT_SIDE, kind: str = "disparity"
) -> Iterator[Any]:
    """``n`` held-out scenes for validation and evaluation, never used for training.

    Scene ``i`` uses seed ``seed + i`` in the held-out seed space (disjoint from
    :func:`training_scene`'s), a random aspect ratio and long side ``long_side``.

    Yields:
        :class:`sddr_core.datasets.base.Sample` objects (``rgb``, ``gt`` in ``kind``,
        ``valid`` all True, ``meta["name"]`` = ``procedural-heldout-<seed>``); generated one
        at a time.
    """
    if n < 0:
        raise InputError(f"number of held-out scenes must be non-negative, got {n}.")
    for i in range(int(n)):
        scene = make_scene(int(seed) + i, split=HELDOUT_SPLIT, long_side=long_side, kind=kind)
        yield scene.to_sample()


class HeldOutDataset:
    """``n`` held-out procedural scenes as a :class:`sddr_core.datasets.base.Dataset`
    (lazy: a scene is generated when iterated or asked for by :meth:`sample`)."""

    def __init__(
        self, n: int, seed: int = 0, *, long_side: int = DEFAULT_HELDOUT_SIDE,
        kind: str = "disparity",
    ) -> None:  # fmt: skip
        if n < 1:
            raise InputError(f"procedural:N needs at least one scene, got {n}.")
        self.n, self.seed, self.long_side, self.kind = int(n), int(seed), int(long_side), kind
        self.name = f"procedural-{self.n}"

    @property
    def names(self) -> list[str]:
        return [f"procedural-heldout-{self.seed + i}" for i in range(self.n)]

    def sample(self, index: int) -> Any:
        if not 0 <= index < self.n:
            raise IndexError(index)
        return make_scene(
            self.seed + index, split=HELDOUT_SPLIT, long_side=self.long_side, kind=self.kind
        ).to_sample()

    def __len__(self) -> int:
        return self.n

    def __iter__(self) -> Iterator[Any]:
        return heldout_scenes(self.n, self.seed, long_side=self.long_side, kind=self.kind)

    def __repr__(self) -> str:
        return f"HeldOutDataset({self.n} scenes, seed={self.seed}, long_side={self.long_side})"


def held_out_dataset(n: int, seed: int = 0, **kw: Any) -> HeldOutDataset:
    """``sddr eval --dataset procedural:N``: :class:`HeldOutDataset` of ``n`` scenes."""
    return HeldOutDataset(n, seed, **kw)


def scene_seed(name: str) -> int:
    """A stable non-negative integer from a string (for seeding per-scene noise)."""
    return zlib.crc32(name.encode()) & 0x7FFFFFFF
