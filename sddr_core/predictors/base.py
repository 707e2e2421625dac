"""What a depth predictor is to sddr: the protocol, its registry entry, and adapters.

A predictor turns an RGB image into a relative depth (or disparity) map. sddr runs it twice:
at its native resolution (globally consistent, blurry) and at a higher one (sharp, locally
inconsistent), then fuses the two.
"""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np

from sddr_core.errors import InputError, PredictorError
from sddr_core.ops.align import is_flat
from sddr_core.ops.maps import as_depth_map

DepthKind = Literal["disparity", "depth"]
Box = tuple[int, int, int, int]  # (top, left, bottom, right) in full-image pixels

__all__ = [
    "Box",
    "CallablePredictor",
    "DepthKind",
    "DepthPredictor",
    "PredictorSpec",
    "as_predictor",
    "check_kind",
    "predict_region",
    "run_predictor",
    "run_predictor_batch",
]


@runtime_checkable
class DepthPredictor(Protocol):
    """The protocol every predictor follows.

    Attributes:
        name: registry name (or any label for unregistered predictors).
        native_resolution: the long side, in pixels, the model was trained at.
        kind: ``"disparity"`` (near = large, e.g. Depth Anything, MiDaS) or ``"depth"``.

    ``predict(image, resolution)`` receives float32 RGB ``(H, W, 3)`` in ``[0, 1]`` already
    resized so its long side is ``resolution`` (the long side to process at), and may return
    a map of any size with the image's aspect ratio (sddr resizes it). Relative
    (affine-invariant) output is fine. A predictor that needs the full-size image (e.g. to
    look up data by pixel position) sets ``wants_full_image = True``; predictors that define
    ``predict_region`` get the full-size image too (they already handle it there).

    A predictor may also define ``predict_region(image, box, resolution)``, called for the
    windows of two-stage refinement with the *full* image and a ``(top, left, bottom,
    right)`` box; without it sddr crops the image and calls ``predict``.

    A predictor may also define ``predict_batch(images, resolution)``: a list of images
    (each as ``predict`` would get it) to a list of maps, in order, each what ``predict``
    gives for that image (e.g. one forward pass of a network for all). ``refine_sequence``
    predicts ``batch_size`` frames at a time through it; without it sddr calls ``predict``
    per image (:func:`run_predictor_batch`). ``refine`` never uses it.
    """

    name: str
    native_resolution: int
    kind: DepthKind

    def predict(self, image: np.ndarray, resolution: int) -> np.ndarray: ...


@dataclass(frozen=True)
class PredictorSpec:
    """A registry entry: how to create a predictor by name, and what to tell users about it.

    Attributes:
        name: the name users type (``"depth-anything-v2-small"``).
        factory: ``factory(**options) -> DepthPredictor``; options come from the caller
            (e.g. ``weights=``, ``device=``) and unknown options should raise ``TypeError``.
        kind: output convention of the predictor.
        native_resolution: training resolution (long side).
        licence: licence of the weights, shown by ``sddr predictors``.
        description: one line for listings.
        weights_present: optional ``() -> bool`` telling whether weights are available
            offline; ``None`` means "needs no weights".
        source: what provides it (a model id, a plugin name); filled for listings.
        needs: factory options without a default: a host that can only pass a name (a
            ComfyUI combo box) should not offer this predictor. ``simulated`` needs
            ``("ground_truth",)``.
    """

    name: str
    factory: Callable[..., DepthPredictor]
    kind: DepthKind
    native_resolution: int
    licence: str = "unknown"
    description: str = ""
    weights_present: Callable[[], bool] | None = None
    source: str = ""
    needs: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)


def check_kind(kind: str) -> DepthKind:
    """Validate a depth convention name."""
    if kind not in ("disparity", "depth"):
        raise InputError(f"kind must be 'disparity' or 'depth', got {kind!r}.")
    return kind  # type: ignore[return-value]


class CallablePredictor:
    """Wraps a plain function ``f(image, resolution) -> array`` as a :class:`DepthPredictor`.

    Defaults (documented in the README): ``name`` is the function's name,
    ``native_resolution=518`` (Depth Anything's training size), ``kind="disparity"``
    (the convention of most relative predictors). A function taking one argument is called
    as ``f(image)`` after sddr resizes the image so its long side is ``resolution``.
    """

    def __init__(
        self,
        fn: Callable[..., Any],
        *,
        name: str | None = None,
        native_resolution: int = 518,
        kind: DepthKind = "disparity",
    ) -> None:
        if not callable(fn):
            raise InputError(f"predictor must be callable, got {type(fn).__name__}.")
        self.fn = fn
        self.name = name or getattr(fn, "__name__", type(fn).__name__)
        self.native_resolution = int(native_resolution)
        self.kind = check_kind(kind)
        try:
            params = [
                p
                for p in inspect.signature(fn).parameters.values()
                if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)
            ]
            self._takes_resolution = len(params) >= 2 or any(
                p.kind == p.VAR_POSITIONAL for p in params
            )
        except (TypeError, ValueError):
            self._takes_resolution = True

    def predict(self, image: np.ndarray, resolution: int) -> np.ndarray:
        if self._takes_resolution:
            return self.fn(image, resolution)
        from sddr_core.ops.resize import resize_long_side

        return self.fn(resize_long_side(image, resolution))

    def __repr__(self) -> str:
        return (
            f"CallablePredictor({self.name!r}, native_resolution={self.native_resolution}, "
            f"kind={self.kind!r})"
        )


