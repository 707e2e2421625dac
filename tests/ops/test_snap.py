"""Edge snapping: depth edges move onto image edges, and nothing else changes."""

import cv2
import numpy as np
import pytest
import torch

from sddr_core.errors import InputError, ShapeError
from sddr_core.ops.snap import snap_radius, snap_to_image, weighted_median


def _two_colours(h: int = 48, w: int = 64, edge: int = 30) -> np.ndarray:
    """An RGB image, dark left of column ``edge`` and light from it on, with mild noise."""
    rng = np.random.default_rng(0)
    img = np.full((h, w, 3), 60, np.float32)
    img[:, edge:] = 190
    img += rng.normal(0, 3, img.shape)
    return img.clip(0, 255).astype(np.uint8)


def _step(h: int = 48, w: int = 64, at: int = 30, near: float = 3.0) -> np.ndarray:
    d = np.ones((h, w), np.float32)
    d[:, at:] = near
    return d


def test_weighted_median_equal_weights_is_the_median():
    values = torch.tensor([[5.0, 1.0, 3.0, 2.0, 4.0], [0.0, -1.0, 7.0, 7.0, 7.0]])
    out = weighted_median(values, torch.ones_like(values))
    assert out.tolist() == [3.0, 7.0]


def test_weighted_median_follows_the_weight():
    values = torch.tensor([[1.0, 2.0, 9.0]])
    assert weighted_median(values, torch.tensor([[1.0, 1.0, 5.0]])).item() == 9.0
    assert weighted_median(values, torch.tensor([[5.0, 1.0, 1.0]])).item() == 1.0


def test_weighted_median_matches_a_sorted_cumulative_sum():
    gen = torch.Generator().manual_seed(0)
    values = torch.randint(0, 6, (500, 49), generator=gen).float()  # ties too
    weights = torch.rand(500, 49, generator=gen)
    weights[:3] = 0.0  # a row of zero weights gives its smallest value
    ordered, order = values.sort(dim=1, stable=True)
    cumulative = weights.gather(1, order).cumsum(dim=1)
    index = (cumulative < 0.5 * cumulative[:, -1:]).sum(dim=1).clamp(max=48)
    expected = ordered[torch.arange(500), index]
    assert torch.equal(weighted_median(values, weights), expected)
    assert (weighted_median(values, weights)[:3] == values[:3].min(dim=1).values).all()


def test_weighted_median_sorts_alike_with_numpy_and_torch():
    # numpy sorts on the CPU, torch on a GPU: the same medians, ties included
    gen = torch.Generator().manual_seed(1)
    values = torch.randint(0, 4, (2000, 49), generator=gen).float() * 0.25
    weights = torch.rand(2000, 49, generator=gen) * (torch.rand(2000, 49, generator=gen) > 0.3)
    by_numpy = weighted_median(values, weights, sort="numpy")
    assert torch.equal(weighted_median(values, weights, sort="torch"), by_numpy)
    with pytest.raises(InputError, match="sort"):
        weighted_median(values, weights, sort="quick")


def test_weighted_median_rejects_mismatched_shapes():
    with pytest.raises(ShapeError):
        weighted_median(torch.zeros(3, 4), torch.zeros(3, 5))


@pytest.mark.parametrize("offset", [-2, -1, 1, 2])
def test_a_misplaced_step_moves_onto_the_image_edge(offset):
    image = _two_colours(edge=30)
    depth = _step(at=30 + offset)
    snapped, changed = snap_to_image(depth, image, radius=4, taps=None)
    np.testing.assert_array_equal(snapped, _step(at=30))
    assert changed == abs(offset) * depth.shape[0]


def test_a_blurred_step_becomes_the_image_step():
    image = _two_colours(edge=30)
    x = np.arange(64, dtype=np.float32)
    depth = np.tile(1.0 + 2.0 / (1.0 + np.exp(-(x - 30.5) / 1.5)), (48, 1)).astype(np.float32)
    snapped, _ = snap_to_image(depth, image, radius=4)
    # only values that were there; the largest jump of every row is now at the image edge,
    # and more than twice the blurred one
    assert set(np.unique(snapped)) <= set(np.unique(depth))
    jumps = np.diff(snapped, axis=1)
    assert (jumps.argmax(axis=1) == 29).all()
    assert (jumps[:, 29] > 2.5 * (depth[:, 30] - depth[:, 29])).all()


def test_flat_depth_takes_no_image_texture():
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, (40, 50, 3), dtype=np.uint8)
    depth = np.full((40, 50), 2.0, np.float32)
    snapped, changed = snap_to_image(depth, image)
    assert changed == 0
    np.testing.assert_array_equal(snapped, depth)


