"""The ``sddr`` refiner: the SDDR refinement network (:class:`~sddr_core.models.SDDRNet`).

:class:`NetworkRefiner` wraps a network for sddr's :class:`~sddr_core.Refiner` protocol:
numpy maps in, numpy maps out, any size and aspect ratio (reflect-padded to a multiple of 32
and cropped back), ``torch.inference_mode``, mixed precision on CUDA, deterministic on the
CPU, and :meth:`NetworkRefiner.fuse_batch` for the windows of two-stage refinement.

Checkpoints are safetensors files whose metadata carries what is needed to rebuild the
network and to say what it is (written by :func:`save_refiner`):

=================  ==========================================================
``format``         ``"sddr-refiner"``
``format_version`` ``"1"``
``architecture``   ``"SDDRNet"``
``config``         the :class:`~sddr_core.models.SDDRConfig` as JSON
``sddr_version``   the sddr version that wrote the file
``training``       what the weights were trained on (free text)
other keys         anything passed in ``meta=`` (strings, or JSON for other values)
=================  ==========================================================

:func:`load_refiner` (also ``sddr_core.load_refiner``) loads by registered name or path;
``None`` loads the bundled default ``sddr_core/weights/sddr_default.safetensors``, or, when
that file is absent, returns the Poisson refiner with a warning saying so.

Registering more checkpoints from a plugin: implement the ``sddr_register_refiners`` hook and
return a spec made by :func:`checkpoint_spec`; the checkpoint then loads by name everywhere
(``refine(..., refiner="my-sddr")``, ``sddr refine --refiner my-sddr``, ComfyUI, Blender)::

    # my_package/sddr_plugin.py, exposed through the "sddr_core" entry-point group
    from pathlib import Path
    import sddr_core
    from sddr_core.refiners.network import checkpoint_spec

    @sddr_core.hookimpl
    def sddr_register_refiners():
        weights = Path(__file__).parent / "my_sddr.safetensors"
        return [checkpoint_spec("my-sddr", weights, priority=5,
                                description="SDDR fine-tuned on my scenes")]

A spec with a priority above 10 and whose file exists becomes the default of
``refine(..., refiner=None)``.
"""

from __future__ import annotations

import json
import math
import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from sddr_core.errors import InputError, ShapeError, WeightsError, option
from sddr_core.hookspecs import hookimpl
from sddr_core.refiners.base import Fusion, Refiner, RefinerSpec

if TYPE_CHECKING:  # torch is imported on first use: registering the plugin stays cheap
    import torch

__all__ = [
    "BYTES_PER_PIXEL",
    "DEFAULT_CHECKPOINT",
    "DEFAULT_MAX_WORKING_SIDE",
    "NetworkRefiner",
    "checkpoint_spec",
    "default_checkpoint",
    "load_network",
    "load_refiner",
    "padded_shape",
    "read_checkpoint",
    "save_refiner",
]

#: File stem of the default checkpoint, and its model id for the ``sddr_weight_dirs`` hook.
DEFAULT_NAME = "sddr_default"

#: The bundled default checkpoint (supplied by training; may be absent). See
#: :func:`default_checkpoint` for the other places searched.
DEFAULT_CHECKPOINT = Path(__file__).resolve().parents[1] / "weights" / f"{DEFAULT_NAME}.safetensors"

#: Largest working side used when memory allows; the same bound as the Poisson refiner and
#: the predictors' default high resolution.
DEFAULT_MAX_WORKING_SIDE = 2048

#: Peak memory of one forward pass of the default network per working-size pixel, measured
#: on the CPU in float32 (about 230 to 380 bytes from 2048² down to 512²; see
#: docs/BENCHMARKS.md), rounded up. Used to bound the working size by the memory available.
BYTES_PER_PIXEL = 400

CHECKPOINT_FORMAT = "sddr-refiner"
CHECKPOINT_FORMAT_VERSION = "1"
#: The architecture written by older sddr versions (and the one assumed when absent).
ARCHITECTURE = "SDDRNet"


def _architectures() -> dict[str, tuple[Any, Any]]:
    """Architecture name (checkpoint metadata) -> ``(config class, network class)``."""
    from sddr_core.models.band_fusion import BandFusionConfig, BandFusionNet
    from sddr_core.models.refiner_net import SDDRConfig, SDDRNet

    return {"SDDRNet": (SDDRConfig, SDDRNet), "BandFusionNet": (BandFusionConfig, BandFusionNet)}


