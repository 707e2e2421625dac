"""The sddr nodes, written with ComfyUI's V3 schema API (``comfy_api.latest``).

Each node is a schema plus a few library calls: layout conversion and batch handling live in
:mod:`.core`, the refinement in ``sddr_core``. ``sddr_core`` is imported only when a node runs
or lists its options, so a ComfyUI without sddr still starts: the nodes show, the console
says how to install sddr, and running a node raises that same message.

Node ids are stable (saved workflows refer to them): ``SddrLoadDepthPredictor``,
``SddrLoadRefiner``, ``SddrRefineDepth``, ``SddrRefineExternalDepth``, ``SddrSaveDepth``,
``SddrColorizeDepth``.
"""

from __future__ import annotations

import contextlib
import logging
import os
from typing import Any

import comfy.model_management as mm
import comfy.model_patcher
import comfy.utils
import folder_paths
import torch
from comfy_api.latest import ComfyExtension, io, ui

from . import core, weights

__all__ = ["NODES", "SddrExtension", "setup"]

log = logging.getLogger(__name__)

CATEGORY = "sddr"
INSTALL_HINT = (
    "The sddr nodes need the 'sddr' Python package in ComfyUI's own Python environment. "
    "Install it with `python -m pip install -r custom_nodes/<this pack>/requirements.txt` "
    "using the python that runs ComfyUI (ComfyUI-Manager does this for you), then restart "
    "ComfyUI."
)
UNAVAILABLE = "(sddr is not installed)"
PREDICTOR_TOOLTIP = (
    "The depth model: whether it is downloaded, and what its licence allows (commercial "
    "use, non-commercial, research only)."
)
#: The predictor preselected in new Load Depth Predictor nodes (small, fast, Apache-2.0).
DEFAULT_PREDICTOR = "depth-anything-v2-small"
DEFAULT_REFINER = "default"
DEVICES = ("auto", "cpu")

Predictor = io.Custom("SDDR_PREDICTOR")
Refiner = io.Custom("SDDR_REFINER")
Depth = io.Custom("SDDR_DEPTH")

#: Images converted from the IMAGE batch at a time by Refine Depth (bounded memory).
CHUNK = 16
#: Loaded predictors and refiners, kept between runs and moved to the CPU when idle.
MODEL_CACHE = core.ModelCache(capacity=4)
_WEIGHT_PLUGIN = "comfyui-sddr-weight-dirs"


# ------------------------------------------------------------------------------------------
# sddr, imported lazily
# ------------------------------------------------------------------------------------------


def _sddr() -> Any:
    """``sddr_core``, or a RuntimeError that says how to install it."""
    try:
        import sddr_core
    except ImportError as exc:
        raise RuntimeError(f"{INSTALL_HINT} (import failed: {exc})") from exc
    return sddr_core


def _sddr_or_none() -> Any:
    try:
        return _sddr()
    except RuntimeError:
        return None


def _node_predictors() -> list[Any]:
    """Registered predictor specs a node can load by name (``simulated`` needs a ground-truth
    map, which no ComfyUI input gives)."""
    return [s for s in _sddr().list_predictors() if not s.needs]


def _predictor_options() -> tuple[list[str], str]:
    """Dropdown labels (name · weights on disk? · licence class) and the default label."""
    if _sddr_or_none() is None:
        return [UNAVAILABLE], UNAVAILABLE
    try:
        specs = _node_predictors()
        labels = []
        for s in specs:
            present = None if s.weights_present is None else bool(s.weights_present())
            labels.append(core.predictor_label(s.name, s.licence, present))
    except Exception as exc:  # a broken plugin must not hide the node
        log.error("sddr: listing predictors failed: %s", exc)
        return [UNAVAILABLE], UNAVAILABLE
    if not labels:
        return [UNAVAILABLE], UNAVAILABLE
    default = next((lb for lb in labels if core.name_from_label(lb) == DEFAULT_PREDICTOR), None)
    return labels, default or labels[0]


def _refiner_options() -> list[str]:
    """``default``, the registered refiners, then checkpoints found in ``models/sddr``."""
    sddr = _sddr_or_none()
    names = []
    if sddr is not None:
        try:
            names = [s.name for s in sddr.list_refiners()]
        except Exception as exc:
            log.error("sddr: listing refiners failed: %s", exc)
    try:
        files = [
            f for f in folder_paths.get_filename_list("sddr") if f.lower().endswith(".safetensors")
        ]
    except KeyError:  # folder not registered (setup() not run)
        files = []
    return [DEFAULT_REFINER, *names, *files]


