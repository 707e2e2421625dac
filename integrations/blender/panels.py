"""The 3D View sidebar tab "SDDR"."""

from __future__ import annotations

import bpy

from . import mesh, operators, pipeline
from .artist import faces_text


class _SddrPanel:
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "SDDR"


class SDDR_PT_main(_SddrPanel, bpy.types.Panel):
    bl_idname = "SDDR_PT_main"
    bl_label = "SDDR Depth"

    def draw(self, context):
        s = context.scene.sddr
        layout = self.layout
        layout.use_property_split = True
        layout.use_property_decorate = False

        col = layout.column()
        col.prop(s, "image_source", expand=True)
        if s.image_source == "FILE":
            col.prop(s, "image_path")
        else:
            col.template_ID(s, "image", open="image.open")

        col.separator()
        col.prop(s, "depth_source", expand=True)
        if s.depth_source == "PREDICT":
            col.prop(s, "predictor")
            if s.predictor == "__custom__":
                col.prop(s, "predictor_custom")
            col.prop(s, "mode")
            col.prop(s, "snap_edges")
        else:
            col.prop(s, "depth_path")
            col.prop(s, "depth_convention")

        layout.separator()
        if s.running and operators.is_running():
            row = layout.row(align=True)
            if hasattr(row, "progress"):
                row.progress(factor=s.progress, type="BAR", text=s.status or "Working...")
            else:
                row.label(text=s.status or "Working...")
            row.operator("sddr.cancel", text="", icon="CANCEL")
        else:
            layout.operator("sddr.generate", icon="MESH_GRID")
            if s.status:
                layout.label(text=s.status)

        if s.last_error:
            box = layout.box()
            box.alert = True
            for i, line in enumerate(_wrap(s.last_error, 60)[:3]):
                box.label(text=line, icon="ERROR" if i == 0 else "BLANK1")
            if s.last_fix:
                for line in _wrap(s.last_fix, 60)[:4]:
                    box.label(text=line)
            if s.last_command:
                box.label(text=s.last_command)
            row = box.row()
            if s.last_command:
                row.operator("sddr.copy_fix", icon="COPYDOWN")
            if s.last_error_code in ("python_missing", "sddr_core_missing", "sddr_core_broken"):
                row.operator("sddr.open_preferences", icon="PREFERENCES")
            if s.last_error_code == "weights":
                row.operator("sddr.open_weights_folder", icon="FILE_FOLDER")
                box.alert = False
                box.prop(s, "predictor", text="Or use")


class SDDR_PT_mesh(_SddrPanel, bpy.types.Panel):
    bl_idname = "SDDR_PT_mesh"
    bl_label = "Mesh"
    bl_parent_id = "SDDR_PT_main"

    def draw(self, context):
        s = context.scene.sddr
        layout = self.layout
        layout.use_property_split = True
        layout.use_property_decorate = False
        col = layout.column()
        col.prop(s, "preset")
        col.prop(s, "resolution")
        col.prop(s, "face_budget")
        expected = s.expected_faces()
        if expected is not None:
            count, vertices = expected
            text = f"About {faces_text(count)} faces"
            if vertices < s.resolution:
                text += f" ({vertices} vertices: the budget)"
            col.label(text=text, icon="MESH_DATA")
            if count > mesh.WARN_FACES:
                warn = col.column()
                warn.alert = True
                warn.label(text=f"{faces_text(count)} faces: slow to build, GBs of memory.")
                warn.label(text="Lower Vertices or the Face budget.", icon="BLANK1")
        col.prop(s, "projection")
        col.prop(s, "fov_mode")
        if s.fov_mode == "MANUAL":
            col.prop(s, "fov_x")
        col.prop(s, "depth_mapping")
        if s.depth_mapping == "NEAR_FAR":
            col.prop(s, "near")
            col.prop(s, "far")
            col.prop(s, "clip_percentile")
        elif s.depth_mapping == "SUBJECT":
            col.prop(s, "near")
            col.prop(s, "far")
            col.prop(s, "subject_mode", expand=True)
            if s.subject_mode == "DISTANCE":
                col.prop(s, "subject_distance")
            else:
                col.prop(s, "subject_height")
                col.prop(s, "subject_fill")
        else:
            col.prop(s, "depth_scale")
        col.prop(s, "cut")
        sub = col.column()
        sub.active = s.cut
        sub.prop(s, "cut_threshold")
        sub.prop(s, "edge_weight")
        sub.prop(s, "layered")
        sub.prop(s, "remove_islands")
        row = sub.row()
        row.active = s.remove_islands
        row.prop(s, "min_island_faces")
        col.prop(s, "triangles")
        col.prop(s, "emission")
        col.prop(s, "set_render")
        sub = col.column()
        sub.active = s.set_render
        sub.prop(s, "view_transform")
        obj = context.active_object
        row = layout.row()
        row.operator("sddr.rebuild", icon="FILE_REFRESH")
        row.operator("sddr.save_depth", icon="IMAGE_DATA")
        if obj is not None and obj.get(pipeline.PROP_DEPTH):
            layout.label(text=f"Depth kept in '{obj[pipeline.PROP_DEPTH]}'")


class SDDR_PT_export(_SddrPanel, bpy.types.Panel):
    bl_idname = "SDDR_PT_export"
    bl_label = "Export"
    bl_parent_id = "SDDR_PT_main"
    bl_options = {"DEFAULT_CLOSED"}  # noqa: RUF012 - bpy reads a set here

    def draw(self, context):
        row = self.layout.row(align=True)
        row.operator("sddr.export", text="GLB").format = "GLB"
        row.operator("sddr.export", text="OBJ").format = "OBJ"


def _wrap(text: str, width: int) -> list[str]:
    words, lines, line = text.split(), [], ""
    for word in words:
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    if line:
        lines.append(line)
    return lines
