"""Two-stage (coarse-to-fine) refinement: windows, blending, any refiner, progress, cancel,
end to end through refine() and the CLI, and memory on a large photo."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import sddr_core
from sddr_core.errors import CancelledError, InputError, ShapeError
from sddr_core.inference.two_stage import (
    CoarseToFine,
    coarse_to_fine,
    feather_mask,
    window_boxes,
    window_resolution,
)
from sddr_core.models import SDDRConfig, SDDRNet
from sddr_core.ops.resize import resize_map
from sddr_core.plugins import temporary_plugin
from sddr_core.predictors.simulated import SimulatedPredictor
from sddr_core.refiners.base import Fusion
from sddr_core.refiners.network import NetworkRefiner, save_refiner
from sddr_core.refiners.poisson import PoissonRefiner

from helpers import ToyPredictor, luminance_predictor, make_scene

REPO = Path(__file__).resolve().parents[2]


pytestmark = pytest.mark.usefixtures("fast_cpu_torch")


def tiny_refiner(**options) -> NetworkRefiner:
    torch.manual_seed(0)
    return NetworkRefiner(SDDRNet(SDDRConfig.tiny()), device="cpu", **options)


@pytest.fixture
def tiny_ckpt(tmp_path):
    return save_refiner(tiny_refiner(), tmp_path / "tiny.safetensors", meta={"training": "none"})


@pytest.fixture
def simulated():
    rgb, disp = make_scene(96, 160)
    return rgb, SimulatedPredictor(disp, native_resolution=64)


def initial_for(rgb: np.ndarray, shape=(64, 96)) -> np.ndarray:
    return resize_map(rgb[..., 0] + 0.5, shape)


class Recorder:
    """A plugin recording progress and asking to cancel after ``stop_after`` windows."""

    def __init__(self, stop_after: int | None = None) -> None:
        self.events: list[tuple[str, int, int]] = []
        self.stop_after = stop_after

    @sddr_core.hookimpl
    def sddr_progress(self, stage, done, total):
        self.events.append((stage, done, total))

    @sddr_core.hookimpl
    def sddr_should_cancel(self, stage):
        windows = [d for s, d, _ in self.events if s == "window"]
        if self.stop_after is not None and stage == "window" and windows:
            return max(windows) >= self.stop_after or None
        return None


class CountingRefiner:
    """Any refiner will do: this one returns the high input (no ``fuse_batch``)."""

    name = "counting"
    size_multiple = 8
    max_working_side = 4096

    def __init__(self) -> None:
        self.shapes: list[tuple[int, int]] = []

    def fuse(self, low, high):
        assert low.shape == high.shape and low.shape[0] % 8 == 0 and low.shape[1] % 8 == 0
        self.shapes.append(low.shape)
        return Fusion(high.copy())


# -- geometry -----------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(96, 160), (4000, 6000), (101, 37)])
@pytest.mark.parametrize(("splits", "overlap"), [(2, 0.2), (3, 0.25), (4, 0.0)])
def test_window_boxes_cover_and_overlap(shape, splits, overlap):
    boxes = window_boxes(shape, splits, overlap)
    assert len(boxes) == splits**2
    cover = np.zeros(shape, np.int32)
    for t, l, b, r in boxes:
        assert 0 <= t < b <= shape[0] and 0 <= l < r <= shape[1]
        cover[t:b, l:r] += 1
    assert cover.min() >= 1
    t, l, b, r = boxes[0]
    l2 = boxes[1][1]
    assert abs((r - l2) - overlap * (r - l)) <= 1.5  # neighbours share `overlap` of a window


def test_window_boxes_reject_bad_arguments():
    with pytest.raises(InputError):
        window_boxes((10, 10), 2, 1.0)
    with pytest.raises(InputError):
        window_boxes((10, 10), 0, 0.2)


def test_feather_mask():
    m = feather_mask((40, 60), (10, 0, 10, 20))
    assert m.shape == (40, 60) and m.dtype == np.float32
    assert m.max() == pytest.approx(1.0) and m[20, 5] == pytest.approx(1.0)  # left: image edge
    assert m[0, 30] < 0.02 and m[20, 59] < 0.02  # fades towards shared borders
    assert np.all(np.diff(m[:20, 30]) >= 0)  # monotone fall-off
    assert np.array_equal(feather_mask((5, 7), (0, 0, 0, 0)), np.ones((5, 7), np.float32))


def test_window_resolution_follows_edge_density():
    pred = ToyPredictor()  # native 64
    flat = np.full((300, 300, 3), 0.5, np.float32)
    busy = np.random.default_rng(0).random((300, 300, 3)).astype(np.float32)
    r_flat = window_resolution(pred, flat, image_density=0.1)
    r_busy = window_resolution(pred, busy, image_density=0.1)
    assert 64 <= r_flat < r_busy <= 3 * 64


# -- coarse_to_fine -----------------------------------------------------------------------


def test_coarse_to_fine_with_poisson(simulated):
    rgb, pred = simulated
    init = initial_for(rgb)
    out = coarse_to_fine(rgb, pred, PoissonRefiner(), init, keep_levels=True)
    assert isinstance(out, CoarseToFine)
    # merged on the image's own grid (96x160), denser than the one-stage estimate (64x96)
    assert out.depth.shape == rgb.shape[:2] and out.depth.dtype == np.float32
    assert out.edges.shape == rgb.shape[:2] and out.edges.dtype == np.float32
    assert np.isfinite(out.depth).all() and np.isfinite(out.edges).all()
    assert out.windows == 4 + 9 == len(out.resolutions)
    assert len(out.level_edges) == 3
    # stays in the scale of the initial estimate (windows are aligned to it)
    assert abs(np.median(out.depth) - np.median(init)) < 0.2 * np.std(init) + 1e-3


def test_merge_grid_is_capped_and_optional(simulated):
    rgb, pred = simulated
    init = initial_for(rgb)
    kept = coarse_to_fine(rgb, pred, PoissonRefiner(), init, full_size=False)
    assert kept.depth.shape == kept.edges.shape == init.shape
    capped = coarse_to_fine(rgb, pred, PoissonRefiner(max_working_side=128), init)
    assert capped.depth.shape == (77, 128)  # the image's aspect ratio, long side capped


class Replacing(CountingRefiner):
    """Returns the window's own pass: the merge alone decides how much of it is kept."""

    size_multiple = 1

    def fuse(self, low, high):
        return Fusion(high)


