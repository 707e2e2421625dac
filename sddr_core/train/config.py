"""Training configuration: dataclasses read from a TOML (or YAML) file.

A config file has the sections below; every key is optional and defaults to the value shown
by the dataclass. The built-in configs ship inside the package, in ``sddr_core/configs/``, and
are passed by name (``sddr train --config tiny``, ``load_config("ablation/grad")``): ``tiny``
(CI), ``default`` and ``default_stage2`` (the shipped checkpoint), ``bandfusion``,
``ablation/*``, ``experiments/*``; see :func:`builtin_configs`::

    [run]        name, out_dir, seed, device, threads, resume, init_from
    [model]      variant (a name of sddr_core.models.CONFIGS) or any SDDRConfig field
    [data]       crop, pool_size, refresh_every, refresh_fraction, native_range, high_factor,
                 strength, depth_fraction, folders, folder_fraction, predictor
    [train]      steps, batch_size, lr, weight_decay, warmup, min_lr_ratio, grad_clip,
                 gt_only_steps, label_every, label_levels, label_overlaps, loss_weights,
                 gt_trim, gt_frame, anchor_weight, use_grad, use_fusion, log_every
    [val]        every, scenes, long_side, strength, native_ratio, seed
    [checkpoint] every, keep
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sddr_core.errors import InputError

__all__ = [
    "CONFIG_DIR",
    "CheckpointConfig",
    "DataConfig",
    "ModelConfig",
    "RunConfig",
    "TrainConfig",
    "TrainingConfig",
    "ValConfig",
    "builtin_configs",
    "load_config",
    "resolve_config",
]


@dataclass
class RunConfig:
    """Where and how a run happens.

    Attributes:
        name: run name (written into checkpoint metadata).
        out_dir: output folder (relative paths are relative to the working directory).
        seed: seeds scene selection, noise, augmentation and initialisation.
        device: ``"cpu"``, ``"cuda"``, ``"auto"``.
        threads: torch CPU threads (0 = leave torch's default).
        resume: continue from ``out_dir/state.pt`` when it exists.
        init_from: optional refiner checkpoint whose weights initialise the network.
    """

    name: str = "sddr"
    out_dir: str = "runs/sddr"
    seed: int = 0
    device: str = "cpu"
    threads: int = 2
    resume: bool = True
    init_from: str = ""


@dataclass
class ModelConfig:
    """The network: ``variant`` names a built-in :data:`sddr_core.models.CONFIGS` entry;
    ``overrides`` (any other keys of the ``[model]`` section) replace its fields."""

    variant: str = "sddr-b0"
    overrides: dict[str, Any] = field(default_factory=dict)


@dataclass
class DataConfig:
    """Training pairs.

    Attributes:
        crop: working size of a training pair (square, pixels; a multiple of 32 is best).
        pool_size: samples kept in memory (scene, simulated low/high, pseudo-label).
        refresh_every: every this many steps, ``refresh_fraction`` of the pool is replaced by
            new scenes.
        native_range: the simulated predictor's native resolution, as a fraction of ``crop``
            (drawn uniformly): ``crop / native`` is the working-to-native ratio. Values
            above 1 give an already sharp low input (as two-stage windows pass on).
        high_factor: high resolution as a multiple of native (drawn uniformly), as the
            adaptive rule chooses at inference (1.5 to 3).
        strength: noise strength range of the simulated predictor.
        depth_fraction: fraction of samples in depth convention (the rest disparity).
        folders: folders of real ground truth (``sddr_core.datasets.folder`` layout) to mix in.
        folder_fraction: fraction of new samples drawn from ``folders``.
        predictor: ``"simulated"``, or a registered predictor name used on folder samples
            that have RGB (procedural samples always use the simulated predictor).
    """

    crop: int = 192
    pool_size: int = 48
    refresh_every: int = 25
    refresh_fraction: float = 0.25
    native_range: tuple[float, float] = (0.33, 0.8)
    high_factor: tuple[float, float] = (1.5, 3.0)
    strength: tuple[float, float] = (0.3, 2.0)
    depth_fraction: float = 0.25
    folders: list[str] = field(default_factory=list)
    folder_fraction: float = 0.0
    predictor: str = "simulated"


@dataclass
class TrainingConfig:
    """Optimisation and the self-distillation schedule.

    Attributes:
        steps: total optimiser steps.
        batch_size: pairs per step.
        lr, weight_decay: AdamW; the learning rate warms up linearly over ``warmup`` steps
            then follows a cosine to ``min_lr_ratio × lr``.
        grad_clip: gradient norm clip (0 = off).
        gt_only_steps: first phase, L_gt only; afterwards L_grad and L_fusion are added with
            pseudo-labels from the current network.
        label_every: pseudo-labels are regenerated for the whole pool every this many steps
            of the second phase (self-distillation: better network, cleaner labels).
        label_levels, label_overlaps: coarse-to-fine windows for the pseudo-labels.
        loss_weights: weights of (L_gt, L_grad, L_fusion).
        gt_trim: fraction of the largest residuals L_gt's MAE drops (MiDaS: 0.2, for noisy
            real ground truth; 0 for exact procedural ground truth).
        gt_frame: ``"low"``: L_gt normalises the prediction with the low input's median and
            deviation (pins the output to the low input's scale and shift, [ours]);
            ``"self"``: with its own (MiDaS, fully invariant; the output drifts).
        anchor_weight: weight of :func:`sddr_core.train.losses.anchor_loss` (0 = off; it is
            logged as a drift measure either way).
        use_grad, use_fusion: switch L_grad / L_fusion off (ablations).
        log_every: steps between rows of the metrics log.
    """

    steps: int = 2000
    batch_size: int = 4
    lr: float = 3e-4
    weight_decay: float = 1e-4
    warmup: int = 100
    min_lr_ratio: float = 0.1
    grad_clip: float = 1.0
    gt_only_steps: int = 800
    label_every: int = 400
    label_levels: tuple[int, ...] = (2, 3)
    label_overlaps: tuple[float, ...] = (0.2, 0.25)
    loss_weights: tuple[float, float, float] = (1.0, 0.5, 0.1)
    gt_trim: float = 0.2
    gt_frame: str = "low"
    anchor_weight: float = 0.0
    use_grad: bool = True
    use_fusion: bool = True
    log_every: int = 10


@dataclass
class ValConfig:
    """Periodic validation on held-out procedural scenes (one-stage, simulated predictor).

    Attributes:
        every: steps between validations (0 = only at the end).
        scenes: number of held-out scenes.
        long_side: their long side in pixels.
        strength: simulated predictor strength.
        native_ratio: native resolution as a fraction of ``long_side``.
        seed: first held-out seed (held-out seed space, disjoint from training).
    """

    every: int = 200
    scenes: int = 8
    long_side: int = 256
    strength: float = 1.0
    native_ratio: float = 0.5
    seed: int = 1000


@dataclass
class CheckpointConfig:
    """``every``: steps between checkpoints (safetensors, plus ``state.pt`` for resuming);
    ``keep``: how many step checkpoints to keep (``best`` and ``last`` are always kept)."""

    every: int = 200
    keep: int = 3


@dataclass
class TrainConfig:
    """A whole training run (see the module docstring)."""

    run: RunConfig = field(default_factory=RunConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainingConfig = field(default_factory=TrainingConfig)
    val: ValConfig = field(default_factory=ValConfig)
    checkpoint: CheckpointConfig = field(default_factory=CheckpointConfig)
    source: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict of every setting."""
        out = dataclasses.asdict(self)
        out.pop("source", None)
        return out

    def model_config(self) -> Any:
        """The :class:`~sddr_core.models.SDDRConfig` to build."""
        from sddr_core.models.refiner_net import CONFIGS, SDDRConfig

        if self.model.variant not in CONFIGS:
            raise InputError(
                f"unknown model variant {self.model.variant!r} in {self.source or 'config'}; "
                f"choose one of {', '.join(CONFIGS)}."
            )
        base = CONFIGS[self.model.variant]
        if not self.model.overrides:
            return base
        data = {**base.to_dict(), **self.model.overrides}
        try:
            return SDDRConfig.from_dict(data)
        except (ValueError, TypeError) as exc:
            raise InputError(f"bad [model] settings in {self.source or 'config'}: {exc}") from exc


_SECTIONS = {
    "run": RunConfig,
    "data": DataConfig,
    "train": TrainingConfig,
    "val": ValConfig,
    "checkpoint": CheckpointConfig,
}


def _coerce(cls: type, values: dict[str, Any], where: str) -> Any:
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise InputError(
            f"unknown key(s) {', '.join(unknown)} in [{where}]; known: {', '.join(fields)}."
        )
    defaults = cls()
    kw = {}
    for k, v in values.items():
        default = getattr(defaults, k)
        if isinstance(default, tuple):
            if not isinstance(v, (list, tuple)):
                raise InputError(f"[{where}] {k} must be a list, got {v!r}.")
            v = tuple(v)
        elif isinstance(default, bool):
            if not isinstance(v, bool):
                raise InputError(f"[{where}] {k} must be true or false, got {v!r}.")
        elif isinstance(default, int) and not isinstance(default, bool):
            if isinstance(v, float) and v.is_integer():
                v = int(v)
            if not isinstance(v, int) or isinstance(v, bool):
                raise InputError(f"[{where}] {k} must be an integer, got {v!r}.")
        elif isinstance(default, float):
            if not isinstance(v, (int, float)) or isinstance(v, bool):
                raise InputError(f"[{where}] {k} must be a number, got {v!r}.")
            v = float(v)
        elif isinstance(default, list) and not isinstance(v, list):
            raise InputError(f"[{where}] {k} must be a list, got {v!r}.")
        kw[k] = v
    return cls(**kw)


def toml_module() -> Any:
    """``tomllib`` (Python 3.11+), else the ``tomli`` backport, else :class:`InputError`."""
    try:
        import tomllib

        return tomllib
    except ModuleNotFoundError:
        try:
            import tomli

            return tomli
        except ModuleNotFoundError:
            raise InputError(
                "reading TOML configs on Python 3.10 needs the tomli package (a dependency of sddr "
                "there): "
                "`pip install tomli`, or use Python 3.11+ (or a YAML config with PyYAML)."
            ) from None


#: The built-in training configs, shipped inside the package (package data).
CONFIG_DIR = Path(__file__).resolve().parents[1] / "configs"


def builtin_configs() -> list[str]:
    """Names of the built-in training configs (``tiny``, ``default``, ``ablation/grad``, ...):
    the ``.toml`` files under :data:`CONFIG_DIR`, without the suffix."""
    return sorted(
        q.relative_to(CONFIG_DIR).with_suffix("").as_posix() for q in CONFIG_DIR.rglob("*.toml")
    )


def resolve_config(config: str | Path) -> Path:
    """The file of a training config: ``config`` itself when it is a file, else the built-in
    config of that name (``"tiny"``, ``"ablation/grad"``; a ``.toml`` suffix and a leading
    ``configs/``, the folder they lived in before, are accepted), from any working folder.

    Raises:
        InputError: a folder, or neither a file nor a built-in name (the message lists the
            built-in names).
    """
    p = Path(config).expanduser()
    if p.is_file():
        return p
    names = builtin_configs()
    if p.is_dir():
        raise InputError(
            f"training config {str(p)!r} is a folder; pass a .toml or .yaml file, or a built-in "
            f"config name: {', '.join(names)}."
        )
    name = p.as_posix().removesuffix(".toml")
    name = name.removeprefix("./").removeprefix("configs/")
    if name in names:
        return CONFIG_DIR / f"{name}.toml"
    raise InputError(
        f"training config {str(config)!r} not found: it is neither a file nor a built-in "
        f"config. Built-in configs (by name, from any folder): {', '.join(names)}."
    )


def _read(path: Path) -> dict[str, Any]:
    text = path.read_text(encoding="utf-8")
    suffix = path.suffix.lower()
    if suffix == ".toml":
        tomllib = toml_module()
        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise InputError(f"{path} is not valid TOML: {exc}.") from exc
    if suffix in (".yaml", ".yml"):
        try:
            import yaml
        except ModuleNotFoundError:
            raise InputError(
                f"{path} is YAML but PyYAML is not installed: `pip install pyyaml`, or write "
                "the config as TOML (like the built-in sddr_core/configs/*.toml)."
            ) from None
        try:
            data = yaml.safe_load(text) or {}
        except yaml.YAMLError as exc:
            raise InputError(f"{path} is not valid YAML: {exc}.") from exc
        if not isinstance(data, dict):
            raise InputError(f"{path} must hold a mapping of sections.")
        return data
    raise InputError(f"config {path} must be .toml, .yaml or .yml.")


def load_config(path: str | Path, overrides: dict[str, Any] | None = None) -> TrainConfig:
    """Read a training config file.

    Args:
        path: ``.toml`` (or ``.yaml`` / ``.yml`` with PyYAML installed), or the name of a
            built-in config (:func:`resolve_config`).
        overrides: ``{"section.key": value}`` applied after the file (command-line ``--set``).

    Raises:
        InputError: missing file, bad syntax, unknown section or key, wrong value type.
    """
    p = resolve_config(path)
    data = _read(p)
    for key, value in (overrides or {}).items():
        section, _, name = key.partition(".")
        if not name:
            raise InputError(f"override {key!r} must be SECTION.KEY=VALUE.")
        data.setdefault(section, {})[name] = value
    unknown = sorted(set(data) - set(_SECTIONS) - {"model"})
    if unknown:
        raise InputError(
            f"unknown section(s) {', '.join(unknown)} in {p}; known: run, model, data, train, "
            "val, checkpoint."
        )
    cfg = TrainConfig(source=str(p))
    for name, cls in _SECTIONS.items():
        if name in data:
            if not isinstance(data[name], dict):
                raise InputError(f"[{name}] in {p} must be a table of settings.")
            setattr(cfg, name, _coerce(cls, data[name], name))
    model = dict(data.get("model", {}))
    cfg.model = ModelConfig(variant=str(model.pop("variant", "sddr-b0")), overrides=model)
    cfg.model_config()  # validate now
    _validate(cfg, p)
    return cfg


def _validate(cfg: TrainConfig, p: Path) -> None:
    d, t = cfg.data, cfg.train
    checks = [
        (d.crop >= 32, f"[data] crop must be at least 32, got {d.crop}"),
        (d.pool_size >= t.batch_size, "[data] pool_size must be at least [train] batch_size"),
        (0 < d.native_range[0] <= d.native_range[1] <= 4.0, "[data] native_range in (0, 4]"),
        (1.0 <= d.high_factor[0] <= d.high_factor[1], "[data] high_factor must be >= 1"),
        (0 <= d.strength[0] <= d.strength[1], "[data] strength must be a range >= 0"),
        (0 <= d.depth_fraction <= 1, "[data] depth_fraction in [0, 1]"),
        (0 <= d.folder_fraction <= 1, "[data] folder_fraction in [0, 1]"),
        (not d.folder_fraction or d.folders, "[data] folder_fraction > 0 needs folders"),
        (t.steps >= 1 and t.batch_size >= 1, "[train] steps and batch_size must be >= 1"),
        (t.lr > 0, "[train] lr must be positive"),
        (len(t.label_levels) == len(t.label_overlaps), "[train] one overlap per label level"),
        (len(t.loss_weights) == 3, "[train] loss_weights has three entries"),
        (0 <= t.gt_trim < 1, "[train] gt_trim in [0, 1)"),
        (t.gt_frame in ("low", "self"), "[train] gt_frame is 'low' or 'self'"),
        (cfg.val.scenes >= 0 and cfg.val.long_side >= 32, "[val] scenes >= 0, long_side >= 32"),
        (cfg.checkpoint.every >= 0, "[checkpoint] every must be >= 0"),
    ]
    for ok, msg in checks:
        if not ok:
            raise InputError(f"{msg} (in {p}).")
