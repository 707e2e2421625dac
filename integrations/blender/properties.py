"""The scene settings of the SDDR panel (``scene.sddr``) and the predictor list."""

from __future__ import annotations

import json

import bpy
from bpy.props import (
    BoolProperty,
    EnumProperty,
    FloatProperty,
    IntProperty,
    PointerProperty,
    StringProperty,
)

from . import artist, mesh

#: Shown before 'Check Python' has listed what the worker really has.
FALLBACK_PREDICTORS = (
    ("depth-anything-v2-small", "disparity", "Depth Anything V2 Small (Apache-2.0)"),
)
CUSTOM = "__custom__"

# Blender keeps only pointers to enum item strings: hold the list so they stay alive.
_predictor_items: list[tuple[str, str, str]] = []


def cached_predictors(context: bpy.types.Context | None = None) -> list[dict]:
    """Predictors found by the last 'Check Python' (stored in the add-on preferences)."""
    from .preferences import get_preferences

    prefs = get_preferences(context)
    if prefs is None or not prefs.predictors_json:
        return []
    try:
        return list(json.loads(prefs.predictors_json))
    except (ValueError, TypeError):
        return []


def _predictor_enum(self, context):
    found = cached_predictors(context)
    items = [
        (
            p["name"],
            p["name"],
            f"{p.get('description', '')} ({p.get('kind', '')}, licence {p.get('licence', '?')})",
        )
        for p in found
    ]
    if not items:
        items = [(name, name, text) for name, _kind, text in FALLBACK_PREDICTORS]
    items.append((CUSTOM, "Other...", "Type a predictor name or file.py:object"))
    _predictor_items[:] = items
    return _predictor_items


def _apply_preset(self, _context) -> None:
    for name, value in artist.PRESETS.get(self.preset, {}).items():
        setattr(self, name, value)


def _remember_photo_size(self, _context) -> None:
    """The photo's size, for the face count shown before building (draw() cannot load)."""
    w = h = 0
    try:
        if self.image_source == "DATABLOCK" and self.image is not None:
            w, h = self.image.size
        elif self.image_path:
            img = bpy.data.images.load(bpy.path.abspath(self.image_path), check_existing=True)
            w, h = img.size
    except (RuntimeError, ValueError):
        w = h = 0
    self.photo_width, self.photo_height = int(w), int(h)


