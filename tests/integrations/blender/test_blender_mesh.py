"""The add-on's numpy mesh module (no bpy): counts, projection, cutting, UVs, conventions."""

from __future__ import annotations

import math

import numpy as np
import pytest
from blender_helpers import load_addon_module, synthetic_scene

mesh = load_addon_module("mesh")


def _plane_disparity(h: int, w: int, a: float, b: float, c: float) -> np.ndarray:
    """Disparity of a 3D plane seen through a pinhole: affine in the pixel centres."""
    v, u = np.mgrid[0:h, 0:w] + 0.5
    return (a * u + b * v + c).astype(np.float32)


# -- grid ----------------------------------------------------------------------------------


def test_counts_full_resolution_quads():
    d = np.ones((30, 40), np.float32)
    m = mesh.build_mesh(d, max_vertices=40, cut=False)
    assert m.grid_shape == (30, 40) and m.step == 1
    assert m.vertices.shape == (30 * 40, 3) and m.vertices.dtype == np.float32
    assert m.faces.shape == (29 * 39, 4) and m.faces.dtype == np.int32
    assert m.uvs.shape == (30 * 40, 2)
    assert m.faces_total == 29 * 39 and m.faces_cut == 0


def test_counts_downsampled_and_triangles():
    d = np.ones((100, 250), np.float32)
    m = mesh.build_mesh(d, max_vertices=50, cut=False, triangles=True)
    step, ny, nx = mesh.grid_layout(100, 250, 50)
    assert step == 5 and (ny, nx) == (20, 50) == m.grid_shape
    assert m.faces.shape == (2 * 19 * 49, 3)
    assert len(m.vertices) == 20 * 50
    assert max(m.grid_shape) <= 50


def test_grid_layout_uneven_blocks():
    step, ny, nx = mesh.grid_layout(101, 203, 64)
    assert step == 4 and ny == 26 and nx == 51
    z = np.arange(101 * 203, dtype=np.float32).reshape(101, 203)
    g = mesh.grid_sample(z, step)
    assert g.shape == (26, 51)
    assert g[0, 0] == pytest.approx(np.median(z[:4, :4]))
    assert g[-1, -1] == pytest.approx(np.median(z[100:, 200:]))  # partial corner block


def test_median_sampling_keeps_steps_sharp():
    z = np.ones((8, 8), np.float32)
    z[:, 5:] = 3.0  # a step inside the second block column (columns 4..7)
    g = mesh.grid_sample(z, 4)
    assert set(np.unique(g)) <= {1.0, 3.0}  # no in-between depth invented


def test_faces_face_the_camera():
    d = np.ones((6, 8), np.float32)
    m = mesh.build_mesh(d, max_vertices=8, cut=False)
    v = m.vertices.astype(np.float64)[m.faces]
    normal = np.cross(v[:, 1] - v[:, 0], v[:, 2] - v[:, 0])
    centre = v.mean(axis=1)
    assert np.all(np.einsum("ij,ij->i", normal, -centre) > 0)  # towards the origin


def test_bad_inputs_say_what_to_change():
    with pytest.raises(mesh.MeshError, match="near"):
        mesh.build_mesh(np.ones((4, 4)), near=5.0, far=1.0)
    with pytest.raises(mesh.MeshError, match="single-channel"):
        mesh.build_mesh(np.ones((4, 4, 2)))
    with pytest.raises(mesh.MeshError, match="no finite"):
        mesh.build_mesh(np.full((4, 4), np.nan))
    with pytest.raises(mesh.MeshError, match="at least 2"):
        mesh.build_mesh(np.ones((4, 4)), max_vertices=1)


# -- projection ----------------------------------------------------------------------------


def _project_independently(cam, pts: np.ndarray) -> np.ndarray:
    """Blender's camera model written out: rotate by XYZ Euler, pinhole, pixels."""
    ax, ay, az = cam.rotation_euler
    rx = np.array([[1, 0, 0], [0, math.cos(ax), -math.sin(ax)], [0, math.sin(ax), math.cos(ax)]])
    ry = np.array([[math.cos(ay), 0, math.sin(ay)], [0, 1, 0], [-math.sin(ay), 0, math.cos(ay)]])
    rz = np.array([[math.cos(az), -math.sin(az), 0], [math.sin(az), math.cos(az), 0], [0, 0, 1]])
    rot = rz @ ry @ rx
    local = (pts - np.asarray(cam.location)) @ rot  # world -> camera (R^T x)
    # sensor_fit HORIZONTAL: lens / sensor_width is the focal length in render widths
    f = cam.lens / cam.sensor_width * cam.width
    u = local[:, 0] / -local[:, 2] * f + cam.width / 2
    v = -local[:, 1] / -local[:, 2] * f + cam.height / 2
    return np.stack([u, v], 1)


