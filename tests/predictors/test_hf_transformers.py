"""The transformers-backed predictors, on tiny randomly initialised models (nothing is downloaded).

Each family (Depth Anything, DPT, DPT-hybrid, ZoeDepth, Depth Pro) is built once from a tiny
config, saved with ``save_pretrained`` next to its image-processor config, and loaded through
the same public path users take (``create_predictor(name, weights=...)``, the
``sddr_weight_dirs`` hook, ``SDDR_WEIGHTS_DIR``, the Hugging Face cache).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("transformers")
pytest.importorskip("huggingface_hub")

from sddr_core.errors import SddrError, ShapeError, WeightsError, command_line_syntax
from sddr_core.hookspecs import hookimpl
from sddr_core.plugins import temporary_plugin
from sddr_core.predictors import hf_transformers as hf
from sddr_core.predictors.base import run_predictor
from sddr_core.registry import create_predictor, get_predictor_spec, list_predictors

DA = "depth-anything-v2-small"
DA_ID = "depth-anything/Depth-Anything-V2-Small-hf"

# sddr name -> two resolutions (long sides) to run the tiny model at
FAMILIES = {
    "depth-anything-v2-small": (56, 112),
    "dpt-large": (96, 192),
    "dpt-hybrid-midas": (96, 192),
    "zoedepth-nyu-kitti": (96, 192),
    "depth-pro": (64, 256),
}


# ------------------------------------------------------------------------------------------
# Tiny models
# ------------------------------------------------------------------------------------------


def _processor(folder: Path, pil_name: str, **kwargs: object) -> None:
    """Save an image processor (the PIL backend when torchvision is missing)."""
    import transformers

    cls = getattr(transformers, pil_name, None) or getattr(
        transformers, pil_name.removesuffix("Pil")
    )
    cls(**kwargs).save_pretrained(folder)


def _tiny_depth_anything(folder: Path) -> None:
    from transformers import DepthAnythingConfig, DepthAnythingForDepthEstimation, Dinov2Config

    backbone = Dinov2Config(
        hidden_size=32,
        num_hidden_layers=4,
        num_attention_heads=2,
        intermediate_size=64,
        patch_size=14,
        image_size=518,
        out_features=["stage1", "stage2", "stage3", "stage4"],
        reshape_hidden_states=False,
    )
    cfg = DepthAnythingConfig(
        backbone_config=backbone,
        neck_hidden_sizes=[16, 16, 32, 32],
        fusion_hidden_size=16,
        head_hidden_size=8,
        reassemble_hidden_size=32,
    )
    DepthAnythingForDepthEstimation(cfg).save_pretrained(folder)
    _processor(
        folder,
        "DPTImageProcessorPil",
        size={"height": 518, "width": 518},
        keep_aspect_ratio=True,
        ensure_multiple_of=14,
        image_mean=[0.485, 0.456, 0.406],
        image_std=[0.229, 0.224, 0.225],
    )


def _tiny_dpt(folder: Path, hybrid: bool) -> None:
    from transformers import BitConfig, DPTConfig, DPTForDepthEstimation

    common = dict(
        hidden_size=32,
        num_hidden_layers=4,
        num_attention_heads=2,
        intermediate_size=64,
        image_size=64,
        patch_size=16,
        fusion_hidden_size=16,
        backbone_out_indices=[0, 1, 2, 3],
    )
    if hybrid:
        bit = BitConfig(
            global_padding="same",
            layer_type="bottleneck",
            depths=[1, 1, 1],
            out_features=["stage1", "stage2", "stage3"],
            embedding_dynamic_padding=True,
            hidden_sizes=[16, 32, 64],
            embedding_size=16,
            num_groups=4,
        )
        cfg = DPTConfig(
            is_hybrid=True,
            backbone_config=bit,
            neck_hidden_sizes=[16, 32, 32, 32],
            backbone_featmap_shape=[1, 64, 4, 4],
            **common,
        )
    else:
        cfg = DPTConfig(neck_hidden_sizes=[8, 16, 32, 32], **common)
    DPTForDepthEstimation(cfg).save_pretrained(folder)
    _processor(folder, "DPTImageProcessorPil", size={"height": 384, "width": 384})


def _tiny_zoedepth(folder: Path) -> None:
    from transformers import BeitConfig, ZoeDepthConfig, ZoeDepthForDepthEstimation

    beit = BeitConfig(
        image_size=64,
        patch_size=16,
        hidden_size=32,
        num_hidden_layers=4,
        num_attention_heads=2,
        intermediate_size=64,
        use_relative_position_bias=True,
        reshape_hidden_states=False,
        out_features=["stage1", "stage2", "stage3", "stage4"],
    )
    # transformers hard-codes 4 patch-transformer layers and a 128-wide classifier input
    cfg = ZoeDepthConfig(
        backbone_config=beit,
        neck_hidden_sizes=[8, 16, 32, 32],
        fusion_hidden_size=16,
        reassemble_hidden_size=32,
        bottleneck_features=16,
        bin_configurations=[
            {"name": "nyu", "n_bins": 8, "min_depth": 1e-3, "max_depth": 10.0},
            {"name": "kitti", "n_bins": 8, "min_depth": 1e-3, "max_depth": 80.0},
        ],
        num_attractors=[4, 2, 2, 1],
        bin_embedding_dim=16,
        num_patch_transformer_layers=4,
        patch_transformer_hidden_size=128,
        patch_transformer_intermediate_size=32,
        patch_transformer_num_attention_heads=2,
    )
    ZoeDepthForDepthEstimation(cfg).save_pretrained(folder)
    _processor(folder, "ZoeDepthImageProcessorPil", ensure_multiple_of=32)


def _tiny_depth_pro(folder: Path) -> None:
    from transformers import DepthProConfig, DepthProForDepthEstimation

    sub = dict(
        model_type="dinov2",
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        patch_size=8,
        image_size=32,
    )
    cfg = DepthProConfig(
        patch_size=32,  # fixed input side = 32 / 0.25 = 128
        fusion_hidden_size=16,
        intermediate_hook_ids=[1, 0],
        intermediate_feature_dims=[16, 16],
        scaled_images_feature_dims=[32, 32, 16],
        use_fov_model=True,
        image_model_config=dict(sub),
        patch_model_config=dict(sub),
        fov_model_config=dict(sub),
    )
    DepthProForDepthEstimation(cfg).save_pretrained(folder)
    try:
        _processor(folder, "DepthProImageProcessor", size={"height": 128, "width": 128})
    except ImportError:  # DepthProImageProcessor needs torchvision: write what it would
        config = {
            "image_processor_type": "DepthProImageProcessor",
            "do_normalize": True,
            "do_rescale": True,
            "do_resize": True,
            "image_mean": [0.5, 0.5, 0.5],
            "image_std": [0.5, 0.5, 0.5],
            "resample": 2,
            "rescale_factor": 1 / 255,
            "size": {"height": 128, "width": 128},
        }
        (folder / "preprocessor_config.json").write_text(json.dumps(config))


@pytest.fixture(scope="module")
def weights_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A weights folder holding every tiny model under its id's last part."""
    import torch

    torch.manual_seed(0)
    root = tmp_path_factory.mktemp("sddr_weights")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _tiny_depth_anything(root / "Depth-Anything-V2-Small-hf")
        _tiny_dpt(root / "dpt-large", hybrid=False)
        _tiny_dpt(root / "dpt-hybrid-midas", hybrid=True)
        _tiny_zoedepth(root / "zoedepth-nyu-kitti")
        _tiny_depth_pro(root / "DepthPro-hf")
    return root


