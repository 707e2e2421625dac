"""Training the band-fusion refiner (:mod:`sddr_core.models.band_fusion`) on many families.

``sddr train --config bandfusion`` (a config whose ``[model] variant`` starts
with ``bandfusion``) runs :func:`train_band`. Ground truth comes from two sources:

- real scenes: the training side of :data:`~sddr_core.datasets.middlebury2006.MIDDLEBURY2006_SPLIT`
  read where they lie (``data.middlebury2006``; never copied), both views, with real stereo
  matchers (:class:`~sddr_core.predictors.stereo.StereoPredictor`, ``data.stereo_methods``:
  SGBM and BM by default) run at a low and a high resolution as the ``stereo`` family;
- procedural training scenes (:func:`~sddr_core.datasets.procedural.training_scene`).

Each step draws a batch from a pool of pairs made by :func:`~sddr_core.train.families.make_pair`
(families in ``data.families`` minus ``data.exclude``: leave-one-family-out runs set
``exclude``). The loss is scale-and-shift invariant: the output is aligned to the ground truth
by least squares, then L1 plus multi-scale gradient matching, both in units of the ground
truth's mean absolute deviation. A run is resumable (``state.pt``: model, optimiser, step,
generator states) and writes ``last.safetensors`` and ``log.csv``.

On a GPU (``run.device``, default ``auto``) one process cannot draw pairs as fast as the
network trains: ``data.workers = N`` draws them in N spawned processes (each loads the real
scenes itself), and ``train.max_seconds`` ends a run after that long with its learning-rate
schedule completed (the built-in configs ``bandfusion_gpu`` and ``bandfusion_stage6``).

``data.mirror`` (a probability, 0 = off) mirrors each pair of a batch left to right, all three
maps together, after its degradation: a family that draws its errors on one side only (the
``holes`` family's occlusion bands lie left of foreground edges, as a left view's do) is then
seen both ways, and nothing in the data teaches a preferred side (stage 9, trained without it, fuses
a mirrored pair of that family far worse than the pair itself: docs/MODEL_CARD.md).

``train.ema`` (a decay, 0 = off) keeps an exponential moving average of the weights
(``torch.optim.swa_utils.AveragedModel``) and writes it, not the last step's weights, to
``last.safetensors``: what a run ends with then depends less on its last few batches.

``train.teachers`` (band-fusion checkpoints) distils an ensemble: each step the teachers fuse
the same batch, and the mean of their outputs is a second target, weighted by
``train.distill_weight``, beside the ground truth (the same aligned loss). Independent runs
of one recipe differ by more than most gaps left to the targets (docs/MODEL_CARD.md); their
ensemble is steadier than any of them, and distilling it keeps one network's cost.
"""

from __future__ import annotations

import csv
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from sddr_core.errors import InputError
from sddr_core.train.families import FAMILIES, Pair, make_pair

__all__ = ["BandTrainConfig", "load_band_config", "load_real_passes", "train_band"]


#: The (low, high) resolutions of the stereo passes of a training scene, as fractions of its
#: long side (``data.stereo_scales``).
DEFAULT_STEREO_SCALES = ((0.3, 0.7), (0.4, 1.0), (0.5, 0.8))

#: The stereo matchers run on the training scenes (``data.stereo_methods``; any of
#: :data:`sddr_core.predictors.stereo.STEREO_METHODS`). ``dis``, ``tvl1`` and ``ilk`` are
#: left out by default, as stages 1-6 had them (their configs rely on this default); stage 9
#: (``bandfusion_stage9``) adds ``dis``. ``tvl1`` and ``ilk`` are the real estimators no
#: shipped refiner has seen, kept to measure that.
DEFAULT_STEREO_METHODS = ("sgbm", "bm")


