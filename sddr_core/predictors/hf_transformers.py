"""Depth predictors over Hugging Face ``transformers`` depth-estimation models.

Registers Depth Anything V2, DPT (MiDaS v3), ZoeDepth and Depth Pro under sddr names
(``depth-anything-v2-small`` ...). ``transformers`` is an optional dependency
(``pip install "sddr[hf]"``): this module imports without it, and only creating a predictor
needs it.

How each model is run (checked against the transformers sources, ``models/{depth_anything,
dpt,zoedepth,depth_pro}``):

- The image is resized by sddr (:func:`sddr_core.ops.resize.resize_map`) so its long side is
  the requested ``resolution`` with both sides rounded to the model's size multiple, keeping
  the aspect ratio; it is normalised with the ``image_mean``/``image_std`` of the checkpoint's
  ``preprocessor_config.json`` and given to the model directly. The Hugging Face image
  processors are not used: they squash DPT to a 384×384 square and Depth Pro's processor
  needs torchvision.
- **Depth Anything V2** (DINOv2, patch 14): any size that is a multiple of 14.
- **DPT / MiDaS** (``dpt-large``, ``dpt-hybrid-midas``): transformers' DPT rebuilds the token
  grid as a square and the hybrid embeddings refuse any size but 384×384. The predictor
  passes the real ``(h/16, w/16)`` grid to the neck and turns on the hybrid embeddings'
  position-embedding interpolation (instance-level wrappers, nothing global), so DPT runs at
  any multiple of 32 with the aspect ratio kept, as the original MiDaS does.
- **ZoeDepth** (BEiT, relative position bias interpolated to any grid): multiple of 32. Its
  processor reflect-pads the image by ``int(sqrt(side / 2) * 3)`` per side against border
  artifacts; the predictor does the same (the *padded* image has long side ``resolution``)
  and crops the padding off the output. Output is metric depth.
- **Depth Pro**: the architecture only accepts one square size, ``patch_size /
  min(scaled_images_ratios)`` = 1536 for apple/DepthPro-hf (its patches are merged on a
  square grid). The predictor therefore always squashes the image to 1536×1536, as Apple's
  reference code and the HF processor do, and **ignores** ``resolution``: ``fixed_resolution``
  and ``max_resolution`` say so, and sddr's high-resolution pass brings nothing new (two-stage
  windows still add detail, each window being run at 1536). The output is un-squashed to the
  image's aspect ratio and converted from canonical inverse depth to depth with the predicted
  field of view, as ``DepthProImageProcessor.post_process_depth_estimation`` does.

Weights are looked up (:func:`resolve_weights`) in an explicit folder, the folders offered by
the ``sddr_weight_dirs`` hook, ``SDDR_WEIGHTS_DIR``, the Hugging Face cache, and only then
downloaded.
"""

from __future__ import annotations

import functools
import inspect
import json
import logging
import math
import os
import re
import threading
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from sddr_core.errors import (
    InputError,
    PredictorError,
    SddrError,
    ShapeError,
    UnknownNameError,
    WeightsError,
    option,
)
from sddr_core.hookspecs import hookimpl
from sddr_core.ops.resize import resize_map, working_shape
from sddr_core.predictors.base import DepthKind, PredictorSpec

if TYPE_CHECKING:
    import torch

__all__ = [
    "HFDepthPredictor",
    "HFVariant",
    "default_cfgs",
    "hf_cache_dir",
    "resolve_weights",
    "weights_present",
]

log = logging.getLogger(__name__)

INSTALL_HINT = (
    'pip install "transformers>=4.45" "huggingface_hub>=0.23" (or, in an sddr clone, '
    'pip install -e ".[hf]")'
)
WEIGHTS_DIR_ENV = "SDDR_WEIGHTS_DIR"

_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)
_HALF = (0.5, 0.5, 0.5)


# ------------------------------------------------------------------------------------------
# The variant table
# ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HFVariant:
    """One transformers depth model that sddr knows by name.

    Attributes:
        name: the sddr predictor name.
        model_id: the Hugging Face model id.
        licence: licence of the weights (SPDX id or the Hub's licence tag).
        kind: ``"disparity"`` for relative models, ``"depth"`` for metric ones.
        native_resolution: long side, in pixels, of the model's training input.
        size_multiple: both sides of the model input are multiples of this.
        family: transformers ``model_type`` the checkpoint must have.
        description: one line for listings.
        fixed_resolution: the one (square) input side the architecture accepts, or ``None``
            when any multiple of ``size_multiple`` works.
        mean, std: normalisation used when the checkpoint has no ``preprocessor_config.json``.
    """

    name: str
    model_id: str
    licence: str
    kind: DepthKind
    native_resolution: int
    size_multiple: int
    family: str
    description: str
    fixed_resolution: int | None = None
    mean: tuple[float, float, float] = _HALF
    std: tuple[float, float, float] = _HALF

    @property
    def folder_names(self) -> tuple[str, str]:
        """Sub-folder names searched in weight folders: the id's last part, and ``a--b``."""
        return weight_folder_names(self.model_id)