def _colormaps() -> list[str]:
    try:
        from sddr_core.io.preview import COLORMAPS
    except ImportError:
        return ["turbo", "gray"]
    return ["turbo", *[c for c in COLORMAPS if c != "turbo"]]


# ------------------------------------------------------------------------------------------
# Setup: model folders and the weight-folder plugin
# ------------------------------------------------------------------------------------------


def _register_folder(name: str, extensions: set[str]) -> None:
    """Add ``models/<name>`` to ComfyUI's model folders, keeping any paths that
    extra_model_paths.yaml already gave for ``name``."""
    default = os.path.join(folder_paths.models_dir, name)
    table = folder_paths.folder_names_and_paths
    if name in table:
        paths, known = table[name]
        if default not in paths:
            paths.append(default)
        if known:  # an empty set means "any extension": keep it so
            table[name] = (paths, set(known) | extensions)
    else:
        table[name] = ([default], set(extensions))


def weight_folders() -> list[str]:
    """Folders offered to sddr for predictor weights and refiner checkpoints."""
    out: list[str] = []
    for name in ("depth", "sddr"):
        try:
            out.extend(folder_paths.get_folder_paths(name))
        except KeyError:
            continue
    return out


def setup() -> bool:
    """Register the ``depth`` and ``sddr`` model folders and sddr's weight-folder hook.

    Returns whether sddr is usable; when it is not, the console says how to install it.
    Safe to call more than once.
    """
    _register_folder("depth", set(folder_paths.supported_pt_extensions) | {".json"})
    _register_folder("sddr", {".safetensors"})
    try:
        sddr = _sddr()
        from sddr_core.plugins import get_plugin_manager, register_plugin

        from .hooks import WeightDirs

        if get_plugin_manager().get_plugin(_WEIGHT_PLUGIN) is None:
            register_plugin(WeightDirs(weight_folders), name=_WEIGHT_PLUGIN)
        log.info(
            "sddr %s (from %s): weights looked up in %s",
            sddr.__version__,
            os.path.dirname(os.path.abspath(sddr.__file__)),
            weight_folders(),
        )
        return True
    except Exception as exc:
        log.error("sddr nodes: %s", exc)
        return False


# ------------------------------------------------------------------------------------------
# Devices and running
# ------------------------------------------------------------------------------------------


def _device(choice: str) -> torch.device:
    if choice == "cpu":
        return torch.device("cpu")
    if choice == "auto":
        return mm.get_torch_device()
    raise ValueError(f"device must be one of {', '.join(DEVICES)}, got {choice!r}.")


def _unwrap(value: Any) -> core.LoadedModel:
    """A loader node's output, or any predictor/refiner object (on its own device)."""
    if isinstance(value, core.LoadedModel):
        return value
    return core.LoadedModel(value, None)


def _depth_dir() -> str:
    """``ComfyUI/models/depth``: where first-use downloads go."""
    return os.path.join(folder_paths.models_dir, "depth")


def _predictor(name: str, device: str = "auto", precision: str = "auto") -> core.LoadedModel:
    """A predictor by name, cached; a transformers model missing from every weight folder is
    first downloaded into ``models/depth/<folder>`` with the node's progress bar."""
    sddr = _sddr()
    dev = _device(device)
    key = ("predictor", name, str(dev))

    def create() -> Any:
        spec = next((s for s in _node_predictors() if s.name == name), None)
        model_id = spec.extra.get("model_id") if spec is not None else None
        if model_id and spec.weights_present is not None and not spec.weights_present():
            _load(
                lambda report: weights.download_weights(
                    name,
                    model_id,
                    _depth_dir(),
                    report=lambda done, total: report("download", done, total),
                    check_cancel=mm.throw_exception_if_processing_interrupted,
                )
            )
        return _load(lambda report: sddr.create_predictor(name, device=dev))

    return core.LoadedModel(MODEL_CACHE.get(key, create), dev, key, precision)


