"""Loading input images of every accepted kind into float32 RGB ``(H, W, 3)`` in ``[0, 1]``."""

from __future__ import annotations

import os
import threading
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from sddr_core.errors import (
    ImageTooLargeError,
    InputError,
    ShapeError,
    UnsupportedFormatError,
    option,
)
from sddr_core.io.files import check_input_file

__all__ = ["DEFAULT_MAX_PIXELS", "MAX_PIXELS_ENV", "MIN_IMAGE_SIDE", "load_image", "max_pixels"]

#: Smallest accepted image side, in pixels.
MIN_IMAGE_SIDE = 8

#: Largest accepted image, in pixels (width x height), unless raised. Refining peaks at about
#: 35 bytes a pixel (the float RGB image, the output maps at full size and their temporaries;
#: measured: 12000x12000 with the Poisson refiner, 4.7 GB peak RSS), so this default keeps a
#: refine near 5 GB, under 8 GB with a predictor's model loaded.
DEFAULT_MAX_PIXELS = 150_000_000

#: Peak memory of a refine per image pixel, in bytes (for messages).
BYTES_PER_PIXEL = 35

#: Environment variable that raises (or lowers) the limit, in pixels; ``sddr refine
#: --max-pixels`` sets it for one run.
MAX_PIXELS_ENV = "SDDR_MAX_PIXELS"

# Pillow's own decompression-bomb limit is a process-wide global; sddr applies its own limit
# (above), so it lifts Pillow's while it opens a file, under this lock.
_PILLOW_LIMIT_LOCK = threading.Lock()


def max_pixels() -> int:
    """The image size limit in pixels: ``$SDDR_MAX_PIXELS`` if set, else
    :data:`DEFAULT_MAX_PIXELS`.

    Raises:
        InputError: the variable is set but is not a positive integer.
    """
    raw = os.environ.get(MAX_PIXELS_ENV, "").strip().replace("_", "")
    if not raw:
        return DEFAULT_MAX_PIXELS
    try:
        value = int(float(raw))
    except ValueError:
        value = 0
    if value <= 0:
        raise InputError(
            f"{MAX_PIXELS_ENV}={os.environ[MAX_PIXELS_ENV]!r} is not a positive number of "
            f"pixels. Set it to e.g. 200000000, or unset it for the default "
            f"({DEFAULT_MAX_PIXELS})."
        )
    return value


def _check_pixels(width: int, height: int, what: str) -> None:
    """Refuse an image over :func:`max_pixels` before any pixel is decoded or converted."""
    limit = max_pixels()
    if width * height > limit:
        need = width * height
        gb = BYTES_PER_PIXEL * need / 1e9
        raise ImageTooLargeError(
            f"{what} is {width}x{height} = {need / 1e6:.0f} Mpx, over sddr's limit of "
            f"{limit / 1e6:.0f} Mpx (refining needs about {gb:.0f} GB of memory at this "
            f"size). Downscale it first, or raise the limit with "
            f"{option('max_pixels', need)} (environment variable {MAX_PIXELS_ENV}) on a "
            "machine with that much memory."
        )


def _read_file(path: Path) -> np.ndarray:
    check_input_file(
        path,
        "an image file",
        folder_hint=f"Pass the images inside it (e.g. {str(path / '*.png')!r}).",
    )
    from PIL import Image

    with _PILLOW_LIMIT_LOCK, warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        saved = Image.MAX_IMAGE_PIXELS
        Image.MAX_IMAGE_PIXELS = None  # sddr's own limit applies, see _check_pixels
        try:
            return _decode_file(path)
        finally:
            Image.MAX_IMAGE_PIXELS = saved


def _decode_file(path: Path) -> np.ndarray:
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            _check_pixels(im.width, im.height, f"image {str(path)!r}")
            if im.mode in ("I;16", "I;16B", "I;16L", "I", "F") or path.suffix.lower() in (
                ".png",
                ".tif",
                ".tiff",
            ):
                arr = _read_with_cv2(path)
                if arr is not None:
                    return arr
            im = ImageOps.exif_transpose(im)
            if im.mode in ("I;16", "I;16B", "I;16L", "I"):
                return np.asarray(im).astype(np.float32) / 65535.0
            if im.mode == "F":
                return np.asarray(im, dtype=np.float32)
            return np.asarray(im.convert("RGBA" if "A" in im.getbands() else "RGB"))
    except UnidentifiedImageError:
        arr = _read_with_cv2(path)
        if arr is not None:
            return arr
        raise UnsupportedFormatError(
            f"cannot read {str(path)!r} as an image: not a format Pillow or OpenCV knows "
            "(use PNG, JPEG, TIFF, WebP, BMP or EXR)."
        ) from None
    except PermissionError as exc:
        raise InputError(
            f"cannot read image {str(path)!r}: permission denied. Check the file's permissions."
        ) from exc
    except OSError as exc:
        raise UnsupportedFormatError(
            f"cannot read image {str(path)!r}: {exc}. The file may be truncated or corrupt."
        ) from exc