def test_a_gentle_slope_is_left_alone():
    rng = np.random.default_rng(2)
    image = rng.integers(0, 256, (60, 200, 3), dtype=np.uint8)
    depth = np.tile(np.linspace(1.0, 2.0, 200, dtype=np.float32), (60, 1))
    snapped, changed = snap_to_image(depth, image, radius=3)
    assert changed == 0
    np.testing.assert_array_equal(snapped, depth)


def test_depth_stays_positive_and_values_are_taken_not_made():
    rng = np.random.default_rng(3)
    image = _two_colours()
    depth = (_step(at=33) * rng.uniform(0.9, 1.1, (48, 64))).astype(np.float32)
    snapped, _ = snap_to_image(depth, image, radius=5, iterations=3)
    assert snapped.min() > 0
    assert np.isin(snapped, depth).all()


def test_zero_iterations_is_identity_and_input_is_not_modified():
    image, depth = _two_colours(), _step(at=33)
    keep = depth.copy()
    out, changed = snap_to_image(depth, image, iterations=0)
    assert changed == 0
    np.testing.assert_array_equal(out, keep)
    snap_to_image(depth, image)
    np.testing.assert_array_equal(depth, keep)


def test_float_and_grey_images_are_guides_too():
    image = _two_colours().astype(np.float32) / 255.0
    snapped, _ = snap_to_image(_step(at=31), image, taps=None)
    np.testing.assert_array_equal(snapped, _step(at=30))
    grey = image.mean(axis=2)
    snapped, _ = snap_to_image(_step(at=31), grey, taps=None)
    np.testing.assert_array_equal(snapped, _step(at=30))


def test_small_chunks_give_the_same_result():
    image, depth = _two_colours(), _step(at=33)
    a, _ = snap_to_image(depth, image, chunk=7)
    b, _ = snap_to_image(depth, image)
    np.testing.assert_array_equal(a, b)


def test_bad_inputs_say_what_is_wrong():
    image, depth = _two_colours(), _step()
    with pytest.raises(ShapeError, match="size"):
        snap_to_image(depth, image[:, :-1])
    with pytest.raises(ShapeError):
        snap_to_image(depth[None], image)
    bad = depth.copy()
    bad[3, 3] = np.nan
    with pytest.raises(InputError, match="finite"):
        snap_to_image(bad, image)
    with pytest.raises(InputError, match="radius"):
        snap_to_image(depth, image, radius=0)
    with pytest.raises(InputError, match="taps"):
        snap_to_image(depth, image, radius=4, taps=0)
    with pytest.raises(InputError, match="sigma_color"):
        snap_to_image(depth, image, sigma_color=0.0)


def test_snap_radius_grows_with_the_upsampling():
    assert snap_radius((768, 1024), (768, 1024)) == 5
    assert snap_radius((768, 1024), (384, 512)) == 10
    assert snap_radius((4000, 6000), (300, 400)) == 16  # capped
    assert snap_radius((100, 100), (200, 200), base=1.0) == 2  # at least 2


def test_noise_alone_is_not_a_step():
    rng = np.random.default_rng(4)
    image = _two_colours()
    depth = (_step(at=31) + rng.normal(0, 0.05, (48, 64))).astype(np.float32)
    far = np.r_[0:22, 40:64]  # columns more than two windows away from the step
    strict, _ = snap_to_image(depth, image, radius=3, noise_factor=3.0)
    np.testing.assert_array_equal(strict[:, far], depth[:, far])
    assert (strict[:, 30] > 2.0).all()  # the step itself moved onto the image edge
    # by default at most about half the map (windows above the median range) is touched
    snapped, changed = snap_to_image(depth, image, radius=3)
    assert (snapped[:, 30] > 2.0).all() and changed < 0.55 * depth.size
    everywhere, _ = snap_to_image(depth, image, radius=3, noise_factor=0.0, threshold=0.0)
    assert (everywhere[:, far] != depth[:, far]).mean() > 0.5
    with pytest.raises(InputError, match="noise_factor"):
        snap_to_image(depth, image, noise_factor=-1.0)


def test_float64_maps_count_only_what_moved():
    image = _two_colours()
    depth = (_step(at=31).astype(np.float64) * (1.0 + 1e-9)) / 3.0  # not float32-exact
    snapped, changed = snap_to_image(depth, image, radius=4, taps=None)
    assert snapped.dtype == np.float32
    assert changed == int(np.count_nonzero(snapped != depth.astype(np.float32))) == 48


def test_progress_counts_hundredths_of_each_pass_and_can_stop_the_snap():
    depth, image = _step(at=26), _two_colours()  # misplaced by 4 px: pixels to move
    seen: list[tuple[int, int]] = []
    snap_to_image(depth, image, radius=3, chunk=16, progress=lambda d, t: seen.append((d, t)))
    done = [d for d, _ in seen]
    assert seen[0] == (0, 200) and seen[-1] == (200, 200) and {t for _, t in seen} == {200}
    assert done == sorted(set(done)) and len(done) > 3  # several batches, never twice the same

    class Stop(Exception):
        pass

    def stop_after_first_batch(d: int, t: int) -> None:
        if d > 0:
            raise Stop

    with pytest.raises(Stop):
        snap_to_image(depth, image, radius=3, chunk=16, progress=stop_after_first_batch)


