"""refine_sequence: steadier than per-frame refinement on real motion, scene cuts, bounded
memory on long sequences, frames from files, and its error messages."""

from __future__ import annotations

import tracemalloc
from collections.abc import Iterator

import cv2
import numpy as np
import pytest

import sddr_core
from sddr_core import InputError, TemporalOptions, refine_sequence
from sddr_core.datasets.procedural import make_scene
from sddr_core.datasets.sequences import (
    CameraPath,
    JitteryPredictor,
    camera_sequence,
    cut_sequence,
    temporal_error,
)
from sddr_core.inference.sequence import backward_warp, masked_lowpass
from sddr_core.metrics import depth_metrics

from helpers import luminance_predictor

#: a few pixels of motion per frame, as in a video at this size
SLOW = CameraPath(zoom=(1.0, 0.95), pan=(0.3, 0.55), tilt=(0.4, 0.5), shake=0.5)


def _shot(seed: int, n: int, shape=(96, 128), **kw):
    sc = make_scene(seed, (2 * shape[0], 2 * shape[1]))
    kw = {"path": SLOW, "object_travel": 0.5, **kw}
    return camera_sequence(sc.image, sc.disparity, frames=n, frame_shape=shape, seed=seed, **kw)


def _predictor(frames, **kw) -> JitteryPredictor:
    p = JitteryPredictor(native_resolution=64, keep=len(frames), **kw)
    for f in frames:
        p.add(f)
    return p


def test_moving_camera_and_object_flicker_less_without_losing_accuracy() -> None:
    frames = list(_shot(11, 10))
    assert any((f.labels == 1).any() for f in frames)  # the moving object is in view
    predictor = _predictor(frames)
    steady = [
        r.depth for r in refine_sequence((f.image for f in frames), predictor, refiner="poisson")
    ]
    alone = [sddr_core.refine(f.image, predictor, refiner="poisson").depth for f in frames]
    te_seq, te_one = temporal_error(steady, frames), temporal_error(alone, frames)
    assert te_seq.error < 0.6 * te_one.error, (te_seq, te_one)

    def delta1(maps):
        kw = {"gt_kind": "disparity", "pred_kind": "disparity"}
        return np.mean(
            [depth_metrics(m, f.gt, **kw)["delta1"] for m, f in zip(maps, frames, strict=True)]
        )

    assert delta1(steady) >= delta1(alone) - 0.01


def test_results_are_in_order_in_one_scale_with_the_frame_info() -> None:
    frames = list(_shot(3, 5, moving_object=False))
    predictor = _predictor(frames, drift=0.2, jitter=0.2, wobble=0.0)
    results = list(refine_sequence([f.image for f in frames], predictor, refiner="poisson"))
    assert [r.info["frame"] for r in results] == list(range(5))
    assert all(r.depth.shape == (96, 128) and r.kind == "disparity" for r in results)
    assert results[0].info["scene_cut"] and not any(r.info["scene_cut"] for r in results[1:])
    assert all(r.info["valid_fraction"] > 0.5 for r in results[1:])
    assert all("stabilize" in r.timings and "total" in r.timings for r in results)
    # the predictor's per-frame scale swings by ~20 %; the outputs' fit to the truth does not
    fits = [
        np.polyfit(f.gt.ravel(), r.depth.ravel(), 1)[0]
        for f, r in zip(frames, results, strict=True)
    ]
    raw = [
        np.polyfit(f.gt.ravel(), r.low.ravel(), 1)[0] for f, r in zip(frames, results, strict=True)
    ]
    assert np.std(np.log(fits)) < 0.5 * np.std(np.log(raw))


def test_scene_cut_resets_the_history() -> None:
    a, b = list(_shot(1, 4, moving_object=False)), list(_shot(2, 4, moving_object=False))
    frames = list(cut_sequence(iter(a), iter(b)))
    predictor = _predictor(frames)
    kw = {"refiner": "poisson", "high_resolution": 128}  # the same passes in both runs
    results = list(refine_sequence([f.image for f in frames], predictor, **kw))
    cuts = [r.info["scene_cut"] for r in results]
    assert cuts == [True, False, False, False, True, False, False, False]
    assert [r.info["shot"] for r in results] == [1, 1, 1, 1, 2, 2, 2, 2]
    # the first frame after the cut owes nothing to the previous shot: up to scale and shift
    # it is the second shot refined on its own
    fresh = next(refine_sequence([b[0].image], predictor, **kw)).depth
    after = results[4].depth
    assert np.corrcoef(fresh.ravel(), after.ravel())[0, 1] > 0.999


