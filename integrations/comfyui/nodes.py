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

import logging
import os
from typing import Any

import comfy.model_management as mm
import comfy.utils
import folder_paths
import torch
from comfy_api.latest import ComfyExtension, io, ui

from . import core

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
#: The predictor preselected in new Load Depth Predictor nodes (small, fast, Apache-2.0).
DEFAULT_PREDICTOR = "depth-anything-v2-small"
DEFAULT_REFINER = "default"
DEVICES = ("auto", "cpu")

Predictor = io.Custom("SDDR_PREDICTOR")
Refiner = io.Custom("SDDR_REFINER")
Depth = io.Custom("SDDR_DEPTH")

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


def _predictor_options() -> tuple[list[str], str]:
    """Registered predictor names and a tooltip describing them."""
    sddr = _sddr_or_none()
    if sddr is None:
        return [UNAVAILABLE], INSTALL_HINT
    try:
        # Predictors that need more than a name (``simulated`` needs a ground-truth map, which
        # no ComfyUI input provides) cannot be loaded by a node.
        specs = [s for s in sddr.list_predictors() if not s.needs]
    except Exception as exc:  # a broken plugin must not hide the node
        log.error("sddr: listing predictors failed: %s", exc)
        return [UNAVAILABLE], f"Listing sddr predictors failed: {exc}"
    lines = [
        f"{s.name}: {s.description} (native {s.native_resolution} px, {s.kind}, "
        f"licence {s.licence})"
        for s in specs
    ]
    return [s.name for s in specs] or [UNAVAILABLE], "\n".join(lines)


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
        log.info("sddr %s: weights looked up in %s", sddr.__version__, weight_folders())
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


def _unwrap(value: Any) -> tuple[Any, Any]:
    """(model, device) from a loader node's output or from any predictor/refiner object."""
    if isinstance(value, core.LoadedModel):
        return value.model, value.device
    return value, None


def _default_refiner(device: torch.device) -> Any:
    sddr = _sddr()
    key = ("refiner", DEFAULT_REFINER, str(device))
    return MODEL_CACHE.get(key, lambda: sddr.inference.as_refiner(None, device=device))


def _refiner_or_default(refiner: Any, device: Any) -> tuple[Any, Any]:
    """(refiner, device) from a Load Refiner output, or the cached default refiner on
    ``device`` (ComfyUI's torch device when ``None``) when the input is not connected."""
    if refiner is not None:
        return _unwrap(refiner)
    dev = device or mm.get_torch_device()
    return _default_refiner(dev), dev


def _release(*models: Any) -> None:
    """After a run: move the models off the GPU and give its cache back."""
    offload = mm.unet_offload_device()
    for m in models:
        try:
            core.move_model(m, offload)
        except Exception as exc:  # never hide the run's own result or error
            log.warning("sddr: could not move %r to %s: %s", m, offload, exc)
    mm.soft_empty_cache()


def _run(models: list[tuple[Any, Any]], images: int, mode: str, work: Any) -> list[Any]:
    """Run ``work(before_image)`` with the models on their devices, ComfyUI's progress bar and
    Cancel wired to sddr's hooks, and the models released afterwards."""
    from sddr_core.plugins import temporary_plugin

    from .hooks import RunHooks

    bar = comfy.utils.ProgressBar(images * 100)
    progress = core.StageProgress(images, mode, bar.update_absolute)
    hooks = RunHooks(progress, mm.throw_exception_if_processing_interrupted)

    def before_image(i: int) -> None:
        mm.throw_exception_if_processing_interrupted()
        progress.start_image(i)

    try:
        for model, device in models:
            if device is not None:
                core.move_model(model, device)
        with temporary_plugin(hooks):
            results = work(before_image)
    finally:
        _release(*(m for m, _ in models))
    progress.finish()
    return results


def _load(factory: Any) -> Any:
    """Create a model with sddr's progress (a weights download reports the stage
    ``download``) on the node's progress bar and Cancel checked."""
    from sddr_core.plugins import temporary_plugin

    from .hooks import RunHooks

    bar = comfy.utils.ProgressBar(100)
    progress = core.StageProgress(1, "load", bar.update_absolute)
    with temporary_plugin(RunHooks(progress, mm.throw_exception_if_processing_interrupted)):
        model = factory()
    progress.finish()
    return model


def _outputs(out: core.DepthOutputs) -> io.NodeOutput:
    dev = mm.intermediate_device()
    depth = dict(out.depth, depth=out.depth["depth"].to(dev))
    return io.NodeOutput(out.controlnet.to(dev), depth, out.edges.to(dev), out.omega.to(dev))