@dataclass
class BandTrainConfig:
    """What a band-fusion training run does (TOML sections ``[run]``, ``[model]``, ``[data]``,
    ``[train]``; every key optional)."""

    name: str = "bandfusion"
    out_dir: str = "runs/bandfusion"
    seed: int = 0
    threads: int = 1
    device: str = "auto"
    init_from: str = ""
    variant: str = "bandfusion-s"
    crop: int = 192
    pool_size: int = 192
    refresh_per_step: int = 2
    workers: int = 0
    families: list[str] = field(default_factory=lambda: list(FAMILIES))
    exclude: list[str] = field(default_factory=list)
    middlebury2006: str = "../shared/data/middlebury2006"
    real_fraction: float = 0.6
    depth_fraction: float = 0.25
    sharp_low_fraction: float = 0.0
    mirror: float = 0.0
    real_passes: list[str] = field(default_factory=list)
    stereo_scales: list[list[float]] = field(
        default_factory=lambda: [list(p) for p in DEFAULT_STEREO_SCALES]
    )
    stereo_methods: list[str] = field(default_factory=lambda: list(DEFAULT_STEREO_METHODS))
    steps: int = 3000
    batch_size: int = 8
    lr: float = 1e-3
    warmup: int = 100
    grad_weight: float = 1.0
    edge_weight: float = 0.0
    max_seconds: float = 0.0
    ema: float = 0.0
    teachers: list[str] = field(default_factory=list)
    distill_weight: float = 1.0
    log_every: int = 25
    checkpoint_every: int = 250

    @property
    def allowed(self) -> list[str]:
        return [f for f in self.families if f not in set(self.exclude)]


_SECTIONS = {
    "run": ("name", "out_dir", "seed", "threads", "device", "init_from"),
    "model": ("variant",),
    "data": (
        "crop",
        "pool_size",
        "refresh_per_step",
        "workers",
        "families",
        "exclude",
        "middlebury2006",
        "sharp_low_fraction",
        "mirror",
        "real_passes",
        "stereo_scales",
        "stereo_methods",
        "real_fraction",
        "depth_fraction",
    ),
    "train": (
        "steps",
        "batch_size",
        "lr",
        "warmup",
        "grad_weight",
        "edge_weight",
        "max_seconds",
        "ema",
        "teachers",
        "distill_weight",
        "log_every",
        "checkpoint_every",
    ),
}


def load_band_config(data: dict[str, Any], where: str = "config") -> BandTrainConfig:
    """A :class:`BandTrainConfig` from the parsed TOML ``data`` (unknown keys refused)."""
    cfg = BandTrainConfig()
    for section, values in data.items():
        if section not in _SECTIONS:
            raise InputError(f"{where}: unknown section [{section}] ({', '.join(_SECTIONS)}).")
        for key, value in values.items():
            if key not in _SECTIONS[section]:
                raise InputError(
                    f"{where}: unknown key {section}.{key}; known: {', '.join(_SECTIONS[section])}."
                )
            setattr(cfg, key, value)
    unknown = [f for f in [*cfg.families, *cfg.exclude] if f not in FAMILIES]
    if unknown:
        raise InputError(f"{where}: unknown families {unknown}; choose from {', '.join(FAMILIES)}.")
    if not cfg.allowed:
        raise InputError(f"{where}: every family is excluded; allow at least one.")
    scales = cfg.stereo_scales
    if not scales or any(
        not isinstance(p, list | tuple)
        or len(p) != 2
        or not all(isinstance(v, int | float) for v in p)
        or not 0 < p[0] < p[1] <= 1
        for p in scales
    ):
        raise InputError(
            f"{where}: data.stereo_scales must be a non-empty list of [low, high] fractions of "
            f"the scene's long side with 0 < low < high <= 1, got {scales!r}."
        )
    mirror = cfg.mirror
    if isinstance(mirror, bool) or not isinstance(mirror, int | float) or not 0 <= mirror <= 1:
        raise InputError(f"{where}: data.mirror is a probability in [0, 1], got {mirror!r}.")
    if not isinstance(cfg.ema, int | float) or not 0 <= cfg.ema < 1:
        raise InputError(
            f"{where}: train.ema is the decay of the weights' moving average, in [0, 1) "
            f"(0 = off; 0.998 averages about the last 500 steps), got {cfg.ema!r}."
        )
    teachers = cfg.teachers
    if not isinstance(teachers, list | tuple) or not all(isinstance(t, str) for t in teachers):
        raise InputError(
            f"{where}: train.teachers is a list of band-fusion checkpoint paths, got {teachers!r}."
        )
    if not isinstance(cfg.distill_weight, int | float) or cfg.distill_weight < 0:
        raise InputError(
            f"{where}: train.distill_weight must be a number >= 0, got {cfg.distill_weight!r}."
        )
    from sddr_core.predictors.stereo import STEREO_METHODS

    methods = cfg.stereo_methods
    if (
        not isinstance(methods, list | tuple)
        or not methods
        or any(m not in STEREO_METHODS for m in methods)
        or len(set(methods)) != len(methods)
    ):
        raise InputError(
            f"{where}: data.stereo_methods must be a non-empty list of distinct stereo "
            f"matchers from {', '.join(STEREO_METHODS)}, got {methods!r}."
        )
    return cfg


