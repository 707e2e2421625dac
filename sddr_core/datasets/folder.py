"""The generic folder layout: your own images with ground-truth depth or disparity.

Layout (``sddr eval --dataset folder:PATH``, or just ``PATH``)::

    PATH/
      rgb/NAME.png            the images (.png, .jpg or .jpeg; 8- or 16-bit)
      depth/NAME.EXT          ground-truth depth, larger = farther ...
      disparity/NAME.EXT      ... or disparity (inverse depth), larger = nearer
      mask/NAME.png           optional: non-zero where the ground truth may be evaluated

* ``EXT`` is ``png`` (16-bit; one written by sddr keeps its float range, any other holds raw
  integer values), ``exr``, ``npy``, ``pfm``, ``tif`` or ``tiff``. Units do not matter:
  predictions are fitted to the ground truth by scale and shift before measuring.
* Every image in ``rgb/`` needs a ground truth of the same ``NAME`` in ``depth/`` or in
  ``disparity/`` (not both), at the image's size.
* Unknown ground-truth pixels are NaN, inf, zero or negative (so 0 in a PNG).
* Samples come in the sorted order of their names; ``NAME`` is the sample's name in reports.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from sddr_core.datasets.base import GtKind, Sample
from sddr_core.errors import InputError, ShapeError

__all__ = ["GT_EXTENSIONS", "IMAGE_EXTENSIONS", "FolderDataset", "load_folder_sample"]

#: Image extensions read from ``rgb/`` (case-insensitive).
IMAGE_EXTENSIONS: tuple[str, ...] = (".png", ".jpg", ".jpeg")
#: Ground-truth extensions read from ``depth/`` and ``disparity/``, in order of preference.
GT_EXTENSIONS: tuple[str, ...] = (".png", ".exr", ".npy", ".pfm", ".tif", ".tiff")
_GT_FOLDERS: tuple[GtKind, ...] = ("depth", "disparity")


def _files_by_stem(folder: Path, extensions: tuple[str, ...]) -> dict[str, Path]:
    """``{stem: path}`` of the files in ``folder`` with one of ``extensions`` (the first
    extension in that order wins when a stem has several)."""
    if not folder.is_dir():
        return {}
    out: dict[str, Path] = {}
    rank = {ext: i for i, ext in enumerate(extensions)}
    for p in sorted(folder.iterdir()):
        ext = p.suffix.lower()
        if not p.is_file() or ext not in rank:
            continue
        old = out.get(p.stem)
        if old is None or rank[ext] < rank[old.suffix.lower()]:
            out[p.stem] = p
    return out


def load_folder_sample(
    rgb_path: str | Path,
    gt_path: str | Path,
    gt_kind: GtKind,
    mask_path: str | Path | None = None,
    *,
    name: str | None = None,
) -> Sample:
    """One sample of the folder layout.

    Args:
        rgb_path: the image.
        gt_path: its ground truth, read by :func:`sddr_core.io.depth.read_depth`.
        gt_kind: ``"depth"`` or ``"disparity"`` (from the folder it lies in).
        mask_path: optional PNG, non-zero where the ground truth may be evaluated.
        name: the sample's name; default: the image's stem.

    Returns:
        A :class:`Sample` with ``rgb`` float32 ``(H, W, 3)`` and ``meta`` holding ``name``,
        ``dataset``, ``rgb``, ``gt`` and ``mask`` paths.

    Raises:
        InputError: unreadable files, or an sddr PNG whose stored kind contradicts the
            folder; ShapeError: image, ground truth and mask sizes differ.
    """
    from sddr_core.io.depth import read_depth
    from sddr_core.io.images import load_image

    rgb_path, gt_path = Path(rgb_path), Path(gt_path)
    rgb = load_image(rgb_path)
    gt_file = read_depth(gt_path)
    if gt_file.kind in _GT_FOLDERS and gt_file.kind != gt_kind:
        raise InputError(
            f"{gt_path} says it holds {gt_file.kind} but lies in {gt_kind}/; move it to "
            f"{gt_file.kind}/."
        )
    gt = gt_file.depth
    h, w = rgb.shape[:2]
    if gt.shape != (h, w):
        raise ShapeError(
            f"{gt_path} is {gt.shape[1]}x{gt.shape[0]} but {rgb_path.name} is {w}x{h}; the "
            "ground truth must be at the image's size."
        )
    valid = np.ones((h, w), dtype=bool)
    meta: dict[str, Any] = {
        "name": name or rgb_path.stem,
        "dataset": "folder",
        "rgb": str(rgb_path),
        "gt": str(gt_path),
    }
    if mask_path is not None:
        from PIL import Image

        mask_path = Path(mask_path)
        try:
            with Image.open(mask_path) as im:
                mask = np.asarray(im)
        except OSError as exc:
            raise InputError(f"cannot read mask {mask_path}: {exc}") from exc
        if mask.ndim == 3:
            mask = mask[..., 0]
        if mask.shape != (h, w):
            raise ShapeError(
                f"mask {mask_path} is {mask.shape[1]}x{mask.shape[0]} but the image is {w}x{h}."
            )
        valid &= mask > 0
        meta["mask"] = str(mask_path)
    return Sample(rgb=rgb, gt=gt, gt_kind=gt_kind, valid=valid, meta=meta)


class FolderDataset:
    """Samples of the generic folder layout (see the module docstring), loaded lazily.

    Args:
        root: the folder holding ``rgb/`` and ``depth/`` or ``disparity/``.

    Raises:
        InputError: a missing folder, no image, an image without ground truth, or a name in
            both ``depth/`` and ``disparity/``.
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).expanduser()
        rgb_dir = self.root / "rgb"
        if not rgb_dir.is_dir():
            raise InputError(
                f"{self.root} has no rgb/ folder; the folder layout is rgb/NAME.png + "
                "depth/NAME.(png|exr|npy|pfm|tif) or disparity/NAME.*, optional mask/NAME.png."
            )
        images = _files_by_stem(rgb_dir, IMAGE_EXTENSIONS)
        if not images:
            raise InputError(f"{rgb_dir} holds no .png/.jpg image.")
        gts = {kind: _files_by_stem(self.root / kind, GT_EXTENSIONS) for kind in _GT_FOLDERS}
        masks = _files_by_stem(self.root / "mask", (".png",))
        both = sorted(set(gts["depth"]) & set(gts["disparity"]) & set(images))
        if both:
            raise InputError(
                f"{', '.join(both[:5])} have ground truth in both depth/ and disparity/ under "
                f"{self.root}; keep one."
            )
        missing = [n for n in images if n not in gts["depth"] and n not in gts["disparity"]]
        if missing:
            raise InputError(
                f"{len(missing)} image(s) in {rgb_dir} have no ground truth in depth/ or "
                f"disparity/ (e.g. {', '.join(sorted(missing)[:5])}); every rgb/NAME.png needs "
                "depth/NAME.* or disparity/NAME.*."
            )
        self.entries: list[tuple[str, Path, Path, GtKind, Path | None]] = []
        for stem in sorted(images):
            kind: GtKind = "depth" if stem in gts["depth"] else "disparity"
            self.entries.append((stem, images[stem], gts[kind][stem], kind, masks.get(stem)))
        self.names = [e[0] for e in self.entries]
        self.name = self.root.name or "folder"

    def sample(self, index: int) -> Sample:
        stem, rgb, gt, kind, mask = self.entries[index]
        return load_folder_sample(rgb, gt, kind, mask, name=stem)

    def __len__(self) -> int:
        return len(self.entries)

    def __iter__(self) -> Iterator[Sample]:
        for i in range(len(self)):
            yield self.sample(i)

    def __repr__(self) -> str:
        return f"FolderDataset({str(self.root)!r}, {len(self)} samples)"
