"""Measured views of a real photo: the Middlebury Motorcycle (scikit-image's
``stereo_motorcycle``) with SDDR-refined depth, built with the panel's default settings.

* the matching camera at the photo's full size (741 x 500): the share of pixels where the
  world shows through (target < 0.5 %);
* orbits of 15 and 30 degrees to each side about the subject: world shown versus the uncut
  mesh (which hides everything behind curtains);
* loose parts of the mesh, versus the torn (cut, not layered) mesh.

The photo and depth come from the main Python (sddr_core, scikit-image), written by
``integrations/blender/docs/make_render_example.py prepare DIR``; ``.ci/blender-tests.sh``
does that and sets ``SDDR_TEST_MOTORCYCLE_DIR``. Without it these tests skip.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.blender
bpy = pytest.importorskip("bpy")

import blender_views as views  # noqa: E402  (needs bpy)
from conftest import PACKAGE  # noqa: E402

ORBITS = (15, 30, -15, -30)


@pytest.fixture(scope="module")
def motorcycle() -> Path:
    folder = os.environ.get("SDDR_TEST_MOTORCYCLE_DIR", "")
    if not folder or not (Path(folder) / "depth.npy").is_file():
        pytest.skip(
            "set SDDR_TEST_MOTORCYCLE_DIR to a folder made by "
            "`python integrations/blender/docs/make_render_example.py prepare DIR`"
        )
    return Path(folder)


def build(addon, motorcycle: Path, **overrides):
    import importlib

    pipeline = importlib.import_module(f"{PACKAGE}.pipeline")
    bpy.ops.wm.read_homefile(use_empty=True)
    scene = bpy.context.scene
    photo = bpy.data.images.load(str(motorcycle / "photo.png"))
    meta = json.loads((motorcycle / "meta.json").read_text())
    options = pipeline.mesh_kwargs(scene.sddr)  # the panel's defaults
    options.update(overrides)
    out = pipeline.build_from_depth(
        scene,
        photo,
        np.load(motorcycle / "depth.npy"),
        edges=np.load(motorcycle / "edges.npy"),
        kind=meta["kind"],
        **options,
    )
    views.cycles_setup(scene)
    return scene, out


@pytest.fixture(scope="module")
def measured(addon, motorcycle, tmp_path_factory) -> dict:
    """Renders of the default, uncut and torn meshes; world fractions and part counts."""
    out_dir = Path(os.environ.get("SDDR_TEST_VIEWS_OUT", "") or tmp_path_factory.mktemp("views"))
    out_dir.mkdir(parents=True, exist_ok=True)
    results = {}
    for name, overrides in (
        ("default", {}),
        ("uncut", {"cut": False}),
        ("torn", {"layered": False, "remove_islands": False}),
    ):
        scene, built = build(addon, motorcycle, **overrides)
        res = {"faces": len(built["object"].data.polygons)}
        parts = views.loose_parts(built["object"])
        res["parts"], res["parts_under_10_faces"] = len(parts), int((parts < 10).sum())
        full = views.render_rgba(scene, out_dir / f"{name}_camera.png")
        assert full.shape[:2] == (500, 741)  # the photo's full size
        res["camera"] = views.world_fraction(full)
        target = views.subject_target(built["object"])
        scene.render.resolution_percentage = 50
        for deg in ORBITS:
            views.orbit_camera(scene, built["camera"], target, deg)
            rgba = views.render_rgba(scene, out_dir / f"{name}_orbit{deg:+d}.png")
            res[f"orbit{deg:+d}"] = views.world_fraction(rgba)
        results[name] = res
    (out_dir / "measured.json").write_text(json.dumps(results, indent=1))
    print(json.dumps(results, indent=1))
    return results


def test_default_camera_view_has_no_holes_at_full_size(measured):
    assert measured["torn"]["camera"] > 0.05  # the old default: outlines of world
    assert measured["default"]["camera"] < 0.005


@pytest.mark.parametrize("degrees", ORBITS)
def test_orbit_shows_less_world_than_the_torn_mesh(measured, degrees):
    key = f"orbit{degrees:+d}"
    assert measured["default"][key] < measured["torn"][key]


# Issue 14's side-view target, not met in general: it held on the smooth depth of the SDDR
# network that was the default refiner until December 2026, but with sharper depth (the
# band-fusion default, Poisson, even the ground truth itself) the layered mesh shows 0.5 to
# 3 points more world than the uncut mesh at +15, -15 and -30 degrees (thin streaks where
# noisy depth makes many cuts in the shelf area). Kept as an expected failure so the gap stays
# measured and visible until the mesh builder closes it; see integrations/blender/README.md.
@pytest.mark.xfail(reason="issue 14 open: layered mesh vs uncut at side views on sharp depth")
@pytest.mark.parametrize("degrees", ORBITS)
def test_orbit_shows_about_as_little_world_as_the_uncut_mesh(measured, degrees):
    key = f"orbit{degrees:+d}"
    # 15 and 30 degrees to the right and 15 to the left: no more than the uncut mesh;
    # 30 to the left within a point of it (measured 16.8 % vs 16.7 %; it was 21.2 % before
    # fewer false floor cuts and a background layer made for 60 degrees of parallax)
    slack = 0.01 if degrees == -30 else 0.0
    assert measured["default"][key] <= measured["uncut"][key] + slack


def test_small_islands_are_removed(measured):
    torn, default = measured["torn"], measured["default"]
    assert default["parts"] < torn["parts"]
    assert default["parts_under_10_faces"] < torn["parts_under_10_faces"] / 2
