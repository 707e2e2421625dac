"""The training loop behind ``sddr train`` (METHOD.md section 5).

Schedule: ``gt_only_steps`` steps with L_gt alone, then self-distillation: pseudo-labels G_S
are made for the pool with the current network (coarse-to-fine, the two-stage code) and
regenerated every ``label_every`` steps as the network improves; the loss becomes
``L_gt + 0.5·L_grad + 0.1·L_fusion``.

Outputs under ``run.out_dir``:

- ``checkpoints/step_NNNNNN.safetensors`` (the last ``checkpoint.keep``), ``last.safetensors``
  and ``best.safetensors`` (lowest ``D³R + (1 − δ1)`` on validation): refiner checkpoints
  written by :func:`sddr_core.refiners.network.save_refiner`, loadable by ``load_refiner``;
- ``state.pt``: optimiser, step, pool and RNG states, to resume;
- ``metrics.csv`` (training losses), ``val.csv`` (validation), ``metrics.json`` (both, the
  config and the baselines) and ``curve.png`` (training curve);
- ``config.json``: the resolved configuration.
"""

from __future__ import annotations

import csv
import json
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sddr_core.errors import InputError
from sddr_core.train.config import TrainConfig
from sddr_core.train.data import SamplePool
from sddr_core.train.losses import total_loss

__all__ = ["TrainResult", "Trainer", "ValidationSet", "train"]

_TRAIN_COLUMNS = (
    "step", "phase", "lr", "loss", "l_gt", "l_grad", "l_fusion", "l_anchor", "sec_per_step",
    "elapsed_s",
)  # fmt: skip
_VAL_COLUMNS = ("step", "d3r", "delta1", "abs_rel", "boundary_f1", "ord", "score", "elapsed_s")


@dataclass
class TrainResult:
    """What :func:`train` returns."""

    out_dir: Path
    steps: int
    last: Path
    best: Path | None
    val: list[dict[str, float]] = field(default_factory=list)
    baselines: dict[str, dict[str, float]] = field(default_factory=dict)
    wall_s: float = 0.0


class ValidationSet:
    """Held-out procedural scenes with cached simulated low/high predictions, evaluated with
    the one-stage refiner at the scene size (δ1, REL, D³R, ORD, boundary F1 in disparity)."""

    def __init__(
        self,
        n: int,
        long_side: int,
        *,
        strength: float = 1.0,
        native_ratio: float = 0.5,
        seed: int = 1000,
    ) -> None:
        from sddr_core.datasets.procedural import heldout_scenes
        from sddr_core.metrics import gt_superpixels
        from sddr_core.predictors.base import run_predictor
        from sddr_core.predictors.simulated import SimulatedPredictor

        self.items = []
        native = max(16, int(round(long_side * native_ratio)))
        for i, sample in enumerate(heldout_scenes(n, seed=seed, long_side=long_side)):
            gt = sample.gt
            pred = SimulatedPredictor(gt, kind="disparity", native_resolution=native,
                                      strength=strength, seed=seed + i)  # fmt: skip
            high_res = min(2 * native, long_side)
            low = run_predictor(pred, sample.rgb, native)
            high = run_predictor(pred, sample.rgb, high_res)
            sp = gt_superpixels(gt, kind="disparity", n_segments=_n_segments(gt.shape))
            self.items.append((gt, low, high, sp))

    def evaluate(self, fuse: Any) -> dict[str, float]:
        """Mean metrics of ``fuse(low, high) -> depth`` (maps at the scene size) over the
        scenes; ``fuse=None`` scores the low input, ``"high"`` the high input."""
        from sddr_core.ops.resize import resize_map

        rows = []
        for gt, low, high, sp in self.items:
            lo = resize_map(low, gt.shape)
            hi = resize_map(high, gt.shape)
            if fuse is None:
                pred = lo
            elif fuse == "high":
                pred = hi
            else:
                pred = resize_map(np.asarray(fuse(lo, hi), np.float32), gt.shape)
            rows.append(score_prediction(pred, gt, sp))
        return {k: float(np.mean([r[k] for r in rows])) for k in rows[0]} if rows else {}


