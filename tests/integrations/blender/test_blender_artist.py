"""Artist controls without bpy: the face budget and expected count, real-world scale from a
subject, the progress bar's stages. Plain pytest (numpy only)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from blender_helpers import load_addon_module, synthetic_scene

mesh = load_addon_module("mesh")
artist = load_addon_module("artist")


@pytest.fixture(scope="module")
def scene():
    return synthetic_scene(120, 160)


@pytest.mark.parametrize("layered", [True, False])
@pytest.mark.parametrize("vertices", [32, 80, 160])
def test_expected_faces_bounds_the_built_count_closely(scene, layered, vertices):
    built = mesh.build_mesh(
        scene["disparity"], max_vertices=vertices, layered=layered, remove_islands=False
    )
    expected = mesh.expected_faces(120, 160, vertices, layered=layered)
    assert len(built.faces) <= expected
    assert len(built.faces) >= 0.6 * expected  # a useful estimate, not just a bound


def test_the_issue_case_is_counted_and_warned():
    # full density on a 4000 x 3000 photo built 11.8 M faces (torn mesh) without notice
    torn = mesh.expected_faces(3000, 4000, 4000, layered=False)
    assert torn == 3999 * 2999 and torn > mesh.WARN_FACES
    assert mesh.expected_faces(3000, 4000, 512, layered=True) < mesh.WARN_FACES


def test_face_budget_lowers_the_density_to_fit(scene):
    budget = 3000
    v = mesh.vertices_for_budget(120, 160, 160, budget)
    assert mesh.expected_faces(120, 160, v) <= budget < mesh.expected_faces(120, 160, v + 1)
    built = mesh.build_mesh(scene["disparity"], max_vertices=160, face_budget=budget)
    assert len(built.faces) <= budget and built.info["max_vertices"] == v
    unlimited = mesh.build_mesh(scene["disparity"], max_vertices=160, face_budget=0)
    assert len(unlimited.faces) > 2 * budget
    assert mesh.vertices_for_budget(120, 160, 64, 10**9) == 64  # a budget never raises it


def test_subject_distance_scales_the_scene_about_the_camera(scene):
    base = mesh.build_mesh(scene["disparity"], max_vertices=80, near=1.0, far=5.0)
    scaled = mesh.build_mesh(
        scene["disparity"], max_vertices=80, near=1.0, far=5.0, subject_distance=7.0
    )
    k = scaled.info["subject_scale"]
    assert k > 1.0
    np.testing.assert_allclose(scaled.vertices, base.vertices * k, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(scaled.faces, base.faces)  # the same cuts and layers
    assert scaled.camera.fov_x == base.camera.fov_x  # the matching view is unchanged
    z_full = mesh.to_metric_depth(scene["disparity"], "disparity", near=1.0, far=5.0) * k
    assert mesh.subject_depth(z_full) == pytest.approx(7.0, rel=1e-6)


def test_subject_height_gives_the_subject_that_size(scene):
    fov = 50.0
    built = mesh.build_mesh(
        scene["disparity"], max_vertices=80, fov_x=fov, subject_height=1.8, subject_fill=0.5
    )
    k = built.info["subject_scale"]
    zs = mesh.subject_depth(mesh.to_metric_depth(scene["disparity"], "disparity") * k)
    focal_px = 160 / (2 * math.tan(math.radians(fov) / 2))
    frame_height = 120 * zs / focal_px  # the photo's height at the subject's depth
    assert 0.5 * frame_height == pytest.approx(1.8, rel=1e-6)
    with pytest.raises(mesh.MeshError, match="Subject height"):
        mesh.build_mesh(scene["disparity"], max_vertices=16, subject_height=1.0, subject_fill=0)


class Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


def test_progress_moves_during_a_one_stage_run_and_never_goes_back():
    clock = Clock()
    p = artist.Progress("one-stage", clock=clock)
    assert p.fraction == 0.0 and p.label == "Starting the depth worker..."
    seen = []
    for stage in ("predict-low", "predict-high", "refine", "snap"):
        p.update(stage, 0, 1)  # sddr_core reports 0/1 at the start of a stage ...
        for _ in range(5):
            clock.t += 1.0
            seen.append(p.fraction)
        p.update(stage, 1, 1)  # ... and 1/1 at its end, nothing in between
        seen.append(p.fraction)
    assert all(b >= a for a, b in itertools.pairwise(seen))
    assert seen[0] > 0.0 and seen[4] > seen[0]  # moves inside the first stage
    assert seen[4] < 0.42  # but never claims the stage finished
    assert seen[-1] == pytest.approx(1.0)
    assert p.label == "Snapping edges to the photo..."


def test_progress_labels_and_counted_stages():
    clock = Clock()
    p = artist.Progress("two-stage", clock=clock)
    p.update("download", 2, 5)
    assert p.label == "Downloading model weights 2/5" and p.fraction == 0.0
    p.update("window", 10, 40)
    assert p.label == "Sharpening (two-stage windows) 10/40"
    assert 0.35 + 0.60 * 10 / 40 <= p.fraction < 0.35 + 0.60 * 11 / 40
    assert set(artist.STAGE_NAMES) >= {s for plan in artist.PLANS.values() for s, _ in plan}


def test_presets_set_sensible_ranges():
    assert set(artist.PRESETS) == {"PORTRAIT", "PRODUCT", "LANDSCAPE", "ARCHITECTURE"}
    for values in artist.PRESETS.values():
        assert 0 < values["near"] < values["far"]
    # ordered by distance: product < portrait < architecture < landscape
    far = {k: v["far"] for k, v in artist.PRESETS.items()}
    assert far["PRODUCT"] < far["PORTRAIT"] < far["ARCHITECTURE"] < far["LANDSCAPE"]