@pytest.mark.parametrize("fov", [30.0, 55.0, 90.0])
def test_back_projection_round_trip(fov):
    sc = synthetic_scene(60, 80)
    m = mesh.build_mesh(sc["disparity"], fov_x=fov, max_vertices=80, cut=False)
    assert m.camera.fov_x == pytest.approx(fov)
    assert m.camera.sensor_fit == "HORIZONTAL"
    uv = _project_independently(m.camera, m.vertices.astype(np.float64))
    np.testing.assert_allclose(uv, m.pixels, atol=1e-3)
    np.testing.assert_allclose(m.camera.project(m.vertices), m.pixels, atol=1e-3)
    # interior vertices are the pixel centres, the outer ring is on the picture's border
    assert m.pixels[:, 0].min() == 0.0 and m.pixels[:, 0].max() == 80.0
    assert np.isin(m.pixels[:, 0], np.r_[0.0, np.arange(1, 79) + 0.5, 80.0]).all()
    # the camera sits at the origin looking along +Y: every vertex is in front of it
    assert (m.vertices[:, 1] > 0).all()


def test_depth_is_planar_z():
    d = np.ones((20, 30), np.float32)
    m = mesh.build_mesh(d, convention="depth", mapping="scale", scale=2.5, cut=False)
    np.testing.assert_allclose(m.vertices[:, 1], 2.5)  # y is z-depth, not ray length


def test_orthographic_relief_round_trip():
    sc = synthetic_scene(40, 60)
    m = mesh.build_mesh(sc["disparity"], projection="orthographic", ortho_width=3.0, cut=False)
    assert m.camera.projection == "orthographic" and m.camera.ortho_scale == 3.0
    np.testing.assert_allclose(m.camera.project(m.vertices), m.pixels, atol=1e-4)
    xs = m.vertices[:, 0]
    assert xs.min() == pytest.approx(-1.5) and xs.max() == pytest.approx(1.5)


def test_fov_estimates():
    assert mesh.estimate_fov_x(400, 300) == mesh.DEFAULT_FOV_X == 55.0
    assert mesh.estimate_fov_x(400, 300, fov_x=70) == 70
    # a 36x24 photo at 35 mm-equivalent focal f has a horizontal FOV of 2 atan(18 / f)
    assert mesh.estimate_fov_x(3600, 2400, focal_35mm=50) == pytest.approx(
        math.degrees(2 * math.atan(18 / 50)), rel=1e-6
    )
    assert mesh.estimate_fov_x(4000, 3000, focal_mm=4.0, sensor_width_mm=6.4) == pytest.approx(
        math.degrees(2 * math.atan(3.2 / 4.0))
    )
    m = mesh.build_mesh(np.ones((24, 36)), focal_35mm=50, cut=False)
    assert m.camera.lens == pytest.approx(50.0, rel=1e-6)  # full-frame sensor: the same lens


# -- cutting -------------------------------------------------------------------------------


@pytest.mark.parametrize("convention", ["disparity", "depth"])
def test_cut_removes_exactly_the_faces_across_a_step(convention):
    d = np.full((20, 30), 1.0 if convention == "disparity" else 2.0, np.float32)
    d[:, 17:] = 0.5 if convention == "disparity" else 4.0  # far half: a step between 16 | 17
    m = mesh.build_mesh(d, convention=convention, max_vertices=30, cut=True, layered=False)
    assert m.faces_cut == 19  # the column of quads between vertex columns 16 and 17
    assert len(m.faces) == 19 * 29 - 19
    corner_u = m.pixels[m.faces][..., 0]  # (F, 4) pixel u of the corners
    straddles = (corner_u.min(axis=1) < 17) & (corner_u.max(axis=1) > 17)
    assert not straddles.any()
    # nothing else removed: every remaining quad is on one side
    assert ((corner_u.max(axis=1) <= 16.5) | (corner_u.min(axis=1) >= 17.5)).all()


