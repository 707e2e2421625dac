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
    assert as_depth_map(ok, what="m", unknown="holes").shape == (2, 2)
    with pytest.raises(InputError, match="divide it by a constant"):
        as_depth_map(ok * 10, what="m", unknown="holes")


def test_unknown_pixels_refused_as_holes_or_kept():
    nan = np.full((3, 3), np.nan)
    with pytest.raises(InputError, match="no finite value"):
        as_depth_map(nan, what="m", unknown="holes")
    assert np.isnan(as_depth_map(nan, what="m", unknown="keep")).all()
    with pytest.raises(ValueError, match="unknown must be"):
        as_depth_map(np.ones((3, 3)), what="m", unknown="fill")


def test_writer_options_refuse_colour_and_keep_rows():
    from sddr_core.errors import ShapeError

    with pytest.raises(ShapeError, match="one channel only"):
        as_depth_map(np.zeros((4, 4, 3)), what="m", grey_rgb=False)
    row = as_depth_map(np.arange(5.0)[None], what="m", min_side=1)
    assert row.shape == (1, 5)  # a (1, W) map is not squeezed into a vector
    assert as_depth_map(np.array([[3e19]]), what="m", min_side=1, max_magnitude=None)[0, 0] > 0


@pytest.mark.parametrize("value", [np.zeros((2, 2), bool), np.zeros((2, 2), complex)])
def test_refuses_what_is_not_real_numbers(value):
    with pytest.raises(InputError, match="real numbers"):
        as_depth_map(value, what="m")


def test_shape_errors_are_shape_errors_unless_the_caller_chose_another_type():
    from sddr_core.errors import ShapeError

    with pytest.raises(ShapeError):
        as_depth_map(np.zeros((4,)), what="m")
    with pytest.raises(PredictorError) as info:
        as_depth_map(np.zeros((4,)), what="m", error=PredictorError)
    assert not isinstance(info.value, ShapeError)
