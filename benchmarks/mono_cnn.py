"""A weak real monocular estimator for generalisation checks: a small CNN trained here.

The refiner is trained on degradation families and two stereo matchers. Users run monocular
networks; none can be downloaded on this machine, so this script trains one: a small U-Net
that predicts disparity from a single RGB image, trained with a scale-and-shift-invariant
loss on the Middlebury 2006 *training* scenes only (both views, flips, random scales and
crops). On the validation scenes it is a weak monocular CNN with the errors such networks
make (wrong layout, texture copied into depth, blurred and missing thin parts), and run at
two resolutions it gives a real low/high pair whose errors nobody designed. The refiner never
sees it in training.

    python benchmarks/mono_cnn.py train --data ../shared/data/middlebury2006 \\
        --out runs/mono-cnn.safetensors
    python benchmarks/mono_cnn.py eval --data ../shared/data/middlebury2006 \\
        --weights runs/mono-cnn.safetensors \\
        --refiner default=sddr_core/weights/sddr_default.safetensors --two-stage \\
        --out docs/eval/refiner-2026-12/mono-cnn

For training the refiner (``data.real_passes``), ``--scenes`` trains a CNN on some training
scenes and ``passes`` writes its low/high passes on the others (cross-fitting: a CNN's passes
on scenes it was trained on would be too good)::

    python benchmarks/mono_cnn.py train --data ../shared/data/middlebury2006 \
        --scenes baby1,baby2,baby3,cloth1,cloth2,cloth3,cloth4 --out runs/mono-A.safetensors
    python benchmarks/mono_cnn.py passes --data ../shared/data/middlebury2006 \
        --weights runs/mono-A.safetensors \
        --scenes flowerpots,midd1,midd2,monopoly,plastic,wood1,wood2 --out runs/mono-passes-A.npz
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

NATIVE = 224  # long side of the "low" pass; the "high" pass runs at the image's own size


def _block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
        nn.Conv2d(cout, cout, 3, padding=1),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class MonoNet(nn.Module):
    """A four-level U-Net: RGB in, disparity (relative, positive) out."""

    def __init__(self, width: int = 24) -> None:
        super().__init__()
        w = [width, 2 * width, 4 * width, 8 * width]
        self.enc = nn.ModuleList([_block(3, w[0]), _block(w[0], w[1]), _block(w[1], w[2])])
        self.mid = _block(w[2], w[3])
        self.dec = nn.ModuleList([_block(w[3] + w[2], w[2]), _block(w[2] + w[1], w[1])])
        self.dec.append(_block(w[1] + w[0], w[0]))
        self.head = nn.Conv2d(w[0], 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = x.new_tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
        std = x.new_tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
        x = (x - mean) / std
        skips = []
        for enc in self.enc:
            x = enc(x)
            skips.append(x)
            x = F.max_pool2d(x, 2)
        x = self.mid(x)
        for dec, skip in zip(self.dec, reversed(skips), strict=True):
            x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            x = dec(torch.cat([x, skip], 1))
        return F.softplus(self.head(x))[:, 0]


def _ssi_loss(pred: torch.Tensor, gt: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Mean absolute error after a per-image least-squares scale and shift (MiDaS)."""
    losses = []
    for p, g, v in zip(pred, gt, valid, strict=True):
        p, g = p[v], g[v]
        if p.numel() < 16:
            continue
        pm, gm = p.mean(), g.mean()
        scale = ((p - pm) * (g - gm)).mean() / ((p - pm).pow(2).mean() + 1e-8)
        fit = scale * (p - pm) + gm  # closed-form least squares (lstsq's backward is O(N²))
        losses.append((fit - g).abs().mean() / g.abs().mean().clamp_min(1e-6))
    return torch.stack(losses).mean()


def _views(data: str, scenes: str | list[str]) -> list[tuple[str, str, Any]]:
    """``(scene, view, sample)`` for both views of ``scenes`` (names or a split), read with
    the library's Middlebury 2006 loader."""
    from sddr_core.datasets.middlebury2006 import load_middlebury2006
    from sddr_core.errors import InputError

    try:
        return [
            (sample.meta["scene"], view, sample)
            for view in ("left", "right")
            for sample in load_middlebury2006(data, scenes, view=view)
        ]
    except InputError as exc:
        raise SystemExit(f"no Middlebury 2006 training scenes under {data}: {exc}") from exc


