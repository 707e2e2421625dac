"""The ComfyUI-free half of the sddr node pack: tensor layouts, batch loops, normalisation,
progress arithmetic, the model cache and file naming.

Nothing here imports ComfyUI, and ``sddr_core`` is imported inside the functions that need it,
so this module imports (and is unit-tested) without either. The node classes in
:mod:`.nodes` are thin wrappers around these functions.

Layouts (ComfyUI's): ``IMAGE`` is float32 ``[B, H, W, C]`` in ``[0, 1]`` (C = 3, sometimes 1
or 4), ``MASK`` is float32 ``[B, H, W]``. The pack's own ``SDDR_DEPTH`` value is a dict like
ComfyUI's ``LATENT``::

    {"depth": float32 tensor [B, H, W] (CPU, not quantised, in the convention of "kind"),
     "kind": "disparity" (near = large) or "depth" (near = small),
     "info": [dict per image: predictor, refiner, mode, ...]}
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

__all__ = [
    "DEPTH_KINDS",
    "LABEL_SEPARATOR",
    "NEAR_OPTIONS",
    "NORMALIZATIONS",
    "PRECISIONS",
    "RESOLUTION_STEP",
    "SAVE_FORMATS",
    "DepthOutputs",
    "HeldModule",
    "LoadedModel",
    "ModelCache",
    "StageProgress",
    "apply_precision",
    "check_depth",
    "colorize_batch",
    "controlnet_near",
    "depth_value",
    "image_batch_to_arrays",
    "iter_refined",
    "licence_class",
    "map_batch_to_arrays",
    "maps_to_image",
    "move_model",
    "name_from_label",
    "normalize_batch",
    "outputs_from_results",
    "pair_batches",
    "predictor_label",
    "refine_batch",
    "refine_external_batch",
    "resolution_or_none",
    "resolutions_for",
    "save_depth_batch",
    "sizes_text",
    "torch_module",
]

#: How the ControlNet image (and the edge image) of a batch are scaled to ``[0, 1]``.
NORMALIZATIONS: tuple[str, ...] = ("per image", "across batch")
#: Depth conventions of externally produced depth maps.
DEPTH_KINDS: tuple[str, ...] = ("disparity", "depth")
#: Which end of the ControlNet image is near: most depth ControlNets expect white.
NEAR_OPTIONS: tuple[str, ...] = ("white", "black")
#: Step of the short-side ``resolution`` widget (as in the common depth preprocessor nodes).
RESOLUTION_STEP = 64
#: Save depth formats: combo value -> file extension.
SAVE_FORMATS: dict[str, str] = {"png16": ".png", "exr": ".exr", "npy": ".npy"}


# ------------------------------------------------------------------------------------------
# Layouts
# ------------------------------------------------------------------------------------------


def _as_bhwc(image: Any, name: str) -> torch.Tensor:
    if not isinstance(image, torch.Tensor):
        image = torch.as_tensor(np.asarray(image))
    if image.ndim == 3:  # one image [H, W, C] or a [B, H, W] gray batch: ComfyUI gives 4-D
        image = image[..., None] if image.shape[-1] not in (1, 3, 4) else image[None]
    if image.ndim != 4 or image.shape[-1] not in (1, 3, 4):
        raise ValueError(
            f"{name} must be a ComfyUI IMAGE tensor [B, H, W, C] with C = 1, 3 or 4, got shape "
            f"{tuple(image.shape)}."
        )
    if image.shape[0] == 0 or min(image.shape[1:3]) < 1:
        raise ValueError(f"{name} is empty (shape {tuple(image.shape)}).")
    return image


def image_batch_to_arrays(image: Any) -> list[np.ndarray]:
    """A ComfyUI ``IMAGE`` batch as RGB arrays for :func:`sddr_core.refine`.

    Args:
        image: float tensor ``[B, H, W, C]`` in ``[0, 1]`` with C = 3, 4 (alpha dropped) or 1
            (gray, repeated); a single ``[H, W, C]`` image is taken as a batch of one.

    Returns:
        B float32 numpy arrays ``(H, W, 3)`` in ``[0, 1]``.
    """
    t = _as_bhwc(image, "image").detach().to("cpu", torch.float32)
    if t.shape[-1] == 4:
        t = t[..., :3]
    elif t.shape[-1] == 1:
        t = t.expand(-1, -1, -1, 3)
    arr = np.clip(t.numpy(), 0.0, 1.0)
    return [np.ascontiguousarray(a) for a in arr]


def map_batch_to_arrays(image: Any, name: str = "depth") -> list[np.ndarray]:
    """A batch of depth maps delivered as an ``IMAGE`` (or a ``MASK``) as ``(H, W)`` arrays.

    Depth nodes return gray images with the same value in every channel; the colour channels
    are averaged (an alpha channel is ignored).

    Args:
        image: float tensor ``[B, H, W, C]`` (C = 1, 3 or 4), ``[H, W, C]`` or ``[B, H, W]``.
        name: used in error messages.

    Returns:
        B float32 numpy arrays ``(H, W)``.
    """
    if isinstance(image, torch.Tensor) and image.ndim == 3 and image.shape[-1] not in (1, 3, 4):
        t = image[..., None]  # MASK [B, H, W]
    else:
        t = _as_bhwc(image, name)
    t = t.detach().to("cpu", torch.float32)
    if t.shape[-1] == 4:
        t = t[..., :3]
    arr = t.mean(dim=-1).numpy()
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} has NaN or infinite values; fill them before refining.")
    return [np.ascontiguousarray(a) for a in arr]


def maps_to_image(maps: np.ndarray) -> torch.Tensor:
    """Stacked ``(B, H, W)`` maps in ``[0, 1]`` as a gray ComfyUI ``IMAGE`` ``[B, H, W, 3]``."""
    t = torch.from_numpy(np.ascontiguousarray(maps, dtype=np.float32))
    return t[..., None].repeat(1, 1, 1, 3).contiguous()


def pair_batches(lows: list[Any], highs: list[Any]) -> list[tuple[Any, Any]]:
    """Pair two batches item by item; a batch of one is repeated to match the other."""
    if len(lows) != len(highs) and 1 not in (len(lows), len(highs)):
        raise ValueError(
            f"low_depth has {len(lows)} images and high_depth {len(highs)}: give batches of "
            "the same size (or a single map for one of them)."
        )
    n = max(len(lows), len(highs))
    return [(lows[min(i, len(lows) - 1)], highs[min(i, len(highs) - 1)]) for i in range(n)]


def resolution_or_none(value: int | None, name: str) -> int | None:
    """A resolution widget's value for sddr: 0 (or None) means automatic."""
    if value is None or int(value) == 0:
        return None
    if int(value) < 16:
        raise ValueError(f"{name} must be 0 (automatic) or at least 16 pixels, got {value}.")
    return int(value)


