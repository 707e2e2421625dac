"""Refine Depth's sequence option, ComfyUI-free (the pack's ``sequence`` module): a moving
IMAGE batch comes out steady, normalised across the batch, in the nodes' layouts."""

from __future__ import annotations

import importlib

import numpy as np
import pytest
import torch

from sddr_core.datasets.procedural import make_scene
from sddr_core.datasets.sequences import JitteryPredictor, camera_sequence, temporal_error


@pytest.fixture(scope="module")
def sequence(pack):
    return importlib.import_module(f"{pack.__name__}.sequence")


def _video(n: int = 10):
    sc = make_scene(5, (150, 200))
    frames = list(camera_sequence(sc.image, sc.disparity, frames=n, frame_shape=(72, 96)))
    predictor = JitteryPredictor(native_resolution=48, keep=n, wobble=0.1, jitter=0.05)
    for f in frames:
        predictor.add(f)
    return frames, predictor


def test_batch_as_sequence_is_steadier_and_has_the_node_layouts(sequence, core) -> None:
    frames, predictor = _video()
    batch = torch.from_numpy(np.stack([f.image for f in frames]))
    seen: list[int] = []
    out = sequence.refine_sequence_batch(
        batch, predictor, refiner="poisson", chunk=4, before_image=seen.append
    )
    assert seen == list(range(len(frames)))
    b, h, w = len(frames), 72, 96
    assert out.controlnet.shape == (b, h, w, 3) and out.edges.shape == (b, h, w, 3)
    assert out.omega.shape == (b, h, w) and out.depth["depth"].shape == (b, h, w)
    assert float(out.controlnet.min()) == 0.0 and float(out.controlnet.max()) == 1.0  # one range
    assert [i["frame"] for i in out.depth["info"]] == list(range(b))
    per_frame = core.refine_batch([f.image for f in frames], predictor, refiner="poisson")
    steady = temporal_error(list(out.depth["depth"].numpy()), frames).error
    flicker = temporal_error([r.depth for r in per_frame], frames).error
    assert steady < 0.7 * flicker


def test_bad_batches_are_refused(sequence) -> None:
    with pytest.raises(ValueError, match="IMAGE batch"):
        sequence.refine_sequence_batch(torch.zeros(0, 8, 8, 3), lambda im, r: im[..., 0])
    with pytest.raises(ValueError, match="chunk"):
        sequence.refine_sequence_batch(torch.zeros(2, 8, 8, 3), lambda im, r: im[..., 0], chunk=0)


def test_image_batch_is_refined_in_chunks_like_image_by_image(sequence, core, monkeypatch) -> None:
    frames, predictor = _video(7)
    batch = torch.from_numpy(np.stack([f.image for f in frames]))
    converted: list[int] = []
    convert = core.image_batch_to_arrays

    def counting(image):
        converted.append(int(image.shape[0]))
        return convert(image)

    monkeypatch.setattr(core, "image_batch_to_arrays", counting)
    seen: list[int] = []
    out = sequence.refine_image_batch(
        batch, predictor, refiner="poisson", chunk=3, before_image=seen.append
    )
    assert converted == [3, 3, 1]  # never the whole batch at once
    assert seen == list(range(7))
    monkeypatch.setattr(core, "image_batch_to_arrays", convert)
    listed = core.outputs_from_results(
        core.refine_batch([f.image for f in frames], predictor, refiner="poisson"), "per image"
    )
    assert torch.allclose(out.controlnet, listed.controlnet, atol=1e-6)
    assert torch.allclose(out.depth["depth"], listed.depth["depth"], atol=1e-6)
    assert torch.allclose(out.edges, listed.edges, atol=1e-6)
    assert torch.equal(out.omega, listed.omega)
    assert out.depth["kind"] == listed.depth["kind"]
    across = sequence.refine_image_batch(
        batch, predictor, refiner="poisson", normalization="across batch"
    )
    assert float(across.controlnet.max()) == 1.0 and float(across.controlnet.min()) == 0.0
    assert float(across.controlnet[0].max()) < 1.0 or float(across.controlnet[0].min()) > 0.0
    with pytest.raises(ValueError, match="normalization"):
        sequence.refine_image_batch(batch, predictor, normalization="per frame")
    # snap_edges off: the fused maps as they are (the snap moved some pixels of these frames)
    plain = core.outputs_from_results(
        core.refine_batch([f.image for f in frames], predictor, refiner="poisson", snap=False),
        "per image",
    )
    unsnapped = sequence.refine_image_batch(batch, predictor, refiner="poisson", snap=False)
    assert torch.allclose(unsnapped.depth["depth"], plain.depth["depth"], atol=1e-6)
    assert not torch.allclose(unsnapped.depth["depth"], out.depth["depth"], atol=1e-6)
