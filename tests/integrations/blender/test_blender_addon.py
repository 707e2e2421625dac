"""The add-on inside Blender (``bpy`` as a module): extension build, registration, pipeline,
matching-camera render, .blend round trip, exports, operators and their error messages.

Run with the bpy venv (see conftest.py); skipped where ``bpy`` does not import.
"""

from __future__ import annotations

import importlib
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest
from blender_helpers import ADDON_DIR, REPO, dilate, synthetic_scene

pytestmark = pytest.mark.blender
bpy = pytest.importorskip("bpy")

from conftest import PACKAGE, run_blender_ext  # noqa: E402  (the add-on fixtures are there)


@pytest.fixture
def pipeline(addon):
    bpy.ops.wm.read_homefile(use_empty=True)  # keeps add-ons registered
    return importlib.import_module(f"{PACKAGE}.pipeline")


@pytest.fixture
def scene_data(tmp_path):
    """The synthetic photo saved as PNG and loaded, plus its disparity."""
    sc = synthetic_scene(120, 160)
    img = bpy.data.images.new("tmp", 160, 120)
    rgba = np.ones((120, 160, 4), np.float32)
    rgba[..., :3] = sc["photo"] / 255.0
    img.pixels.foreach_set(rgba[::-1].ravel())
    path = tmp_path / "photo.png"
    img.filepath_raw = str(path)
    img.file_format = "PNG"
    img.save()
    bpy.data.images.remove(img)
    sc["photo_image"] = bpy.data.images.load(str(path))
    sc["photo_path"] = path
    return sc


def render(scene, path: Path, samples: int = 4) -> np.ndarray:
    """Cycles CPU render of the active camera to ``path``; returns RGB float (H, W, 3)."""
    scene.render.engine = "CYCLES"
    scene.cycles.device = "CPU"
    scene.cycles.samples = samples
    scene.cycles.use_denoising = False
    scene.cycles.filter_width = 0.01  # one ray through each pixel centre: no filter blur
    scene.world = scene.world or bpy.data.worlds.new("black")
    scene.world.color = (0.0, 0.0, 0.0)
    scene.render.image_settings.file_format = "PNG"
    scene.render.filepath = str(path)
    bpy.ops.render.render(write_still=True)
    img = bpy.data.images.load(str(path))
    w, h = img.size
    px = np.empty(w * h * img.channels, np.float32)
    img.pixels.foreach_get(px)
    return px.reshape(h, w, img.channels)[::-1, :, :3]


# -- packaging -----------------------------------------------------------------------------


def test_manifest_validates():
    proc = run_blender_ext("validate", str(ADDON_DIR))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Success" in proc.stdout


def test_zip_holds_the_addon_and_nothing_else(tmp_path):
    source = tmp_path / "sddr_depth"
    import shutil

    shutil.copytree(ADDON_DIR, source, ignore=shutil.ignore_patterns("__pycache__"))
    # junk a working copy collects: none of it may ship
    junk = [".pytest_cache/v/cache/lastfailed", ".DS_Store", "docs/.DS_Store", "depth.npy"]
    junk += ["scene.blend", "mesh.obj", "mesh.glb", "render.exr", "notes.json", "sub/x.pyc"]
    for name in junk:
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        (source / name).write_bytes(b"x")
    out = tmp_path / "dist"
    out.mkdir()
    proc = run_blender_ext("build", "--source-dir", str(source), "--output-dir", str(out))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (zip_path,) = out.glob("sddr_depth-*.zip")
    names = set(zipfile.ZipFile(zip_path).namelist())
    for needed in ("blender_manifest.toml", "__init__.py", "mesh.py", "worker.py", "pipeline.py"):
        assert needed in names
    assert not [n for n in names if any(n.endswith(j.rsplit("/", 1)[-1]) for j in junk)]
    assert not any(n.endswith(".py") and n.startswith("docs/") for n in names)
    # every picture the README links is in the zip
    import re

    readme = zipfile.ZipFile(zip_path).read("README.md").decode()
    linked = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", readme)
    assert linked and all(link in names for link in linked), (linked, sorted(names))


