"""Depth map to textured grid mesh, in pure numpy (no bpy, no opencv, no torch).

This module holds all the geometry of the Blender add-on so it can be tested without Blender:

* :func:`grid_sample` downsamples a depth map to a vertex grid (block medians, which keep
  depth steps sharp instead of inventing in-between depths the way averaging would).
* :func:`to_metric_depth` maps a relative depth or disparity map to depths in scene units
  (near/far mapping, or a plain scale for metric maps).
* :func:`discontinuity_mask` finds the grid edges that cross a depth discontinuity, with a
  depth-relative test that ignores slanted surfaces, made more sensitive where SDDR's edge
  map is strong.
* :func:`build_mesh` does it all and returns vertices, faces, UVs and the matching camera.

Conventions (Blender's):

* The camera sits at the origin and looks along world **+Y**, with world **+Z** up and world
  **+X** to the right of the picture: ``location = (0, 0, 0)``, ``rotation_euler = (pi/2, 0,
  0)`` in XYZ order. A Blender camera looks down its local -Z axis with local +Y up.
* Pixel coordinates ``(u, v)`` are continuous: ``u`` grows to the right from 0 at the left
  edge of the picture to ``W`` at the right edge, ``v`` grows downwards from 0 to ``H``; the
  centre of pixel ``(row i, column j)`` is ``(j + 0.5, i + 0.5)``.
* Depth is planar ("z-depth", distance along the optical axis, what depth predictors give),
  not the distance along the ray.
* The camera uses ``sensor_fit = 'HORIZONTAL'`` so the horizontal field of view maps to the
  render width whatever the aspect ratio, with the render resolution set to the photo size.
* UVs: ``(u / W, 1 - v / H)`` (Blender's UV origin is the bottom-left of the image).

When the field of view is unknown it defaults to 55 degrees horizontally (:data:`DEFAULT_FOV_X`),
between a phone's main camera (about 65-70 degrees) and a "normal" 50 mm lens on full frame
(about 40 degrees); a 35 mm-equivalent focal length from EXIF gives a better estimate
(:func:`estimate_fov_x`).
"""

from __future__ import annotations

import functools
import math
import warnings
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

__all__ = [
    "DEFAULT_FOV_X",
    "DEFAULT_SENSOR_WIDTH",
    "CameraParams",
    "MeshData",
    "MeshError",
    "build_mesh",
    "discontinuity_mask",
    "estimate_fov_x",
    "grid_faces",
    "grid_layout",
    "grid_sample",
    "normalise_edges",
    "to_metric_depth",
]

#: Horizontal field of view (degrees) used when neither the user nor EXIF gives one.
DEFAULT_FOV_X = 55.0
#: Sensor width (mm) of the created camera: full frame, so ``lens`` reads like a 35 mm focal.
DEFAULT_SENSOR_WIDTH = 36.0

Convention = Literal["disparity", "depth"]
Mapping = Literal["near_far", "scale"]
Projection = Literal["perspective", "orthographic"]


class MeshError(ValueError):
    """A depth map or a mesh setting cannot be used; the message says what to change."""


# ------------------------------------------------------------------------------------------
# Camera
# ------------------------------------------------------------------------------------------


def estimate_fov_x(
    width: int,
    height: int,
    *,
    fov_x: float | None = None,
    focal_35mm: float | None = None,
    focal_mm: float | None = None,
    sensor_width_mm: float | None = None,
    default: float = DEFAULT_FOV_X,
) -> float:
    """Horizontal field of view in degrees, from what is known about the photo.

    Priority: an explicit ``fov_x``; a 35 mm-equivalent focal length (EXIF
    ``FocalLengthIn35mmFilm``, defined on the 43.27 mm diagonal of a 36x24 frame, so it is
    converted through the diagonal field of view and the photo's aspect ratio); a real focal
    length with its sensor width; else ``default`` (55 degrees).

    Args:
        width: photo width in pixels.
        height: photo height in pixels.
        fov_x: horizontal field of view in degrees, if known.
        focal_35mm: 35 mm-equivalent focal length in mm.
        focal_mm: real focal length in mm (needs ``sensor_width_mm``).
        sensor_width_mm: real sensor width in mm (the side along the photo's width).
        default: fallback horizontal field of view in degrees.

    Returns:
        the horizontal field of view in degrees, in ``(0, 180)``.
    """
    if width <= 0 or height <= 0:
        raise MeshError(f"Image size must be positive, got {width}x{height}.")
    if fov_x is not None and fov_x > 0:
        result = float(fov_x)
    elif focal_35mm is not None and focal_35mm > 0:
        half_diag = math.atan(math.hypot(36.0, 24.0) / (2.0 * focal_35mm))
        result = math.degrees(
            2.0 * math.atan(math.tan(half_diag) * width / math.hypot(width, height))
        )
    elif focal_mm is not None and focal_mm > 0 and sensor_width_mm is not None:
        result = math.degrees(2.0 * math.atan(sensor_width_mm / (2.0 * focal_mm)))
    else:
        result = float(default)
    if not 0.0 < result < 180.0:
        raise MeshError(
            f"Field of view must be between 0 and 180 degrees, got {result:g}. "
            "Set a horizontal field of view such as 55."
        )
    return result


@dataclass(frozen=True)
class CameraParams:
    """A Blender camera that sees the mesh exactly as the photo was seen.

    Attributes:
        projection: ``"perspective"`` or ``"orthographic"`` (Blender ``'PERSP'``/``'ORTHO'``).
        width: render resolution x in pixels (the photo's width).
        height: render resolution y in pixels.
        fov_x: horizontal field of view in degrees (perspective).
        lens: focal length in mm for ``sensor_width`` (Blender ``camera.lens``).
        sensor_width: sensor width in mm, with ``sensor_fit = 'HORIZONTAL'``.
        ortho_scale: width of the view in scene units (orthographic).
        location: camera location, world units, shape ``(3,)``.
        rotation_euler: XYZ Euler angles in radians, shape ``(3,)``.
        clip_start: near clip distance that keeps the whole mesh visible.
        clip_end: far clip distance that keeps the whole mesh visible.
    """

    projection: Projection
    width: int
    height: int
    fov_x: float
    lens: float
    sensor_width: float
    ortho_scale: float
    location: tuple[float, float, float] = (0.0, 0.0, 0.0)
    rotation_euler: tuple[float, float, float] = (math.pi / 2.0, 0.0, 0.0)
    clip_start: float = 0.01
    clip_end: float = 1000.0

    @property
    def sensor_fit(self) -> str:
        """Blender ``camera.sensor_fit``: the horizontal field of view spans the render width."""
        return "HORIZONTAL"

    @property
    def focal_px(self) -> float:
        """Focal length in pixels (perspective): ``W / (2 tan(fov_x / 2))``."""
        return self.width / (2.0 * math.tan(math.radians(self.fov_x) / 2.0))

    @property
    def fov_y(self) -> float:
        """Vertical field of view in degrees (perspective)."""
        return math.degrees(2.0 * math.atan(self.height / (2.0 * self.focal_px)))

    def world_to_camera(self) -> np.ndarray:
        """The 4x4 matrix taking world points to Blender camera space (camera looks down -Z)."""
        cam_to_world = np.eye(4)
        cam_to_world[:3, :3] = _euler_xyz(self.rotation_euler)
        cam_to_world[:3, 3] = self.location
        return np.linalg.inv(cam_to_world)

    def project(self, points: np.ndarray) -> np.ndarray:
        """Pixel coordinates ``(u, v)`` of world points, as Blender renders them.

        Args:
            points: world coordinates, shape ``(N, 3)``.

        Returns:
            ``(N, 2)`` float64: ``u`` from the left edge, ``v`` from the top edge, in pixels.
        """
        pts = np.asarray(points, dtype=np.float64)
        cam = pts @ self.world_to_camera()[:3, :3].T + self.world_to_camera()[:3, 3]
        if self.projection == "orthographic":
            scale = self.width / self.ortho_scale
            u = cam[:, 0] * scale + self.width / 2.0
            v = -cam[:, 1] * scale + self.height / 2.0
        else:
            z = -cam[:, 2]
            u = cam[:, 0] / z * self.focal_px + self.width / 2.0
            v = -cam[:, 1] / z * self.focal_px + self.height / 2.0
        return np.stack([u, v], axis=1)


