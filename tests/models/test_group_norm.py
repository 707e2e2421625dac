"""The GPU-friendly group normalisation and median: the same numbers as PyTorch's own."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from sddr_core.models.group_norm import GroupNorm, group_norm_by_reduction
from sddr_core.models.normalize import middle_values


@pytest.mark.parametrize("groups", [1, 2, 4])
def test_group_norm_by_reduction_matches_torch(groups):
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(3, 8, 20, 28, generator=gen) * 4 + 2
    w, b = torch.randn(8, generator=gen), torch.randn(8, generator=gen)
    ours = group_norm_by_reduction(x, groups, w, b, eps=1e-5)
    torch.testing.assert_close(ours, F.group_norm(x, groups, w, b, 1e-5), atol=1e-5, rtol=1e-5)
    plain = group_norm_by_reduction(x.half(), groups)  # no affine; half in, float32 out
    assert plain.dtype == torch.float32
    torch.testing.assert_close(plain, F.group_norm(x.half().float(), groups), atol=1e-4, rtol=0)


def test_group_norm_by_reduction_refuses_uneven_groups():
    with pytest.raises(ValueError, match="groups"):
        group_norm_by_reduction(torch.zeros(1, 6, 4, 4), 4)


def test_group_norm_module_loads_torch_state_and_matches_on_cpu():
    ref = nn.GroupNorm(2, 8)
    nn.init.normal_(ref.weight)
    nn.init.normal_(ref.bias)
    ours = GroupNorm(2, 8)
    ours.load_state_dict(ref.state_dict())  # same names: checkpoints load either way
    x = torch.randn(2, 8, 10, 12)
    torch.testing.assert_close(ours(x), ref(x))


@pytest.mark.parametrize("n", [1, 2, 7, 1000, 1001])
@pytest.mark.parametrize("by_sort", [False, True])
def test_middle_values_give_numpy_median(n, by_sort):
    x = torch.from_numpy(np.random.default_rng(n).normal(size=(3, n)).astype(np.float32))
    lo, hi = middle_values(x, by_sort=by_sort)
    assert torch.all(lo <= hi)
    np.testing.assert_allclose((0.5 * (lo + hi)).numpy(), np.median(x.numpy(), axis=1), rtol=1e-6)
