import numpy as np
import pytest
import torch

from sddr_core.errors import InputError, PredictorError
from sddr_core.ops import as_depth_map


def test_accepts_numpy_torch_and_squeezable_layouts():
    m = np.arange(12, dtype=np.float64).reshape(3, 4)
    out = as_depth_map(m, what="x")
    assert out.dtype == np.float32 and out.shape == (3, 4)
    np.testing.assert_array_equal(out, m)
    t = torch.arange(12, dtype=torch.float16).reshape(1, 1, 3, 4)
    np.testing.assert_array_equal(as_depth_map(t, what="x"), m)
    rgb = np.stack([m, m * 0, m * 0], axis=-1)
    np.testing.assert_array_equal(as_depth_map(rgb, what="x"), m)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("text", "not an array"),
        (np.zeros((4,)), "shape (4,)"),
        (np.zeros((2, 3, 5, 7)), "2-D"),
        (np.zeros((1, 9)), "shape (1, 9)"),
        (np.zeros((1, 9)), "at least 2"),
        (np.array([[1.0, np.nan], [0.0, np.inf]]), "2 non-finite"),
        (np.array([[1.0, 2.0], [-3e19, 4.0]]), "values up to 3e+19"),
    ],
)
def test_refuses_bad_maps_with_a_clear_message(value, message):
    with pytest.raises(InputError, match="my map") as info:
        as_depth_map(value, what="my map", fix="Do the thing.")
    assert message in str(info.value)
    assert str(info.value).endswith("Do the thing.")


def test_error_type_and_minimum_side_are_the_callers():
    with pytest.raises(PredictorError, match="at least 8"):
        as_depth_map(np.zeros((6, 40)), what="m", min_side=8, error=PredictorError)


def test_magnitude_limit_counts_known_pixels_only():
    ok = np.array([[1e18, np.nan], [-1e18, 0.0]])
    assert as_depth_map(ok, what="m", allow_unknown=True).shape == (2, 2)
    with pytest.raises(InputError, match="divide it by a constant"):
        as_depth_map(ok * 10, what="m", allow_unknown=True)