#: sddr name -> variant (timm-style ``default_cfgs``). Licences as on the Hub model cards.
default_cfgs: dict[str, HFVariant] = {
    v.name: v
    for v in (
        HFVariant(
            name="depth-anything-v2-small",
            model_id="depth-anything/Depth-Anything-V2-Small-hf",
            licence="Apache-2.0",
            kind="disparity",
            native_resolution=518,
            size_multiple=14,
            family="depth_anything",
            mean=_IMAGENET_MEAN,
            std=_IMAGENET_STD,
            description="Depth Anything V2 ViT-S (25M params), relative disparity; "
            "the default: fast and commercially usable",
        ),
        HFVariant(
            name="depth-anything-v2-base",
            model_id="depth-anything/Depth-Anything-V2-Base-hf",
            licence="CC-BY-NC-4.0",
            kind="disparity",
            native_resolution=518,
            size_multiple=14,
            family="depth_anything",
            mean=_IMAGENET_MEAN,
            std=_IMAGENET_STD,
            description="Depth Anything V2 ViT-B (98M params), relative disparity; "
            "NON-COMMERCIAL use only (CC-BY-NC-4.0 weights)",
        ),
        HFVariant(
            name="depth-anything-v2-large",
            model_id="depth-anything/Depth-Anything-V2-Large-hf",
            licence="CC-BY-NC-4.0",
            kind="disparity",
            native_resolution=518,
            size_multiple=14,
            family="depth_anything",
            mean=_IMAGENET_MEAN,
            std=_IMAGENET_STD,
            description="Depth Anything V2 ViT-L (335M params), relative disparity; "
            "NON-COMMERCIAL use only (CC-BY-NC-4.0 weights)",
        ),
        HFVariant(
            name="dpt-hybrid-midas",
            model_id="Intel/dpt-hybrid-midas",
            licence="Apache-2.0",
            kind="disparity",
            native_resolution=384,
            size_multiple=32,
            family="dpt",
            description="MiDaS v3 DPT-Hybrid (ResNet-50 + ViT-B), relative disparity",
        ),
        HFVariant(
            name="dpt-large",
            model_id="Intel/dpt-large",
            licence="Apache-2.0",
            kind="disparity",
            native_resolution=384,
            size_multiple=32,
            family="dpt",
            description="MiDaS v3 DPT-Large (ViT-L), relative disparity",
        ),
        HFVariant(
            name="zoedepth-nyu-kitti",
            model_id="Intel/zoedepth-nyu-kitti",
            licence="MIT",
            kind="depth",
            native_resolution=512,
            size_multiple=32,
            family="zoedepth",
            description="ZoeDepth M12-NK (BEiT-L), metric depth in metres "
            "(indoor/outdoor heads, trained at 384x512)",
        ),
        HFVariant(
            name="depth-pro",
            model_id="apple/DepthPro-hf",
            licence="apple-amlr",
            kind="depth",
            native_resolution=1536,
            size_multiple=384,
            family="depth_pro",
            fixed_resolution=1536,
            description="Apple Depth Pro, metric depth; fixed 1536x1536 input, "
            "so `resolution` has no effect (Apple ML Research licence: research only)",
        ),
    )
}


# ------------------------------------------------------------------------------------------
# Weight resolution
# ------------------------------------------------------------------------------------------

_WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin")


def weight_folder_names(model_id: str) -> tuple[str, str]:
    """Folder names under which a weights folder holds ``model_id``.

    ``"depth-anything/Depth-Anything-V2-Small-hf"`` gives ``("Depth-Anything-V2-Small-hf",
    "depth-anything--Depth-Anything-V2-Small-hf")``.
    """
    return model_id.rstrip("/").split("/")[-1], model_id.strip("/").replace("/", "--")


def _has_weights(folder: Path) -> bool:
    return any((folder / f).is_file() for f in _WEIGHT_FILES)


def _is_model_dir(folder: Path) -> bool:
    return (folder / "config.json").is_file() and _has_weights(folder)


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().upper() in ("1", "ON", "YES", "TRUE")