def resolutions_for(
    size: tuple[int, int],
    low_resolution: int | None = 0,
    high_resolution: int | None = 0,
    resolution: int | None = 0,
) -> tuple[int | None, int | None]:
    """The long sides of the low- and high-resolution passes for an image of ``size``
    ``(H, W)``, from the node's widgets.

    ``resolution`` is the short side of the high-resolution pass (like the ``resolution`` of
    the common depth preprocessor nodes: step 64, 0 = automatic); it is turned into the long
    side at the image's aspect ratio. ``high_resolution`` (long side) overrides it when not 0.

    Returns:
        ``(low, high)`` for :func:`sddr_core.refine`, None meaning automatic.
    """
    low = resolution_or_none(low_resolution, "low_resolution")
    high = resolution_or_none(high_resolution, "high_resolution")
    short = resolution_or_none(resolution, "resolution")
    if short is not None and short % RESOLUTION_STEP:
        raise ValueError(
            f"resolution must be 0 (automatic) or a multiple of {RESOLUTION_STEP} pixels, "
            f"got {short}."
        )
    if high is None and short is not None:
        h, w = int(size[0]), int(size[1])
        high = max(round(short * max(h, w) / max(min(h, w), 1)), short)
    return low, high


def _pass_size(long_side: int, size: tuple[int, int]) -> str:
    """``W×H`` of a pass whose long side is ``long_side``, at the aspect ratio of ``size``."""
    h, w = int(size[0]), int(size[1])
    scale = long_side / max(h, w)
    return f"{max(round(w * scale), 1)}×{max(round(h * scale), 1)}"