def _training_views(
    data: str, scenes: list[str] | None = None
) -> list[tuple[np.ndarray, np.ndarray]]:
    """(rgb float32, disparity with NaN unknown) for both views of every training scene (or
    of ``scenes``, which must be training scenes)."""
    from sddr_core.datasets.middlebury2006 import MIDDLEBURY2006_SPLIT

    train_scenes = MIDDLEBURY2006_SPLIT["train"]
    if scenes and set(scenes) - set(train_scenes):
        raise SystemExit(f"not training scenes: {sorted(set(scenes) - set(train_scenes))}")
    return [
        (np.asarray(sample.rgb, np.float32) / 255.0, sample.gt)
        for _, _, sample in _views(data, scenes or "train")
    ]


def _batch(views: list[Any], rng: np.random.Generator, size: int, n: int) -> tuple[Any, ...]:
    import cv2

    xs, ys = [], []
    for _ in range(n):
        rgb, disp = views[int(rng.integers(len(views)))]
        scale = float(rng.uniform(0.45, 1.0))
        h, w = (max(size, int(round(s * scale))) for s in disp.shape)
        rgb = cv2.resize(rgb, (w, h), interpolation=cv2.INTER_AREA)
        disp = cv2.resize(disp, (w, h), interpolation=cv2.INTER_NEAREST)
        t, l = int(rng.integers(h - size + 1)), int(rng.integers(w - size + 1))
        rgb, disp = rgb[t : t + size, l : l + size], disp[t : t + size, l : l + size]
        if rng.random() < 0.5:
            rgb, disp = rgb[:, ::-1], disp[:, ::-1]
        rgb = np.clip(rgb * rng.uniform(0.8, 1.2) + rng.uniform(-0.05, 0.05), 0, 1)
        xs.append(np.ascontiguousarray(rgb.transpose(2, 0, 1)))
        ys.append(np.ascontiguousarray(disp))
    x = torch.from_numpy(np.stack(xs)).float()
    y = torch.from_numpy(np.stack(ys)).float()
    return x, torch.nan_to_num(y), torch.isfinite(y) & (y > 0)


def train(args: argparse.Namespace) -> None:
    from safetensors.torch import save_file

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    views = _training_views(args.data, args.scenes.split(",") if args.scenes else None)
    device = torch.device(getattr(args, "device", "cpu"))
    net = MonoNet(args.width).to(device)
    opt = torch.optim.AdamW(net.parameters(), lr=args.lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, args.lr, total_steps=args.steps)
    start = time.perf_counter()
    for step in range(1, args.steps + 1):
        x, y, v = (t.to(device) for t in _batch(views, rng, args.crop, args.batch))
        loss = _ssi_loss(net(x), y, v)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if step % 50 == 0 or step == args.steps:
            took = time.perf_counter() - start
            print(f"step {step} loss {loss.item():.4f} ({took:.0f} s)", flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    meta = {"width": str(args.width), "steps": str(args.steps), "scenes": "middlebury2006 train"}
    state = {k: v.detach().cpu().contiguous() for k, v in net.state_dict().items()}
    save_file(state, args.out, metadata=meta)
    print(f"wrote {args.out}")


class MonoCNNPredictor:
    """The trained :class:`MonoNet` as a sddr predictor (disparity, native 224)."""

    name = "mono-cnn"
    kind = "disparity"
    native_resolution = NATIVE
    size_multiple = 8

    def __init__(self, weights: str) -> None:
        from safetensors import safe_open
        from safetensors.torch import load_file

        with safe_open(weights, "pt") as f:
            width = int((f.metadata() or {}).get("width", 24))
        self.net = MonoNet(width).eval()
        self.net.load_state_dict(load_file(weights))

    @torch.no_grad()
    def predict(self, image: np.ndarray, resolution: int) -> np.ndarray:
        import cv2

        h, w = image.shape[:2]
        s = resolution / max(h, w)
        th = max(8, int(round(h * s / 8)) * 8)
        tw = max(8, int(round(w * s / 8)) * 8)
        rgb = cv2.resize(np.asarray(image, np.float32), (tw, th), interpolation=cv2.INTER_AREA)
        x = torch.from_numpy(np.ascontiguousarray(rgb.transpose(2, 0, 1)))[None]
        return self.net(x)[0].numpy().astype(np.float32)


#: (low, high) long sides of the passes written for training, as fractions of the image's
#: long side for the high pass; the low pass runs at fixed sizes around the native 224.
PASS_PAIRS = ((224, 1.0), (192, 0.8), (256, 1.0))


def write_passes(args: argparse.Namespace) -> None:
    """The CNN's low/high passes on training scenes it was *not* trained on, as an ``.npz``
    for the refiner's ``data.real_passes`` (arrays ``<scene>/<view>/<k>/low|high``)."""
    torch.set_num_threads(args.threads)
    pred = MonoCNNPredictor(args.weights)
    arrays: dict[str, np.ndarray] = {}
    for scene, view, sample in _views(args.data, args.scenes.split(",")):
        rgb = np.asarray(sample.rgb, np.float32) / 255.0
        side = max(rgb.shape[:2])
        for k, (low, high) in enumerate(PASS_PAIRS):
            low = min(low, int(0.6 * side))  # a low pass, even on a small image
            arrays[f"{scene}/{view}/{k}/low"] = pred.predict(rgb, low)
            arrays[f"{scene}/{view}/{k}/high"] = pred.predict(rgb, int(high * side))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, **arrays)
    print(f"wrote {len(arrays) // 2} pass pairs to {args.out}")


