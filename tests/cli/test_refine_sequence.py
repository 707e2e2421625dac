"""``sddr refine`` on a video file and on a folder of frames (``--sequence``), run as a user
runs it: ``sddr`` in a subprocess with a bring-your-own predictor."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from sddr_core.datasets.procedural import make_scene
from sddr_core.datasets.sequences import CameraPath, camera_sequence
from sddr_core.io.depth import read_depth

from helpers import run_sddr

PREDICTOR = """
import cv2

def predict(image, resolution):
    gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    return cv2.GaussianBlur(gray, (0, 0), 1.5) + 0.5
"""


sddr = run_sddr


@pytest.fixture
def work(tmp_path: Path) -> Path:
    sc = make_scene(9, (160, 220))
    path = CameraPath(zoom=(1.0, 0.95), pan=(0.3, 0.6), tilt=(0.4, 0.5))
    frames = camera_sequence(sc.image, sc.disparity, frames=5, frame_shape=(72, 96), path=path)
    (tmp_path / "shots").mkdir()
    video = cv2.VideoWriter(
        str(tmp_path / "clip.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 10, (96, 72)
    )
    for f in frames:
        bgr = (f.image[..., ::-1] * 255).astype(np.uint8)
        cv2.imwrite(str(tmp_path / "shots" / f"s{f.index + 9}.png"), bgr)
        video.write(bgr)
    video.release()
    (tmp_path / "mypred.py").write_text(PREDICTOR)
    return tmp_path


def test_video_to_png_sequence_with_one_range_and_a_preview(work: Path) -> None:
    r = sddr("refine", "clip.avi", "-o", "out", "--predictor", "mypred.py:predict",
             "--refiner", "poisson", "--preview", cwd=work)  # fmt: skip
    assert r.returncode == 0, r.stderr
    files = sorted((work / "out" / "clip").glob("*.png"))
    assert [f.name for f in files] == [f"frame_{i:05d}_depth.png" for i in range(5)]
    maps = [read_depth(f) for f in files]
    assert all(m.depth.shape == (72, 96) and m.kind == "disparity" for m in maps)
    assert {m.meta["frame"] for m in maps} == {str(i) for i in range(5)}
    from PIL import Image

    ranges = {(Image.open(f).text["sddr:min"], Image.open(f).text["sddr:max"]) for f in files}
    assert len(ranges) == 1  # one code range for the sequence: raw 16-bit values do not flicker
    cap = cv2.VideoCapture(str(work / "out" / "clip_preview.mp4"))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 5
    cap.release()
    assert "frame" in r.stderr  # the progress bar counts frames


def test_folder_of_frames_keeps_names_and_refuses_to_overwrite(work: Path) -> None:
    args = ("refine", "shots", "--sequence", "-o", "out", "--predictor", "mypred.py:predict",
            "--refiner", "poisson", "--format", "npy")  # fmt: skip
    r = sddr(*args, cwd=work)
    assert r.returncode == 0, r.stderr
    names = {p.name for p in (work / "out" / "shots").iterdir()}
    assert names == {f"s{i}_depth.npy" for i in range(9, 14)}
    again = sddr(*args, cwd=work)
    assert again.returncode == 1 and "--overwrite" in again.stderr
    assert sddr(*args, "--overwrite", cwd=work).returncode == 0


def test_sequence_needs_videos_or_folders(work: Path) -> None:
    r = sddr("refine", "mypred.py", "--sequence", "-o", "out", "--predictor",
             "mypred.py:predict", cwd=work)  # fmt: skip
    assert r.returncode == 1 and "neither a video file nor a folder" in r.stderr


def test_compile_reaches_the_network_of_a_sequence_run_and_only_there(work, monkeypatch, capsys):
    """``--compile``: the network refiner of a sequence run is set to compile; a refiner
    without a network and a run on photos are refused with what to do."""
    import sddr_core.inference.sequence as sequence
    from sddr_core.cli.main import main

    seen = []

    def capture(frames, predictor, *, refiner=None, **kwargs):
        seen.append(refiner)
        return iter(())

    monkeypatch.chdir(work)
    monkeypatch.setattr(sequence, "refine_sequence", capture)
    base = ["refine", "shots", "--sequence", "-o", "out", "--predictor", "mypred.py:predict"]
    assert main([*base, "--compile"]) == 0
    assert seen and seen[0].compile is True and hasattr(seen[0], "model")
    assert main([*base, "--compile", "--refiner", "poisson", "--overwrite"]) == 1
    assert "no network" in capsys.readouterr().err
    assert main(["refine", "shots/s9.png", "-o", "photos", "--predictor", "mypred.py:predict",
                 "--compile"]) == 1  # fmt: skip
    assert "for sequences" in capsys.readouterr().err and not (work / "photos").exists()