def test_registered_with_preferences_and_scene_settings(addon):
    assert hasattr(bpy.types, "SDDR_OT_generate") and hasattr(bpy.types, "SDDR_PT_main")
    assert bpy.types.SDDR_PT_main.bl_category == "SDDR"
    assert bpy.context.preferences.addons[PACKAGE].preferences is not None
    assert bpy.context.scene.sddr.resolution == 512
    assert len(addon.CLASSES) == len(set(addon.CLASSES))
    with pytest.raises(RuntimeError, match="Another copy"):
        addon.register()  # a second copy is refused


# -- pipeline ------------------------------------------------------------------------------


def test_build_mesh_material_camera_and_depth_image(pipeline, scene_data):
    scene = bpy.context.scene
    out = pipeline.build_from_depth(
        scene,
        scene_data["photo_image"],
        scene_data["disparity"],
        edges=np.zeros((120, 160), np.float32),
        kind="disparity",
        max_vertices=80,
        near=1.0,
        far=4.0,
    )
    obj, data = out["object"], out["mesh_data"]
    me = obj.data
    assert len(me.vertices) == len(data.vertices) and len(me.polygons) == len(data.faces)
    assert data.faces_cut > 0 and (data.face_layer == 0).sum() < 79 * 59
    layer = np.empty(len(me.polygons), np.int32)
    me.attributes["sddr_layer"].data.foreach_get("value", layer)
    np.testing.assert_array_equal(layer, data.face_layer)  # select the layers in Blender
    assert me.uv_layers.active is not None
    uvs = np.empty(len(me.loops) * 2, np.float32)
    me.uv_layers.active.data.foreach_get("uv", uvs)
    assert uvs.min() >= 0.0 and uvs.max() <= 1.0
    co = np.empty(len(me.vertices) * 3, np.float32)
    me.vertices.foreach_get("co", co)
    np.testing.assert_allclose(co.reshape(-1, 3), data.vertices, atol=1e-6)

    mat = out["material"]
    assert obj.active_material == mat
    tex = [n for n in mat.node_tree.nodes if n.type == "TEX_IMAGE"]
    assert len(tex) == 1 and tex[0].image == scene_data["photo_image"]
    assert any(n.type == "EMISSION" for n in mat.node_tree.nodes)

    cam = out["camera"]
    assert cam.type == "CAMERA" and scene.camera == cam
    assert cam.data.type == "PERSP" and cam.data.sensor_fit == "HORIZONTAL"
    assert cam.data.lens == pytest.approx(data.camera.lens, rel=1e-5)
    assert tuple(cam.location) == (0.0, 0.0, 0.0)
    assert (scene.render.resolution_x, scene.render.resolution_y) == (160, 120)

    depth_img = out["depth_image"]
    assert depth_img.is_float and depth_img.packed_file is not None
    assert depth_img["sddr_kind"] == "disparity"
    stored, edges, kind = pipeline.read_depth_image(depth_img)
    np.testing.assert_array_equal(stored, scene_data["disparity"])
    assert kind == "disparity" and edges is not None


def test_blend_round_trip_then_rebuild_without_network(pipeline, scene_data, tmp_path):
    scene = bpy.context.scene
    pipeline.build_from_depth(
        scene, scene_data["photo_image"], scene_data["disparity"], max_vertices=40
    )
    scene_data["photo_image"].pack()
    blend = tmp_path / "scene.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(blend))
    assert blend.stat().st_size > 0
    bpy.ops.wm.read_homefile(use_empty=True)
    os.remove(scene_data["photo_path"])  # everything needed must be inside the .blend
    bpy.ops.wm.open_mainfile(filepath=str(blend))
    obj = bpy.data.objects["SDDR photo"]
    depth_img = bpy.data.images[obj[pipeline.PROP_DEPTH]]
    stored, _, _ = pipeline.read_depth_image(depth_img)
    np.testing.assert_array_equal(stored, scene_data["disparity"])  # exact, 32-bit
    n_before = len(obj.data.polygons)
    out = pipeline.rebuild(bpy.context.scene, obj, max_vertices=100, cut=False)
    assert out["object"] == obj
    assert len(obj.data.polygons) == 79 * 59 > n_before  # 100 max: 2-px blocks, 80x60
    assert obj.data.name == "SDDR photo"  # the old mesh was replaced, not left behind
    assert obj[pipeline.PROP_SETTINGS]["max_vertices"] == 100
    assert len([o for o in bpy.data.objects if o.type == "CAMERA"]) == 1  # camera reused