def test_previous_estimate_damps_windows_worse_than_it():
    """Windows whose pass is worse than the current estimate (here: the truth plus strong
    noise) must not replace it: with the default weight of the previous estimate the result
    stays much nearer the (exact) estimate than with a vanishing weight."""
    rgb, disp = make_scene(96, 160)
    noisy = SimulatedPredictor(disp, native_resolution=64, strength=0.0)
    rng = np.random.default_rng(0)

    class Noisy:
        name, kind, native_resolution = "noisy", "disparity", 64

        def predict(self, image, resolution):
            return self.predict_region(image, (0, 0, 96, 160), resolution)

        def predict_region(self, image, box, resolution):
            d = noisy.predict_region(image, box, resolution)
            return (d + rng.normal(0, 0.3 * float(np.std(d)), d.shape)).astype(np.float32)

    init = resize_map(disp, (96, 160))
    err = {}
    for weight in (1e-3, None):
        kw = {} if weight is None else {"previous_weight": weight}
        out = coarse_to_fine(rgb, Noisy(), Replacing(), init, range_radius=None, **kw)
        err[weight] = float(np.abs(out.depth - init).mean())
    assert err[None] < 0.5 * err[1e-3]
    with pytest.raises(InputError, match="previous_weight"):
        coarse_to_fine(rgb, Noisy(), Replacing(), init, previous_weight=0.0)


def test_any_refiner_and_call_counts():
    rgb, _ = make_scene(96, 160)
    pred = ToyPredictor()
    ref = CountingRefiner()
    out = coarse_to_fine(
        rgb, pred, ref, initial_for(rgb), levels=(2, 3, 4), overlaps=(0.2, 0.25, 0.3)
    )
    assert out.windows == 4 + 9 + 16
    assert len(pred.calls) == len(ref.shapes) == 29
    assert all(res >= pred.native_resolution for res in pred.calls)


