"""Progress reporting and cancellation, routed through the plugin hooks.

Long-running code calls :func:`report` after each unit of work and :func:`check_cancel`
before each one; UIs (CLI progress bars, ComfyUI, Blender) listen through the
``sddr_progress`` and ``sddr_should_cancel`` hooks.
"""

from __future__ import annotations

from sddr_core.errors import CancelledError
from sddr_core.plugins import get_plugin_manager

__all__ = ["check_cancel", "report"]


def report(stage: str, done: int, total: int) -> None:
    """Tell every plugin that ``done`` of ``total`` units of ``stage`` are finished."""
    get_plugin_manager().hook.sddr_progress(stage=stage, done=int(done), total=int(total))


def check_cancel(stage: str) -> None:
    """Raise :class:`CancelledError` if any plugin asks to stop before ``stage`` runs."""
    if get_plugin_manager().hook.sddr_should_cancel(stage=stage):
        raise CancelledError(
            f"Refinement cancelled before stage {stage!r} because a plugin asked to stop "
            "(for example a Cancel button). Nothing was written; run it again to finish."
        )