def test_exports_glb_and_obj_and_never_overwrites(pipeline, scene_data, tmp_path):
    out = pipeline.build_from_depth(
        bpy.context.scene, scene_data["photo_image"], scene_data["disparity"], max_vertices=40
    )
    glb = pipeline.export_mesh(out["object"], str(tmp_path / "mesh.glb"))
    assert Path(glb).read_bytes()[:4] == b"glTF" and Path(glb).stat().st_size > 10_000
    obj_path = pipeline.export_mesh(out["object"], str(tmp_path / "mesh"), "OBJ")
    text = Path(obj_path).read_text()
    assert obj_path.endswith(".obj") and text.count("\nv ") >= len(out["mesh_data"].vertices)
    assert "vt " in text and (tmp_path / "mesh.mtl").exists()
    with pytest.raises(pipeline.PipelineError, match="already exists"):
        pipeline.export_mesh(out["object"], glb)


@pytest.mark.parametrize("projection", ["perspective", "orthographic"])
def test_render_from_matching_camera_reproduces_the_photo(
    pipeline, scene_data, tmp_path, projection, record_property
):
    scene = bpy.context.scene
    pipeline.build_from_depth(
        scene,
        scene_data["photo_image"],
        scene_data["disparity"],
        max_vertices=160,
        cut=False,
        projection=projection,
        emission=True,
    )
    rendered = render(scene, tmp_path / "render.png")
    photo = scene_data["photo"] / 255.0
    mae = float(np.abs(rendered - photo).mean())
    record_property("mae", mae)
    print(f"matching-camera MAE ({projection}): {mae:.5f}")
    assert rendered.shape == photo.shape
    assert mae < 0.01


def test_layered_mesh_matches_the_photo_with_no_holes(pipeline, scene_data, tmp_path):
    """The default (cut + layered) camera view: no world anywhere, and the photo."""
    scene = bpy.context.scene
    out = pipeline.build_from_depth(
        scene, scene_data["photo_image"], scene_data["disparity"], max_vertices=160
    )
    assert out["mesh_data"].faces_cut > 100
    scene.render.film_transparent = True
    rendered = render(scene, tmp_path / "render.png")
    alpha = bpy.data.images.load(str(tmp_path / "render.png"))
    px = np.empty(alpha.size[0] * alpha.size[1] * 4, np.float32)
    alpha.pixels.foreach_get(px)
    assert (px.reshape(-1, 4)[:, 3] < 0.5).mean() == 0.0  # no pixel shows the world
    err = np.abs(rendered - scene_data["photo"] / 255.0).mean(axis=2)
    assert err.mean() < 0.01
    assert err[~dilate(scene_data["steps"], 1)].mean() < 0.01


def test_torn_mesh_still_matches_away_from_the_cuts(pipeline, scene_data, tmp_path):
    scene = bpy.context.scene
    out = pipeline.build_from_depth(
        scene,
        scene_data["photo_image"],
        scene_data["disparity"],
        max_vertices=160,
        cut=True,
        layered=False,
    )
    assert out["mesh_data"].faces_cut > 100
    rendered = render(scene, tmp_path / "render.png")
    err = np.abs(rendered - scene_data["photo"] / 255.0).mean(axis=2)
    near_steps = dilate(scene_data["steps"], 1)
    assert err[~near_steps].mean() < 0.01
    # the holes are where the curtains were: black background shows only near the steps
    assert (rendered.max(axis=2) < 0.02)[~near_steps].mean() < 0.001


# -- operators -----------------------------------------------------------------------------