def test_blending_keeps_a_consistent_map_unchanged():
    """If every window agrees with the estimate up to scale and shift, the merge reproduces
    the estimate: alignment and feathering add no seams or offsets (what remains is the
    resampling of windows to one working shape per level, sub-pixel on a smooth map)."""
    rgb, _ = make_scene(96, 160)
    yy, xx = np.mgrid[0:64, 0:96].astype(np.float32)
    init = 1.0 + 0.3 * np.sin(xx / 9.0) * np.cos(yy / 7.0) + 0.005 * xx

    class Scaled(CountingRefiner):
        size_multiple = 1

        def fuse(self, low, high):
            return Fusion(3.0 * low - 1.0)

    # Scaled breaks the Refiner promise of a result in the low input's scale, so the range
    # clamp (which relies on it) is off here: this test is about alignment and feathering.
    out = coarse_to_fine(rgb, ToyPredictor(), Scaled(), init, range_radius=None, full_size=False)
    err = np.abs(out.depth - init)
    assert err.max() < 0.005 * np.ptp(init) and err.mean() < 0.001 * np.ptp(init)


class Oversharpening(CountingRefiner):
    """A refiner that sharpens its low input again (unsharp masking): overshoot halos."""

    size_multiple = 1

    def fuse(self, low, high):
        import cv2

        return Fusion(low + 1.5 * (low - cv2.GaussianBlur(low, (0, 0), 2.0)))


def test_range_clamp_stops_halos_from_adding_up():
    rgb, disp = make_scene(96, 160)
    pred = SimulatedPredictor(disp, native_resolution=64, strength=0.0)
    init = resize_map(disp, (64, 96))
    kept = coarse_to_fine(rgb, pred, Oversharpening(), init, full_size=False)  # radius 1
    raw = coarse_to_fine(rgb, pred, Oversharpening(), init, range_radius=None, full_size=False)
    span = float(np.ptp(init))
    overshoot = lambda d: max(d.max() - init.max(), init.min() - d.min()) / span  # noqa: E731
    assert overshoot(raw.depth) > 0.1  # two levels of unsharp masking ring visibly
    assert overshoot(kept.depth) < 0.3 * overshoot(raw.depth)
    assert np.abs(kept.depth - init).mean() < 0.5 * np.abs(raw.depth - init).mean()
    with pytest.raises(InputError, match="range_radius"):
        coarse_to_fine(rgb, pred, Oversharpening(), init, range_radius=-1)


def test_network_batches_match_single_windows(simulated):
    rgb, pred = simulated
    init = initial_for(rgb)
    ref = tiny_refiner()
    one = coarse_to_fine(rgb, pred, ref, init, batch_size=1)
    four = coarse_to_fine(rgb, pred, ref, init, batch_size=4)
    np.testing.assert_allclose(one.depth, four.depth, atol=1e-4)
    assert one.windows == four.windows == 13


def test_bad_arguments(simulated):
    rgb, pred = simulated
    init = initial_for(rgb)
    with pytest.raises(ShapeError):
        coarse_to_fine(rgb[..., 0], pred, PoissonRefiner(), init)
    with pytest.raises(InputError):
        coarse_to_fine(rgb, pred, PoissonRefiner(), init, levels=(2,), overlaps=(0.2, 0.3))
    with pytest.raises(InputError):
        coarse_to_fine(rgb, pred, PoissonRefiner(), init, levels=(1,), overlaps=(0.2,))
    with pytest.raises(InputError):
        coarse_to_fine(rgb, pred, PoissonRefiner(), init, batch_size=0)


def test_progress_events(simulated):
    rgb, pred = simulated
    rec = Recorder()
    with temporary_plugin(rec):
        coarse_to_fine(rgb, pred, CountingRefiner(), initial_for(rgb), batch_size=3)
    windows = [e for e in rec.events if e[0] == "window"]
    assert [d for _, d, _ in windows] == list(range(14))
    assert {t for _, _, t in windows} == {13}


