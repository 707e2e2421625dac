"""Depth maps as pictures: colour-mapped previews, side-by-side figures, image files.

Colour maps are OpenCV's built-in ones (:data:`COLORMAPS`) plus ``"gray"``. Everything here
returns or takes RGB ``uint8`` arrays (OpenCV's BGR stays inside this module).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image

from sddr_core.errors import InputError, ShapeError, UnsupportedFormatError
from sddr_core.io.depth import writable_map
from sddr_core.io.files import atomic_write, check_writable
from sddr_core.ops.align import is_flat

__all__ = ["COLORMAPS", "IMAGE_FORMATS", "colorize", "side_by_side", "write_image"]

_OPENCV_CMAPS: dict[str, int] = {
    name.removeprefix("COLORMAP_").lower(): getattr(cv2, name)
    for name in dir(cv2)
    if name.startswith("COLORMAP_")
}
_GRAY = ("gray", "grey")

#: Colour map names accepted by :func:`colorize` (case-insensitive).
COLORMAPS: tuple[str, ...] = ("gray", *sorted(_OPENCV_CMAPS))

#: Extensions :func:`write_image` can write, with a description.
IMAGE_FORMATS: dict[str, str] = {
    ".png": "PNG, lossless, 8-bit gray/RGB/RGBA",
    ".jpg": "JPEG, quality 95, 8-bit gray/RGB",
    ".jpeg": "JPEG, quality 95, 8-bit gray/RGB",
}

_KINDS = ("depth", "disparity")
_GAP = 4  # white pixels between the panels of side_by_side
_FONT = cv2.FONT_HERSHEY_SIMPLEX


def colorize(
    depth: Any,
    *,
    cmap: str = "turbo",
    near_is_bright: bool = True,
    kind: str = "disparity",
    valid: Any = None,
    percentiles: tuple[float, float] = (1, 99),
) -> np.ndarray:
    """Colour a depth or disparity map for viewing.

    Values are normalised robustly: the ``percentiles`` of the valid pixels map to the two
    ends of the colour map (values beyond are clipped). With ``near_is_bright`` the nearest
    pixels get the bright/warm end: large values for ``kind="disparity"``, small values for
    ``kind="depth"``. Invalid pixels (non-finite, or False in ``valid``) are black; a map with
    no valid pixel is all black, a constant map takes the middle colour.

    Args:
        depth: the map, ``(H, W)`` numpy array or torch tensor.
        cmap: a name from :data:`COLORMAPS`, case-insensitive (``"turbo"``, ``"inferno"``,
            ``"magma"``, ``"viridis"``, ``"gray"``, ...).
        near_is_bright: put near pixels at the bright end (False: the dark end).
        kind: ``"disparity"`` (large = near) or ``"depth"`` (large = far).
        valid: optional ``(H, W)`` boolean mask of pixels to show.
        percentiles: ``(low, high)`` percentiles, ``0 <= low < high <= 100``.

    Returns:
        RGB image, uint8 ``(H, W, 3)``.

    Raises:
        InputError: unknown ``cmap`` or ``kind``, bad ``percentiles``, non-numeric ``depth``.
        ShapeError: ``depth`` is not ``(H, W)`` or ``valid`` does not match it.
    """
    arr = writable_map(depth)
    colormap = _colormap_code(cmap)
    kind_l = kind.lower() if isinstance(kind, str) else kind
    if kind_l not in _KINDS:
        raise InputError(f"kind must be 'depth' or 'disparity', got {kind!r}.")
    try:
        low_p, high_p = (float(p) for p in percentiles)
    except (TypeError, ValueError):
        raise InputError(
            f"percentiles must be two numbers (low, high), got {percentiles!r}."
        ) from None
    if not 0.0 <= low_p < high_p <= 100.0:
        raise InputError(
            f"percentiles must satisfy 0 <= low < high <= 100, got {percentiles!r}; "
            "(1, 99) is a good default, (0, 100) uses the full range."
        )

    mask = np.isfinite(arr)
    if valid is not None:
        mask &= _as_mask(valid, arr.shape)
    rgb = np.zeros((*arr.shape, 3), dtype=np.uint8)
    if not mask.any():
        return rgb

    values = arr[mask].astype(np.float64)
    low, high = np.percentile(values, [low_p, high_p])
    t = np.zeros(arr.shape, dtype=np.float64)
    if not is_flat(float(low), float(high)):
        t[mask] = np.clip((values - low) / (high - low), 0.0, 1.0)
    else:  # constant map (within the percentiles, up to float rounding)
        t[mask] = 0.5
    if (kind_l == "depth") == near_is_bright:  # make the near end the high end
        t = 1.0 - t
    index = np.rint(t * 255.0).astype(np.uint8)

    if colormap is None:
        rgb[...] = index[..., None]
    else:
        rgb[...] = cv2.applyColorMap(index, colormap)[..., ::-1]  # BGR -> RGB
    rgb[~mask] = 0
    return rgb


def side_by_side(
    panels: Sequence[Any],
    titles: Sequence[str] | None = None,
    *,
    height: int | None = None,
) -> np.ndarray:
    """Put images and colourised maps next to each other, each under a title.

    Every panel is resized (aspect ratio kept) to a common height; panels are separated by a
    thin white gap. Titles are drawn with OpenCV's Hershey font (ASCII; other characters show
    as ``?``) in a white strip above each panel, shrunk to fit the panel's width.

    Args:
        panels: RGB images, each uint8 ``(H, W)``, ``(H, W, 3)`` or ``(H, W, 4)`` (alpha is
            dropped), or float ``(H, W, 3)`` in ``[0, 1]``. Colour depth maps with
            :func:`colorize` first.
        titles: one title per panel, or None for no title strip.
        height: the common panel height in pixels; default: the first panel's height.

    Returns:
        RGB image, uint8 ``(T + height, W_total, 3)`` where ``T`` is the title strip height
        (0 without titles).

    Raises:
        InputError: no panels, a titles/panels count mismatch, a bad height, or a panel that
            is not an image (e.g. a raw float depth map).
        ShapeError: a panel with an unusable shape.
    """
    if len(panels) == 0:
        raise InputError("side_by_side needs at least one panel.")
    images = [_as_rgb(p, i) for i, p in enumerate(panels)]
    if titles is not None and len(titles) != len(images):
        raise InputError(
            f"Got {len(titles)} titles for {len(images)} panels; give one title per panel "
            "or titles=None."
        )
    if height is None:
        height = images[0].shape[0]
    if isinstance(height, bool) or not isinstance(height, int | np.integer) or height < 1:
        raise InputError(f"height must be a positive number of pixels, got {height!r}.")
    height = int(height)

    resized = [_resize_to_height(img, height) for img in images]
    strip = 0 if titles is None else max(16, round(height * 0.08))
    columns = []
    for i, img in enumerate(resized):
        column = np.full((strip + height, img.shape[1], 3), 255, dtype=np.uint8)
        column[strip:] = img
        if titles is not None:
            _draw_title(column[:strip], str(titles[i]))
        columns.append(column)
        if i < len(resized) - 1:
            columns.append(np.full((strip + height, _GAP, 3), 255, dtype=np.uint8))
    return np.ascontiguousarray(np.concatenate(columns, axis=1))


def write_image(
    path: str | os.PathLike[str], rgb_uint8: np.ndarray, *, overwrite: bool = False
) -> Path:
    """Save an 8-bit image as PNG or JPEG (by extension), atomically, never overwriting
    unless asked.

    Args:
        path: destination ``.png``, ``.jpg`` or ``.jpeg`` file; parent folders are created.
        rgb_uint8: uint8 ``(H, W)`` gray, ``(H, W, 3)`` RGB or ``(H, W, 4)`` RGBA (PNG only).
        overwrite: replace an existing file instead of raising OutputExistsError.

    Returns:
        The absolute path written.

    Raises:
        UnsupportedFormatError: the extension is not one of :data:`IMAGE_FORMATS`.
        OutputExistsError: the file exists and ``overwrite`` is False.
        InputError: not uint8, or RGBA for JPEG.
        ShapeError: not ``(H, W)``, ``(H, W, 3)`` or ``(H, W, 4)``.
    """
    ext = Path(path).suffix.lower()
    if ext not in IMAGE_FORMATS:
        raise UnsupportedFormatError(
            f"Cannot write image {Path(path)}: extension {ext!r} is not supported. "
            f"Use one of {', '.join(IMAGE_FORMATS)}."
        )
    arr = np.asarray(rgb_uint8)
    if arr.dtype != np.uint8:
        raise InputError(
            f"write_image needs uint8 pixels, got {arr.dtype}. Colour depth maps with "
            "colorize(), or convert with np.clip(x * 255, 0, 255).astype(np.uint8)."
        )
    if not (arr.ndim == 2 or (arr.ndim == 3 and arr.shape[2] in (3, 4))) or arr.size == 0:
        raise ShapeError(
            f"write_image needs an (H, W), (H, W, 3) or (H, W, 4) image, got {arr.shape}."
        )
    jpeg = ext in (".jpg", ".jpeg")
    if jpeg and arr.ndim == 3 and arr.shape[2] == 4:
        raise InputError(
            f"JPEG has no alpha channel: cannot write RGBA to {Path(path)}. Save as .png, "
            "or drop the alpha channel (rgba[..., :3])."
        )
    check_writable(path, overwrite=overwrite)
    image = Image.fromarray(np.ascontiguousarray(arr))
    if jpeg:
        return atomic_write(
            path, lambda fh: image.save(fh, format="JPEG", quality=95), overwrite=overwrite
        )
    return atomic_write(path, lambda fh: image.save(fh, format="PNG"), overwrite=overwrite)


# ---------------------------------------------------------------------------------------


def _colormap_code(cmap: str) -> int | None:
    """OpenCV colour map constant for ``cmap``; None means plain gray."""
    name = cmap.lower() if isinstance(cmap, str) else cmap
    if name in _GRAY:
        return None
    if name not in _OPENCV_CMAPS:
        raise InputError(f"Unknown colour map {cmap!r}. Choose one of: {', '.join(COLORMAPS)}.")
    return _OPENCV_CMAPS[name]


def _as_mask(valid: Any, shape: tuple[int, ...]) -> np.ndarray:
    if hasattr(valid, "detach") and hasattr(valid, "cpu"):  # torch tensor
        valid = valid.detach().cpu().numpy()
    mask = np.asarray(valid).astype(bool)
    if mask.shape != shape:
        mask = np.squeeze(mask)
    if mask.shape != shape:
        raise ShapeError(
            f"valid must have the depth map's shape {shape}, got {np.asarray(valid).shape}."
        )
    return mask


def _as_rgb(panel: Any, index: int) -> np.ndarray:
    """One side_by_side panel -> uint8 ``(H, W, 3)``."""
    if hasattr(panel, "detach") and hasattr(panel, "cpu"):  # torch tensor
        panel = panel.detach().cpu().numpy()
    arr = np.asarray(panel)
    if arr.dtype.kind == "f":
        if arr.ndim == 2 or (arr.ndim == 3 and arr.shape[2] == 1):
            raise InputError(
                f"Panel {index} is a single-channel float map {arr.shape}; colour it first "
                "with colorize(depth, kind='depth' or 'disparity')."
            )
        arr = np.rint(np.clip(np.nan_to_num(arr, nan=0.0), 0.0, 1.0) * 255.0).astype(np.uint8)
    if arr.dtype != np.uint8:
        raise InputError(
            f"Panel {index} has dtype {arr.dtype}; give uint8 images, float RGB in [0, 1], "
            "or colorize() depth maps first."
        )
    if arr.ndim == 2:
        arr = arr[..., None]
    if arr.ndim != 3 or arr.shape[2] not in (1, 3, 4) or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ShapeError(
            f"Panel {index} has shape {arr.shape}; expected (H, W), (H, W, 3) or (H, W, 4)."
        )
    if arr.shape[2] == 1:
        arr = np.repeat(arr, 3, axis=2)
    return np.ascontiguousarray(arr[..., :3])


def _resize_to_height(img: np.ndarray, height: int) -> np.ndarray:
    h, w = img.shape[:2]
    if h == height:
        return img
    width = max(1, round(w * height / h))
    interpolation = cv2.INTER_AREA if height < h else cv2.INTER_LINEAR
    return cv2.resize(img, (width, height), interpolation=interpolation)


def _draw_title(strip: np.ndarray, title: str) -> None:
    """Write ``title`` centred, in black, into the white ``strip`` (modified in place)."""
    text = title.encode("ascii", "replace").decode("ascii")
    if not text:
        return
    strip_h, strip_w = strip.shape[:2]
    pad = 2
    (_, ref_h), _ = cv2.getTextSize("Ag", _FONT, 1.0, 1)
    scale = 0.6 * strip_h / max(ref_h, 1)
    thickness = max(1, round(scale * 1.5))
    (text_w, text_h), _ = cv2.getTextSize(text, _FONT, scale, thickness)
    if text_w > strip_w - 2 * pad:  # shrink to fit the panel's width
        scale *= max(strip_w - 2 * pad, 1) / text_w
        thickness = max(1, round(scale * 1.5))
        (text_w, text_h), _ = cv2.getTextSize(text, _FONT, scale, thickness)
    x = max(pad, (strip_w - text_w) // 2)
    y = (strip_h + text_h) // 2
    cv2.putText(strip, text, (x, y), _FONT, scale, (0, 0, 0), thickness, cv2.LINE_AA)