@pytest.mark.parametrize("prefetch", [False, True])
def test_long_sequence_streams_with_bounded_memory(prefetch: bool) -> None:
    """A 120-frame video from a generator: frames are pulled a batch (2) at a time, never more
    than a batch plus the one being consumed ahead of the consumer (plus one more frame
    fused in advance with prefetch), and memory does not grow with the length."""
    sc = make_scene(4, (120, 400))
    produced = consumed = 0
    ahead = []

    def frames() -> Iterator[np.ndarray]:
        nonlocal produced
        for i in range(120):
            x = int(round(i * 2))
            produced += 1
            ahead.append(produced - consumed)
            yield sc.image[10:90, x : x + 96 + 0]

    tracemalloc.start()
    try:
        peaks = []
        for i, r in enumerate(
            refine_sequence(frames(), luminance_predictor, refiner="poisson", prefetch=prefetch)
        ):
            consumed += 1
            assert r.depth.shape == (80, 96)
            if i in (19, 119):
                peaks.append(tracemalloc.get_traced_memory()[1])
            if i == 19:
                tracemalloc.reset_peak()
    finally:
        tracemalloc.stop()
    assert consumed == 120 and max(ahead) <= (4 if prefetch else 3)
    assert peaks[1] < 1.5 * peaks[0] + 2_000_000


def test_prefetch_off_gives_the_same_maps_and_worker_errors_surface() -> None:
    frames = list(_shot(6, 4, moving_object=False))
    predictor = _predictor(frames)
    imgs = [f.image for f in frames]
    on = [r.depth for r in refine_sequence(imgs, predictor, refiner="poisson", prefetch=True)]
    off = [r.depth for r in refine_sequence(imgs, predictor, refiner="poisson", prefetch=False)]
    for x, y in zip(on, off, strict=True):
        np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-5)

    def bad(image, resolution):
        raise RuntimeError("model exploded")

    with pytest.raises(sddr_core.PredictorError, match="model exploded"):
        list(refine_sequence(imgs, bad, refiner="poisson", prefetch=True))