@pytest.mark.parametrize("k", [1, 5])
def test_cancel_after_k_windows(simulated, k):
    rgb, pred = simulated
    rec = Recorder(stop_after=k)
    ref = CountingRefiner()
    with temporary_plugin(rec), pytest.raises(CancelledError, match="window"):
        coarse_to_fine(rgb, pred, ref, initial_for(rgb), batch_size=1)
    assert max(d for s, d, _ in rec.events if s == "window") == k
    assert len(ref.shapes) == k  # nothing ran after the request


# -- end to end ---------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["one-stage", "two-stage"])
@pytest.mark.parametrize("shape", [(96, 160), (160, 96)])
def test_refine_end_to_end_with_network_weights(tiny_ckpt, mode, shape):
    rgb, disp = make_scene(*shape)
    pred = SimulatedPredictor(disp, native_resolution=64)
    result = sddr_core.refine(rgb, pred, mode=mode, refiner=str(tiny_ckpt), device="cpu")
    for arr in (result.depth, result.edges, result.omega):
        assert arr.shape == shape and arr.dtype == np.float32 and np.isfinite(arr).all()
    assert result.info["refiner"] == "tiny" and result.info["mode"] == mode
    windows = 13 if mode == "two-stage" else 0
    assert result.info["predictor_calls"] == 2 + windows
    assert result.info["refiner_calls"] == 1 + windows
    again = sddr_core.refine(rgb, pred, mode=mode, refiner=str(tiny_ckpt), device="cpu")
    assert np.array_equal(result.depth, again.depth)  # deterministic on the CPU


def test_refine_two_stage_progress_and_cancel(tiny_ckpt):
    rgb, _ = make_scene(96, 160)
    rec = Recorder()
    with temporary_plugin(rec):
        sddr_core.refine(rgb, luminance_predictor, mode="two-stage", refiner=str(tiny_ckpt))
    stages = [s for s, _, _ in rec.events]
    assert stages.index("predict-low") < stages.index("refine") < stages.index("window")
    assert ("window", 13, 13) in rec.events
    with temporary_plugin(Recorder(stop_after=2)), pytest.raises(CancelledError):
        sddr_core.refine(rgb, luminance_predictor, mode="two-stage", refiner=str(tiny_ckpt))


def test_cli_refine_two_stage_with_weights(tmp_path, tiny_ckpt):
    from sddr_core.cli.main import main

    class ToyPlugin:
        @sddr_core.hookimpl
        def sddr_register_predictors(self):
            return [sddr_core.PredictorSpec("toy-c2f", lambda **_: ToyPredictor(), "disparity", 64)]

    rgb, _ = make_scene(64, 96)
    img = tmp_path / "scene.png"
    Image.fromarray((rgb * 255).astype(np.uint8)).save(img)
    out = tmp_path / "out"
    with temporary_plugin(ToyPlugin()):
        code = main(["refine", str(img), "-o", str(out), "--predictor", "toy-c2f",
                     "--refiner", str(tiny_ckpt), "--mode", "two-stage", "--format", "npy",
                     "--device", "cpu"])  # fmt: skip
    assert code == 0
    depth = np.load(out / "scene_depth.npy")
    assert depth.shape == (64, 96) and np.isfinite(depth).all()


# -- memory -------------------------------------------------------------------------------


