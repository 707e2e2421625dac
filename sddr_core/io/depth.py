"""Depth maps in and out of files: 16-bit PNG, OpenEXR, NPY, PFM and float32 TIFF.

The format follows the file extension (case-insensitive), see :data:`DEPTH_FORMATS`.

* ``.npy``, ``.pfm``, ``.tif``/``.tiff`` and ``.exr`` store float32 exactly, NaN and inf
  included. They store only the array: ``kind`` and ``meta`` are not kept.
* ``.png`` stores 16 bits per pixel: the finite values are rescaled linearly from
  ``min..max`` to ``1..65535`` and ``0`` marks invalid (NaN or inf) pixels. ``min``, ``max``,
  ``kind``, ``meta`` and the sddr version travel in PNG text chunks, so :func:`read_depth`
  restores the original range to within ``(max - min) / 65535``.

Writes are atomic and never replace an existing file unless ``overwrite=True``
(see :func:`sddr_core.io.files.atomic_write`).
"""

from __future__ import annotations

import os

# OpenCV reads this switch once, when cv2 is first imported, so it must be set before.
os.environ.setdefault("OPENCV_IO_ENABLE_OPENEXR", "1")

import io
import json
import math
from dataclasses import dataclass, field
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, BinaryIO

import cv2
import numpy as np
from PIL import Image, PngImagePlugin

from sddr_core.errors import InputError, ShapeError, UnsupportedFormatError
from sddr_core.io.files import atomic_write, check_input_file, check_writable
from sddr_core.ops.maps import as_depth_map

__all__ = ["DEPTH_FORMATS", "DepthFile", "read_depth", "write_depth"]

MetaValue = str | int | float

DEPTH_FORMATS: dict[str, str] = {
    ".png": "16-bit grayscale PNG: min..max rescaled to 1..65535, 0 = invalid; "
    "min, max, kind and meta kept in text chunks",
    ".exr": "OpenEXR, float32 single channel, through OpenCV (NaN kept)",
    ".npy": "NumPy array, float32 (NaN kept)",
    ".pfm": "Portable Float Map, float32 (NaN kept)",
    ".tif": "TIFF, 32-bit float (NaN kept)",
    ".tiff": "TIFF, 32-bit float (NaN kept)",
}

_PNG_LEVELS = 65534  # valid codes are 1..65535; 0 marks an invalid pixel
_PNG_ENCODING = "linear 1..65535 from min..max, 0 = invalid (v1)"
_KEY = "sddr:"  # prefix of sddr's PNG text chunk keywords


@dataclass(frozen=True, eq=False)
class DepthFile:
    """A depth map read from a file.

    Attributes:
        depth: the map, float32 ``(H, W)``; invalid pixels are NaN.
        kind: what the values mean (``"depth"``, ``"disparity"``, ...) when the file says so
            (sddr PNGs), else None.
        meta: extra key/value pairs stored with the map (sddr PNGs), else empty.
    """

    depth: np.ndarray
    kind: str | None = None
    meta: dict[str, MetaValue] = field(default_factory=dict)