def write_half(args: argparse.Namespace) -> None:
    """A passes file rewritten in float16 (about 40 % of its size; relative error about 5e-4,
    far below the CNN's own): what a lent GPU call can carry beside the tree (64 MiB in all).
    ``data.real_passes`` reads it as float32."""
    if Path(args.out).exists() and not args.overwrite:
        raise SystemExit(f"{args.out} exists; pass --overwrite to replace it")
    with np.load(args.src, allow_pickle=False) as src:
        arrays = {k: src[k].astype(np.float16) for k in src.files}
    if not all(np.isfinite(a).all() for a in arrays.values()):
        raise SystemExit(f"{args.src} holds values beyond float16's range; keep it as it is")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, **arrays)
    print(f"wrote {len(arrays)} arrays in float16 to {args.out}")


def evaluate_refiners(args: argparse.Namespace) -> None:
    from generalisation import method_rows, summarise  # benchmarks/generalisation.py

    torch.set_num_threads(args.threads)
    dataset = f"middlebury2006:{args.data}@{args.split}"
    snaps = {"off": (False,), "on": (True,), "both": (False, True)}[args.snap]
    refiners = dict(r.split("=", 1) for r in args.refiner)
    pred = MonoCNNPredictor(args.weights)
    rows = method_rows(dataset, pred, refiners, args.two_stage, snaps)
    table = summarise({f"mono-cnn @ {dataset}": rows})
    print(table)
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "mono_cnn.md").write_text(table)
        (out / "mono_cnn.json").write_text(json.dumps(rows, indent=1))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train", help="train the CNN on the Middlebury 2006 training scenes")
    t.add_argument("--data", required=True)
    t.add_argument("--out", required=True)
    t.add_argument("--steps", type=int, default=1200)
    t.add_argument("--batch", type=int, default=8)
    t.add_argument("--crop", type=int, default=128)
    t.add_argument("--width", type=int, default=16)
    t.add_argument("--lr", type=float, default=2e-3)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--threads", type=int, default=1)
    t.add_argument("--device", default="cpu", help="cpu or cuda (training only)")
    t.add_argument("--scenes", help="comma-separated training scenes (default: all 14)")
    e = sub.add_parser("eval", help="refiners and baselines on the CNN's low/high passes")
    e.add_argument("--data", required=True)
    e.add_argument("--weights", required=True)
    e.add_argument("--refiner", action="append", required=True, help="NAME=PATH, repeatable")
    e.add_argument("--split", default="val")
    e.add_argument("--two-stage", action="store_true")
    e.add_argument(
        "--snap",
        choices=("off", "on", "both"),
        default="both",
        help="refiners' results as fused, snapped to the image (+snap), or both",
    )
    e.add_argument("--out")
    e.add_argument("--threads", type=int, default=1)
    w = sub.add_parser("passes", help="low/high passes on other training scenes, for training")
    w.add_argument("--data", required=True)
    w.add_argument("--weights", required=True)
    w.add_argument("--scenes", required=True, help="comma-separated scenes the CNN never saw")
    w.add_argument("--out", required=True)
    w.add_argument("--threads", type=int, default=1)
    h = sub.add_parser("half", help="a passes file in float16, small enough to carry")
    h.add_argument("src")
    h.add_argument("out")
    h.add_argument("--overwrite", action="store_true")
    args = ap.parse_args()
    commands = {
        "train": train,
        "eval": evaluate_refiners,
        "passes": write_passes,
        "half": write_half,
    }
    commands[args.cmd](args)


if __name__ == "__main__":
    main()