def _euler_xyz(angles: tuple[float, float, float]) -> np.ndarray:
    """Rotation matrix of Blender's XYZ Euler angles (X applied first)."""
    ax, ay, az = angles
    cx, sx, cy, sy, cz, sz = (
        math.cos(ax),
        math.sin(ax),
        math.cos(ay),
        math.sin(ay),
        math.cos(az),
        math.sin(az),
    )
    rx = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rz = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
    return rz @ ry @ rx


# ------------------------------------------------------------------------------------------
# Grid
# ------------------------------------------------------------------------------------------


def grid_layout(height: int, width: int, max_vertices: int) -> tuple[int, int, int]:
    """The integer block size and grid shape for at most ``max_vertices`` along the long side.

    Args:
        height: map height ``H`` in pixels.
        width: map width ``W`` in pixels.
        max_vertices: the most vertices wanted along the long side (>= 2).

    Returns:
        ``(step, ny, nx)``: each vertex stands for a ``step x step`` block of pixels (the last
        row and column of blocks may be smaller); ``ny = ceil(H / step)``, ``nx = ceil(W /
        step)``.
    """
    if height < 2 or width < 2:
        raise MeshError(f"The depth map must be at least 2x2 pixels, got {width}x{height}.")
    if max_vertices < 2:
        raise MeshError(f"Grid resolution must be at least 2 vertices, got {max_vertices}.")
    step = max(1, math.ceil(max(height, width) / max_vertices))
    return step, math.ceil(height / step), math.ceil(width / step)


#: Above this many faces the panel warns before building (full density on a 4000 x 3000
#: photo: 11.8 M faces, ~50 s and ~4 GB).
WARN_FACES = 3_000_000
#: A layered mesh adds background and edge faces to the grid's: measured 2.55x on the
#: Middlebury Motorcycle at the defaults (sharp depth, three background layers, the skirt;
#: 1.6-1.7x on simple scenes).
LAYERED_FACTOR = 2.6


def expected_faces(
    height: int, width: int, max_vertices: int, *, layered: bool = True, triangles: bool = False
) -> int:
    """About how many faces :func:`build_mesh` makes for a ``width x height`` photo: the
    grid's quads (an upper bound for the surface: cut or missing quads drop out), times
    :data:`LAYERED_FACTOR` for a layered mesh, times two for triangles."""
    _step, ny, nx = grid_layout(int(height), int(width), int(max_vertices))
    faces = (ny - 1) * (nx - 1) * (LAYERED_FACTOR if layered else 1.0)
    return int(math.ceil(faces * (2 if triangles else 1)))


def vertices_for_budget(
    height: int,
    width: int,
    max_vertices: int,
    budget: int,
    *,
    layered: bool = True,
    triangles: bool = False,
) -> int:
    """The largest grid density (vertices on the long side) at most ``max_vertices`` whose
    :func:`expected_faces` fits in ``budget`` (``budget <= 0``: no limit)."""
    if budget <= 0:
        return int(max_vertices)
    lo, hi = 2, int(max_vertices)
    kw = {"layered": layered, "triangles": triangles}
    if expected_faces(height, width, hi, **kw) <= budget:
        return hi
    while lo < hi:  # the count grows with the density: bisect
        mid = (lo + hi + 1) // 2
        if expected_faces(height, width, mid, **kw) <= budget:
            lo = mid
        else:
            hi = mid - 1
    return lo


def grid_sample(
    values: np.ndarray, step: int, reduce: Literal["median", "max"] = "median"
) -> np.ndarray:
    """Reduce each ``step x step`` block of a map to one value (one vertex).

    Median keeps depth steps sharp (a block straddling a step takes the value of its larger
    part rather than an average that floats between the two surfaces); ``"max"`` suits edge
    maps. Non-finite pixels are ignored; a block with none finite gives NaN.

    Args:
        values: map, shape ``(H, W)``.
        step: block size in pixels (>= 1).
        reduce: ``"median"`` or ``"max"``.

    Returns:
        float32 ``(ceil(H / step), ceil(W / step))``.
    """
    arr = np.asarray(values, dtype=np.float32)
    if arr.ndim != 2:
        raise MeshError(f"Expected a single-channel (H, W) map, got shape {arr.shape}.")
    if step == 1:
        return arr.copy()
    h, w = arr.shape
    ny, nx = math.ceil(h / step), math.ceil(w / step)
    padded = np.full((ny * step, nx * step), np.nan, dtype=np.float32)
    padded[:h, :w] = arr
    blocks = padded.reshape(ny, step, nx, step).transpose(0, 2, 1, 3).reshape(ny, nx, -1)
    with warnings.catch_warnings():  # all-NaN blocks are expected and give NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        out = np.nanmedian(blocks, axis=2) if reduce == "median" else np.nanmax(blocks, axis=2)
    return out.astype(np.float32)


def _vertex_pixels(size: int, step: int) -> np.ndarray:
    """Pixel coordinate of each vertex along one axis: block centres, ends on the image edge.

    Interior vertices sit at the centre of their block, so with ``step == 1`` they are exactly
    the pixel centres; the first and last ones are moved out to 0 and ``size`` so the mesh
    covers the whole picture (their depth is still their block's).
    """
    n = math.ceil(size / step)
    starts = np.arange(n) * step
    ends = np.minimum(starts + step, size)
    centres = (starts + ends) / 2.0
    centres[0] = 0.0
    centres[-1] = float(size)
    return centres


def grid_faces(ny: int, nx: int, triangles: bool = False) -> np.ndarray:
    """Faces of an ``ny x nx`` vertex grid (vertex index ``i * nx + j``), facing the camera.

    Each quad is ``(top-left, bottom-left, bottom-right, top-right)`` in picture terms:
    counter-clockwise as the camera sees it, so normals point at the camera. Quad ``(i, j)``
    (row-major, ``(ny - 1) * (nx - 1)`` of them) becomes triangles ``2k`` and ``2k + 1``.

    Returns:
        int32 ``(F, 4)``, or ``(2F, 3)`` with ``triangles=True``.
    """
    ii, jj = np.meshgrid(np.arange(ny - 1), np.arange(nx - 1), indexing="ij")
    tl = (ii * nx + jj).ravel()
    bl, br, tr = tl + nx, tl + nx + 1, tl + 1
    if not triangles:
        return np.stack([tl, bl, br, tr], axis=1).astype(np.int32)
    tris = np.stack([np.stack([tl, bl, br], 1), np.stack([tl, br, tr], 1)], axis=1)
    return tris.reshape(-1, 3).astype(np.int32)


# ------------------------------------------------------------------------------------------
# Depth conventions
# ------------------------------------------------------------------------------------------