# -- ground truth ----------------------------------------------------------------------------


@dataclass
class _Scene:
    gt: np.ndarray  # disparity, NaN unknown
    image: np.ndarray  # float RGB
    stereo: list[tuple[np.ndarray, np.ndarray]]  # (low, high) at the scene's size


def load_real_passes(paths: list[str]) -> dict[tuple[str, str], list[tuple[Any, Any]]]:
    """Passes of other real estimators on the training scenes, from ``.npz`` files (config
    ``data.real_passes``): arrays named ``<scene>/<view>/<k>/low`` and ``.../high`` (view
    ``left`` or ``right``, ``k`` any label), disparity-like maps of any size. Returns
    ``{(scene, view): [(low, high), ...]}``. A real monocular network run elsewhere (say on a
    GPU) can so join the ``stereo`` family of real estimators.

    Raises:
        InputError: a missing or unreadable file, a badly named or shaped array, or a scene
            outside the training split (validation scenes are never trained on).
    """
    from sddr_core.datasets.middlebury2006 import MIDDLEBURY2006_SPLIT

    train = set(MIDDLEBURY2006_SPLIT["train"])
    out: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
    for path in paths:
        try:
            arrays = dict(np.load(path, allow_pickle=False))
        except (OSError, ValueError) as exc:
            raise InputError(
                f"data.real_passes: cannot read {path}: {exc}. Write such passes with "
                "benchmarks/mono_cnn.py passes (the header of the built-in config "
                "bandfusion_stage5 has the commands), or drop the entry."
            ) from exc
        for key, arr in arrays.items():
            parts = key.split("/")
            if (
                len(parts) != 4
                or parts[1] not in ("left", "right")
                or parts[3] not in ("low", "high")
            ):
                raise InputError(
                    f"data.real_passes: {path} holds {key!r}; name arrays "
                    "'<scene>/<left|right>/<k>/<low|high>'."
                )
            if parts[0] not in train:
                raise InputError(
                    f"data.real_passes: {path} holds passes of {parts[0]!r}, which is not a "
                    "Middlebury 2006 training scene (validation scenes are never trained on)."
                )
            if arr.ndim != 2 or not np.isfinite(arr).all():
                raise InputError(f"data.real_passes: {path}:{key} is not a finite (h, w) map.")
            slot = out.setdefault((parts[0], parts[1]), {}).setdefault(f"{path}:{parts[2]}", {})
            slot[parts[3]] = arr.astype(np.float32)
    pairs: dict[tuple[str, str], list[tuple[Any, Any]]] = {}
    for where, items in out.items():
        for label, slot in items.items():
            if set(slot) != {"low", "high"}:
                raise InputError(f"data.real_passes: {label} of {where} lacks its low or high.")
            pairs.setdefault(where, []).append((slot["low"], slot["high"]))
    return pairs


def _real_scenes(
    root: str,
    real_passes: list[str] | None = None,
    stereo_scales: Any = DEFAULT_STEREO_SCALES,
    stereo_methods: Any = DEFAULT_STEREO_METHODS,
) -> list[_Scene]:
    """Training scenes of Middlebury 2006, both views, with stereo passes (each matcher of
    ``stereo_methods`` at each ``(low, high)`` of ``stereo_scales``) and the passes of
    ``real_passes`` (:func:`load_real_passes`)."""
    from sddr_core.datasets.middlebury2006 import load_middlebury2006
    from sddr_core.ops.resize import resize_map
    from sddr_core.predictors.stereo import StereoPredictor

    extra = load_real_passes(real_passes or [])
    scenes = []
    for view in ("left", "right"):
        for sample in load_middlebury2006(root, "train", view=view):
            left, right = sample.meta["left"], sample.meta["right"]
            h, w = sample.gt.shape
            side = max(h, w)
            stereo = []
            for method in stereo_methods:
                pred = StereoPredictor(
                    left, right, method=method, native_resolution=side // 3, view=view
                )
                for lo_f, hi_f in stereo_scales:
                    lo = pred.predict(sample.rgb, int(side * lo_f))
                    hi = pred.predict(sample.rgb, int(side * hi_f))
                    stereo.append((resize_map(lo, (h, w)), resize_map(hi, (h, w))))
            for lo, hi in extra.get((sample.meta["scene"], view), []):
                stereo.append((resize_map(lo, (h, w)), resize_map(hi, (h, w))))
            image = np.asarray(sample.rgb, np.float32) / 255.0
            scenes.append(_Scene(sample.gt, image, stereo))
    return scenes


