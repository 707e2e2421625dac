"""sddr plugins the node pack registers: progress and Cancel for one run, weight folders.

Imports ``sddr_core`` at the top: import this module only once sddr is known to be installed.
Both plugins take plain callables, so they are tested without ComfyUI.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from sddr_core.hookspecs import hookimpl

__all__ = ["RunHooks", "WeightDirs"]


class RunHooks:
    """Progress and Cancel for one node execution (register with ``temporary_plugin``).

    Args:
        progress: receives every ``sddr_progress(stage, done, total)`` call (a
            :class:`~.core.StageProgress`), or None.
        check_interrupt: called before every unit of work; it raises to stop the run
            (ComfyUI's ``throw_exception_if_processing_interrupted`` raises its
            ``InterruptProcessingException``, which ComfyUI reports as an interrupted run).
    """

    def __init__(
        self,
        progress: Any = None,
        check_interrupt: Callable[[], None] | None = None,
    ) -> None:
        self.progress = progress
        self.check_interrupt = check_interrupt

    @hookimpl
    def sddr_progress(self, stage: str, done: int, total: int) -> None:
        if self.progress is not None:
            self.progress.stage(stage, done, total)

    @hookimpl
    def sddr_should_cancel(self, stage: str) -> bool | None:
        if self.check_interrupt is not None:
            self.check_interrupt()  # raises when the user pressed Cancel
        return None  # let other plugins decide


class WeightDirs:
    """Answers ``sddr_weight_dirs`` with the host's model folders (read at each call, so
    folders added later, e.g. by extra_model_paths.yaml, count).

    Args:
        folders: returns the folders to offer (``models/depth`` and ``models/sddr``).
    """

    def __init__(self, folders: Callable[[], Iterable[str]]) -> None:
        self.folders = folders

    @hookimpl
    def sddr_weight_dirs(self, model_id: str) -> list[str]:
        return [str(f) for f in self.folders()]