def to_metric_depth(
    values: np.ndarray,
    convention: Convention = "disparity",
    *,
    mapping: Mapping = "near_far",
    near: float = 1.0,
    far: float = 5.0,
    scale: float = 1.0,
    clip_percentile: float = 0.0,
) -> np.ndarray:
    """Turn a relative depth or disparity map into planar depths in scene units.

    ``mapping="near_far"`` (relative maps, what predictors give): the map is normalised to
    ``t`` in ``[0, 1]`` (robustly, between the ``clip_percentile`` and ``100 - clip_percentile``
    percentiles). For ``"disparity"`` (larger = nearer, e.g. Depth Anything, white = near
    ControlNet maps) ``t`` is spread linearly in inverse depth, ``1/z = 1/far + t (1/near -
    1/far)``, which is the right thing for affine-invariant disparity and keeps planes planar.
    For ``"depth"`` (larger = farther), ``z = near + t (far - near)``.

    ``mapping="scale"`` (metric maps): ``z = scale * value`` for ``"depth"`` and ``z = scale /
    value`` for ``"disparity"``; ``near``/``far`` are not used.

    Args:
        values: the map, shape ``(H, W)``; non-finite pixels stay NaN.
        convention: ``"disparity"`` or ``"depth"``.
        mapping: ``"near_far"`` or ``"scale"``.
        near: depth given to the nearest pixel (``near_far``), > 0.
        far: depth given to the farthest pixel (``near_far``), > ``near``.
        scale: multiplier for ``mapping="scale"``.
        clip_percentile: percent of outliers ignored at each end when normalising.

    Returns:
        float32 ``(H, W)`` positive depths (NaN where the input was not finite or, with
        ``"scale"``, not positive).
    """
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 2:
        raise MeshError(f"Expected a single-channel (H, W) depth map, got shape {arr.shape}.")
    if convention not in ("disparity", "depth"):
        raise MeshError(f"Depth convention must be 'disparity' or 'depth', got {convention!r}.")
    finite = np.isfinite(arr)
    if not finite.any():
        raise MeshError("The depth map has no finite values; check the file or the predictor.")
    if mapping == "scale":
        if scale <= 0:
            raise MeshError(f"Depth scale must be positive, got {scale:g}.")
        with np.errstate(divide="ignore", invalid="ignore"):
            z = scale * arr if convention == "depth" else scale / arr
        z[~(np.isfinite(z) & (z > 0))] = np.nan
        return z.astype(np.float32)
    if mapping != "near_far":
        raise MeshError(f"Depth mapping must be 'near_far' or 'scale', got {mapping!r}.")
    if not (near > 0 and far > near):
        raise MeshError(
            f"Need 0 < near < far, got near={near:g}, far={far:g}. "
            "Raise 'Far' above 'Near' in the SDDR panel."
        )
    lo, hi = np.percentile(arr[finite], [clip_percentile, 100.0 - clip_percentile])
    span = hi - lo
    t = np.clip((arr - lo) / span, 0.0, 1.0) if span > 0 else np.zeros_like(arr)
    if convention == "disparity":
        z = 1.0 / (1.0 / far + t * (1.0 / near - 1.0 / far))
    else:
        z = near + t * (far - near)
    z[~finite] = np.nan
    return z.astype(np.float32)


def normalise_edges(edges: np.ndarray, percentile: float = 99.0) -> np.ndarray:
    """Scale an edge map (larger = stronger edge) to ``[0, 1]`` by a high percentile.

    Args:
        edges: edge strength, shape ``(H, W)``, any non-negative scale.
        percentile: the strength mapped to 1 (robust against a few huge values).

    Returns:
        float32 ``(H, W)`` in ``[0, 1]``; all zeros for a flat map.
    """
    e = np.nan_to_num(np.abs(np.asarray(edges, dtype=np.float32)), nan=0.0, posinf=0.0)
    ref = float(np.percentile(e, percentile)) if e.size else 0.0
    if ref <= 0:
        ref = float(e.max()) if e.size else 0.0
    if ref <= 0:
        return np.zeros_like(e)
    return np.clip(e / ref, 0.0, 1.0)


# ------------------------------------------------------------------------------------------
# Discontinuities
# ------------------------------------------------------------------------------------------


def _side_slopes(d: np.ndarray, axis: int, window: int = 4) -> np.ndarray:
    """The surface slope beside each difference along ``axis``, from both sides.

    On each side the slope is the smallest of the ``window`` nearest differences, so a step
    spread over up to ``window + 1`` cells (refined depth maps blur edges over a few pixels),
    or an object thinner than that, is not taken for a slope; the result is the larger of the
    two sides, so a crease (a wall meeting a steep floor), where one side goes on with the same
    change for more than ``window`` cells, is recognised as a slope. Missing neighbours at the
    border are ignored; with none at all the slope is 0.
    """
    moved = np.moveaxis(d, axis, -1)
    n = moved.shape[-1]
    pad = np.full((*moved.shape[:-1], window), np.nan)
    ext = np.concatenate([pad, moved, pad], axis=-1)
    left = [ext[..., window - k : window - k + n] for k in range(1, window + 1)]
    right = [ext[..., window + k : window + k + n] for k in range(1, window + 1)]
    # fmin/fmax skip NaN (missing neighbours, missing depth)
    slope = np.fmax(functools.reduce(np.fmin, left), functools.reduce(np.fmin, right))
    return np.moveaxis(np.nan_to_num(slope, nan=0.0), -1, axis)


def discontinuity_mask(
    z: np.ndarray,
    edges: np.ndarray | None = None,
    *,
    threshold: float = 0.03,
    slope_ratio: float = 3.0,
    edge_weight: float = 0.5,
    planar_in: Literal["disparity", "depth"] = "disparity",
    window: int = 4,
) -> tuple[np.ndarray, np.ndarray]:
    """Which grid edges cross a depth discontinuity.

    A grid edge between neighbouring vertices ``a`` and ``b`` is cut when both hold:

    1. **Depth-relative jump**: ``|z_a - z_b| / min(z_a, z_b) > threshold * (1 - edge_weight
       * e)``, where ``e`` in ``[0, 1]`` is the normalised SDDR edge strength at the two
       vertices (:func:`normalise_edges`). The test is scale-free, so the same setting works
       near and far; where SDDR sees a strong depth edge the bar is lowered (halved with the
       default ``edge_weight``), so a real but modest step is cut while equal changes away from
       edges are left alone.
    2. **Not a slope**: the change along the edge is more than ``slope_ratio`` times the
       surface slope beside it along the same grid line. The slope on each side is the
       smallest change among the next ``window`` edges on that side, and the larger of the two
       sides counts (:func:`_side_slopes`): a step spread over up to ``window + 1`` cells, or
       a thin object, is still a step, while a crease where a floor meets a wall is not. Changes are
       measured in inverse depth (``planar_in="disparity"``, perspective meshes) where a plane
       seen through a pinhole is exactly linear in the pixel coordinates, so a slanted floor or
       wall, however steep, is never cut; ``planar_in="depth"`` suits orthographic reliefs.

    Args:
        z: positive depths on the vertex grid, shape ``(ny, nx)``; NaN marks missing vertices.
        edges: SDDR edge strength on the same grid, shape ``(ny, nx)``, or ``None``.
        threshold: relative depth jump cut without edge support (0.03 = 3 %).
        slope_ratio: how much larger than its neighbours a change must be to count as a step.
        edge_weight: how much a full-strength edge lowers the threshold (0 ignores edges).
        planar_in: the quantity that is linear on a plane (see 2.).
        window: how many edges on each side estimate the surface slope (see 2.).

    Returns:
        ``(cut_x, cut_y)``: bool ``(ny, nx - 1)`` for edges between columns ``j`` and
        ``j + 1``, and bool ``(ny - 1, nx)`` for edges between rows ``i`` and ``i + 1``.
    """
    zz = np.asarray(z, dtype=np.float64)
    if zz.ndim != 2:
        raise MeshError(f"Expected an (ny, nx) depth grid, got shape {zz.shape}.")
    if threshold <= 0 or slope_ratio < 1:
        raise MeshError("Cut threshold must be > 0 and slope ratio >= 1.")
    with np.errstate(divide="ignore", invalid="ignore"):
        q = 1.0 / zz if planar_in == "disparity" else zz
    e = None
    if edges is not None:
        e = np.clip(np.nan_to_num(np.asarray(edges, dtype=np.float64)), 0.0, 1.0)
        if e.shape != zz.shape:
            raise MeshError(f"Edge map grid {e.shape} does not match depth grid {zz.shape}.")

    out = []
    for axis in (1, 0):
        a = np.take(zz, np.arange(zz.shape[axis] - 1), axis=axis)
        b = np.take(zz, np.arange(1, zz.shape[axis]), axis=axis)
        with np.errstate(divide="ignore", invalid="ignore"):
            rel = np.abs(a - b) / np.minimum(a, b)
        dq = np.abs(np.diff(q, axis=axis))
        smooth = _side_slopes(dq, axis, max(1, int(window)))
        bar = np.full(rel.shape, threshold)
        if e is not None:
            ea = np.take(e, np.arange(e.shape[axis] - 1), axis=axis)
            eb = np.take(e, np.arange(1, e.shape[axis]), axis=axis)
            bar = threshold * (1.0 - edge_weight * np.maximum(ea, eb))
        with np.errstate(invalid="ignore"):
            cut = (rel > bar) & (dq > slope_ratio * smooth)
        out.append(np.nan_to_num(cut, nan=0).astype(bool))
    return out[0], out[1]


def _faces_cut(cut_x: np.ndarray, cut_y: np.ndarray) -> np.ndarray:
    """Quads (row-major, ``(ny - 1) * (nx - 1)``) having at least one cut side."""
    top, bottom = cut_x[:-1, :], cut_x[1:, :]
    left, right = cut_y[:, :-1], cut_y[:, 1:]
    return (top | bottom | left | right).ravel()


