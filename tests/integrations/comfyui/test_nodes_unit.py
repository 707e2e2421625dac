"""The node pack's ComfyUI-free functions: layouts, batches, normalisation, sizes, progress,
Cancel, the model cache and saving (no ComfyUI needed; see conftest.py)."""

from __future__ import annotations

import asyncio
import inspect
import sys

import numpy as np
import pytest
import torch
from PIL import Image

import sddr_core
from sddr_core.io.depth import read_depth
from sddr_core.plugins import get_plugin_manager, temporary_plugin

H, W = 75, 101  # odd sizes catch off-by-one resizing


def _scene(seed: int = 0, h: int = H, w: int = W) -> tuple[np.ndarray, np.ndarray]:
    """RGB whose red channel is its disparity; the disparity has a near box."""
    rng = np.random.default_rng(seed)
    _yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    disp = 0.2 + 0.3 * xx / w
    disp[h // 4 : h // 2, w // 5 : w // 2] = 0.9
    rgb = np.stack([disp, rng.uniform(0, 1, (h, w)), 0.5 + 0.2 * np.sin(xx / 4)], axis=-1)
    return rgb.astype(np.float32), disp


def red_predictor(image: np.ndarray, resolution: int) -> np.ndarray:
    """Cheap deterministic predictor: the red channel at ``resolution`` (disparity)."""
    import cv2

    h, w = image.shape[:2]
    s = resolution / max(h, w)
    return cv2.resize(image[..., 0], (max(2, round(w * s)), max(2, round(h * s))))


def _batch(*seeds: int) -> torch.Tensor:
    return torch.from_numpy(np.stack([_scene(s)[0] for s in seeds]))


def _result(depth: np.ndarray, kind: str = "disparity", omega: np.ndarray | None = None):
    d = depth.astype(np.float32)
    return sddr_core.RefinedDepth(
        depth=d, kind=kind, edges=np.abs(np.gradient(d)[1]), low=d, high=d, omega=omega
    )


# ------------------------------------------------------------------------------------------
# The package itself
# ------------------------------------------------------------------------------------------


def test_package_import_pulls_in_no_comfyui(pack, core, hooks) -> None:
    assert inspect.iscoroutinefunction(pack.comfy_entrypoint)
    assert "comfy_api" not in sys.modules and "folder_paths" not in sys.modules
    assert not hasattr(pack, "NODE_CLASS_MAPPINGS")  # V3 only: ComfyUI would ignore the rest


def test_entrypoint_without_comfyui_fails_on_comfy_not_at_import(pack) -> None:
    with pytest.raises(ModuleNotFoundError, match="comfy"):
        asyncio.run(pack.comfy_entrypoint())


# ------------------------------------------------------------------------------------------
# Layouts
# ------------------------------------------------------------------------------------------


def test_image_batch_becomes_rgb_arrays(core) -> None:
    batch = _batch(0, 1)
    arrays = core.image_batch_to_arrays(batch)
    assert len(arrays) == 2
    for a, t in zip(arrays, batch, strict=True):
        assert a.shape == (H, W, 3) and a.dtype == np.float32
        np.testing.assert_array_equal(a, t.numpy())


def test_image_channels_alpha_gray_and_single_image(core) -> None:
    rgba = torch.rand(1, H, W, 4)
    assert np.array_equal(core.image_batch_to_arrays(rgba)[0], rgba[0, ..., :3].numpy())
    gray = torch.rand(2, H, W, 1)
    out = core.image_batch_to_arrays(gray)
    assert out[1].shape == (H, W, 3) and np.array_equal(out[1][..., 2], gray[1, ..., 0].numpy())
    single = torch.rand(H, W, 3)
    assert len(core.image_batch_to_arrays(single)) == 1
    assert core.image_batch_to_arrays(torch.full((1, 8, 8, 3), 2.0))[0].max() == 1.0


@pytest.mark.parametrize("shape", [(2, 3, H, W), (H, W), (0, H, W, 3), (1, H, W, 2)])
def test_bad_image_shapes_are_refused(core, shape) -> None:
    with pytest.raises(ValueError, match=r"IMAGE|empty"):
        core.image_batch_to_arrays(torch.zeros(shape))


def test_depth_images_and_masks_become_maps(core) -> None:
    depth = torch.rand(3, H, W, 1).repeat(1, 1, 1, 3)
    maps = core.map_batch_to_arrays(depth)
    assert len(maps) == 3 and maps[0].shape == (H, W)
    np.testing.assert_allclose(maps[2], depth[2, ..., 0].numpy(), rtol=1e-6)
    mask = torch.rand(2, H, W)
    np.testing.assert_array_equal(core.map_batch_to_arrays(mask)[1], mask[1].numpy())
    bad = depth.clone()
    bad[0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        core.map_batch_to_arrays(bad, "low_depth")


def test_maps_to_image_is_gray_bhwc(core) -> None:
    maps = np.random.default_rng(0).uniform(0, 1, (2, H, W)).astype(np.float32)
    img = core.maps_to_image(maps)
    assert img.shape == (2, H, W, 3) and img.dtype == torch.float32
    assert torch.equal(img[..., 0], img[..., 2]) and torch.equal(
        img[..., 1], torch.from_numpy(maps)
    )


def test_pairing_repeats_a_single_map_and_refuses_mismatches(core) -> None:
    assert core.pair_batches([1], [2, 3]) == [(1, 2), (1, 3)]
    assert core.pair_batches([1, 2], [3, 4]) == [(1, 3), (2, 4)]
    with pytest.raises(ValueError, match="same size"):
        core.pair_batches([1, 2], [3, 4, 5])


def test_resolution_widgets(core) -> None:
    assert core.resolution_or_none(0, "low_resolution") is None
    assert core.resolution_or_none(None, "low_resolution") is None
    assert core.resolution_or_none(768, "low_resolution") == 768
    with pytest.raises(ValueError, match="high_resolution"):
        core.resolution_or_none(8, "high_resolution")


# ------------------------------------------------------------------------------------------
# Normalisation and outputs
# ------------------------------------------------------------------------------------------


def test_normalisation_per_image_and_across_batch(core) -> None:
    ramp = np.linspace(1, 2, H * W, dtype=np.float32).reshape(H, W)
    maps = np.stack([ramp, 2 * ramp])  # ranges [1, 2] and [2, 4]
    per = core.normalize_batch(maps, "per image")
    assert per[0].min() == 0 and per[0].max() == 1 and per[1].max() == 1
    np.testing.assert_allclose(per[0], per[1], atol=1e-6)
    across = core.normalize_batch(maps, "across batch")  # one range [1, 4]
    np.testing.assert_allclose([across[0].max(), across[1].min()], [1 / 3, 1 / 3], atol=1e-6)
    assert across[0].min() == 0 and across[1].max() == 1
    with pytest.raises(ValueError, match="per image"):
        core.normalize_batch(maps, "per frame")


def test_outputs_have_the_nodes_layouts(core) -> None:
    ramp = np.linspace(1, 2, H * W, dtype=np.float32).reshape(H, W)
    omega = np.full((H, W), 0.25, np.float32)
    out = core.outputs_from_results([_result(ramp, omega=omega), _result(2 * ramp)], "per image")
    assert out.controlnet.shape == (2, H, W, 3) and out.controlnet.dtype == torch.float32
    assert out.edges.shape == (2, H, W, 3) and out.omega.shape == (2, H, W)
    assert float(out.controlnet.min()) == 0.0 and float(out.controlnet.max()) == 1.0
    assert float(out.omega[0].mean()) == pytest.approx(0.25) and float(out.omega[1].max()) == 0
    depth = out.depth
    assert depth["kind"] == "disparity" and depth["depth"].shape == (2, H, W)
    assert depth["depth"].dtype == torch.float32
    np.testing.assert_array_equal(depth["depth"][1].numpy(), 2 * ramp)  # raw, not normalised
    # per image, the ControlNet image is exactly sddr's own ControlNet hint
    np.testing.assert_allclose(
        out.controlnet[1].numpy(), _result(2 * ramp).to_controlnet(), atol=1e-6
    )


def test_across_batch_keeps_frames_comparable(core) -> None:
    ramp = np.linspace(1, 2, H * W, dtype=np.float32).reshape(H, W)
    out = core.outputs_from_results([_result(ramp), _result(2 * ramp)], "across batch")
    hint = out.controlnet[..., 0].numpy()
    assert hint[0].max() == pytest.approx(1 / 3, abs=1e-6) and hint[1].min() == pytest.approx(1 / 3)


def test_depth_convention_gives_near_white_hint(core) -> None:
    depth = np.full((H, W), 10.0, np.float32)
    depth[:10, :10] = 1.0  # near
    out = core.outputs_from_results([_result(depth, kind="depth")], "per image")
    hint = out.controlnet[0, ..., 0]
    assert float(hint[:10, :10].mean()) == 1.0 and float(hint[20:, 20:].max()) == 0.0
    assert out.depth["kind"] == "depth"


def test_outputs_refuse_mixed_sizes(core) -> None:
    with pytest.raises(ValueError, match="size"):
        core.outputs_from_results([_result(np.ones((8, 8))), _result(np.ones((9, 8)))], "per image")


def test_check_depth_accepts_the_dict_and_bare_tensors(core) -> None:
    t = torch.rand(2, H, W)
    value = core.depth_value(t.numpy(), "depth", [{"predictor": "x", "list": [1]}])
    depth, kind, info = core.check_depth(value)
    assert torch.equal(depth, t) and kind == "depth"
    assert info == [{"predictor": "x"}, {}]
    depth, kind, _ = core.check_depth(t[0])
    assert depth.shape == (1, H, W) and kind == "disparity"
    with pytest.raises(ValueError, match="SDDR_DEPTH"):
        core.check_depth(np.zeros((H, W)))


def test_colorize_batch_is_an_image_with_near_bright(core) -> None:
    ramp = np.linspace(1, 2, H * W, dtype=np.float32).reshape(1, H, W)
    value = core.depth_value(np.concatenate([ramp, ramp[:, ::-1]]), "disparity", [])
    img = core.colorize_batch(value, "gray")
    assert img.shape == (2, H, W, 3) and img.dtype == torch.float32
    assert float(img.min()) >= 0 and float(img.max()) <= 1
    assert img[0, -1, -1, 0] > img[0, 0, 0, 0]  # larger disparity = nearer = brighter
    dark = core.colorize_batch(value, "gray", near_is_bright=False)
    assert dark[0, -1, -1, 0] < dark[0, 0, 0, 0]
    assert core.colorize_batch(value, "turbo").shape == (2, H, W, 3)


# ------------------------------------------------------------------------------------------
# Refining batches with sddr
# ------------------------------------------------------------------------------------------


def test_refine_batch_gives_input_sized_outputs_for_every_image(core) -> None:
    images = core.image_batch_to_arrays(_batch(0, 1, 2))
    seen = []
    results = core.refine_batch(
        images,
        red_predictor,
        refiner="poisson",
        low_resolution=32,
        high_resolution=64,
        before_image=seen.append,
    )
    assert seen == [0, 1, 2] and len(results) == 3
    out = core.outputs_from_results(results, "across batch")
    assert out.controlnet.shape == (3, H, W, 3) and out.depth["depth"].shape == (3, H, W)
    assert out.omega.shape == (3, H, W)
    assert len(np.unique(out.depth["depth"][0].numpy())) > 256  # float, not quantised
    _, disp = _scene(0)
    hint = out.controlnet[0, ..., 0].numpy()
    assert hint[disp >= 0.9].mean() > hint[disp < 0.5].mean() + 0.3  # near = white
    assert {r.info["predictor"] for r in results} == {"red_predictor"}


def test_refine_external_batch_sizes(core) -> None:
    _, disp = _scene(0, 96, 128)
    import cv2

    low = cv2.resize(disp, (32, 24), interpolation=cv2.INTER_AREA)
    results = core.refine_external_batch([low], [disp, disp * 2], refiner="poisson")
    assert len(results) == 2 and results[0].depth.shape == (96, 128)  # the larger input's size
    sized = core.refine_external_batch([low], [disp], refiner="poisson", size=(H, W))
    assert sized[0].depth.shape == (H, W)
    out = core.outputs_from_results(sized, "per image")
    assert out.controlnet.shape == (1, H, W, 3)


# ------------------------------------------------------------------------------------------
# Progress and Cancel through sddr's hooks
# ------------------------------------------------------------------------------------------


def test_stage_progress_one_stage(core) -> None:
    seen: list[tuple[int, int]] = []
    p = core.StageProgress(2, "one-stage", lambda v, t: seen.append((v, t)))
    assert p.total == 200
    for i in range(2):
        p.start_image(i)
        for stage in ("predict-low", "predict-high", "refine", "snap"):
            p.stage(stage, 0, 1)
            p.stage(stage, 1, 1)
        if i == 0:
            assert p.value == 100
    p.stage("something-new", 1, 1)  # unknown stages are ignored
    p.finish()
    values = [v for v, _ in seen]
    assert values == sorted(values) and values[-1] == 200 and {t for _, t in seen} == {200}
    assert {30, 70, 90} <= set(values)  # stage boundaries of the first image


def test_stage_progress_two_stage_and_fuse(core) -> None:
    seen: list[int] = []
    p = core.StageProgress(1, "two-stage", lambda v, t: seen.append(v))
    p.start_image(0)
    for stage in ("predict-low", "predict-high", "refine"):
        p.stage(stage, 1, 1)
    assert p.value == 22  # a quarter of the bar for the passes, less the snap's share
    for done in range(14):
        p.stage("window", done, 13)
    assert p.value == 92
    p.stage("snap", 1, 1)
    assert p.value == 100 and seen == sorted(seen)
    f = core.StageProgress(3, "fuse", lambda v, t: None)
    f.start_image(1)
    f.stage("refine", 1, 1)
    assert f.value == 180  # the rest is the snap, when a reference image is given
    f.stage("snap", 1, 1)
    assert f.value == 200
    load = core.StageProgress(1, "load", lambda v, t: None)
    load.stage("download", 3, 4)
    assert load.value == 75


def test_run_hooks_feed_progress_while_sddr_refines(core, hooks) -> None:
    seen: list[int] = []
    progress = core.StageProgress(1, "one-stage", lambda v, t: seen.append(v))
    checks: list[int] = []
    plugin = hooks.RunHooks(progress, lambda: checks.append(1))
    rgb, _ = _scene()
    with temporary_plugin(plugin):
        progress.start_image(0)
        sddr_core.refine(rgb, red_predictor, refiner="poisson", low_resolution=32)
    assert seen[-1] == 100 and seen == sorted(seen) and len(set(seen)) >= 4
    assert len(checks) >= 3  # asked before each predictor call and before fusing
    assert not get_plugin_manager().is_registered(plugin)  # gone after the run


class Interrupted(Exception):
    """Stands in for ComfyUI's InterruptProcessingException."""


def test_cancel_raises_the_hosts_exception_and_stops_the_predictor(hooks) -> None:
    calls: list[int] = []

    def predictor(image: np.ndarray, resolution: int) -> np.ndarray:
        calls.append(resolution)
        return red_predictor(image, resolution)

    def interrupt() -> None:
        if calls:  # the user pressed Cancel during the first predictor call
            raise Interrupted

    rgb, _ = _scene()
    with temporary_plugin(hooks.RunHooks(None, interrupt)), pytest.raises(Interrupted):
        sddr_core.refine(rgb, predictor, refiner="poisson", mode="two-stage", low_resolution=32)
    assert len(calls) == 1


def test_weight_dirs_hook_answers_with_the_hosts_folders(hooks, tmp_path) -> None:
    folders = [tmp_path / "models" / "depth"]
    plugin = hooks.WeightDirs(lambda: folders)
    with temporary_plugin(plugin):
        folders.append(tmp_path / "extra")  # read at each call
        got = get_plugin_manager().hook.sddr_weight_dirs(model_id="org/Model-hf")
    assert [str(tmp_path / "models" / "depth"), str(tmp_path / "extra")] in got


# ------------------------------------------------------------------------------------------
# Models
# ------------------------------------------------------------------------------------------


class HFStyle:
    """Like sddr's transformers predictors: a torch module in .model and a .device."""

    def __init__(self) -> None:
        self.model = torch.nn.Linear(2, 2)
        self.device = torch.device("cpu")


class WithTo:
    def __init__(self) -> None:
        self.moved_to: list[torch.device] = []

    def to(self, device: torch.device) -> WithTo:
        self.moved_to.append(device)
        return self


def test_move_model_handles_the_layouts(core) -> None:
    hf = HFStyle()
    assert core.move_model(hf, "meta")
    assert hf.device == torch.device("meta") and hf.model.weight.device.type == "meta"
    with_to = WithTo()
    assert core.move_model(with_to, "cpu") and with_to.moved_to == [torch.device("cpu")]
    assert not core.move_model(red_predictor, "cpu")
    assert not core.move_model(sddr_core.create_refiner("poisson"), "cpu")
    assert not core.move_model(None, "cpu")


def test_model_cache_reuses_evicts_and_offloads(core) -> None:
    cache = core.ModelCache(capacity=2)
    made: list[str] = []

    def factory(name: str):
        return lambda: made.append(name) or HFStyle()

    a = cache.get(("a",), factory("a"))
    assert cache.get(("a",), factory("a")) is a and made == ["a"]
    cache.get(("b",), factory("b"))
    cache.get(("a",), factory("a"))  # a is now the most recent
    cache.get(("c",), factory("c"))
    assert ("b",) not in cache and ("a",) in cache and len(cache) == 2
    assert cache.offload("meta") == 2 and a.device == torch.device("meta")


def test_loaded_model_names_its_model(core) -> None:
    loaded = core.LoadedModel(sddr_core.create_refiner("poisson"), torch.device("cpu"))
    assert loaded.name == "poisson" and "cpu" in repr(loaded)


# ------------------------------------------------------------------------------------------
# Saving
# ------------------------------------------------------------------------------------------


def test_save_png16_never_overwrites_and_keeps_the_values(core, tmp_path) -> None:
    rng = np.random.default_rng(0)
    maps = rng.uniform(0.5, 3.0, (2, H, W)).astype(np.float32)
    value = core.depth_value(maps, "disparity", [{"predictor": "toy"}, {"predictor": "toy"}])
    taken = tmp_path / "depth_00002_.png"
    taken.write_bytes(b"someone else's file")
    paths = core.save_depth_batch(value, tmp_path, "depth", 1, "png16")
    assert [p.name for p in paths] == ["depth_00001_.png", "depth_00003_.png"]
    assert taken.read_bytes() == b"someone else's file"
    for path, expected in zip(paths, maps, strict=True):
        with Image.open(path) as im:
            assert im.mode.startswith("I;16") and im.size == (W, H)
        back = read_depth(path)
        assert back.kind == "disparity" and back.meta.get("predictor") == "toy"
        np.testing.assert_allclose(back.depth, expected, atol=(3.0 - 0.5) / 65534)
    again = core.save_depth_batch(value, tmp_path, "depth", 1, "png16")
    assert [p.name for p in again] == ["depth_00004_.png", "depth_00005_.png"]


def test_save_npy_is_exact_and_batch_num_is_filled(core, tmp_path) -> None:
    maps = np.random.default_rng(1).normal(size=(2, H, W)).astype(np.float32)
    paths = core.save_depth_batch(
        core.depth_value(maps, "depth", []), tmp_path / "sub", "frame%batch_num%", 7, "npy"
    )
    assert [p.name for p in paths] == ["frame0_00007_.npy", "frame1_00008_.npy"]
    np.testing.assert_array_equal(np.load(paths[1]), maps[1])
    with pytest.raises(ValueError, match="png16"):
        core.save_depth_batch(core.depth_value(maps, "depth", []), tmp_path, "x", 1, "jpg")


def test_save_exr_keeps_float32(core, tmp_path) -> None:
    maps = np.random.default_rng(2).uniform(0.1, 9.0, (1, H, W)).astype(np.float32)
    try:
        (path,) = core.save_depth_batch(
            core.depth_value(maps, "depth", []), tmp_path, "d", 1, "exr"
        )
    except sddr_core.UnsupportedFormatError as exc:
        pytest.skip(f"this OpenCV build cannot write OpenEXR: {exc}")
    assert path.name == "d_00001_.exr"
    np.testing.assert_array_equal(read_depth(path).depth, maps[0])


# ------------------------------------------------------------------------------------------
# Dropdown labels, precision, modules for ComfyUI's memory management
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("licence", "klass"),
    [
        ("Apache-2.0", "commercial use"),
        ("MIT", "commercial use"),
        ("CC-BY-NC-4.0", "non-commercial"),
        ("apple-amlr", "research only"),
        ("built-in", "commercial use"),
        ("unknown", "licence unknown"),
        ("", "licence unknown"),
    ],
)
def test_licence_classes(core, licence, klass) -> None:
    assert core.licence_class(licence) == klass


def test_every_registered_predictor_has_a_known_licence_class(core) -> None:
    for spec in sddr_core.list_predictors():
        assert core.licence_class(spec.licence) != "licence unknown", spec


def test_predictor_labels_round_trip_to_names(core) -> None:
    label = core.predictor_label("depth-anything-v2-base", "CC-BY-NC-4.0", False)
    assert label == "depth-anything-v2-base · downloads on first use · non-commercial"
    assert core.name_from_label(label) == "depth-anything-v2-base"
    assert core.name_from_label("dpt-large") == "dpt-large"  # older workflows: bare names
    assert core.predictor_label("x", "MIT", True) == "x · downloaded · commercial use"
    assert core.predictor_label("x", "MIT", None).split(" · ")[1] == "no download"


def test_torch_module_and_held_module(core) -> None:
    net = torch.nn.Conv2d(1, 1, 3)

    class Holder:
        model = net

    assert core.torch_module(net) is net and core.torch_module(Holder()) is net
    assert core.torch_module(red_predictor) is None
    held = core.HeldModule(net)
    held.device = "cpu"  # what ComfyUI's ModelPatcher writes; fine on the container
    assert list(held.parameters()) == list(net.parameters())


def test_apply_precision(core) -> None:
    class Refiner:
        precision = "auto"

    class HFPredictor:
        fp16 = True

    r, p = Refiner(), HFPredictor()
    assert core.apply_precision(r, "bf16", on_cuda=True) is None and r.precision == "bf16"
    assert core.apply_precision(r, "bf16", on_cuda=False) is None and r.precision == "fp32"
    assert core.apply_precision(p, "bf16", on_cuda=True) is torch.bfloat16 and p.fp16 is False
    assert core.apply_precision(p, "fp16", on_cuda=True) is None and p.fp16 is True
    assert core.apply_precision(red_predictor, "fp16", on_cuda=True) is torch.float16
    assert core.apply_precision(red_predictor, "fp16", on_cuda=False) is None
    with pytest.raises(ValueError, match="precision must be one of"):
        core.apply_precision(r, "int8", on_cuda=True)


# ------------------------------------------------------------------------------------------
# Weights in models/depth
# ------------------------------------------------------------------------------------------


def test_download_goes_to_models_depth_with_progress(weights, tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    seen: dict = {}
    reports: list[tuple[int, int]] = []

    def fake_snapshot(repo_id, *, local_dir, allow_patterns, tqdm_class, **kw):
        seen.update(repo_id=repo_id, local_dir=local_dir, patterns=allow_patterns)
        files = ["config.json", "preprocessor_config.json", "model.safetensors"]
        bar = tqdm_class(total=len(files), disable=True)
        for name in files:
            (tmp_path / "depth" / "Depth-Anything-V2-Small-hf").mkdir(parents=True, exist_ok=True)
            (tmp_path / "depth" / "Depth-Anything-V2-Small-hf" / name).write_text("{}")
            bar.update(1)
        bar.close()
        return local_dir

    folder = weights.download_weights(
        "depth-anything-v2-small",
        "depth-anything/Depth-Anything-V2-Small-hf",
        tmp_path / "depth",
        report=lambda done, total: reports.append((done, total)),
        snapshot_download=fake_snapshot,
    )
    assert folder == tmp_path / "depth" / "Depth-Anything-V2-Small-hf"
    assert seen["local_dir"] == str(folder) and "config.json" in seen["patterns"]
    assert reports == [(1, 3), (2, 3), (3, 3)]


def test_cancel_during_a_download_stops_it(weights, tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)

    class InterruptProcessingException(Exception):
        pass

    def cancel() -> None:
        raise InterruptProcessingException()

    def fake_snapshot(repo_id, *, tqdm_class, **kw):
        tqdm_class(total=2, disable=True).update(1)

    with pytest.raises(InterruptProcessingException):
        weights.download_weights(
            "m", "org/m", tmp_path, check_cancel=cancel, snapshot_download=fake_snapshot
        )


def test_offline_error_speaks_comfyui(weights, tmp_path, monkeypatch) -> None:
    from sddr_core.errors import WeightsError

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(WeightsError) as err:
        weights.download_weights("dpt-large", "Intel/dpt-large", tmp_path / "models" / "depth")
    msg = str(err.value)
    assert str(tmp_path / "models" / "depth" / "dpt-large") in msg
    assert "https://huggingface.co/Intel/dpt-large/tree/main" in msg
    assert "weights=" not in msg and msg.index("hf download") > msg.index("Run again")


def test_a_failed_download_is_the_same_artist_error(weights, tmp_path, monkeypatch) -> None:
    from sddr_core.errors import WeightsError

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)

    def no_network(repo_id, **kw):
        raise ConnectionError("no route to host")

    with pytest.raises(WeightsError, match="could not be downloaded"):
        weights.download_weights("m", "org/m", tmp_path, snapshot_download=no_network)

    def empty(repo_id, *, local_dir, **kw):
        return local_dir

    with pytest.raises(WeightsError, match="no weights file"):
        weights.download_weights("m", "org/m", tmp_path, snapshot_download=empty)


def test_short_side_resolution_becomes_the_high_pass_long_side(core) -> None:
    assert core.resolutions_for((512, 768)) == (None, None)
    assert core.resolutions_for((512, 768), resolution=1024) == (None, 1536)
    assert core.resolutions_for((768, 512), resolution=1024) == (None, 1536)  # portrait
    assert core.resolutions_for((600, 600), 384, 0, 640) == (384, 640)
    # the long-side override wins over the short side
    assert core.resolutions_for((512, 768), 0, 2000, 1024) == (None, 2000)
    with pytest.raises(ValueError, match="multiple of 64"):
        core.resolutions_for((512, 768), resolution=1000)
    with pytest.raises(ValueError, match="at least 16"):
        core.resolutions_for((512, 768), resolution=8)


def test_sizes_text_shows_the_passes_sddr_used(core) -> None:
    info = [{"low_resolution": 518, "high_resolution": 1536}] * 2
    text = core.sizes_text(info, (512, 768))
    assert text == "low pass 518×345 · high pass 1536×1024 · output 768×512 × 2 images"
    varied = [{"low_resolution": 518, "high_resolution": h} for h in (1024, 1536, 1024)]
    assert "high pass 1024×683 to 1536×1024 (2 sizes)" in core.sizes_text(varied, (512, 768))
    assert core.sizes_text([{}], (40, 30)) == "output 30×40"  # fused external maps


def test_controlnet_near_white_or_black(core) -> None:
    image = torch.tensor([[[[0.0, 0.0, 0.0], [0.25, 0.25, 0.25], [1.0, 1.0, 1.0]]]])
    assert core.controlnet_near(image, "white") is image
    assert torch.equal(core.controlnet_near(image, "black"), 1.0 - image)
    with pytest.raises(ValueError, match="white, black"):
        core.controlnet_near(image, "grey")