def test_generate_with_my_own_depth_map(pipeline, scene_data, tmp_path):
    depth_path = tmp_path / "depth.npy"
    np.save(depth_path, 1.0 / scene_data["disparity"])  # a depth map: larger = farther
    s = bpy.context.scene.sddr
    s.image_source = "FILE"
    s.image_path = str(scene_data["photo_path"])
    s.depth_source = "FILE"
    s.depth_path = str(depth_path)
    s.depth_convention = "depth"
    s.resolution = 64
    assert bpy.ops.sddr.generate() == {"FINISHED"}
    obj = bpy.data.objects["SDDR photo"]
    assert bpy.context.view_layer.objects.active == obj
    assert obj.data.polygons and s.last_error == ""
    assert bpy.data.images[obj[pipeline.PROP_DEPTH]]["sddr_kind"] == "depth"
    s.resolution = 32
    assert bpy.ops.sddr.rebuild() == {"FINISHED"}
    layer = np.empty(len(obj.data.polygons), np.int32)
    obj.data.attributes["sddr_layer"].data.foreach_get("value", layer)
    assert 0 < (layer == 0).sum() <= 31 * 23  # the photo's surfaces on a 32 x 24 grid


@pytest.fixture
def only_candidates(monkeypatch):
    """Limit the worker-Python search to the given ``(exe, origin)`` list (plus the
    preference): the machine's own Pythons may have sddr."""
    worker = importlib.import_module(f"{PACKAGE}.worker")

    def limit(extra):
        def candidates(preference="", **_):
            return ([(preference, "the add-on preference")] if preference else []) + extra

        monkeypatch.setattr(worker, "python_candidates", candidates)

    return limit


def test_generate_explains_a_missing_python(pipeline, scene_data, tmp_path, only_candidates):
    only_candidates([])
    prefs = bpy.context.preferences.addons[PACKAGE].preferences
    prefs.in_process = False
    prefs.python_path = str(tmp_path / "no" / "python")
    s = bpy.context.scene.sddr
    s.image_source = "FILE"
    s.image_path = str(scene_data["photo_path"])
    s.depth_source = "PREDICT"
    with pytest.raises(RuntimeError, match="There is no Python"):
        bpy.ops.sddr.generate()
    assert s.last_error_code == "python_missing"
    assert "Preferences" in s.last_fix and not s.running


def _shell_python(path: Path, site: bool) -> str:
    """A Python that has (``site``: the main Python) or lacks sddr (``-I -S``: stdlib only)."""
    import shutil

    main = shutil.which("python3") or shutil.which("python")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f'#!/bin/sh\nexec "{main}" {"" if site else "-I -S"} "$@"\n')
    path.chmod(0o755)
    return str(path)


def test_the_worker_python_is_searched_for_and_the_panel_says_which(
    pipeline, scene_data, tmp_path, only_candidates
):
    """Empty preference: the first Python where sddr_core imports is used and named."""
    python = os.environ.get("SDDR_TEST_WORKER_PYTHON")
    if not python:
        pytest.skip("set SDDR_TEST_WORKER_PYTHON to a Python with sddr's dependencies")
    bare = _shell_python(tmp_path / "bare" / "bin" / "python", site=False)
    only_candidates([(bare, "a conda environment"), (python, "python3 on PATH")])
    prefs = bpy.context.preferences.addons[PACKAGE].preferences
    prefs.in_process = False
    prefs.python_path = ""
    prefs.extra_pythonpath = str(REPO)
    try:
        assert bpy.ops.sddr.check_python() == {"FINISHED"}
        assert prefs.found_python == python
        assert prefs.found_summary.startswith(f"sddr imports in {python} (python3 on PATH).")
        assert f"{bare} (sddr not installed)" in prefs.found_summary
        assert python in bpy.context.scene.sddr.status
        operators = importlib.import_module(f"{PACKAGE}.operators")
        assert operators.resolve_python(prefs) == python  # remembered: no second search
        prefs.python_path = bare  # a preference without sddr: said, and the next one used
        assert prefs.found_python == ""
        assert operators.resolve_python(prefs) == python
        assert f"{bare} (sddr not installed)" in prefs.found_summary
    finally:
        prefs.python_path = ""


