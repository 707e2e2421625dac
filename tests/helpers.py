"""Helpers shared by tests: small scenes and cheap predictors (import as `helpers`)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image


def make_scene(h: int = 96, w: int = 128, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A synthetic RGB image and its disparity: a slanted background and two raised boxes."""
    rng = np.random.default_rng(seed)
    _yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    disp = 1.0 + 0.5 * xx / w
    disp[h // 4 : h // 2, w // 5 : w // 2] = 3.0
    disp[h // 2 : 3 * h // 4, 3 * w // 5 : 4 * w // 5] = 2.2
    rgb = np.stack([disp / 3.0, 1 - disp / 4.0, 0.5 + 0.1 * np.sin(xx / 5)], axis=-1)
    rgb = np.clip(rgb + rng.normal(0, 0.01, rgb.shape), 0, 1).astype(np.float32)
    return rgb, disp.astype(np.float32)


def luminance_predictor(image: np.ndarray, resolution: int) -> np.ndarray:
    """A cheap deterministic predictor: the image's first channel at ``resolution``."""
    import cv2

    h, w = image.shape[:2]
    s = resolution / max(h, w)
    return cv2.resize(image[..., 0], (max(2, round(w * s)), max(2, round(h * s))))


class ToyPredictor:
    name = "toy"
    native_resolution = 64
    kind = "disparity"

    def __init__(self) -> None:
        self.calls: list[int] = []

    def predict(self, image: np.ndarray, resolution: int) -> np.ndarray:
        self.calls.append(resolution)
        return luminance_predictor(image, resolution)


def run_sddr(*args: str, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """``python -m sddr_core ARGS`` in ``cwd`` as a user would run it (no outside plugins, one
    OpenMP thread), output captured as text."""
    env = {**os.environ, "SDDR_LOAD_PLUGINS": "", "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, "-m", "sddr_core", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def write_middlebury2006_scene(
    folder: Path, seed: int = 0, size: tuple[int, int] = (12, 20)
) -> Path:
    """A Middlebury 2006 scene folder: noise views, left disparity 10 px / right 20 px
    halves, some unknown pixels."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    h, w = size
    for name in ("view1.png", "view5.png"):
        Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)).save(folder / name)
    d1 = np.full((h, w), 30, np.uint8)  # 10 px
    d1[:, w // 2 :] = 60  # 20 px
    d1[0, 0] = 0  # unknown
    d5 = np.full((h, w), 31, np.uint8)  # 10.333 px
    d5[1, :3] = 0
    Image.fromarray(d1).save(folder / "disp1.png")
    Image.fromarray(d5).save(folder / "disp5.png")
    (folder / "provenance.txt").write_text(f"scene: {folder.name}\n")
    return folder