def default_checkpoint() -> Path:
    """Path of the default checkpoint (it may not exist).

    The bundled file when present; otherwise the first ``sddr_default.safetensors`` found
    directly in, or in a ``sddr_default`` sub-folder of, the folders offered by the
    ``sddr_weight_dirs`` hook (model id ``"sddr_default"``; ComfyUI offers ``models/sddr``)
    or listed in ``SDDR_WEIGHTS_DIR``; otherwise the bundled path.
    """
    bundled = Path(DEFAULT_CHECKPOINT)
    if bundled.is_file():
        return bundled
    name = f"{DEFAULT_NAME}.safetensors"
    folders: list[str] = []
    try:
        from sddr_core.plugins import get_plugin_manager

        for offered in get_plugin_manager().hook.sddr_weight_dirs(model_id=DEFAULT_NAME):
            folders.extend(offered or [])
    except Exception:  # a broken host plugin must not hide the bundled fallback
        folders = []
    folders += [f for f in os.environ.get("SDDR_WEIGHTS_DIR", "").split(os.pathsep) if f]
    for folder in folders:
        for candidate in (Path(folder) / name, Path(folder) / DEFAULT_NAME / name):
            if candidate.is_file():
                return candidate
    return bundled


def _available_memory(device: torch.device) -> int | None:
    """Bytes of memory free for the refiner on ``device``, or ``None`` if unknown."""
    try:
        if device.type == "cuda":
            import torch

            free, _total = torch.cuda.mem_get_info(device)
            return int(free)
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, RuntimeError, ValueError):
        return None
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return None


def max_side_for_memory(free_bytes: int | None, *, fraction: float = 0.5) -> int:
    """The largest working side (multiple of 32, 512 to 2048) whose forward pass fits in
    ``fraction`` of ``free_bytes`` (2048 when unknown)."""
    if free_bytes is None:
        return DEFAULT_MAX_WORKING_SIDE
    side = int(math.sqrt(max(free_bytes, 0) * fraction / BYTES_PER_PIXEL)) // 32 * 32
    return int(min(DEFAULT_MAX_WORKING_SIDE, max(512, side)))