def _default_refiner(device: torch.device) -> Any:
    sddr = _sddr()
    key = ("refiner", DEFAULT_REFINER, str(device))
    return MODEL_CACHE.get(
        key, lambda: _load(lambda report: sddr.inference.as_refiner(None, device=device))
    )


def _refiner_or_default(refiner: Any, device: Any) -> core.LoadedModel:
    """A Load Refiner output, or the cached default refiner on ``device`` (ComfyUI's torch
    device when ``None``) when the input is not connected."""
    if refiner is not None:
        return _unwrap(refiner)
    dev = device or mm.get_torch_device()
    return core.LoadedModel(_default_refiner(dev), dev)


#: ComfyUI model patchers of the cached models' modules, by id of the module.
_PATCHERS: dict[int, Any] = {}


def _patcher(model: Any, device: Any) -> Any:
    """A ``ModelPatcher`` for the model's torch module (None when it has none): ComfyUI's
    memory management then loads it, unloads it when others need the memory, and frees it on
    "Unload models" / "Free model and node cache"."""
    module = core.torch_module(model)
    if module is None or device is None:
        return None
    live = {id(core.torch_module(m)) for m in MODEL_CACHE.models()}
    for k in [k for k in _PATCHERS if k not in live and k != id(module)]:
        del _PATCHERS[k]  # evicted from the cache: let ComfyUI forget it
    found = _PATCHERS.get(id(module))
    if found is None or found.load_device != torch.device(device):
        found = comfy.model_patcher.ModelPatcher(
            core.HeldModule(module),
            load_device=torch.device(device),
            offload_device=mm.unet_offload_device(),
        )
        _PATCHERS[id(module)] = found
    return found


def _run(models: list[core.LoadedModel], images: int, mode: str, work: Any) -> list[Any]:
    """Run ``work(before_image)`` with the models loaded by ComfyUI's memory management,
    their precision applied, ComfyUI's progress bar and Cancel wired to sddr's hooks."""
    from sddr_core.plugins import temporary_plugin

    from .hooks import RunHooks

    bar = comfy.utils.ProgressBar(images * 100)
    progress = core.StageProgress(images, mode, bar.update_absolute)
    hooks = RunHooks(progress, mm.throw_exception_if_processing_interrupted)

    def before_image(i: int) -> None:
        mm.throw_exception_if_processing_interrupted()
        progress.start_image(i)

    patchers = [p for m in models if (p := _patcher(m.model, m.device)) is not None]
    if patchers:
        # fully: sddr's modules are plain torch layers, not ComfyUI's partially loadable ones
        mm.load_models_gpu(patchers, force_full_load=True)
    autocast = contextlib.ExitStack()
    for m in models:
        on_cuda = m.device is not None and torch.device(m.device).type == "cuda"
        dtype = core.apply_precision(m.model, m.precision, on_cuda)
        if dtype is not None:
            autocast.enter_context(torch.autocast("cuda", dtype=dtype))
    try:
        with autocast, temporary_plugin(hooks):
            results = work(before_image)
    finally:
        mm.soft_empty_cache()
    progress.finish()
    return results


def _load(factory: Any) -> Any:
    """``factory(report)`` with sddr's progress (a weights download reports the stage
    ``download``) on the node's progress bar and Cancel checked."""
    from sddr_core.plugins import temporary_plugin

    from .hooks import RunHooks

    bar = comfy.utils.ProgressBar(100)
    progress = core.StageProgress(1, "load", bar.update_absolute)
    with temporary_plugin(RunHooks(progress, mm.throw_exception_if_processing_interrupted)):
        model = factory(progress.stage)
    progress.finish()
    return model


def _outputs(out: core.DepthOutputs, near: str = "white") -> io.NodeOutput:
    """The four outputs, the ControlNet image in the chosen convention, and the sizes sddr
    used as the node's UI text (shown under the node by ``web/sizes.js``)."""
    dev = mm.intermediate_device()
    depth = dict(out.depth, depth=out.depth["depth"].to(dev))
    sizes = core.sizes_text(out.depth["info"], tuple(out.depth["depth"].shape[1:3]))
    log.info("sddr: %s", sizes)
    hint = core.controlnet_near(out.controlnet, near).to(dev)
    return io.NodeOutput(
        hint, depth, out.edges.to(dev), out.omega.to(dev), ui=ui.PreviewText(sizes)
    )


