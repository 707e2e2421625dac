"""The public contract of ``sddr_core.refine`` and ``RefinedDepth``."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

import sddr_core
from sddr_core import InputError, PredictorError, RefinedDepth, refine
from sddr_core.predictors.simulated import SimulatedPredictor

from helpers import ToyPredictor, luminance_predictor, make_scene


def _check(result: RefinedDepth, h: int, w: int) -> None:
    assert isinstance(result, RefinedDepth)
    for arr in (result.depth, result.edges, result.low, result.high):
        assert arr.shape == (h, w)
        assert arr.dtype == np.float32
        assert np.isfinite(arr).all()
    assert result.timings["total"] >= result.timings["refine"] > 0


@pytest.mark.parametrize(
    "convert",
    [
        pytest.param(lambda x: x, id="float-hw3"),
        pytest.param(lambda x: (x * 255).round().astype(np.uint8), id="uint8-hw3"),
        pytest.param(lambda x: (x * 65535).round().astype(np.uint16), id="uint16-hw3"),
        pytest.param(lambda x: x[..., 0], id="float-hw"),
        pytest.param(lambda x: np.concatenate([x, np.ones_like(x[..., :1])], -1), id="rgba"),
        pytest.param(lambda x: Image.fromarray((x * 255).astype(np.uint8)), id="pil"),
        pytest.param(lambda x: torch.from_numpy(x).permute(2, 0, 1).contiguous(), id="torch-3hw"),
        pytest.param(lambda x: torch.from_numpy(x), id="torch-hw3"),
    ],
)
def test_image_kinds(scene, toy_predictor, convert):
    rgb, _ = scene
    result = refine(convert(rgb), toy_predictor, refiner="poisson")
    _check(result, *rgb.shape[:2])


def test_image_from_file(tmp_path, scene, toy_predictor):
    rgb, _ = scene
    path = tmp_path / "scene.png"
    Image.fromarray((rgb * 255).astype(np.uint8)).save(path)
    _check(refine(path, toy_predictor, refiner="poisson"), *rgb.shape[:2])
    _check(refine(str(path), toy_predictor, refiner="poisson"), *rgb.shape[:2])


def test_plain_callable_gets_documented_defaults(scene):
    rgb, _ = scene
    result = refine(rgb, luminance_predictor, refiner="poisson")
    assert result.kind == "disparity"
    assert result.info["predictor"] == "luminance_predictor"
    assert result.info["low_resolution"] == 518


def test_one_argument_callable_receives_resized_image(scene):
    rgb, _ = scene
    seen = []

    def f(image):
        seen.append(image.shape)
        return image[..., 1]

    refine(rgb, f, refiner="poisson", low_resolution=64, high_resolution=128)
    assert seen[0][:2] == (48, 64) and seen[1][:2] == (96, 128)


def test_registered_name_with_options():
    rgb, disp = make_scene()
    pred = sddr_core.create_predictor("simulated", ground_truth=disp)
    result = refine(rgb, pred, refiner="poisson")
    _check(result, *rgb.shape[:2])


def test_resolutions_are_used(scene, toy_predictor):
    rgb, _ = scene
    refine(rgb, toy_predictor, refiner="poisson", low_resolution=48, high_resolution=160)
    assert toy_predictor.calls == [48, 160]


def test_adaptive_high_resolution_is_above_native(scene, toy_predictor):
    rgb, _ = scene
    result = refine(rgb, toy_predictor, refiner="poisson")
    assert 1.5 * 64 <= result.info["high_resolution"] <= 3 * 64


def test_depth_kind_conversions():
    rgb, disp = make_scene()
    result = refine(rgb, SimulatedPredictor(disp, strength=0.0), refiner="poisson")
    depth, inv = result.to_depth(), result.to_disparity()
    assert (depth > 0).all() and np.array_equal(inv, result.depth)
    # nearer (larger disparity) must be smaller depth: orders are reversed
    i, j = np.unravel_index(np.argmax(inv), inv.shape), np.unravel_index(np.argmin(inv), inv.shape)
    assert depth[i] < depth[j]
    cn = result.to_controlnet()
    assert cn.shape == (*rgb.shape[:2], 3) and cn.dtype == np.float32
    assert cn.min() == 0.0 and cn.max() == 1.0
    assert cn[i][0] == 1.0  # nearest pixel is white


def test_depth_kind_predictor_controlnet_is_near_white():
    rgb, disp = make_scene()
    depth_gt = 1.0 / disp
    result = refine(
        rgb, SimulatedPredictor(depth_gt, kind="depth", strength=0.0), refiner="poisson"
    )
    assert result.kind == "depth"
    cn = result.to_controlnet()[..., 0]
    near = np.unravel_index(np.argmin(result.depth), result.depth.shape)
    assert cn[near] > 0.95


def test_refined_is_sharper_than_low_and_closer_to_truth():
    """On a step scene the fused map keeps the high input's edges and the low's values."""
    rgb, disp = make_scene(192, 256)
    pred = SimulatedPredictor(disp, native_resolution=64, strength=0.5)
    result = refine(rgb, pred, refiner="poisson", high_resolution=256)
    from sddr_core.ops import apply_scale_shift, sobel_magnitude

    def err(x):
        return float(np.abs(apply_scale_shift(x, disp) - disp).mean())

    assert err(result.depth) < err(result.low)
    # sharper: the strongest gradients are larger than those of the blurry low map
    g_low = np.percentile(sobel_magnitude(apply_scale_shift(result.low, disp)), 99.5)
    g_ref = np.percentile(sobel_magnitude(apply_scale_shift(result.depth, disp)), 99.5)
    assert g_ref > 1.5 * g_low


def test_save_chooses_format_and_refuses_overwrite(tmp_path, scene, toy_predictor):
    rgb, _ = scene
    result = refine(rgb, toy_predictor, refiner="poisson")
    from sddr_core.io import read_depth
    from sddr_core.io.depth import _opencv_exr_works

    exts = ["png", "npy", "pfm", "tiff"]
    if not _opencv_exr_works():  # e.g. OpenCV 5 wheels: a clear error instead
        with pytest.raises(sddr_core.UnsupportedFormatError, match="OpenEXR"):
            result.save(tmp_path / "d.exr")
    else:
        exts.append("exr")
    for ext in exts:
        path = result.save(tmp_path / f"d.{ext}")
        back = read_depth(path).depth
        tol = np.ptp(result.depth) / 65535 if ext == "png" else 1e-6
        np.testing.assert_allclose(back, result.depth, atol=tol * 1.01)
    with pytest.raises(sddr_core.OutputExistsError, match="overwrite"):
        result.save(tmp_path / "d.png")
    result.save(tmp_path / "d.png", overwrite=True)


def test_deterministic(scene, toy_predictor):
    rgb, _ = scene
    a = refine(rgb, toy_predictor, refiner="poisson").depth
    b = refine(rgb, toy_predictor, refiner="poisson").depth
    np.testing.assert_array_equal(a, b)


def test_non_square_aspect(toy_predictor):
    rgb, _ = make_scene(160, 40)
    _check(refine(rgb, toy_predictor, refiner="poisson"), 160, 40)


# ----------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("image", "match"),
    [
        (np.zeros((0, 0, 3), np.uint8), "too small"),
        (np.zeros((1, 1, 3), np.uint8), "too small"),
        (np.full((32, 32, 3), np.nan, np.float32), "non-finite"),
        (np.full((32, 32, 3), 200.0, np.float32), r"\[0, 1\]"),
        (np.zeros((32, 32, 5), np.uint8), "shape"),
        (np.zeros((32, 32, 3), np.int64), "uint8 or uint16"),
        (12, "cannot use"),
        ("/no/such/image.png", "does not exist"),
    ],
)
def test_bad_images(image, match, toy_predictor):
    with pytest.raises(InputError, match=match):
        refine(image, toy_predictor, refiner="poisson")


def test_unsupported_file(tmp_path, toy_predictor):
    bad = tmp_path / "notes.png"
    bad.write_text("this is not an image")
    with pytest.raises(sddr_core.UnsupportedFormatError, match=r"notes\.png"):
        refine(bad, toy_predictor, refiner="poisson")


@pytest.mark.parametrize(
    ("output", "match"),
    [
        (lambda img, res: np.zeros((5,)), "shape"),
        (lambda img, res: np.zeros((1, 1)), "shape"),
        (lambda img, res: np.full((20, 20), np.nan), "non-finite"),
        (lambda img, res: np.full((20, 20), np.inf), "non-finite"),
        (lambda img, res: "garbage", "not an array"),
    ],
)
def test_bad_predictor_output(scene, output, match):
    with pytest.raises(PredictorError, match=match):
        refine(scene[0], output, refiner="poisson")


def test_unknown_names(scene, toy_predictor):
    with pytest.raises(sddr_core.UnknownNameError, match="Did you mean 'poisson'"):
        refine(scene[0], toy_predictor, refiner="poison")
    with pytest.raises(sddr_core.UnknownNameError, match="predictor 'no-such-model'"):
        refine(scene[0], "no-such-model")


def test_bad_options(scene, toy_predictor):
    with pytest.raises(InputError, match="mode"):
        refine(scene[0], toy_predictor, mode="three-stage")
    with pytest.raises(InputError, match="high_resolution"):
        refine(scene[0], toy_predictor, high_resolution=4)
    with pytest.raises(InputError, match="DepthPredictor"):
        refine(scene[0], type("P", (), {"predict": lambda self, i, r: i})())
    with pytest.raises(InputError, match="kind"):
        refine(scene[0], sddr_core.CallablePredictor(luminance_predictor, kind="height"))


def test_simulated_needs_ground_truth(scene):
    with pytest.raises(InputError, match="ground_truth"):
        refine(scene[0], "simulated")


def test_refine_depths_fuses_external_maps():
    _, disp = make_scene(96, 128)
    import cv2

    low = cv2.resize(cv2.resize(disp, (32, 24), interpolation=cv2.INTER_AREA), (64, 48))
    result = sddr_core.refine_depths(low, disp * 2 + 1, kind="disparity", refiner="poisson")
    assert result.depth.shape == (96, 128) and result.info["predictor_calls"] == 0
    with pytest.raises(InputError, match="NaN"):
        sddr_core.refine_depths(np.full((20, 20), np.nan), disp)


def test_toy_predictor_is_protocol_instance():
    assert isinstance(ToyPredictor(), sddr_core.DepthPredictor)