def test_cut_outlines_remove_only_faces_joining_front_objects_to_the_back():
    sc = synthetic_scene(60, 80)
    labels = sc["labels"]

    def joins_front_to_back(mm) -> np.ndarray:
        rows = np.clip(np.floor(mm.pixels[:, 1]).astype(int), 0, 59)
        cols = np.clip(np.floor(mm.pixels[:, 0]).astype(int), 0, 79)
        per_face = labels[rows, cols][mm.faces]
        return np.array([len(set(f)) > 1 and bool(set(f) & {2, 3}) for f in per_face])

    cut = mesh.build_mesh(sc["disparity"], max_vertices=80, cut=True, layered=False)
    full = mesh.build_mesh(sc["disparity"], max_vertices=80, cut=False)
    assert not joins_front_to_back(cut).any()  # no curtain left
    must = joins_front_to_back(full)
    assert must.sum() > 50
    assert cut.faces_cut == int(must.sum())  # and nothing else (the wall-floor crease stays)


@pytest.mark.parametrize("slope", [(0.004, 0.0), (0.0, 0.02), (0.01, 0.015)])
def test_no_cut_on_a_slanted_plane(slope):
    # steep planes: up to ~3x depth change across the picture, 5 %+ between neighbours
    d = _plane_disparity(48, 64, slope[0], slope[1], 0.1)
    for step_vertices in (64, 16):
        m = mesh.build_mesh(d, max_vertices=step_vertices, cut=True, cut_threshold=0.01)
        assert m.faces_cut == 0


def test_edge_map_lowers_the_threshold_only_where_it_is_strong():
    d = np.ones((10, 40), np.float32)
    d[:, 10:] = 1.0 / 1.025  # a 2.5 % step at column 10 (below the 3 % threshold)
    d[:, 30:] = 1.0 / (1.025 * 1.025)  # and another at column 30
    edges = np.zeros_like(d)
    edges[:, 9:11] = 1.0  # SDDR saw the first one only
    metric = {"max_vertices": 40, "cut": True, "mapping": "scale"}  # z = 1 / d exactly
    plain = mesh.build_mesh(d, **metric)
    assert plain.faces_cut == 0
    with_edges = mesh.build_mesh(d, edges=edges, **metric)
    assert with_edges.faces_cut == 9  # the column at the first step only
    no_weight = mesh.build_mesh(d, edges=edges, edge_weight=0.0, **metric)
    assert no_weight.faces_cut == 0


def test_discontinuity_mask_shapes_and_neighbour_rule():
    z = np.array([[1.0, 1.0, 2.0, 2.0, 2.0]] * 3)
    cut_x, cut_y = mesh.discontinuity_mask(z)
    assert cut_x.shape == (3, 4) and cut_y.shape == (2, 5)
    assert cut_x[:, 1].all() and cut_x.sum() == 3 and not cut_y.any()


@pytest.mark.parametrize(
    ("disparity_row", "expected"),
    [
        ([1, 1, 1, 1, 0.75, 0.5, 0.5, 0.5, 0.5], [3, 4]),  # a step spread over two cells
        ([1, 1, 1, 1, 0.8, 0.6, 0.4, 0.2, 0.2, 0.2, 0.2], [3, 4, 5, 6]),  # ... over four
        ([0.5, 0.5, 0.5, 0.5, 1, 0.5, 0.5, 0.5, 0.5], [3, 4]),  # an object one cell wide
        ([0.2] * 4 + [0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9], []),  # a wall meets a steep floor
        ([0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0], []),  # a plane
        ([0.2, 0.3, 0.4, 0.5, 0.6, 1.1, 1.2, 1.3, 1.4, 1.5], [4]),  # a step between slopes
    ],
)
def test_step_versus_slope_cases(disparity_row, expected):
    z = 1.0 / np.array([disparity_row] * 2, dtype=np.float64)
    cut_x, _ = mesh.discontinuity_mask(z, threshold=0.05)
    assert np.flatnonzero(cut_x[0]).tolist() == expected


def test_unused_vertices_are_dropped_and_indices_valid():
    d = np.ones((10, 10), np.float32)
    d[:, 5:] = 0.2
    d[5:, :] = np.nan  # missing depth: no faces there
    m = mesh.build_mesh(d, max_vertices=10, cut=True, layered=False)
    assert m.faces.min() >= 0 and m.faces.max() < len(m.vertices)
    used = np.zeros(len(m.vertices), bool)
    used[m.faces.ravel()] = True
    assert used.all()
    assert np.isfinite(m.vertices).all()


