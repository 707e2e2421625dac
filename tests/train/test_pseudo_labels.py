"""Self-distilled pseudo-labels G_S through the two-stage code."""

import numpy as np

from sddr_core.train.config import DataConfig, TrainingConfig
from sddr_core.train.data import SamplePool, pseudo_label


class _CallCounter:
    """Wraps a refiner, counting fusions (one-stage + every window)."""

    def __init__(self, refiner):
        self.refiner = refiner
        self.name = refiner.name
        self.size_multiple = refiner.size_multiple
        self.max_working_side = refiner.max_working_side
        self.calls = 0

    def fuse(self, low, high):
        self.calls += 1
        return self.refiner.fuse(low, high)


def test_pseudo_label_uses_coarse_to_fine_and_finds_edges():
    from sddr_core.refiners.poisson import PoissonRefiner

    pool = SamplePool(DataConfig(crop=64, pool_size=1), TrainingConfig(), seed=3)
    pool.fill()
    sample = pool.samples[0]
    refiner = _CallCounter(PoissonRefiner())
    g_s, regions = pseudo_label(sample, refiner, levels=(2, 3), overlaps=(0.2, 0.25))
    assert refiner.calls == 1 + 4 + 9  # one-stage, then 2x2 and 3x3 windows
    assert g_s.shape == (64, 64) and regions.shape == (4, 64, 64)
    assert np.isfinite(g_s).all()
    assert g_s[:2].max() == g_s.min() and g_s[:, -2:].max() == g_s.min()  # border cleared
    top = g_s >= np.quantile(g_s, 0.95)
    assert np.all(regions.any(0)[top & (g_s > g_s.min())])
    # the label's strongest edges lie near the ground truth's depth edges
    from sddr_core.ops.edges import edge_map

    g_gt = edge_map(sample.gt)
    near = g_gt > np.quantile(g_gt, 0.85)
    import cv2

    near = cv2.dilate(near.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    assert near[top].mean() > 0.6


def test_pool_labels_and_batches_carry_them():
    from sddr_core.refiners.poisson import PoissonRefiner

    pool = SamplePool(DataConfig(crop=48, pool_size=2), TrainingConfig(), seed=0)
    pool.fill()
    assert pool.unlabelled() == [0, 1]
    assert pool.label(PoissonRefiner(), step=7) == 2
    assert pool.unlabelled() == [] and pool.samples[0].label_step == 7
    batch = pool.batch(2, labels=True)
    assert batch["g_s"].shape == (2, 1, 48, 48) and batch["regions"].shape == (2, 4, 48, 48)
    assert batch["regions"].dtype.is_floating_point is False
