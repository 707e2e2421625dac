"""Artist controls without bpy: presets, progress as the user reads it, the face budget.

Kept free of bpy (like :mod:`.mesh` and :mod:`.worker`) so the plain test tier checks it.
"""

from __future__ import annotations

import math
import time

# -- presets -------------------------------------------------------------------------------

#: Panel settings (``scene.sddr`` property names) each preset sets. Distances in metres:
#: relative depth maps are spread between Near and Far. The field of view is left alone (the
#: photo's EXIF knows it best).
PRESETS: dict[str, dict[str, object]] = {
    "PORTRAIT": {
        # a person 1-2 m away, a room or garden behind; hair and hands fray into islands
        "projection": "PERSPECTIVE",
        "depth_mapping": "NEAR_FAR",
        "near": 1.0,
        "far": 4.0,
        "resolution": 768,
        "cut": True,
        "cut_threshold": 0.03,
        "edge_weight": 0.6,
        "layered": True,
        "remove_islands": True,
        "min_island_faces": 128,
    },
    "PRODUCT": {
        # an object on a table, 30-80 cm away: fine detail, crisp outlines
        "projection": "PERSPECTIVE",
        "depth_mapping": "NEAR_FAR",
        "near": 0.3,
        "far": 1.0,
        "resolution": 1024,
        "cut": True,
        "cut_threshold": 0.02,
        "edge_weight": 0.7,
        "layered": True,
        "remove_islands": True,
        "min_island_faces": 32,
    },
    "LANDSCAPE": {
        # metres to kilometres: gentle terrain must not be cut, few real steps
        "projection": "PERSPECTIVE",
        "depth_mapping": "NEAR_FAR",
        "near": 5.0,
        "far": 500.0,
        "resolution": 1024,
        "cut": True,
        "cut_threshold": 0.08,
        "edge_weight": 0.3,
        "layered": True,
        "remove_islands": True,
        "min_island_faces": 256,
        "clip_percentile": 1.0,
    },
    "ARCHITECTURE": {
        # buildings and rooms 2-30 m away: planes stay planar, cut where walls occlude
        "projection": "PERSPECTIVE",
        "depth_mapping": "NEAR_FAR",
        "near": 2.0,
        "far": 30.0,
        "resolution": 768,
        "cut": True,
        "cut_threshold": 0.04,
        "edge_weight": 0.5,
        "layered": True,
        "remove_islands": True,
        "min_island_faces": 64,
        "triangles": False,
    },
}


# -- face budget (the counting lives in mesh.py: build_mesh applies the budget) ------------


def faces_text(count: int) -> str:
    """``1234567`` -> ``"1.2 M"``, ``45000`` -> ``"45 k"``."""
    if count >= 1_000_000:
        return f"{count / 1e6:.1f} M"
    if count >= 1_000:
        return f"{count / 1e3:.0f} k"
    return str(count)


# -- progress ------------------------------------------------------------------------------

#: sddr_core's stage names (hookspecs.sddr_progress) as the panel shows them.
STAGE_NAMES = {
    "starting": "Starting the depth worker",
    "download": "Downloading model weights",
    "predict-low": "Estimating depth (whole photo)",
    "predict-high": "Estimating depth (full detail)",
    "refine": "Refining edges",
    "window": "Sharpening (two-stage windows)",
    "snap": "Snapping edges to the photo",
}
#: The stages of each mode in order, with their share of the bar (model loading falls in
#: the first prediction).
PLANS = {
    "one-stage": (
        ("predict-low", 0.42),
        ("predict-high", 0.42),
        ("refine", 0.08),
        ("snap", 0.08),
    ),
    "two-stage": (
        ("predict-low", 0.15),
        ("predict-high", 0.15),
        ("refine", 0.05),
        ("window", 0.60),
        ("snap", 0.05),
    ),
}


class Progress:
    """The overall fraction of a depth run from ``sddr_progress`` messages, moving during
    stages that report only their start and end (``0/1`` then ``1/1``, as in one-stage mode).

    Inside such a stage the bar eases towards the stage's end as ``1 - exp(-t / tau)`` (at
    most 90 % of the stage), ``tau`` being the duration of the previous stage (or 2 s): it
    moves while work goes on and never claims the stage is finished before it is.
    """

    def __init__(self, mode: str = "one-stage", clock=time.monotonic) -> None:
        self.plan = PLANS.get(mode, PLANS["one-stage"])
        self.clock = clock
        self.stage, self.done, self.total = "starting", 0, 1
        self.stage_started = clock()
        self.last_duration = 2.0
        self._floor = 0.0

    def update(self, stage: str, done: int, total: int) -> None:
        now = self.clock()
        if stage != self.stage:
            if self.stage in dict(self.plan):
                self.last_duration = max(0.5, now - self.stage_started)
            self.stage, self.stage_started = stage, now
        self.done, self.total = int(done), max(1, int(total))

    def _span(self) -> tuple[float, float] | None:
        start = 0.0
        for name, share in self.plan:
            if name == self.stage:
                return start, share
            start += share
        return None

    @property
    def fraction(self) -> float:
        """Overall progress in ``[0, 1]``; never goes back."""
        span = self._span()
        if span is None:  # starting, or a download: the bar waits at where it was
            return self._floor
        start, share = span
        inner = self.done / self.total
        if self.done < self.total:
            elapsed = self.clock() - self.stage_started
            eased = 0.9 * (1.0 - math.exp(-elapsed / self.last_duration))
            inner = max(inner, inner + (1.0 / self.total) * eased)
        self._floor = max(self._floor, min(1.0, start + share * inner))
        return self._floor

    @property
    def label(self) -> str:
        """E.g. ``"Estimating depth (whole photo)..."``, ``"Downloading model weights 2/5"``."""
        name = STAGE_NAMES.get(self.stage, self.stage.replace("-", " ").capitalize())
        if self.total > 1:
            return f"{name} {self.done}/{self.total}"
        return f"{name}..."
