"""Renders and measurements of built meshes in Blender (needs bpy): the matching camera, orbits
around the subject, the share of pixels where the world shows, and loose-part counts.

Used by the bpy tier (``test_blender_views.py``); ``integrations/blender/docs/make_orbits.py``
composes the picture in the add-on's docs from the renders it keeps. Also the fringes at thin
parts: the share of a band around them (:func:`thin_parts`) where the world shows, located
through a UV-coded render of the uncut mesh (:func:`uv_render`, :func:`world_in_band`).
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


def uv_render(scene: bpy.types.Scene, obj: bpy.types.Object, path: Path) -> np.ndarray:
    """Render ``obj`` with its UV coordinates as its colour (32-bit EXR, no colour
    management): float ``(H, W, 2)``, the UV each pixel sees, NaN where the world shows.
    The object's materials are put back afterwards."""
    mat = bpy.data.materials.new("SDDR test uv")
    if mat.node_tree is None:  # Blender < 5 (5.0 gives every material a node tree)
        mat.use_nodes = True
    nodes, links = mat.node_tree.nodes, mat.node_tree.links
    nodes.clear()
    out = nodes.new("ShaderNodeOutputMaterial")
    emission = nodes.new("ShaderNodeEmission")
    coords = nodes.new("ShaderNodeTexCoord")
    links.new(coords.outputs["UV"], emission.inputs["Color"])
    links.new(emission.outputs["Emission"], out.inputs["Surface"])
    old = list(obj.data.materials)
    settings = scene.render.image_settings
    fmt, depth = settings.file_format, settings.color_depth
    obj.data.materials.clear()
    obj.data.materials.append(mat)
    settings.file_format, settings.color_depth = "OPEN_EXR", "32"
    try:
        rgba = render_rgba(scene, path)
    finally:
        settings.file_format, settings.color_depth = fmt, depth
        obj.data.materials.clear()
        for m in old:
            obj.data.materials.append(m)
        bpy.data.materials.remove(mat)
    uv = rgba[..., :2].astype(np.float64)
    uv[rgba[..., 3] < 0.5] = np.nan
    return uv


def thin_parts(depth: np.ndarray, width: int = 8, ratio: float = 1.1, band: int = 3) -> np.ndarray:
    """Pixels of the photo around thin foreground parts (spokes, fork, handlebar, posts).

    A pixel is on a thin part when something farther (planar ``depth`` larger by ``ratio``)
    lies within ``width`` pixels on both sides of it, left and right or above and below; the
    mask is that, grown by ``band`` pixels so that it holds the parts' outlines, where fringes
    form. ``depth``: planar depth (larger = farther), ``(H, W)``.
    """
    z = np.asarray(depth, dtype=np.float64)
    h, w = z.shape
    pad = np.pad(z, width, mode="edge")
    thin = np.zeros((h, w), bool)
    for axis in (0, 1):
        before = np.zeros((h, w), bool)
        after = np.zeros((h, w), bool)
        for k in range(1, width + 1):
            if axis == 1:
                b = pad[width : width + h, width - k : width - k + w]
                a = pad[width : width + h, width + k : width + k + w]
            else:
                b = pad[width - k : width - k + h, width : width + w]
                a = pad[width + k : width + k + h, width : width + w]
            before |= b > ratio * z
            after |= a > ratio * z
        thin |= before & after
    out = thin.copy()
    padded = np.pad(thin, band)
    for dy in range(2 * band + 1):
        for dx in range(2 * band + 1):
            out |= padded[dy : dy + h, dx : dx + w]
    return out


def world_in_band(world: np.ndarray, uv: np.ndarray, band: np.ndarray) -> float:
    """The share of the pixels of a view where ``band`` (a photo mask) shows, by the UVs of
    a reference render (:func:`uv_render`, same camera), where ``world`` (bool, this view)
    shows the world instead."""
    h, w = band.shape
    ok = np.isfinite(uv[..., 0])
    px = np.clip((uv[..., 0][ok] * w).astype(np.int64), 0, w - 1)
    py = np.clip(((1.0 - uv[..., 1][ok]) * h).astype(np.int64), 0, h - 1)
    inside = np.zeros(world.shape, bool)
    inside[ok] = band[py, px]
    return float(world[inside].mean()) if inside.any() else 0.0
