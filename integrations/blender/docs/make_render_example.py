"""Make ``render_example.png``: a mesh built by the add-on from a real photo, rendered in Blender.

The photo is the left image of scikit-image's ``stereo_motorcycle`` (Middlebury 2014), the only
real photo with depth available offline. Its depth comes from ``sddr_core.refine`` with the
``simulated`` predictor built from the stereo ground truth (what a monocular predictor would
give, refined by SDDR), so no model download is needed.

Three steps in two Pythons (bpy needs numpy<2, sddr_core numpy>=2)::

    python integrations/blender/docs/make_render_example.py prepare OUT
    .venv-bpy/bin/python integrations/blender/docs/make_render_example.py render OUT
    python integrations/blender/docs/make_render_example.py compose OUT [TARGET]

(TARGET defaults to ``render_example.png`` beside this script), or all at once:
``python integrations/blender/docs/make_render_example.py all`` (finds ``.venv-bpy``;
``--bpy-python`` points elsewhere).
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ADDON = HERE.parent
VIEW_W = 400  # width of each panel in the picture


def prepare(out: Path) -> None:
    """Photo + SDDR-refined depth and edges as files (main Python: skimage, sddr_core)."""
    import numpy as np
    from PIL import Image
    from skimage.data import stereo_motorcycle

    import sddr_core
    from sddr_core.predictors.simulated import SimulatedPredictor

    left, _right, disparity = stereo_motorcycle()
    result = sddr_core.refine(left, SimulatedPredictor(disparity, kind="disparity", seed=0))
    out.mkdir(parents=True, exist_ok=True)
    Image.fromarray(left).save(out / "photo.png")
    np.save(out / "depth.npy", result.depth.astype(np.float32))
    np.save(out / "edges.npy", result.edges.astype(np.float32))
    (out / "meta.json").write_text(json.dumps({"kind": result.kind, "info": result.info}))
    print("prepared", out, result.depth.shape, result.kind)


def _look_at(obj, target) -> None:
    from mathutils import Vector

    direction = Vector(target) - obj.location
    obj.rotation_mode = "XYZ"
    obj.rotation_euler = direction.to_track_quat("-Z", "Y").to_euler()


def render(out: Path) -> None:
    """Build the mesh with the add-on's pipeline and render three views (bpy venv)."""
    import os
    import shutil

    import bpy
    import numpy as np

    # import the add-on as a package without installing it
    pkg_root = Path(tempfile.mkdtemp(prefix="sddr_addon_"))
    try:
        os.symlink(ADDON, pkg_root / "sddr_depth")
    except OSError:
        shutil.copytree(ADDON, pkg_root / "sddr_depth")
    sys.path.insert(0, str(pkg_root))
    from sddr_depth import pipeline

    meta = json.loads((out / "meta.json").read_text())
    bpy.ops.wm.read_homefile(use_empty=True)
    scene = bpy.context.scene
    photo = bpy.data.images.load(str(out / "photo.png"))
    built = pipeline.build_from_depth(
        scene,
        photo,
        np.load(out / "depth.npy"),
        edges=np.load(out / "edges.npy"),
        kind=meta["kind"],
        name="motorcycle",
        max_vertices=741,  # full resolution
        fov_x=41.0,  # Middlebury 2014 Motorcycle: f = 3980 px at 2964 px wide
        # Middlebury calibration: z = f B / (d + doffs) runs from 1.9 m (d = 69) to 4.7 m
        # (d = 10); disparity is affine in 1/z, so near/far mapping gives metres here
        near=1.9,
        far=4.7,
        clip_percentile=0.5,  # the refined map has a few wild values at its borders
        cut=True,
    )
    data = built["mesh_data"]
    print(f"mesh: {len(data.vertices)} vertices, {len(data.faces)} faces, {data.faces_cut} cut")
    if data.face_layer is not None:  # the layered mesh: what each face is
        from sddr_depth.mesh import LAYER_BACKGROUND, LAYER_EDGE, LAYER_SURFACE

        counts = {
            name: int(np.count_nonzero(data.face_layer == layer))
            for name, layer in (
                ("surface", LAYER_SURFACE),
                ("edge", LAYER_EDGE),
                ("background", LAYER_BACKGROUND),
            )
        }
        print(f"layers: {counts}, {data.islands_removed} loose parts removed")

    scene.render.engine = "CYCLES"
    scene.cycles.device = "CPU"
    scene.cycles.samples = 32
    scene.cycles.use_denoising = True
    scene.world = bpy.data.worlds.new("bg")
    scene.world.color = (0.18, 0.18, 0.2)
    scene.view_settings.view_transform = "Standard"
    scene.render.image_settings.file_format = "PNG"
    w, h = data.camera.width, data.camera.height
    scene.render.resolution_x = VIEW_W
    scene.render.resolution_y = round(VIEW_W * h / w)

    def shoot(name: str) -> None:
        scene.render.filepath = str(out / f"{name}.png")
        bpy.ops.render.render(write_still=True)

    shoot("view_matching")  # the created camera: reproduces the photo

    obj = built["object"]
    target = (0.0, 2.4, -0.1)  # about the motorcycle
    orbit = bpy.data.objects.new("orbit", bpy.data.cameras.new("orbit"))
    scene.collection.objects.link(orbit)
    orbit.data.sensor_fit = "HORIZONTAL"
    orbit.data.lens = built["camera"].data.lens
    radius = target[1]
    yaw, pitch = math.radians(-22.0), math.radians(8.0)
    orbit.location = (
        radius * math.sin(yaw) * math.cos(pitch),
        target[1] - radius * math.cos(yaw) * math.cos(pitch),
        radius * math.sin(pitch),
    )
    _look_at(orbit, target)
    scene.camera = orbit
    shoot("view_oblique")

    clay = bpy.data.materials.new("clay")
    bsdf = clay.node_tree.nodes.get("Principled BSDF")
    bsdf.inputs["Base Color"].default_value = (0.75, 0.72, 0.68, 1.0)
    bsdf.inputs["Roughness"].default_value = 0.8
    obj.data.materials[0] = clay
    sun = bpy.data.objects.new("sun", bpy.data.lights.new("sun", "SUN"))
    sun.data.energy = 3.0
    sun.rotation_euler = (math.radians(50), math.radians(-20), math.radians(-35))
    scene.collection.objects.link(sun)
    scene.view_settings.view_transform = "AgX"
    shoot("view_clay")


