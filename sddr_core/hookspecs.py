"""Hook specifications of sddr: the contract between sddr and its plugins.

A plugin is any object or module with functions marked ``@sddr_core.hookimpl`` whose names match
the specs below. Third-party packages expose one through the ``sddr_core`` entry-point group::

    [project.entry-points.sddr_core]
    my_predictors = "my_package.sddr_plugin"

sddr's own predictors and refiners register through these same hooks (see
:mod:`sddr_core.plugins`). An implementation may accept any subset of a spec's arguments.
Every hook here has its own section in ``docs/hooks.md``; a test keeps the two in step.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from sddr_core.predictors.base import PredictorSpec
    from sddr_core.refiners.base import RefinerSpec

PROJECT_NAME = "sddr_core"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


# ------------------------------------------------------------------------------------------
# Registration: what is available
# ------------------------------------------------------------------------------------------


@hookspec
def sddr_register_predictors() -> list[PredictorSpec]:
    """Declare depth predictors that ``refine(image, "<name>")`` can create by name.

    Called once when the plugin manager is built (and again after :func:`reload_plugins`).

    :return: a list of :class:`sddr_core.PredictorSpec` (name, factory, kind, native
        resolution, licence, description). Names must be unique across all plugins; a
        duplicate name is reported with both plugin names.
    """


@hookspec
def sddr_register_refiners() -> list[RefinerSpec]:
    """Declare refiners (the fusion step) that ``refine(..., refiner="<name>")`` can use.

    :return: a list of :class:`sddr_core.RefinerSpec`. A spec with a higher ``priority``
        is preferred when the caller passes ``refiner=None`` and the spec reports itself
        available (``spec.available()``).
    """


@hookspec
def sddr_weight_dirs(model_id: str) -> list[str]:
    """Offer extra folders in which to look for a model's weights before downloading.

    Hosts use this to point sddr at their own model folders (ComfyUI's ``models/depth``,
    a Blender add-on's user folder). A folder is used when it contains a sub-folder named
    after the model id's last part (``depth-anything/Depth-Anything-V2-Small-hf`` looks for
    ``Depth-Anything-V2-Small-hf``) or after the whole id with ``/`` replaced by ``--``.

    :param model_id: the Hugging Face model id or sddr checkpoint name being looked up.
    :return: a list of folder paths (missing folders are skipped).
    """


# ------------------------------------------------------------------------------------------
# Running: progress and cancellation
# ------------------------------------------------------------------------------------------


@hookspec
def sddr_progress(stage: str, done: int, total: int) -> None:
    """Receive progress while :func:`sddr_core.refine` runs.

    Fired at the start (``done == 0``) and after each unit of work of a stage. Stages are
    ``"predict-low"``, ``"predict-high"``, ``"refine"``, in two-stage mode ``"window"``
    (one unit per window across all levels), and ``"download"`` (files of a predictor's
    weights fetched on first use). ``total`` never changes within a
    stage of one call.

    :param stage: name of the current stage.
    :param done: units finished so far in this stage.
    :param total: units in this stage.
    """


@hookspec(firstresult=True)
def sddr_should_cancel(stage: str) -> bool | None:
    """Ask whether the running refinement must stop (for a UI's Cancel button).

    Checked between units of work (before each predictor call, each network pass and each
    two-stage window). Stops at the first plugin that returns a non-``None`` value; if that
    value is true, :func:`sddr_core.refine` raises :class:`sddr_core.CancelledError`.

    :param stage: the stage about to run, as in :func:`sddr_progress`.
    :return: ``True`` to stop, ``None`` to let other plugins decide.
    """
