"""Training pairs and self-distilled pseudo-labels.

A :class:`TrainSample` is one ground-truth crop with what the refiner sees (the simulated
predictor's low- and high-resolution predictions, resized to the crop) and, once the
self-distillation phase starts, its pseudo-label G_S (:func:`pseudo_label`: coarse-to-fine
refinement with the current network, :func:`sddr_core.inference.two_stage.coarse_to_fine`)
and the L_grad regions.

A :class:`SamplePool` keeps ``pool_size`` samples in memory (CPU time is the bottleneck:
making a scene, simulating the predictor and, above all, a pseudo-label cost more than a
training step), draws batches with random flips, and replaces part of the pool with new
scenes every few steps. Everything is seeded: a pool is described by its
:class:`SampleSpec` list and rebuilt exactly on resume.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sddr_core.datasets.procedural import training_scene
from sddr_core.errors import InputError
from sddr_core.ops.resize import resize_map
from sddr_core.predictors.simulated import SimulatedPredictor
from sddr_core.train.config import DataConfig, TrainingConfig
from sddr_core.train.losses import edge_regions, normalize_label

__all__ = [
    "DepthOnlyFolder",
    "SamplePool",
    "SampleSpec",
    "TrainSample",
    "make_sample",
    "open_folder",
    "pseudo_label",
]


@dataclass(frozen=True)
class SampleSpec:
    """Everything that determines a training sample (JSON-ready for resuming).

    Attributes:
        source: ``"procedural"`` or ``"folder:<index>"`` (index into ``data.folders``).
        scene: scene seed (training seed space) or sample index in the folder dataset.
        kind: ``"disparity"`` or ``"depth"``.
        native: simulated predictor's native resolution (pixels, long side).
        high: high resolution (pixels, long side).
        strength: noise strength.
        noise_seed: seed of the simulated predictor's noise.
        crop: ``(top, left)`` of the crop for folder samples (procedural ones are generated
            at the crop size).
    """

    source: str
    scene: int
    kind: str
    native: int
    high: int
    strength: float
    noise_seed: int
    crop: tuple[int, int] = (0, 0)


@dataclass
class TrainSample:
    """One training pair (all maps ``(S, S)`` float32 at the crop size ``S``).

    Attributes:
        spec: how it was made.
        image: RGB ``(S, S, 3)`` (for the predictor in coarse-to-fine pseudo-labelling).
        gt: ground truth in ``spec.kind``; NaN where unknown.
        low, high: the predictor's low- and high-resolution outputs, resized to the crop.
        predictor: the (simulated) predictor that made them; answers window crops.
        g_s: normalised pseudo-label ``(S, S)`` or None before self-distillation.
        regions: bool ``(N_g, S, S)`` L_grad regions, or None.
        label_step: training step at which ``g_s`` was made (-1: none).
    """

    spec: SampleSpec
    image: np.ndarray
    gt: np.ndarray
    low: np.ndarray
    high: np.ndarray
    predictor: Any
    g_s: np.ndarray | None = None
    regions: np.ndarray | None = None
    label_step: int = -1


def draw_spec(rng: np.random.Generator, cfg: DataConfig, scene: int, source: str) -> SampleSpec:
    """A random :class:`SampleSpec` for ``scene`` (noise settings drawn from ``cfg``)."""
    native = int(round(cfg.crop * rng.uniform(*cfg.native_range)))
    native = max(16, native)
    high = int(round(native * rng.uniform(*cfg.high_factor)))
    kind = "depth" if rng.random() < cfg.depth_fraction else "disparity"
    return SampleSpec(
        source=source,
        scene=int(scene),
        kind=kind,
        native=native,
        high=max(high, native),
        strength=float(rng.uniform(*cfg.strength)),
        noise_seed=int(rng.integers(2**31 - 1)),
        crop=(int(rng.integers(1 << 20)), int(rng.integers(1 << 20))),
    )


class DepthOnlyFolder:
    """A folder of ground-truth maps without images: ``PATH/depth/*`` or ``PATH/disparity/*``
    (any format :func:`sddr_core.io.depth.read_depth` reads). Its samples get a stand-in RGB
    (the colourised ground truth), good enough for the simulated predictor, which only
    needs the image's size; a real predictor cannot be used on them.

    Raises:
        InputError: no ``depth/`` or ``disparity/`` folder, or no readable file in it.
    """

    def __init__(self, root: str | Path) -> None:
        from sddr_core.datasets.folder import GT_EXTENSIONS

        self.root = Path(root).expanduser()
        self.entries: list[tuple[Path, str]] = []
        for kind in ("depth", "disparity"):
            folder = self.root / kind
            if folder.is_dir():
                self.entries += [
                    (f, kind) for f in sorted(folder.iterdir()) if f.suffix.lower() in GT_EXTENSIONS
                ]
        if not self.entries:
            raise InputError(
                f"{self.root} has no rgb/ folder and no depth/ or disparity/ folder with "
                "ground-truth files (.png, .exr, .npy, .pfm, .tif): nothing to train on."
            )
        self.name = self.root.name or "depth-folder"
        self.names = [f.stem for f, _ in self.entries]
        self.has_rgb = False

    def sample(self, index: int) -> Any:
        from sddr_core.datasets.base import Sample
        from sddr_core.io.depth import read_depth
        from sddr_core.io.preview import colorize

        path, kind = self.entries[index]
        gt = read_depth(path).depth
        with np.errstate(invalid="ignore"):
            valid = np.isfinite(gt) & (gt > 0)
        rgb = colorize(np.where(valid, gt, np.nan), kind=kind, valid=valid)
        return Sample(rgb=rgb, gt=gt, gt_kind=kind, valid=valid, meta={"name": path.stem})  # type: ignore[arg-type]

    def __len__(self) -> int:
        return len(self.entries)


def open_folder(path: str | Path) -> Any:
    """A training source for a folder of real ground truth: the generic evaluation layout
    (:class:`sddr_core.datasets.folder.FolderDataset`, ``rgb/`` + ``depth/`` or
    ``disparity/``) when it has images, else :class:`DepthOnlyFolder`."""
    root = Path(path).expanduser()
    if not root.is_dir():
        raise InputError(f"training folder {root} does not exist.")
    if (root / "rgb").is_dir():
        from sddr_core.datasets.folder import FolderDataset

        ds = FolderDataset(root)
        ds.has_rgb = True  # type: ignore[attr-defined]
        return ds
    return DepthOnlyFolder(root)


def _folder_crop(sample: Any, size: int, crop: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """RGB and ground truth of a ``size``² crop of a dataset sample (rescaled so its short
    side is at least ``size``); ``crop`` values are taken modulo the free range."""
    rgb = np.asarray(sample.rgb)
    rgb = rgb.astype(np.float32) / 255.0 if rgb.dtype == np.uint8 else rgb.astype(np.float32)
    gt = np.where(sample.valid, sample.gt, np.nan).astype(np.float32)
    h, w = gt.shape
    scale = max(size / min(h, w), 1.0)
    if scale > 1.0:
        import cv2

        nh, nw = int(np.ceil(h * scale)), int(np.ceil(w * scale))
        rgb = resize_map(rgb, (nh, nw), kind="image")
        gt = cv2.resize(gt, (nw, nh), interpolation=cv2.INTER_NEAREST)
        h, w = nh, nw
    top = crop[0] % (h - size + 1)
    left = crop[1] % (w - size + 1)
    return rgb[top : top + size, left : left + size], gt[top : top + size, left : left + size]


def make_sample(
    spec: SampleSpec,
    cfg: DataConfig,
    folders: list[Any] | None = None,
    predictor_factory: Any = None,
) -> TrainSample:
    """Build the :class:`TrainSample` a :class:`SampleSpec` describes.

    Procedural scenes are generated at the crop size. Folder samples are cropped; when
    ``predictor_factory`` is given (a real predictor) it predicts from their RGB instead of
    the simulated predictor.
    """
    size = int(cfg.crop)
    if spec.source == "procedural":
        scene = training_scene(spec.scene, (size, size), kind=spec.kind)
        image, gt = scene.image, scene.gt
        real = False
    else:
        index = int(spec.source.split(":", 1)[1])
        dataset = folders[index]  # type: ignore[index]
        sample = dataset.sample(spec.scene % len(dataset))
        image, gt = _folder_crop(sample, size, spec.crop)
        real = bool(getattr(dataset, "has_rgb", False))
        if spec.kind != sample.gt_kind:
            gt = np.where(np.isfinite(gt), 1.0 / np.maximum(gt, 1e-12), np.nan).astype(np.float32)
    if predictor_factory is not None and real:
        predictor = predictor_factory()
        if predictor.kind != spec.kind:  # supervise in the real predictor's convention
            gt = np.where(np.isfinite(gt), 1.0 / np.maximum(gt, 1e-12), np.nan).astype(np.float32)
    else:
        predictor = SimulatedPredictor(
            gt,
            kind=spec.kind,  # type: ignore[arg-type]
            native_resolution=spec.native,
            strength=spec.strength,
            seed=spec.noise_seed,
        )
    from sddr_core.predictors.base import run_predictor

    low = resize_map(run_predictor(predictor, image, spec.native), (size, size))
    high = resize_map(run_predictor(predictor, image, spec.high), (size, size))
    return TrainSample(spec, image.astype(np.float32), gt.astype(np.float32), low, high, predictor)


def pseudo_label(
    sample: TrainSample,
    refiner: Any,
    levels: tuple[int, ...] = (2, 3),
    overlaps: tuple[float, ...] = (0.2, 0.25),
    *,
    n_regions: int = 4,
    seed: int = 0,
    border: int = 2,
) -> tuple[np.ndarray, np.ndarray]:
    """G_S for one sample: one-stage fusion of its (low, high) with ``refiner``, then
    coarse-to-fine windows (the two-stage code), edge map of the result.

    The ``border`` outermost pixels of G_S are set to its minimum: a gradient across the
    crop's border cannot be measured there, and a young network's border artefacts must not
    become edges to learn.

    Returns:
        ``(g_s, regions)``: the normalised label float32 ``(S, S)``
        (:func:`~sddr_core.train.losses.normalize_label`) and the bool ``(n_regions, S, S)``
        regions of L_grad (:func:`~sddr_core.train.losses.edge_regions`).
    """
    from sddr_core.inference.two_stage import coarse_to_fine

    initial = refiner.fuse(sample.low, sample.high).depth
    # The label recipe of the SDDR-b0 runs: merged at the sample's size, the previous estimate
    # only where no window reaches (the windows' edges are what the label is for).
    result = coarse_to_fine(
        sample.image,
        sample.predictor,
        refiner,
        initial,
        levels=levels,
        overlaps=overlaps,
        previous_weight=1e-3,
        full_size=False,
    )
    edges = np.array(result.edges, dtype=np.float32)
    if border > 0:
        low_value = float(edges.min())
        edges[:border] = edges[-border:] = low_value
        edges[:, :border] = edges[:, -border:] = low_value
    g_s = normalize_label(edges)
    return g_s, edge_regions(g_s, n_regions=n_regions, seed=seed)


class SamplePool:
    """The in-memory pool of training samples (see the module docstring).

    Args:
        data: data settings.
        train: training settings (label levels, batch size).
        seed: run seed.
        folders: loaded folder datasets (``data.folders``), if any.
        predictor_factory: builds a real predictor for folder samples with RGB, or None.
    """

    def __init__(
        self,
        data: DataConfig,
        train: TrainingConfig,
        seed: int,
        folders: list[Any] | None = None,
        predictor_factory: Any = None,
    ) -> None:
        self.data = data
        self.train = train
        self.seed = int(seed)
        self.folders = folders or []
        self.predictor_factory = predictor_factory
        self.next_scene = 0
        self.rng = np.random.default_rng([self.seed, 7])
        self.samples: list[TrainSample] = []

    # -- building ---------------------------------------------------------------------------

    def _new_spec(self) -> SampleSpec:
        scene = self.seed * 10_000_000 + self.next_scene
        self.next_scene += 1
        source = "procedural"
        if self.folders and self.rng.random() < self.data.folder_fraction:
            index = int(self.rng.integers(len(self.folders)))
            source = f"folder:{index}"
            scene = int(self.rng.integers(1 << 30))
        return draw_spec(self.rng, self.data, scene, source)

    def _make(self, spec: SampleSpec) -> TrainSample:
        return make_sample(spec, self.data, self.folders, self.predictor_factory)

    def fill(self) -> None:
        """Add new samples until the pool holds ``pool_size``."""
        while len(self.samples) < self.data.pool_size:
            self.samples.append(self._make(self._new_spec()))

    def refresh(self, fraction: float | None = None) -> list[int]:
        """Replace ``fraction`` of the pool (random slots) with new scenes; returns the
        indices replaced (they have no pseudo-label yet)."""
        frac = self.data.refresh_fraction if fraction is None else fraction
        n = min(len(self.samples), max(1, int(round(frac * len(self.samples)))))
        slots = sorted(int(i) for i in self.rng.choice(len(self.samples), n, replace=False))
        for i in slots:
            self.samples[i] = self._make(self._new_spec())
        return slots

    def label(self, refiner: Any, step: int, indices: list[int] | None = None) -> int:
        """(Re)generate pseudo-labels for ``indices`` (default: all) with ``refiner``."""
        idx = range(len(self.samples)) if indices is None else indices
        count = 0
        for i in idx:
            s = self.samples[i]
            s.g_s, s.regions = pseudo_label(
                s,
                refiner,
                tuple(self.train.label_levels),
                tuple(self.train.label_overlaps),
                seed=s.spec.noise_seed,
            )
            s.label_step = step
            count += 1
        return count

    def unlabelled(self) -> list[int]:
        return [i for i, s in enumerate(self.samples) if s.g_s is None]

    # -- batches ----------------------------------------------------------------------------

    def batch(self, batch_size: int, *, labels: bool) -> dict[str, torch.Tensor]:
        """A random batch with random flips (and transposes), as tensors:
        ``low, high, gt (B, 1, S, S)``, ``mask`` bool, and with ``labels`` ``g_s (B, 1, S, S)``
        and ``regions (B, N_g, S, S)``."""
        picks = self.rng.choice(len(self.samples), batch_size, replace=False)
        keys = ("low", "high", "gt", "g_s", "regions") if labels else ("low", "high", "gt")
        out: dict[str, list[np.ndarray]] = {k: [] for k in keys}
        for i in picks:
            s = self.samples[int(i)]
            flip_h, flip_v, transpose = self.rng.random(3) < 0.5
            for k in keys:
                a = getattr(s, k)
                if a is None:
                    raise RuntimeError(f"sample {i} has no {k}; label the pool first.")
                a = a if a.ndim == 3 else a[None]
                if flip_h:
                    a = a[..., ::-1]
                if flip_v:
                    a = a[..., ::-1, :]
                if transpose:
                    a = np.swapaxes(a, -1, -2)
                out[k].append(np.ascontiguousarray(a))
        batch = {k: torch.from_numpy(np.stack(v)) for k, v in out.items()}
        batch["mask"] = torch.isfinite(batch["gt"])
        if labels:
            batch["regions"] = batch["regions"].bool()
        return batch

    # -- resume -----------------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        """What :meth:`restore` needs (specs, scene counter, RNG state)."""
        return {
            "specs": [s.spec.__dict__ for s in self.samples],
            "next_scene": self.next_scene,
            "rng": self.rng.bit_generator.state,
        }

    def restore(self, state: dict[str, Any]) -> None:
        """Rebuild the pool from :meth:`state` (pseudo-labels must be regenerated)."""
        self.next_scene = int(state["next_scene"])
        self.rng.bit_generator.state = state["rng"]
        self.samples = []
        for d in state["specs"]:
            d = dict(d)
            d["crop"] = tuple(d.get("crop", (0, 0)))
            self.samples.append(self._make(SampleSpec(**d)))