def compose(out: Path, target: Path) -> None:
    """Three views side by side, palette-quantised to stay small (main Python: PIL)."""
    from PIL import Image, ImageDraw

    views = [
        Image.open(out / f"view_{n}.png").convert("RGB") for n in ("matching", "oblique", "clay")
    ]
    gap = 4
    width = sum(v.width for v in views) + gap * (len(views) - 1)
    height = views[0].height + 18
    canvas = Image.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    labels = ("matching camera", "another angle", "geometry")
    x = 0
    for view, label in zip(views, labels, strict=True):
        canvas.paste(view, (x, 18))
        draw.text((x + 4, 3), label, fill=(0, 0, 0))
        x += view.width + gap
    small = canvas.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    target.parent.mkdir(parents=True, exist_ok=True)
    small.save(target, optimize=True)
    print("wrote", target, target.stat().st_size // 1024, "KB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("step", choices=("prepare", "render", "compose", "all"))
    parser.add_argument("out", nargs="?", type=Path)
    parser.add_argument("target", nargs="?", type=Path, default=HERE / "render_example.png")
    parser.add_argument("--bpy-python", default=str(ADDON.parents[1] / ".venv-bpy/bin/python"))
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="sddr_render_example_"))
    if args.step == "prepare":
        prepare(out)
    elif args.step == "render":
        render(out)
    elif args.step == "compose":
        compose(out, args.target)
    else:
        prepare(out)
        subprocess.run([args.bpy_python, __file__, "render", str(out)], check=True)
        compose(out, args.target)


if __name__ == "__main__":
    main()