def _n_segments(shape: tuple[int, int]) -> int:
    """SLIC superpixel count for a ground truth of ``shape``: Boost's 5000 at ~0.5 MP, fewer
    on small maps (about 100 pixels a superpixel)."""
    return int(min(5000, max(200, shape[0] * shape[1] // 100)))


def score_prediction(pred: np.ndarray, gt: np.ndarray, sp: Any = None) -> dict[str, float]:
    """δ1, REL (disparity space, after a least-squares fit), D³R, ORD and boundary F1
    (``empty_direction="skip"``, as for synthetic scenes) of a disparity ``pred``."""
    from sddr_core.metrics import depth_metrics, edge_metrics

    valid = np.isfinite(gt) & (gt > 0)
    kw = {"mask": valid, "gt_kind": "disparity", "pred_kind": "disparity"}
    d = depth_metrics(pred, gt, space="disparity", **kw)
    e = edge_metrics(pred, gt, superpixels=sp, empty_direction="skip", **kw)
    return {
        "d3r": float(e["d3r"]),
        "delta1": float(d["delta1"]),
        "abs_rel": float(d["abs_rel"]),
        "boundary_f1": float(e["boundary_f1"]),
        "ord": float(e["ord"]),
    }


def _lr_at(step: int, cfg: TrainConfig) -> float:
    t = cfg.train
    if step < t.warmup:
        return t.lr * (step + 1) / max(1, t.warmup)
    progress = (step - t.warmup) / max(1, t.steps - t.warmup)
    cos = 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))
    return t.lr * (t.min_lr_ratio + (1 - t.min_lr_ratio) * cos)


def _append_csv(path: Path, columns: tuple[str, ...], row: dict[str, Any]) -> None:
    new = not path.exists()
    with open(path, "a", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=columns, extrasaction="ignore")
        if new:
            w.writeheader()
        w.writerow({k: row.get(k, "") for k in columns})


def atomic_torch_save(obj: Any, path: Path) -> None:
    """``torch.save`` to a temporary file beside ``path``, then replace ``path``: a run
    stopped mid-save keeps its previous state."""
    tmp = path.with_name(path.name + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def start_over(out: Path, run_files: tuple[str, ...], *, overwrite: bool) -> None:
    """Prepare ``out`` for a run that does not resume: nothing to do where no run lies
    (no ``state.pt``); else, with ``overwrite``, remove ``run_files`` (the run's state and
    logs; its checkpoints are replaced as steps pass).

    Raises:
        OutputExistsError: ``out`` holds a run and ``overwrite`` is False.
    """
    if not (out / "state.pt").exists():
        return
    if not overwrite:
        from sddr_core.errors import OutputExistsError

        raise OutputExistsError(
            f"{out} already holds a training run (state.pt); resume it (leave out "
            "--no-resume; run.resume on), pass --overwrite to start over there, or choose "
            "another --out."
        )
    for name in run_files:
        (out / name).unlink(missing_ok=True)


class Trainer:
    """One training run (see the module docstring); :meth:`run` does it all."""

    def __init__(self, cfg: TrainConfig, *, progress: bool = True, overwrite: bool = False) -> None:
        from sddr_core.device import resolve_device
        from sddr_core.models.refiner_net import SDDRNet

        self.cfg = cfg
        self.progress = progress
        self.overwrite = overwrite
        if cfg.run.threads > 0:
            torch.set_num_threads(int(cfg.run.threads))
        self.device = resolve_device(cfg.run.device)
        self.out = Path(cfg.run.out_dir)
        self.ckpt_dir = self.out / "checkpoints"
        torch.manual_seed(cfg.run.seed)
        self.model = SDDRNet(cfg.model_config()).to(self.device)
        if cfg.run.init_from:
            from sddr_core.refiners.network import read_checkpoint

            init, _ = read_checkpoint(cfg.run.init_from)
            if init.config != self.model.config:
                raise InputError(
                    f"init_from {cfg.run.init_from} holds architecture {init.config.name!r}, "
                    f"but the config asks for {self.model.config.name!r}."
                )
            self.model.load_state_dict(init.state_dict())
        self.opt = torch.optim.AdamW(
            self.model.parameters(), lr=cfg.train.lr, weight_decay=cfg.train.weight_decay
        )
        self.pool = SamplePool(
            cfg.data, cfg.train, cfg.run.seed, self._folders(), self._predictor_factory()
        )
        self.step = 0
        self.history: list[dict[str, Any]] = []
        self.val_history: list[dict[str, Any]] = []
        self.baselines: dict[str, dict[str, float]] = {}
        self.best_score = math.inf
        self.elapsed = 0.0
        self.labelled_at = -1
        self._val: ValidationSet | None = None

    # -- setup ------------------------------------------------------------------------------

    def _folders(self) -> list[Any]:
        from sddr_core.train.data import open_folder

        return [open_folder(p) for p in self.cfg.data.folders]

    def _predictor_factory(self) -> Any:
        name = self.cfg.data.predictor
        if name == "simulated":
            return None
        from sddr_core.predictors.base import as_predictor

        cache: dict[str, Any] = {}

        def factory() -> Any:
            if "p" not in cache:
                cache["p"] = as_predictor(name, device=str(self.device))
            return cache["p"]

        return factory

    def _refiner(self) -> Any:
        from sddr_core.refiners.network import NetworkRefiner

        return NetworkRefiner(
            self.model, device=self.device, name="training",
            max_working_side=max(self.cfg.data.crop, self.cfg.val.long_side, 64),
        )  # fmt: skip

    @property
    def validation(self) -> ValidationSet | None:
        v = self.cfg.val
        if v.scenes <= 0:
            return None
        if self._val is None:
            self._val = ValidationSet(
                v.scenes, v.long_side, strength=v.strength, native_ratio=v.native_ratio,
                seed=v.seed,
            )  # fmt: skip
        return self._val

    # -- state ------------------------------------------------------------------------------

    def _meta(self, kind: str) -> dict[str, Any]:
        c = self.cfg
        return {
            "training": (
                f"sddr train {c.run.name}: {self.step} steps of {c.train.batch_size} procedural "
                f"{c.data.crop}px pairs, simulated predictor (strength {c.data.strength[0]:g}-"
                f"{c.data.strength[1]:g}); L_gt for {c.train.gt_only_steps} steps, then "
                f"self-distillation (L_grad {'on' if c.train.use_grad else 'off'}, L_fusion "
                f"{'on' if c.train.use_fusion else 'off'})"
            ),
            "train_step": self.step,
            "train_run": c.run.name,
            "train_config": c.to_dict(),
            "checkpoint_kind": kind,
            "val": self.val_history[-1] if self.val_history else {},
        }

    def save_checkpoint(self, path: Path, kind: str) -> Path:
        from sddr_core.refiners.network import save_refiner

        path.parent.mkdir(parents=True, exist_ok=True)
        return save_refiner(self.model, path, meta=self._meta(kind), overwrite=True)

    def save_state(self) -> None:
        self.ckpt_dir.mkdir(parents=True, exist_ok=True)
        step_path = self.ckpt_dir / f"step_{self.step:06d}.safetensors"
        self.save_checkpoint(step_path, "step")
        self.save_checkpoint(self.out / "last.safetensors", "last")
        steps = sorted(self.ckpt_dir.glob("step_*.safetensors"))
        for old in steps[: max(0, len(steps) - self.cfg.checkpoint.keep)]:
            old.unlink()
        state = {
            "step": self.step,
            "model": self.model.state_dict(),
            "optimizer": self.opt.state_dict(),
            "pool": self.pool.state(),
            "torch_rng": torch.get_rng_state(),
            "history": self.history,
            "val_history": self.val_history,
            "baselines": self.baselines,
            "best_score": self.best_score,
            "elapsed": self.elapsed,
            "labelled_at": self.labelled_at,
            "config": self.cfg.to_dict(),
        }
        atomic_torch_save(state, self.out / "state.pt")
        self.write_logs()

    def _check_fresh_start(self) -> None:
        """Starting over (``resume`` off) in a folder that holds a run needs ``overwrite``;
        with it, that run's logs are removed (its checkpoints are replaced as steps pass)."""
        if not self.cfg.run.resume:
            files = ("metrics.csv", "val.csv", "metrics.json", "state.pt", "best.safetensors")
            start_over(self.out, files, overwrite=self.overwrite)

    def try_resume(self) -> bool:
        path = self.out / "state.pt"
        if not (self.cfg.run.resume and path.is_file()):
            return False
        state = torch.load(path, map_location=self.device, weights_only=False)
        self.model.load_state_dict(state["model"])
        self.opt.load_state_dict(state["optimizer"])
        self.step = int(state["step"])
        self.pool.restore(state["pool"])
        torch.set_rng_state(state["torch_rng"])
        self.history = list(state["history"])
        self.val_history = list(state["val_history"])
        self.baselines = dict(state["baselines"])
        self.best_score = float(state["best_score"])
        self.elapsed = float(state["elapsed"])
        self.labelled_at = int(state.get("labelled_at", -1))
        # the logs may hold rows written after the state was saved: rewrite them from it
        for name, columns, rows in (
            ("metrics.csv", _TRAIN_COLUMNS, self.history),
            ("val.csv", _VAL_COLUMNS, self.val_history),
        ):
            (self.out / name).unlink(missing_ok=True)
            for row in rows:
                _append_csv(self.out / name, columns, row)
        return True

    # -- logs -------------------------------------------------------------------------------

    def write_logs(self) -> None:
        data = {
            "config": self.cfg.to_dict(),
            "step": self.step,
            "elapsed_s": self.elapsed,
            "baselines": self.baselines,
            "train": self.history,
            "val": self.val_history,
        }
        tmp = self.out / "metrics.json.tmp"
        tmp.write_text(json.dumps(data, indent=1))
        os.replace(tmp, self.out / "metrics.json")
        try:
            plot_curve(data, self.out / "curve.png")
        except Exception as exc:  # a plot must never stop training
            print(f"sddr train: could not draw the training curve: {exc}")

    # -- steps ------------------------------------------------------------------------------

    def distilling(self, step: int) -> bool:
        t = self.cfg.train
        return step >= t.gt_only_steps and (t.use_grad or t.use_fusion)

    def _relabel_due(self) -> bool:
        return self.labelled_at < 0 or (self.step - self.labelled_at) >= self.cfg.train.label_every

    def _refresh_due(self) -> bool:
        """New scenes enter the pool every ``refresh_every`` steps of the first phase; in
        self-distillation only just before the pool is relabelled (a new sample needs a
        pseudo-label, which costs more than many training steps)."""
        every = self.cfg.data.refresh_every
        if self.step == 0 or not every:
            return False
        if self.distilling(self.step):
            return self.step > self.cfg.train.gt_only_steps and self._relabel_due()
        return self.step % every == 0

    def _label(self, indices: list[int] | None = None) -> None:
        refiner = self._refiner()
        try:
            self.pool.label(refiner, self.step, indices)
        finally:
            self.model.train()

    def validate(self) -> dict[str, float]:
        val = self.validation
        if val is None:
            return {}
        if not self.baselines:
            from sddr_core.refiners.poisson import PoissonRefiner

            poisson = PoissonRefiner()
            self.baselines = {
                "low": val.evaluate(None),
                "high": val.evaluate("high"),
                "poisson": val.evaluate(lambda lo, hi: poisson.fuse(lo, hi).depth),
            }
        refiner = self._refiner()
        try:
            metrics = val.evaluate(lambda lo, hi: _fuse(refiner, lo, hi))
        finally:
            self.model.train()
        metrics["score"] = metrics["d3r"] + (1.0 - metrics["delta1"])
        metrics["step"] = self.step
        metrics["elapsed_s"] = round(self.elapsed, 1)
        self.val_history.append(metrics)
        _append_csv(self.out / "val.csv", _VAL_COLUMNS, metrics)
        if metrics["score"] < self.best_score:
            self.best_score = metrics["score"]
            self.save_checkpoint(self.out / "best.safetensors", "best")
        return metrics

    def train_step(self) -> dict[str, float]:
        t = self.cfg.train
        distill = self.distilling(self.step)
        if distill:
            unl = self.pool.unlabelled()
            if self._relabel_due():
                self._label()
                self.labelled_at = self.step
            elif unl:
                self._label(unl)
        batch = self.pool.batch(t.batch_size, labels=distill)
        batch = {k: v.to(self.device) for k, v in batch.items()}
        lr = _lr_at(self.step, self.cfg)
        for g in self.opt.param_groups:
            g["lr"] = lr
        need_edges = distill and t.use_grad
        out = self.model(batch["low"], batch["high"], edges=need_edges)
        loss, parts = total_loss(
            out,
            batch["gt"],
            batch["mask"],
            g_s=batch.get("g_s"),
            regions=batch.get("regions"),
            weights=t.loss_weights,
            use_grad=t.use_grad,
            use_fusion=t.use_fusion,
            trim=t.gt_trim,
            low=batch["low"],
            anchor_weight=t.anchor_weight,
            low_frame=t.gt_frame == "low",
        )
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        if t.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), t.grad_clip)
        self.opt.step()
        parts["lr"] = lr
        parts["phase"] = "distill" if distill else "gt"
        return parts

    def run(self) -> TrainResult:
        from tqdm import tqdm

        cfg = self.cfg
        self.out.mkdir(parents=True, exist_ok=True)
        self._check_fresh_start()
        resumed = self.try_resume()
        if not resumed:
            self.pool.fill()
        (self.out / "config.json").write_text(json.dumps(cfg.to_dict(), indent=1))
        t = cfg.train
        bar = tqdm(
            total=t.steps, initial=self.step, desc=f"train {cfg.run.name}", unit="step",
            disable=not self.progress, dynamic_ncols=True,
        )  # fmt: skip
        if self.step == 0 and cfg.val.every > 0:
            self.validate()
        window: list[dict[str, float]] = []
        last_t = time.perf_counter()
        while self.step < t.steps:
            if self._refresh_due():
                self.pool.refresh()
            parts = self.train_step()
            self.step += 1
            now = time.perf_counter()
            dt = now - last_t
            last_t = now
            self.elapsed += dt
            window.append({**parts, "dt": dt})
            bar.update(1)
            bar.set_postfix(loss=f"{parts['loss']:.3f}", phase=parts["phase"])
            if self.step % t.log_every == 0 or self.step == t.steps:
                row = {"step": self.step, "phase": parts["phase"], "lr": parts["lr"]}
                for k in ("loss", "l_gt", "l_grad", "l_fusion", "l_anchor"):
                    vals = [w[k] for w in window if k in w]
                    row[k] = float(np.mean(vals)) if vals else ""
                row["sec_per_step"] = float(np.mean([w["dt"] for w in window]))
                row["elapsed_s"] = round(self.elapsed, 1)
                self.history.append(row)
                _append_csv(self.out / "metrics.csv", _TRAIN_COLUMNS, row)
                window = []
            val_due = cfg.val.every > 0 and self.step % cfg.val.every == 0
            if val_due or self.step == t.steps:
                m = self.validate()
                if m:
                    bar.write(
                        f"step {self.step}: val D3R {m['d3r']:.3f} delta1 {m['delta1']:.3f} "
                        f"REL {m['abs_rel']:.3f} bF1 {m['boundary_f1']:.3f}"
                    )
                last_t = time.perf_counter()
            ck = cfg.checkpoint.every
            if (ck > 0 and self.step % ck == 0) or self.step == t.steps:
                self.save_state()
                last_t = time.perf_counter()
        bar.close()
        if not (self.out / "last.safetensors").exists():
            self.save_state()
        self.write_logs()
        best = self.out / "best.safetensors"
        return TrainResult(
            out_dir=self.out,
            steps=self.step,
            last=self.out / "last.safetensors",
            best=best if best.exists() else None,
            val=self.val_history,
            baselines=self.baselines,
            wall_s=self.elapsed,
        )