def _folder(root: Path, name: str) -> Path:
    return root / hf.weight_folder_names(hf.default_cfgs[name].model_id)[0]


@pytest.fixture(scope="module")
def predictors(weights_root: Path) -> dict[str, hf.HFDepthPredictor]:
    """Each tiny model loaded once through the registry with an explicit ``weights=``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {
            name: create_predictor(name, weights=str(_folder(weights_root, name)), device="cpu")
            for name in FAMILIES
        }


@pytest.fixture(autouse=True)
def hermetic_hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Offline, with an empty Hugging Face home and no SDDR_WEIGHTS_DIR."""
    home = tmp_path / "hf_home"
    home.mkdir()
    monkeypatch.setenv("HF_HOME", str(home))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.delenv("HUGGINGFACE_HUB_CACHE", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv(hf.WEIGHTS_DIR_ENV, raising=False)
    return home


def _image(h: int = 60, w: int = 90) -> np.ndarray:
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    base = np.stack([yy, xx, 0.5 * (yy + xx)], axis=-1)
    return np.clip(base + 0.05 * rng.standard_normal((h, w, 3)), 0, 1).astype(np.float32)


# ------------------------------------------------------------------------------------------
# The table and the registry
# ------------------------------------------------------------------------------------------


def test_variants_are_registered_with_their_metadata() -> None:
    names = {s.name for s in list_predictors()}
    assert set(hf.default_cfgs) <= names
    expected = {
        "depth-anything-v2-small": (DA_ID, "Apache-2.0", "disparity", 518, 14),
        "depth-anything-v2-base": (
            "depth-anything/Depth-Anything-V2-Base-hf",
            "CC-BY-NC-4.0",
            "disparity",
            518,
            14,
        ),
        "depth-anything-v2-large": (
            "depth-anything/Depth-Anything-V2-Large-hf",
            "CC-BY-NC-4.0",
            "disparity",
            518,
            14,
        ),
        "dpt-hybrid-midas": ("Intel/dpt-hybrid-midas", "Apache-2.0", "disparity", 384, 32),
        "dpt-large": ("Intel/dpt-large", "Apache-2.0", "disparity", 384, 32),
        "zoedepth-nyu-kitti": ("Intel/zoedepth-nyu-kitti", "MIT", "depth", 512, 32),
        "depth-pro": ("apple/DepthPro-hf", "apple-amlr", "depth", 1536, 384),
    }
    assert set(expected) == set(hf.default_cfgs)
    for name, (model_id, licence, kind, native, multiple) in expected.items():
        spec = get_predictor_spec(name)
        assert (spec.source, spec.licence, spec.kind, spec.native_resolution) == (
            model_id,
            licence,
            kind,
            native,
        )
        assert spec.extra["size_multiple"] == multiple
        assert callable(spec.weights_present)
    for name in ("depth-anything-v2-base", "depth-anything-v2-large"):
        assert "NON-COMMERCIAL" in get_predictor_spec(name).description
    assert hf.default_cfgs["depth-pro"].fixed_resolution == 1536


def test_factory_rejects_unknown_options() -> None:
    with pytest.raises(TypeError):
        create_predictor(DA, weights=None, colour="blue")


def test_weights_present_follows_offline_availability(
    weights_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = get_predictor_spec(DA)
    assert spec.weights_present() is False  # empty cache, nothing configured
    monkeypatch.setenv(hf.WEIGHTS_DIR_ENV, str(weights_root))
    assert spec.weights_present() is True
    assert get_predictor_spec("depth-anything-v2-large").weights_present() is False


# ------------------------------------------------------------------------------------------
# Prediction
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(FAMILIES))
def test_predicts_a_finite_map_with_the_aspect_ratio(
    name: str, predictors: dict[str, hf.HFDepthPredictor]
) -> None:
    predictor = predictors[name]
    assert predictor.name == name and predictor.device.type == "cpu"
    image = _image(60, 90)
    low, high = FAMILIES[name]
    shapes = []
    for res in (low, high):
        out = run_predictor(predictor, image, res)
        raw = predictor.predict(image, res)
        assert raw.dtype == np.float32 and raw.ndim == 2
        assert out.ndim == 2 and out.dtype == np.float32 and np.isfinite(out).all()
        assert out.shape[1] / out.shape[0] == pytest.approx(90 / 60, rel=0.2)
        shapes.append(predictor.last_input_shape)
    if predictor.fixed_resolution:  # Depth Pro: one square input, whatever is asked
        assert shapes[0] == shapes[1] == (128, 128)
        assert predictor.native_resolution == predictor.max_resolution == 128
    else:
        assert shapes[0] != shapes[1]
        for (h, w), res in zip(shapes, (low, high), strict=True):
            assert max(h, w) == res
            assert h % predictor.size_multiple == 0 and w % predictor.size_multiple == 0
            assert w / h == pytest.approx(90 / 60, rel=0.25)


@pytest.mark.parametrize("name", list(FAMILIES))
def test_predict_batch_equals_predict_per_image(
    name: str, predictors: dict[str, hf.HFDepthPredictor]
) -> None:
    predictor = predictors[name]
    images = [_image(60, 90), _image(60, 90)[::-1].copy(), _image(45, 90)]
    res = FAMILIES[name][1]
    batch = predictor.predict_batch(images, res)
    assert len(batch) == 3
    for image, got in zip(images, batch, strict=True):
        one = predictor.predict(image, res)
        assert got.dtype == np.float32 and got.shape == one.shape
        if name == "depth-pro":  # the network's own output is inverse depth, near 0 here
            got, one = 1 / got, 1 / one
        np.testing.assert_allclose(got, one, rtol=1e-4, atol=1e-4 * float(np.ptp(one)) + 1e-6)


def test_portrait_input_is_not_squashed(predictors: dict[str, hf.HFDepthPredictor]) -> None:
    for name in ("depth-anything-v2-small", "dpt-large", "dpt-hybrid-midas"):
        out = predictors[name].predict(_image(96, 48), 128 if "dpt" in name else 112)
        assert out.shape[0] == 2 * out.shape[1], name
        assert predictors[name].last_input_shape[0] > predictors[name].last_input_shape[1]


def test_zoedepth_pads_like_its_processor_and_crops_the_output(
    predictors: dict[str, hf.HFDepthPredictor],
) -> None:
    zoe = predictors["zoedepth-nyu-kitti"]
    out = zoe.predict(_image(60, 90), 128)
    h, w = zoe.last_input_shape
    assert max(h, w) == 128  # the padded input has the requested long side
    assert out.shape[0] < h and out.shape[1] < w  # padding removed
    assert out.shape[1] / out.shape[0] == pytest.approx(90 / 60, rel=0.1)
    assert zoe.kind == "depth"


def test_normalisation_comes_from_the_processor_config(
    predictors: dict[str, hf.HFDepthPredictor],
) -> None:
    assert predictors[DA]._pre.mean == pytest.approx((0.485, 0.456, 0.406))
    assert predictors["dpt-large"]._pre.std == pytest.approx((0.5, 0.5, 0.5))


def test_accepts_uint8_and_rejects_bad_shapes(predictors: dict[str, hf.HFDepthPredictor]) -> None:
    p = predictors[DA]
    as_float = p.predict(_image(), 56)
    as_uint8 = p.predict((_image() * 255).round().astype(np.uint8), 56)
    assert as_uint8.shape == as_float.shape
    with pytest.raises(ShapeError):
        p.predict(np.zeros((10, 10, 5), np.float32), 56)


# ------------------------------------------------------------------------------------------
# Finding the weights
# ------------------------------------------------------------------------------------------


class _WeightDirs:
    def __init__(self, *folders: Path) -> None:
        self.folders = [str(f) for f in folders]
        self.asked: list[str] = []

    @hookimpl
    def sddr_weight_dirs(self, model_id: str) -> list[str]:
        self.asked.append(model_id)
        return self.folders


def test_weights_from_the_weight_dirs_hook(weights_root: Path, tmp_path: Path) -> None:
    plugin = _WeightDirs(tmp_path / "does-not-exist", weights_root)
    with temporary_plugin(plugin, name="test-weight-dirs"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        predictor = create_predictor(DA, device="cpu", download=False)
    assert DA_ID in plugin.asked
    assert predictor.weights_path == weights_root / "Depth-Anything-V2-Small-hf"
    assert np.isfinite(run_predictor(predictor, _image(), 56)).all()


def test_weights_from_env_var_with_dashed_folder_name(
    weights_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = tmp_path / "models"
    shutil.copytree(
        weights_root / "Depth-Anything-V2-Small-hf",
        other / "depth-anything--Depth-Anything-V2-Small-hf",
    )
    monkeypatch.setenv(hf.WEIGHTS_DIR_ENV, os.pathsep.join([str(tmp_path / "none"), str(other)]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        predictor = create_predictor(DA, device="cpu")
    assert predictor.weights_path == other / "depth-anything--Depth-Anything-V2-Small-hf"
    assert run_predictor(predictor, _image(), 56).ndim == 2


def test_lookup_order_explicit_then_hook_then_env(
    weights_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hook_root = tmp_path / "hook"
    shutil.copytree(
        weights_root / "Depth-Anything-V2-Small-hf", hook_root / "Depth-Anything-V2-Small-hf"
    )
    monkeypatch.setenv(hf.WEIGHTS_DIR_ENV, str(weights_root))
    explicit = weights_root / "Depth-Anything-V2-Small-hf"
    with temporary_plugin(_WeightDirs(hook_root), name="test-order"):
        assert hf.resolve_weights(DA_ID, str(hook_root / "Depth-Anything-V2-Small-hf")) == (
            hook_root / "Depth-Anything-V2-Small-hf"
        )
        assert hf.resolve_weights(DA_ID) == hook_root / "Depth-Anything-V2-Small-hf"
    assert hf.resolve_weights(DA_ID) == explicit
    # a file inside the folder stands for the folder
    assert hf.resolve_weights(DA_ID, explicit / "config.json") == explicit


def test_weights_from_the_hugging_face_cache(weights_root: Path, hermetic_hub: Path) -> None:
    model_dir = hermetic_hub / "hub" / "models--depth-anything--Depth-Anything-V2-Small-hf"
    snapshot = model_dir / "snapshots" / "0123456789abcdef"
    shutil.copytree(weights_root / "Depth-Anything-V2-Small-hf", snapshot)
    (model_dir / "refs").mkdir()
    (model_dir / "refs" / "main").write_text("0123456789abcdef")
    assert hf.hf_cache_dir() == hermetic_hub / "hub"  # HF_HOME read at call time
    assert hf.resolve_weights(DA_ID, download=False) == snapshot
    assert get_predictor_spec(DA).weights_present() is True


def test_offline_and_missing_gives_a_weights_error(hermetic_hub: Path) -> None:
    with pytest.raises(WeightsError) as info:
        create_predictor(DA, device="cpu")
    msg = str(info.value)
    assert DA_ID in msg
    assert "offline" in msg
    assert str(hermetic_hub / "hub") in msg
    assert f"{hf.WEIGHTS_DIR_ENV}/Depth-Anything-V2-Small-hf" in msg
    assert f"hf download {DA_ID}" in msg and "huggingface-cli download" in msg


def test_download_false_gives_a_weights_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HF_HUB_OFFLINE")
    with pytest.raises(WeightsError, match="download=False"):
        hf.resolve_weights(DA_ID, download=False)


def test_network_errors_become_weights_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    import huggingface_hub
    from huggingface_hub.errors import LocalEntryNotFoundError

    def no_network(repo_id: str, **kwargs: object) -> str:
        if kwargs.get("local_files_only"):
            raise LocalEntryNotFoundError("not in cache")
        raise ConnectionError("Failed to resolve 'huggingface.co'")

    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(huggingface_hub, "snapshot_download", no_network)
    with pytest.raises(WeightsError) as info:
        create_predictor(DA, device="cpu")
    assert DA_ID in str(info.value) and "download failed" in str(info.value)
    assert "huggingface.co" in str(info.value)


def test_download_goes_to_the_cache_with_safetensors_first(
    weights_root: Path, hermetic_hub: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import huggingface_hub
    from huggingface_hub.errors import LocalEntryNotFoundError

    calls: list[dict[str, object]] = []

    def fake_download(repo_id: str, **kwargs: object) -> str:
        calls.append(kwargs)
        if kwargs.get("local_files_only"):
            raise LocalEntryNotFoundError("not in cache")
        target = Path(str(kwargs["cache_dir"])) / "fake-snapshot"
        if not target.exists():
            shutil.copytree(weights_root / "Depth-Anything-V2-Small-hf", target)
        return str(target)

    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_download)
    got = hf.resolve_weights(DA_ID)
    assert got == hermetic_hub / "hub" / "fake-snapshot"
    downloads = [c for c in calls if not c.get("local_files_only")]
    assert len(downloads) == 1
    assert "*.safetensors" in downloads[0]["allow_patterns"]
    assert "pytorch_model.bin" not in downloads[0]["allow_patterns"]


def test_download_reports_progress_and_honours_cancel(
    weights_root: Path, hermetic_hub: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import huggingface_hub

    import sddr_core
    from sddr_core.plugins import temporary_plugin

    def fake_download(repo_id: str, **kwargs: object) -> str:
        bar = kwargs["tqdm_class"](total=3)  # as huggingface_hub does, one unit per file
        for _ in range(3):
            bar.update(1)
        bar.close()
        target = Path(str(kwargs["cache_dir"])) / "fake-snapshot"
        if not target.exists():
            shutil.copytree(weights_root / "Depth-Anything-V2-Small-hf", target)
        return str(target)

    class Listener:
        def __init__(self, cancel: bool) -> None:
            self.events: list[tuple[str, int, int]] = []
            self.cancel = cancel

        @sddr_core.hookimpl
        def sddr_progress(self, stage, done, total):
            self.events.append((stage, done, total))

        @sddr_core.hookimpl
        def sddr_should_cancel(self, stage):
            return True if self.cancel and stage == "download" else None

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_download)
    listener = Listener(cancel=False)
    with temporary_plugin(listener):
        hf._download(DA_ID, hermetic_hub / "hub")
    assert listener.events == [("download", 1, 3), ("download", 2, 3), ("download", 3, 3)]
    with temporary_plugin(Listener(cancel=True)), pytest.raises(sddr_core.CancelledError):
        hf._download(DA_ID, hermetic_hub / "hub")


# ------------------------------------------------------------------------------------------
# Broken weights and missing dependencies
# ------------------------------------------------------------------------------------------


def test_truncated_safetensors_gives_a_weights_error(weights_root: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(weights_root / "Depth-Anything-V2-Small-hf", broken)
    weights = broken / "model.safetensors"
    with open(weights, "r+b") as f:
        f.truncate(weights.stat().st_size // 2)
    with pytest.raises(WeightsError, match="corrupt"):
        create_predictor(DA, weights=str(broken), device="cpu")


def test_bad_weights_paths_give_weights_errors(weights_root: Path, tmp_path: Path) -> None:
    with pytest.raises(WeightsError, match=r"weights='.*nowhere' does not exist"):
        create_predictor(DA, weights=str(tmp_path / "nowhere"), device="cpu")
    with command_line_syntax(), pytest.raises(WeightsError, match=r"--weights .*nowhere does not"):
        create_predictor(DA, weights=str(tmp_path / "nowhere"), device="cpu")
    only_weights = tmp_path / "no_config"
    only_weights.mkdir()
    shutil.copy(weights_root / "Depth-Anything-V2-Small-hf" / "model.safetensors", only_weights)
    with pytest.raises(WeightsError, match=r"no config\.json"):
        create_predictor(DA, weights=str(only_weights), device="cpu")


def test_weights_of_another_family_are_refused(weights_root: Path) -> None:
    with pytest.raises(WeightsError, match="zoedepth-nyu-kitti"):
        create_predictor(DA, weights=str(weights_root / "zoedepth-nyu-kitti"), device="cpu")


def test_missing_transformers_says_how_to_install(
    weights_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "transformers", None)
    # sddr is not on PyPI: the hint must work without it (plain packages, or the clone)
    with pytest.raises(SddrError, match=r'pip install "transformers>=.*pip install -e "\.\[hf\]"'):
        create_predictor(DA, weights=str(weights_root / "Depth-Anything-V2-Small-hf"))


def test_module_imports_and_registers_without_transformers(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "sys.modules['transformers'] = None\n"
        "sys.modules['huggingface_hub'] = None\n"
        "import sddr_core.predictors.hf_transformers as m\n"
        "specs = m.sddr_register_predictors()\n"
        "assert len(specs) == 7, specs\n"
        "assert specs[0].weights_present() is False\n"
        "print('ok')\n"
    )
    env = {**os.environ, "HF_HOME": str(tmp_path), "HF_HUB_OFFLINE": "1"}
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=root
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
