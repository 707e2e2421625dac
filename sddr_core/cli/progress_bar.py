"""A tqdm progress bar fed by the ``sddr_progress`` hook, for command-line use."""

from __future__ import annotations

from typing import Any

from sddr_core.hookspecs import hookimpl

__all__ = ["StageProgress"]


class StageProgress:
    """Plugin that shows the current stage of refinement on an outer tqdm bar's postfix.

    Use with :func:`sddr_core.plugins.temporary_plugin` around a loop over images.
    """

    def __init__(self, bar: Any) -> None:
        self.bar = bar

    @hookimpl
    def sddr_progress(self, stage: str, done: int, total: int) -> None:
        self.bar.set_postfix_str(f"{stage} {done}/{total}", refresh=True)