def hf_cache_dir() -> Path:
    """The Hugging Face hub cache folder, read from the environment *now*.

    Same rules as ``huggingface_hub``: ``HF_HUB_CACHE``, else ``HF_HOME/hub``, else
    ``$XDG_CACHE_HOME/huggingface/hub``, else ``~/.cache/huggingface/hub``. (Read at call
    time because ``huggingface_hub`` fixes its constants when imported.)
    """
    for var in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        if os.environ.get(var):
            return Path(os.environ[var]).expanduser()
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]).expanduser() / "hub"
    xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(xdg) / "huggingface" / "hub"


def _offline() -> bool:
    if _env_flag("HF_HUB_OFFLINE") or _env_flag("TRANSFORMERS_OFFLINE"):
        return True
    try:
        from huggingface_hub import constants
    except ImportError:
        return False
    return bool(getattr(constants, "HF_HUB_OFFLINE", False))


def _hook_dirs(model_id: str) -> list[Path]:
    from sddr_core.plugins import get_plugin_manager

    out: list[Path] = []
    for folders in get_plugin_manager().hook.sddr_weight_dirs(model_id=model_id):
        if not folders:
            continue
        if isinstance(folders, (str, os.PathLike)):
            folders = [folders]
        out.extend(Path(f).expanduser() for f in folders if f)
    return out


def _env_dirs() -> list[Path]:
    value = os.environ.get(WEIGHTS_DIR_ENV, "")
    return [Path(p).expanduser() for p in value.split(os.pathsep) if p.strip()]


def _find_in(folders: list[Path], model_id: str) -> Path | None:
    names = weight_folder_names(model_id)
    for folder in folders:
        for name in names:
            candidate = folder / name
            if _is_model_dir(candidate):
                return candidate
    return None


def _explicit(weights: str | os.PathLike[str], model_id: str) -> Path:
    path = Path(weights).expanduser()
    if path.is_file():  # config.json or model.safetensors given instead of the folder
        if _is_model_dir(path.parent):
            return path.parent
        raise WeightsError(
            f"{option('weights', str(weights))} is a file; pass the folder holding config.json and "
            f"model.safetensors for {model_id} (e.g. from `hf download {model_id} "
            "--local-dir <folder>`)."
        )
    if path.is_dir():
        if _is_model_dir(path):
            return path
        missing = "config.json" if not (path / "config.json").is_file() else "a weights file"
        raise WeightsError(
            f"{option('weights', str(weights))} is a folder but has no {missing} "
            f"({' or '.join(_WEIGHT_FILES)}). Pass a folder written by save_pretrained() or "
            f"downloaded with `hf download {model_id} --local-dir <folder>`."
        )
    raise WeightsError(
        f"{option('weights', str(weights))} does not exist. Pass the folder holding "
        f"config.json and model.safetensors for {model_id} (e.g. from `hf download {model_id} "
        "--local-dir <folder>`), or leave the weights option out to use the Hugging Face "
        "cache."
    )


def _cached(model_id: str, cache_dir: Path) -> Path | None:
    try:
        import huggingface_hub
    except ImportError:
        return None
    try:
        snap = huggingface_hub.snapshot_download(
            model_id, cache_dir=str(cache_dir), local_files_only=True
        )
    except Exception:  # LocalEntryNotFoundError, a broken cache entry, ...
        return None
    if not isinstance(snap, (str, os.PathLike)):
        return None
    path = Path(snap)
    return path if _is_model_dir(path) else None


def _not_found(model_id: str, reason: str, cache_dir: Path, hook_dirs: list[Path]) -> WeightsError:
    last, dashed = weight_folder_names(model_id)
    env = os.environ.get(WEIGHTS_DIR_ENV)
    env_line = (
        f"{WEIGHTS_DIR_ENV}/{last} (or /{dashed}) with {WEIGHTS_DIR_ENV}={env}"
        if env
        else f"{WEIGHTS_DIR_ENV}/{last} ({WEIGHTS_DIR_ENV} is not set)"
    )
    lines = [
        f"Weights for {model_id!r} not found: {reason}.",
        "Looked in:",
        f"  - the Hugging Face cache: {cache_dir / ('models--' + dashed)}",
        f"  - {env_line}",
    ]
    if hook_dirs:
        lines.append(
            "  - folders offered by plugins: " + ", ".join(str(d / last) for d in hook_dirs)
        )
    lines += [
        "To get them: run `hf download "
        + model_id
        + "` (older huggingface_hub: `huggingface-cli download "
        + model_id
        + "`) on a machine with internet access, or put a folder with config.json, "
        + "preprocessor_config.json and model.safetensors at "
        + f"{WEIGHTS_DIR_ENV}/{last}, or pass {option('weights', '<that folder>')}.",
    ]
    return WeightsError("\n".join(lines))