def _read_with_cv2(path: Path) -> np.ndarray | None:
    import cv2

    try:
        arr = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    except cv2.error as exc:  # e.g. over OpenCV's own CV_IO_MAX_IMAGE_PIXELS
        raise ImageTooLargeError(
            f"OpenCV cannot read image {str(path)!r}: {str(exc).strip()}. If it is very "
            "large, downscale it first."
        ) from exc
    if arr is None:
        return None
    if arr.ndim == 3:
        code = cv2.COLOR_BGRA2RGBA if arr.shape[2] == 4 else cv2.COLOR_BGR2RGB
        arr = cv2.cvtColor(arr, code)
    return arr


def _from_tensor(t: Any) -> np.ndarray:
    arr = t.detach().cpu().float().numpy() if t.is_floating_point() else t.detach().cpu().numpy()
    while arr.ndim == 4 and arr.shape[0] == 1:
        arr = arr[0]
    if arr.ndim == 3 and arr.shape[0] in (1, 3, 4) and arr.shape[2] not in (1, 3, 4):
        arr = np.moveaxis(arr, 0, -1)
    return arr


def _to_float(arr: np.ndarray) -> np.ndarray:
    if arr.dtype == np.uint8:
        return arr.astype(np.float32) / 255.0
    if arr.dtype == np.uint16:
        return arr.astype(np.float32) / 65535.0
    if arr.dtype == bool:
        return arr.astype(np.float32)
    if np.issubdtype(arr.dtype, np.integer):
        raise InputError(
            f"integer images must be uint8 or uint16, got {arr.dtype}; convert the array first."
        )
    if not np.issubdtype(arr.dtype, np.floating):
        raise InputError(f"unsupported image dtype {arr.dtype}: use uint8, uint16 or float.")
    out = arr.astype(np.float32)
    bad = ~np.isfinite(out)
    if bad.any():
        raise InputError(
            f"image has {int(bad.sum())} non-finite values (NaN or inf); replace them first."
        )
    lo, hi = float(out.min()), float(out.max())
    if lo < -1e-3 or hi > 1.0 + 1e-3:
        raise InputError(
            f"float image values must lie in [0, 1], got [{lo:.4g}, {hi:.4g}]. Divide 8-bit "
            "data by 255 (or pass the uint8 array as is)."
        )
    return np.clip(out, 0.0, 1.0)


def load_image(image: Any) -> np.ndarray:
    """Any accepted image as float32 RGB ``(H, W, 3)`` in ``[0, 1]``.

    Accepts a file path (``str`` or ``Path``; EXIF orientation applied, 16-bit PNG/TIFF kept
    at full precision), a PIL image, a numpy array ``(H, W, 3)``, ``(H, W, 4)`` (alpha
    dropped), ``(H, W, 1)`` or ``(H, W)`` of uint8, uint16 or float in ``[0, 1]``, or a torch
    tensor ``(3, H, W)`` / ``(H, W, 3)`` (a leading batch of one is allowed).
    """
    if isinstance(image, (str, os.PathLike)):
        arr = _read_file(Path(image))
    elif hasattr(image, "getbands") and hasattr(image, "convert"):  # PIL image
        from PIL import ImageOps

        _check_pixels(image.width, image.height, "the image")
        im = ImageOps.exif_transpose(image)
        if im.mode in ("I;16", "I;16B", "I;16L", "I"):
            arr = np.asarray(im).astype(np.float32) / 65535.0
        elif im.mode == "F":
            arr = np.asarray(im, dtype=np.float32)
        else:
            arr = np.asarray(im.convert("RGB"))
    elif hasattr(image, "detach") and hasattr(image, "cpu"):  # torch tensor
        shape = tuple(image.shape)
        if len(shape) >= 2:  # (.., 3, H, W) or (.., H, W, 3): the two largest sides
            h, w = sorted(shape)[-2:]
            _check_pixels(w, h, "the image tensor")
        arr = _from_tensor(image)
    elif isinstance(image, np.ndarray):
        if image.ndim >= 2:
            _check_pixels(image.shape[1], image.shape[0], "the image array")
        arr = image
    else:
        raise InputError(
            f"cannot use a {type(image).__name__} as an image: pass a file path, a PIL image, "
            "a numpy array (H, W, 3) or a torch tensor (3, H, W)."
        )
    if arr.ndim >= 2:  # files OpenCV decoded (EXR) are checked here
        _check_pixels(arr.shape[1], arr.shape[0], "the image")
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[..., 0]
    if arr.ndim == 3 and arr.shape[2] == 4:
        arr = arr[..., :3]
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] != 3):
        raise ShapeError(
            f"image must be (H, W), (H, W, 3) or (H, W, 4), got shape {arr.shape}. Tensors "
            "may be (3, H, W) or (H, W, 3)."
        )
    if arr.size == 0 or min(arr.shape[:2]) < MIN_IMAGE_SIDE:
        raise InputError(
            f"image of size {arr.shape[1]}x{arr.shape[0]} is too small: both sides must be at "
            f"least {MIN_IMAGE_SIDE} pixels."
        )
    out = _to_float(np.asarray(arr))
    if out.ndim == 2:
        out = np.repeat(out[..., None], 3, axis=2)
    return np.ascontiguousarray(out)