# ------------------------------------------------------------------------------------------
# Layers: the background continued behind occluders
# ------------------------------------------------------------------------------------------

#: ``MeshData.face_layer`` values.
LAYER_SURFACE, LAYER_EDGE, LAYER_BACKGROUND = 0, 1, 2


def background_sources(
    z: np.ndarray,
    cut_x: np.ndarray,
    cut_y: np.ndarray,
    limit_cells: np.ndarray | int,
    *,
    margin: float = 0.015,
    vertical_cost: int = 3,
    object_depth: float = 0.25,
) -> tuple[np.ndarray, np.ndarray]:
    """For each grid vertex hiding a background, the background vertex that continues behind it.

    Every cut grid edge joins a near vertex (the occluder's boundary) and a far one (the
    background it hides). Starting at the near vertices, a breadth-first search walks into
    the occluder over grid edges and gives each vertex it reaches the far vertex it started
    from, as long as the vertex is in front of that background (``z (1 + margin) < z_far``)
    and no more than ``limit_cells`` steps from the cut. Where a vertex borders several cuts
    the farthest background wins. The result says where the background layer of a layered
    mesh lies (behind the occluder, at the far vertex's depth) and which photo pixel textures
    it (the far vertex's: the photo extended inwards).

    Args:
        z: positive depths on the vertex grid, shape ``(ny, nx)``, NaN where missing.
        cut_x: bool ``(ny, nx - 1)`` cut edges between columns (:func:`discontinuity_mask`).
        cut_y: bool ``(ny - 1, nx)`` cut edges between rows.
        limit_cells: how far (grid steps) the background goes on behind each cut: an int, or
            an array over the cut edges in the order ``cut_x`` then ``cut_y`` non-zeros, or
            a ``(ny, nx)`` array read at the near vertex.
        margin: how much nearer than the background a vertex must be to hide it.
        object_depth: the walk stays on the occluder: vertices whose depth differs from the
            occluder's at the cut by more than this ratio are not entered (a floor running
            on beside an object is not hidden background).
        vertical_cost: a step between rows uses this many steps of reach: turning the view
            left or right (the common orbit) uncovers background sideways, so it goes on
            farther sideways than up and down.

    Returns:
        ``(source, distance)``: int64 ``(ny * nx,)`` flat index of the background vertex each
        vertex hides (-1 where none), and int32 ``(ny * nx,)`` grid steps from the cut (-1
        where none).
    """
    zz = np.asarray(z, dtype=np.float64)
    ny, nx = zz.shape
    flat = zz.ravel()
    n = flat.size
    ix, jx = np.nonzero(cut_x)
    iy, jy = np.nonzero(cut_y)
    a = np.concatenate([ix * nx + jx, iy * nx + jy]).astype(np.int64)
    b = np.concatenate([ix * nx + jx + 1, (iy + 1) * nx + jy]).astype(np.int64)
    za, zb = flat[a], flat[b]
    near = np.where(za < zb, a, b)
    far = np.where(za < zb, b, a)
    limit = np.asarray(limit_cells)
    if limit.ndim == 2:
        lim = limit.ravel()[near].astype(np.int64)
    else:
        lim = np.broadcast_to(limit, near.shape).astype(np.int64)
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(flat[near]) & np.isfinite(flat[far]) & (flat[near] < flat[far])
    near, far, lim = near[ok], far[ok], lim[ok]
    order = np.argsort(-flat[far], kind="stable")  # the farthest background first
    near, far, lim = near[order], far[order], lim[order]
    near, first = np.unique(near, return_index=True)
    source = np.full(n, -1, dtype=np.int64)
    reach = np.zeros(n, dtype=np.int64)  # steps the background may still go on from here
    distance = np.full(n, -1, dtype=np.int32)
    source[near], reach[near], distance[near] = far[first], lim[first], 0
    z_src = np.full(n, -np.inf)
    z_src[near] = flat[far[first]]
    z_seed = np.full(n, np.nan)  # the occluder's depth where its background was cut off
    z_seed[near] = flat[near]
    frontier = near
    while frontier.size:
        fi, fj = np.divmod(frontier, nx)
        cand, came, cost = [], [], []
        for di, dj in ((0, 1), (0, -1), (1, 0), (-1, 0)):
            ii, jj = fi + di, fj + dj
            valid = (ii >= 0) & (ii < ny) & (jj >= 0) & (jj < nx)
            cand.append((ii * nx + jj)[valid])
            came.append(frontier[valid])
            cost.append(np.full(int(valid.sum()), vertical_cost if di else 1, np.int64))
        c, f, k = np.concatenate(cand), np.concatenate(came), np.concatenate(cost)
        zs, left = z_src[f], reach[f] - k
        # a vertex takes the farthest background that reaches it (the one a side view sees
        # past the nearer ones); the same background arriving with more reach left goes on
        with np.errstate(invalid="ignore"):
            better = (zs > z_src[c] * (1.0 + 1e-6)) | ((zs >= z_src[c]) & (left > reach[c]))
            ok = (left >= 0) & better & (flat[c] * (1.0 + margin) < zs)
            ok &= np.abs(np.log(flat[c] / z_seed[f])) < np.log1p(object_depth)
        c, f, zs, left = c[ok], f[ok], zs[ok], left[ok]
        order = np.lexsort((-left, -zs))
        c, f, left = c[order], f[order], left[order]
        c, first = np.unique(c, return_index=True)
        f = f[first]
        source[c], z_src[c], z_seed[c] = source[f], z_src[f], z_seed[f]
        reach[c], distance[c] = left[first], distance[f] + 1
        frontier = c
    return source, distance


def _smooth_background(
    z: np.ndarray, mask: np.ndarray, iterations: int = 24, tolerance: float = 0.03
) -> np.ndarray:
    """Average the inverse depth of the ``mask`` vertices with their ``mask`` neighbours
    within ``2 * tolerance`` of their depth.

    Backgrounds continued from neighbouring cuts meet with small steps and noise; a few
    Jacobi sweeps smooth those so the background layer stays one surface, while real steps
    (two different backgrounds) are left for the cut test. Other vertices are kept.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        q = np.where(mask, 1.0 / z, 0.0)
    q = np.nan_to_num(q, nan=0.0, posinf=0.0)
    m = (mask & (q > 0)).astype(np.float64)
    qp0, mp0 = np.pad(q, 1), np.pad(m, 1)
    shifts = ((slice(None, -2), slice(1, -1)), (slice(2, None), slice(1, -1)))
    shifts += ((slice(1, -1), slice(None, -2)), (slice(1, -1), slice(2, None)))
    weights = []
    for sl in shifts:  # only neighbours of about the same depth: no ramps across steps
        nb = qp0[sl]
        with np.errstate(divide="ignore", invalid="ignore"):
            close = np.abs(np.log(nb / np.where(q > 0, q, 1.0))) < np.log1p(2.0 * tolerance)
        weights.append(m * mp0[sl] * np.nan_to_num(close, nan=0.0))
    for _ in range(iterations):
        qp = np.pad(q, 1)
        total, count = q * m, m.copy()
        for sl, wgt in zip(shifts, weights, strict=True):
            total += wgt * qp[sl]
            count += wgt
        q = np.where(m > 0, total / np.maximum(count, 1.0), q)
    with np.errstate(divide="ignore"):
        return np.where(m > 0, 1.0 / q, z)


def _components(faces: np.ndarray, n_vertices: int) -> np.ndarray:
    """Connected parts of a mesh: the smallest vertex index of each face's part, ``(F,)``."""
    if len(faces) == 0:
        return np.zeros(0, dtype=np.int64)
    parent = np.arange(n_vertices, dtype=np.int64)
    a = faces.ravel().astype(np.int64)
    b = np.roll(faces, -1, axis=1).ravel().astype(np.int64)
    while True:
        pa, pb = parent[a], parent[b]
        if np.array_equal(pa, pb):
            break
        m = np.minimum(pa, pb)
        np.minimum.at(parent, pa, m)
        np.minimum.at(parent, pb, m)
        while True:  # pointer jumping: every vertex points at its part's root
            jumped = parent[parent]
            if np.array_equal(jumped, parent):
                break
            parent = jumped
    return parent[faces[:, 0]]