def _near_input() -> io.Combo.Input:
    return io.Combo.Input(
        "controlnet_near",
        options=list(core.NEAR_OPTIONS),
        default="white",
        optional=True,
        tooltip="Which end of the controlnet depth image is near: white for depth "
        "ControlNets (SD 1.5, SDXL, Flux); black for models trained on plain depth.",
    )


def _depth_outputs() -> list[io.Output]:
    return [
        io.Image.Output(
            "controlnet_image",
            display_name="controlnet depth",
            tooltip="Refined depth for a depth ControlNet: near = white (or black, see "
            "controlnet near), normalised to 0..1, 3 channels, same size as the input.",
        ),
        Depth.Output(
            "depth",
            display_name="raw depth",
            tooltip="The refined depth as float32 [B, H, W], not quantised, in the "
            "predictor's convention (for Save depth and Colorize depth).",
        ),
        io.Image.Output(
            "edges",
            display_name="edges",
            tooltip="Edge map of the refined depth (white = strong depth edge).",
        ),
        io.Mask.Output(
            "omega",
            display_name="Ω mask",
            tooltip="Where the refiner trusted the high-resolution prediction (1) over the "
            "low-resolution one (0).",
        ),
    ]


def _device_input() -> io.Combo.Input:
    return io.Combo.Input(
        "device",
        options=list(DEVICES),
        default="auto",
        tooltip="auto: ComfyUI's device (the GPU when there is one); cpu: always the CPU.",
    )


def _precision_input() -> io.Combo.Input:
    return io.Combo.Input(
        "precision",
        options=list(core.PRECISIONS),
        default="auto",
        tooltip="On an NVIDIA GPU: fp16 or bf16 use less memory and run faster; auto picks "
        "for you. The CPU always uses fp32.",
    )


def _normalization_input() -> io.Combo.Input:
    return io.Combo.Input(
        "normalization",
        options=list(core.NORMALIZATIONS),
        default="per image",
        tooltip="How the ControlNet and edge images are scaled to 0..1: each image to its own "
        "range, or one range for the whole batch (video frames: no flicker).",
    )


def _refiner_input() -> io.Input:
    return Refiner.Input(
        "refiner",
        optional=True,
        tooltip="From Load refiner. Not connected: the best available refiner (the bundled "
        "network when its weights are present, else Poisson fusion).",
    )


# ------------------------------------------------------------------------------------------
# Nodes
# ------------------------------------------------------------------------------------------


class LoadDepthPredictor(io.ComfyNode):
    """Create one of sddr's registered depth predictors (cached between runs)."""

    @classmethod
    def define_schema(cls) -> io.Schema:
        labels, default = _predictor_options()
        return io.Schema(
            node_id="SddrLoadDepthPredictor",
            display_name="Load Depth Predictor (sddr)",
            category=CATEGORY,
            description="Loads a depth model for Refine Depth. Its files live in "
            "models/depth/<model folder>; a missing model downloads there on first use.",
            inputs=[
                io.Combo.Input(
                    "predictor",
                    options=labels,
                    default=default,
                    tooltip=PREDICTOR_TOOLTIP if default != UNAVAILABLE else INSTALL_HINT,
                ),
                _device_input(),
                _precision_input(),
            ],
            outputs=[
                Predictor.Output(
                    "predictor_out",
                    display_name="predictor",
                    tooltip="Connect to Refine depth.",
                )
            ],
        )

    @classmethod
    def validate_inputs(cls, predictor: str) -> bool | str:
        if _sddr_or_none() is None:
            return True  # execute says how to install sddr
        names = [s.name for s in _node_predictors()]
        if core.name_from_label(predictor) not in names:
            return f"Unknown depth model {predictor!r}; choose one of: {', '.join(names)}."
        return True

    @classmethod
    def execute(
        cls, predictor: str, device: str = "auto", precision: str = "auto"
    ) -> io.NodeOutput:
        return io.NodeOutput(_predictor(core.name_from_label(predictor), device, precision))