def test_a_preference_without_sddr_gives_the_install_command(
    pipeline, scene_data, tmp_path, only_candidates
):
    only_candidates([])
    bare = _shell_python(tmp_path / "bare" / "bin" / "python", site=False)
    prefs = bpy.context.preferences.addons[PACKAGE].preferences
    prefs.in_process = False
    prefs.python_path = bare
    prefs.sddr_source = str(REPO)
    s = bpy.context.scene.sddr
    s.image_source = "FILE"
    s.image_path = str(scene_data["photo_path"])
    s.depth_source = "PREDICT"
    try:
        with pytest.raises(RuntimeError, match="sddr is not installed in"):
            bpy.ops.sddr.generate()
        assert s.last_error_code == "sddr_core_missing" and not s.running
        assert s.last_command.startswith(f"{bare} -m pip install -c {REPO}/constraints.txt")
    finally:
        prefs.python_path = ""
        prefs.sddr_source = ""


def test_in_process_without_sddr_core_gives_the_pip_command(pipeline, scene_data):
    try:  # the bpy venv has no sddr_core (nor torch) on purpose
        import sddr_core  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("sddr_core imports in this Python")
    prefs = bpy.context.preferences.addons[PACKAGE].preferences
    prefs.in_process = True
    try:
        s = bpy.context.scene.sddr
        s.image_source = "FILE"
        s.image_path = str(scene_data["photo_path"])
        s.depth_source = "PREDICT"
        with pytest.raises(RuntimeError, match="does not import"):
            bpy.ops.sddr.generate()
        assert s.last_error_code == "sddr_core_missing" and "In process" in s.last_fix
        # installed from the zip, the add-on knows no clone: a sentence, no command
        assert s.last_command == "" and "wheel or clone" in s.last_fix
        prefs.sddr_source = str(REPO)  # the preference: then the command installs the clone
        with pytest.raises(RuntimeError, match="does not import"):
            bpy.ops.sddr.generate()
        assert s.last_command.endswith(f"-m pip install -c {REPO}/constraints.txt -e {REPO}")
        assert bpy.ops.sddr.copy_fix() == {"FINISHED"}
        clipboard = bpy.context.window_manager.clipboard  # empty without a window system
        assert clipboard in ("", s.last_command)
    finally:
        prefs.in_process = False
        prefs.sddr_source = ""


def test_generate_through_the_worker(pipeline, scene_data):
    """End to end: the operator runs the worker in another Python that has sddr_core."""
    python = os.environ.get("SDDR_TEST_WORKER_PYTHON")
    if not python:
        pytest.skip("set SDDR_TEST_WORKER_PYTHON to a Python with sddr's dependencies")
    prefs = bpy.context.preferences.addons[PACKAGE].preferences
    prefs.in_process = False
    prefs.python_path = python
    prefs.extra_pythonpath = str(REPO)
    prefs.timeout = 300
    assert bpy.ops.sddr.check_python() == {"FINISHED"}
    assert "simulated" in prefs.predictors_json
    s = bpy.context.scene.sddr
    s.image_source = "DATABLOCK"  # an image inside the .blend: the worker gets a PNG copy
    s.image = scene_data["photo_image"]
    s.depth_source = "PREDICT"
    s.predictor = "__custom__"
    s.predictor_custom = f"{Path(__file__).parent / 'standin_predictors.py'}:Smooth"
    s.resolution = 64
    try:
        assert bpy.ops.sddr.generate() == {"FINISHED"}, s.last_error
    finally:
        bpy.ops.sddr.release_worker()
    obj = bpy.data.objects["SDDR photo"]
    depth, edges, kind = pipeline.read_depth_image(bpy.data.images[obj[pipeline.PROP_DEPTH]])
    assert depth.shape == (120, 160) and edges is not None and kind == "disparity"
    assert len(obj.data.polygons) > 1000


def test_export_operator_writes_the_chosen_format(pipeline, scene_data, tmp_path):
    out = pipeline.build_from_depth(
        bpy.context.scene, scene_data["photo_image"], scene_data["disparity"], max_vertices=32
    )
    bpy.context.view_layer.objects.active = out["object"]
    target = tmp_path / "exported.obj"
    assert bpy.ops.sddr.export(filepath=str(target), format="OBJ") == {"FINISHED"}
    assert target.read_text().count("\nf ") == len(out["mesh_data"].faces)
    with pytest.raises(RuntimeError, match="already exists"):
        bpy.ops.sddr.export(filepath=str(target), format="OBJ")
    assert bpy.ops.sddr.export(filepath=str(target), format="OBJ", overwrite=True) == {"FINISHED"}