def write_depth(
    path: str | os.PathLike[str],
    depth: Any,
    *,
    overwrite: bool = False,
    kind: str | None = None,
    meta: dict[str, MetaValue] | None = None,
    value_range: tuple[float, float] | None = None,
) -> Path:
    """Save a depth map; the format follows the extension of ``path`` (see DEPTH_FORMATS).

    Args:
        path: destination file; missing parent folders are created.
        depth: the map, ``(H, W)`` numpy array or torch tensor of real numbers (leading or
            trailing size-1 axes, as in ``(1, 1, H, W)``, are dropped). Stored as float32.
        overwrite: replace an existing file instead of raising OutputExistsError.
        kind: what the values mean, e.g. ``"depth"`` or ``"disparity"``; kept by PNG only.
        meta: extra ``str -> str | int | float`` pairs; kept by PNG only.
        value_range: PNG only: ``(min, max)`` mapped to codes 1..65535 instead of the map's
            own range (values beyond are clipped), so that every frame of a sequence uses the
            same codes for the same value.

    Returns:
        The absolute path written.

    Raises:
        UnsupportedFormatError: the extension is not one of DEPTH_FORMATS, or OpenCV cannot
            write OpenEXR here (the message says how to enable it).
        OutputExistsError: the file exists and ``overwrite`` is False.
        ShapeError: ``depth`` is not a non-empty ``(H, W)`` map.
        InputError: ``depth`` is not numeric, or ``kind``/``meta`` have the wrong types.
    """
    ext = _format_of(path)
    arr = writable_map(depth)
    _check_kind_meta(kind, meta)
    check_writable(path, overwrite=overwrite)  # refuse before any work is done

    if ext == ".png":
        return atomic_write(
            path,
            lambda fh: _encode_png16(fh, arr, kind, meta, value_range),
            overwrite=overwrite,
        )
    if ext == ".exr":
        data = _encode_exr(arr, path)  # fails (clearly) before anything touches the disk
        return atomic_write(path, lambda fh: fh.write(data), overwrite=overwrite)
    if ext == ".npy":
        return atomic_write(path, lambda fh: np.save(fh, arr), overwrite=overwrite)
    if ext == ".pfm":
        return atomic_write(path, lambda fh: _encode_pfm(fh, arr), overwrite=overwrite)
    # .tif / .tiff: PIL mode "F" is 32-bit float; deflate is lossless.
    return atomic_write(
        path,
        lambda fh: Image.fromarray(arr).save(fh, format="TIFF", compression="tiff_adobe_deflate"),
        overwrite=overwrite,
    )


def read_depth(path: str | os.PathLike[str]) -> DepthFile:
    """Read a depth map written by :func:`write_depth` or by another tool.

    * sddr 16-bit PNG: de-quantised to the original range, invalid pixels NaN, ``kind`` and
      ``meta`` restored.
    * other 16-bit PNG/TIFF: raw integer values as float32; 8-bit PNG/TIFF: values / 255.
    * float formats: the stored values.
    * several channels (RGB images, ``(H, W, C)`` or ``(C, H, W)`` arrays with ``C <= 4``):
      the first channel.

    Args:
        path: the file to read.

    Returns:
        DepthFile with ``depth`` float32 ``(H, W)``.

    Raises:
        InputError: the file does not exist, cannot be read, or is damaged.
        UnsupportedFormatError: unknown extension, or the content is not of the format its
            extension names.
        ShapeError: the stored array is not a (possibly multi-channel) 2-D map.
    """
    p = Path(path).expanduser()
    ext = _format_of(p)
    check_input_file(p, "a depth file")

    kind: str | None = None
    meta: dict[str, MetaValue] = {}
    if ext == ".npy":
        depth = _first_channel(_load_npy(p), p)
    elif ext == ".pfm":
        depth = _decode_pfm(_read_bytes(p), p)
    elif ext == ".png":
        depth, kind, meta = _decode_png(_read_bytes(p), p)
    else:  # .exr, .tif, .tiff
        depth = _image_to_float(_decode_with_opencv(_read_bytes(p), p, ext))
    return DepthFile(depth=np.ascontiguousarray(depth, dtype=np.float32), kind=kind, meta=meta)


# ---------------------------------------------------------------------------------------
# checks shared by the writers (and by sddr_core.io.preview)
# ---------------------------------------------------------------------------------------


def writable_map(depth: Any, *, name: str = "depth") -> np.ndarray:
    """A map to write or show, checked by :func:`sddr_core.ops.maps.as_depth_map`: float32
    ``(H, W)``, size-1 axes in front or at the end dropped, any size from 1×1, NaN and inf
    kept (holes), one channel only.

    Raises:
        InputError: not real numbers (bool, complex, objects).
        ShapeError: not 2-D after dropping size-1 axes, or empty.
    """
    return as_depth_map(
        depth, what=name, min_side=1, unknown="keep", grey_rgb=False, max_magnitude=None
    )


def _format_of(path: str | os.PathLike[str]) -> str:
    ext = Path(path).suffix.lower()
    if ext not in DEPTH_FORMATS:
        supported = ", ".join(DEPTH_FORMATS)
        what = f"extension {ext!r}" if ext else "no extension"
        raise UnsupportedFormatError(
            f"Cannot use {Path(path)} as a depth file: {what}. Use one of {supported}."
        )
    return ext


