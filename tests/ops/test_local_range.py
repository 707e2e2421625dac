import numpy as np
import pytest

from sddr_core.errors import InputError, ShapeError
from sddr_core.ops import clamp_to_local_range, local_range


def test_radius_zero_is_the_pixelwise_envelope():
    a = np.array([[0.0, 5.0], [2.0, 1.0]], np.float32)
    b = np.array([[1.0, 4.0], [3.0, 0.0]], np.float32)
    lo, hi = local_range([a, b], 0)
    np.testing.assert_array_equal(lo, np.minimum(a, b))
    np.testing.assert_array_equal(hi, np.maximum(a, b))


def test_radius_reaches_neighbours_only():
    a = np.zeros((9, 9), np.float32)
    a[4, 4] = 1.0
    lo, hi = local_range([a], 1)
    assert hi[4, 5] == 1.0 and hi[3, 4] == 1.0  # 4-neighbours see the spike
    assert hi[4, 6] == 0.0 and hi[2, 4] == 0.0  # two pixels away does not
    assert lo.max() == 0.0


def test_clamp_keeps_values_in_range_and_cuts_overshoot():
    step = np.repeat(np.array([[0.0] * 5 + [1.0] * 5], np.float32), 4, axis=0)
    halo = step.copy()
    halo[:, 3] = -0.3  # undershoot before the edge
    halo[:, 6] = 1.4  # overshoot after it
    halo[:, 4] = 0.6  # a moved edge stays inside the range next to the step: kept
    halo[:, 5] = 0.3
    out = clamp_to_local_range(halo, [step], radius=1)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out[:, 3], 0.0)
    np.testing.assert_array_equal(out[:, 6], 1.0)
    np.testing.assert_allclose(out[:, 4:6], halo[:, 4:6])
    np.testing.assert_array_equal(clamp_to_local_range(step, [step], 1), step)


def test_bad_arguments():
    a = np.zeros((4, 4), np.float32)
    with pytest.raises(InputError):
        local_range([], 1)
    with pytest.raises(InputError):
        local_range([a], -1)
    with pytest.raises(ShapeError):
        local_range([a, np.zeros((4, 5))], 1)
    with pytest.raises(ShapeError):
        clamp_to_local_range(np.zeros((3, 3)), [a], 1)
