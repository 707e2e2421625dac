"""Middlebury 2006 stereo scenes (third size) with both views and both disparity maps.

A scene is a folder holding::

    view1.png      the left image, 8-bit RGB
    view5.png      the right image
    disp1.png      left-view disparity, 8-bit: disparity in pixels = value / 3, 0 = unknown
    disp5.png      right-view disparity, same encoding
    provenance.txt optional: where the files come from (kept as ``meta["provenance"]``)

Disparity sign: a left pixel at column ``x`` with disparity ``d`` sees the same point as the
right pixel at ``x - d``. A root folder holds one scene folder per scene (``baby1``,
``bowling2``, ...); a scene's *family* is its name without trailing digits (``baby1`` ->
``baby``). Families share objects and set-up, so a train/validation split keeps each family
on one side: see :data:`MIDDLEBURY2006_SPLIT`.

Source: H. Hirschmueller and D. Scharstein, "Evaluation of cost functions for stereo
matching", CVPR 2007; D. Scharstein and C. Pal, "Learning conditional random fields for
stereo", CVPR 2007 (https://vision.middlebury.edu/stereo/data/scenes2006/). Research and
benchmark use. The scenes are read where they lie (e.g. ``../shared/data/middlebury2006``);
never copy them into the repository.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

import numpy as np

from sddr_core.datasets.base import Sample, SampleList
from sddr_core.errors import InputError, ShapeError

__all__ = [
    "DISPARITY_SCALE",
    "MIDDLEBURY2006_FAMILIES",
    "MIDDLEBURY2006_SPLIT",
    "find_scenes_2006",
    "is_scene_2006",
    "load_middlebury2006",
    "load_scene_2006",
    "read_disparity_2006",
    "scene_family",
]

#: Disparity in pixels = PNG value × ``DISPARITY_SCALE`` (third-size files store 3 × d).
DISPARITY_SCALE = 1.0 / 3.0

#: The 21 scenes of Middlebury 2006 grouped by family (objects and set-up shared). The
#: shared copy holds 20 of them (no ``aloe``).
MIDDLEBURY2006_FAMILIES: dict[str, tuple[str, ...]] = {
    "aloe": ("aloe",),
    "baby": ("baby1", "baby2", "baby3"),
    "bowling": ("bowling1", "bowling2"),
    "cloth": ("cloth1", "cloth2", "cloth3", "cloth4"),
    "flowerpots": ("flowerpots",),
    "lampshade": ("lampshade1", "lampshade2"),
    "midd": ("midd1", "midd2"),
    "monopoly": ("monopoly",),
    "plastic": ("plastic",),
    "rocks": ("rocks1", "rocks2"),
    "wood": ("wood1", "wood2"),
}

#: Train / validation split of the 20 shared scenes, whole families on one side.
#:
#: Validation (6 scenes) = the ``bowling``, ``lampshade`` and ``rocks`` families: curved,
#: specular and thin structures (bowling pins, a ball), large weakly textured surfaces with
#: sharp silhouettes (lampshades) and a cluttered, strongly textured pile with many small
#: depth discontinuities (rocks), so the validation set spans the easy and the hard cases
#: of both stereo matchers and monocular predictors. Training (14 scenes) = the other
#: families: ``baby``, ``cloth``, ``flowerpots``, ``midd``, ``monopoly``, ``plastic``,
#: ``wood``. No family has scenes on both sides, so a validation scene never shares its
#: objects with a training scene. ``aloe`` (not in the shared copy) would go to training.
MIDDLEBURY2006_SPLIT: dict[str, list[str]] = {
    "train": [
        "baby1",
        "baby2",
        "baby3",
        "cloth1",
        "cloth2",
        "cloth3",
        "cloth4",
        "flowerpots",
        "midd1",
        "midd2",
        "monopoly",
        "plastic",
        "wood1",
        "wood2",
    ],
    "val": ["bowling1", "bowling2", "lampshade1", "lampshade2", "rocks1", "rocks2"],
}

_FILES = ("view1.png", "view5.png", "disp1.png", "disp5.png")

View = Literal["left", "right"]


def scene_family(name: str) -> str:
    """A scene's family: its name, lower case, without trailing digits (``Baby1`` -> ``baby``)."""
    return re.sub(r"\d+$", "", name.strip().lower()) or name.lower()


