"""gaussian_split: known values, frequency behaviour, alignment and bad inputs."""

import numpy as np
import pytest

from sddr_core.errors import InputError, ShapeError
from sddr_core.ops import gaussian_split
from sddr_core.ops.split import gaussian_lowpass


def ramp(h: int = 64, w: int = 96) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    return 1.0 + 0.01 * x + 0.02 * y


def test_identical_inputs_come_back():
    low = ramp()
    np.testing.assert_allclose(gaussian_split(low, low), low, atol=1e-5)


def test_scale_and_shift_of_high_do_not_matter():
    rng = np.random.default_rng(0)
    low = ramp()
    high = low + rng.normal(0, 0.05, low.shape).astype(np.float32)
    a = gaussian_split(low, high)
    b = gaussian_split(low, 3.0 * high - 7.0)
    np.testing.assert_allclose(a, b, atol=1e-4)


def test_low_frequencies_from_low_high_frequencies_from_high():
    h, w = 64, 128
    x = np.arange(w, dtype=np.float32)[None, :].repeat(h, 0)
    slow = np.sin(2 * np.pi * x / 128.0).astype(np.float32)  # period 128 px >> sigma
    fast = 0.3 * np.sign(np.sin(2 * np.pi * x / 4.0)).astype(np.float32)  # period 4 px
    low = 5.0 + slow  # consistent structure, no detail
    high = 5.0 + 0.4 * slow + fast  # wrong structure, sharp detail
    out = gaussian_split(low, high, sigma=8.0)
    inner = (slice(16, -16), slice(32, -32))
    # the detail of high survives, its wrong low frequencies are mostly replaced
    detail = out - gaussian_lowpass(out, 8.0)
    assert np.corrcoef(detail[inner].ravel(), fast[inner].ravel())[0, 1] > 0.95
    err_split = np.abs(gaussian_lowpass(out, 8.0) - gaussian_lowpass(low, 8.0))[inner].mean()
    err_high = np.abs(gaussian_lowpass(high, 8.0) - gaussian_lowpass(low, 8.0))[inner].mean()
    assert err_split < 0.25 * err_high


def test_constant_high_gives_blurred_low():
    low = np.zeros((40, 40), np.float32)
    low[:, 20:] = 1.0
    out = gaussian_split(low, np.full_like(low, 3.0), sigma=2.0)
    np.testing.assert_allclose(out, gaussian_lowpass(low, 2.0), atol=1e-6)
    assert 0.0 < out[20, 19] < 1.0 and out[20, 0] == pytest.approx(0.0, abs=1e-6)


def test_step_edge_is_taken_from_high():
    # low: a blurred step (wide ramp); high: the sharp step. The split is sharp.
    truth = np.zeros((32, 64), np.float32)
    truth[:, 32:] = 1.0
    low = gaussian_lowpass(truth, 6.0)
    out = gaussian_split(low, truth, sigma=8.0)
    jump_out = out[16, 32] - out[16, 31]
    jump_low = low[16, 32] - low[16, 31]
    # (the least-squares fit of the sharp step to the blurred one scales it by ~0.85)
    assert jump_out > 0.75 and jump_out > 5 * jump_low


def test_bad_inputs():
    a = ramp()
    with pytest.raises(ShapeError):
        gaussian_split(a, a[:, :-1])
    bad = a.copy()
    bad[0, 0] = np.nan
    with pytest.raises(InputError, match="non-finite"):
        gaussian_split(bad, a)
    with pytest.raises(InputError, match="sigma"):
        gaussian_split(a, a, sigma=0)
