"""Renders and measurements of built meshes in Blender (needs bpy): the matching camera, orbits
around the subject, the share of pixels where the world shows, and loose-part counts.

Shared by the bpy tier (``test_blender_views.py``) and ``integrations/blender/docs/
make_views.py``, which makes the pictures in the add-on's docs.
"""

from __future__ import annotations

import math
from pathlib import Path

import bpy
import numpy as np
from mathutils import Matrix, Vector


def cycles_setup(scene: bpy.types.Scene, samples: int = 1) -> None:
    """Cycles on the CPU, one ray through each pixel centre, a transparent world (alpha 0
    wherever no geometry is hit), Standard view transform."""
    scene.render.engine = "CYCLES"
    scene.cycles.device = "CPU"
    scene.cycles.samples = samples
    scene.cycles.use_denoising = False
    scene.cycles.use_adaptive_sampling = False
    scene.cycles.filter_width = 0.01
    scene.render.film_transparent = True
    scene.render.image_settings.file_format = "PNG"
    scene.render.image_settings.color_mode = "RGBA"


def render_rgba(scene: bpy.types.Scene, path: Path) -> np.ndarray:
    """Render the active camera to ``path`` (PNG); returns float RGBA ``(H, W, 4)``, top row
    first."""
    scene.render.filepath = str(path)
    bpy.ops.render.render(write_still=True)
    img = bpy.data.images.load(str(path), check_existing=False)
    try:
        w, h = img.size
        px = np.empty(w * h * 4, np.float32)
        img.pixels.foreach_get(px)
    finally:
        bpy.data.images.remove(img)
    return px.reshape(h, w, 4)[::-1]


def world_fraction(rgba: np.ndarray) -> float:
    """Share of pixels where no geometry was hit (transparent film: alpha below 0.5)."""
    return float((rgba[..., 3] < 0.5).mean())


def orbit_camera(
    scene: bpy.types.Scene,
    camera: bpy.types.Object,
    target: Vector,
    degrees: float,
    name: str = "SDDR test orbit",
) -> bpy.types.Object:
    """A copy of ``camera`` turned by ``degrees`` about the vertical axis through ``target``
    (positive: to the right of the subject), looking at ``target``; made the scene camera."""
    obj = bpy.data.objects.get(name)
    if obj is None:
        obj = bpy.data.objects.new(name, camera.data.copy())
        scene.collection.objects.link(obj)
    else:
        obj.data = camera.data.copy()
    turn = Matrix.Rotation(math.radians(degrees), 4, "Z")
    to_target = Matrix.Translation(target)
    obj.matrix_world = to_target @ turn @ to_target.inverted() @ camera.matrix_world
    obj.data.clip_end = camera.data.clip_end * 4
    scene.camera = obj
    return obj


def subject_target(obj: bpy.types.Object) -> Vector:
    """The orbit centre: the median vertex depth straight ahead of the matching camera."""
    co = np.empty(len(obj.data.vertices) * 3, np.float32)
    obj.data.vertices.foreach_get("co", co)
    depth = float(np.median(co.reshape(-1, 3)[:, 1]))
    return obj.matrix_world @ Vector((0.0, depth, 0.0))


def loose_parts(obj: bpy.types.Object) -> np.ndarray:
    """Face count of each loose part of a mesh object (parts share vertices), largest first."""
    me = obj.data
    n_loops = len(me.loops)
    loops = np.empty(n_loops, np.int32)
    me.loops.foreach_get("vertex_index", loops)
    starts = np.empty(len(me.polygons), np.int32)
    me.polygons.foreach_get("loop_start", starts)
    totals = np.empty(len(me.polygons), np.int32)
    me.polygons.foreach_get("loop_total", totals)
    parent = np.arange(len(me.vertices))
    face_of_loop = np.repeat(np.arange(len(starts)), totals)
    first = loops[starts][face_of_loop]
    while True:
        pa, pb = parent[first], parent[loops]
        if np.array_equal(pa, pb):
            break
        m = np.minimum(pa, pb)
        np.minimum.at(parent, pa, m)
        np.minimum.at(parent, pb, m)
        while not np.array_equal(parent[parent], parent):
            parent = parent[parent]
    roots = parent[loops[starts]]
    _, counts = np.unique(roots, return_counts=True)
    return np.sort(counts)[::-1]