def test_windows_do_not_copy_the_image():
    """numpy allocations (traced by tracemalloc; torch's CPU allocator is not traced) during
    coarse-to-fine on a 3000×2000 photo stay far below the photo's own 72 MB: windows are
    cropped one at a time and every kept map lives at the small working size."""
    rgb = np.zeros((2000, 3000, 3), np.float32)
    rgb[..., 0] = (np.indices((2000, 3000)).sum(0) // 200 % 2).astype(np.float32)
    init = resize_map(rgb[..., 0] + 1.0, (256, 384))
    pred = ToyPredictor()
    ref = CountingRefiner()
    ref.max_working_side = 384  # the merge grid is the image's, capped by the refiner
    tracemalloc.start()
    try:
        out = coarse_to_fine(rgb, pred, ref, init, batch_size=4)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert out.depth.shape == (256, 384)
    # the largest transients are one window's RGB crop (1650×1100×3 float32 = 22 MB) and
    # the predictor's copy of it
    assert peak < 64 * 2**20, f"peak numpy allocation {peak / 2**20:.0f} MB"


LARGE_SCRIPT = textwrap.dedent(
    """
    import json, resource, sys
    import numpy as np, torch
    import sddr_core
    from sddr_core.models import SDDRConfig, SDDRNet
    from sddr_core.refiners.network import NetworkRefiner

    def rss():
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * resource.getpagesize()

    class Predictor:  # cheap stand-in: the red channel, subsampled, at `resolution`
        name, native_resolution, kind = "stand-in", 518, "disparity"

        def predict(self, image, resolution):
            return self.predict_region(image, (0, 0, *image.shape[:2]), resolution)

        def predict_region(self, image, box, resolution):
            t, l, b, r = box
            step = max(1, max(b - t, r - l) // resolution)
            return image[t:b:step, l:r:step, 0].astype(np.float32)

    torch.manual_seed(0)
    torch.set_num_threads(1)  # a shared CPU: no oversubscription
    side = int(sys.argv[1])
    refiner = NetworkRefiner(SDDRNet(SDDRConfig.tiny()), device="cpu", max_working_side=side)
    block = np.full((600, 600, 3), 128, np.uint8)
    block[:300, :300, 0] = block[300:, 300:, 0] = 220
    photo = np.tile(block, (7, 10, 1))[:4000, :6000]  # a 6000×4000 checkerboard photo
    base = rss()
    result = sddr_core.refine(photo, Predictor(), mode="two-stage", refiner=refiner,
                              high_resolution=side)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux
    print(json.dumps({"growth": peak - base, "shape": list(result.depth.shape),
                      "working_size": result.info["working_size"],
                      "finite": bool(np.isfinite(result.depth).all())}))
    """
)


@pytest.mark.slow
@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc and ru_maxrss in KiB")
def test_large_photo_refines_within_memory_bound():
    """A 6000×4000 photo, two-stage, at the default working-size cap (2048), in a fresh
    process: peak resident memory minus the resident memory just before refine() (imports,
    the uint8 photo and the refiner already loaded). That growth includes refine()'s own
    full-size float32 outputs (depth, edges, low, high, omega: 5 × 96 MB) and the float32
    copy of the photo (288 MB); it measured about 1.6 GB here (2026-12-05, with the snap).
    The default network's own peak at 2048² (about 1.2 GB) is measured by ``sddr bench
    speed`` (docs/BENCHMARKS.md)."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "SDDR_LOAD_PLUGINS": ""}
    proc = subprocess.run(
        [sys.executable, "-c", LARGE_SCRIPT, "2048"],
        capture_output=True, text=True, env=env, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got["shape"] == [4000, 6000] and got["finite"]
    assert got["working_size"] == "2048x1365"  # bounded by max_working_side, aspect kept
    assert got["growth"] < 2 * 2**30, f"peak RSS grew by {got['growth'] / 2**30:.2f} GiB"


def test_depth_kind_windows_are_fused_as_disparity():
    # the windows of a depth-kind predictor are fused, aligned and merged as disparity, as the
    # one-stage fusion runs: the result is the reciprocal of the disparity twin's, and positive
    rgb, disp = make_scene()
    disp_pred = SimulatedPredictor(disp, native_resolution=48, seed=2, affine=False)

    class DepthTwin:
        kind = "depth"
        native_resolution = 48
        size_multiple = 1
        wants_full_image = True

        def predict_region(self, image, box, resolution):
            return (1.0 / disp_pred.predict_region(image, box, resolution)).astype(np.float32)

        def predict(self, image, resolution):
            return (1.0 / disp_pred.predict(image, resolution)).astype(np.float32)

    initial = resize_map(disp_pred.predict(rgb, 48), disp.shape)
    ref = PoissonRefiner()
    as_disparity = coarse_to_fine(rgb, disp_pred, ref, initial)
    as_depth = coarse_to_fine(rgb, DepthTwin(), ref, 1.0 / initial, kind="depth")
    assert (as_depth.depth > 0).all() and as_depth.windows == as_disparity.windows
    np.testing.assert_allclose(1.0 / as_depth.depth, as_disparity.depth, rtol=1e-4, atol=1e-5)
    with pytest.raises(InputError, match="kind"):
        coarse_to_fine(rgb, disp_pred, ref, initial, kind="z")