# -- UVs and conventions ------------------------------------------------------------------


def test_uvs_cover_the_unit_square_and_match_pixels():
    sc = synthetic_scene(30, 50)
    m = mesh.build_mesh(sc["disparity"], max_vertices=20, cut=False)
    assert m.uvs.min() == 0.0 and m.uvs.max() == 1.0
    np.testing.assert_allclose(m.uvs[:, 0], m.pixels[:, 0] / 50, atol=1e-6)
    np.testing.assert_allclose(m.uvs[:, 1], 1 - m.pixels[:, 1] / 30, atol=1e-6)
    assert m.loop_uvs.shape == (m.faces.size, 2)


def test_disparity_and_depth_conventions_agree():
    z_true = np.linspace(1.0, 5.0, 40, dtype=np.float64)[None].repeat(8, 0)
    from_disp = mesh.to_metric_depth(1.0 / z_true, "disparity", near=1.0, far=5.0)
    np.testing.assert_allclose(from_disp, z_true, rtol=1e-5)  # exact for inverse depth
    from_depth = mesh.to_metric_depth(z_true, "depth", near=1.0, far=5.0)
    np.testing.assert_allclose(from_depth, z_true, rtol=1e-5)
    # larger disparity = nearer; larger depth = farther
    assert from_disp[0, 0] < from_disp[0, -1] and from_depth[0, 0] < from_depth[0, -1]
    affine = 3.0 / z_true + 7.0  # affine-invariant disparity: same result
    np.testing.assert_allclose(mesh.to_metric_depth(affine, "disparity", near=1, far=5), z_true)


def test_near_far_and_scale_mappings():
    d = np.linspace(0.0, 1.0, 11, dtype=np.float32)[None]
    z = mesh.to_metric_depth(d, "depth", near=2.0, far=8.0)
    assert z.min() == pytest.approx(2.0) and z.max() == pytest.approx(8.0)
    zd = mesh.to_metric_depth(d, "disparity", near=2.0, far=8.0)
    assert zd[0, -1] == pytest.approx(2.0) and zd[0, 0] == pytest.approx(8.0)
    metric = mesh.to_metric_depth(d + 1, "depth", mapping="scale", scale=0.5)
    np.testing.assert_allclose(metric, 0.5 * (d + 1))
    inv = mesh.to_metric_depth(d + 1, "disparity", mapping="scale", scale=2.0)
    np.testing.assert_allclose(inv, 2.0 / (d + 1), rtol=1e-6)
    m = mesh.build_mesh(np.tile(d, (4, 1)), convention="depth", near=2.0, far=8.0, cut=False)
    assert m.depth_range[0] == pytest.approx(2.0) and m.depth_range[1] == pytest.approx(8.0)
    assert m.camera.clip_start < 2.0 and m.camera.clip_end > 8.0


def test_percentile_clipping_ignores_outliers():
    d = np.linspace(1.0, 2.0, 1000, dtype=np.float32).reshape(10, 100)
    d[0, 0] = 1000.0  # one wild value
    z = mesh.to_metric_depth(d, "depth", near=1.0, far=3.0, clip_percentile=1.0)
    assert np.median(z) == pytest.approx(2.0, abs=0.05)


# -- layered mesh --------------------------------------------------------------------------


def _coverage(m, h: int, w: int) -> np.ndarray:
    """Which points of a half-pixel grid the faces cover as the matching camera sees them
    (vertices sit on pixel centres, so holes between them fall between pixel centres)."""
    h, w = 2 * h, 2 * w
    covered = np.zeros((h, w), bool)
    v, u = (np.mgrid[0:h, 0:w] + 0.5) / 2.0
    px = m.pixels
    for face in m.faces:
        for tri in ((face[0], face[1], face[2]), (face[0], face[2], face[3])):
            a, b, c = px[list(tri)]
            lo = np.floor(2 * np.minimum(np.minimum(a, b), c)).astype(int)
            hi = np.ceil(2 * np.maximum(np.maximum(a, b), c)).astype(int)
            sl = (slice(max(lo[1], 0), min(hi[1], h)), slice(max(lo[0], 0), min(hi[0], w)))
            uu, vv = u[sl], v[sl]
            d = (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])
            if d == 0:
                continue
            l1 = ((uu - a[0]) * (c[1] - a[1]) - (vv - a[1]) * (c[0] - a[0])) / d
            l2 = ((b[0] - a[0]) * (vv - a[1]) - (b[1] - a[1]) * (uu - a[0])) / d
            eps = 1e-9
            covered[sl] |= (l1 >= -eps) & (l2 >= -eps) & (l1 + l2 <= 1 + eps)
    return covered