class NetworkRefiner:
    """A :class:`~sddr_core.Refiner` running an :class:`~sddr_core.models.SDDRNet`.

    Args:
        model: the network, moved to ``device``; it runs in eval mode and is returned to
            its previous mode after each pass (so a trainer can share it).
        device: torch device (``None``: CUDA if available, else CPU).
        name: registry name shown in results.
        max_working_side: the largest working side; ``None`` chooses it from the memory
            available on the device (2048 unless less than about 3.4 GB is free).
        precision: ``"auto"`` (bfloat16 or float16 autocast on CUDA, float32 on CPU),
            ``"fp32"``, ``"fp16"`` or ``"bf16"`` (CUDA only).
        meta: checkpoint metadata (shown by :meth:`describe`).
        compile: run the network through ``torch.compile`` (on CUDA with CUDA graphs, mode
            ``"reduce-overhead"``). Each new working size is compiled on first use (tens of
            seconds), then runs faster: for many maps of one size (video frames, a batch of
            photos), not for one photo. Without a working compiler it warns once and runs
            the network as it is.

    Attributes:
        model: the torch module. device: its ``torch.device``. compile: see above; may be
        changed at any time.
    """

    #: The network pads its input to a multiple of 32 itself (reflecting at the bottom and
    #: right, cropped back after the pass), so any working size works: sddr fuses at the
    #: image's own size. Rounding the working size to multiples of 32 instead resampled
    #: every map twice, which blurred 1-pixel depth steps (boundary F1 0.33 -> 0.22 on a
    #: Middlebury scene).
    size_multiple = 1
    pad_multiple = 32

    def __init__(
        self,
        model: torch.nn.Module,
        *,
        device: Any = None,
        name: str = "sddr",
        max_working_side: int | None = None,
        precision: str = "auto",
        meta: dict[str, str] | None = None,
        compile: bool = False,
    ) -> None:
        from sddr_core.device import resolve_device

        if precision not in ("auto", "fp32", "fp16", "bf16"):
            raise InputError(f"precision must be auto, fp32, fp16 or bf16, got {precision!r}.")
        self.device = resolve_device(device)
        self.model = model.to(self.device)
        if self.device.type == "cpu" and getattr(model, "channels_last_on_cpu", False):
            import torch

            self.model = self.model.to(memory_format=torch.channels_last)
        self.name = name
        self.precision = precision
        self.compile = bool(compile)
        self._compiled: Any = None
        self.meta = dict(meta or {})
        if max_working_side is None:
            max_working_side = max_side_for_memory(_available_memory(self.device))
        self.max_working_side = int(max_working_side)

    # -- the Refiner protocol ---------------------------------------------------------------

    def fuse(self, low: np.ndarray, high: np.ndarray) -> Fusion:
        """Fuse ``low`` and ``high``, float ``(h, w)`` maps of one size and convention.

        Returns the refined map in ``low``'s scale and the finest Ω (``(h, w)``, in [0, 1]).
        """
        return self.fuse_batch([low], [high])[0]

    def fuse_batch(
        self,
        lows: Sequence[np.ndarray],
        highs: Sequence[np.ndarray],
        *,
        keep_low_layout: bool = False,
    ) -> list[Fusion]:
        """Fuse pairs in batches: pairs of one size share a forward pass, and a pass holds at
        most ``max_working_side²`` pixels (so a batch never needs more memory than one
        full-size pass). Results are in input order. ``keep_low_layout``: a network that
        chooses the global layout (band fusion with base trust) keeps the low input's, as
        two-stage windows need; other networks ignore it."""
        if len(lows) != len(highs):
            raise InputError(f"fuse_batch got {len(lows)} low and {len(highs)} high maps.")
        pairs = [self._check_pair(lo, hi) for lo, hi in zip(lows, highs, strict=True)]
        out: list[Fusion | None] = [None] * len(pairs)
        by_shape: dict[tuple[int, int], list[int]] = {}
        for i, (lo, _) in enumerate(pairs):
            by_shape.setdefault(lo.shape, []).append(i)
        budget = max(self.max_working_side, 32) ** 2
        for shape, idx in by_shape.items():
            padded = padded_shape(shape, self.pad_multiple)
            per_pass = max(1, budget // (padded[0] * padded[1]))
            for start in range(0, len(idx), per_pass):
                chunk = idx[start : start + per_pass]
                results = self._forward([pairs[i] for i in chunk], keep_low_layout)
                for i, res in zip(chunk, results, strict=True):
                    out[i] = res
        return [f for f in out if f is not None]

    # -- internals --------------------------------------------------------------------------

    @staticmethod
    def _check_pair(low: Any, high: Any) -> tuple[np.ndarray, np.ndarray]:
        lo = np.asarray(low, dtype=np.float32)
        hi = np.asarray(high, dtype=np.float32)
        if lo.ndim != 2 or lo.shape != hi.shape or min(lo.shape) < 2:
            raise ShapeError(
                f"the network refiner fuses two (h, w) maps of one size, got {lo.shape} and "
                f"{hi.shape}; resize them to one working size first."
            )
        if not (np.isfinite(lo).all() and np.isfinite(hi).all()):
            raise InputError("the maps to fuse contain NaN or inf; fill or mask them first.")
        return lo, hi

    def _autocast(self) -> Any:
        import contextlib

        import torch

        if self.device.type != "cuda":
            return contextlib.nullcontext()
        if self.precision == "fp32":  # float32 means float32: no TF32 convolutions either
            return torch.backends.cudnn.flags(
                enabled=torch.backends.cudnn.enabled,
                benchmark=torch.backends.cudnn.benchmark,
                deterministic=torch.backends.cudnn.deterministic,
                allow_tf32=False,
            )
        if self.precision == "fp16":
            dtype = torch.float16
        elif self.precision == "bf16" or torch.cuda.is_bf16_supported():
            dtype = torch.bfloat16
        else:
            dtype = torch.float16
        return torch.autocast("cuda", dtype=dtype)

    def _forward(
        self, pairs: list[tuple[np.ndarray, np.ndarray]], keep_low_layout: bool = False
    ) -> list[Fusion]:
        import torch
        import torch.nn.functional as F

        h, w = pairs[0][0].shape
        ph, pw = padded_shape((h, w), self.pad_multiple)
        low = torch.from_numpy(np.stack([p[0] for p in pairs]))[:, None]
        high = torch.from_numpy(np.stack([p[1] for p in pairs]))[:, None]
        training = self.model.training  # a model shared with a trainer keeps its mode
        self.model.eval()
        try:
            with torch.inference_mode(), self._autocast():
                low = _pad(low.to(self.device), ph, pw)
                high = _pad(high.to(self.device), ph, pw)
                chooses_layout = getattr(self.model, "base_head", None) is not None
                extra = {"keep_low_layout": True} if keep_low_layout and chooses_layout else {}
                out = self._run(low, high, extra)
                depth = out["depth"][..., :h, :w].float()
                omega = F.interpolate(
                    out["omegas"][0].float(), size=(ph, pw), mode="bilinear", align_corners=False
                )[..., :h, :w].clamp_(0.0, 1.0)
                depth_np = depth[:, 0].cpu().numpy()
                omega_np = omega[:, 0].cpu().numpy()
                infos: list[dict[str, Any]] = [{} for _ in pairs]
                base = out.get("base_omega")
                if base is not None:  # how much of the global layout came from the high pass
                    shares = base.float().mean(dim=(1, 2, 3)).tolist()
                    for info, share in zip(infos, shares, strict=True):
                        info["layout_from_high"] = round(share, 4)
            del out, low, high
        finally:
            self.model.train(training)
        return [
            Fusion(np.ascontiguousarray(d, dtype=np.float32), np.ascontiguousarray(o), info)
            for d, o, info in zip(depth_np, omega_np, infos, strict=True)
        ]

    def _run(self, low: Any, high: Any, extra: dict[str, Any]) -> Any:
        """The network's pass, compiled when :attr:`compile` is set (see the class)."""
        if self.compile:
            import torch

            if self._compiled is None:
                mode = "reduce-overhead" if self.device.type == "cuda" else None
                self._compiled = torch.compile(self.model, dynamic=False, mode=mode)
            try:
                return self._compiled(low, high, edges=False, **extra)
            except torch._dynamo.exc.TorchDynamoException as exc:  # no C++ compiler, no Triton
                self.compile, self._compiled = False, None
                first_line = str(exc).splitlines()[0] if str(exc) else ""
                warnings.warn(
                    f"torch.compile could not compile the refiner network "
                    f"({type(exc).__name__}: {first_line}); it runs uncompiled. Install a C++ "
                    "compiler (and Triton on CUDA) to use compile=True.",
                    UserWarning,
                    stacklevel=3,
                )
        return self.model(low, high, edges=False, **extra)

    def describe(self) -> str:
        """One line: architecture, parameters, training."""
        cfg = getattr(self.model, "config", None)
        n = sum(p.numel() for p in self.model.parameters())
        arch = getattr(cfg, "name", type(self.model).__name__)
        return f"{arch}, {n / 1e6:.2f} M parameters, trained on: {self.meta.get('training', '?')}"

    def __repr__(self) -> str:
        return (
            f"NetworkRefiner({self.name!r}, device={self.device}, "
            f"max_working_side={self.max_working_side})"
        )


def padded_shape(shape: tuple[int, int], multiple: int) -> tuple[int, int]:
    """``shape`` rounded up to multiples of ``multiple``: what a network pass runs at."""
    m = max(int(multiple), 1)
    return -(-shape[0] // m) * m, -(-shape[1] // m) * m


def _pad(x: torch.Tensor, ph: int, pw: int) -> torch.Tensor:
    """Pad ``(B, 1, h, w)`` at the bottom/right to ``(ph, pw)``: reflect where the map is
    large enough, else replicate."""
    import torch.nn.functional as F

    h, w = x.shape[-2:]
    dh, dw = ph - h, pw - w
    if not (dh or dw):
        return x
    mode = "reflect" if dh < h and dw < w else "replicate"
    return F.pad(x, (0, dw, 0, dh), mode=mode)


# -- checkpoints ----------------------------------------------------------------------------


def save_refiner(
    model: Any,
    path: str | os.PathLike[str],
    *,
    meta: dict[str, Any] | None = None,
    overwrite: bool = False,
) -> Path:
    """Write ``model`` (an :class:`~sddr_core.models.SDDRNet` or a :class:`NetworkRefiner`)
    to a safetensors checkpoint with its architecture and ``meta`` in the metadata.

    Args:
        model: the network.
        path: destination ``.safetensors`` file.
        meta: extra metadata; ``training`` (what it was trained on) is recommended. Values
            that are not strings are stored as JSON.
        overwrite: replace an existing file.

    Returns:
        The absolute path written (atomically: a crash never leaves a half-written file).
    """
    from safetensors.torch import save

    from sddr_core import __version__
    from sddr_core.io.files import atomic_write

    net = getattr(model, "model", model)
    config = getattr(net, "config", None)
    architecture = type(net).__name__
    if config is None or not hasattr(config, "to_dict") or architecture not in _architectures():
        raise InputError(
            f"save_refiner needs a refiner network ({', '.join(_architectures())}) or a "
            f"NetworkRefiner, got {type(model).__name__}."
        )
    extra = {k: v if isinstance(v, str) else json.dumps(v) for k, v in (meta or {}).items()}
    metadata = {
        "training": "untrained (random initialisation)",
        **extra,
        "format": CHECKPOINT_FORMAT,
        "format_version": CHECKPOINT_FORMAT_VERSION,
        "architecture": architecture,
        "config": json.dumps(config.to_dict()),
        "sddr_version": __version__,
    }
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in net.state_dict().items()}
    data = save(tensors, metadata=metadata)
    return atomic_write(path, lambda fh: fh.write(data), overwrite=overwrite)


def read_checkpoint(path: str | os.PathLike[str]) -> tuple[torch.nn.Module, dict[str, str]]:
    """Rebuild the network stored in ``path``; returns ``(model, metadata)`` (model on CPU).

    Raises:
        WeightsError: missing, corrupt or truncated file, a pickle checkpoint (``.pt``,
            ``.pth``: never unpickled; the message says how to convert it), not an sddr
            checkpoint, unknown architecture or config, or weights that do not match the
            architecture.
        InputError: ``path`` is a folder.
    """
    import torch
    from safetensors import safe_open

    from sddr_core.io.checkpoints import check_refiner_path

    p = Path(path).expanduser()
    if not p.exists():
        raise WeightsError(
            f"refiner checkpoint {p} not found. Check the path, or use "
            f"{option('refiner', 'poisson')} (no weights needed)."
        )
    check_refiner_path(p)  # a folder or a pickle: say what it is
    try:
        with safe_open(str(p), framework="pt", device="cpu") as fh:
            meta = dict(fh.metadata() or {})
            tensors = {k: fh.get_tensor(k) for k in fh.keys()}  # noqa: SIM118
    except Exception as exc:  # SafetensorError, OSError, ...: the file is unusable
        raise WeightsError(
            f"{p} is not a readable safetensors file ({exc}); it is corrupt or truncated. "
            "Download or export it again (save_refiner writes valid checkpoints)."
        ) from exc
    if meta.get("format") != CHECKPOINT_FORMAT or "config" not in meta:
        raise WeightsError(
            f"{p} is a safetensors file but not an sddr refiner checkpoint (its metadata has no "
            "sddr 'format'/'config' entries). Export refiner weights with "
            "sddr_core.refiners.network.save_refiner."
        )
    known = _architectures()
    architecture = meta.get("architecture", ARCHITECTURE)
    if architecture not in known:
        raise WeightsError(
            f"{p} holds architecture {architecture!r}; this sddr knows "
            f"{', '.join(map(repr, known))}. Upgrade sddr or use a matching checkpoint."
        )
    config_cls, net_cls = known[architecture]
    try:
        config = config_cls.from_dict(json.loads(meta["config"]))
    except (ValueError, TypeError) as exc:
        raise WeightsError(
            f"{p} has an architecture config this sddr cannot build ({exc}). It was probably "
            "written by another sddr version; use a matching version or re-export it."
        ) from exc
    model = net_cls(config)
    expected = model.state_dict()
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    wrong = [
        f"{k} {tuple(tensors[k].shape)} (expected {tuple(v.shape)})"
        for k, v in expected.items()
        if k in tensors and tensors[k].shape != v.shape
    ]
    if missing or unexpected or wrong:
        parts = []
        for label, items in (
            ("missing", missing),
            ("unexpected", unexpected),
            ("wrong shape", wrong),
        ):
            if items:
                more = f" and {len(items) - 3} more" if len(items) > 3 else ""
                parts.append(f"{label}: {', '.join(items[:3])}{more}")
        raise WeightsError(
            f"{p} does not match its declared architecture {config.name!r} ({'; '.join(parts)}). "
            "The file was edited or written by an incompatible version; re-export it."
        )
    bad = [k for k, v in tensors.items() if v.is_floating_point() and not torch.isfinite(v).all()]
    if bad:
        raise WeightsError(
            f"{p} has NaN or inf weights in {', '.join(bad[:3])}: training diverged or the file "
            "is damaged. Use another checkpoint."
        )
    model.load_state_dict({k: v.to(expected[k].dtype) for k, v in tensors.items()})
    return model, meta


def load_network(
    path: str | os.PathLike[str], *, device: Any = None, name: str | None = None, **options: Any
) -> NetworkRefiner:
    """A :class:`NetworkRefiner` from a checkpoint file (``options`` go to its constructor)."""
    model, meta = read_checkpoint(path)
    model.eval()
    return NetworkRefiner(model, device=device, name=name or Path(path).stem, meta=meta, **options)


def _looks_like_path(s: str) -> bool:
    from sddr_core.io.checkpoints import PICKLE_SUFFIXES

    return (
        s.endswith(".safetensors")
        or s.lower().endswith(PICKLE_SUFFIXES)
        or os.sep in s
        or "/" in s
        or os.path.isfile(s)
    )


def load_refiner(
    name_or_path: str | os.PathLike[str] | None = None, *, device: Any = None
) -> Refiner:
    """Load a refiner by registered name or checkpoint path; ``None`` loads the default.

    Args:
        name_or_path: ``None`` (the bundled default network), a registered refiner name
            (``"sddr"``, ``"poisson"``, or a plugin's), or a ``.safetensors`` path.
        device: torch device for network refiners (``None``: CUDA if available).

    Returns:
        A refiner; a network refiner exposes its torch module as ``.model``. When
        ``name_or_path`` is ``None`` and the bundled checkpoint is missing, the Poisson
        refiner, with a :class:`UserWarning` saying so.

    Raises:
        WeightsError: unreadable or mismatched checkpoint. UnknownNameError: unknown name.
    """
    if name_or_path is None:
        path = default_checkpoint()
        if path.is_file():
            return load_network(path, device=device, name="sddr")
        from sddr_core.refiners.poisson import PoissonRefiner

        warnings.warn(
            f"The SDDR network weights are missing (expected {path}), so the training-free "
            "Poisson refiner is used instead. Pass a .safetensors checkpoint to use the "
            f"network, or {option('refiner', 'poisson')} to silence this warning.",
            UserWarning,
            stacklevel=2,
        )
        return PoissonRefiner()
    if isinstance(name_or_path, os.PathLike) or _looks_like_path(str(name_or_path)):
        return load_network(name_or_path, device=device)
    from sddr_core.registry import create_refiner

    return create_refiner(str(name_or_path), device=device)


# -- registration ---------------------------------------------------------------------------


def checkpoint_spec(
    name: str,
    path: str | os.PathLike[str],
    *,
    priority: int = 5,
    description: str = "",
    **options: Any,
) -> RefinerSpec:
    """A :class:`~sddr_core.RefinerSpec` that loads the checkpoint at ``path`` by ``name``.

    ``available()`` is whether the file exists; ``options`` (``max_working_side``,
    ``precision``) go to :class:`NetworkRefiner`.
    """
    file = Path(path)

    def factory(device: Any = None, **more: Any) -> NetworkRefiner:
        return load_network(file, device=device, name=name, **{**options, **more})

    return RefinerSpec(
        name=name,
        factory=factory,
        priority=priority,
        available=file.is_file,
        description=description or f"SDDR network checkpoint {file.name}",
        extra={"path": str(file)},
    )


def _default_factory(device: Any = None, **options: Any) -> NetworkRefiner:
    path = default_checkpoint()
    if not path.is_file():
        raise WeightsError(
            f"the 'sddr' refiner needs its bundled checkpoint {path}, which is not installed. "
            "Pass a .safetensors path as the refiner, or use refiner='poisson'."
        )
    return load_network(path, device=device, name="sddr", **options)


@hookimpl
def sddr_register_refiners() -> list[RefinerSpec]:
    return [
        RefinerSpec(
            name="sddr",
            factory=_default_factory,
            priority=10,
            available=lambda: default_checkpoint().is_file(),
            description="bundled refiner network (band fusion; docs/MODEL_CARD.md)",
        )
    ]
