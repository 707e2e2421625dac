"""Training pairs from many degradation families (how real predictors get depth wrong).

A training pair is what a refiner receives, ``(low, high)`` at one working size, plus the
ground truth it should recover. :func:`make_pair` builds one from a ground-truth disparity
crop and its image: both passes start from the ground truth seen at their resolution
(:func:`sddr_core.ops.noise.resolution_blur`), then a *primary family* degrades them, maybe a
*secondary* one on top, then each pass gets its own global scale and shift (and, for a
quarter of the pairs, everything is turned into depth, the convention of metric predictors).

======================  ====================================================================
``sddr``                the SDDR noise model: per-region scale/shift and edge bumps at high
``structural``          low: boundaries fattened, thin parts removed, bleeding, warping
``texture``             high: image texture copied into depth
``lowfreq``             different bias fields / gamma / range compression in the two passes
``holes``               holes filled as tools fill them, in either pass
``quantize``            8-bit storage (banding), in either pass
``high-good``           a high pass that is right everywhere (follow it)
``high-unusable``       a high pass unrelated to the scene (ignore it)
``stereo``              real estimators: stereo matchers at two resolutions (needs a pair)
======================  ====================================================================

Families are what leave-one-family-out evaluation holds out: :func:`make_pair` takes the
allowed families, so a run can be trained without one and evaluated on it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from sddr_core.ops import degrade
from sddr_core.ops.holes import fill_invalid
from sddr_core.ops.noise import depth_edges, edge_bumps, local_inconsistency, resolution_blur
from sddr_core.ops.resize import resize_map

__all__ = ["FAMILIES", "SECONDARY", "Pair", "make_pair"]

FAMILIES: tuple[str, ...] = (
    "sddr",
    "structural",
    "texture",
    "lowfreq",
    "holes",
    "quantize",
    "high-good",
    "high-unusable",
    "stereo",
)

#: Families that may be stacked on top of the primary one (mildly).
SECONDARY: tuple[str, ...] = ("sddr", "texture", "lowfreq", "holes", "quantize", "structural")


@dataclass
class Pair:
    """One training pair at the working size (float32 ``(h, w)`` maps).

    Attributes:
        low, high: the two passes, in ``kind``, each with its own scale and shift.
        gt: ground truth in ``kind``; NaN where unknown.
        kind: ``"disparity"`` or ``"depth"``.
        families: the families applied, primary first.
    """

    low: np.ndarray
    high: np.ndarray
    gt: np.ndarray
    kind: str
    families: tuple[str, ...]


Maps = tuple[np.ndarray, np.ndarray]


def _pass(g: np.ndarray, resolution: int, sigma: float) -> np.ndarray:
    return resize_map(resolution_blur(g, resolution, sigma=sigma), g.shape)


def _sddr(low: np.ndarray, high: np.ndarray, rng: np.random.Generator, s: float) -> Maps:
    edges = depth_edges(high)
    patch = int(max(16, min(high.shape) // rng.uniform(2.0, 5.0)))
    high = local_inconsistency(high, s, rng, patch=patch, stride=patch // 2, edges=edges)
    return low, edge_bumps(high, s, rng, edges=edges)


def _structural(g: np.ndarray, rng: np.random.Generator, s: float) -> np.ndarray:
    ops = [degrade.fatten_boundaries, degrade.remove_thin, degrade.bleed, degrade.warp]
    picks = rng.choice(len(ops), size=int(rng.integers(1, 3)), replace=False)
    for i in picks:
        g = ops[int(i)](g, rng, s)
    return g


def _lowfreq(x: np.ndarray, rng: np.random.Generator, s: float) -> np.ndarray:
    ops = [degrade.bias_field, degrade.gamma_curve, degrade.range_compress]
    return ops[int(rng.integers(len(ops)))](x, rng, s)


def _either(
    low: np.ndarray, high: np.ndarray, rng: np.random.Generator, op: Callable[..., np.ndarray]
) -> Maps:
    which = int(rng.integers(3))  # 0: low, 1: high, 2: both
    if which in (0, 2):
        low = op(low)
    if which in (1, 2):
        high = op(high)
    return low, high


def _apply(
    family: str,
    low: np.ndarray,
    high: np.ndarray,
    *,
    g: np.ndarray,
    image: np.ndarray,
    rng: np.random.Generator,
    s: float,
    res: tuple[int, int, float, float],
    stereo: Maps | None,
) -> Maps:
    low_res, high_res, low_sigma, high_sigma = res
    if family == "sddr":
        return _sddr(low, high, rng, s)
    if family == "structural":
        low = _pass(_structural(g, rng, s), low_res, low_sigma)
        if rng.random() < 0.4:  # high passes have smaller structural errors of their own
            high = _pass(_structural(g, rng, 0.3 * s), high_res, high_sigma)
        return low, high
    if family == "texture":
        high = degrade.texture_copy(high, image, rng, s)
        if rng.random() < 0.2:
            low = degrade.texture_copy(low, image, rng, 0.3 * s)
        return low, high
    if family == "lowfreq":
        return _lowfreq(low, rng, s), _lowfreq(high, rng, s)
    if family == "holes":
        return _either(low, high, rng, lambda x: degrade.punch_holes(x, rng, s))
    if family == "quantize":
        return _either(low, high, rng, lambda x: degrade.quantize(x, rng, s))
    if family == "high-good":
        noise = rng.normal(0.0, 0.002 * s, g.shape).astype(np.float32) * float(np.std(g))
        return low, cv2.GaussianBlur(g, (0, 0), sigmaX=float(rng.uniform(0.3, 0.8))) + noise
    if family == "high-unusable":
        return low, degrade.unusable(high, rng)
    if family == "stereo":
        if stereo is None:
            raise ValueError("the stereo family needs precomputed stereo passes")
        return stereo
    raise ValueError(f"unknown family {family!r}; choose from {', '.join(FAMILIES)}")


def _affine(x: np.ndarray, rng: np.random.Generator, positive: bool) -> np.ndarray:
    scale = float(np.exp(rng.uniform(np.log(0.3), np.log(3.0))))
    spread = float(np.std(x)) or 1.0
    shift = float(rng.uniform(0.0, 0.5) if positive else rng.normal(0.0, 0.5)) * spread
    return (x * scale + shift).astype(np.float32)


def make_pair(
    gt: np.ndarray,
    image: np.ndarray,
    rng: np.random.Generator,
    *,
    families: Sequence[str] = FAMILIES,
    stereo: Maps | None = None,
    secondary_p: float = 0.4,
    depth_fraction: float = 0.25,
    low_range: tuple[float, float] = (0.2, 0.6),
    high_range: tuple[float, float] = (0.6, 1.0),
    strength: tuple[float, float] = (0.3, 2.0),
) -> Pair:
    """A training pair from a ground-truth disparity crop.

    Args:
        gt: float ``(h, w)`` disparity (larger = nearer); NaN, inf and non-positive = unknown.
        image: RGB ``(h, w, 3)`` of the crop (texture copy reads it).
        rng: all randomness.
        families: allowed families; the primary one is drawn among them (``stereo`` only when
            ``stereo`` is given), the secondary (with probability ``secondary_p``) among the
            allowed :data:`SECONDARY` ones.
        stereo: ``(low, high)`` disparity from a real estimator at two resolutions, resized
            to the crop, for the ``stereo`` family.
        depth_fraction: share of pairs returned as depth (``1 / disparity``).
        low_range, high_range: the passes' resolutions as fractions of the crop's long side.
        strength: range of the degradation strength.
    """
    valid = np.isfinite(gt) & (gt > 0)
    g = fill_invalid(np.where(valid, gt, np.nan).astype(np.float32))
    side = max(g.shape)
    low_res = max(16, int(side * rng.uniform(*low_range)))
    high_res = max(low_res + 1, int(side * rng.uniform(*high_range)))
    res = (low_res, high_res, float(rng.uniform(0.7, 2.0)), float(rng.uniform(0.3, 1.0)))
    low = _pass(g, low_res, res[2])
    high = _pass(g, high_res, res[3])
    allowed = [f for f in families if f != "stereo" or stereo is not None]
    if not allowed:
        raise ValueError("no family to draw from: allow at least one family")
    primary = str(rng.choice(allowed))
    applied = [primary]
    s = float(rng.uniform(*strength))
    ctx = {"g": g, "image": image, "rng": rng, "res": res, "stereo": stereo}
    low, high = _apply(primary, low, high, s=s, **ctx)
    extra = [f for f in SECONDARY if f in families and f != primary]
    if extra and rng.random() < secondary_p:
        second = str(rng.choice(extra))
        low, high = _apply(second, low, high, s=0.5 * float(rng.uniform(*strength)), **ctx)
        applied.append(second)
    kind = "depth" if rng.random() < depth_fraction else "disparity"
    target = np.where(valid, gt, np.nan).astype(np.float32)
    if kind == "depth":
        floor = 0.05 * float(np.percentile(g, 50))
        low, high = (1.0 / np.maximum(m, floor) for m in (low, high))
        target = 1.0 / target
    positive = kind == "depth"
    return Pair(
        _affine(low, rng, positive),
        _affine(high, rng, positive),
        target.astype(np.float32),
        kind,
        tuple(applied),
    )