def _progress_tqdm() -> type:
    """A tqdm class that also reports through the ``sddr_progress`` hook (stage
    ``"download"``, in files) and honours ``sddr_should_cancel``, so hosts such as ComfyUI
    show the download in their own progress bar and can cancel it."""
    from tqdm.auto import tqdm

    from sddr_core.progress import check_cancel, report

    class HookedTqdm(tqdm):
        def update(self, n: float | None = 1) -> bool | None:
            check_cancel("download")
            out = super().update(n)
            report("download", int(self.n), int(self.total or 0))
            return out

    return HookedTqdm


def _download(model_id: str, cache_dir: Path) -> Path:
    import huggingface_hub

    log.info("sddr: downloading %s into %s", model_id, cache_dir)
    tqdm_class = _progress_tqdm()
    patterns = [
        "config.json",
        "preprocessor_config.json",
        "*.safetensors",
        "*.safetensors.index.json",
    ]
    snap = Path(
        huggingface_hub.snapshot_download(
            model_id,
            cache_dir=str(cache_dir),
            allow_patterns=patterns,
            library_name="sddr",
            tqdm_class=tqdm_class,
        )
    )
    if not _has_weights(snap):  # older repos ship only pytorch_model.bin
        snap = Path(
            huggingface_hub.snapshot_download(
                model_id,
                cache_dir=str(cache_dir),
                allow_patterns=["pytorch_model.bin"],
                library_name="sddr",
                tqdm_class=tqdm_class,
            )
        )
    return snap


def resolve_weights(
    model_id: str, weights: str | os.PathLike[str] | None = None, *, download: bool = True
) -> Path:
    """The local folder (with ``config.json`` and weights) holding ``model_id``.

    Looks, in order, at: ``weights`` (an explicit folder, an error if it is not one); the
    folders offered by the ``sddr_weight_dirs`` hook and then those in ``SDDR_WEIGHTS_DIR``
    (``os.pathsep``-separated), each for a sub-folder named after the id's last part or the
    id with ``/`` replaced by ``--``; the Hugging Face cache; and finally, if ``download`` is
    true and Hugging Face is not in offline mode (``HF_HUB_OFFLINE``), downloads it into the
    cache with a progress bar.

    Raises:
        WeightsError: the weights are nowhere to be found and cannot be downloaded (offline,
            ``download=False``, no network, unknown id); the message names the id, where it
            looked and how to get them.
    """
    if weights is not None:
        return _explicit(weights, model_id)
    hook_dirs = _hook_dirs(model_id)
    found = _find_in(hook_dirs, model_id) or _find_in(_env_dirs(), model_id)
    if found is not None:
        return found
    cache_dir = hf_cache_dir()
    found = _cached(model_id, cache_dir)
    if found is not None:
        return found
    try:
        import huggingface_hub  # noqa: F401
    except ImportError:
        raise _not_found(
            model_id, f"huggingface_hub is not installed ({INSTALL_HINT})", cache_dir, hook_dirs
        ) from None
    if not download:
        raise _not_found(model_id, "downloading is off (download=False)", cache_dir, hook_dirs)
    if _offline():
        raise _not_found(
            model_id, "Hugging Face offline mode is on (HF_HUB_OFFLINE=1)", cache_dir, hook_dirs
        )
    try:
        snap = _download(model_id, cache_dir)
    except Exception as exc:  # network, HTTP, unknown/gated repo, disk full ...
        reason = f"the download failed ({type(exc).__name__}: {exc})"
        if type(exc).__name__ == "GatedRepoError" or "401" in str(exc):
            reason += "; log in with `hf auth login` and accept the model's terms on the Hub"
        raise _not_found(model_id, reason, cache_dir, hook_dirs) from exc
    if not _is_model_dir(snap):
        raise _not_found(
            model_id,
            f"the download of {snap} has no config.json or weights file",
            cache_dir,
            hook_dirs,
        )
    return snap


def weights_present(model_id: str) -> bool:
    """Whether :func:`resolve_weights` finds ``model_id`` without downloading anything."""
    try:
        resolve_weights(model_id, download=False)
    except WeightsError:
        return False
    return True


# ------------------------------------------------------------------------------------------
# The predictor
# ------------------------------------------------------------------------------------------


def _import_transformers() -> Any:
    try:
        import transformers
    except ImportError as exc:
        raise SddrError(
            "The Hugging Face predictors need the `transformers` package, which is not "
            f"installed ({exc}). Install it with: {INSTALL_HINT}"
        ) from exc
    return transformers


def _version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(x) for x in re.findall(r"\d+", version)[:2])


@dataclass(frozen=True)
class _Preprocessing:
    mean: tuple[float, ...]
    std: tuple[float, ...]
    normalize: bool
    pad: bool  # ZoeDepth's reflect padding