def is_scene_2006(folder: str | Path) -> bool:
    """Whether ``folder`` holds ``view1.png``, ``view5.png``, ``disp1.png`` and ``disp5.png``."""
    folder = Path(folder)
    return all((folder / f).is_file() for f in _FILES)


def find_scenes_2006(root: str | Path) -> list[Path]:
    """Scene folders: ``root`` itself when it is a scene, else its direct sub-folders that
    are scenes, sorted by name."""
    root = Path(root)
    if is_scene_2006(root):
        return [root]
    try:
        children = sorted(p for p in root.iterdir() if p.is_dir())
    except OSError:
        return []
    return [c for c in children if is_scene_2006(c)]


def _read_png(path: Path, mode: str) -> np.ndarray:
    from PIL import Image

    try:
        with Image.open(path) as im:
            if mode == "L" and im.mode not in ("L", "P"):
                raise InputError(
                    f"{path} is a {im.mode} image; a Middlebury 2006 disparity file is 8-bit "
                    "grey (value = 3 × disparity, 0 = unknown)."
                )
            return np.asarray(im.convert(mode))
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc}") from exc


def read_disparity_2006(path: str | Path) -> np.ndarray:
    """A ``disp1.png`` / ``disp5.png`` file as float32 disparity in pixels, NaN = unknown.

    Args:
        path: the 8-bit PNG (value = 3 × disparity, 0 = unknown).

    Returns:
        float32 ``(H, W)``.
    """
    raw = _read_png(Path(path), "L").astype(np.float32)
    disp = raw * np.float32(DISPARITY_SCALE)
    disp[raw == 0] = np.nan
    return disp


def load_scene_2006(folder: str | Path, *, view: View = "left", name: str | None = None) -> Sample:
    """One Middlebury 2006 scene as a :class:`Sample` of the chosen view.

    Args:
        folder: the scene folder (see the module docstring).
        view: ``"left"`` (``view1`` with ``disp1``) or ``"right"`` (``view5`` with
            ``disp5``) is the sample's image and ground truth.
        name: the sample's name; default: the folder's name.

    Returns:
        A :class:`Sample`: ``rgb`` uint8 ``(H, W, 3)`` of ``view``, ``gt`` its disparity in
        pixels (float32, NaN unknown, ``gt_kind="disparity"``), and ``meta`` with ``name``,
        ``scene``, ``family``, ``path``, ``view``, ``dataset`` (``"middlebury2006"``),
        ``units`` (``"px"``), ``"left"`` / ``"right"`` (both views, uint8 arrays; the
        stereo predictor matches them) and ``"gt_left"`` / ``"gt_right"`` (both disparity
        maps, float32, NaN unknown), ``provenance`` (the text of ``provenance.txt`` if any).

    Raises:
        InputError: a missing or unreadable file, or an unknown ``view``; ShapeError: the four
        files differ in size.
    """
    folder = Path(folder)
    if view not in ("left", "right"):
        raise InputError(f"view must be 'left' or 'right', got {view!r}.")
    if not is_scene_2006(folder):
        missing = [f for f in _FILES if not (folder / f).is_file()]
        raise InputError(
            f"{folder} is not a Middlebury 2006 scene: it lacks {', '.join(missing)} (a scene "
            "holds view1.png, view5.png, disp1.png and disp5.png)."
        )
    left = _read_png(folder / "view1.png", "RGB")
    right = _read_png(folder / "view5.png", "RGB")
    gt_left = read_disparity_2006(folder / "disp1.png")
    gt_right = read_disparity_2006(folder / "disp5.png")
    shape = left.shape[:2]
    for fname, arr in zip(_FILES[1:], (right, gt_left, gt_right), strict=True):
        if arr.shape[:2] != shape:
            raise ShapeError(
                f"{folder / fname} is {arr.shape[1]}x{arr.shape[0]} but view1.png is "
                f"{shape[1]}x{shape[0]}; the four files of a scene must have one size."
            )
    scene = folder.name
    meta: dict[str, Any] = {
        "name": name or scene,
        "scene": scene,
        "family": scene_family(scene),
        "dataset": "middlebury2006",
        "path": str(folder),
        "view": view,
        "units": "px",
        "left": left,
        "right": right,
        "gt_left": gt_left,
        "gt_right": gt_right,
    }
    prov = folder / "provenance.txt"
    if prov.is_file():
        meta["provenance"] = prov.read_text(encoding="utf-8", errors="replace")
    rgb, gt = (left, gt_left) if view == "left" else (right, gt_right)
    return Sample(rgb=rgb, gt=gt, gt_kind="disparity", valid=np.isfinite(gt), meta=meta)