def as_predictor(predictor: Any, **options: Any) -> DepthPredictor:
    """Turn what a caller passed as ``predictor`` into a :class:`DepthPredictor`.

    Accepts a registered name (options go to its factory), an object with ``predict`` and
    the protocol attributes, or a plain callable (see :class:`CallablePredictor`).
    """
    if isinstance(predictor, str):
        from sddr_core.registry import create_predictor

        return create_predictor(predictor, **options)
    if hasattr(predictor, "predict"):
        missing = [a for a in ("name", "native_resolution", "kind") if not hasattr(predictor, a)]
        if missing:
            raise InputError(
                f"predictor object {type(predictor).__name__} lacks {', '.join(missing)}: "
                "a DepthPredictor needs name, native_resolution, kind and predict(image, "
                "resolution). Pass a plain function instead to use the documented defaults."
            )
        check_kind(predictor.kind)
        return predictor
    if callable(predictor):
        return CallablePredictor(predictor)
    raise InputError(
        f"predictor must be a registered name, a DepthPredictor or a callable, got "
        f"{type(predictor).__name__}. See `sddr predictors` for names."
    )


_FIX = (
    "predict() must return a finite (H, W) array of depth or disparity: check the model's "
    "weights, input normalisation and predict() method."
)


def _name(predictor: Any) -> str:
    return str(getattr(predictor, "name", type(predictor).__name__))


def _validate_output(
    out: Any,
    predictor: DepthPredictor,
    where: str,
    input_shape: tuple[int, int] | None = None,
) -> np.ndarray:
    """The predictor's output as a checked float32 ``(h, w)`` map.

    Besides :func:`~sddr_core.ops.maps.as_depth_map`'s checks, refuses what would pass
    silently and give wrong depth: a colour map whose channels differ, a map transposed
    against the ``input_shape`` ``(H, W)`` it was computed from, and non-positive values
    from a ``kind="depth"`` predictor. A constant map only warns (there is nothing to
    refine, and its preview and hint are flat).
    """
    name = _name(predictor)
    what = f"the output of predictor {name!r} for {where}"
    arr = out
    if hasattr(arr, "detach"):
        arr = arr.detach().float().cpu().numpy()
    try:
        raw = np.squeeze(np.asarray(arr))
    except (TypeError, ValueError):
        raw = None  # as_depth_map names the problem below
    if raw is not None and raw.ndim == 3 and raw.shape[-1] in (3, 4) and raw.dtype != object:
        rgb = raw[..., :3].astype(np.float32)
        if not (
            np.array_equal(rgb[..., 0], rgb[..., 1]) and np.array_equal(rgb[..., 0], rgb[..., 2])
        ):
            raise PredictorError(
                f"{what} has shape {raw.shape} with different values in its channels: it "
                "looks like a colourised image, not a depth map. Return the raw (H, W) "
                "depth or disparity (before any colour map)."
            )
    depth = as_depth_map(out, what=what, error=PredictorError, fix=_FIX)
    if input_shape is not None:
        h, w = input_shape
        oh, ow = depth.shape
        aspect, out_aspect = np.log(h / w), np.log(oh / ow)
        if abs(out_aspect + aspect) < 0.05 and abs(out_aspect - aspect) > 0.2:
            raise PredictorError(
                f"{what} is {ow}x{oh} (width x height) but the image it was given is {w}x{h}: "
                "the map is transposed (rows and columns swapped). Return it as (height, "
                "width), e.g. with .T or np.transpose, or check how predict() reshapes it."
            )
    kind = getattr(predictor, "kind", "disparity")
    if kind == "depth" and float(depth.min()) <= 0.0:
        raise PredictorError(
            f"{what} has values <= 0 (min {float(depth.min()):.4g}) but the predictor says "
            "kind='depth', where every pixel must be a positive distance. If it returns "
            "disparity or relative inverse depth, declare kind='disparity' (--kind disparity "
            "on the command line); otherwise fix its output."
        )
    if is_flat(float(depth.min()), float(depth.max())):
        warnings.warn(
            f"{what} is constant ({float(depth.min()):.4g} everywhere, up to float rounding): "
            "the predictor saw no depth in the image, so the refined map is flat too. Check "
            "the model's input "
            "(an all-black or blank image?) and weights.",
            RuntimeWarning,
            stacklevel=3,
        )
    return depth