def _training_scenes(cfg: BandTrainConfig) -> list[_Scene]:
    """The real scenes a run of ``cfg`` draws from (none with ``data.real_fraction = 0``)."""
    if cfg.real_fraction <= 0:
        return []
    return _real_scenes(cfg.middlebury2006, cfg.real_passes, cfg.stereo_scales, cfg.stereo_methods)


def _crop_scene(scene: _Scene, crop: int, rng: np.random.Generator) -> tuple[Any, ...]:
    """A random scaled, flipped ``crop``×``crop`` window of a real scene and of one of its
    stereo pass pairs."""
    h, w = scene.gt.shape
    lo_scale = crop / min(h, w)
    scale = float(rng.uniform(max(lo_scale, 0.55), 1.0))
    sh, sw = max(crop, int(round(h * scale))), max(crop, int(round(w * scale)))
    y0, x0 = int(rng.integers(0, sh - crop + 1)), int(rng.integers(0, sw - crop + 1))
    flip = rng.random() < 0.5

    def cut(x: np.ndarray, interp: int) -> np.ndarray:
        r = cv2.resize(x, (sw, sh), interpolation=interp)[y0 : y0 + crop, x0 : x0 + crop]
        return np.ascontiguousarray(r[:, ::-1] if flip else r)

    gt = cut(np.nan_to_num(scene.gt, nan=0.0), cv2.INTER_NEAREST)
    gt[gt <= 0] = np.nan
    image = cut(scene.image, cv2.INTER_AREA)
    lo, hi = scene.stereo[int(rng.integers(len(scene.stereo)))]
    return gt, image, (cut(lo, cv2.INTER_LINEAR), cut(hi, cv2.INTER_LINEAR))


def _draw_pair(
    cfg: BandTrainConfig, real: list[_Scene], rng: np.random.Generator, scene_seed: int
) -> Pair:
    """One training pair: a real crop (share ``cfg.real_fraction``) or the procedural training
    scene ``scene_seed``, degraded by :func:`~sddr_core.train.families.make_pair`."""
    from sddr_core.datasets.procedural import training_scene

    for attempt in range(10):
        if real and rng.random() < cfg.real_fraction:
            gt, image, stereo = _crop_scene(real[int(rng.integers(len(real)))], cfg.crop, rng)
        else:
            scene = training_scene(scene_seed + attempt, (cfg.crop, cfg.crop))
            gt, image, stereo = scene.disparity, scene.image, None
        if np.isfinite(gt).mean() < 0.5:
            continue
        # Two-stage windows fuse an already sharp estimate (as "low") with a window's
        # pass: a share of pairs has a low pass nearly as fine as the high one.
        sharp = cfg.sharp_low_fraction > 0 and rng.random() < cfg.sharp_low_fraction
        pair = make_pair(
            gt,
            image,
            rng,
            families=cfg.allowed,
            stereo=stereo,
            depth_fraction=cfg.depth_fraction,
            **({"low_range": (0.6, 0.9)} if sharp else {}),
        )
        if all(np.isfinite(m).all() for m in (pair.low, pair.high)):
            return pair
    raise RuntimeError("could not draw a usable training pair in 10 tries")


# Worker processes (``data.workers``) are spawned, not forked (a fork of a process whose
# OpenMP or OpenCV thread pools have run can hang): each loads the real scenes itself, then
# draws pairs from seeds sent by the trainer.
_WORKER: dict[str, Any] = {}


def _worker_init(cfg: BandTrainConfig) -> None:
    import torch

    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    real = _training_scenes(cfg)
    _WORKER["cfg"], _WORKER["real"] = cfg, real


