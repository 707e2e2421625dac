"""Plain functions that turn a photo and a depth map into Blender data (tests call these).

Operators are a thin UI layer over this module: they collect settings, run the depth job
(:mod:`.worker`) and call :func:`build_from_depth` / :func:`rebuild` / :func:`export_mesh`.
Nothing here imports ``sddr_core``: the depth arrives as numpy arrays.

What :func:`build_from_depth` creates, all named after the photo:

* ``SDDR Depth <name>``: a float image holding the depth (R), SDDR's edge map (G) and a
  validity mask (B), packed into the .blend as EXR (32-bit, exact), with the depth convention
  and camera hints as custom properties, so :func:`rebuild` needs neither the network nor the
  original files.
* ``SDDR <name>``: the mesh object (UV-mapped grid from :mod:`.mesh`), material ``SDDR
  <name>`` with the photo as an image texture (emission shader so renders reproduce the photo,
  or a diffuse Principled BSDF).
* ``SDDR Camera <name>``: the matching camera; the render resolution is set to the photo's.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import bpy
import numpy as np
from mathutils import Vector

from . import mesh as meshlib

__all__ = [
    "PROP_CAMERA",
    "PROP_DEPTH",
    "PROP_PHOTO",
    "build_from_depth",
    "create_camera",
    "create_material",
    "export_mesh",
    "image_file_for_worker",
    "image_pixels",
    "load_depth_file",
    "load_photo",
    "mesh_kwargs",
    "read_depth_image",
    "rebuild",
    "set_mesh_data",
    "setup_render",
    "store_depth_image",
]

#: Custom properties on the created mesh object linking it to its data.
PROP_DEPTH = "sddr_depth_image"
PROP_PHOTO = "sddr_photo_image"
PROP_CAMERA = "sddr_camera"
PROP_SETTINGS = "sddr_settings"


class PipelineError(RuntimeError):
    """A problem the user can fix; the message says how."""


# ------------------------------------------------------------------------------------------
# Images
# ------------------------------------------------------------------------------------------


def image_pixels(image: bpy.types.Image) -> np.ndarray:
    """The pixels of a Blender image, top row first.

    Returns:
        float32 ``(H, W, C)`` with ``C = image.channels``; byte images give their stored
        (sRGB-encoded) values divided by 255, float images their raw values.
    """
    w, h = image.size
    if w == 0 or h == 0:
        raise PipelineError(
            f"Image {image.name!r} has no pixels (file missing?). Reload it or pick another."
        )
    c = image.channels
    buf = np.empty(w * h * c, dtype=np.float32)
    image.pixels.foreach_get(buf)
    return buf.reshape(h, w, c)[::-1].copy()


def load_photo(path: str) -> bpy.types.Image:
    """Load (or reuse) an image file as a Blender image."""
    path = bpy.path.abspath(path)
    if not os.path.isfile(path):
        raise PipelineError(f"Image file {path!r} does not exist. Choose the photo again.")
    return bpy.data.images.load(path, check_existing=True)


def image_file_for_worker(image: bpy.types.Image, folder: str) -> str:
    """A file path the worker can read for ``image``: its own file, or a PNG copy.

    Packed, generated or edited images have no usable file, so a copy is written to
    ``folder`` (never over an existing file).
    """
    if image.source == "FILE" and not image.packed_file and not image.is_dirty:
        path = bpy.path.abspath(image.filepath_raw or image.filepath)
        if os.path.isfile(path):
            return path
    os.makedirs(folder, exist_ok=True)
    stem = bpy.path.clean_name(image.name) or "image"
    path = os.path.join(folder, f"{stem}.png")
    n = 1
    while os.path.exists(path):
        path = os.path.join(folder, f"{stem}_{n}.png")
        n += 1
    pixels = image_pixels(image)
    copy = bpy.data.images.new(
        "sddr_tmp_copy", image.size[0], image.size[1], alpha=image.channels == 4
    )
    try:
        rgba = np.ones((*pixels.shape[:2], 4), dtype=np.float32)
        rgb = pixels[..., :3] if pixels.shape[2] >= 3 else pixels[..., :1]
        if image.is_float and image.colorspace_settings.name != "Non-Color":
            rgb = _linear_to_srgb(rgb)  # float buffers hold linear light; the PNG is sRGB
        rgba[..., :3] = rgb
        copy.pixels.foreach_set(rgba[::-1].ravel())
        copy.filepath_raw = path
        copy.file_format = "PNG"
        copy.save()
    finally:
        bpy.data.images.remove(copy)
    return path


def _linear_to_srgb(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return np.where(x <= 0.0031308, 12.92 * x, 1.055 * np.power(x, 1 / 2.4) - 0.055)


def store_depth_image(
    name: str,
    depth: np.ndarray,
    edges: np.ndarray | None = None,
    *,
    kind: str = "disparity",
    meta: Mapping[str, Any] | None = None,
) -> bpy.types.Image:
    """Keep a depth map (and its edge map) in the .blend as a packed 32-bit float image.

    Channels: R = depth in the predictor's convention, G = edge map (0 when absent), B = 1
    where the depth is finite, A = 1. ``kind`` and ``meta`` become custom properties. An
    existing image of that name is replaced in place (same datablock).

    Args:
        name: image name.
        depth: float ``(H, W)``.
        edges: float ``(H, W)`` or ``None``.
        kind: ``"disparity"`` or ``"depth"`` (larger = nearer / farther).
        meta: extra custom properties (numbers or strings).
    """
    depth = np.asarray(depth, dtype=np.float32)
    if depth.ndim != 2:
        raise PipelineError(f"Depth must be (H, W), got shape {depth.shape}.")
    h, w = depth.shape
    rgba = np.zeros((h, w, 4), dtype=np.float32)
    finite = np.isfinite(depth)
    rgba[..., 0] = np.where(finite, depth, 0.0)
    if edges is not None:
        edges = np.asarray(edges, dtype=np.float32)
        if edges.shape != depth.shape:
            raise PipelineError(f"Edge map {edges.shape} does not match depth {depth.shape}.")
        rgba[..., 1] = np.nan_to_num(edges, nan=0.0, posinf=0.0, neginf=0.0)
    rgba[..., 2] = finite
    rgba[..., 3] = 1.0
    image = bpy.data.images.get(name)
    if image is not None and (tuple(image.size) != (w, h) or not image.is_float):
        bpy.data.images.remove(image)
        image = None
    if image is None:
        image = bpy.data.images.new(name, w, h, alpha=True, float_buffer=True)
    image.colorspace_settings.name = "Non-Color"
    image.alpha_mode = "NONE"  # keep A = 1 from premultiplying R and G
    image.pixels.foreach_set(rgba[::-1].ravel())
    image.file_format = "OPEN_EXR"
    image.pack()
    image.use_fake_user = True  # no material uses it: keep it when the .blend is saved
    image["sddr_kind"] = kind
    image["sddr_has_edges"] = edges is not None
    for key, value in (meta or {}).items():
        if value is not None:
            image[f"sddr_{key}"] = value
    return image


def read_depth_image(image: bpy.types.Image) -> tuple[np.ndarray, np.ndarray | None, str]:
    """Read back what :func:`store_depth_image` stored.

    Returns:
        ``(depth (H, W) float32 with NaN where invalid, edges (H, W) or None, kind)``.
    """
    px = image_pixels(image)
    depth = np.where(px[..., 2] > 0.5, px[..., 0], np.nan).astype(np.float32)
    edges = px[..., 1].copy() if image.get("sddr_has_edges", False) else None
    return depth, edges, str(image.get("sddr_kind", "disparity"))


def load_depth_file(path: str) -> np.ndarray:
    """Read a depth map of your own: ``.npy``, or an image Blender reads (PNG 8/16-bit, EXR,
    TIFF...). Image values are read raw (no colour management), first channel.

    Returns:
        float32 ``(H, W)``.
    """
    path = bpy.path.abspath(path)
    if not os.path.isfile(path):
        raise PipelineError(f"Depth file {path!r} does not exist. Choose it again.")
    if path.lower().endswith(".npy"):
        arr = np.load(path).astype(np.float32)
        if arr.ndim == 3:
            arr = arr[..., 0] if arr.shape[2] <= 4 else arr[0]
        if arr.ndim != 2:
            raise PipelineError(f"{path} holds shape {arr.shape}; a depth map is (H, W).")
        return arr
    image = bpy.data.images.load(path, check_existing=False)
    try:
        image.colorspace_settings.name = "Non-Color"
        return image_pixels(image)[..., 0].copy()
    finally:
        bpy.data.images.remove(image)


# ------------------------------------------------------------------------------------------
# Blender data
# ------------------------------------------------------------------------------------------


def set_mesh_data(me: bpy.types.Mesh, data: meshlib.MeshData) -> bpy.types.Mesh:
    """Fill an empty mesh with vertices, faces and UVs (``foreach_set``, fast)."""
    n_vert, n_face, k = len(data.vertices), len(data.faces), data.faces.shape[1]
    me.vertices.add(n_vert)
    me.vertices.foreach_set("co", data.vertices.astype(np.float32).ravel())
    me.loops.add(n_face * k)
    me.loops.foreach_set("vertex_index", data.faces.astype(np.int32).ravel())
    me.polygons.add(n_face)
    me.polygons.foreach_set("loop_start", np.arange(0, n_face * k, k, dtype=np.int32))
    uv = me.uv_layers.new(name="UVMap")
    uv.data.foreach_set("uv", data.loop_uvs.astype(np.float32).ravel())
    if data.face_layer is not None:  # 0 surface, 1 foreground edge strip, 2 background fill
        layer = me.attributes.new("sddr_layer", "INT", "FACE")
        layer.data.foreach_set("value", data.face_layer.astype(np.int32))
    me.update()
    if me.validate(verbose=False):
        raise PipelineError("Blender rejected the generated mesh (invalid geometry).")
    return me


def create_material(name: str, photo: bpy.types.Image, emission: bool = True) -> bpy.types.Material:
    """A material showing ``photo`` through the mesh UVs.

    ``emission=True``: an Emission shader (strength 1), so a render from the matching camera
    with the Standard view transform reproduces the photo; else a Principled BSDF (roughness
    1) lit by the scene. An existing material of that name is rebuilt.
    """
    mat = bpy.data.materials.get(name) or bpy.data.materials.new(name)
    if not mat.node_tree:  # Blender < 5 creates materials without nodes
        mat.use_nodes = True
    nodes, links = mat.node_tree.nodes, mat.node_tree.links
    nodes.clear()
    out = nodes.new("ShaderNodeOutputMaterial")
    out.location = (400, 0)
    tex = nodes.new("ShaderNodeTexImage")
    tex.location = (-400, 0)
    tex.image = photo
    tex.interpolation = "Linear"
    tex.extension = "EXTEND"
    if emission:
        shader = nodes.new("ShaderNodeEmission")
        shader.inputs["Strength"].default_value = 1.0
        links.new(tex.outputs["Color"], shader.inputs["Color"])
    else:
        shader = nodes.new("ShaderNodeBsdfPrincipled")
        shader.inputs["Roughness"].default_value = 1.0
        links.new(tex.outputs["Color"], shader.inputs["Base Color"])
    shader.location = (100, 0)
    links.new(shader.outputs[0], out.inputs["Surface"])
    mat["sddr_emission"] = bool(emission)
    return mat


def create_camera(
    name: str, params: meshlib.CameraParams, camera_obj: bpy.types.Object | None = None
) -> bpy.types.Object:
    """Create (or update) a camera object with :class:`mesh.CameraParams`."""
    if camera_obj is None or camera_obj.type != "CAMERA":
        cam = bpy.data.cameras.new(name)
        camera_obj = bpy.data.objects.new(name, cam)
    cam = camera_obj.data
    cam.type = "ORTHO" if params.projection == "orthographic" else "PERSP"
    cam.sensor_fit = params.sensor_fit
    cam.sensor_width = params.sensor_width
    cam.lens = params.lens
    cam.ortho_scale = params.ortho_scale
    cam.shift_x = cam.shift_y = 0.0
    cam.clip_start = params.clip_start
    cam.clip_end = params.clip_end
    camera_obj.location = params.location
    camera_obj.rotation_mode = "XYZ"
    camera_obj.rotation_euler = params.rotation_euler
    camera_obj.scale = (1.0, 1.0, 1.0)
    return camera_obj


def setup_render(
    scene: bpy.types.Scene,
    params: meshlib.CameraParams,
    camera_obj: bpy.types.Object | None = None,
    standard_view: bool = True,
) -> None:
    """Render at the photo's size (square pixels) from ``camera_obj``.

    With ``standard_view`` the scene's view transform becomes Standard (look None, exposure
    0, gamma 1) so emission colours come out as the photo's; Blender's default AgX would
    compress them. The panel's *View transform* option chooses this explicitly.
    """
    scene.render.resolution_x = params.width
    scene.render.resolution_y = params.height
    scene.render.resolution_percentage = 100
    scene.render.pixel_aspect_x = scene.render.pixel_aspect_y = 1.0
    if camera_obj is not None:
        scene.camera = camera_obj
    if standard_view:
        scene.view_settings.view_transform = "Standard"
        scene.view_settings.look = "None"
        scene.view_settings.exposure = 0.0
        scene.view_settings.gamma = 1.0


def _link(obj: bpy.types.Object, collection: bpy.types.Collection) -> None:
    if obj.name not in collection.objects:
        collection.objects.link(obj)


#: Object types that render as geometry (a rig placed inside one would see nothing else).
_SOLID_TYPES = frozenset({"MESH", "CURVE", "SURFACE", "META", "FONT", "VOLUME", "POINTCLOUD"})
_SOLID_TYPES |= frozenset({"CURVES", "GPENCIL", "GREASEPENCIL"})


def rig_offset(
    scene: bpy.types.Scene,
    data: meshlib.MeshData,
    ignore: tuple[bpy.types.Object, ...] = (),
    margin: float = 0.5,
) -> tuple[float, float, float]:
    """Where to put a new rig (mesh and camera move together) so no existing geometry is
    inside it.

    The rig is the box around the camera and the mesh (the mesh covers the whole view, so
    what is behind it is hidden and what is in front must be outside that box). With no
    other geometry in the scene it stays at the origin; otherwise it goes to the right
    (+X) of everything, ``margin`` scene units clear. User objects are never moved.
    """
    boxes = []
    for obj in scene.objects:
        if obj.type not in _SOLID_TYPES or obj in ignore or obj.get(PROP_DEPTH) is not None:
            continue
        if obj.hide_render:
            continue
        corners = np.array([obj.matrix_world @ Vector(c) for c in obj.bound_box])
        boxes.append((corners.min(axis=0), corners.max(axis=0)))
    for obj in scene.objects:  # earlier SDDR rigs count too
        if obj.get(PROP_DEPTH) is not None and obj not in ignore and obj.type == "MESH":
            corners = np.array([obj.matrix_world @ Vector(c) for c in obj.bound_box])
            boxes.append((corners.min(axis=0), corners.max(axis=0)))
    if not boxes:
        return (0.0, 0.0, 0.0)
    lo = np.minimum(data.vertices.min(axis=0), 0.0)
    hi = np.maximum(data.vertices.max(axis=0), 0.0)
    overlaps = [bool(np.all(b_hi > lo) and np.all(b_lo < hi)) for b_lo, b_hi in boxes]
    if not any(overlaps):
        return (0.0, 0.0, 0.0)
    right = max(float(b_hi[0]) for _, b_hi in boxes)
    return (right + margin - float(lo[0]), 0.0, 0.0)


def rig_collection(scene: bpy.types.Scene, base: str) -> bpy.types.Collection:
    """The collection ``SDDR <photo>`` (made and linked to the scene when missing)."""
    name = f"SDDR {base}"
    coll = bpy.data.collections.get(name)
    if coll is None:
        coll = bpy.data.collections.new(name)
    if coll.name not in scene.collection.children and not _in_tree(scene.collection, coll):
        scene.collection.children.link(coll)
    return coll


def _in_tree(root: bpy.types.Collection, coll: bpy.types.Collection) -> bool:
    return any(c == coll or _in_tree(c, coll) for c in root.children)


def _safe_name(name: str) -> str:
    stem = os.path.splitext(os.path.basename(name))[0] if name else "photo"
    return stem[:50] or "photo"


#: build_mesh() options that are stored on the object and reused by rebuild().
MESH_OPTIONS = (
    "max_vertices",
    "projection",
    "fov_x",
    "mapping",
    "near",
    "far",
    "scale",
    "clip_percentile",
    "ortho_width",
    "cut",
    "cut_threshold",
    "slope_ratio",
    "edge_weight",
    "ramp_pixels",
    "triangles",
    "layered",
    "orbit_degrees",
    "remove_islands",
    "min_island_faces",
    "face_budget",
    "subject_distance",
    "subject_height",
    "subject_fill",
)


def build_from_depth(
    scene: bpy.types.Scene,
    photo: bpy.types.Image,
    depth: np.ndarray,
    *,
    edges: np.ndarray | None = None,
    kind: str = "disparity",
    focal_35mm: float | None = None,
    name: str | None = None,
    emission: bool = True,
    set_render: bool = True,
    standard_view: bool = True,
    collection: bpy.types.Collection | None = None,
    **mesh_options: Any,
) -> dict[str, Any]:
    """Photo + depth to a textured mesh, a matching camera and a stored depth image.

    Args:
        scene: where to link the objects (its master collection unless ``collection``).
        photo: the photo as a Blender image (texture and size).
        depth: float ``(H, W)`` in convention ``kind``; resized to the photo by nearest
            neighbour if its size differs (same aspect ratio expected).
        edges: SDDR edge map ``(H, W)`` or ``None``.
        kind: ``"disparity"`` or ``"depth"``.
        focal_35mm: EXIF 35 mm-equivalent focal length (field of view estimate).
        name: base name (default: the photo's).
        emission: emission material (renders reproduce the photo) or a lit one.
        set_render: set render size and active camera to match.
        standard_view: with ``set_render``, also set the Standard view transform (the render
            then reproduces the photo's colours); ``False`` keeps the scene's (e.g. AgX).
        collection: collection for the new objects (default: a new ``SDDR <photo>``
            collection). A new rig is placed where no existing geometry is inside it
            (:func:`rig_offset`); existing objects are never moved or deleted.
        **mesh_options: :func:`mesh.build_mesh` options (see :data:`MESH_OPTIONS`).

    Returns:
        ``{"object", "camera", "material", "depth_image", "mesh_data"}``.
    """
    base = _safe_name(name or photo.name)
    w, h = photo.size
    depth = np.asarray(depth, dtype=np.float32)
    if depth.ndim != 2:
        raise PipelineError(f"Depth must be (H, W), got shape {depth.shape}.")
    if w and h and depth.shape != (h, w):
        if abs(depth.shape[1] / depth.shape[0] - w / h) > 0.02:
            raise PipelineError(
                f"The depth map is {depth.shape[1]}x{depth.shape[0]} but the photo is {w}x{h}: "
                "their aspect ratios differ. Use a depth map made from this photo."
            )
        depth = _resize_nearest(depth, h, w)
        edges = None if edges is None else _resize_nearest(np.asarray(edges), h, w)
    depth_img = store_depth_image(
        f"SDDR Depth {base}",
        depth,
        edges,
        kind=kind,
        meta={"focal_35mm": focal_35mm, "photo": photo.name},
    )
    obj = bpy.data.objects.get(f"SDDR {base}")
    if obj is not None and obj.type != "MESH":
        obj = None
    result = _build(
        scene,
        photo,
        depth_img,
        obj,
        base,
        emission=emission,
        set_render=set_render,
        standard_view=standard_view,
        collection=collection,
        options=mesh_options,
    )
    return result


def _build(
    scene: bpy.types.Scene,
    photo: bpy.types.Image,
    depth_img: bpy.types.Image,
    obj: bpy.types.Object | None,
    base: str,
    *,
    emission: bool,
    set_render: bool,
    standard_view: bool = True,
    collection: bpy.types.Collection | None,
    options: Mapping[str, Any],
) -> dict[str, Any]:
    unknown = set(options) - set(MESH_OPTIONS)
    if unknown:
        raise TypeError(f"Unknown mesh options: {', '.join(sorted(unknown))}.")
    depth, edges, kind = read_depth_image(depth_img)
    focal = depth_img.get("sddr_focal_35mm")
    data = meshlib.build_mesh(
        depth,
        convention=kind,  # type: ignore[arg-type]
        edges=edges,
        focal_35mm=float(focal) if focal else None,
        **options,
    )
    new_rig = obj is None
    collection = collection or (rig_collection(scene, base) if new_rig else None)
    me = bpy.data.meshes.new(f"SDDR {base}")
    set_mesh_data(me, data)
    mat = create_material(f"SDDR {base}", photo, emission=emission)
    me.materials.append(mat)
    if obj is None:
        obj = bpy.data.objects.new(f"SDDR {base}", me)
    else:
        old = obj.data
        obj.data = me
        if old is not None and old.users == 0:
            bpy.data.meshes.remove(old)
            me.name = f"SDDR {base}"
    if collection is not None:
        _link(obj, collection)
    if new_rig:
        obj.location = rig_offset(scene, data, ignore=(obj,))
    offset = Vector(obj.location)
    cam_obj = bpy.data.objects.get(str(obj.get(PROP_CAMERA, ""))) if obj.get(PROP_CAMERA) else None
    cam_is_new = cam_obj is None
    cam_obj = create_camera(f"SDDR Camera {base}", data.camera, cam_obj)
    cam_obj.location = offset + Vector(data.camera.location)
    if cam_is_new or not cam_obj.users_collection:
        _link(
            cam_obj,
            collection or (obj.users_collection[0] if obj.users_collection else scene.collection),
        )
    if set_render:
        setup_render(scene, data.camera, cam_obj, standard_view=standard_view)
    obj[PROP_DEPTH] = depth_img.name
    obj[PROP_PHOTO] = photo.name
    obj[PROP_CAMERA] = cam_obj.name
    obj[PROP_SETTINGS] = {k: v for k, v in options.items() if v is not None}
    obj["sddr_faces_cut"] = int(data.faces_cut)
    obj["sddr_fov_x"] = float(data.camera.fov_x)
    return {
        "object": obj,
        "camera": cam_obj,
        "material": mat,
        "depth_image": depth_img,
        "mesh_data": data,
    }


def rebuild(
    scene: bpy.types.Scene,
    obj: bpy.types.Object,
    *,
    emission: bool | None = None,
    set_render: bool = True,
    standard_view: bool = True,
    **mesh_options: Any,
) -> dict[str, Any]:
    """Rebuild an SDDR mesh with new settings from the depth stored in the .blend.

    Options not given keep the values of the last build; an option given as ``None`` (e.g.
    ``fov_x=None``: the automatic field of view) replaces the last value too.
    """
    depth_name = obj.get(PROP_DEPTH)
    if not depth_name or depth_name not in bpy.data.images:
        raise PipelineError(
            f"{obj.name!r} has no stored SDDR depth. Select a mesh made by SDDR Generate."
        )
    photo_name = obj.get(PROP_PHOTO)
    if not photo_name or photo_name not in bpy.data.images:
        raise PipelineError(f"The photo {photo_name!r} of {obj.name!r} is no longer in the file.")
    previous = dict(obj.get(PROP_SETTINGS, {}))
    previous.update(mesh_options)
    mat = obj.active_material
    if emission is None:
        emission = bool(mat.get("sddr_emission", True)) if mat is not None else True
    base = obj.name[len("SDDR ") :] if obj.name.startswith("SDDR ") else obj.name
    return _build(
        scene,
        bpy.data.images[photo_name],
        bpy.data.images[depth_name],
        obj,
        base,
        emission=emission,
        set_render=set_render,
        standard_view=standard_view,
        collection=None,
        options=previous,
    )


def _resize_nearest(arr: np.ndarray, h: int, w: int) -> np.ndarray:
    rows = np.minimum((np.arange(h) + 0.5) * arr.shape[0] / h, arr.shape[0] - 1).astype(int)
    cols = np.minimum((np.arange(w) + 0.5) * arr.shape[1] / w, arr.shape[1] - 1).astype(int)
    return arr[rows][:, cols]


def mesh_kwargs(settings: Any) -> dict[str, Any]:
    """:func:`mesh.build_mesh` options from the scene's SDDR settings (a PropertyGroup)."""
    subject = settings.depth_mapping == "SUBJECT"
    return {
        "max_vertices": int(settings.resolution),
        "projection": settings.projection.lower(),
        "fov_x": float(settings.fov_x) if settings.fov_mode == "MANUAL" else None,
        # "Subject" spreads the map between Near and Far, then scales it to the subject
        "mapping": "near_far" if subject else settings.depth_mapping.lower(),
        "near": float(settings.near),
        "far": float(settings.far),
        "scale": float(settings.depth_scale),
        "clip_percentile": float(settings.clip_percentile),
        "ortho_width": None,
        "cut": bool(settings.cut),
        "cut_threshold": float(settings.cut_threshold),
        "slope_ratio": 5.0,
        "edge_weight": float(settings.edge_weight),
        "triangles": bool(settings.triangles),
        "layered": bool(settings.layered),
        "remove_islands": bool(settings.remove_islands),
        "min_island_faces": int(settings.min_island_faces),
        "face_budget": int(settings.face_budget),
        "subject_distance": (
            float(settings.subject_distance)
            if subject and settings.subject_mode == "DISTANCE"
            else None
        ),
        "subject_height": (
            float(settings.subject_height) if subject and settings.subject_mode == "SIZE" else None
        ),
        "subject_fill": float(settings.subject_fill) / 100.0,
    }


# ------------------------------------------------------------------------------------------
# Export
# ------------------------------------------------------------------------------------------


def export_mesh(
    obj: bpy.types.Object, path: str, fmt: str | None = None, *, overwrite: bool = False
) -> str:
    """Export one object as GLB (with its texture) or OBJ (+ .mtl, texture copied).

    Args:
        obj: the mesh object.
        path: output file; the format follows ``fmt`` or the extension (``.glb``/``.obj``).
        fmt: ``"GLB"`` or ``"OBJ"``.
        overwrite: replace an existing file (refused otherwise).

    Returns:
        the written path.
    """
    path = bpy.path.abspath(path)
    fmt = (fmt or os.path.splitext(path)[1].lstrip(".")).upper()
    if fmt not in ("GLB", "OBJ"):
        raise PipelineError(f"Export format must be GLB or OBJ, got {fmt!r}.")
    ext = "." + fmt.lower()
    if not path.lower().endswith(ext):
        path += ext
    if os.path.exists(path) and not overwrite:
        raise PipelineError(f"{path} already exists. Choose another name or allow overwrite.")
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    view_layer = bpy.context.view_layer
    selected = [o for o in view_layer.objects if o.select_get()]
    active = view_layer.objects.active
    try:
        for o in selected:
            o.select_set(False)
        obj.select_set(True)
        view_layer.objects.active = obj
        if fmt == "GLB":
            bpy.ops.export_scene.gltf(
                filepath=path,
                export_format="GLB",
                use_selection=True,
                export_cameras=False,
                export_lights=False,
                export_apply=True,
            )
        else:
            swap = _export_material(obj)
            try:
                _obj_export(path)
            finally:
                swap()
    finally:
        obj.select_set(False)
        for o in selected:
            o.select_set(True)
        view_layer.objects.active = active
    if not os.path.isfile(path):
        raise PipelineError(f"Blender did not write {path}; see the system console.")
    return path


def _obj_export(path: str) -> None:
    bpy.ops.wm.obj_export(
        filepath=path,
        export_selected_objects=True,
        export_materials=True,
        path_mode="COPY",
        forward_axis="NEGATIVE_Z",
        up_axis="Y",
    )


def _export_material(obj: bpy.types.Object):
    """OBJ/MTL knows textures only through a Principled BSDF's Base Color: give the object a
    temporary one with the same image while exporting. Returns the function restoring it."""
    me = obj.data
    originals = list(me.materials)
    temps = []
    for i, mat in enumerate(originals):
        if mat is None or not mat.node_tree:
            continue
        if any(n.type == "BSDF_PRINCIPLED" for n in mat.node_tree.nodes):
            continue
        tex = next((n for n in mat.node_tree.nodes if n.type == "TEX_IMAGE" and n.image), None)
        if tex is None:
            continue
        tmp = bpy.data.materials.new(mat.name)  # Blender adds .001; the MTL takes this name
        if not tmp.node_tree:
            tmp.use_nodes = True
        nodes = tmp.node_tree.nodes
        bsdf = next((n for n in nodes if n.type == "BSDF_PRINCIPLED"), None)
        if bsdf is None:
            bsdf = nodes.new("ShaderNodeBsdfPrincipled")
            out = next((n for n in nodes if n.type == "OUTPUT_MATERIAL"), None)
            out = out or nodes.new("ShaderNodeOutputMaterial")
            tmp.node_tree.links.new(bsdf.outputs[0], out.inputs["Surface"])
        image = nodes.new("ShaderNodeTexImage")
        image.image = tex.image
        tmp.node_tree.links.new(image.outputs["Color"], bsdf.inputs["Base Color"])
        me.materials[i] = tmp
        temps.append(tmp)

    def restore() -> None:
        for i, mat in enumerate(originals):
            me.materials[i] = mat
        for tmp in temps:
            bpy.data.materials.remove(tmp)

    return restore