class _Layout:
    """Stands in for a UILayout headless: records calls and checks every property exists."""

    def __init__(self, calls: list):
        self.calls = calls

    def prop(self, data, name, **kwargs):
        assert name in data.bl_rna.properties, f"{type(data).__name__} has no {name!r}"
        self.calls.append(("prop", name))

    def operator(self, idname, **kwargs):
        module, name = idname.split(".")
        assert hasattr(getattr(bpy.ops, module), name), idname
        self.calls.append(("operator", idname))
        return _Anything()

    def label(self, text="", **kwargs):
        self.calls.append(("label", text))

    def template_ID(self, data, name, **kwargs):
        assert name in data.bl_rna.properties
        self.calls.append(("template_ID", name))

    def __getattr__(self, name):
        if name in ("row", "column", "box", "split"):
            return lambda *a, **k: _Layout(self.calls)
        return _Anything()


class _Anything:
    def __call__(self, *a, **k):
        return self

    def __getattr__(self, name):
        return self

    def __setattr__(self, name, value):
        pass


def test_panels_and_preferences_draw_existing_properties(pipeline, addon):
    import types

    from bl_ext.user_default.sddr_depth import panels, preferences

    s = bpy.context.scene.sddr
    s.set_error(
        "x", "Install it from the wheel w.whl", "sddr_core_missing", "py -m pip install w.whl"
    )
    calls: list = []
    for depth_source in ("PREDICT", "FILE"):
        s.depth_source = depth_source
        for cls in (panels.SDDR_PT_main, panels.SDDR_PT_mesh, panels.SDDR_PT_export):
            cls.draw(types.SimpleNamespace(layout=_Layout(calls)), bpy.context)
    assert ("operator", "sddr.generate") in calls and ("prop", "depth_path") in calls
    assert ("operator", "sddr.copy_fix") in calls and ("operator", "sddr.rebuild") in calls
    prefs = bpy.context.preferences.addons[PACKAGE].preferences

    class PrefsProxy:  # the real preferences, with a recording layout
        layout = _Layout(calls)

        def __getattr__(self, name):
            return getattr(prefs, name)

    preferences.SDDR_AP_preferences.draw(PrefsProxy(), bpy.context)
    assert ("operator", "sddr.check_python") in calls
    s.clear_error()


def test_rebuild_after_manual_fov_back_to_auto_uses_the_auto_fov(pipeline, scene_data):
    scene = bpy.context.scene
    out = pipeline.build_from_depth(
        scene, scene_data["photo_image"], scene_data["disparity"], max_vertices=40, fov_x=20.0
    )
    obj = out["object"]
    assert obj["sddr_fov_x"] == pytest.approx(20.0)
    s = scene.sddr
    s.fov_mode = "AUTO"
    s.resolution = 40
    bpy.context.view_layer.objects.active = obj
    assert bpy.ops.sddr.rebuild() == {"FINISHED"}
    assert obj["sddr_fov_x"] == pytest.approx(55.0)  # the default, not the old manual 20
    camera = bpy.data.objects[obj[pipeline.PROP_CAMERA]]
    assert camera.data.lens == pytest.approx(36.0 / (2 * np.tan(np.radians(27.5))), rel=1e-4)


def test_obj_export_keeps_the_texture_with_the_emission_material(pipeline, scene_data, tmp_path):
    out = pipeline.build_from_depth(
        bpy.context.scene, scene_data["photo_image"], scene_data["disparity"], max_vertices=40
    )
    assert any(n.type == "EMISSION" for n in out["material"].node_tree.nodes)
    n_materials = len(bpy.data.materials)
    path = pipeline.export_mesh(out["object"], str(tmp_path / "tex" / "mesh.obj"))
    mtl = (tmp_path / "tex" / "mesh.mtl").read_text()
    assert "map_Kd" in mtl, mtl
    texture = mtl.split("map_Kd", 1)[1].split()[-1]
    assert (tmp_path / "tex" / texture).is_file()  # copied beside the .obj
    assert Path(path).is_file()
    # the object keeps its emission material and no temporary material is left behind
    assert out["object"].active_material == out["material"]
    assert len(bpy.data.materials) == n_materials