#: How many background layers a layered mesh stacks behind an occluder (see
#: :func:`_deeper_levels`). On the Middlebury Motorcycle with sharp depth, orbits of +15, +30,
#: -15 and -30 degrees show 19.6 / 29.4 / 17.0 / 21.2 % world with 1 layer, 16.2 / 24.7 /
#: 14.4 / 18.4 % with 2, 15.6 / 23.8 / 13.5 / 17.5 % with 3 (1.7x the faces of 1) and
#: 15.6 / 23.8 / 13.4 / 17.3 % with 4; the uncut mesh 15.8 / 23.9 / 13.6 / 17.2 %.
BACKGROUND_LEVELS = 3


def _deeper_levels(
    zf: np.ndarray,
    uf: np.ndarray,
    vf: np.ndarray,
    source: np.ndarray,
    cut_x: np.ndarray,
    cut_y: np.ndarray,
    quads: np.ndarray,
    limit_of,
    bg_kwargs: dict,
    *,
    levels: int,
) -> dict:
    """Backgrounds behind the background: where the background layer itself steps (two
    backgrounds meeting behind an occluder, a middle layer between two cuts), the farther one
    goes on behind the nearer one, as the first background goes on behind the occluder.

    Level 1 is the background layer of :func:`_layered` (``source``, its step edges
    ``cut_x``/``cut_y``); each further level repeats :func:`background_sources` on the
    previous level's depth, seeded at its steps. New vertices get indices from ``n +``
    (level 1's count) on, in order; ``faces`` are ``(K, 4)`` in those indices.
    """
    n = zf.size
    ny, nx = cut_y.shape[0] + 1, cut_x.shape[1] + 1
    thr = bg_kwargs["threshold"]
    labelled = source >= 0
    z_prev = np.where(labelled, zf[np.maximum(source, 0)], zf)
    tex_prev = np.where(labelled, source, np.arange(n))
    rep_prev = np.arange(n, dtype=np.int64)
    rep_prev[labelled] = n + np.arange(int(labelled.sum()))
    next_index = n + int(labelled.sum())
    out = {k: [] for k in ("u", "v", "z", "tu", "tv")}
    faces, quad_of = [], []
    for _ in range(max(0, levels - 1)):
        is_bg = (rep_prev >= n).reshape(ny, nx)
        cx = cut_x & (is_bg[:, :-1] | is_bg[:, 1:])
        cy = cut_y & (is_bg[:-1, :] | is_bg[1:, :])
        if not (cx.any() or cy.any()):
            break
        z2d = z_prev.reshape(ny, nx)
        src, _ = background_sources(z2d, cx, cy, limit_of(z2d), margin=0.5 * thr)
        lab = src >= 0
        if not lab.any():
            break
        idx = np.flatnonzero(lab)
        far = src[idx]
        z_new = z_prev.copy()
        z_new[idx] = z_prev[far]
        tex_new = tex_prev.copy()
        tex_new[idx] = tex_prev[far]
        rep_new = rep_prev.copy()
        rep_new[idx] = next_index + np.arange(idx.size)
        next_index += idx.size
        out["u"].append(uf[idx])
        out["v"].append(vf[idx])
        out["z"].append(z_prev[far])
        out["tu"].append(uf[tex_prev[far]])
        out["tv"].append(vf[tex_prev[far]])
        z_test = _smooth_background(
            z_new.reshape(ny, nx), lab.reshape(ny, nx), tolerance=thr
        ).ravel()
        with np.errstate(invalid="ignore"):
            z_test = np.where(lab, np.fmax(z_test, z_prev * (1.0 + thr)), z_new)
        ncx, ncy = discontinuity_mask(z_test.reshape(ny, nx), None, **bg_kwargs)
        ok = lab[quads].any(axis=1) & np.isfinite(z_new[quads]).all(axis=1)
        ok &= ~_faces_cut(ncx, ncy)
        faces.append(rep_new[quads[ok]])
        quad_of.append(np.flatnonzero(ok))
        z_prev, tex_prev, rep_prev, cut_x, cut_y = z_new, tex_new, rep_new, ncx, ncy
    cat = {k: (np.concatenate(v) if v else np.zeros(0)) for k, v in out.items()}
    cat["faces"] = np.concatenate(faces) if faces else np.zeros((0, 4), np.int64)
    cat["quads"] = np.concatenate(quad_of) if quad_of else np.zeros(0, np.int64)
    return cat


#: How far back (a depth ratio) the skirt of a layered mesh draws the cut outline of the
#: foreground (:func:`_skirt`), below the 1:1.5 of a curtain. A side view that looks past an
#: outline and out of the picture before it meets the background behind (the inside of the
#: Motorcycle's front wheel, near the photo's edge, at -30 degrees) sees the skirt instead of
#: the world: 17.5 -> 16.7 % world there (uncut 17.2 %); 1.4 measures 16.6 %.
SKIRT_DEPTH = 1.2