def _resolve_scenes(
    available: dict[str, Path], scenes: str | list[str] | tuple[str, ...] | None, root: Path
) -> list[str]:
    if scenes is None or scenes == "all":
        return sorted(available)
    if isinstance(scenes, str):
        if scenes not in MIDDLEBURY2006_SPLIT:
            raise InputError(
                f"scenes={scenes!r}: give a list of scene names, None, 'all', or a split "
                f"name ({', '.join(MIDDLEBURY2006_SPLIT)})."
            )
        wanted = list(MIDDLEBURY2006_SPLIT[scenes])
    else:
        wanted = [str(s) for s in scenes]
    if not wanted:
        raise InputError("scenes is empty: name at least one scene.")
    lookup = {k.lower(): k for k in available}
    missing = [s for s in wanted if s.lower() not in lookup]
    if missing:
        raise InputError(
            f"{root} lacks the Middlebury 2006 scene(s) {', '.join(missing)}; it has "
            f"{', '.join(sorted(available)) or 'none'}."
        )
    return [lookup[s.lower()] for s in wanted]


def load_middlebury2006(
    root: str | Path,
    scenes: str | list[str] | tuple[str, ...] | None = None,
    view: View = "left",
) -> SampleList:
    """Middlebury 2006 scenes under ``root`` as an in-memory dataset.

    Args:
        root: a folder of scene folders (or one scene folder).
        scenes: None or ``"all"`` for every scene found, ``"train"`` / ``"val"`` for a side
            of :data:`MIDDLEBURY2006_SPLIT`, or a list of scene names (case-insensitive).
        view: which view is each sample's image and ground truth (see
            :func:`load_scene_2006`); both views are always in ``meta``.

    Returns:
        A :class:`~sddr_core.datasets.base.SampleList` named ``middlebury2006`` (with
        ``-train`` / ``-val`` for a split), samples in the order of ``scenes``.

    Raises:
        InputError: ``root`` missing or without scenes, an unknown split or scene name.
    """
    root = Path(root).expanduser()
    if not root.is_dir():
        raise InputError(f"Middlebury 2006 folder {root} not found.")
    found = find_scenes_2006(root)
    if not found:
        raise InputError(
            f"no Middlebury 2006 scene in {root}: a scene folder holds view1.png, view5.png, "
            "disp1.png and disp5.png."
        )
    available = {p.name: p for p in found}
    names = _resolve_scenes(available, scenes, root)
    samples = [load_scene_2006(available[n], view=view) for n in names]
    label = "middlebury2006"
    if isinstance(scenes, str) and scenes in MIDDLEBURY2006_SPLIT:
        label += f"-{scenes}"
    if view == "right":
        label += "-right"
    return SampleList(samples, name=label)