def _check_kind_meta(kind: Any, meta: Any) -> None:
    if kind is not None and not isinstance(kind, str):
        raise InputError(f"kind must be a string such as 'depth' or 'disparity', got {kind!r}.")
    if meta is None:
        return
    if not isinstance(meta, dict):
        raise InputError(f"meta must be a dict of str -> str/int/float, got {type(meta).__name__}.")
    for key, value in meta.items():
        if not isinstance(key, str) or not isinstance(value, str | int | float):
            raise InputError(
                f"meta entries must be str -> str/int/float, got {key!r}: {value!r}. "
                "Convert the value to a string or a number."
            )


# ---------------------------------------------------------------------------------------
# reading helpers
# ---------------------------------------------------------------------------------------


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InputError(
            f"Cannot read {path}: {exc.strerror or exc}. Check the file's permissions."
        ) from exc


def _damaged(path: Path, what: str, reason: object) -> UnsupportedFormatError:
    reason = str(reason).strip().rstrip(".")
    return UnsupportedFormatError(
        f"Cannot read {path} as {what}: {reason}. The file is damaged or is not really {what}; "
        "export it again or rename it to its true extension."
    )


def _first_channel(arr: np.ndarray, path: Path) -> np.ndarray:
    """``(H, W)``, ``(H, W, C)`` or ``(C, H, W)`` with ``C <= 4`` -> ``(H, W)`` (channel 0)."""
    shape = arr.shape
    while arr.ndim > 2 and arr.shape[0] == 1:
        arr = arr[0]
    if arr.ndim == 3 and arr.shape[-1] <= 4:
        arr = arr[..., 0]
    elif arr.ndim == 3 and arr.shape[0] <= 4:
        arr = arr[0]
    if arr.ndim != 2 or arr.size == 0:
        raise ShapeError(
            f"{path} holds an array of shape {shape}; expected a depth map (H, W), or (H, W, C) "
            "/ (C, H, W) with at most 4 channels."
        )
    return arr


def _load_npy(path: Path) -> np.ndarray:
    try:
        with path.open("rb") as fh:
            magic = fh.read(6)
    except OSError as exc:
        raise InputError(
            f"Cannot read {path}: {exc.strerror or exc}. Check the file's permissions."
        ) from exc
    if magic != b"\x93NUMPY":
        raise _damaged(path, "a NumPy .npy array", "no .npy signature")
    try:
        arr = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise _damaged(path, "a NumPy .npy array", exc) from exc
    if not isinstance(arr, np.ndarray) or arr.dtype.kind not in "fiub":
        raise InputError(
            f"{path} does not hold a numeric array (dtype {getattr(arr, 'dtype', '?')}). "
            "Save the depth map as float32."
        )
    return arr.astype(np.float32)


def _image_to_float(img: np.ndarray) -> np.ndarray:
    """A decoded OpenCV image (BGR order) -> float32 ``(H, W)``: first channel; 8 bit / 255."""
    if img.ndim == 3:
        # OpenCV stores colour as BGR(A): the file's first channel (R) sits at index 2.
        img = img[..., 2] if img.shape[2] >= 3 else img[..., 0]
    if img.dtype == np.uint8:
        return img.astype(np.float32) / np.float32(255.0)
    return img.astype(np.float32)