class SDDR_PG_settings(bpy.types.PropertyGroup):
    """Everything the SDDR panel edits; ``scene.sddr``."""

    preset: EnumProperty(
        name="Preset",
        description="Set the mesh settings for a kind of photo (edit them afterwards)",
        items=(
            ("CUSTOM", "Custom", "Your own settings"),
            ("PORTRAIT", "Portrait", "A person 1-4 m away: fine islands removed"),
            ("PRODUCT", "Product", "An object 0.3-1 m away: dense grid, crisp outlines"),
            ("LANDSCAPE", "Landscape", "5-500 m: terrain is not cut, coarse islands removed"),
            ("ARCHITECTURE", "Architecture", "Rooms and buildings 2-30 m away"),
        ),
        default="CUSTOM",
        update=_apply_preset,
    )

    # -- input ------------------------------------------------------------------------------
    image_source: EnumProperty(
        name="Image",
        items=(
            ("FILE", "File", "A photo on disk"),
            ("DATABLOCK", "In .blend", "An image already loaded in this file"),
        ),
        default="FILE",
    )
    image_path: StringProperty(name="Photo", subtype="FILE_PATH", update=_remember_photo_size)
    image: PointerProperty(name="Image", type=bpy.types.Image, update=_remember_photo_size)
    photo_width: IntProperty(default=0, options={"HIDDEN", "SKIP_SAVE"})
    photo_height: IntProperty(default=0, options={"HIDDEN", "SKIP_SAVE"})

    depth_source: EnumProperty(
        name="Depth",
        items=(
            ("PREDICT", "Estimate (SDDR)", "Run a depth predictor refined by SDDR"),
            ("FILE", "My depth map", "Use a depth map you already have (.png, .exr, .npy)"),
        ),
        default="PREDICT",
    )
    depth_path: StringProperty(name="Depth map", subtype="FILE_PATH")
    depth_convention: EnumProperty(
        name="Convention",
        items=(
            (
                "disparity",
                "White = near",
                "Disparity / inverse depth (Depth Anything, MiDaS, ControlNet depth maps)",
            ),
            ("depth", "White = far", "Depth (Z pass, metric depth maps)"),
        ),
        default="disparity",
    )

    predictor: EnumProperty(name="Predictor", items=_predictor_enum)
    predictor_custom: StringProperty(
        name="Name",
        description="A registered predictor name, or path/to/file.py:object for your own",
    )
    mode: EnumProperty(
        name="Mode",
        items=(
            ("one-stage", "One-stage", "Two predictor passes and one fusion: fast"),
            ("two-stage", "Two-stage", "Then coarse-to-fine windows: sharpest edges, slower"),
        ),
        default="one-stage",
    )
    snap_edges: BoolProperty(
        name="Snap Edges to Photo",
        description="Move the depth map's edges onto the photo's edges (a colour-weighted "
        "median near depth edges): crisper silhouettes on the mesh",
        default=True,
    )

    # -- mesh -------------------------------------------------------------------------------
    resolution: IntProperty(
        name="Vertices (long side)",
        description="Grid density: vertices along the photo's long side (downsampled depth)",
        default=512,
        min=8,
        soft_max=2048,
        max=8192,
    )
    projection: EnumProperty(
        name="Projection",
        items=(
            ("PERSPECTIVE", "Perspective", "Back-project through a pinhole camera"),
            ("ORTHOGRAPHIC", "Relief", "Orthographic relief: a displaced flat picture"),
        ),
        default="PERSPECTIVE",
    )
    fov_mode: EnumProperty(
        name="Field of view",
        items=(
            ("AUTO", "Auto", f"From EXIF when present, else {mesh.DEFAULT_FOV_X:g} degrees"),
            ("MANUAL", "Manual", "Type the horizontal field of view"),
        ),
        default="AUTO",
    )
    fov_x: FloatProperty(
        name="Horizontal FOV",
        description="Horizontal field of view of the photo, degrees",
        default=mesh.DEFAULT_FOV_X,
        min=1.0,
        max=179.0,
    )
    depth_mapping: EnumProperty(
        name="Scale",
        items=(
            ("NEAR_FAR", "Near / far", "Relative depth: nearest pixel at Near, farthest at Far"),
            ("SCALE", "Metric x scale", "The map is metric depth: multiply by Scale"),
            (
                "SUBJECT",
                "Real-world subject",
                "Spread between Near and Far, then scaled (shape and camera view unchanged) "
                "so the subject is at a given distance or of a given height",
            ),
        ),
        default="NEAR_FAR",
    )
    subject_mode: EnumProperty(
        name="Subject",
        items=(
            ("DISTANCE", "Distance", "How far the subject was from the camera"),
            ("SIZE", "Height", "How tall the subject is"),
        ),
        default="DISTANCE",
    )
    subject_distance: FloatProperty(
        name="Subject distance",
        description="Distance from the camera to the subject (the middle of the photo)",
        default=2.0,
        min=0.001,
        unit="LENGTH",
    )
    subject_height: FloatProperty(
        name="Subject height",
        description="Real height of the subject in the middle of the photo",
        default=1.75,
        min=0.001,
        unit="LENGTH",
    )
    subject_fill: FloatProperty(
        name="Fills % of height",
        description="How much of the photo's height the subject fills",
        default=80.0,
        min=1.0,
        max=100.0,
        subtype="PERCENTAGE",
    )
    near: FloatProperty(name="Near", default=1.0, min=0.001, unit="LENGTH")
    far: FloatProperty(name="Far", default=5.0, min=0.002, unit="LENGTH")
    depth_scale: FloatProperty(name="Scale", default=1.0, min=1e-6)
    clip_percentile: FloatProperty(
        name="Ignore outliers %",
        description="Percent of extreme values at each end ignored when normalising",
        default=0.5,
        min=0.0,
        max=10.0,
    )
    cut: BoolProperty(
        name="Cut at depth edges",
        description="Remove stretched faces ('curtains') across depth discontinuities",
        default=True,
    )
    cut_threshold: FloatProperty(
        name="Cut threshold",
        description="Relative depth jump across a face that counts as a discontinuity",
        default=0.03,
        min=0.001,
        max=2.0,
        subtype="FACTOR",
    )
    edge_weight: FloatProperty(
        name="Edge map weight",
        description="How much SDDR's edge map lowers the threshold at detected depth edges",
        default=0.5,
        min=0.0,
        max=0.95,
        subtype="FACTOR",
    )
    layered: BoolProperty(
        name="Fill behind edges",
        description=(
            "Keep the foreground's boundary and continue the background behind it (depth "
            "and photo extended inwards): no holes in the camera view, background instead "
            "of empty space in side views. Off: a torn mesh with holes along the cuts"
        ),
        default=True,
    )
    remove_islands: BoolProperty(
        name="Remove small islands",
        description=(
            "Remove loose parts smaller than 'Island size' (fragments of thin parts); their "
            "picture stays painted on the background behind them"
        ),
        default=True,
    )
    min_island_faces: IntProperty(
        name="Island size",
        description="Loose parts with fewer faces than this are removed",
        default=64,
        min=1,
        soft_max=2000,
    )
    face_budget: IntProperty(
        name="Face budget",
        description=(
            "The most faces to build (about): a denser grid is lowered to fit. 0 = no limit"
        ),
        default=2_000_000,
        min=0,
        soft_max=20_000_000,
    )
    triangles: BoolProperty(name="Triangles", default=False)
    emission: BoolProperty(
        name="Emission (match photo)",
        description="Unlit texture: a render from the created camera reproduces the photo",
        default=True,
    )
    set_render: BoolProperty(
        name="Set camera and render size",
        description="Make the created camera active and the render size the photo's",
        default=True,
    )
    view_transform: EnumProperty(
        name="View transform",
        description="Colour management of the scene when the render is set up",
        items=(
            (
                "STANDARD",
                "Standard (match photo)",
                "Set the scene's view transform to Standard: a render from the created camera "
                "reproduces the photo's colours (AgX, Blender's default, would compress them)",
            ),
            ("KEEP", "Keep scene's", "Leave the scene's view transform (e.g. AgX) as it is"),
        ),
        default="STANDARD",
    )

    # -- run state (not user settings) ------------------------------------------------------
    running: BoolProperty(default=False, options={"SKIP_SAVE"})
    progress: FloatProperty(default=0.0, min=0.0, max=1.0, subtype="FACTOR", options={"SKIP_SAVE"})
    status: StringProperty(default="", options={"SKIP_SAVE"})
    last_error: StringProperty(default="", options={"SKIP_SAVE"})
    last_fix: StringProperty(default="", options={"SKIP_SAVE"})
    last_error_code: StringProperty(default="", options={"SKIP_SAVE"})
    last_command: StringProperty(default="", options={"SKIP_SAVE"})
    last_model: StringProperty(default="", options={"SKIP_SAVE"})

    def expected_faces(self) -> tuple[int, int] | None:
        """``(faces, vertices on the long side)`` a build would make, or ``None`` while the
        photo's size is unknown."""
        h, w = self.photo_height, self.photo_width
        if h < 2 or w < 2:
            return None
        layered = self.cut and self.layered
        vertices = mesh.vertices_for_budget(
            h, w, self.resolution, self.face_budget, layered=layered, triangles=self.triangles
        )
        count = mesh.expected_faces(h, w, vertices, layered=layered, triangles=self.triangles)
        return count, vertices

    def predictor_name(self) -> str:
        """The predictor to run: the chosen entry or the typed one."""
        if self.predictor == CUSTOM:
            return self.predictor_custom.strip()
        return self.predictor

    def set_error(
        self, message: str, fix: str = "", code: str = "", command: str = "", model: str = ""
    ) -> None:
        """Show an error in the panel; ``command`` is what "Copy Command" copies, exactly."""
        self.last_error, self.last_fix, self.last_error_code = message, fix, code
        self.last_command, self.last_model = command, model

    def clear_error(self) -> None:
        self.set_error("", "", "")


def register_scene_property() -> None:
    bpy.types.Scene.sddr = PointerProperty(type=SDDR_PG_settings)


def unregister_scene_property() -> None:
    if hasattr(bpy.types.Scene, "sddr"):
        del bpy.types.Scene.sddr