def _worker_pair(seed: int) -> Pair:
    return _draw_pair(_WORKER["cfg"], _WORKER["real"], np.random.default_rng(seed), seed)


class _Pool:
    """The training pairs a batch is drawn from, ``refresh``-ed as training goes. With
    ``data.workers`` > 0 new pairs are drawn by that many processes while the network
    trains (for a GPU run: one process cannot draw pairs as fast as a GPU consumes them); the
    run is then reproducible in distribution, not bit for bit."""

    def __init__(self, cfg: BandTrainConfig, rng: np.random.Generator) -> None:
        self.cfg, self.rng = cfg, rng
        self.next_seed = int(rng.integers(1 << 30))
        self.workers: Any = None
        self.pending: list[Any] = []
        self.real: list[_Scene] = []
        if cfg.workers > 0:
            import multiprocessing as mp

            # A worker whose set-up fails is replaced by another that fails too: say what is
            # wrong here, before any is started.
            if cfg.real_fraction > 0:
                if not Path(cfg.middlebury2006).is_dir():
                    raise InputError(
                        f"data.middlebury2006: {cfg.middlebury2006} is not a folder; point it "
                        "at the Middlebury 2006 scenes or set data.real_fraction = 0."
                    )
                load_real_passes(cfg.real_passes)

            self.workers = mp.get_context("spawn").Pool(
                int(cfg.workers), initializer=_worker_init, initargs=(cfg,)
            )
            seeds = [self._seed() for _ in range(cfg.pool_size)]
            self.pairs = list(self.workers.imap(_worker_pair, seeds, chunksize=4))
            self.pending = [
                self.workers.apply_async(_worker_pair, (self._seed(),))
                for _ in range(4 * int(cfg.workers))
            ]
        else:
            self.real = _training_scenes(cfg)
            self.pairs = [self._make() for _ in range(cfg.pool_size)]

    def _seed(self) -> int:
        return int(self.rng.integers(1 << 62))

    def _make(self) -> Pair:
        self.next_seed += 10
        return _draw_pair(self.cfg, self.real, self.rng, self.next_seed)

    def refresh(self, n: int) -> None:
        """Replace ``n`` random pairs by new ones (with workers: at least ``n``, and every
        pair that is ready)."""
        if self.workers is None:
            new = [self._make() for _ in range(n)]
        else:
            ready = [r for r in self.pending if r.ready()]
            for r in self.pending:  # oldest first, until at least n are in
                if len(ready) >= n:
                    break
                if r not in ready:
                    r.wait()
                    ready.append(r)
            self.pending = [r for r in self.pending if r not in ready]
            new = [r.get() for r in ready]
            self.pending += [self.workers.apply_async(_worker_pair, (self._seed(),)) for _ in ready]
        for pair in new:
            self.pairs[int(self.rng.integers(len(self.pairs)))] = pair

    def close(self) -> None:
        """Let the draws under way finish, then end the workers (``Pool.terminate`` can hang
        while its task queue is busy)."""
        if self.workers is not None:
            for r in self.pending:
                r.wait(timeout=120)
            self.workers.close()
            self.workers.join()
            self.workers, self.pending = None, []

    def batch(self, size: int) -> tuple[Any, Any, Any]:
        import torch

        idx = self.rng.choice(len(self.pairs), size=size, replace=False)
        picks = [self.pairs[int(i)] for i in idx]
        maps = [[p.low, p.high, p.gt] for p in picks]
        if self.cfg.mirror > 0:  # drawn only when asked: runs without it stay as they were
            for m, flip in zip(maps, self.rng.random(size) < self.cfg.mirror, strict=True):
                if flip:
                    m[:] = [a[:, ::-1] for a in m]
        low, high, gt = (
            torch.from_numpy(np.stack([m[j] for m in maps]))[:, None] for j in range(3)
        )
        return low, high, gt


# -- loss ------------------------------------------------------------------------------------