def _wants_full_image(predictor: Any) -> bool:
    flag = getattr(predictor, "wants_full_image", None)
    if flag is not None:
        return bool(flag)
    return hasattr(predictor, "predict_region")


def _call(predictor: Any, method: str, *args: Any) -> Any:
    """``predictor.<method>(*args)`` with every failure but sddr's own (and interrupts)
    turned into a :class:`PredictorError` that keeps the original as its cause."""
    from sddr_core.errors import SddrError

    try:
        return getattr(predictor, method)(*args)
    except SddrError:
        raise
    except MemoryError as exc:
        raise PredictorError(
            f"predictor {_name(predictor)!r} ran out of memory. Use a smaller resolution "
            "(--high-resolution / high_resolution=), a smaller model, or another device."
        ) from exc
    except Exception as exc:
        detail = f"{type(exc).__name__}: {exc}".strip().rstrip(":")
        raise PredictorError(
            f"predictor {_name(predictor)!r} failed in {method}(): {detail}. This is an error "
            "in the predictor (or its model), not in sddr: check its code and weights; the "
            "original error is chained below this one."
        ) from exc


def run_predictor(predictor: DepthPredictor, image: np.ndarray, resolution: int) -> np.ndarray:
    """Call ``predictor.predict`` and validate its output: a finite float32 ``(h, w)`` map.

    The image is resized so its long side is ``resolution`` first (the predictor never holds
    a full-size copy of a huge image), unless the predictor opts in to the full image (see
    :class:`DepthPredictor`).

    Raises:
        PredictorError: the predictor raised (the original exception is the cause) or
            returned something unusable.
    """
    resolution = int(resolution)
    given = image
    if not _wants_full_image(predictor) and max(image.shape[:2]) != resolution:
        from sddr_core.ops.resize import resize_long_side

        given = resize_long_side(image, resolution)
    out = _call(predictor, "predict", given, resolution)
    return _validate_output(out, predictor, f"resolution {resolution}", image.shape[:2])


def run_predictor_batch(
    predictor: DepthPredictor, images: Sequence[np.ndarray], resolution: int
) -> list[np.ndarray]:
    """:func:`run_predictor` for several images at one ``resolution``: one
    ``predictor.predict_batch`` call when the predictor has it (see :class:`DepthPredictor`),
    else ``predict`` per image. Each map is validated as :func:`run_predictor` does.

    Raises:
        PredictorError: as :func:`run_predictor`, or ``predict_batch`` returned a number of
            maps other than the number of images.
    """
    images = list(images)
    if len(images) <= 1 or not callable(getattr(predictor, "predict_batch", None)):
        return [run_predictor(predictor, image, resolution) for image in images]
    resolution = int(resolution)
    given = images
    if not _wants_full_image(predictor):
        from sddr_core.ops.resize import resize_long_side

        given = [
            im if max(im.shape[:2]) == resolution else resize_long_side(im, resolution)
            for im in images
        ]
    out = _call(predictor, "predict_batch", given, resolution)
    try:
        outs = list(out)
    except TypeError:
        outs = None
    if outs is None or len(outs) != len(images):
        raise PredictorError(
            f"predictor {_name(predictor)!r}: predict_batch() was given {len(images)} images "
            f"but returned {'no list' if outs is None else f'{len(outs)} maps'}; it must "
            "return one map per image, in order."
        )
    return [
        _validate_output(o, predictor, f"resolution {resolution}", im.shape[:2])
        for o, im in zip(outs, images, strict=True)
    ]


def predict_region(
    predictor: DepthPredictor, image: np.ndarray, box: Box, resolution: int
) -> np.ndarray:
    """Predict depth for the ``box`` of ``image``, at ``resolution`` (long side of the box).

    Uses the predictor's own ``predict_region`` when it has one (the simulated predictor
    needs to know where the crop lies), else crops and calls ``predict``.
    """
    top, left, bottom, right = box
    if hasattr(predictor, "predict_region"):
        out = _call(predictor, "predict_region", image, box, int(resolution))
    else:
        crop = image[top:bottom, left:right]
        if not _wants_full_image(predictor) and max(crop.shape[:2]) != int(resolution):
            from sddr_core.ops.resize import resize_long_side

            crop = resize_long_side(crop, int(resolution))
        out = _call(predictor, "predict", np.ascontiguousarray(crop), int(resolution))
    return _validate_output(
        out, predictor, f"window {box} at resolution {resolution}", (bottom - top, right - left)
    )