def _skirt(
    edge_faces: np.ndarray,
    far: np.ndarray,
    cq: np.ndarray,
    strip0: int,
    copy0: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Skirt quads under the outer sides of the edge strip (both ends strip vertices).

    ``edge_faces`` ``(C, 4)``: the strip quads, ``far`` their corners replaced by strip
    vertices (indices from ``strip0``), ``cq`` their grid quads. Each strip vertex ``s`` has
    a copy ``copy0 + s - strip0`` farther back along its camera ray. Returns the quads and
    their grid quads.
    """
    faces, quad_of = [], []
    for k in (0, 2):  # the sides down the quad (tl-bl, br-tr): an orbit looks sideways
        k2 = k + 1
        sel = far[:, k] & far[:, k2]
        a, b = edge_faces[sel, k], edge_faces[sel, k2]
        faces.append(np.stack([a, b, b - strip0 + copy0, a - strip0 + copy0], axis=1))
        quad_of.append(cq[sel])
    faces_all = np.concatenate(faces).astype(np.int64)
    q_all = np.concatenate(quad_of)
    if len(faces_all):
        key = np.sort(faces_all[:, :2], axis=1)
        _, first = np.unique(key, axis=0, return_index=True)
        faces_all, q_all = faces_all[first], q_all[first]
    return faces_all, q_all


def _layered(
    z: np.ndarray,
    uu: np.ndarray,
    vv: np.ndarray,
    quads: np.ndarray,
    finite_quad: np.ndarray,
    across: np.ndarray,
    cut_x: np.ndarray,
    cut_y: np.ndarray,
    limit_of,
    *,
    cut_kwargs: dict,
    min_island_faces: int,
    levels: int = BACKGROUND_LEVELS,
) -> dict:
    """The faces and extra vertices of a layered mesh over a cut grid (see :func:`build_mesh`).

    Vertices are described by picture position ``(u, v)``, depth ``z`` and texture position
    ``(tu, tv)`` (pixels); the grid's own vertices come first (index ``i * nx + j``).
    """
    ny, nx = z.shape
    n = ny * nx
    zf, uf, vf = z.ravel(), uu.ravel(), vv.ravel()
    grid_i, grid_j = np.divmod(np.arange(n), nx)

    # -- the background layer: the far side continued behind each occluder ---------------
    source, _ = background_sources(
        z, cut_x, cut_y, limit_of(z), margin=0.5 * cut_kwargs["threshold"]
    )
    labelled = source >= 0
    z_bg = np.where(labelled, zf[np.maximum(source, 0)], zf)
    z_bg = _smooth_background(
        z_bg.reshape(ny, nx), labelled.reshape(ny, nx), tolerance=cut_kwargs["threshold"]
    ).ravel()
    with np.errstate(invalid="ignore"):  # stay behind what it continues behind
        z_bg = np.where(labelled, np.fmax(z_bg, zf * (1.0 + cut_kwargs["threshold"])), zf)
    # the background layer is extended, not measured: hold it to the strict slope test so
    # that two backgrounds meeting behind an occluder never join into a curtain
    bg_kwargs = {**cut_kwargs, "slope_ratio": min(3.0, cut_kwargs.get("slope_ratio", 3.0))}
    bg_cut_x, bg_cut_y = discontinuity_mask(z_bg.reshape(ny, nx), None, **bg_kwargs)
    bg_across = _faces_cut(bg_cut_x, bg_cut_y)
    bg_ok = labelled[quads].any(axis=1) & np.isfinite(z_bg[quads]).all(axis=1) & ~bg_across
    deep = _deeper_levels(
        zf, uf, vf, source, bg_cut_x, bg_cut_y, quads, limit_of, bg_kwargs, levels=levels
    )

    def assemble(bg_ok: np.ndarray) -> tuple[dict, np.ndarray]:
        """The layered faces for the background quads ``bg_ok``; also the quads of small
        background-only parts that the camera sees through a cut (their background is a
        fragment: the caller drops it and lets the edge strip cover the whole cut cell)."""
        bg_index = np.full(n, -1, dtype=np.int64)
        bg_index[labelled] = n + np.arange(int(labelled.sum()))
        bg_faces = np.where(labelled[quads], bg_index[quads], quads)[bg_ok]
        lab = np.flatnonzero(labelled)
        src = source[lab]
        verts = {
            "u": [uf, uf[lab]],
            "v": [vf, vf[lab]],
            "z": [zf, zf[src]],
            "tu": [uf, uf[src]],
            "tv": [vf, vf[src]],
        }
        n_all = n + lab.size

        # -- the edge strip: each cut quad's near part stays with the foreground ---------------
        cq = np.flatnonzero(across & finite_quad)
        corners = quads[cq]  # (C, 4): tl, bl, br, tr
        zc = zf[corners]
        split = np.sqrt(zc.min(axis=1) * zc.max(axis=1))[:, None]
        near = zc < split
        # half a cell where the background layer fills the rest, the whole cell where it cannot
        t = np.where(bg_ok[cq], 0.5, 0.0)[:, None]
        ci, cj = grid_i[corners].astype(np.float64), grid_j[corners].astype(np.float64)
        cu, cv = uf[corners], vf[corners]
        prev, nxt = np.roll(near, 1, axis=1), np.roll(near, -1, axis=1)

        def towards(values: np.ndarray) -> np.ndarray:
            """The mean of a far corner's near neighbours in the quad, else the opposite corner."""
            vp, vn, vo = (
                np.roll(values, 1, axis=1),
                np.roll(values, -1, axis=1),
                np.roll(values, 2, axis=1),
            )
            w = prev.astype(np.float64) + nxt
            mean = (prev * vp + nxt * vn) / np.maximum(w, 1.0)
            return np.where(w > 0, mean, vo)

        mi, mj, mu, mv, mz = (towards(x) for x in (ci, cj, cu, cv, zc))
        ni, nj = ci + t * (mi - ci), cj + t * (mj - cj)
        nu, nv = cu + t * (mu - cu), cv + t * (mv - cv)
        far = ~near
        # one vertex per quarter-cell position and depth band, shared by neighbouring strips
        band = np.round(np.log(np.where(far, mz, 1.0)) / np.log1p(cut_kwargs["threshold"]))
        key = np.stack([np.round(4 * ni[far]), np.round(4 * nj[far]), band[far]], axis=1).astype(
            np.int64
        )
        uniq, inverse = np.unique(key, axis=0, return_inverse=True)
        inverse = inverse.ravel()
        count = np.bincount(inverse, minlength=len(uniq)).astype(np.float64)

        def mean_of(values: np.ndarray) -> np.ndarray:
            return np.bincount(inverse, weights=values, minlength=len(uniq)) / count

        fu, fv, fz = mean_of(nu[far]), mean_of(nv[far]), mean_of(mz[far])
        edge_faces = corners.astype(np.int64).copy()
        edge_faces[far] = n_all + inverse
        for name, extra in (("u", fu), ("v", fv), ("z", fz), ("tu", fu), ("tv", fv)):
            verts[name].append(extra)

        n_edge = len(uniq)
        n_all += n_edge

        # -- backgrounds behind the background, after the edge strip's vertices -------------
        first_deep = n + lab.size
        deep_faces = np.where(deep["faces"] >= first_deep, deep["faces"] + n_edge, deep["faces"])
        for name in ("u", "v", "z", "tu", "tv"):
            verts[name].append(deep[name])
        n_all += len(deep["z"])

        # -- the skirt: the foreground's cut outline drawn back along the camera rays ------
        # (invisible from the camera; a side view that looks past the outline and out of the
        # picture before it meets the background behind sees it instead of the world)
        strip0 = n_all - len(deep["z"]) - n_edge  # the edge strip's first vertex
        skirt_faces, skirt_q = _skirt(edge_faces, far, cq, strip0, n_all)
        skirt_z = fz * SKIRT_DEPTH
        for name, extra in (("u", fu), ("v", fv), ("z", skirt_z), ("tu", fu), ("tv", fv)):
            verts[name].append(extra)
        n_all += n_edge

        surface_q = np.flatnonzero(finite_quad & ~across)
        faces = np.concatenate(
            [quads[surface_q], edge_faces, skirt_faces, bg_faces, deep_faces]
        ).astype(np.int64)
        layer = np.concatenate(
            [
                np.full(len(surface_q), LAYER_SURFACE, np.uint8),
                np.full(len(cq) + len(skirt_faces), LAYER_EDGE, np.uint8),
                np.full(len(bg_faces) + len(deep_faces), LAYER_BACKGROUND, np.uint8),
            ]
        )
        quad_of = np.concatenate([surface_q, cq, skirt_q, np.flatnonzero(bg_ok), deep["quads"]])
        is_deep = np.zeros(len(faces), bool)
        is_deep[len(faces) - len(deep_faces) :] = True
        v = {k: np.concatenate(x) for k, x in verts.items()}

        # -- small loose parts: painted onto the background behind them -------------------------
        removed = 0
        fragments = np.zeros(0, dtype=np.int64)
        if min_island_faces > 0 and len(faces):
            part = _components(faces, n_all)
            roots, inv, sizes = np.unique(part, return_inverse=True, return_counts=True)
            inv = inv.ravel()
            small = sizes[inv] < min_island_faces
            front = layer != LAYER_BACKGROUND
            # a small front part goes if the background layer covers each of its quads
            covered = bg_ok[quad_of] | ~front
            part_ok = np.ones(len(roots), bool)
            np.logical_and.at(part_ok, inv, covered)
            has_front = np.zeros(len(roots), bool)
            np.logical_or.at(has_front, inv, front)
            # a small background-only part goes if the camera never sees it (no cut quad in it)
            in_cut = across[quad_of]
            seen = np.zeros(len(roots), bool)
            np.logical_or.at(seen, inv, in_cut & ~front & ~is_deep)  # deeper: hidden
            surface = np.zeros(len(roots), bool)
            np.logical_or.at(surface, inv, layer == LAYER_SURFACE)
            # front parts go where the background covers them, or when they are only edge strip
            # (the fringe a thin part leaves); background parts the camera does not see
            drop_part = np.where(has_front, part_ok | ~surface, ~seen)
            drop = small & drop_part[inv]
            # small background-only parts seen through a cut: fragments of a noisy background
            frag = small & ~has_front[inv] & seen[inv]
            fragments = np.unique(quad_of[frag & ~front & ~is_deep])
            if drop.any():
                removed = int(len(np.unique(part[drop])))
                painted = faces[drop & front]
                painted = painted[painted < n]  # grid vertices of the removed front faces
                bg_of = bg_index[painted]
                bg_of = bg_of[bg_of >= 0]
                v["tu"][bg_of] = v["u"][bg_of]
                v["tv"][bg_of] = v["v"][bg_of]
                faces, layer, quad_of = faces[~drop], layer[~drop], quad_of[~drop]
                is_deep = is_deep[~drop]
        out = {"faces": faces, "layer": layer, "verts": v, "islands_removed": removed}
        return out, fragments

    out, fragments = assemble(bg_ok)
    if fragments.size:
        n_fragments = len(np.unique(_components(out["faces"], len(out["verts"]["u"]))))
        bg_ok = bg_ok.copy()
        bg_ok[fragments] = False
        out, _ = assemble(bg_ok)
        n_after = len(np.unique(_components(out["faces"], len(out["verts"]["u"]))))
        out["islands_removed"] += max(0, n_fragments - n_after)
    return out


# ------------------------------------------------------------------------------------------
# Mesh
# ------------------------------------------------------------------------------------------


@dataclass
class MeshData:
    """A grid mesh ready for Blender (``vertices.add`` / ``foreach_set``).

    Attributes:
        vertices: float32 ``(N, 3)`` world coordinates (camera at the origin looking +Y).
        faces: int32 ``(F, 4)`` quads or ``(F, 3)`` triangles, counter-clockwise seen from
            the camera.
        uvs: float32 ``(N, 2)`` per-vertex UVs in ``[0, 1]``; per-loop UVs are
            ``uvs[faces.ravel()]``.
        pixels: float64 ``(N, 2)`` the picture position ``(u, v)`` of each vertex.
        camera: the matching camera.
        grid_shape: ``(ny, nx)`` of the full vertex grid before unused vertices were dropped.
        step: block size in pixels of one grid cell.
        faces_cut: how many quads were removed at discontinuities.
        faces_total: quads of the full grid.
        depth_range: ``(min, max)`` planar depth of the vertices.
        face_layer: uint8 ``(F,)`` what each face is: :data:`LAYER_SURFACE` (the photo's
            surfaces), :data:`LAYER_EDGE` (the foreground's boundary strip over a cut) or
            :data:`LAYER_BACKGROUND` (the background continued behind an occluder).
        islands_removed: loose parts smaller than ``min_island_faces`` that were removed
            (their picture is painted onto the background layer behind them).
    """

    vertices: np.ndarray
    faces: np.ndarray
    uvs: np.ndarray
    pixels: np.ndarray
    camera: CameraParams
    grid_shape: tuple[int, int]
    step: int
    faces_cut: int = 0
    faces_total: int = 0
    depth_range: tuple[float, float] = (0.0, 0.0)
    info: dict = field(default_factory=dict)
    face_layer: np.ndarray | None = None
    islands_removed: int = 0

    @property
    def loop_uvs(self) -> np.ndarray:
        """float32 ``(F * k, 2)``: the UV of each face corner, in face order."""
        return self.uvs[self.faces.ravel()]


def build_mesh(
    depth: np.ndarray,
    *,
    convention: Convention = "disparity",
    edges: np.ndarray | None = None,
    max_vertices: int = 256,
    projection: Projection = "perspective",
    fov_x: float | None = None,
    focal_35mm: float | None = None,
    mapping: Mapping = "near_far",
    near: float = 1.0,
    far: float = 5.0,
    scale: float = 1.0,
    clip_percentile: float = 0.0,
    ortho_width: float | None = None,
    cut: bool = True,
    cut_threshold: float = 0.03,
    slope_ratio: float = 5.0,
    edge_weight: float = 0.5,
    ramp_pixels: float = 8.0,
    triangles: bool = False,
    sensor_width: float = DEFAULT_SENSOR_WIDTH,
    layered: bool = True,
    orbit_degrees: float = 60.0,
    remove_islands: bool = True,
    min_island_faces: int = 64,
    face_budget: int = 0,
    subject_distance: float | None = None,
    subject_height: float | None = None,
    subject_fill: float = 0.8,
) -> MeshData:
    """Back-project a depth map into a textured grid mesh with a camera that matches the photo.

    Perspective (default): vertex ``(u, v)`` with planar depth ``z`` goes to ``x = (u - W/2)
    z / f``, ``y = z``, ``Z = -(v - H/2) z / f`` with ``f`` the focal length in pixels, so the
    created camera sees every vertex at its own pixel. Orthographic relief: ``x = (u - W/2)
    s``, ``Z = -(v - H/2) s`` with ``s = ortho_width / W``, ``y = z`` (the relief), seen by an
    orthographic camera of ``ortho_scale = ortho_width``.

    Args:
        depth: the predictor's map, shape ``(H, W)``, at the photo's size or aspect ratio.
        convention: ``"disparity"`` (larger = nearer) or ``"depth"`` (larger = farther).
        edges: SDDR edge map (larger = stronger), shape ``(H, W)``, or ``None``.
        max_vertices: vertices along the long side (grid density).
        projection: ``"perspective"`` or ``"orthographic"``.
        fov_x: horizontal field of view in degrees; ``None`` estimates it.
        focal_35mm: 35 mm-equivalent focal length (EXIF) used when ``fov_x`` is ``None``.
        mapping, near, far, scale, clip_percentile: see :func:`to_metric_depth`.
        ortho_width: width of the relief in scene units; ``None`` uses the width of the
            perspective view at the median depth, so both projections have the same size.
        cut: remove faces across depth discontinuities (:func:`discontinuity_mask`).
        cut_threshold, slope_ratio, edge_weight: see :func:`discontinuity_mask`. The default
            ``slope_ratio`` 5 (not 3) leaves fewer false cuts on floors seen at a grazing
            angle, whose inverse depth is linear but whose refined depth is noisy.
        ramp_pixels: the widest soft edge, in photo pixels, still cut as a step (predicted and
            refined depth maps spread a step over a few pixels); sets the ``window`` of
            :func:`discontinuity_mask` to ``ceil(ramp_pixels / step)`` grid cells (at least 2).
        triangles: output triangles instead of quads.
        sensor_width: sensor width in mm of the created camera.
        layered: with ``cut``, a layered mesh instead of a torn one, so the matching camera
            sees no holes: each cut quad keeps its near half on the foreground (at the
            foreground's depth: the boundary stays where the photo has it) and the background
            continues behind the occluder (:func:`background_sources`: its depth extended
            inwards, textured by the photo's background pixels extended inwards) far enough
            that side views up to ``orbit_degrees`` see background surface, not the world.
            Where the background cannot go on (it would form a curtain itself) the near part
            covers the whole cut quad. Where the background layer steps in turn (two
            backgrounds meeting behind an occluder, a middle layer between two cuts), the
            farther background goes on behind the nearer one, :data:`BACKGROUND_LEVELS`
            layers deep (:func:`_deeper_levels`). The strip's sides down the picture go on
            back along the camera rays to :data:`SKIRT_DEPTH` times their depth (a skirt,
            :func:`_skirt`, part of the edge strip): for side views that look past an
            outline and out of the picture before they meet any background. ``face_layer``
            tells the faces apart (all background layers are :data:`LAYER_BACKGROUND`).
        orbit_degrees: the widest side view the background layer is made for, as the
            parallax about the median depth. 60 by default: measured on the Middlebury
            Motorcycle, 30 leaves gaps in real 30 degree orbits (nearer occluders, floors
            seen at a grazing angle): 21.2 % world at -30 degrees against 16.8 % with 60.
        remove_islands: remove loose parts smaller than ``min_island_faces`` faces (thin
            fragments such as spokes cut into pieces); their picture stays, painted onto the
            background layer behind them, so the matching camera still sees it.
        min_island_faces: the size below which a loose part counts as an island.
        face_budget: the most faces wanted (about, :func:`expected_faces`): a denser
            ``max_vertices`` is lowered to fit; ``0`` for no limit.
        subject_distance: real-world scale: the whole scene is scaled about the camera (its
            shape and the matching view unchanged) so that the subject, the median depth of
            the photo's central half, lies this far from the camera (scene units).
        subject_height: real-world scale from a size instead: the subject, filling
            ``subject_fill`` of the photo's height at that median depth, is this tall.
            Ignored when ``subject_distance`` is given.
        subject_fill: see ``subject_height`` (0-1).

    Returns:
        a :class:`MeshData`.
    """
    dmap = np.asarray(depth)
    if dmap.ndim == 3 and dmap.shape[2] in (1, 3, 4):
        dmap = dmap[..., 0]
    if dmap.ndim != 2:
        raise MeshError(f"Expected a single-channel (H, W) depth map, got shape {dmap.shape}.")
    if projection not in ("perspective", "orthographic"):
        raise MeshError(f"Projection must be 'perspective' or 'orthographic', got {projection!r}.")
    h, w = dmap.shape
    budget_vertices = vertices_for_budget(
        h, w, int(max_vertices), int(face_budget), layered=cut and layered, triangles=triangles
    )
    step, ny, nx = grid_layout(h, w, budget_vertices)

    z_full = to_metric_depth(
        dmap,
        convention,
        mapping=mapping,
        near=near,
        far=far,
        scale=scale,
        clip_percentile=clip_percentile,
    )
    fov = estimate_fov_x(w, h, fov_x=fov_x, focal_35mm=focal_35mm)
    focal_px = w / (2.0 * math.tan(math.radians(fov) / 2.0))
    subject_scale = _subject_scale(
        z_full, focal_px, distance=subject_distance, height=subject_height, fill=subject_fill
    )
    if subject_scale != 1.0:
        z_full = z_full * subject_scale
    z = grid_sample(z_full, step, "median")

    uu, vv = np.meshgrid(_vertex_pixels(w, step), _vertex_pixels(h, step), indexing="xy")
    zz = z.astype(np.float64)
    finite_z = zz[np.isfinite(zz)]
    if finite_z.size == 0:
        raise MeshError("No usable depth: every value is missing or not positive.")
    if projection == "perspective":
        x = (uu - w / 2.0) * zz / focal_px
        up = -(vv - h / 2.0) * zz / focal_px
        width_units = ortho_width or 2.0 * float(np.median(finite_z)) * w / (2.0 * focal_px)
    else:
        width_units = ortho_width or 2.0 * float(np.median(finite_z)) * w / (2.0 * focal_px)
        s = width_units / w
        x = (uu - w / 2.0) * s
        up = -(vv - h / 2.0) * s
    verts = np.stack([x, zz, up], axis=-1).reshape(-1, 3)
    pixels = np.stack([uu, vv], axis=-1).reshape(-1, 2)
    uvs = np.stack([uu / w, 1.0 - vv / h], axis=-1).reshape(-1, 2)

    quads = grid_faces(ny, nx, triangles=False)
    keep = np.all(np.isfinite(zz).ravel()[quads], axis=1)
    n_cut = 0
    layered_out = None
    if cut and ny > 1 and nx > 1:
        e_grid = None
        if edges is not None:
            e_arr = np.asarray(edges, dtype=np.float32)
            if e_arr.shape != (h, w):
                raise MeshError(
                    f"Edge map shape {e_arr.shape} does not match the depth map {(h, w)}."
                )
            e_grid = grid_sample(normalise_edges(e_arr), step, "max")
        cut_kwargs = {
            "threshold": cut_threshold,
            "slope_ratio": slope_ratio,
            "edge_weight": edge_weight,
            "planar_in": "disparity" if projection == "perspective" else "depth",
            "window": max(2, math.ceil(ramp_pixels / step)),
        }
        cut_x, cut_y = discontinuity_mask(z, e_grid, **cut_kwargs)
        across = _faces_cut(cut_x, cut_y)
        n_cut = int(np.count_nonzero(across & keep))
        if layered:
            # how far a side view at `orbit_degrees` around the median depth looks behind
            # an occluder: the parallax between its depth and the background's, in cells
            zmed = float(np.median(finite_z))
            sin_t = math.sin(math.radians(max(0.0, min(float(orbit_degrees), 89.0))))

            def limit_of(zg: np.ndarray) -> np.ndarray:
                """How far (cells) a background goes on behind each vertex of depths ``zg``:
                the parallax between it and its farthest neighbour at ``orbit_degrees``."""
                with np.errstate(divide="ignore", invalid="ignore"):
                    if projection == "perspective":
                        zfar = np.fmax(zg, _max_neighbour(zg))
                        shift = focal_px * sin_t * zmed * (1.0 / zg - 1.0 / zfar)
                    else:
                        shift = sin_t * (_max_neighbour(zg) - zg) / (width_units / w)
                limit = np.ceil(np.nan_to_num(shift, nan=0.0) / step) + 1
                return np.minimum(limit, max(ny, nx)).astype(np.int64)

            layered_out = _layered(
                zz,
                uu,
                vv,
                quads,
                keep,
                across,
                cut_x,
                cut_y,
                limit_of,
                cut_kwargs=cut_kwargs,
                min_island_faces=int(min_island_faces) if remove_islands else 0,
            )
        keep &= ~across

    face_layer = None
    islands_removed = 0
    if layered_out is not None:
        lv = layered_out["verts"]
        if projection == "perspective":
            lx = (lv["u"] - w / 2.0) * lv["z"] / focal_px
            lup = -(lv["v"] - h / 2.0) * lv["z"] / focal_px
        else:
            s_px = width_units / w
            lx = (lv["u"] - w / 2.0) * s_px
            lup = -(lv["v"] - h / 2.0) * s_px
        verts = np.stack([lx, lv["z"], lup], axis=-1)
        pixels = np.stack([lv["u"], lv["v"]], axis=-1)
        uvs = np.stack([lv["tu"] / w, 1.0 - lv["tv"] / h], axis=-1)
        faces = layered_out["faces"]
        face_layer = layered_out["layer"]
        islands_removed = layered_out["islands_removed"]
        if triangles:
            faces = np.stack([faces[:, [0, 1, 2]], faces[:, [0, 2, 3]]], axis=1).reshape(-1, 3)
            face_layer = np.repeat(face_layer, 2)
    else:
        faces = grid_faces(ny, nx, triangles=triangles)
        faces = faces[np.repeat(keep, 2)] if triangles else faces[keep]
        face_layer = np.zeros(len(faces), dtype=np.uint8)

    used = np.zeros(len(verts), dtype=bool)
    used[faces.ravel()] = True
    remap = np.full(len(verts), -1, dtype=np.int64)
    remap[used] = np.arange(int(used.sum()))
    faces = remap[faces].astype(np.int32)
    verts, pixels, uvs = verts[used], pixels[used], uvs[used]

    zs = verts[:, 1] if len(verts) else finite_z
    zmin, zmax = float(zs.min()), float(zs.max())
    camera = CameraParams(
        projection=projection,
        width=int(w),
        height=int(h),
        fov_x=float(fov),
        lens=float(sensor_width / (2.0 * math.tan(math.radians(fov) / 2.0))),
        sensor_width=float(sensor_width),
        ortho_scale=float(width_units),
        clip_start=float(max(1e-3, min(0.1, 0.5 * zmin))),
        clip_end=float(max(zmax * 2.0, zmin + 1.0)),
    )
    return MeshData(
        vertices=verts.astype(np.float32),
        faces=faces,
        uvs=uvs.astype(np.float32),
        pixels=pixels,
        camera=camera,
        grid_shape=(ny, nx),
        step=step,
        faces_cut=n_cut,
        faces_total=(ny - 1) * (nx - 1),
        depth_range=(zmin, zmax),
        info={
            "fov_x": fov,
            "focal_px": focal_px,
            "max_vertices": budget_vertices,
            "subject_scale": subject_scale,
        },
        face_layer=face_layer.astype(np.uint8),
        islands_removed=islands_removed,
    )


def subject_depth(z: np.ndarray) -> float:
    """The subject's depth: the median finite depth of the central half of the picture (the
    middle 50 % of rows and columns), where photographers put the subject."""
    h, w = z.shape
    centre = z[h // 4 : h - h // 4 or h, w // 4 : w - w // 4 or w]
    vals = centre[np.isfinite(centre)]
    if vals.size == 0:
        vals = z[np.isfinite(z)]
    if vals.size == 0:
        raise MeshError("No usable depth: every value is missing or not positive.")
    return float(np.median(vals))


def _subject_scale(
    z: np.ndarray,
    focal_px: float,
    *,
    distance: float | None,
    height: float | None,
    fill: float,
) -> float:
    """The factor that puts the subject at ``distance`` or makes it ``height`` tall."""
    if distance is None and height is None:
        return 1.0
    zs = subject_depth(z)
    if distance is not None:
        if not distance > 0:
            raise MeshError(f"Subject distance must be positive, got {distance}.")
        return float(distance) / zs
    if not (height > 0 and 0 < fill <= 1):  # type: ignore[operator]
        raise MeshError(
            f"Subject height must be positive and its share of the photo in (0, 1], got "
            f"{height} and {fill}."
        )
    # at depth zs the photo's height spans h * zs / focal_px; the subject fills `fill` of it
    frame_height = z.shape[0] * zs / focal_px
    return float(height) / (fill * frame_height)


def _max_neighbour(z: np.ndarray) -> np.ndarray:
    """The largest of each grid vertex's four neighbours (NaN-aware), shape ``(ny, nx)``."""
    pad = np.pad(z, 1, constant_values=np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmax(
            np.stack([pad[:-2, 1:-1], pad[2:, 1:-1], pad[1:-1, :-2], pad[1:-1, 2:]]), axis=0
        )