def aligned_loss(out: Any, gt: Any, grad_weight: float = 1.0, edge_weight: float = 0.0) -> Any:
    """Scale-and-shift invariant loss: ``out`` aligned to ``gt`` by per-image least squares
    over the known pixels, residual in units of the ground truth's mean absolute deviation;
    L1 plus ``grad_weight`` × multi-scale gradient matching, plus ``edge_weight`` × the
    shortfall of the output's 1-pixel steps at the ground truth's depth edges (see
    :func:`edge_shortfall`). ``(B, 1, H, W)`` × 2 → scalar."""
    import torch

    from sddr_core.train.losses import gradient_matching_loss

    mask = torch.isfinite(gt)
    g = torch.nan_to_num(gt)
    m = mask.float()
    n = m.sum(dim=(2, 3), keepdim=True).clamp_min(1.0)
    om = (out * m).sum(dim=(2, 3), keepdim=True) / n
    gm = (g * m).sum(dim=(2, 3), keepdim=True) / n
    oc, gc = (out - om) * m, (g - gm) * m
    scale = (oc * gc).sum(dim=(2, 3), keepdim=True) / (oc * oc).sum(
        dim=(2, 3), keepdim=True
    ).clamp_min(1e-12)
    dev = (gc.abs().sum(dim=(2, 3), keepdim=True) / n).clamp_min(1e-6)
    pred_n = (scale * (out - om) + gm) / dev
    target_n = g / dev
    l1 = ((pred_n - target_n).abs() * m).sum() / m.sum().clamp_min(1.0)
    loss = l1 + grad_weight * gradient_matching_loss(
        pred_n, torch.where(mask, target_n, torch.nan), mask
    )
    if edge_weight > 0:
        loss = loss + edge_weight * edge_shortfall(pred_n, target_n, mask)
    return loss


def edge_shortfall(pred_n: Any, target_n: Any, mask: Any, top: float = 0.05) -> Any:
    """Mean of ``max(0, |Δgt| − |Δpred|)`` over the neighbour pairs (x and y) whose ground-truth
    step is among the largest ``top`` fraction of each image: a blurred or missing depth edge
    costs, a sharper one does not. Boundary F1 counts exactly such 1-pixel steps, which L1 and
    gradient matching reward only weakly."""
    import torch

    total, count = pred_n.sum() * 0.0, 0
    for dim in (-1, -2):
        n = pred_n.shape[dim] - 1
        dg = (target_n.narrow(dim, 1, n) - target_n.narrow(dim, 0, n)).abs()
        dp = (pred_n.narrow(dim, 1, n) - pred_n.narrow(dim, 0, n)).abs()
        ok = mask.narrow(dim, 1, n) & mask.narrow(dim, 0, n)
        dg = torch.where(ok, dg, torch.zeros_like(dg))
        flat = dg.flatten(1)
        k = max(1, int(top * flat.shape[1]))
        thresh = flat.topk(k, dim=1).values[:, -1].view(-1, 1, 1, 1)
        sel = ok & (dg >= thresh) & (dg > 0)
        total = total + (torch.relu(dg - dp) * sel).sum()
        count += int(sel.sum())
    return total / max(count, 1)


def logit_penalty(logits: list[Any], bound: float = 4.0, weight: float = 1e-2) -> Any:
    """``weight`` × mean of ``(|logit| − bound)²`` beyond ``bound``: keeps the trust logits where
    the sigmoid still has a gradient (Ω within about [0.02, 0.98]) so that training never
    stalls on saturated heads."""
    import torch

    return weight * sum(torch.relu(lg.abs() - bound).pow(2).mean() for lg in logits)


# -- the run ---------------------------------------------------------------------------------


def _progress(step: int, elapsed: float, cfg: BandTrainConfig) -> float:
    """How far the run is, 0 → 1: by steps, or by ``max_seconds`` of this invocation when that
    comes first (a time-boxed run on a lent GPU still ends its schedule)."""
    done = step / max(1, cfg.steps)
    if cfg.max_seconds > 0:
        done = max(done, elapsed / cfg.max_seconds)
    return min(done, 1.0)


def _lr(step: int, cfg: BandTrainConfig, progress: float | None = None) -> float:
    """Linear warm-up over ``warmup`` steps, then cosine from ``lr`` to 5 % of it; the cosine
    follows ``progress`` (:func:`_progress`) when given."""
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    if progress is None:
        progress = step / max(1, cfg.steps)
    start = cfg.warmup / max(1, cfg.steps)
    t = (progress - start) / max(1e-9, 1.0 - start)
    return cfg.lr * (0.05 + 0.95 * 0.5 * (1 + np.cos(np.pi * min(max(t, 0.0), 1.0))))