def test_layered_mesh_covers_every_pixel_and_has_no_curtains():
    sc = synthetic_scene(60, 80)
    torn = mesh.build_mesh(sc["disparity"], max_vertices=80, cut=True, layered=False)
    layered = mesh.build_mesh(sc["disparity"], max_vertices=80, cut=True)
    assert not _coverage(torn, 60, 80).all()  # the torn mesh has holes along the outlines
    assert _coverage(layered, 60, 80).all()  # the layered one none
    # no face joins the box or disc to the wall (a curtain spans 1:5 in depth here)
    z = layered.vertices[:, 1][layered.faces]
    assert (z.max(axis=1) / z.min(axis=1)).max() < 1.5
    z_full = mesh.build_mesh(sc["disparity"], max_vertices=80, cut=False).vertices[:, 1]
    assert (z_full.max() / z_full.min()) > 4.0
    counts = np.bincount(layered.face_layer, minlength=3)
    assert counts[mesh.LAYER_EDGE] > 0 and counts[mesh.LAYER_BACKGROUND] > 0


def test_background_layer_continues_the_far_side_behind_the_occluder():
    z = np.full((10, 30), 4.0)
    z[:, 10:20] = 2.0  # a slab in front of a wall
    cut_x, cut_y = mesh.discontinuity_mask(z)
    source, distance = mesh.background_sources(z, cut_x, cut_y, 4, vertical_cost=1)
    src = source.reshape(10, 30)
    # the slab's columns within 4 steps of either edge continue the wall; the middle not
    assert (src[:, 10:15] >= 0).all() and (src[:, 15:20] >= 0).all()
    assert (z.ravel()[src[src >= 0]] == 4.0).all()
    assert (src[:, :10] < 0).all() and (src[:, 20:] < 0).all()  # the wall hides nothing
    limited = mesh.background_sources(z, cut_x, cut_y, 1, vertical_cost=1)[0].reshape(10, 30)
    assert (limited[:, [10, 11, 18, 19]] >= 0).all() and (limited[:, 12:18] < 0).all()
    assert distance.reshape(10, 30)[0, 10] == 0


def test_layered_background_is_textured_by_the_photo_behind_and_hidden_from_the_camera():
    z_disp = np.full((20, 40), 0.25, np.float32)
    z_disp[:, 15:25] = 1.0
    m = mesh.build_mesh(z_disp, max_vertices=40, cut=True, mapping="scale")
    bg = np.unique(m.faces[m.face_layer == mesh.LAYER_BACKGROUND])
    # background vertices behind the slab sit at the wall's depth, textured by wall pixels
    behind = bg[(m.pixels[bg, 0] > 15.5) & (m.pixels[bg, 0] < 24.5)]
    assert len(behind) > 0
    np.testing.assert_allclose(m.vertices[behind, 1], 4.0, rtol=0.05)
    tex_u = m.uvs[behind, 0] * 40
    assert ((tex_u < 15) | (tex_u > 25)).all()


def test_small_islands_are_removed_by_default_and_kept_on_request():
    rng = np.random.default_rng(0)
    d = np.full((60, 80), 0.25, np.float32)
    d[10:50, 10:70] = 1.0  # a big object
    speck = rng.random((60, 80)) < 0.01  # isolated specks in front
    d[speck & (d < 0.5)] = 0.8
    kept = mesh.build_mesh(d, max_vertices=80, remove_islands=False)
    removed = mesh.build_mesh(d, max_vertices=80)
    assert removed.islands_removed > 0
    parts_kept = np.unique(mesh._components(kept.faces, len(kept.vertices)))
    parts_removed = np.unique(mesh._components(removed.faces, len(removed.vertices)))
    assert len(parts_removed) < len(parts_kept)
    assert _coverage(removed, 60, 80).mean() > 0.995