def _fuse(refiner: Any, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    return refiner.fuse(low, high).depth


def plot_curve(data: dict[str, Any], path: Path) -> Path:
    """Draw the training curve (losses; validation D³R and δ1 with baselines) to ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    train = data.get("train", [])
    if train:
        steps = [r["step"] for r in train]
        for k in ("loss", "l_gt", "l_grad", "l_fusion", "l_anchor"):
            pts = [
                (s, r[k]) for s, r in zip(steps, train, strict=False) if r.get(k) not in ("", None)
            ]
            if pts:
                label = "drift from low's frame (l_anchor)" if k == "l_anchor" else k
                axes[0].plot(*zip(*pts, strict=False), label=label)
        axes[0].set_yscale("log")
        axes[0].set_xlabel("step")
        axes[0].set_title("training loss")
        axes[0].legend()
    val = data.get("val", [])
    base = data.get("baselines", {})
    colors = {"low": "tab:blue", "high": "tab:orange", "poisson": "tab:green"}
    for ax, key, title in ((axes[1], "d3r", "val D³R ↓"), (axes[2], "delta1", "val δ1 ↑")):
        if val:
            ax.plot([r["step"] for r in val], [r[key] for r in val], "o-", color="k",
                    label="network")  # fmt: skip
        for name, m in base.items():
            if key in m:
                ax.axhline(m[key], ls="--", color=colors.get(name, "gray"), label=name)
        ax.set_xlabel("step")
        ax.set_title(title)
        ax.legend()
    fig.tight_layout()
    tmp = path.with_name(path.stem + ".tmp.png")
    fig.savefig(tmp, dpi=90)
    plt.close(fig)
    os.replace(tmp, path)
    return path


def train(cfg: TrainConfig, *, progress: bool = True, overwrite: bool = False) -> TrainResult:
    """Run (or resume) the training described by ``cfg``; see :class:`Trainer`.

    Raises:
        OutputExistsError: ``run.resume`` is off, ``run.out_dir`` holds a run and
            ``overwrite`` is False.
    """
    return Trainer(cfg, progress=progress, overwrite=overwrite).run()