def _read_preprocessing(folder: Path, variant: HFVariant, family: str) -> _Preprocessing:
    """Normalisation from the checkpoint's ``preprocessor_config.json`` (else the table)."""
    cfg: dict[str, Any] = {}
    path = folder / "preprocessor_config.json"
    if path.is_file():
        try:
            cfg = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise WeightsError(
                f"{path} cannot be read ({exc}). Delete it and download the model again "
                f"(`hf download {variant.model_id}`)."
            ) from exc

    def triple(value: Any, default: tuple[float, float, float]) -> tuple[float, ...]:
        if value is None:
            return default
        vals = [float(value)] * 3 if isinstance(value, (int, float)) else list(map(float, value))
        return tuple(vals) if len(vals) == 3 else default

    return _Preprocessing(
        mean=triple(cfg.get("image_mean"), variant.mean),
        std=triple(cfg.get("image_std"), variant.std),
        normalize=bool(cfg.get("do_normalize", True)),
        pad=family == "zoedepth" and bool(cfg.get("do_pad", True)),
    )


def _zoedepth_pad(side: int) -> int:
    """ZoeDepth's border padding of a side (``int(sqrt(side / 2) * 3)``, as its processor)."""
    return int(math.sqrt(side / 2) * 3)


def _as_rgb(image: Any) -> np.ndarray:
    arr = np.asarray(image)
    if arr.ndim == 2:
        arr = np.repeat(arr[..., None], 3, axis=2)
    if arr.ndim != 3 or arr.shape[2] not in (1, 3, 4):
        raise ShapeError(
            f"image must be RGB of shape (H, W, 3), got shape {arr.shape}. Convert it with "
            "sddr_core.io.images before predicting."
        )
    if arr.shape[2] == 1:
        arr = np.repeat(arr, 3, axis=2)
    arr = arr[..., :3]
    if arr.dtype == np.uint8:
        arr = arr.astype(np.float32) / 255.0
    elif arr.dtype == np.uint16:
        arr = arr.astype(np.float32) / 65535.0
    elif not np.issubdtype(arr.dtype, np.floating):
        raise InputError(f"image must be float RGB in [0, 1], got dtype {arr.dtype}.")
    arr = arr.astype(np.float32, copy=False)
    if min(arr.shape[:2]) < 2:
        raise ShapeError(f"image is too small to predict depth from: {arr.shape[:2]}.")
    if not np.isfinite(arr).all():
        raise InputError("image contains NaN or infinite values; clean it before predicting.")
    return arr