class LoadRefiner(io.ComfyNode):
    """Choose the fusion step: the bundled network, Poisson fusion or a checkpoint."""

    @classmethod
    def define_schema(cls) -> io.Schema:
        options = _refiner_options()
        return io.Schema(
            node_id="SddrLoadRefiner",
            display_name="Load Refiner (sddr)",
            category=CATEGORY,
            description="Loads the refiner that fuses the low- and high-resolution "
            "predictions. Checkpoints (.safetensors) go in models/sddr.",
            inputs=[
                io.Combo.Input(
                    "refiner",
                    options=options,
                    default=DEFAULT_REFINER,
                    tooltip="default: the bundled sddr network. poisson: training-free, no "
                    "weights. *.safetensors: a checkpoint from models/sddr.",
                ),
                _device_input(),
                _precision_input(),
            ],
            outputs=[
                Refiner.Output(
                    "refiner_out",
                    display_name="refiner",
                    tooltip="Connect to Refine depth or Refine external depth.",
                )
            ],
        )

    @classmethod
    def _checkpoint(cls, refiner: str) -> str | None:
        if not refiner.lower().endswith(".safetensors"):
            return None
        return folder_paths.get_full_path_or_raise("sddr", refiner)

    @classmethod
    def fingerprint_inputs(cls, refiner: str, device: str = "auto", precision: str = "auto") -> Any:
        is_file = refiner.lower().endswith(".safetensors")
        path = folder_paths.get_full_path("sddr", refiner) if is_file else None
        return (refiner, device, precision, os.path.getmtime(path) if path else None)

    @classmethod
    def execute(cls, refiner: str, device: str = "auto", precision: str = "auto") -> io.NodeOutput:
        sddr = _sddr()
        dev = _device(device)
        path = cls._checkpoint(refiner)
        name = None if refiner == DEFAULT_REFINER else (path or refiner)
        key = ("refiner", refiner, str(dev), os.path.getmtime(path) if path else None)
        model = MODEL_CACHE.get(
            key, lambda: _load(lambda report: sddr.inference.as_refiner(name, device=dev))
        )
        return io.NodeOutput(core.LoadedModel(model, dev, key, precision))


class RefineDepth(io.ComfyNode):
    """Image batch -> refined depth: ControlNet image, raw depth, edges, Ω."""

    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="SddrRefineDepth",
            display_name="Refine Depth (sddr)",
            category=CATEGORY,
            description="Runs the predictor at its native and at a high resolution and fuses "
            "the two (SDDR): sharp edges, consistent depth, output at the input's size.",
            inputs=[
                io.Image.Input("image", tooltip="The images to estimate depth for (a batch)."),
                io.Combo.Input(
                    "mode",
                    options=["one-stage", "two-stage"],
                    default="one-stage",
                    tooltip="one-stage: two predictor runs and one fusion. two-stage: then "
                    "refines overlapping windows coarse-to-fine for the sharpest edges "
                    "(several times slower).",
                ),
                _normalization_input(),
                io.Int.Input(
                    "low_resolution",
                    default=0,
                    min=0,
                    max=8192,
                    tooltip="Long side of the low-resolution pass in pixels; 0 = the "
                    "predictor's native resolution.",
                ),
                io.Int.Input(
                    "high_resolution",
                    default=0,
                    min=0,
                    max=8192,
                    tooltip="Long side of the high-resolution pass in pixels; 0 = chosen from "
                    "the image's detail (1.5 to 3 times native, at most 2048).",
                ),
                Predictor.Input(
                    "predictor",
                    optional=True,
                    tooltip=f"From Load Depth Predictor. Not connected: {DEFAULT_PREDICTOR}.",
                ),
                _refiner_input(),
                io.Boolean.Input(
                    "sequence",
                    default=False,
                    optional=True,
                    tooltip="On: the batch is video frames in order; depth is kept steady from "
                    "frame to frame (one scale, motion-compensated, scene cuts detected) and "
                    "normalised across the batch.",
                ),
                io.Int.Input(
                    "resolution",
                    default=0,
                    min=0,
                    max=8192,
                    step=core.RESOLUTION_STEP,
                    optional=True,
                    tooltip="Short side of the high-resolution pass, as in other depth nodes "
                    "(higher: sharper, slower); 0 = automatic. high resolution overrides it.",
                ),
                _near_input(),
                io.Boolean.Input(
                    "snap_edges",
                    default=True,
                    optional=True,
                    tooltip="On: the depth edges are snapped to the image's edges (crisper "
                    "silhouettes; costs about as much as the fusion on the CPU). Off: the "
                    "fused depth as it is.",
                ),
            ],
            outputs=_depth_outputs(),
        )

    @classmethod
    def validate_inputs(
        cls, low_resolution: int = 0, high_resolution: int = 0, resolution: int = 0
    ) -> bool | str:
        try:
            low, high = core.resolutions_for((1, 1), low_resolution, high_resolution, resolution)
        except ValueError as exc:
            return str(exc)
        values = (("low_resolution", low), ("high_resolution", high), ("resolution", resolution))
        for name, v in values:
            if v is not None and v > 8192:
                return f"{name} must be at most 8192 pixels, got {v}."
        return True

    @classmethod
    def execute(
        cls,
        image: torch.Tensor,
        mode: str = "one-stage",
        normalization: str = "per image",
        low_resolution: int = 0,
        high_resolution: int = 0,
        predictor: Any = None,
        refiner: Any = None,
        sequence: bool = False,
        resolution: int = 0,
        controlnet_near: str = "white",
        snap_edges: bool = True,
    ) -> io.NodeOutput:
        """The batch is converted and refined ``CHUNK`` images at a time into preallocated
        outputs (bounded memory for long batches, see :mod:`.sequence`)."""
        from .sequence import refine_image_batch, refine_sequence_batch

        _sddr()
        if not isinstance(image, torch.Tensor) or image.ndim != 4:
            raise ValueError(
                "image must be a ComfyUI IMAGE batch [B, H, W, C], got "
                f"{getattr(image, 'shape', type(image).__name__)}."
            )
        size = (int(image.shape[1]), int(image.shape[2]))
        low, high = core.resolutions_for(size, low_resolution, high_resolution, resolution)
        pred = _predictor(DEFAULT_PREDICTOR) if predictor is None else _unwrap(predictor)
        ref = _refiner_or_default(refiner, pred.device)
        options = dict(
            refiner=ref.model,
            mode=mode,
            device=pred.device,
            low_resolution=low,
            high_resolution=high,
            chunk=CHUNK,
            snap=bool(snap_edges),
        )

        def work(before_image: Any) -> core.DepthOutputs:
            if sequence:  # one temporally stable video, normalised across the batch
                return refine_sequence_batch(
                    image, pred.model, before_image=before_image, **options
                )
            return refine_image_batch(
                image,
                pred.model,
                normalization=normalization,
                before_image=before_image,
                **options,
            )

        out = _run([pred, ref], int(image.shape[0]), mode, work)
        return _outputs(out, controlnet_near)