def _init_weights(model: Any, state: dict[str, Any]) -> None:
    """Load ``state`` into ``model``; a head the checkpoint lacks (the base trust of
    ``bandfusion-sb`` started from a ``bandfusion-s`` run) keeps its initialisation."""
    try:
        missing, unexpected = model.load_state_dict(state, strict=False)
    except RuntimeError as err:  # same names, other shapes: another width
        raise InputError(
            f"init_from does not fit the model variant ({str(err).splitlines()[-1].strip()}); "
            "start from a checkpoint of the same variant."
        ) from err
    new = [k for k in missing if not k.startswith("base_head.")]
    if new or unexpected:
        raise InputError(
            f"init_from does not fit the model variant: missing {new[:4]}, "
            f"unexpected {list(unexpected)[:4]}; start from a checkpoint of the same variant."
        )


def train_band(
    cfg: BandTrainConfig,
    *,
    progress: bool = True,
    resume: bool = True,
    overwrite: bool = False,
) -> Path:
    """Run (or resume) a band-fusion training run; returns ``out_dir/last.safetensors``.

    ``resume=False`` starts over; in a folder that already holds a run (``state.pt``) that
    needs ``overwrite=True``, which removes the run's state and log first.

    Raises:
        OutputExistsError: ``resume`` is off, ``out_dir`` holds a run and ``overwrite`` is
            False.
    """
    import torch

    from sddr_core.device import resolve_device
    from sddr_core.models.band_fusion import create_band_model
    from sddr_core.refiners.network import read_checkpoint, save_refiner
    from sddr_core.train.trainer import atomic_torch_save, start_over

    if cfg.threads:
        torch.set_num_threads(int(cfg.threads))
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    device = resolve_device(cfg.device)
    model = create_band_model(cfg.variant)
    if cfg.init_from and not Path(cfg.init_from).is_file():
        raise InputError(
            f"run.init_from: {cfg.init_from} not found. Train the run it continues first (the "
            'config\'s header says which), or set run.init_from = "" to start from scratch.'
        )
    if cfg.init_from:
        _init_weights(model, read_checkpoint(cfg.init_from)[0].state_dict())
    step, state_path, state = 0, out / "state.pt", None
    if not resume:
        start_over(out, ("state.pt", "log.csv", "last.safetensors"), overwrite=overwrite)
    if state_path.is_file():
        state = torch.load(state_path, weights_only=True, map_location="cpu")
        model.load_state_dict(state["model"])
        step = int(state["step"])
        rng.bit_generator.state = state["rng"]
        torch.set_rng_state(state["torch_rng"])
        if cfg.ema and "ema" not in state:
            raise InputError(
                f"{state_path} was written without train.ema: resume it without, or start "
                "over (--no-resume --overwrite)."
            )
    teachers = _load_teachers(cfg.teachers, device)
    (out / "config.json").write_text(json.dumps(cfg.__dict__, indent=2))
    pool = _Pool(cfg, rng)
    model.to(device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=1e-4)
    if state is not None:
        opt.load_state_dict(state["optim"])
    ema = _ema_model(model, cfg.ema)
    if ema is not None and state is not None:
        ema.load_state_dict(state["ema"])
    meta = {"families": cfg.allowed, "run": cfg.name}
    names = ", ".join(Path(t).name for t in cfg.teachers)
    taught = f"; distilled from {names} (weight {cfg.distill_weight})" if teachers else ""
    what = (
        f"of {cfg.batch_size}x{cfg.crop}^2; families {', '.join(cfg.allowed)}; ground truth: "
        f"Middlebury 2006 train split (share {cfg.real_fraction}"
        + (f", stereo matchers {', '.join(cfg.stereo_methods)}" if cfg.real_fraction > 0 else "")
        + ") + procedural scenes"
        + (
            f"; started from {Path(cfg.init_from).parent.name}/{Path(cfg.init_from).name}"
            if cfg.init_from
            else ""
        )
        + taught
    )
    log = out / "log.csv"
    new_log = not log.is_file()
    t0, running = time.time(), []
    model.train()
    try:
        with log.open("a", newline="") as fh:
            writer = csv.writer(fh)
            if new_log:
                writer.writerow(["step", "loss", "lr", "seconds"])
            progress_now = _progress(step, 0.0, cfg)
            while progress_now < 1.0:
                lr = _lr(step, cfg, progress_now)
                for group in opt.param_groups:
                    group["lr"] = lr
                low, high, gt = (
                    t.to(device, non_blocking=True) for t in pool.batch(cfg.batch_size)
                )
                pred = model(low, high)
                loss = aligned_loss(
                    pred["depth"], gt, cfg.grad_weight, cfg.edge_weight
                ) + logit_penalty(pred["logits"])
                if teachers and cfg.distill_weight > 0:
                    with torch.no_grad():
                        target = torch.stack([t(low, high)["depth"] for t in teachers]).mean(0)
                    loss = loss + cfg.distill_weight * aligned_loss(
                        pred["depth"], target, cfg.grad_weight
                    )
                opt.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                opt.step()
                if ema is not None:
                    ema.update_parameters(model)
                pool.refresh(cfg.refresh_per_step)
                step += 1
                progress_now = _progress(step, time.time() - t0, cfg)
                running.append(float(loss.detach()))
                if step % cfg.log_every == 0:
                    writer.writerow([step, np.mean(running), lr, round(time.time() - t0)])
                    fh.flush()
                    if progress:
                        print(f"step {step} loss {np.mean(running):.4f} ({time.time() - t0:.0f} s)")
                    running = []
                if step % cfg.checkpoint_every == 0 or progress_now >= 1.0:
                    averaged = f" (moving average of the weights, decay {cfg.ema})" if ema else ""
                    save_refiner(
                        model if ema is None else ema.module,
                        out / "last.safetensors",
                        meta={
                            **meta,
                            "step": step,
                            "training": f"band-fusion refiner, {step} steps {what}{averaged}",
                        },
                        overwrite=True,
                    )
                    atomic_torch_save(
                        {
                            "model": model.state_dict(),
                            "optim": opt.state_dict(),
                            "step": step,
                            "rng": rng.bit_generator.state,
                            "torch_rng": torch.get_rng_state(),
                            **({"ema": ema.state_dict()} if ema is not None else {}),
                        },
                        state_path,
                    )
    finally:
        pool.close()
    return out / "last.safetensors"