def test_a_depth_map_snaps_as_its_disparity_would():
    # steps are judged in disparity: a depth map snaps where its reciprocal would, to the
    # reciprocal's values (the weighted median commutes with 1/x up to ties)
    rng = np.random.default_rng(3)
    disparity = _step(at=26, near=3.0) + rng.normal(0, 0.01, (48, 64)).astype(np.float32)
    disparity[:, :10] += np.linspace(0, 0.8, 10, dtype=np.float32)  # a far slope: large in depth
    image = _two_colours()
    snapped_disparity, n_disparity = snap_to_image(disparity, image)
    snapped_depth, n_depth = snap_to_image(1.0 / disparity, image, kind="depth")
    assert n_depth == n_disparity > 0
    np.testing.assert_allclose(1.0 / snapped_depth, snapped_disparity, rtol=1e-6)
    as_given, _ = snap_to_image(1.0 / disparity, image)  # judged in depth: other pixels
    assert np.count_nonzero(as_given != snapped_depth) > 0
    with pytest.raises(InputError, match="positive"):
        snap_to_image(disparity - 2.0, image, kind="depth")
    with pytest.raises(InputError, match="kind"):
        snap_to_image(disparity, image, kind="inverse")


def test_cleanup_is_a_3x3_median_of_the_changed_pixels():
    rng = np.random.default_rng(3)
    depth = cv2.GaussianBlur(_step(at=26), (0, 0), 2.0) + rng.normal(0, 0.02, (48, 64))
    depth = depth.astype(np.float32)
    image = _two_colours()
    raw, _ = snap_to_image(depth, image, radius=4, cleanup=None)
    cleaned, changed = snap_to_image(depth, image, radius=4)  # cleanup=3 by default
    expected = np.where(raw != depth, cv2.medianBlur(raw, 3), raw)
    np.testing.assert_array_equal(cleaned, expected)
    assert changed == np.count_nonzero(cleaned != depth)
    assert not np.array_equal(cleaned, raw)  # it did something here
    with pytest.raises(InputError, match="cleanup"):
        snap_to_image(depth, image, cleanup=4)


def test_cleanup_leaves_an_exact_map_closer_to_itself():
    # an exact map: a textured slope on the left, a flat plane from column 34 on, where the
    # colour changes too; the snap alone draws small steps into the slope, the clean-up
    # takes most of them back
    rng = np.random.default_rng(5)
    h, w = 64, 80
    depth = np.tile(np.linspace(1.0, 2.0, w, dtype=np.float32), (h, 1))
    depth[:, 34:] = 4.0
    image = rng.integers(0, 255, (h, w, 3)).astype(np.uint8)
    image[:, 34:] = 200
    raw, moved_raw = snap_to_image(depth, image, radius=5, cleanup=None)
    cleaned, moved = snap_to_image(depth, image, radius=5)
    assert moved_raw > 0
    assert np.abs(cleaned - depth).sum() < 0.7 * np.abs(raw - depth).sum()
    assert moved < moved_raw


def test_padded_guide_is_the_photo_in_unit_range_with_its_edges_repeated():
    from sddr_core.ops.snap import _padded_guide

    rng = np.random.default_rng(1)
    for image, scale in (
        (rng.integers(0, 256, (5, 7, 3)).astype(np.uint8), 255.0),
        (rng.integers(0, 65536, (5, 7, 3)).astype(np.uint16), 65535.0),
        (rng.random((5, 7)).astype(np.float32), 1.0),
    ):
        planes = _padded_guide(image, (5, 7), 2)
        as_3d = image if image.ndim == 3 else image[..., None]
        want = np.pad(as_3d.astype(np.float32), ((2, 2), (2, 2), (0, 0)), mode="edge") / scale
        assert planes.dtype == torch.float32
        np.testing.assert_array_equal(
            planes.numpy(), want.transpose(2, 0, 1).reshape(len(want[0, 0]), -1)
        )


def test_int64_positions_give_the_same_snap(monkeypatch):
    # maps too large for int32 positions gather with int64 ones: the same windows
    import sddr_core.ops.snap as snap

    depth = cv2.GaussianBlur(_step(at=26), (0, 0), 2.0)
    image = _two_colours()
    with_int32 = snap.snap_to_image(depth, image, radius=4)
    monkeypatch.setattr(snap, "_INT32_POSITIONS", 10)
    with_int64 = snap.snap_to_image(depth, image, radius=4)
    np.testing.assert_array_equal(with_int32[0], with_int64[0])
    assert with_int32[1] == with_int64[1] > 0