def sizes_text(info: Sequence[dict[str, Any]], size: tuple[int, int]) -> str:
    """What a refine node shows under itself: the sizes sddr actually used.

    Args:
        info: the per-image ``info`` of the results (``low_resolution`` and
            ``high_resolution`` are the long sides sddr used; missing for fused external maps).
        size: ``(H, W)`` of the outputs.
    """
    h, w = int(size[0]), int(size[1])
    parts = []
    for key, label in (("low_resolution", "low pass"), ("high_resolution", "high pass")):
        longs = sorted({int(i[key]) for i in info if isinstance(i.get(key), (int, float))})
        if not longs:
            continue
        if len(longs) == 1:
            parts.append(f"{label} {_pass_size(longs[0], (h, w))}")
        else:  # adaptive, per image: the range
            lo, hi = _pass_size(longs[0], (h, w)), _pass_size(longs[-1], (h, w))
            parts.append(f"{label} {lo} to {hi} ({len(longs)} sizes)")
    n = len(info)
    parts.append(f"output {w}×{h}" + (f" × {n} images" if n > 1 else ""))
    return " · ".join(parts)


def controlnet_near(image: torch.Tensor, near: str) -> torch.Tensor:
    """The ControlNet image with near ``"white"`` (as made: normalised disparity, what depth
    ControlNets expect) or ``"black"`` (inverted, for models trained on depth)."""
    if near not in NEAR_OPTIONS:
        raise ValueError(f"near must be one of {', '.join(NEAR_OPTIONS)}, got {near!r}.")
    return image if near == "white" else 1.0 - image


# ------------------------------------------------------------------------------------------
# Normalisation and outputs
# ------------------------------------------------------------------------------------------


def normalize_batch(maps: np.ndarray, normalization: str) -> np.ndarray:
    """Scale a ``(B, H, W)`` stack to ``[0, 1]`` per image or with one range for the batch.

    ``"across batch"`` keeps the relation between frames (no flicker in videos); ``"per
    image"`` stretches each map to the full range. Uses :func:`sddr_core.ops.align.
    normalize_minmax`.
    """
    from sddr_core.ops.align import normalize_minmax

    if normalization not in NORMALIZATIONS:
        raise ValueError(
            f"normalization must be one of {', '.join(NORMALIZATIONS)}, got {normalization!r}."
        )
    maps = np.asarray(maps, dtype=np.float32)
    if maps.ndim != 3:
        raise ValueError(f"expected a (B, H, W) stack of maps, got shape {maps.shape}.")
    if normalization == "across batch":
        return normalize_minmax(maps)
    return np.stack([normalize_minmax(m) for m in maps])


@dataclass
class DepthOutputs:
    """What the refine nodes return.

    Attributes:
        controlnet: IMAGE ``[B, H, W, 3]`` in ``[0, 1]``, near = white (normalised disparity).
        depth: the ``SDDR_DEPTH`` dict (raw float maps, see the module docstring).
        edges: IMAGE ``[B, H, W, 3]`` in ``[0, 1]``, the depth edge map (white = strong edge).
        omega: MASK ``[B, H, W]`` in ``[0, 1]``, where the refiner trusted the high-resolution
            prediction (zeros when the refiner has no such map).
    """

    controlnet: torch.Tensor
    depth: dict[str, Any]
    edges: torch.Tensor
    omega: torch.Tensor


def _plain_info(info: dict[str, Any]) -> dict[str, str | int | float]:
    return {k: v for k, v in info.items() if isinstance(v, (str, int, float))}