def test_view_transform_is_an_explicit_option(pipeline, scene_data):
    scene = bpy.context.scene
    scene.view_settings.view_transform = "AgX"
    pipeline.build_from_depth(
        scene,
        scene_data["photo_image"],
        scene_data["disparity"],
        max_vertices=32,
        standard_view=False,
    )
    assert scene.view_settings.view_transform == "AgX"
    s = scene.sddr
    assert s.view_transform == "STANDARD"  # the default, shown in the Mesh panel
    s.image_source, s.image_path = "FILE", str(scene_data["photo_path"])
    depth_path = scene_data["photo_path"].with_name("depth.npy")
    np.save(depth_path, scene_data["disparity"])
    s.depth_source, s.depth_path, s.resolution = "FILE", str(depth_path), 32
    s.view_transform = "KEEP"
    assert bpy.ops.sddr.generate() == {"FINISHED"}
    assert scene.view_settings.view_transform == "AgX"
    s.view_transform = "STANDARD"
    assert bpy.ops.sddr.generate() == {"FINISHED"}
    assert scene.view_settings.view_transform == "Standard"


def test_first_render_in_the_startup_scene_shows_the_photo(addon, scene_data, tmp_path):
    """Blender's default scene (Cube at the origin, Camera, Light): Generate, render, and the
    render is the photo; the user's objects are all still there, untouched."""
    from mathutils import Vector

    bpy.ops.wm.read_homefile(use_factory_startup=True)
    scene = bpy.context.scene
    before = {o.name: tuple(o.matrix_world.translation) for o in scene.objects}
    assert "Cube" in before and tuple(bpy.data.objects["Cube"].location) == (0.0, 0.0, 0.0)
    engine = scene.render.engine
    photo = bpy.data.images.load(str(scene_data["photo_path"]))
    s = scene.sddr
    s.image_source, s.image = "DATABLOCK", photo
    depth_path = tmp_path / "depth.npy"
    np.save(depth_path, scene_data["disparity"])
    s.depth_source, s.depth_path, s.resolution = "FILE", str(depth_path), 160
    assert bpy.ops.sddr.generate() == {"FINISHED"}, s.last_error
    after = {o.name: tuple(o.matrix_world.translation) for o in scene.objects}
    assert all(after[name] == loc for name, loc in before.items())  # nothing moved or deleted
    assert scene.render.engine == engine
    obj = bpy.data.objects["SDDR photo"]
    assert obj.users_collection[0].name == "SDDR photo"  # the rig has its own collection
    assert scene.camera.name == "SDDR Camera photo"
    # no existing geometry inside the rig's box
    cube = bpy.data.objects["Cube"]
    cube_max_x = max((cube.matrix_world @ Vector(c)).x for c in cube.bound_box)
    rig_min_x = min((obj.matrix_world @ v.co).x for v in obj.data.vertices)
    assert min(rig_min_x, scene.camera.location.x) > cube_max_x
    rendered = render(scene, tmp_path / "first.png")  # Cycles: EEVEE needs a GPU context
    err = np.abs(rendered - scene_data["photo"] / 255.0).mean()
    print(f"first render in the startup scene: mean abs error {err:.4f}")
    assert err < 0.02


# -- artist controls -----------------------------------------------------------------------


def test_presets_set_the_panel_settings(pipeline, addon):
    artist = importlib.import_module(f"{PACKAGE}.artist")
    s = bpy.context.scene.sddr
    for name, values in artist.PRESETS.items():
        s.preset = name
        for prop, value in values.items():
            got = getattr(s, prop)
            assert got == pytest.approx(value) if isinstance(value, float) else got == value
    s.preset = "CUSTOM"  # changes nothing
    assert s.near == pytest.approx(artist.PRESETS["ARCHITECTURE"]["near"])


def test_generate_and_rebuild_can_be_undone():
    assert "UNDO" in bpy.types.SDDR_OT_generate.bl_options
    assert "UNDO" in bpy.types.SDDR_OT_rebuild.bl_options


