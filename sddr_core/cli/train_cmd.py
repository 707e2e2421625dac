"""``sddr train --config FILE|NAME``: train (or resume training) the SDDR refiner."""

from __future__ import annotations

import argparse
import json

from sddr_core.errors import InputError


def _parse_set(items: list[str]) -> dict[str, object]:
    """``SECTION.KEY=VALUE`` strings to a dict; values are parsed as TOML values (numbers,
    booleans, lists, quoted strings), or kept as plain strings."""
    from sddr_core.train.config import toml_module

    tomllib = toml_module()
    out: dict[str, object] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or "." not in key:
            raise InputError(f"--set expects SECTION.KEY=VALUE, got {item!r}.")
        try:
            value = tomllib.loads(f"v = {raw}")["v"]
        except tomllib.TOMLDecodeError:
            value = raw
        out[key.strip()] = value
    return out


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train",
        help="train a refiner (band fusion or the SDDR network)",
        description="Train a refiner from a config. Band-fusion configs (bandfusion, "
        "bandfusion_gpu, bandfusion_stage*: the default refiner, docs/MODEL_CARD.md) train on "
        "real Middlebury 2006 scenes and procedural ones with every degradation family and "
        "write last.safetensors and log.csv; the others run the SDDR self-distillation of "
        "the sddr-b0 network (METHOD.md section 5) and write checkpoints, metrics.csv/json, "
        "val.csv and curve.png. Either resumes from OUT_DIR/state.pt when present.",
    )
    p.add_argument(
        "--config",
        required=True,
        metavar="FILE|NAME",
        help="a TOML or YAML config file, or the name of a built-in config, from any folder: "
        "bandfusion, bandfusion_gpu, bandfusion_stage2 ... bandfusion_stage7, tiny (under a "
        "minute on CPU), default, default_stage2, ablation/NAME, experiments/NAME (a wrong "
        "name lists them all)",
    )
    p.add_argument("--out", metavar="DIR", help="output folder (overrides run.out_dir)")
    p.add_argument("--steps", type=int, help="total steps (overrides train.steps)")
    p.add_argument("--device", help="cpu, cuda, auto (overrides run.device)")
    p.add_argument("--seed", type=int, help="run seed (overrides run.seed)")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="override any config value (repeatable), e.g. --set train.lr=1e-4",
    )
    p.add_argument(
        "--no-resume", action="store_true", help="start over instead of resuming OUT_DIR's run"
    )
    p.add_argument(
        "--overwrite", action="store_true", help="with --no-resume: replace OUT_DIR's run"
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from sddr_core.train import load_config, train

    overrides = _parse_set(args.set)
    for key, value in (
        ("run.out_dir", args.out),
        ("train.steps", args.steps),
        ("run.device", args.device),
        ("run.seed", args.seed),
    ):
        if value is not None:
            overrides[key] = value
    from sddr_core.train.band import load_band_file, train_band
    from sddr_core.train.config import resolve_config

    config = resolve_config(args.config)  # a file, or a built-in config by name
    band = load_band_file(config, overrides)
    if band is not None:  # the band-fusion refiner (--config bandfusion)
        last = train_band(
            band,
            progress=not args.no_progress,
            resume=not args.no_resume,
            overwrite=args.overwrite,
        )
        print(f"checkpoint: {last}")
        return 0
    if args.no_resume:
        overrides["run.resume"] = False
    cfg = load_config(config, overrides)
    result = train(cfg, progress=not args.no_progress, overwrite=args.overwrite)
    print(f"trained {result.steps} steps in {result.wall_s:.0f} s -> {result.out_dir}")
    if result.val:
        last = result.val[-1]
        print(
            "validation: "
            + json.dumps({k: round(v, 4) for k, v in last.items() if isinstance(v, float)})
        )
    for name, m in result.baselines.items():
        print(f"  {name:8} D3R {m['d3r']:.3f}  delta1 {m['delta1']:.3f}")
    print(f"checkpoint: {result.best or result.last}")
    return 0
