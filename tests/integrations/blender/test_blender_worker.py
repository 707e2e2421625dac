"""The worker protocol (JSON lines over a subprocess) with stand-in predictors.

Runs in the main Python, where sddr_core imports; the worker child gets the repository on its
PYTHONPATH, so it works from a checkout that is not installed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from blender_helpers import REPO, load_addon_module, synthetic_scene

pytest.importorskip("sddr_core")
PIL = pytest.importorskip("PIL.Image")

worker = load_addon_module("worker")
STANDIN = Path(__file__).resolve().parent / "standin_predictors.py"
ENV = {"PYTHONPATH": str(REPO), "SDDR_LOAD_PLUGINS": ""}


def ref(name: str) -> str:
    return f"{STANDIN}:{name}"


@pytest.fixture(scope="module")
def photo(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("photo") / "photo.jpg"
    img = PIL.fromarray(synthetic_scene(48, 64)["photo"])
    exif = PIL.Exif()
    exif.get_ifd(0x8769)[0xA405] = 28  # FocalLengthIn35mmFilm
    img.save(path, exif=exif, quality=95)
    return path


@pytest.fixture(scope="module")
def client():
    c = worker.WorkerClient(sys.executable, env=ENV, cancel_grace=10.0)
    yield c
    c.stop()


def request(photo: Path, out: Path, predictor: str, **extra) -> dict:
    return {
        "image": str(photo),
        "predictor": predictor,
        "mode": "one-stage",
        "depth_out": str(out / "depth.npy"),
        "edges_out": str(out / "edges.npy"),
        **extra,
    }


def test_success_writes_depth_edges_and_reports_progress(client, photo, tmp_path):
    job = client.submit(request(photo, tmp_path, ref("Smooth")), timeout=120).wait(120)
    assert job.state == "done", job.error and (job.error.message, job.error.details)
    res = job.result
    depth, edges = np.load(res["depth"]), np.load(res["edges"])
    assert depth.shape == edges.shape == (48, 64) and depth.dtype == np.float32
    assert np.isfinite(depth).all() and res["kind"] == "disparity"
    assert res["shape"] == [48, 64]
    assert res["focal_35mm"] == 28.0
    assert res["timings"]["total"] > 0
    stages = [m["stage"] for m in job.messages if m["type"] == "progress"]
    assert {"predict-low", "predict-high"} <= set(stages)
    assert client.hello["protocol"] == worker.PROTOCOL
    assert job.fraction == 1.0 or job.done <= job.total


def test_save_writes_a_16_bit_png_with_sddrs_writer_and_never_overwrites(client, tmp_path):
    from sddr_core.io import read_depth

    rng = np.random.default_rng(0)
    depth = rng.uniform(0.2, 3.0, (30, 40)).astype(np.float32)
    depth[0, 0] = np.nan  # invalid pixels stay invalid
    npy = tmp_path / "d.npy"
    np.save(npy, depth)
    out = tmp_path / "sub" / "depth.png"
    assert client.save_depth(str(npy), "disparity", str(out)) == str(out)
    back = read_depth(out)
    assert back.kind == "disparity" and np.isnan(back.depth[0, 0])
    np.testing.assert_allclose(back.depth[1:], depth[1:], atol=3.0 / 65535 * 2)
    with PIL.open(out) as im:
        assert im.mode.startswith("I")  # 16-bit, not 8-bit
    with pytest.raises(worker.WorkerError, match="exists"):
        client.save_depth(str(npy), "disparity", str(out))
    assert client.save_depth(str(npy), "depth", str(out), overwrite=True) == str(out)
    assert read_depth(out).kind == "depth"


def test_predictor_error_keeps_traceback_and_worker_survives(client, photo, tmp_path):
    job = client.submit(request(photo, tmp_path, ref("Broken")), timeout=120).wait(120)
    assert job.state == "error"
    assert "stand-in predictor failed on purpose" in job.error.message
    assert "Traceback" in job.error.details and "standin_predictors.py" in job.error.details
    assert job.error.fix
    assert not (tmp_path / "depth.npy").exists()
    pid = client.hello["pid"]
    again = client.submit(request(photo, tmp_path, ref("Smooth")), timeout=120).wait(120)
    assert again.state == "done" and client.hello["pid"] == pid  # same process reused


def test_unknown_predictor_name_says_what_exists(client, photo, tmp_path):
    job = client.submit(request(photo, tmp_path, "no-such-predictor"), timeout=120).wait(120)
    assert job.state == "error"
    assert "no-such-predictor" in job.error.message and "simulated" in job.error.message
    assert "Check Python" in job.error.fix


def test_never_overwrites_outputs(client, photo, tmp_path):
    np.save(tmp_path / "depth.npy", np.zeros((2, 2)))
    job = client.submit(request(photo, tmp_path, ref("Smooth")), timeout=120).wait(120)
    assert job.state == "error" and "already exists" in job.error.message
    assert np.load(tmp_path / "depth.npy").shape == (2, 2)


def test_cancel_stops_between_units_and_worker_stays(client, photo, tmp_path):
    job = client.submit(request(photo, tmp_path, ref("Slow")), timeout=120)
    end = time.monotonic() + 60
    while job.stage != "predict-low" and time.monotonic() < end:
        job.poll()
        time.sleep(0.02)
    assert job.stage == "predict-low"
    job.cancel()
    job.wait(30)
    assert job.state == "cancelled"
    assert any(m["type"] == "cancelled" for m in job.messages)  # the worker confirmed
    assert client.alive
    assert not (tmp_path / "depth.npy").exists()


def test_busy_client_refuses_a_second_job(client, photo, tmp_path):
    job = client.submit(request(photo, tmp_path, ref("Slow")), timeout=120)
    with pytest.raises(worker.WorkerError) as err:
        client.submit(request(photo, tmp_path / "x", ref("Smooth")))
    assert err.value.code == "busy"
    job.cancel(hard=True)
    assert job.state == "cancelled" and not client.alive


def test_timeout_kills_the_worker(photo, tmp_path):
    c = worker.WorkerClient(sys.executable, env=ENV)
    try:
        start = time.monotonic()
        job = c.submit(request(photo, tmp_path, ref("Hang")), timeout=8).wait(60)
        assert job.state == "error" and job.error.code == "timeout"
        assert "8 s" in job.error.message and "timeout" in job.error.fix.lower()
        assert time.monotonic() - start < 30
        assert not c.alive
        # the next request starts a fresh worker
        ok = c.submit(request(photo, tmp_path, ref("Smooth")), timeout=120).wait(120)
        assert ok.state == "done"
    finally:
        c.stop()


def test_crash_is_reported_with_exit_code(photo, tmp_path):
    c = worker.WorkerClient(sys.executable, env=ENV)
    try:
        job = c.submit(request(photo, tmp_path, ref("Crash")), timeout=120).wait(120)
        assert job.state == "error" and job.error.code == "crashed"
        assert "code 7" in job.error.message
    finally:
        c.stop()


def test_missing_python_says_how_to_fix(tmp_path):
    with pytest.raises(worker.WorkerError) as err:
        worker.check_environment(str(tmp_path / "nope" / "python"))
    assert err.value.code == "python_missing"
    assert "Preferences" in err.value.fix
    with pytest.raises(worker.WorkerError) as err:
        worker.check_environment(str(tmp_path))
    assert "folder" in err.value.message


def test_python_without_sddr_gives_the_pip_command(tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    with pytest.raises(worker.WorkerError) as err:
        worker.check_environment(str(python), timeout=60)
    assert err.value.code == "sddr_core_missing"
    assert str(python) in err.value.message and "wheel or a clone" in err.value.fix


def test_install_commands_name_a_real_wheel_or_clone_never_an_index(tmp_path):
    # this add-on sits in a clone: that clone is found, installed editable with constraints
    source = worker.find_install_source("", search=[])
    assert source == str(REPO)
    fix, command = worker.install_fix("/env/bin/python", source)
    assert command == f"/env/bin/python -m pip install -c {REPO}/constraints.txt -e {REPO}"
    assert command.split() != ["/env/bin/python", "-m", "pip", "install", "sddr"]
    # a wheel given in the preferences wins; paths with spaces are quoted, nothing else added
    wheel = tmp_path / "my dl" / "sddr-0.1.0-py3-none-any.whl"
    wheel.parent.mkdir()
    wheel.write_bytes(b"")
    assert worker.find_install_source(str(wheel)) == str(wheel)
    fix, command = worker.install_fix("/env/bin/python", str(wheel))
    assert command == f'/env/bin/python -m pip install "{wheel}"'
    assert "wheel" in fix and "Copy Command" in fix
    # nothing known: no command, a sentence saying what to set
    fix, command = worker.install_fix("/env/bin/python", "")
    assert command == "" and "wheel or clone" in fix
    # a wheel in the search folders (e.g. ~/Downloads) is found when nothing else is
    assert worker.find_install_source(str(tmp_path / "nothing"), search=[str(wheel.parent)]) in (
        str(REPO),
        str(wheel),
    )


def test_weights_error_is_short_with_the_download_command():
    long = (
        "Weights for 'depth-anything/Depth-Anything-V2-Small-hf' not found: Hugging Face "
        "offline mode is on (HF_HUB_OFFLINE=1).\nLooked in:\n  - the Hugging Face cache: "
        + "x"
        * 700
    )
    err = worker.error_from_message({"type": "error", "error": "WeightsError", "message": long})
    assert err.code == "weights" and len(err.message) < 80
    assert err.model_id == "depth-anything/Depth-Anything-V2-Small-hf"
    assert err.command == "hf download depth-anything/Depth-Anything-V2-Small-hf"
    assert long in err.details  # the whole text still reaches the console
    other = worker.error_from_message({"type": "error", "error": "ValueError", "message": "bad"})
    assert other.code == "error" and other.command == ""


def test_check_environment_lists_predictors():
    script = str(REPO / "integrations" / "blender" / "worker.py")
    c = worker.WorkerClient(sys.executable, script=script, env=ENV)
    try:
        names = [p["name"] for p in c.predictors()]
    finally:
        c.stop()
    assert "simulated" in names


def test_protocol_by_hand(photo, tmp_path):
    """The raw JSON lines, as another client (or a person debugging) would see them."""
    script = REPO / "integrations" / "blender" / "worker.py"
    lines = [
        json.dumps({"type": "ping", "id": "p"}),
        json.dumps({"type": "refine", **request(photo, tmp_path, ref("Smooth")), "id": "r1"}),
        "this is not json",
    ]
    env = {**os.environ, **ENV}
    proc = subprocess.run(
        [sys.executable, str(script)],
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    msgs = [json.loads(line) for line in proc.stdout.splitlines()]
    assert msgs[0]["type"] == "hello"
    kinds = [m["type"] for m in msgs]
    assert "pong" in kinds and "result" in kinds
    assert any(m["type"] == "error" and m["error"] == "ProtocolError" for m in msgs)
    assert next(m for m in msgs if m["type"] == "result")["id"] == "r1"


def test_in_process_job_success_and_cancel(photo, tmp_path):
    job = worker.InProcessJob(request(photo, tmp_path, ref("Smooth")), timeout=120).wait(120)
    assert job.state == "done"
    assert np.load(job.result["depth"]).shape == (48, 64)
    slow = worker.InProcessJob(request(photo, tmp_path / "slow", ref("Slow")), timeout=120)
    end = time.monotonic() + 30
    while not slow.messages and time.monotonic() < end:
        slow.poll()
        time.sleep(0.02)
    slow.cancel()
    slow.wait(30)
    assert slow.state == "cancelled"
