"""Synthetic photo + depth scenes shared by the Blender add-on tests (numpy only)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[3]
ADDON_DIR = REPO / "integrations" / "blender"


def load_addon_module(name: str):
    """Import ``integrations/blender/<name>.py`` on its own (no package, no bpy)."""
    mod_name = f"sddr_blender_{name}"
    if mod_name in sys.modules:
        return sys.modules[mod_name]
    spec = importlib.util.spec_from_file_location(mod_name, ADDON_DIR / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[mod_name] = module
    spec.loader.exec_module(module)
    return module


def synthetic_scene(height: int = 120, width: int = 160) -> dict[str, np.ndarray]:
    """A photo and its disparity: a back wall, a slanted floor, a box and a disc in front.

    The floor is a true plane (disparity affine in the pixel coordinates), the box and the
    disc are fronto-parallel planes with depth steps at their outlines. The texture is
    smooth-ish (periods of 10-30 px) with a distinct tint per surface.

    Returns:
        ``photo`` uint8 (H, W, 3), ``disparity`` float32 (H, W), ``labels`` int (H, W)
        (0 wall, 1 floor, 2 box, 3 disc) and ``steps`` bool (H, W), True next to a depth
        step.
    """
    v, u = np.mgrid[0:height, 0:width].astype(np.float64) + 0.5
    horizon = 0.55 * height
    wall = 0.25  # disparity of the back wall (1/depth)
    disp = np.full((height, width), wall)
    labels = np.zeros((height, width), dtype=np.int32)
    floor = v > horizon
    disp[floor] = wall + (v[floor] - horizon) / height * 1.2  # a plane seen from above
    labels[floor] = 1
    box = (u > 0.15 * width) & (u < 0.45 * width) & (v > 0.3 * height) & (v < 0.8 * height)
    disp[box] = 0.75
    labels[box] = 2
    disc = (u - 0.72 * width) ** 2 + (v - 0.45 * height) ** 2 < (0.17 * height) ** 2
    disp[disc] = 0.9
    labels[disc] = 3

    tint = np.array([[0.55, 0.6, 0.75], [0.6, 0.5, 0.35], [0.8, 0.35, 0.3], [0.3, 0.7, 0.4]])[
        labels
    ]
    pattern = (
        0.5
        + 0.25 * np.sin(2 * np.pi * u / 23.0) * np.cos(2 * np.pi * v / 17.0)
        + 0.15 * np.sin(2 * np.pi * (u + v) / 31.0)
    )
    photo = np.clip(tint * (0.55 + 0.6 * pattern[..., None]), 0.0, 1.0)
    photo = np.round(photo * 255).astype(np.uint8)

    steps = np.zeros((height, width), dtype=bool)
    jump_x = np.abs(np.diff(disp, axis=1)) > 0.05
    jump_y = np.abs(np.diff(disp, axis=0)) > 0.05
    steps[:, :-1] |= jump_x
    steps[:, 1:] |= jump_x
    steps[:-1, :] |= jump_y
    steps[1:, :] |= jump_y
    return {
        "photo": photo,
        "disparity": disp.astype(np.float32),
        "labels": labels,
        "steps": steps,
    }


def dilate(mask: np.ndarray, radius: int) -> np.ndarray:
    """Binary dilation by a square of side ``2 * radius + 1`` (numpy only)."""
    out = mask.copy()
    padded = np.pad(mask, radius)
    h, w = mask.shape
    for dy in range(2 * radius + 1):
        for dx in range(2 * radius + 1):
            out |= padded[dy : dy + h, dx : dx + w]
    return out