class RefineExternalDepth(io.ComfyNode):
    """Fuse depth maps made by other depth nodes at a low and a high resolution."""

    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="SddrRefineExternalDepth",
            display_name="Refine External Depth (sddr)",
            category=CATEGORY,
            description="Keeps the depth nodes you already use: run one at its native "
            "resolution (e.g. 512) and again at a high one (e.g. 1536), and this node fuses the "
            "two into one sharp, consistent map.",
            inputs=[
                io.Image.Input(
                    "low_depth",
                    tooltip="Depth image from a depth node run at its native resolution "
                    "(globally consistent, blurry).",
                ),
                io.Image.Input(
                    "high_depth",
                    tooltip="Depth image from the same node run at a high resolution (sharp, "
                    "locally inconsistent).",
                ),
                io.Combo.Input(
                    "kind",
                    options=list(core.DEPTH_KINDS),
                    default="disparity",
                    tooltip="What the inputs' values mean: disparity = near is white (Depth "
                    "Anything, MiDaS, ControlNet preprocessors); depth = near is black.",
                ),
                _normalization_input(),
                _refiner_input(),
                io.Image.Input(
                    "reference_image",
                    optional=True,
                    tooltip="Optional: the photo the depth was made from (one, or one per "
                    "pair). The outputs take its size and their edges snap to its edges; "
                    "without it, the larger input's size and no snapping.",
                ),
                _near_input(),
            ],
            outputs=_depth_outputs(),
        )

    @classmethod
    def execute(
        cls,
        low_depth: torch.Tensor,
        high_depth: torch.Tensor,
        kind: str = "disparity",
        normalization: str = "per image",
        refiner: Any = None,
        reference_image: torch.Tensor | None = None,
        controlnet_near: str = "white",
    ) -> io.NodeOutput:
        _sddr()
        lows = core.map_batch_to_arrays(low_depth, "low_depth")
        highs = core.map_batch_to_arrays(high_depth, "high_depth")
        n = len(core.pair_batches(lows, highs))
        size = None if reference_image is None else tuple(reference_image.shape[1:3])
        photos = None if reference_image is None else core.image_batch_to_arrays(reference_image)
        ref = _refiner_or_default(refiner, None)

        def work(before_image: Any) -> list[Any]:
            return core.refine_external_batch(
                lows,
                highs,
                kind=kind,
                refiner=ref.model,
                device=ref.device,
                size=size,
                before_image=before_image,
                images=photos,
            )

        results = _run([ref], n, "fuse", work)
        return _outputs(core.outputs_from_results(results, normalization), controlnet_near)