_SIGNATURES = {
    ".png": (b"\x89PNG\r\n\x1a\n",),
    ".tif": (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"),  # classic and BigTIFF
    ".tiff": (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"),
}


def _decode_with_opencv(data: bytes, path: Path, ext: str) -> np.ndarray:
    what = {".png": "a PNG image", ".exr": "an OpenEXR image"}.get(ext, "a TIFF image")
    if ext in _SIGNATURES and not data.startswith(_SIGNATURES[ext]):
        raise _damaged(
            path, what, f"no {'PNG' if ext == '.png' else 'TIFF'} signature at the start"
        )
    try:
        img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    except cv2.error as exc:
        if ext == ".exr":
            raise _exr_unavailable("read", path, exc) from exc
        raise _damaged(path, what, exc) from exc
    if img is None:
        if ext == ".exr" and not _opencv_exr_works():
            raise _exr_unavailable("read", path)
        raise _damaged(path, what, "OpenCV could not decode it")
    return img


def _decode_png(data: bytes, path: Path) -> tuple[np.ndarray, str | None, dict[str, MetaValue]]:
    if not data.startswith(_SIGNATURES[".png"][0]):
        raise _damaged(path, "a PNG image", "no PNG signature at the start")
    try:
        with Image.open(io.BytesIO(data)) as im:
            # Text chunks before the pixel data; write_depth puts sddr's there.
            info = {k: v for k, v in im.info.items() if isinstance(k, str)}
    except Exception as exc:  # PIL raises many types (UnidentifiedImageError, SyntaxError, ...)
        raise _damaged(path, "a PNG image", exc) from exc
    img = _decode_with_opencv(data, path, ".png")

    kind = info.get(_KEY + "kind")
    kind = str(kind) if kind is not None else None
    meta: dict[str, MetaValue] = {}
    if _KEY + "meta" in info:
        try:
            meta = dict(json.loads(str(info[_KEY + "meta"])))
        except (ValueError, TypeError) as exc:
            raise InputError(f"{path} has damaged sddr metadata ({exc}); write it again.") from exc

    if img.dtype == np.uint16 and img.ndim == 2 and _KEY + "min" in info:
        try:
            lo = float(info[_KEY + "min"])
            hi = float(info[_KEY + "max"])
        except (KeyError, ValueError) as exc:
            raise InputError(
                f"{path} has damaged sddr range metadata ({exc}); write it again."
            ) from exc
        depth = np.full(img.shape, np.nan, dtype=np.float32)
        valid = img > 0
        step = (hi - lo) / _PNG_LEVELS
        depth[valid] = lo + (img[valid].astype(np.float64) - 1.0) * step
        return depth, kind, meta
    return _image_to_float(img), kind, meta


def _decode_pfm(data: bytes, path: Path) -> np.ndarray:
    """PFM: ``Pf``/``PF``, width, height, scale (< 0: little endian); rows bottom to top."""
    tokens: list[bytes] = []
    pos, n = 0, len(data)
    while len(tokens) < 4:
        while pos < n and data[pos] in b" \t\r\n":
            pos += 1
        start = pos
        while pos < n and pos - start <= 32 and data[pos] not in b" \t\r\n":
            pos += 1
        token = data[start:pos]
        if not token or (not tokens and token not in (b"Pf", b"PF")):
            raise _damaged(path, "a PFM file", "no 'Pf'/'PF' header")
        tokens.append(token)
    try:
        width, height, scale = int(tokens[1]), int(tokens[2]), float(tokens[3])
    except ValueError as exc:
        raise _damaged(path, "a PFM file", f"bad header {b' '.join(tokens)!r}") from exc
    if width <= 0 or height <= 0 or scale == 0 or not math.isfinite(scale):
        raise _damaged(path, "a PFM file", f"bad header {b' '.join(tokens)!r}")
    pos += 2 if data[pos : pos + 2] == b"\r\n" else 1  # one whitespace ends the header
    channels = 3 if tokens[0] == b"PF" else 1
    count = width * height * channels
    if n - pos < 4 * count:
        raise InputError(
            f"{path} is truncated: a {width}x{height} PFM needs {4 * count} bytes of pixels, "
            f"it has {max(n - pos, 0)}. Write it again."
        )
    dtype = np.dtype("<f4" if scale < 0 else ">f4")
    pixels = np.frombuffer(data, dtype=dtype, count=count, offset=pos)
    return pixels.reshape(height, width, channels)[::-1, :, 0].astype(np.float32)


# ---------------------------------------------------------------------------------------
# writing helpers
# ---------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _sddr_version() -> str:
    try:  # imported here: sddr_core's __init__ imports this module's users
        from sddr_core import __version__

        return str(__version__)
    except ImportError:
        pass
    try:
        return version("sddr")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "unknown"


def _encode_png16(
    fh: BinaryIO,
    arr: np.ndarray,
    kind: str | None,
    meta: dict[str, MetaValue] | None,
    value_range: tuple[float, float] | None = None,
) -> None:
    finite = np.isfinite(arr)
    n_valid = int(finite.sum())
    if value_range is not None:
        lo, hi = float(value_range[0]), float(value_range[1])
        if not (np.isfinite(lo) and np.isfinite(hi) and hi >= lo):
            raise InputError(
                f"value_range must be finite (min, max) with max >= min, got {value_range!r}."
            )
    else:
        lo = float(arr[finite].min()) if n_valid else 0.0
        hi = float(arr[finite].max()) if n_valid else 0.0
    codes = np.zeros(arr.shape, dtype=np.uint16)
    if hi > lo:
        scaled = (arr[finite].astype(np.float64) - lo) * (_PNG_LEVELS / (hi - lo)) + 1.0
        codes[finite] = np.clip(np.rint(scaled), 1, 65535).astype(np.uint16)
    else:  # constant map: every valid pixel gets code 1, read back as ``lo``
        codes[finite] = 1

    info = PngImagePlugin.PngInfo()
    info.add_text(_KEY + "encoding", _PNG_ENCODING)
    info.add_text(_KEY + "min", repr(lo))
    info.add_text(_KEY + "max", repr(hi))
    info.add_text(_KEY + "invalid", str(arr.size - n_valid))
    info.add_text(_KEY + "version", _sddr_version())
    if kind is not None:
        info.add_text(_KEY + "kind", kind)
    if meta:
        info.add_text(_KEY + "meta", json.dumps(meta, sort_keys=True))
    Image.fromarray(codes).save(fh, format="PNG", pnginfo=info)  # uint16 -> mode "I;16"


def _encode_pfm(fh: BinaryIO, arr: np.ndarray) -> None:
    height, width = arr.shape
    fh.write(f"Pf\n{width} {height}\n-1\n".encode("ascii"))
    fh.write(memoryview(np.ascontiguousarray(arr[::-1], dtype="<f4")).cast("B"))


@lru_cache(maxsize=1)
def _opencv_has_openexr() -> bool | None:
    """What OpenCV's build information says about OpenEXR (None: it does not say)."""
    for line in cv2.getBuildInformation().splitlines():
        name, _, value = line.strip().partition(":")
        if name == "OpenEXR":
            return not value.strip().upper().startswith("NO")
    return None


def _opencv_exr_works() -> bool:
    return _opencv_has_openexr() is not False and cv2.haveImageWriter("depth.exr")


def _exr_unavailable(action: str, path: object, reason: object = None) -> UnsupportedFormatError:
    if _opencv_has_openexr() is False:
        how = (
            f"this OpenCV build ({cv2.__version__}) was compiled without OpenEXR, so no setting "
            "can enable it. Install an OpenCV build with OpenEXR support"
        )
    else:
        how = (
            "OpenCV's OpenEXR codec is switched off. Set the environment variable "
            "OPENCV_IO_ENABLE_OPENEXR=1 before Python starts (sddr sets it on import, which "
            "only helps if nothing imported cv2 earlier)"
        )
    said = f" (OpenCV said: {str(reason).strip()})" if reason else ""
    return UnsupportedFormatError(
        f"Cannot {action} {path} as OpenEXR: {how}, or use .pfm, .tif or .npy instead, which "
        f"keep float32 depth exactly.{said}"
    )


def _encode_exr(arr: np.ndarray, path: object) -> bytes:
    if not _opencv_exr_works():
        raise _exr_unavailable("write", path)
    params: list[int] = []
    if hasattr(cv2, "IMWRITE_EXR_TYPE") and hasattr(cv2, "IMWRITE_EXR_TYPE_FLOAT"):
        params = [cv2.IMWRITE_EXR_TYPE, cv2.IMWRITE_EXR_TYPE_FLOAT]  # not half floats
    try:
        ok, buf = cv2.imencode(".exr", arr, params)
    except cv2.error as exc:
        raise _exr_unavailable("write", path, exc) from exc
    if not ok:
        raise _exr_unavailable("write", path, "imencode returned False")
    return buf.tobytes()
