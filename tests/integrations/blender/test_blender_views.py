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
    """Renders of the uncut, default and torn meshes; world fractions, part counts, fringes.

    Every mesh is orbited about the same point, the uncut mesh's subject (its median vertex
    depth straight ahead): a layered mesh's own median would sit farther back (its hidden
    background vertices count too), and a farther pivot shows less world at the same angle.
    """
    out_dir = Path(os.environ.get("SDDR_TEST_VIEWS_OUT", "") or tmp_path_factory.mktemp("views"))
    out_dir.mkdir(parents=True, exist_ok=True)
    meta = json.loads((motorcycle / "meta.json").read_text())
    disparity = np.load(motorcycle / "depth.npy").astype(np.float64)
    with np.errstate(divide="ignore"):
        planar = 1.0 / disparity if meta["kind"] == "disparity" else disparity
    band = views.thin_parts(planar)
    results: dict = {"thin_band_share": float(band.mean())}
    target = None
    uv_uncut = {}
    for name, overrides in (
        ("uncut", {"cut": False}),
        ("default", {}),
        ("torn", {"layered": False, "remove_islands": False}),
    ):
        scene, built = build(addon, motorcycle, **overrides)
        res = {"faces": len(built["object"].data.polygons)}
        parts = views.loose_parts(built["object"])
        res["parts"], res["parts_under_10_faces"] = len(parts), int((parts < 10).sum())
        full = views.render_rgba(scene, out_dir / f"{name}_camera.png")
        assert full.shape[:2] == (500, 741)  # the photo's full size
        res["camera"] = views.world_fraction(full)
        if target is None:
            target = views.subject_target(built["object"])
        scene.render.resolution_percentage = 50
        for deg in ORBITS:
            views.orbit_camera(scene, built["camera"], target, deg)
            rgba = views.render_rgba(scene, out_dir / f"{name}_orbit{deg:+d}.png")
            res[f"orbit{deg:+d}"] = views.world_fraction(rgba)
            if name == "uncut":  # where each pixel of the orbit lies on the photo
                uv_uncut[deg] = views.uv_render(scene, built["object"], out_dir / "uv.exr")
            # fringes at thin parts: the share of their band where the world shows
            res[f"fringe{deg:+d}"] = views.world_in_band(rgba[..., 3] < 0.5, uv_uncut[deg], band)
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


@pytest.mark.parametrize("degrees", ORBITS)
def test_orbit_shows_about_as_little_world_as_the_uncut_mesh(measured, degrees):
    key = f"orbit{degrees:+d}"
    # issue 14: 15 and 30 degrees to each side: no more than the uncut mesh. On sharp depth
    # (the band-fusion refiner) one background layer left gaps behind middle layers (21.2 %
    # vs 17.2 % at -30 degrees); three stacked layers measured 15.7 / 23.8 / 13.5 / 17.5 %
    # vs 15.8 / 23.9 / 13.6 / 17.2 %: at -30 degrees the view looks past the front wheel's
    # tyre and out of the picture before it meets any background. The skirt (the cut
    # outline drawn back along the camera rays) catches those: 15.5 / 23.5 / 13.3 / 16.7 %.
    assert measured["default"][key] <= measured["uncut"][key]


@pytest.mark.parametrize("degrees", ORBITS)
def test_fringes_at_thin_parts_show_less_world_than_the_torn_mesh(measured, degrees):
    # the band around thin parts (spokes, fork, handlebar, shelf posts) seen at the orbit:
    # the share where the world shows through, a measure of the fringes they leave
    key = f"fringe{degrees:+d}"
    assert measured["default"][key] < 0.5 * measured["torn"][key]
    assert measured["uncut"][key] == 0.0


def test_small_islands_are_removed(measured):
    torn, default = measured["torn"], measured["default"]
    # Fragments (parts under 10 faces) are what island removal is about. The total count is
    # not a fragment count: the layered mesh adds background-layer pieces behind occluders as
    # parts of their own by design, so it only has to stay near the torn mesh's (Motorcycle
    # depth of the stage-4 refiner: 48 vs 49; stage 5: 47 vs 43).
    assert default["parts_under_10_faces"] < torn["parts_under_10_faces"] / 2
    assert default["parts"] <= 1.2 * torn["parts"]