def test_frames_from_a_folder_and_a_video_file(tmp_path) -> None:
    frames = list(_shot(8, 4, moving_object=False))
    folder = tmp_path / "frames"
    folder.mkdir()
    writer = cv2.VideoWriter(
        str(tmp_path / "clip.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 8, (128, 96)
    )
    for f in frames:
        bgr = (f.image[..., ::-1] * 255).astype(np.uint8)
        cv2.imwrite(str(folder / f"f{f.index + 8}.png"), bgr)  # f8 .. f11: natural order
        writer.write(bgr)
    writer.release()
    from_folder = list(refine_sequence(folder, luminance_predictor, refiner="poisson"))
    from_video = list(
        refine_sequence(tmp_path / "clip.avi", luminance_predictor, refiner="poisson")
    )
    assert len(from_folder) == len(from_video) == 4
    first = sddr_core.refine(frames[0].image, luminance_predictor, refiner="poisson").depth
    assert np.corrcoef(first.ravel(), from_folder[0].depth.ravel())[0, 1] > 0.99


def test_bad_options_say_what_to_do(tmp_path) -> None:
    with pytest.raises(InputError, match="mode"):
        refine_sequence([], luminance_predictor, mode="three-stage")
    with pytest.raises(InputError, match="history"):
        TemporalOptions(history=1.5)
    with pytest.raises(InputError, match="flow_preset"):
        TemporalOptions(flow_preset="slow")
    with pytest.raises(InputError, match="TemporalOptions"):
        refine_sequence([], luminance_predictor, temporal={"history": 0.5})
    with pytest.raises(InputError, match="no frames"):
        list(refine_sequence(tmp_path, luminance_predictor, refiner="poisson"))
    with pytest.raises(InputError, match="iterable"):
        refine_sequence(42, luminance_predictor)


def test_warp_and_masked_lowpass_known_values() -> None:
    x = np.tile(np.arange(10, dtype=np.float32), (6, 1))
    flow = np.zeros((6, 10, 2), np.float32)
    flow[..., 0] = 2.0
    warped, inside = backward_warp(x, flow)
    np.testing.assert_allclose(warped[:, :8], x[:, 2:])
    assert inside[:, :8].all() and not inside[:, 8:].any()
    field = np.full((40, 40), 3.0, np.float32)
    mask = np.zeros((40, 40), bool)
    mask[:, :20] = True
    field[~mask] = 100.0  # masked out: must not leak in
    np.testing.assert_allclose(masked_lowpass(field, mask, 4.0)[:, :24], 3.0, atol=1e-3)


def test_flow_of_a_known_shift_and_its_occlusion_checks() -> None:
    """The stabiliser's flow (DIS, forward-backward and photometric checks, upsampled to the
    map's size) on a textured frame shifted by a known amount, with a patch that changes."""
    from sddr_core.inference.sequence import SequenceStabilizer

    rng = np.random.default_rng(5)
    texture = cv2.GaussianBlur(rng.random((140, 190)).astype(np.float32), (0, 0), 1.5)
    texture = (texture - texture.min()) / np.ptp(texture)
    prev = np.repeat(texture[10:130, 10:170, None], 3, axis=2)
    cur = np.repeat(texture[12:132, 6:166, None], 3, axis=2)  # content moves 4 px right, 2 up
    cur[40:70, 60:90] = (cur[40:70, 60:90] + 0.5) % 1.0  # a patch with no history
    st = SequenceStabilizer(TemporalOptions(flow_side=80))  # flow at half the map's size
    st._prev_gray = st.gray(prev)
    field = st.flow(st.gray(cur), (120, 160))
    assert field is not None and field.flow.shape == (120, 160, 2)
    steady = field.valid.copy()
    steady[36:74, 56:94] = False
    # pixel p of the current frame was at p + flow(p) = p + (-4, 2) (x, y) in the previous one
    np.testing.assert_allclose(np.median(field.flow[steady], axis=0), [-4.0, 2.0], atol=0.3)
    assert field.valid[20:100, 20:140].mean() > 0.7
    assert field.valid[44:66, 64:86].mean() < 0.2  # the changed patch has no history
    assert not st.is_cut(field) and field.histogram > 0.9


def test_batched_fusion_matches_pair_by_pair_with_the_guard_per_pair() -> None:
    from sddr_core.inference.one_stage import fuse_at, fuse_batch_at
    from sddr_core.inference.refine import as_refiner

    disp = make_scene(3, (64, 96)).disparity.astype(np.float32)
    rng = np.random.default_rng(5)
    good = disp + 0.02 * float(np.std(disp)) * rng.standard_normal(disp.shape).astype(np.float32)
    noise = (rng.random(disp.shape) * 3).astype(np.float32)  # disagrees: the guard acts
    lows, highs = [disp, disp, disp], [good, noise, good[::-1, ::-1].copy()]
    for name in (None, "poisson"):  # the network (fuse_batch) and a refiner without it
        refiner = as_refiner(name)
        if hasattr(refiner, "precision"):  # on CUDA: full float32, no bf16 autocast or TF32
            refiner.precision = "fp32"
        batched = fuse_batch_at(refiner, lows, highs, disp.shape)
        alone = [fuse_at(refiner, lo, hi, disp.shape) for lo, hi in zip(lows, highs, strict=True)]
        for b, a in zip(batched, alone, strict=True):
            np.testing.assert_allclose(b.depth, a.depth, rtol=1e-4, atol=1e-4 * np.ptp(disp))
            assert b.info.get("guard") == a.info.get("guard")
        assert "guard" not in batched[0].info and "guard" in batched[1].info
    depth = fuse_batch_at(refiner, [1 / disp] * 2, [1 / good] * 2, disp.shape, kind="depth")
    one = fuse_at(refiner, 1 / disp, 1 / good, disp.shape, kind="depth")
    assert depth[0].info["fusion_space"] == "disparity"
    np.testing.assert_allclose(depth[1].depth, one.depth, rtol=1e-5)
    with pytest.raises(InputError, match="2 low and 1 high"):
        fuse_batch_at(refiner, [disp, disp], [disp], disp.shape)


def test_batch_size_changes_speed_not_the_maps() -> None:
    frames = list(_shot(9, 5))
    predictor = _predictor(frames)
    imgs = [f.image for f in frames]
    maps = {
        b: list(refine_sequence(imgs, predictor, batch_size=b, prefetch=False)) for b in (1, 2, 3)
    }
    for b in (2, 3):
        for x, y in zip(maps[1], maps[b], strict=True):
            assert x.info["frame"] == y.info["frame"]
            span = float(np.ptp(x.depth))
            np.testing.assert_allclose(y.depth, x.depth, rtol=1e-3, atol=1e-3 * span)
    with pytest.raises(InputError, match="batch_size"):
        refine_sequence(imgs, predictor, batch_size=0)


def test_frames_are_predicted_in_batches_with_the_same_maps() -> None:
    frames = list(_shot(9, 5))
    imgs = [f.image for f in frames]

    class Counting(JitteryPredictor):
        def __init__(self, **kw) -> None:
            super().__init__(**kw)
            self.calls: list[tuple[str, int]] = []

        def predict(self, image, resolution):
            self.calls.append(("predict", 1))
            return super().predict(image, resolution)

        def predict_batch(self, images, resolution):
            self.calls.append(("batch", len(images)))
            return [JitteryPredictor.predict(self, im, resolution) for im in images]

    batched = Counting(native_resolution=64, keep=len(frames))
    plain = JitteryPredictor(native_resolution=64, keep=len(frames))
    for f in frames:
        batched.add(f)
        plain.add(f)
    plain.predict_batch = None  # type: ignore[assignment]  # falls back to predict per frame
    got = list(refine_sequence(imgs, batched, batch_size=2, prefetch=False))
    ref = list(refine_sequence(imgs, plain, batch_size=1, prefetch=False))
    # 5 frames in batches of 2, 2, 1: two batch calls each (low, high), then predict twice
    assert batched.calls == [("batch", 2)] * 4 + [("predict", 1)] * 2
    for x, y in zip(ref, got, strict=True):
        assert x.info["frame"] == y.info["frame"]
        span = float(np.ptp(x.depth))
        np.testing.assert_allclose(y.depth, x.depth, rtol=1e-3, atol=1e-3 * span)
        assert y.timings["predict-low"] > 0 and y.timings["predict-high"] > 0


@pytest.mark.parametrize(("snap", "mode"), [(False, "one-stage"), (True, "one-stage"),
                                           (True, "two-stage")])  # fmt: skip
def test_a_depth_kind_sequence_stays_positive(snap, mode):
    # a near object moving fast in front of a far wall: the temporal filter adds the low-passed
    # difference to the warped history (disparity 2 where the object was, 0.05 around it),
    # which drives the wall's disparity, and so its depth, below zero beside the object
    from sddr_core.predictors.base import CallablePredictor

    frames = []
    for i in range(3):
        img = np.full((64, 80, 3), 0.2, np.float32)
        img[30:54, 10 + 8 * i : 34 + 8 * i] = 0.9
        frames.append(img)
    noise = np.random.default_rng(1).standard_normal((64, 80)).astype(np.float32)

    def predict(image, resolution):
        d = np.where(image.mean(-1) > 0.5, 0.5, 20.0).astype(np.float32)
        return d * (1 + 0.002 * cv2.resize(noise, d.shape[::-1]))

    pred = CallablePredictor(predict, kind="depth")
    results = list(refine_sequence(frames, pred, refiner="poisson", snap=snap, mode=mode))
    assert all((r.depth > 0).all() and r.kind == "depth" for r in results)
    assert sum(r.info.get("raised_to_positive", 0) for r in results) > 0  # it did go below
    assert all(r.depth.min() < 1.0 for r in results)  # the near object is still near