class SaveDepth(io.ComfyNode):
    """Write raw depth to the output folder at full precision."""

    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="SddrSaveDepth",
            display_name="Save Depth (sddr)",
            category=CATEGORY,
            description="Saves the raw refined depth to ComfyUI's output folder as a 16-bit "
            "PNG, an OpenEXR or a NumPy file (ComfyUI's Save Image is 8-bit). Never "
            "overwrites: a counter is added to the name.",
            is_output_node=True,
            inputs=[
                Depth.Input("depth", tooltip="The raw depth output of a refine node."),
                io.String.Input(
                    "filename_prefix",
                    default="sddr/depth",
                    tooltip="File name prefix, may include a sub-folder of the output folder "
                    "and %date% style fields as in Save Image; _00001_ etc. is appended.",
                ),
                io.Combo.Input(
                    "format",
                    options=list(core.SAVE_FORMATS),
                    default="png16",
                    tooltip="png16: 16-bit gray PNG (the value range is kept in the file; "
                    "sddr reads it back exactly to 1/65535 of the range). exr: OpenEXR "
                    "float32. npy: NumPy float32.",
                ),
            ],
            outputs=[],
        )

    @classmethod
    def execute(
        cls, depth: Any, filename_prefix: str = "sddr/depth", format: str = "png16"
    ) -> io.NodeOutput:
        _sddr()
        maps, _, _ = core.check_depth(depth)
        h, w = maps.shape[1:3]
        folder, filename, counter, subfolder, _ = folder_paths.get_save_image_path(
            filename_prefix, folder_paths.get_output_directory(), w, h
        )
        paths = core.save_depth_batch(depth, folder, filename, counter, format)
        results = [ui.SavedResult(p.name, subfolder, io.FolderType.output) for p in paths]
        shown: dict[str, Any] = {"depth_files": results}
        if format == "png16":
            shown["images"] = results  # browsers show 16-bit PNGs
        return io.NodeOutput(ui=shown)


class ColorizeDepth(io.ComfyNode):
    """A colour-mapped preview of raw depth."""

    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="SddrColorizeDepth",
            display_name="Colorize Depth (sddr)",
            category=CATEGORY,
            description="A colour-mapped preview of the raw depth, for looking at (use the "
            "controlnet depth output, not this, for ControlNet).",
            is_output_node=True,
            inputs=[
                Depth.Input("depth", tooltip="The raw depth output of a refine node."),
                io.Combo.Input(
                    "colormap",
                    options=_colormaps(),
                    default="turbo",
                    tooltip="Colour map (OpenCV's maps, or gray).",
                ),
                io.Boolean.Input(
                    "near_is_bright",
                    default=True,
                    tooltip="Put near pixels at the bright/warm end of the colour map.",
                ),
            ],
            outputs=[
                io.Image.Output(
                    "preview",
                    display_name="image",
                    tooltip="The coloured depth (each image scaled to its 1st-99th percentile).",
                )
            ],
        )

    @classmethod
    def execute(
        cls, depth: Any, colormap: str = "turbo", near_is_bright: bool = True
    ) -> io.NodeOutput:
        _sddr()
        image = core.colorize_batch(depth, colormap, near_is_bright).to(mm.intermediate_device())
        return io.NodeOutput(image, ui=ui.PreviewImage(image, cls=cls))


NODES: list[type[io.ComfyNode]] = [
    LoadDepthPredictor,
    LoadRefiner,
    RefineDepth,
    RefineExternalDepth,
    SaveDepth,
    ColorizeDepth,
]


class SddrExtension(ComfyExtension):
    async def get_node_list(self) -> list[type[io.ComfyNode]]:
        return list(NODES)