def _load_teachers(paths: list[str], device: Any) -> list[Any]:
    """The band-fusion networks of ``paths``, frozen, in eval mode on ``device``.

    Raises:
        InputError: a path is missing or is not a band-fusion checkpoint.
    """
    from sddr_core.models.band_fusion import BandFusionNet
    from sddr_core.refiners.network import read_checkpoint

    teachers = []
    for path in paths:
        if not Path(path).is_file():
            raise InputError(f"train.teachers: {path} not found; train or fetch it first.")
        model = read_checkpoint(path)[0]
        if not isinstance(model, BandFusionNet):
            raise InputError(
                f"train.teachers: {path} holds a {type(model).__name__}, not a band-fusion "
                "network; teachers must fuse as the student does."
            )
        model.to(device).eval().requires_grad_(False)
        teachers.append(model)
    return teachers


def _ema_model(model: Any, decay: float) -> Any:
    """A moving average of ``model``'s weights with ``decay`` (buffers too), or None for 0."""
    if not decay:
        return None
    from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

    return AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(decay), use_buffers=True)


def load_band_file(
    path: str | Path, overrides: dict[str, Any] | None = None
) -> BandTrainConfig | None:
    """The :class:`BandTrainConfig` of a TOML file whose ``[model] variant`` is a band-fusion
    variant, with ``overrides`` (``{"section.key": value}``) applied; None for any other
    config (those train the SDDR network, :func:`sddr_core.train.train`)."""
    from sddr_core.train.config import resolve_config, toml_module

    try:
        p = resolve_config(path)
    except InputError:
        return None  # load_config says what is wrong
    if p.suffix.lower() != ".toml":
        return None
    data = toml_module().loads(p.read_text(encoding="utf-8"))
    if not str(data.get("model", {}).get("variant", "")).startswith("bandfusion"):
        return None
    for dotted, value in (overrides or {}).items():
        section, _, key = dotted.partition(".")
        data.setdefault(section, {})[key] = value
    return load_band_config(data, str(p))
