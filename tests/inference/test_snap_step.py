"""``refine(..., snap=True)``: the refined map's edges are snapped to the image's edges."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

import sddr_core
from sddr_core import refine, refine_depths
from sddr_core.cli.main import build_parser

from helpers import make_scene


class BlurryPredictor:
    """Disparity of a known scene as a network sees it: downsampled to ``resolution`` and
    blurred by two of its pixels, so every depth edge is soft and a little off."""

    native_resolution = 64

    def __init__(self, disp: np.ndarray, kind: str = "disparity") -> None:
        self.disp = disp
        self.kind = kind
        self.name = "blurry"

    def predict(self, image: np.ndarray, resolution: int) -> np.ndarray:
        h, w = self.disp.shape
        s = resolution / max(h, w)
        small = cv2.resize(self.disp, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA)
        out = cv2.GaussianBlur(small, (0, 0), 2.0)
        return out if self.kind == "disparity" else (1.0 / out).astype(np.float32)


def _edges(disp: np.ndarray) -> np.ndarray:
    return cv2.Canny((disp * 60).astype(np.uint8), 10, 30) > 0


def _edge_error(depth: np.ndarray, disp: np.ndarray) -> float:
    """Mean absolute error (after a scale-and-shift fit) within 4 px of a depth edge."""
    from sddr_core.ops import apply_scale_shift

    edges = cv2.dilate(_edges(disp).astype(np.uint8), np.ones((9, 9), np.uint8)).astype(bool)
    return float(np.abs(apply_scale_shift(depth, disp) - disp)[edges].mean())


@pytest.fixture(scope="module")
def scene() -> tuple[np.ndarray, np.ndarray]:
    return make_scene(144, 192)


def test_snapping_brings_edges_closer_to_the_truth(scene):
    rgb, disp = scene
    pred = BlurryPredictor(disp)
    plain = refine(rgb, pred, refiner="poisson", snap=False)
    snapped = refine(rgb, pred, refiner="poisson")
    assert "snap_radius" not in plain.info and "snap" not in plain.timings
    assert snapped.info["snap_radius"] >= 5 and snapped.info["snapped_pixels"] > 0
    assert snapped.timings["snap"] > 0
    assert _edge_error(snapped.depth, disp) < 0.8 * _edge_error(plain.depth, disp)
    # depth edges move; away from them (on the slanted background) values barely change
    near = cv2.dilate(_edges(disp).astype(np.uint8), np.ones((41, 41), np.uint8)).astype(bool)
    moved = np.abs(snapped.depth - plain.depth)
    span = float(np.ptp(plain.depth))
    assert moved[near].max() > 0.2 * span and moved[~near].max() < 0.01 * span


def test_snapping_in_two_stage_and_for_depth_kind_stays_positive(scene):
    rgb, disp = scene
    result = refine(rgb, BlurryPredictor(disp, "depth"), refiner="poisson", mode="two-stage")
    assert result.kind == "depth" and result.info["snapped_pixels"] > 0
    assert result.depth.min() > 0
    assert result.depth.shape == disp.shape


@pytest.mark.parametrize("mode", ["one-stage", "two-stage"])
def test_a_depth_kind_predictor_refines_as_its_disparity_would(scene, mode):
    # the fusion runs in disparity for depth-kind passes, and the snap judges steps there too
    rgb, disp = scene[0], scene[1]
    as_disparity = refine(rgb, BlurryPredictor(disp), refiner="poisson", mode=mode)
    as_depth = refine(rgb, BlurryPredictor(disp, "depth"), refiner="poisson", mode=mode)
    assert as_depth.info["snapped_pixels"] > 0
    # the whole pipeline runs in disparity for depth-kind passes (resizing included): the
    # result is its disparity twin's reciprocal, up to float rounding
    snapped = as_depth.info["snapped_pixels"], as_disparity.info["snapped_pixels"]
    assert abs(snapped[0] - snapped[1]) <= 0.001 * disp.size  # a rounded tie may flip
    # ... and the 3x3 clean-up after the snap then takes a neighbour's value there
    rel = np.abs(1.0 / as_depth.depth - as_disparity.depth) / as_disparity.depth
    assert np.count_nonzero(rel > 1e-5) <= 0.001 * disp.size and rel.max() < 1e-3


def test_refine_depths_snaps_to_a_given_photo(scene):
    rgb, disp = scene
    pred = BlurryPredictor(disp)
    low, high = pred.predict(rgb, 64), pred.predict(rgb, 128)
    plain = refine_depths(low, high, refiner="poisson")
    assert plain.depth.shape == high.shape and "snap_radius" not in plain.info
    snapped = refine_depths(low, high, refiner="poisson", image=rgb)
    assert snapped.depth.shape == disp.shape  # the photo's size
    assert snapped.info["snapped_pixels"] > 0
    plain_full = refine_depths(low, high, refiner="poisson", size=disp.shape)
    assert _edge_error(snapped.depth, disp) < _edge_error(plain_full.depth, disp)
    # a photo of another size is resized to the output size
    small = refine_depths(low, high, refiner="poisson", image=rgb, size=(72, 96))
    assert small.depth.shape == (72, 96) and small.info["snapped_pixels"] > 0


def test_sequences_snap_each_frame(scene):
    rgb, disp = scene
    pred = BlurryPredictor(disp)
    on = list(sddr_core.refine_sequence([rgb, rgb], pred, refiner="poisson", prefetch=False))
    off = list(
        sddr_core.refine_sequence([rgb, rgb], pred, refiner="poisson", prefetch=False, snap=False)
    )
    assert all(r.info["snapped_pixels"] > 0 for r in on)
    assert all("snapped_pixels" not in r.info for r in off)
    assert _edge_error(on[1].depth, disp) < _edge_error(off[1].depth, disp)


@pytest.mark.parametrize("command", ["refine", "eval", "fuse"])
def test_command_line_can_turn_snapping_off(command):
    parser = build_parser()
    args = {
        "refine": ["refine", "a.png", "-o", "out"],
        "eval": ["eval", "--dataset", "motorcycle", "--predictor", "simulated"],
        "fuse": ["fuse", "lo.png", "hi.png", "-o", "out"],
    }[command]
    assert parser.parse_args(args).snap is True
    assert parser.parse_args([*args, "--no-snap"]).snap is False