class HFDepthPredictor:
    """A :class:`~sddr_core.predictors.base.DepthPredictor` over a transformers depth model.

    Args:
        variant: an sddr name from :data:`default_cfgs` or an :class:`HFVariant` (to run
            another checkpoint of a supported family).
        weights: a local folder with ``config.json`` and weights; ``None`` looks it up
            (:func:`resolve_weights`).
        device: ``None`` (CUDA if available, else CPU), a string or a ``torch.device``.
        download: allow downloading missing weights from the Hugging Face Hub.
        fp16: run under float16 autocast; ``None`` means on CUDA only. A float16 pass that
            gives NaN or inf is redone in float32 (and float16 is then turned off).

    Attributes:
        name, native_resolution, kind, size_multiple, model_id, licence, device,
        weights_path: as their names say.
        fixed_resolution: the only input side the model accepts (Depth Pro), else ``None``.
        max_resolution: upper bound sddr should use for the high-resolution pass (``None``:
            sddr's default).
        last_input_shape: ``(h, w)`` of the last tensor given to the model (with padding).

    Raises:
        SddrError: transformers is not installed.
        WeightsError: the weights cannot be found, downloaded or loaded (corrupt, truncated,
            or another architecture).
    """

    def __init__(
        self,
        variant: str | HFVariant,
        *,
        weights: str | os.PathLike[str] | None = None,
        device: str | torch.device | None = None,
        download: bool = True,
        fp16: bool | None = None,
    ) -> None:
        if isinstance(variant, str):
            if variant not in default_cfgs:
                raise UnknownNameError("predictor", variant, default_cfgs)
            variant = default_cfgs[variant]
        self.variant = variant
        self.name = variant.name
        self.model_id = variant.model_id
        self.licence = variant.licence
        self.kind: DepthKind = variant.kind
        self.native_resolution = int(variant.native_resolution)
        self.size_multiple = int(variant.size_multiple)
        self.fixed_resolution = variant.fixed_resolution
        self.max_resolution: int | None = variant.fixed_resolution
        self.last_input_shape: tuple[int, int] | None = None

        transformers = _import_transformers()
        import torch

        from sddr_core.device import resolve_device

        self.device = resolve_device(device)
        self.fp16 = self.device.type == "cuda" if fp16 is None else bool(fp16)
        self.weights_path = resolve_weights(self.model_id, weights, download=download)
        family = self._check_family()
        self.family = family
        self._pre = _read_preprocessing(self.weights_path, variant, family)
        self.model = self._load(transformers, torch)
        self._grid: list[tuple[int, int] | None] = [None]
        self._square_only = False
        self._lock = threading.Lock()
        if family == "dpt":
            self._square_only = not self._enable_any_size_dpt()
        if family == "depth_pro":
            cfg = self.model.config
            side = int(round(float(cfg.patch_size) / float(min(cfg.scaled_images_ratios))))
            self.fixed_resolution = self.max_resolution = side
            self.native_resolution = side

    # -- loading ---------------------------------------------------------------------------

    def _check_family(self) -> str:
        path = self.weights_path / "config.json"
        try:
            cfg = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise WeightsError(
                f"{path} cannot be read ({exc}): the weights folder is damaged. Delete it and "
                f"download the model again (`hf download {self.model_id} --force-download`)."
            ) from exc
        family = str(cfg.get("model_type", ""))
        if family != self.variant.family:
            fits = [v.name for v in default_cfgs.values() if v.family == family]
            hint = f" Use {' or '.join(repr(n) for n in fits)} for it." if fits else ""
            raise WeightsError(
                f"{self.weights_path} holds a {family or 'unknown'!r} model, but predictor "
                f"{self.name!r} needs a {self.variant.family!r} model ({self.model_id}).{hint}"
            )
        return family

    def _load(self, transformers: Any, torch: Any) -> Any:
        kwargs: dict[str, Any] = {"local_files_only": True, "output_loading_info": True}
        if _version_tuple(transformers.__version__) >= (4, 56):
            kwargs["dtype"] = torch.float32
        else:
            kwargs["torch_dtype"] = torch.float32
        try:
            model, info = transformers.AutoModelForDepthEstimation.from_pretrained(
                str(self.weights_path), **kwargs
            )
        except Exception as exc:  # SafetensorError, OSError, RuntimeError (size mismatch) ...
            raise WeightsError(
                f"cannot load the weights of {self.name!r} from {self.weights_path}: "
                f"{type(exc).__name__}: {exc}. The files are probably truncated or corrupt "
                f"(an interrupted download) or from another architecture: delete the folder "
                f"and download again (`hf download {self.model_id} --force-download`)."
            ) from exc
        # DPT checkpoints lack the first fusion layer's residual unit, which is never used.
        missing = [
            k
            for k in info.get("missing_keys", ())
            if "fusion_stage.layers.0.residual_layer1" not in k
        ]
        n_keys = max(len(model.state_dict()), 1)
        if missing and len(missing) > 0.05 * n_keys:
            raise WeightsError(
                f"the weights in {self.weights_path} do not match {self.name!r}: "
                f"{len(missing)} of {n_keys} tensors are missing (e.g. {missing[0]}). Use the "
                f"checkpoint {self.model_id} or the predictor name matching your checkpoint."
            )
        if missing:
            warnings.warn(
                f"{self.name}: {len(missing)} tensors missing from {self.weights_path} were "
                f"left randomly initialised: {missing[:5]}",
                stacklevel=3,
            )
        return model.eval().to(self.device)

    def _enable_any_size_dpt(self) -> bool:
        """Let transformers' DPT run on non-square inputs (see the module docstring)."""
        model = self.model
        stage = getattr(getattr(model, "neck", None), "reassemble_stage", None)
        if stage is None or "patch_height" not in inspect.signature(stage.forward).parameters:
            return False
        original = stage.forward
        grid = self._grid

        def forward(hidden_states: Any, patch_height: Any = None, patch_width: Any = None) -> Any:
            if patch_height is None and grid[0] is not None:
                patch_height, patch_width = grid[0]
            return original(hidden_states, patch_height, patch_width)

        stage.forward = forward
        embeddings = getattr(getattr(model, "dpt", None), "embeddings", None)
        if embeddings is not None:
            params = inspect.signature(embeddings.forward).parameters
            if "interpolate_pos_encoding" in params:
                embeddings.forward = functools.partial(
                    type(embeddings).forward, embeddings, interpolate_pos_encoding=True
                )
            elif getattr(model.config, "is_hybrid", False):
                return False
        return True

    # -- prediction ------------------------------------------------------------------------

    def input_shape(self, height: int, width: int, resolution: int) -> tuple[int, int]:
        """``(h, w)`` the model sees for an ``(height, width)`` image at ``resolution``.

        The long side is ``resolution`` (for ZoeDepth: of the padded image), both sides are
        rounded to :attr:`size_multiple` and the aspect ratio is kept, except for Depth Pro
        (always ``fixed_resolution`` square) and DPT on a transformers whose DPT cannot be
        made to accept non-square inputs (a square ``resolution``).
        """
        if self.fixed_resolution:
            return self.fixed_resolution, self.fixed_resolution
        if self._square_only:
            side = working_shape(1, 1, resolution, self.size_multiple)[0]
            return side, side
        if self._pre.pad:
            height += 2 * _zoedepth_pad(height)
            width += 2 * _zoedepth_pad(width)
        return working_shape(height, width, resolution, self.size_multiple)

    def predict(self, image: np.ndarray, resolution: int) -> np.ndarray:
        """Predict depth (or disparity, see :attr:`kind`) for ``image``.

        Args:
            image: float32 RGB ``(H, W, 3)`` in ``[0, 1]`` (uint8 is accepted too).
            resolution: long side at which to run the model (ignored by Depth Pro).

        Returns:
            float32 ``(h, w)`` map with the image's aspect ratio (any size; sddr resizes it).
        """
        x, pad, size = self._prepare(image, resolution)
        self.last_input_shape = (int(x.shape[-2]), int(x.shape[-1]))
        return self._finish(self._forward(x)[0], pad, size)

    def predict_batch(self, images: Sequence[np.ndarray], resolution: int) -> list[np.ndarray]:
        """:meth:`predict` for several images in one forward pass (a video's frames).

        Images whose model input has the same shape (at ``resolution``) share one batch; the
        maps equal :meth:`predict`'s up to float rounding.
        """
        prepared = [self._prepare(image, resolution) for image in images]
        groups: dict[tuple[int, int], list[int]] = {}
        for i, (x, _, _) in enumerate(prepared):
            groups.setdefault((int(x.shape[-2]), int(x.shape[-1])), []).append(i)
        out: list[np.ndarray | None] = [None] * len(prepared)
        import torch

        for shape, members in groups.items():
            self.last_input_shape = shape
            x = torch.cat([prepared[i][0] for i in members], dim=0)
            depths = self._forward(x)
            for i, depth in zip(members, depths, strict=True):
                out[i] = self._finish(depth, prepared[i][1], prepared[i][2])
        return [d for d in out if d is not None]

    def _prepare(
        self, image: np.ndarray, resolution: int
    ) -> tuple[torch.Tensor, tuple[int, int, int, int], tuple[int, int]]:
        """The model's input ``(1, 3, h, w)`` for ``image``, its padding (top, bottom, left,
        right) and the image's ``(height, width)``."""
        import torch

        rgb = _as_rgb(image)
        resolution = int(resolution)
        if resolution < 1:
            raise InputError(f"resolution must be a positive long side, got {resolution}.")
        height, width = rgb.shape[:2]
        shape = self.input_shape(height, width, resolution)
        pad = (0, 0, 0, 0)  # top, bottom, left, right
        if self._pre.pad:
            ph, pw = _zoedepth_pad(height), _zoedepth_pad(width)
            content = (
                max(1, round(shape[0] * height / (height + 2 * ph))),
                max(1, round(shape[1] * width / (width + 2 * pw))),
            )
            top, left = (shape[0] - content[0]) // 2, (shape[1] - content[1]) // 2
            pad = (top, shape[0] - content[0] - top, left, shape[1] - content[1] - left)
            resized = resize_map(rgb, content, kind="image")
        else:
            resized = resize_map(rgb, shape, kind="image")

        x = torch.from_numpy(np.ascontiguousarray(resized.transpose(2, 0, 1)))[None]
        x = x.to(self.device)
        if self._pre.normalize:
            mean = torch.tensor(self._pre.mean, device=self.device).view(1, 3, 1, 1)
            std = torch.tensor(self._pre.std, device=self.device).view(1, 3, 1, 1)
            x = (x - mean) / std
        if any(pad):
            top, bottom, left, right = pad
            mode = "reflect" if max(pad) < min(x.shape[-2:]) else "replicate"
            x = torch.nn.functional.pad(x, (left, right, top, bottom), mode=mode)
        return x, pad, (height, width)

    def _finish(
        self, depth: np.ndarray, pad: tuple[int, int, int, int], size: tuple[int, int]
    ) -> np.ndarray:
        """One output map of the model, its padding removed and (Depth Pro) un-squashed."""
        if any(pad):
            depth = _crop_padding(depth, pad, self.last_input_shape)
        if self.fixed_resolution:  # un-squash to the image's aspect ratio
            long_side = max(depth.shape)
            depth = resize_map(depth, working_shape(*size, long_side), kind="depth")
        return np.ascontiguousarray(depth, dtype=np.float32)

    def _forward(self, x: torch.Tensor) -> np.ndarray:
        import torch

        patch = int(getattr(self.model.config, "patch_size", 16) or 16)
        with self._lock:
            self._grid[0] = (x.shape[-2] // patch, x.shape[-1] // patch)
            try:
                out = self._run(x, self.fp16)
                if self.fp16 and not torch.isfinite(out).all():
                    log.warning("%s: float16 gave NaN/inf, redoing in float32", self.name)
                    self.fp16 = False
                    out = self._run(x, False)
            except torch.cuda.OutOfMemoryError as exc:
                raise PredictorError(
                    f"{self.name} ran out of GPU memory at {tuple(x.shape[-2:])}: lower the "
                    "resolution (or max_resolution), or use device='cpu'."
                ) from exc
            except (RuntimeError, ValueError, IndexError) as exc:
                raise PredictorError(
                    f"{self.name} failed on an input of {tuple(x.shape[-2:])}: "
                    f"{type(exc).__name__}: {exc}"
                ) from exc
            finally:
                self._grid[0] = None
        return out.detach().float().cpu().numpy()

    def _run(self, x: torch.Tensor, fp16: bool) -> torch.Tensor:
        import torch

        with (
            torch.inference_mode(),
            torch.autocast(device_type=self.device.type, dtype=torch.float16, enabled=fp16),
        ):
            outputs = self.model(pixel_values=x)
        depth = outputs.predicted_depth.float()  # (n, h, w), or (n, 1, h, w)
        while depth.ndim > 3:
            depth = depth[:, 0]
        if depth.ndim == 2:
            depth = depth[None]
        if self.family == "depth_pro":
            # canonical inverse depth -> depth, as post_process_depth_estimation does
            fov = getattr(outputs, "field_of_view", None)
            if fov is not None:
                fovs = fov.reshape(-1).tolist()
                scales = []
                for i in range(depth.shape[0]):
                    f = float(fovs[min(i, len(fovs) - 1)])
                    ok = 0.0 < f < 180.0 and math.isfinite(f)
                    scales.append(2.0 * math.tan(math.radians(f) / 2.0) if ok else 1.0)
                depth = depth * torch.tensor(scales, device=depth.device).view(-1, 1, 1)
            depth = 1.0 / torch.clamp(depth, min=1e-4, max=1e4)
        return depth

    def __repr__(self) -> str:
        return (
            f"HFDepthPredictor({self.name!r}, model_id={self.model_id!r}, "
            f"device={str(self.device)!r}, weights={str(self.weights_path)!r})"
        )


def _crop_padding(
    depth: np.ndarray, pad: tuple[int, int, int, int], input_shape: tuple[int, int]
) -> np.ndarray:
    """Remove padding given in input pixels ``(top, bottom, left, right)`` from an output map
    of any size (the pads are scaled by output size / ``input_shape``)."""
    sy, sx = depth.shape[0] / input_shape[0], depth.shape[1] / input_shape[1]
    top, bottom, left, right = pad
    t, b = round(top * sy), round(bottom * sy)
    lo, r = round(left * sx), round(right * sx)
    return depth[t : depth.shape[0] - b, lo : depth.shape[1] - r]


# ------------------------------------------------------------------------------------------
# Registration
# ------------------------------------------------------------------------------------------


def _make_factory(variant: HFVariant) -> Callable[..., HFDepthPredictor]:
    def factory(
        weights: str | None = None,
        device: str | torch.device | None = None,
        download: bool = True,
    ) -> HFDepthPredictor:
        return HFDepthPredictor(variant, weights=weights, device=device, download=download)

    factory.__name__ = f"create_{variant.name.replace('-', '_')}"
    factory.__doc__ = (
        f"Create the {variant.name!r} predictor ({variant.model_id}).\n\n"
        "Args:\n"
        "    weights: local folder with config.json and weights (None: look it up).\n"
        "    device: None (CUDA if available, else CPU), 'cpu', 'cuda', a torch.device.\n"
        "    download: allow downloading the weights from the Hugging Face Hub.\n"
    )
    return factory


def _spec(variant: HFVariant) -> PredictorSpec:
    return PredictorSpec(
        name=variant.name,
        factory=_make_factory(variant),
        kind=variant.kind,
        native_resolution=variant.native_resolution,
        licence=variant.licence,
        description=variant.description,
        weights_present=functools.partial(weights_present, variant.model_id),
        source=variant.model_id,
        extra={
            "model_id": variant.model_id,
            "size_multiple": variant.size_multiple,
            "fixed_resolution": variant.fixed_resolution,
            "family": variant.family,
            "requires": INSTALL_HINT,
        },
    )


@hookimpl
def sddr_register_predictors() -> list[PredictorSpec]:
    return [_spec(v) for v in default_cfgs.values()]
