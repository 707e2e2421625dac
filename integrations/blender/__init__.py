"""SDDR Depth for Blender: photo -> refined depth -> textured mesh with a matching camera.

A Blender 4.2+ extension. The geometry (:mod:`.mesh`) and the worker protocol (:mod:`.worker`)
are plain Python modules without bpy, so they import (and are tested) outside Blender, and
the worker script runs in another Python where sddr is installed. Everything that needs bpy
is imported only when bpy is there.
"""

from __future__ import annotations

try:
    import bpy
except ModuleNotFoundError:  # imported outside Blender (tests of mesh/worker, the worker)
    bpy = None

if bpy is not None:
    from . import operators, panels, preferences, properties

    # Registered in this order, unregistered in reverse. Order matters where noted.
    CLASSES = (
        preferences.SDDR_AP_preferences,
        properties.SDDR_PG_settings,  # before Scene.sddr points at it (register())
        operators.SDDR_OT_generate,
        operators.SDDR_OT_cancel,
        operators.SDDR_OT_rebuild,
        operators.SDDR_OT_export,
        operators.SDDR_OT_save_depth,
        operators.SDDR_OT_check_python,
        operators.SDDR_OT_release_worker,
        operators.SDDR_OT_copy_fix,
        operators.SDDR_OT_open_weights_folder,
        operators.SDDR_OT_open_preferences,
        panels.SDDR_PT_main,  # parent panel before its sub-panels
        panels.SDDR_PT_mesh,
        panels.SDDR_PT_export,
    )


def register() -> None:
    """Register every class; refuses to load next to another enabled copy of the add-on."""
    if bpy is None:
        raise RuntimeError("register() must run inside Blender.")
    if getattr(bpy.types, "SDDR_OT_generate", None) is not None:
        raise RuntimeError(
            "Another copy of SDDR Depth is already enabled. Disable it in Edit > Preferences > "
            "Add-ons before enabling this one."
        )
    for cls in CLASSES:
        bpy.utils.register_class(cls)
    properties.register_scene_property()


def unregister() -> None:
    if bpy is None:
        return
    operators.shutdown()
    properties.unregister_scene_property()
    for cls in reversed(CLASSES):
        bpy.utils.unregister_class(cls)
