"""Frame sequences in and out: video files and folders of frames (OpenCV), preview videos.

- :func:`iter_frames` yields the frames of a video file (read with ``cv2.VideoCapture``) as
  uint8 RGB arrays, or the image files of a folder (natural sort order: ``f2`` before
  ``f10``) as paths, one at a time: a long video never sits in memory whole.
- :func:`count_frames` gives the number of frames (for progress bars) without decoding.
- :class:`PreviewVideoWriter` writes colourised depth maps to a video with one fixed colour
  range for the whole sequence (a per-frame range would make the preview flicker).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

import cv2
import numpy as np

from sddr_core.errors import InputError, OutputError, OutputExistsError

__all__ = [
    "FRAME_EXTENSIONS",
    "VIDEO_EXTENSIONS",
    "PreviewVideoWriter",
    "count_frames",
    "frame_files",
    "frame_rate",
    "is_video_file",
    "iter_frames",
]

#: Video containers accepted by :func:`iter_frames` (whatever OpenCV's FFmpeg backend reads).
VIDEO_EXTENSIONS: tuple[str, ...] = (".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v", ".mpg")
#: Image files taken from a folder of frames.
FRAME_EXTENSIONS: tuple[str, ...] = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".exr")


def is_video_file(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` names a file with a video extension (:data:`VIDEO_EXTENSIONS`)."""
    p = Path(path)
    return p.suffix.lower() in VIDEO_EXTENSIONS and not p.is_dir()


def _natural_key(name: str) -> list[Any]:
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", name)]


def frame_files(folder: str | os.PathLike[str]) -> list[Path]:
    """The image files of ``folder`` (:data:`FRAME_EXTENSIONS`), in natural sort order.

    Raises:
        InputError: ``folder`` is not a folder or holds no image file.
    """
    root = Path(folder)
    if not root.is_dir():
        raise InputError(f"{root} is not a folder of frames.")
    files = [p for p in root.iterdir() if p.is_file() and p.suffix.lower() in FRAME_EXTENSIONS]
    if not files:
        raise InputError(
            f"no frames in {root}: expected image files ({', '.join(FRAME_EXTENSIONS)}) named "
            "so that their natural order is the frame order (frame_0001.png, ...)."
        )
    return sorted(files, key=lambda p: _natural_key(p.name))


def _open_video(path: Path) -> cv2.VideoCapture:
    if not path.is_file():
        raise InputError(f"video file {path} not found.")
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        cap.release()
        raise InputError(
            f"OpenCV cannot open the video {path}: check the file, or export its frames to a "
            "folder of PNGs (e.g. `ffmpeg -i video.mp4 frames/%05d.png`) and pass the folder."
        )
    return cap


def count_frames(source: str | os.PathLike[str]) -> int | None:
    """Number of frames of a video file or folder of frames; ``None`` when the container
    does not say."""
    path = Path(source)
    if path.is_dir():
        return len(frame_files(path))
    cap = _open_video(path)
    try:
        n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    finally:
        cap.release()
    return n if n > 0 else None


def frame_rate(source: str | os.PathLike[str], default: float = 24.0) -> float:
    """Frames per second of a video file (``default`` for folders or when unknown)."""
    path = Path(source)
    if path.is_dir():
        return float(default)
    cap = _open_video(path)
    try:
        fps = float(cap.get(cv2.CAP_PROP_FPS))
    finally:
        cap.release()
    return fps if np.isfinite(fps) and fps > 0 else float(default)


def iter_frames(source: str | os.PathLike[str]) -> Iterator[np.ndarray | Path]:
    """Frames of a video file (uint8 RGB ``(H, W, 3)`` arrays, decoded one at a time) or of a
    folder of image files (their paths, in natural order).

    Raises:
        InputError: ``source`` is neither a readable video nor a folder of frames, or the
            video has no frame.
    """
    path = Path(source)
    if path.is_dir():
        yield from frame_files(path)
        return
    if path.suffix.lower() not in VIDEO_EXTENSIONS:
        raise InputError(
            f"{path} is neither a folder of frames nor a video file "
            f"({', '.join(VIDEO_EXTENSIONS)})."
        )
    cap = _open_video(path)
    n = 0
    try:
        while True:
            ok, bgr = cap.read()
            if not ok:
                break
            n += 1
            yield cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    finally:
        cap.release()
    if n == 0:
        raise InputError(f"no frame could be decoded from {path}.")


class PreviewVideoWriter:
    """Writes depth maps as a colourised video (``.mp4`` with the ``mp4v`` codec, or
    ``.avi`` with MJPG) through ``cv2.VideoWriter``.

    The colour range is fixed by the first frame (its 1st to 99th percentile, widened by a
    quarter on each side) and kept for the whole video, so the preview shows the sequence's
    real temporal behaviour instead of flickering with a per-frame normalisation.

    Args:
        path: destination file; parent folders are created.
        fps: frames per second.
        kind: ``"disparity"`` (near = large) or ``"depth"``; near is drawn bright.
        overwrite: replace an existing file.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        fps: float = 24.0,
        kind: str = "disparity",
        overwrite: bool = False,
    ) -> None:
        self.path = Path(path)
        ext = self.path.suffix.lower()
        if ext not in (".mp4", ".avi"):
            raise InputError(f"preview video must be .mp4 or .avi, got {self.path.name!r}.")
        if self.path.exists() and not overwrite:
            raise OutputExistsError(
                f"{self.path} already exists; pass overwrite=True (--overwrite) to replace it."
            )
        self.fourcc = cv2.VideoWriter_fourcc(*("mp4v" if ext == ".mp4" else "MJPG"))
        self.fps = float(fps)
        self.kind = kind
        self.range: tuple[float, float] | None = None
        self._writer: cv2.VideoWriter | None = None
        self.frames = 0

    def colorize(self, depth: np.ndarray) -> np.ndarray:
        """``depth`` as a uint8 RGB frame in the fixed range (set by the first call)."""
        finite = depth[np.isfinite(depth)]
        if self.range is None:
            lo, hi = np.percentile(finite, (1, 99)) if finite.size else (0.0, 1.0)
            pad = 0.25 * max(float(hi - lo), 1e-12)
            self.range = (float(lo) - pad, float(hi) + pad)
        lo, hi = self.range
        t = np.clip((np.nan_to_num(depth, nan=lo) - lo) / max(hi - lo, 1e-12), 0.0, 1.0)
        if self.kind == "depth":
            t = 1.0 - t
        bgr = cv2.applyColorMap(np.rint(t * 255).astype(np.uint8), cv2.COLORMAP_TURBO)
        return bgr[..., ::-1]

    def write(self, depth: np.ndarray) -> None:
        """Append one depth map (float ``(H, W)``) as a frame."""
        bgr = np.ascontiguousarray(self.colorize(depth)[..., ::-1])
        h, w = bgr.shape[:2]
        if self._writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._writer = cv2.VideoWriter(str(self.path), self.fourcc, self.fps, (w, h))
            if not self._writer.isOpened():
                raise OutputError(
                    f"OpenCV cannot write the video {self.path}: this OpenCV build may lack "
                    "the codec; try a .avi preview or skip --preview-video."
                )
            self._size = (w, h)
        elif (w, h) != self._size:
            bgr = cv2.resize(bgr, self._size, interpolation=cv2.INTER_AREA)
        self._writer.write(bgr)
        self.frames += 1

    def close(self) -> None:
        if self._writer is not None:
            self._writer.release()
            self._writer = None

    def __enter__(self) -> PreviewVideoWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