def test_face_count_before_building_with_budget_and_warning(pipeline, addon, scene_data):
    import types

    from bl_ext.user_default.sddr_depth import mesh, panels

    s = bpy.context.scene.sddr
    s.image_source = "FILE"
    s.image_path = str(scene_data["photo_path"])  # 160 x 120: its size is read on setting
    assert (s.photo_width, s.photo_height) == (160, 120)
    s.resolution, s.face_budget, s.layered, s.cut = 160, 0, True, True
    count, vertices = s.expected_faces()
    assert vertices == 160 and count == int(np.ceil(159 * 119 * mesh.LAYERED_FACTOR))
    s.face_budget = 5000
    count, vertices = s.expected_faces()
    assert count <= 5000 and vertices < 160
    s.depth_source = "FILE"
    np.save(scene_data["photo_path"].with_suffix(".npy"), scene_data["disparity"])
    s.depth_path = str(scene_data["photo_path"].with_suffix(".npy"))
    assert bpy.ops.sddr.generate() == {"FINISHED"}
    assert len(bpy.data.objects["SDDR photo"].data.polygons) <= 5000  # the budget held
    calls: list = []
    s.face_budget = 0
    s.photo_width, s.photo_height = 4000, 3000  # the case: 4000 x 3000 at full density
    s.resolution = 4000
    panels.SDDR_PT_mesh.draw(types.SimpleNamespace(layout=_Layout(calls)), bpy.context)
    labels = [c[1] for c in calls if c[0] == "label"]
    millions = 3999 * 2999 * mesh.LAYERED_FACTOR / 1e6  # 31.2 M: layers and skirts
    assert f"About {millions:.1f} M faces" in labels
    assert any("slow to build" in t for t in labels)


def test_real_world_subject_distance_from_the_panel(pipeline, scene_data):
    s = bpy.context.scene.sddr
    s.depth_mapping, s.subject_mode, s.subject_distance = "SUBJECT", "DISTANCE", 6.0
    options = pipeline.mesh_kwargs(s)
    assert options["mapping"] == "near_far" and options["subject_distance"] == 6.0
    assert options["subject_height"] is None
    out = pipeline.build_from_depth(
        bpy.context.scene, scene_data["photo_image"], scene_data["disparity"], **options
    )
    assert out["mesh_data"].info["subject_scale"] > 1.0
    s.subject_mode = "SIZE"
    assert pipeline.mesh_kwargs(s)["subject_height"] == pytest.approx(1.75)
    s.depth_mapping = "NEAR_FAR"


def test_save_depth_map_through_the_worker(pipeline, scene_data, tmp_path):
    python = os.environ.get("SDDR_TEST_WORKER_PYTHON")
    if not python:
        pytest.skip("set SDDR_TEST_WORKER_PYTHON to a Python with sddr's dependencies")
    import subprocess

    prefs = bpy.context.preferences.addons[PACKAGE].preferences
    prefs.in_process, prefs.python_path, prefs.extra_pythonpath = False, python, str(REPO)
    out = pipeline.build_from_depth(
        bpy.context.scene, scene_data["photo_image"], scene_data["disparity"], max_vertices=32
    )
    operators = importlib.import_module(f"{PACKAGE}.operators")
    operators._select(bpy.context, out["object"])
    target = tmp_path / "depth.png"
    try:
        assert bpy.ops.sddr.save_depth(filepath=str(target)) == {"FINISHED"}
        with pytest.raises(RuntimeError, match="exists"):
            bpy.ops.sddr.save_depth(filepath=str(target))
    finally:
        bpy.ops.sddr.release_worker()
    check = (
        "import sys, numpy as np; from sddr_core.io import read_depth; d = read_depth(sys.argv[1]);"
        "e = np.load(sys.argv[2]); print(d.kind, float(np.nanmax(np.abs(d.depth - e))))"
    )
    np.save(tmp_path / "expected.npy", scene_data["disparity"])
    res = subprocess.run(
        [python, "-c", check, str(target), str(tmp_path / "expected.npy")],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    kind, err = res.stdout.split()
    assert kind == "disparity" and float(err) < 1e-3  # 16 bits over the map's range
