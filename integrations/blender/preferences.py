"""Add-on preferences: where sddr runs (a worker Python, or in process)."""

from __future__ import annotations

import json

import bpy
from bpy.props import BoolProperty, FloatProperty, StringProperty

ADDON_ID = __package__


def _forget_found(self, _context) -> None:
    """The found worker Python depends on the preference and PYTHONPATH: look again."""
    self.found_python = ""
    self.found_key = ""


def get_preferences(context: bpy.types.Context | None = None):
    """This add-on's preferences, or ``None`` when it is not enabled (tests)."""
    context = context or bpy.context
    addon = context.preferences.addons.get(ADDON_ID)
    return addon.preferences if addon is not None else None


class SDDR_AP_preferences(bpy.types.AddonPreferences):
    bl_idname = ADDON_ID

    python_path: StringProperty(
        name="Python",
        description=(
            "Python executable of an environment where sddr is installed; the worker runs "
            "there. Empty: found automatically (the clone's .venv, conda and virtual "
            "environments, python3 on PATH: the first where sddr_core imports)"
        ),
        subtype="FILE_PATH",
        default="",
        update=_forget_found,
    )
    in_process: BoolProperty(
        name="In process",
        description=(
            "Run sddr inside Blender's own Python (only if sddr and torch import there; "
            "a worker Python is more robust)"
        ),
        default=False,
    )
    device: StringProperty(
        name="Device",
        description="Torch device for the predictor and refiner: empty = best available, "
        "'cpu', 'cuda', 'mps'",
        default="",
    )
    timeout: FloatProperty(
        name="Timeout (s)",
        description="Stop a depth estimation that takes longer than this",
        default=900.0,
        min=5.0,
    )
    extra_pythonpath: StringProperty(
        name="Extra PYTHONPATH",
        description="Folders added to the worker's PYTHONPATH (an sddr source checkout that "
        "is not installed); separate several with your system's path separator",
        default="",
        update=_forget_found,
    )
    sddr_source: StringProperty(
        name="sddr wheel or clone",
        description=(
            "Where sddr is installed from when the worker Python lacks it: an sddr-*.whl file "
            "or the folder of a clone of the sddr repository (sddr is not on a package index)"
        ),
        subtype="FILE_PATH",
        default="",
    )
    predictors_json: StringProperty(default="", options={"HIDDEN"})
    #: the worker Python found by the last search (operators.resolve_python) and for which
    #: preference / PYTHONPATH it was found
    found_python: StringProperty(default="", options={"HIDDEN"})
    found_key: StringProperty(default="", options={"HIDDEN"})
    found_summary: StringProperty(default="", options={"HIDDEN"})
    check_status: StringProperty(default="", options={"SKIP_SAVE"})

    def draw(self, context):
        layout = self.layout
        col = layout.column()
        col.prop(self, "python_path")
        if self.found_summary and not self.in_process:
            box = col.box()
            for i, line in enumerate(_wrap(self.found_summary, 90)[:4]):
                box.label(text=line, icon="VIEWZOOM" if i == 0 else "BLANK1")
        col.prop(self, "in_process")
        row = col.row()
        row.prop(self, "device")
        row.prop(self, "timeout")
        col.prop(self, "extra_pythonpath")
        col.prop(self, "sddr_source")
        row = col.row()
        row.operator("sddr.check_python", icon="CHECKMARK")
        row.operator("sddr.release_worker", icon="X")
        if self.check_status:
            for line in self.check_status.splitlines():
                col.label(text=line)
        found = []
        if self.predictors_json:
            try:
                found = json.loads(self.predictors_json)
            except ValueError:
                found = []
        if found:
            box = col.box()
            box.label(text="Predictors in that environment:")
            for p in found:
                box.label(text=f"{p['name']}  ({p.get('kind', '')}, {p.get('licence', '?')})")
        if not self.in_process and not self.python_path and not self.found_python:
            col.label(text="Python: found automatically (Check Python looks now).", icon="INFO")

    def worker_env(self) -> dict[str, str]:
        """Environment additions for the worker process."""
        return {"PYTHONPATH": self.extra_pythonpath} if self.extra_pythonpath.strip() else {}


def _wrap(text: str, width: int) -> list[str]:
    from .panels import _wrap as wrap

    return wrap(text, width)