def depth_value(maps: np.ndarray, kind: str, info: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Build an ``SDDR_DEPTH`` value from a ``(B, H, W)`` stack."""
    if kind not in DEPTH_KINDS:
        raise ValueError(f"kind must be one of {', '.join(DEPTH_KINDS)}, got {kind!r}.")
    depth = torch.from_numpy(np.ascontiguousarray(maps, dtype=np.float32))
    return {"depth": depth, "kind": kind, "info": [_plain_info(i) for i in info]}


def check_depth(value: Any) -> tuple[torch.Tensor, str, list[dict[str, Any]]]:
    """Unpack an ``SDDR_DEPTH`` value: ``(depth [B, H, W] float32 CPU, kind, info list)``.

    A bare ``[B, H, W]`` (or ``[H, W]``) float tensor is accepted as disparity.
    """
    if isinstance(value, dict) and "depth" in value:
        depth, kind, info = value["depth"], value.get("kind", "disparity"), value.get("info")
    elif isinstance(value, torch.Tensor):
        depth, kind, info = value, "disparity", None
    else:
        raise ValueError(
            f"depth must be the SDDR_DEPTH output of an sddr refine node, got "
            f"{type(value).__name__}."
        )
    depth = torch.as_tensor(depth).detach().to("cpu", torch.float32)
    if depth.ndim == 2:
        depth = depth[None]
    if depth.ndim != 3 or depth.shape[0] == 0:
        raise ValueError(f"SDDR_DEPTH must hold a [B, H, W] tensor, got {tuple(depth.shape)}.")
    if kind not in DEPTH_KINDS:
        raise ValueError(f"SDDR_DEPTH kind must be one of {DEPTH_KINDS}, got {kind!r}.")
    info = list(info) if info else [{} for _ in range(depth.shape[0])]
    info += [{} for _ in range(depth.shape[0] - len(info))]
    return depth, kind, info


def outputs_from_results(results: Sequence[Any], normalization: str) -> DepthOutputs:
    """Turn :class:`sddr_core.RefinedDepth` results (one per image, same size) into the nodes'
    outputs; ``normalization`` applies to the ControlNet image and the edge image."""
    if not results:
        raise ValueError("no images were refined (empty batch).")
    shapes = {r.depth.shape for r in results}
    if len(shapes) != 1:
        raise ValueError(f"refined maps differ in size: {sorted(shapes)}.")
    kinds = {r.kind for r in results}
    if len(kinds) != 1:
        raise ValueError(f"refined maps mix depth conventions: {sorted(kinds)}.")
    disparity = normalize_batch(np.stack([r.to_disparity() for r in results]), normalization)
    edges = normalize_batch(np.stack([r.edges for r in results]), normalization)
    omega = np.stack(
        [
            np.zeros(r.depth.shape, np.float32) if r.omega is None else np.clip(r.omega, 0, 1)
            for r in results
        ]
    ).astype(np.float32)
    depth = np.stack([r.depth for r in results]).astype(np.float32)
    return DepthOutputs(
        controlnet=maps_to_image(disparity),
        depth=depth_value(depth, kinds.pop(), [r.info for r in results]),
        edges=maps_to_image(edges),
        omega=torch.from_numpy(omega),
    )


def colorize_batch(value: Any, cmap: str, near_is_bright: bool = True) -> torch.Tensor:
    """Colour an ``SDDR_DEPTH`` batch for viewing: IMAGE ``[B, H, W, 3]`` (uses
    :func:`sddr_core.io.preview.colorize`, robust 1-99 percentile range per image)."""
    from sddr_core.io.preview import colorize

    depth, kind, _ = check_depth(value)
    rgb = np.stack(
        [colorize(d.numpy(), cmap=cmap, near_is_bright=near_is_bright, kind=kind) for d in depth]
    )
    return torch.from_numpy(rgb.astype(np.float32) / 255.0)


# ------------------------------------------------------------------------------------------
# Running sddr over a batch
# ------------------------------------------------------------------------------------------


def iter_refined(
    images: Iterable[np.ndarray],
    predictor: Any,
    *,
    refiner: Any = None,
    mode: str = "one-stage",
    device: Any = None,
    low_resolution: int | None = None,
    high_resolution: int | None = None,
    before_image: Callable[[int], None] | None = None,
    snap: bool = True,
) -> Iterator[Any]:
    """:func:`sddr_core.refine` on each image, one result at a time (a batch never sits in
    memory whole); ``before_image(i)`` runs before image ``i`` (progress, Cancel checks)."""
    import sddr_core

    for i, rgb in enumerate(images):
        if before_image is not None:
            before_image(i)
        yield sddr_core.refine(
            rgb,
            predictor,
            mode=mode,  # type: ignore[arg-type]
            refiner=refiner,
            device=device,
            low_resolution=low_resolution,
            high_resolution=high_resolution,
            snap=snap,
        )


def refine_batch(images: Sequence[np.ndarray], predictor: Any, **options: Any) -> list[Any]:
    """Every result of :func:`iter_refined` as a list (same options)."""
    return list(iter_refined(images, predictor, **options))


def refine_external_batch(
    lows: Sequence[np.ndarray],
    highs: Sequence[np.ndarray],
    *,
    kind: str = "disparity",
    refiner: Any = None,
    device: Any = None,
    size: tuple[int, int] | None = None,
    before_image: Callable[[int], None] | None = None,
    images: Sequence[np.ndarray] | None = None,
) -> list[Any]:
    """:func:`sddr_core.refine_depths` on each (low, high) pair, all at one output size:
    ``size`` ``(H, W)`` when given, else the largest of all inputs (IMAGE batches need one
    size). ``images``: the photos the pairs were predicted from (one, or one per pair), whose
    edges the results snap to."""
    import sddr_core

    pairs = pair_batches(list(lows), list(highs))
    if images is not None and len(images) not in (1, len(pairs)):
        raise ValueError(
            f"reference_image holds {len(images)} images for {len(pairs)} depth pairs; give "
            "one image, or one per pair."
        )
    if size is None:
        size = max((m.shape for pair in pairs for m in pair), key=lambda s: s[0] * s[1])
    results = []
    for i, (low, high) in enumerate(pairs):
        if before_image is not None:
            before_image(i)
        results.append(
            sddr_core.refine_depths(
                low,
                high,
                kind=kind,
                refiner=refiner,
                device=device,
                size=tuple(size),
                image=None if images is None else images[min(i, len(images) - 1)],
            )
        )
    return results


@dataclass
class StageProgress:
    """Turns sddr's per-stage progress (``sddr_progress(stage, done, total)``) into one
    monotonic value for a whole batch, for ComfyUI's progress bar.

    Each image gets ``steps`` units. In one-stage mode they are split between the stages
    ``predict-low`` (30 %), ``predict-high`` (40 %) and ``refine`` (30 %); two-stage mode gives
    those 25 % and the coarse-to-fine ``window`` stage 75 %; fusing external maps
    (``mode="fuse"``) has only ``refine``, loading a model (``mode="load"``) only ``download``.

    Args:
        images: batch size.
        mode: ``"one-stage"``, ``"two-stage"``, ``"fuse"`` or ``"load"``.
        update: ``update(value, total)``, e.g. ``ProgressBar.update_absolute``.
        steps: units per image.
    """

    images: int
    mode: str
    update: Callable[[int, int], Any]
    steps: int = 100
    index: int = 0
    value: int = 0
    _spans: dict[str, tuple[float, float]] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        if self.mode == "fuse":
            parts = [("refine", 0.8), ("snap", 0.2)]  # the snap: with a reference image
        elif self.mode == "load":
            parts = [("download", 1.0)]
        else:
            first = [("predict-low", 0.3), ("predict-high", 0.4), ("refine", 0.2)]
            scale = 0.25 if self.mode == "two-stage" else 1.0
            parts = [(s, w * scale) for s, w in first]
            if self.mode == "two-stage":
                parts.append(("window", 0.7))
            parts.append(("snap", 0.075 if self.mode == "two-stage" else 0.1))
        start = 0.0
        for stage, weight in parts:
            self._spans[stage] = (start, weight)
            start += weight

    @property
    def total(self) -> int:
        return self.images * self.steps

    def start_image(self, index: int) -> None:
        """Image ``index`` of the batch is about to be refined."""
        self.index = index
        self._set(index * self.steps)

    def stage(self, stage: str, done: int, total: int) -> None:
        """Receive one ``sddr_progress`` call."""
        if stage not in self._spans:
            return
        start, weight = self._spans[stage]
        frac = start + weight * (min(max(done, 0), total) / total if total > 0 else 1.0)
        self._set(round((self.index + frac) * self.steps))

    def finish(self) -> None:
        self._set(self.total)

    def _set(self, value: int) -> None:
        value = min(max(int(value), self.value), self.total)
        self.value = value
        self.update(value, self.total)


# ------------------------------------------------------------------------------------------
# Models: where they live, and the cache
# ------------------------------------------------------------------------------------------


@dataclass
class LoadedModel:
    """A predictor or refiner as passed between nodes, with the device it computes on."""

    model: Any
    device: Any
    key: tuple[Any, ...] = ()
    precision: str = "auto"

    @property
    def name(self) -> str:
        return str(getattr(self.model, "name", type(self.model).__name__))

    def __repr__(self) -> str:
        return f"LoadedModel({self.name!r}, device={str(self.device)!r})"


def move_model(obj: Any, device: Any) -> bool:
    """Move a predictor or refiner's weights to ``device``; returns whether anything moved.

    Uses ``obj.to(device)`` when the object has one; otherwise moves a ``torch.nn.Module``
    found in ``obj.model`` and updates ``obj.device`` (the layout of sddr's Hugging Face
    predictors and network refiner). Objects without weights (Poisson, plain functions) are
    left alone.
    """
    if obj is None or device is None:
        return False
    dev = torch.device(device)
    to = getattr(obj, "to", None)
    if isinstance(obj, torch.nn.Module) or (callable(to) and not isinstance(obj, type)):
        to(dev)
        return True
    model = getattr(obj, "model", None)
    if isinstance(model, torch.nn.Module):
        model.to(dev)
        if hasattr(obj, "device"):
            obj.device = dev
        return True
    return False


class ModelCache:
    """Keeps loaded predictors and refiners between runs (least recently used dropped first).

    Args:
        capacity: how many models to keep.
    """

    def __init__(self, capacity: int = 4) -> None:
        self.capacity = int(capacity)
        self._items: OrderedDict[tuple[Any, ...], Any] = OrderedDict()

    def get(self, key: tuple[Any, ...], factory: Callable[[], Any]) -> Any:
        """The cached object for ``key``, created with ``factory()`` on a miss."""
        if key in self._items:
            self._items.move_to_end(key)
            return self._items[key]
        obj = factory()
        self._items[key] = obj
        while len(self._items) > self.capacity:
            self._items.popitem(last=False)
        return obj

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def models(self) -> list[Any]:
        """The cached objects, least recently used first."""
        return list(self._items.values())

    def __len__(self) -> int:
        return len(self._items)

    def offload(self, device: Any) -> int:
        """Move every cached model to ``device`` (the CPU when idle); returns how many moved."""
        return sum(move_model(obj, device) for obj in self._items.values())

    def clear(self) -> None:
        self._items.clear()


# ------------------------------------------------------------------------------------------
# Files
# ------------------------------------------------------------------------------------------


def save_depth_batch(
    value: Any, folder: str | Path, filename: str, counter: int, fmt: str = "png16"
) -> list[Path]:
    """Write every map of an ``SDDR_DEPTH`` batch as ``{filename}_{counter:05}_.{ext}``.

    Never overwrites: a name that is taken moves the counter on. ``%batch_num%`` in
    ``filename`` is replaced by the index in the batch (as in ComfyUI's SaveImage).

    Args:
        value: ``SDDR_DEPTH``.
        folder: destination folder (created when missing).
        filename: file name prefix (no folder).
        counter: first counter to try (ComfyUI's ``get_save_image_path`` gives the next free).
        fmt: a key of :data:`SAVE_FORMATS`: ``png16`` (16-bit PNG, range kept in the file),
            ``exr`` or ``npy`` (float32).

    Returns:
        The paths written, one per map.
    """
    from sddr_core.errors import OutputExistsError
    from sddr_core.io.depth import write_depth

    if fmt not in SAVE_FORMATS:
        raise ValueError(f"format must be one of {', '.join(SAVE_FORMATS)}, got {fmt!r}.")
    ext = SAVE_FORMATS[fmt]
    depth, kind, info = check_depth(value)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    counter = max(int(counter), 1)
    for i, (d, meta) in enumerate(zip(depth, info, strict=True)):
        stem = filename.replace("%batch_num%", str(i))
        while True:
            path = folder / f"{stem}_{counter:05}_{ext}"
            counter += 1
            if path.exists():
                continue
            try:
                written.append(
                    write_depth(path, d.numpy(), overwrite=False, kind=kind, meta=_plain_info(meta))
                )
                break
            except OutputExistsError:  # appeared meanwhile (another run saving): next name
                continue
    return written


# ------------------------------------------------------------------------------------------
# Predictor dropdown labels, precision, ComfyUI-managed modules
# ------------------------------------------------------------------------------------------

#: Separates a predictor's name from the notes in its dropdown label.
LABEL_SEPARATOR = " · "
#: Precision choices of the loaders (fp16/bf16 apply on CUDA only).
PRECISIONS: tuple[str, ...] = ("auto", "fp32", "fp16", "bf16")

_COMMERCIAL = ("apache", "mit", "bsd", "cc-by-4", "cc-by-sa", "cc0", "built-in", "openrail")
_NON_COMMERCIAL = ("-nc", "noncommercial", "non-commercial")
_RESEARCH = ("amlr", "research")


def licence_class(licence: str) -> str:
    """What an artist may do with a predictor's weights, from its licence id:
    ``"commercial use"``, ``"non-commercial"``, ``"research only"`` or ``"licence unknown"``."""
    low = (licence or "").strip().lower()
    if any(k in low for k in _RESEARCH):
        return "research only"
    if any(k in low for k in _NON_COMMERCIAL):
        return "non-commercial"
    if any(low.startswith(k) for k in _COMMERCIAL):
        return "commercial use"
    return "licence unknown"


def predictor_label(name: str, licence: str, weights_present: bool | None) -> str:
    """The dropdown label of a predictor: its name, whether its weights are on disk and its
    licence class, e.g. ``"depth-anything-v2-small · downloaded · commercial use"``.

    Args:
        weights_present: True / False, or None for a predictor that needs no download.
    """
    state = {True: "downloaded", False: "downloads on first use", None: "no download"}[
        weights_present
    ]
    return LABEL_SEPARATOR.join([name, state, licence_class(licence)])


def name_from_label(label: str) -> str:
    """The predictor name in a dropdown label (or a bare name, as older workflows saved it)."""
    return str(label).split(LABEL_SEPARATOR, 1)[0].strip()


def torch_module(obj: Any) -> torch.nn.Module | None:
    """The ``torch.nn.Module`` holding a predictor's or refiner's weights (the object itself,
    or its ``model`` attribute, the layout of sddr's transformers predictors and network
    refiner); None for weight-free ones (Poisson, plain functions, test predictors)."""
    if isinstance(obj, torch.nn.Module):
        return obj
    model = getattr(obj, "model", None)
    return model if isinstance(model, torch.nn.Module) else None


class HeldModule(torch.nn.Module):
    """A container around a model's module, handed to ComfyUI's memory management.

    ComfyUI's ``ModelPatcher`` writes a ``device`` attribute on the module it manages;
    transformers models have a read-only ``device`` property, so they are wrapped.
    """

    def __init__(self, inner: torch.nn.Module) -> None:
        super().__init__()
        self.inner = inner


def apply_precision(obj: Any, precision: str, on_cuda: bool) -> torch.dtype | None:
    """Set a predictor's or refiner's precision; returns the autocast dtype the caller must
    add around the run (None: none needed).

    sddr's network refiner takes ``precision`` as is; transformers predictors have an
    ``fp16`` switch (float16 autocast), so bf16 is an outer autocast with fp16 off. On the CPU
    everything runs in float32.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}.")
    if not on_cuda:
        precision = "fp32"
    if hasattr(obj, "precision"):
        obj.precision = precision
        return None
    if hasattr(obj, "fp16"):
        if precision != "auto":
            obj.fp16 = precision == "fp16"
        return torch.bfloat16 if precision == "bf16" else None
    return {"fp16": torch.float16, "bf16": torch.bfloat16}.get(precision)