def _depth_outputs() -> list[io.Output]:
    return [
        io.Image.Output(
            "controlnet_image",
            display_name="controlnet depth",
            tooltip="Refined depth for a depth ControlNet: near = white, normalised to 0..1, "
            "3 channels, same size as the input.",
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
        names, listing = _predictor_options()
        return io.Schema(
            node_id="SddrLoadDepthPredictor",
            display_name="Load Depth Predictor (sddr)",
            category=CATEGORY,
            description="Loads a monocular depth predictor registered with sddr. Weights are "
            "looked up in models/depth/<model folder> (and the folders extra_model_paths.yaml "
            "adds for 'depth'), else downloaded on first use.",
            inputs=[
                io.Combo.Input(
                    "predictor",
                    options=names,
                    default=DEFAULT_PREDICTOR if DEFAULT_PREDICTOR in names else names[0],
                    tooltip="The depth model.\n" + listing,
                ),
                io.Combo.Input(
                    "device",
                    options=list(DEVICES),
                    default="auto",
                    tooltip="auto: ComfyUI's device (the GPU when there is one); cpu: always "
                    "on the CPU.",
                ),
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
    def execute(cls, predictor: str, device: str = "auto") -> io.NodeOutput:
        sddr = _sddr()
        dev = _device(device)
        key = ("predictor", predictor, str(dev))
        model = MODEL_CACHE.get(
            key, lambda: _load(lambda: sddr.create_predictor(predictor, device=dev))
        )
        return io.NodeOutput(core.LoadedModel(model, dev, key))


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
                    tooltip="default: the bundled sddr network when its weights are present, "
                    "else Poisson fusion. poisson: training-free, no weights. *.safetensors: "
                    "a checkpoint from models/sddr.",
                ),
                io.Combo.Input(
                    "device",
                    options=list(DEVICES),
                    default="auto",
                    tooltip="auto: ComfyUI's device; cpu: always on the CPU (Poisson fusion "
                    "always runs on the CPU).",
                ),
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
    def fingerprint_inputs(cls, refiner: str, device: str = "auto") -> Any:
        is_file = refiner.lower().endswith(".safetensors")
        path = folder_paths.get_full_path("sddr", refiner) if is_file else None
        return (refiner, device, os.path.getmtime(path) if path else None)

    @classmethod
    def execute(cls, refiner: str, device: str = "auto") -> io.NodeOutput:
        sddr = _sddr()
        dev = _device(device)
        path = cls._checkpoint(refiner)
        name = None if refiner == DEFAULT_REFINER else (path or refiner)
        key = ("refiner", refiner, str(dev), os.path.getmtime(path) if path else None)
        model = MODEL_CACHE.get(
            key, lambda: _load(lambda: sddr.inference.as_refiner(name, device=dev))
        )
        return io.NodeOutput(core.LoadedModel(model, dev, key))


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
                Predictor.Input("predictor", tooltip="From Load depth predictor."),
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
                _refiner_input(),
            ],
            outputs=_depth_outputs(),
        )

    @classmethod
    def validate_inputs(cls, low_resolution: int = 0, high_resolution: int = 0) -> bool | str:
        try:
            low = core.resolution_or_none(low_resolution, "low_resolution")
            high = core.resolution_or_none(high_resolution, "high_resolution")
        except ValueError as exc:
            return str(exc)
        for name, v in (("low_resolution", low), ("high_resolution", high)):
            if v is not None and v > 8192:
                return f"{name} must be at most 8192 pixels, got {v}."
        return True

    @classmethod
    def execute(
        cls,
        image: torch.Tensor,
        predictor: Any,
        mode: str = "one-stage",
        normalization: str = "per image",
        low_resolution: int = 0,
        high_resolution: int = 0,
        refiner: Any = None,
    ) -> io.NodeOutput:
        _sddr()
        images = core.image_batch_to_arrays(image)
        low = core.resolution_or_none(low_resolution, "low_resolution")
        high = core.resolution_or_none(high_resolution, "high_resolution")
        pred, pred_dev = _unwrap(predictor)
        ref, ref_dev = _refiner_or_default(refiner, pred_dev)

        def work(before_image: Any) -> list[Any]:
            return core.refine_batch(
                images,
                pred,
                refiner=ref,
                mode=mode,
                device=pred_dev,
                low_resolution=low,
                high_resolution=high,
                before_image=before_image,
            )

        results = _run([(pred, pred_dev), (ref, ref_dev)], len(images), mode, work)
        return _outputs(core.outputs_from_results(results, normalization))


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
                    tooltip="Optional: the outputs take this image's size (else the larger "
                    "input's size).",
                ),
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
    ) -> io.NodeOutput:
        _sddr()
        lows = core.map_batch_to_arrays(low_depth, "low_depth")
        highs = core.map_batch_to_arrays(high_depth, "high_depth")
        n = len(core.pair_batches(lows, highs))
        size = None if reference_image is None else tuple(reference_image.shape[1:3])
        ref, ref_dev = _refiner_or_default(refiner, None)

        def work(before_image: Any) -> list[Any]:
            return core.refine_external_batch(
                lows,
                highs,
                kind=kind,
                refiner=ref,
                device=ref_dev,
                size=size,
                before_image=before_image,
            )

        results = _run([(ref, ref_dev)], n, "fuse", work)
        return _outputs(core.outputs_from_results(results, normalization))


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
