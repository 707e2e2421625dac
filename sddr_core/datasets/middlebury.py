"""Middlebury stereo scenes as evaluation samples (2014, MiddEval3 and 2021 layouts).

A scene is a folder holding::

    im0.png        the left image (the one evaluated)
    disp0.pfm      left disparity in pixels, inf = unknown (2014 and 2021 full scenes)
      or disp0GT.pfm                                      (MiddEval3 training scenes)
    calib.txt      key=value lines, e.g. (2014)
                   cam0=[3979.911 0 1244.772; 0 3979.911 1019.507; 0 0 1]
                   doffs=124.343  baseline=193.001  width=2964  height=1988  ndisp=270
                   isint=0  vmin=23  vmax=245  dyavg=0.242  dymax=0.695
                   (2021 has the same keys without dyavg/dymax)
    mask0nocc.png  optional (MiddEval3): 255 where the pixel is not occluded

Depth follows from the calibration: ``Z = baseline · f / (d + doffs)`` in millimetres
(``baseline`` is in mm, ``f = cam0[0, 0]`` and ``doffs = cx1 − cx0`` in pixels). Pixels with an
infinite, NaN or non-positive disparity are unknown. When ``calib.txt``'s ``width`` differs
from ``im0.png`` (a resized copy of a scene), ``f`` and ``doffs`` are scaled by the width ratio
and the disparity file is taken to be at the image's size already.

:class:`MiddleburyDataset` takes one scene folder or a root folder searched (three levels
deep) for scene folders, e.g. ``MiddEval3/trainingF`` or the 2021 ``data`` folder.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from sddr_core.datasets.base import Sample
from sddr_core.errors import InputError, ShapeError

__all__ = [
    "DISPARITY_FILES",
    "MiddleburyDataset",
    "disparity_to_depth_mm",
    "find_scenes",
    "load_scene",
    "read_calib",
]

#: Disparity files looked for in a scene folder, in order of preference.
DISPARITY_FILES: tuple[str, ...] = ("disp0.pfm", "disp0GT.pfm")

_MAX_DEPTH = 3  # how deep find_scenes looks below the root


def read_calib(path: str | Path) -> dict[str, Any]:
    """Parse a Middlebury ``calib.txt``.

    Args:
        path: the file.

    Returns:
        ``{key: value}``: ``cam0``/``cam1`` as float64 ``(3, 3)`` arrays, numbers as
        ``int`` or ``float``, anything else as a string.

    Raises:
        InputError: missing file, or ``cam0``, ``baseline`` or ``doffs`` missing or malformed.
    """
    p = Path(path)
    if not p.is_file():
        raise InputError(f"Middlebury calibration {p} not found; a scene needs a calib.txt.")
    calib: dict[str, Any] = {}
    for line in p.read_text(encoding="utf-8", errors="replace").splitlines():
        key, sep, value = line.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not key:
            continue
        if value.startswith("["):
            numbers = re.split(r"[\s;,]+", value.strip("[] "))
            try:
                matrix = np.array([float(v) for v in numbers if v], dtype=np.float64)
            except ValueError:
                raise InputError(f"{p}: cannot read {key}={value!r} as a 3x3 matrix.") from None
            if matrix.size != 9:
                raise InputError(f"{p}: {key} must be a 3x3 matrix, got {matrix.size} numbers.")
            calib[key] = matrix.reshape(3, 3)
            continue
        try:
            calib[key] = int(value)
        except ValueError:
            try:
                calib[key] = float(value)
            except ValueError:
                calib[key] = value
    missing = [k for k in ("cam0", "baseline", "doffs") if k not in calib]
    if missing:
        raise InputError(
            f"{p} lacks {', '.join(missing)}; a Middlebury calib.txt has cam0=[f 0 cx; 0 f cy; "
            "0 0 1], doffs= and baseline= lines."
        )
    for k in ("baseline", "doffs"):
        if not isinstance(calib[k], (int, float)):
            raise InputError(f"{p}: {k} must be a number, got {calib[k]!r}.")
    return calib


def disparity_to_depth_mm(
    disparity: np.ndarray, *, focal: float, baseline: float, doffs: float
) -> np.ndarray:
    """Middlebury depth ``baseline · focal / (disparity + doffs)``.

    Args:
        disparity: float ``(H, W)`` disparity in pixels; inf, NaN and ``<= 0`` are unknown.
        focal: focal length in pixels (``cam0[0, 0]``).
        baseline: camera baseline (mm in Middlebury's files; the depth has its unit).
        doffs: x-difference of the principal points, ``cx1 − cx0``, in pixels.

    Returns:
        float32 ``(H, W)`` depth, NaN where unknown.
    """
    d = np.asarray(disparity, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        known = np.isfinite(d) & (d > 0) & (d + doffs > 0)
    depth = np.full(d.shape, np.nan, dtype=np.float64)
    depth[known] = baseline * focal / (d[known] + doffs)
    return depth.astype(np.float32)


def _disparity_file(folder: Path) -> Path | None:
    for name in DISPARITY_FILES:
        if (folder / name).is_file():
            return folder / name
    return None


def _is_scene(folder: Path) -> bool:
    return (
        (folder / "calib.txt").is_file()
        and (folder / "im0.png").is_file()
        and _disparity_file(folder) is not None
    )


def find_scenes(root: str | Path) -> list[Path]:
    """Middlebury scene folders at or below ``root`` (three levels deep), sorted.

    A scene folder has ``calib.txt``, ``im0.png`` and ``disp0.pfm`` or ``disp0GT.pfm``.
    """
    root = Path(root)
    if _is_scene(root):
        return [root]
    found = []
    level = [root]
    for _ in range(_MAX_DEPTH):
        nxt = []
        for folder in level:
            try:
                children = sorted(p for p in folder.iterdir() if p.is_dir())
            except OSError:
                continue
            for child in children:
                (found if _is_scene(child) else nxt).append(child)
        level = nxt
    return sorted(found)


def load_scene(folder: str | Path, *, name: str | None = None, nonoccluded: bool = False) -> Sample:
    """One Middlebury scene as a :class:`Sample` with depth in millimetres.

    Args:
        folder: the scene folder (see the module docstring).
        name: the sample's name; default: the folder's name.
        nonoccluded: also drop pixels that ``mask0nocc.png`` marks occluded (when present).

    Returns:
        A :class:`Sample`: ``rgb`` float32 ``(H, W, 3)``, ``gt`` depth in mm (``gt_kind
        "depth"``), ``meta`` with ``name``, ``path``, ``disparity_file``, ``focal``,
        ``baseline``, ``doffs``, ``units`` (``"mm"``), ``calib_format`` (``"2014"`` when
        calib.txt has ``dyavg``, else ``"2021"``) and the remaining calibration numbers.

    Raises:
        InputError: a missing file or bad calibration; ShapeError: image and disparity sizes
        differ.
    """
    from sddr_core.io.depth import read_depth
    from sddr_core.io.images import load_image

    folder = Path(folder)
    if not _is_scene(folder):
        raise InputError(
            f"{folder} is not a Middlebury scene: it needs im0.png, calib.txt and one of "
            f"{', '.join(DISPARITY_FILES)}."
        )
    calib = read_calib(folder / "calib.txt")
    disp_path = _disparity_file(folder)
    assert disp_path is not None
    rgb = load_image(folder / "im0.png")
    disparity = read_depth(disp_path).depth
    h, w = rgb.shape[:2]
    if disparity.shape != (h, w):
        raise ShapeError(
            f"{disp_path} is {disparity.shape[1]}x{disparity.shape[0]} but im0.png is {w}x{h}; "
            "the disparity must be at the image's size."
        )
    focal = float(calib["cam0"][0, 0])
    doffs = float(calib["doffs"])
    baseline = float(calib["baseline"])
    width = calib.get("width")
    ratio = 1.0
    if isinstance(width, (int, float)) and width > 0 and int(width) != w:
        ratio = w / float(width)
        focal *= ratio
        doffs *= ratio
    depth = disparity_to_depth_mm(disparity, focal=focal, baseline=baseline, doffs=doffs)
    valid = np.isfinite(depth)
    nocc = folder / "mask0nocc.png"
    if nonoccluded and nocc.is_file():
        from PIL import Image

        with Image.open(nocc) as im:
            mask = np.asarray(im.convert("L"))
        if mask.shape != (h, w):
            raise ShapeError(f"{nocc} is {mask.shape[::-1]} but im0.png is {w}x{h}.")
        valid &= mask == 255
    meta: dict[str, Any] = {
        "name": name or folder.name,
        "dataset": "middlebury",
        "path": str(folder),
        "disparity_file": disp_path.name,
        "focal": focal,
        "baseline": baseline,
        "doffs": doffs,
        "calib_scale": ratio,
        "units": "mm",
        "calib_format": "2014" if "dyavg" in calib else "2021",
    }
    for key in ("ndisp", "vmin", "vmax", "width", "height", "isint"):
        if isinstance(calib.get(key), (int, float)):
            meta[key] = calib[key]
    return Sample(rgb=rgb, gt=depth, gt_kind="depth", valid=valid, meta=meta)


class MiddleburyDataset:
    """Middlebury scenes below a folder, loaded one at a time (a :class:`Dataset`).

    Args:
        root: a scene folder, or a folder with scene folders up to three levels below.
        nonoccluded: drop occluded pixels where the scene has ``mask0nocc.png``.

    Raises:
        InputError: ``root`` is missing or holds no scene.
    """

    def __init__(self, root: str | Path, *, nonoccluded: bool = False) -> None:
        self.root = Path(root).expanduser()
        if not self.root.is_dir():
            raise InputError(f"Middlebury folder {self.root} not found.")
        self.scenes = find_scenes(self.root)
        if not self.scenes:
            raise InputError(
                f"no Middlebury scene in {self.root}: a scene folder holds im0.png, calib.txt "
                f"and {' or '.join(DISPARITY_FILES)}."
            )
        self.nonoccluded = nonoccluded
        self.names = _unique_names(self.scenes, self.root)
        self.name = "middlebury" if self.root.name == "" else f"middlebury-{self.root.name}"

    def sample(self, index: int) -> Sample:
        return load_scene(self.scenes[index], name=self.names[index], nonoccluded=self.nonoccluded)

    def __len__(self) -> int:
        return len(self.scenes)

    def __iter__(self) -> Iterator[Sample]:
        for i in range(len(self)):
            yield self.sample(i)

    def __repr__(self) -> str:
        return f"MiddleburyDataset({str(self.root)!r}, {len(self)} scenes)"


def _unique_names(scenes: list[Path], root: Path) -> list[str]:
    """Folder names, or paths relative to ``root`` joined by ``_`` where names repeat."""
    names = [s.name for s in scenes]
    if len(set(names)) == len(names):
        return names
    return ["_".join(s.relative_to(root).parts) if s != root else s.name for s in scenes]
