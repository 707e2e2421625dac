"""Procedural ground-truth scenes: seeded, varied, disjoint training / held-out seeds."""

import numpy as np
import pytest

from sddr_core.datasets.procedural import (
    HeldOutDataset,
    heldout_scenes,
    make_scene,
    training_scene,
)
from sddr_core.errors import InputError


def test_same_seed_same_scene():
    a = training_scene(3, (64, 96))
    b = training_scene(3, (64, 96))
    np.testing.assert_array_equal(a.depth, b.depth)
    np.testing.assert_array_equal(a.image, b.image)
    assert a.name == b.name == "procedural-train-3"


def test_scenes_are_valid_and_varied():
    scenes = [make_scene(s, long_side=96) for s in range(16)]
    for sc in scenes:
        h, w = sc.shape
        assert max(h, w) == 96 and 0.45 <= h / w <= 2.2
        assert sc.depth.dtype == np.float32 and np.isfinite(sc.depth).all()
        assert sc.depth.min() > 0
        assert sc.image.shape == (h, w, 3) and sc.image.min() >= 0 and sc.image.max() <= 1
        np.testing.assert_allclose(sc.gt, 1 / sc.depth, rtol=1e-6)  # disparity by default
    ratios = [sc.info["far"] / sc.info["near"] for sc in scenes]
    assert min(ratios) < 4 and max(ratios) > 10  # a range of depth ranges
    assert len({sc.info["background"] for sc in scenes}) >= 3
    thin = {k for sc in scenes for k in sc.info["thin"]}
    assert len(thin) >= 3  # branches, wires, fences, grids, strands
    assert len({sc.shape for sc in scenes}) > 5  # aspect ratios vary
    # layered occlusion: many distinct surfaces and real discontinuities
    assert np.median([len(np.unique(sc.labels)) for sc in scenes]) >= 4
    assert not np.array_equal(scenes[0].depth, scenes[1].depth)


def test_thin_structures_are_thin():
    for seed in range(40):
        sc = make_scene(seed, (128, 128))
        if "wires" in sc.info["thin"] or "strands" in sc.info["thin"]:
            break
    else:
        pytest.fail("no wires or strands in 40 scenes")
    # some surface is only a few pixels wide: its pixels mostly touch another surface
    lab = sc.labels
    thin_found = False
    for v in np.unique(lab):
        m = lab == v
        if 20 < m.sum() < 0.2 * m.size:
            inner = m[1:-1, 1:-1] & m[:-2, 1:-1] & m[2:, 1:-1] & m[1:-1, :-2] & m[1:-1, 2:]
            if inner.sum() < 0.5 * m.sum():
                thin_found = True
    assert thin_found


def test_heldout_seed_space_is_disjoint_from_training():
    held = next(heldout_scenes(1, seed=5, long_side=64))
    train = training_scene(5, held.shape)
    assert held.name == "procedural-heldout-5"
    assert not np.allclose(np.asarray(held.gt), train.gt)


def test_heldout_scenes_are_samples_and_load_as_a_dataset():
    from sddr_core.datasets.base import Sample, load_dataset

    samples = list(heldout_scenes(2, long_side=64))
    assert all(isinstance(s, Sample) for s in samples)
    assert samples[0].gt_kind == "disparity" and samples[0].valid.all()
    ds = load_dataset("procedural:2")
    assert len(ds) == 2
    names = [s.name for s in ds]
    assert names == ["procedural-heldout-0", "procedural-heldout-1"]
    ds2 = HeldOutDataset(2, long_side=64)
    np.testing.assert_array_equal(ds2.sample(1).gt, samples[1].gt)


def test_bad_arguments():
    with pytest.raises(InputError):
        make_scene(-1)
    with pytest.raises(InputError):
        make_scene(0, (8, 8))
    with pytest.raises(InputError):
        make_scene(0, kind="normals")
