"""``sddr bench speed``: parameters, FLOPs, latency, peak memory and call counts.

For each working size ``s`` (default 512, 1024, 2048) on an ``s × s`` synthetic photo:

- ``network``: one pass of the refinement network at ``s × s`` (:class:`NetworkRefiner.fuse`);
- ``poisson``: one training-free Poisson fusion at ``s × s``;
- ``one-stage`` / ``two-stage``: :func:`sddr_core.refine` end to end with the network
  (predictor calls included; high resolution ``s``, so the working size is ``s``);
- ``one-stage-poisson`` / ``two-stage-poisson``: the same with the Poisson refiner;
- ``predictor``: one high-resolution pass (long side ``s``) of the stand-in predictor, the
  reference of the "× predictor" column (total time of the row / this time).

The stand-in predictor (:class:`StandInPredictor`) is a small convolutional network (about
24 k parameters, about 1.6 k multiply-adds per input pixel, output at 1/4 resolution
upsampled), so that the benchmark runs offline; real predictors cost far more (Depth
Anything V2 Small: 25 M parameters), which makes refinement relatively cheaper than the
ratios printed here.

Measurement conventions (also printed with the table):

- latency: wall clock (``perf_counter``; CUDA synchronised), median over the timed runs. A
  first run shorter than a third of ``--budget`` seconds is a discarded warm-up (oneDNN /
  cuDNN set-up); runs repeat up to ``--repeats`` times while within ``--budget`` seconds.
  ``runs`` shows how many were timed; ``1*`` means the single run includes the warm-up.
- peak memory on the CPU: growth of the resident set size (RSS) over its value just before
  the run (after ``gc.collect()`` and glibc's ``malloc_trim``), from ``/proc/self/statm``
  sampled every millisecond and from ``ru_maxrss`` (whichever is larger): everything the
  process touched (numpy, torch, OpenCV, SciPy).
  On CUDA: ``torch.cuda.max_memory_allocated`` growth (tensors only, not the allocator's
  cache or the CUDA context).
- GMACs: multiply-adds of all network passes of the row, counted by
  :func:`sddr_core.models.count_flops` (FlopCounterMode; FLOPs = 2 × MACs) at the padded
  shapes the refiner really ran; ``—`` for rows without the network.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "DA_V2_SMALL_BACKBONE",
    "DA_V2_SMALL_HEAD",
    "DA_V2_SMALL_ID",
    "FRACTION_REFINERS",
    "FRACTION_TARGETS",
    "FULL_SPEED",
    "METHODS",
    "QUICK_SPEED",
    "BenchRow",
    "FractionRow",
    "PeakMemory",
    "StandInPredictor",
    "depth_anything_v2_small",
    "format_fraction",
    "format_table",
    "register",
    "run_fraction",
    "run_speed",
    "save_depth_anything",
    "set_threads",
    "synthetic_photo",
]

METHODS: tuple[str, ...] = (
    "network",
    "poisson",
    "one-stage",
    "two-stage",
    "one-stage-poisson",
    "two-stage-poisson",
    "predictor",
)

#: Refiners ``sddr bench fraction`` can time.
#: ``NAME+snap``: the fusion, then the snap to the photo's edges that ``refine()`` adds by
#: default (:func:`sddr_core.inference.refine.snap_to_photo`).
FRACTION_REFINERS: tuple[str, ...] = (
    "poisson",
    "network",
    "poisson+snap",
    "network+snap",
    "poisson-jacobi-cg",
)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "bench",
        help="speed and memory benchmarks",
        description="Benchmarks of sddr (see `sddr bench speed --help`).",
    )
    bench_sub = p.add_subparsers(dest="bench_command", metavar="BENCHMARK")
    s = bench_sub.add_parser(
        "speed",
        help="parameters, GFLOPs, latency, peak memory and call counts per working size",
        description="Time the refinement network, Poisson fusion, and one-/two-stage "
        "refinement at several working sizes on a synthetic photo, with a small stand-in "
        "predictor, with a progress bar. Prints a table (Markdown with --markdown). The "
        "default is the quick run (512 and 1024 px, 5 s budget: under a minute on 2 CPU "
        "cores); --full is the documented table (512, 1024, 2048 px, 40 s budget: about 6 "
        "minutes on one core).",
    )
    s.add_argument("--full", action="store_true",
                   help="the full run: --sizes 512 1024 2048 --repeats 3 --budget 40")  # fmt: skip
    s.add_argument("--sizes", type=int, nargs="+", default=None, metavar="PX",
                   help="working sizes (square; default: 512 1024, --full adds 2048)")  # fmt: skip
    s.add_argument("--repeats", type=int, default=None,
                   help="timed runs per measurement, at most (default: 3)")  # fmt: skip
    s.add_argument("--budget", type=float, default=None, metavar="SECONDS",
                   help="stop repeating after this long (default: 5, --full: 40)")  # fmt: skip
    s.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS))
    s.add_argument("--device", default=None, help="cpu, cuda, cuda:N (default: auto)")
    s.add_argument("--refiner", default=None, metavar="CKPT",
                   help="network checkpoint (.safetensors); default: the default refiner's, "
                   "the network refine() uses")  # fmt: skip
    s.add_argument("--variant", default=None,
                   help="time a randomly initialised network of this variant (sddr-b0, "
                   "sddr-tiny, bandfusion-sbm, ...) instead of the default refiner")  # fmt: skip
    s.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    s.add_argument("--markdown", action="store_true", help="print Markdown tables")
    s.add_argument("--json", metavar="PATH", help="also write the rows as JSON")
    s.add_argument("--overwrite", action="store_true", help="replace an existing --json file")
    s.set_defaults(func=run_speed_cmd)
    f = bench_sub.add_parser(
        "fraction",
        help="refinement time as a fraction of the predictor's own high-resolution pass",
        description="Time one high-resolution pass of the Depth Anything V2 Small architecture "
        "(random weights built from its config; nothing is downloaded) and, in the same "
        "process, back to back, the fusion stage of each refiner on its outputs. Prints each "
        "refiner's median time divided by the predictor's median time.",
    )
    f.add_argument("--size", type=_size_arg, default=(1024, 768), metavar="WxH",
                   help="photo size; the high-resolution pass runs at its long side "
                   "(default: 1024x768)")  # fmt: skip
    f.add_argument("--refiners", nargs="+", choices=FRACTION_REFINERS,
                   default=["poisson", "network", "poisson+snap", "network+snap"],
                   help="refiners to time (default: poisson network poisson+snap "
                   "network+snap); network = the default refiner, as_refiner(None); NAME+snap "
                   "= its fusion and the snap to the photo's edges that refine() adds; "
                   "poisson-jacobi-cg = the earlier Poisson solver")  # fmt: skip
    f.add_argument("--repeats", type=int, default=5,
                   help="timed rounds after one warm-up round (default: %(default)s)")  # fmt: skip
    f.add_argument(
        "--weights",
        default=None,
        metavar="DIR",
        help="a Depth-Anything-V2-Small folder to time instead of random weights",
    )
    f.add_argument("--threads", type=int, default=None,
                   help="torch and OpenCV CPU threads (default: their own)")  # fmt: skip
    f.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N (default: %(default)s)")
    f.add_argument("--compile", action="store_true",
                   help="run the network compiled (torch.compile; CUDA graphs on a GPU), "
                   "after three untimed warm-up rounds")  # fmt: skip
    f.add_argument("--markdown", action="store_true", help="print a Markdown table")
    f.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    f.add_argument("--overwrite", action="store_true", help="replace an existing --json file")
    f.set_defaults(func=run_fraction_cmd)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])


def _size_arg(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT, got {text!r}") from None
    if w < 16 or h < 16:
        raise argparse.ArgumentTypeError(f"the photo must be at least 16x16, got {text!r}")
    return w, h


# -- the stand-in predictor and the photo ------------------------------------------------------


class StandInPredictor:
    """A tiny convolutional depth predictor for timing (not for quality).

    Two stride-2 convolutions (3→16→32), two 3×3 convolutions (32→32), a 3×3 head (32→1),
    ReLU, output upsampled ×4: 23,873 parameters, about 1.57 k multiply-adds per input pixel.
    Native resolution 518 (as Depth Anything V2), disparity.
    """

    name = "stand-in"
    native_resolution = 518
    kind = "disparity"
    size_multiple = 1

    def __init__(self, device: Any = None) -> None:
        import torch
        from torch import nn

        from sddr_core.device import resolve_device

        self.device = resolve_device(device)
        gen = torch.Generator().manual_seed(0)
        self.net = nn.Sequential(
            nn.Conv2d(3, 16, 3, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(16, 32, 3, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(),
            nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(),
            nn.Conv2d(32, 1, 3, padding=1),
        )  # fmt: skip
        with torch.no_grad():
            for prm in self.net.parameters():
                prm.copy_(torch.randn(prm.shape, generator=gen) * 0.1)
        self.net.to(self.device).eval()
        self.calls = 0

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.net.parameters())

    def predict(self, image: np.ndarray, resolution: int) -> np.ndarray:
        import torch
        import torch.nn.functional as F

        from sddr_core.ops.resize import resize_long_side

        self.calls += 1
        x = resize_long_side(np.ascontiguousarray(image), int(resolution), kind="image")
        t = torch.from_numpy(x).permute(2, 0, 1)[None].to(self.device)
        with torch.inference_mode():
            y = self.net(t)
            y = F.interpolate(y, size=x.shape[:2], mode="bilinear", align_corners=False)
            out = y[0, 0].float().cpu().numpy()
        return out - out.min() + 1.0


def synthetic_photo(size: int, seed: int = 0) -> np.ndarray:
    """A float32 RGB ``(size, size, 3)`` test photo: gradients, boxes, discs and texture."""
    rng = np.random.default_rng(seed)
    yy, xx = (np.mgrid[0:size, 0:size].astype(np.float32) + 0.5) / size
    img = np.stack([0.3 + 0.4 * xx, 0.5 - 0.3 * yy, 0.4 + 0.1 * np.sin(20 * xx)], axis=-1)
    for _ in range(12):
        cx, cy, r = rng.uniform(0.1, 0.9), rng.uniform(0.1, 0.9), rng.uniform(0.03, 0.15)
        colour = rng.uniform(0, 1, 3).astype(np.float32)
        if rng.random() < 0.5:
            mask = (np.abs(xx - cx) < r) & (np.abs(yy - cy) < r)
        else:
            mask = (xx - cx) ** 2 + (yy - cy) ** 2 < r * r
        img[mask] = colour
    img += rng.normal(0, 0.02, img.shape).astype(np.float32)
    return np.clip(img, 0, 1).astype(np.float32)


# -- measuring --------------------------------------------------------------------------------


def _rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * resource.getpagesize()
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _maxrss_bytes() -> int:
    scale = 1 if sys.platform == "darwin" else 1024  # bytes on macOS, KiB on Linux
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale


def _release_free_memory() -> None:
    """Collect garbage and hand freed heap pages back to the OS (glibc ``malloc_trim``), so
    the RSS before a run does not include memory kept from earlier runs."""
    import contextlib
    import ctypes
    import gc

    gc.collect()
    # not glibc: the baseline may then include memory kept by the allocator
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


class PeakMemory:
    """Context manager measuring the peak memory growth of a block (see the module
    docstring for what is counted on the CPU and on CUDA); ``growth`` in bytes."""

    def __init__(self, device: Any, interval: float = 0.001) -> None:
        self.cuda = getattr(device, "type", str(device)) == "cuda"
        self.device = device
        self.interval = interval
        self.growth = 0
        self._stop = threading.Event()
        self._peak = 0

    def _sample(self) -> None:
        while not self._stop.is_set():
            self._peak = max(self._peak, _rss_bytes())
            self._stop.wait(self.interval)

    def __enter__(self) -> PeakMemory:
        if self.cuda:
            import torch

            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            self._base = torch.cuda.memory_allocated(self.device)
            return self
        _release_free_memory()
        self._base = _rss_bytes()
        self._maxrss_before = _maxrss_bytes()
        self._peak = self._base
        self._stop.clear()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.cuda:
            import torch

            torch.cuda.synchronize(self.device)
            self.growth = int(torch.cuda.max_memory_allocated(self.device) - self._base)
            return
        self._stop.set()
        self._thread.join()
        peak = max(self._peak, _rss_bytes())
        maxrss = _maxrss_bytes()
        if maxrss > self._maxrss_before:  # the kernel's own high-water mark moved: use it
            peak = max(peak, maxrss)
        self.growth = int(max(0, peak - self._base))


@dataclass
class BenchRow:
    """One line of the table (times in seconds, memory in bytes)."""

    size: int
    method: str
    runs: int
    warm: bool
    median_s: float
    times_s: list[float]
    peak_bytes: int
    predictor_calls: int
    network_calls: int
    gmacs: float | None
    vs_predictor: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _timed(
    fn: Callable[[], Any], device: Any, repeats: int, budget: float
) -> tuple[list[float], bool, int, Any]:
    """Run ``fn`` (see the module docstring for the warm-up rule); returns
    ``(times, warm, peak_bytes, last_result)``."""
    import torch

    def once() -> tuple[float, int, Any]:
        with PeakMemory(device) as mem:
            t = time.perf_counter()
            out = fn()
            if getattr(device, "type", "") == "cuda":
                torch.cuda.synchronize(device)
            dt = time.perf_counter() - t
        return dt, mem.growth, out

    first, peak, out = once()
    if first >= budget / 3 or repeats < 1:
        return [first], False, peak, out
    times: list[float] = []
    spent = 0.0
    while len(times) < max(repeats, 1) and (not times or spent < budget):
        dt, mem, out = once()
        times.append(dt)
        spent += dt
        peak = max(peak, mem)
    return times, True, peak, out


class _Recording:
    """Wraps a network refiner to record the padded shapes of its passes (for MACs)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.name = inner.name
        self.size_multiple = inner.size_multiple
        self.max_working_side = inner.max_working_side
        self.shapes: list[tuple[int, int, int]] = []  # (batch, h, w) per forward pass

    def _record(self, shapes: Sequence[tuple[int, int]]) -> None:
        from sddr_core.refiners.network import padded_shape

        budget = max(self.max_working_side, 32) ** 2
        groups: dict[tuple[int, int], int] = {}
        for s in shapes:
            p = padded_shape(s, self.size_multiple)
            groups[p] = groups.get(p, 0) + 1
        for (h, w), n in groups.items():
            per_pass = max(1, budget // (h * w))
            for start in range(0, n, per_pass):
                self.shapes.append((min(per_pass, n - start), h, w))

    def fuse(self, low: np.ndarray, high: np.ndarray) -> Any:
        self._record([low.shape])
        return self.inner.fuse(low, high)

    def fuse_batch(self, lows: Sequence[np.ndarray], highs: Sequence[np.ndarray]) -> Any:
        self._record([lo.shape for lo in lows])
        return self.inner.fuse_batch(lows, highs)


def _task(
    method: str,
    rec: _Recording,
    poisson: Any,
    predictor: StandInPredictor,
    photo: np.ndarray,
    low: np.ndarray,
    high: np.ndarray,
    size: int,
) -> Callable[[], Any]:
    """The callable timed for ``method``."""
    from sddr_core.inference import refine

    if method == "network":
        return lambda: rec.fuse(low, high)
    if method == "poisson":
        return lambda: poisson.fuse(low, high)
    if method == "predictor":
        return lambda: predictor.predict(photo, size)
    mode = "two-stage" if method.startswith("two") else "one-stage"
    ref = poisson if method.endswith("poisson") else rec
    low_res = min(int(predictor.native_resolution), size)  # the low pass never above the high
    return lambda: refine(
        photo, predictor, mode=mode, refiner=ref, low_resolution=low_res, high_resolution=size
    )


def run_speed(
    sizes: Sequence[int] = (512, 1024, 2048),
    *,
    repeats: int = 3,
    budget: float = 40.0,
    methods: Sequence[str] = METHODS,
    device: Any = None,
    refiner: str | None = None,
    variant: str | None = None,
    log: Callable[[str], None] | None = None,
    step: Callable[[int, str], None] | None = None,
) -> tuple[dict[str, Any], list[BenchRow]]:
    """Run the speed benchmark; returns ``(header, rows)`` (see the module docstring).

    The network timed: the checkpoint ``refiner``; else a randomly initialised network of
    ``variant`` (``sddr-b0``, ``sddr-tiny`` or a band-fusion variant; speed does not depend on
    the weights); else the default refiner's checkpoint, the network ``refine()`` uses.

    ``log`` receives a line before and after each measurement; ``step(size, method)`` is
    called after each one (a progress bar).
    """
    import torch

    from sddr_core import __version__
    from sddr_core.device import resolve_device
    from sddr_core.models import count_flops, count_parameters, create_model
    from sddr_core.models.band_fusion import create_band_model
    from sddr_core.refiners.network import (
        NetworkRefiner,
        default_checkpoint,
        load_network,
        padded_shape,
    )
    from sddr_core.refiners.poisson import PoissonRefiner

    unknown = sorted(set(methods) - set(METHODS))
    if unknown:
        from sddr_core.errors import InputError

        raise InputError(f"unknown benchmark method(s) {unknown}; choose from {list(METHODS)}.")
    log = log or (lambda msg: None)
    dev = resolve_device(device)
    if refiner and variant:
        from sddr_core.errors import InputError

        raise InputError("give --refiner (a checkpoint) or --variant (random weights), not both.")
    if not refiner and not variant:
        default = default_checkpoint()
        refiner, variant = (str(default), None) if default.is_file() else (None, "bandfusion-sbm")
    if refiner:
        net = load_network(refiner, device=dev, max_working_side=max(sizes))
    else:
        torch.manual_seed(0)
        make = create_band_model if variant.startswith("bandfusion") else create_model
        net = NetworkRefiner(make(variant), device=dev, max_working_side=max(sizes))
    poisson = PoissonRefiner(max_working_side=max(sizes))
    predictor = StandInPredictor(dev)
    flops_cache: dict[tuple[int, int, int], int] = {}

    def macs_of(shapes: Sequence[tuple[int, int, int]]) -> float:
        total = 0
        for key in shapes:
            if key not in flops_cache:  # the pass that runs: padded to the network's multiple
                h, w = padded_shape((key[1], key[2]), net.pad_multiple)
                flops_cache[key] = count_flops(net.model, h, w, batch=key[0]).macs
            total += flops_cache[key]
        return total / 1e9

    header = {
        "sddr_version": __version__,
        "torch": torch.__version__,
        "device": _device_name(dev),
        "threads": torch.get_num_threads(),
        "network": getattr(net.model.config, "name", variant),
        "weights": refiner or "random initialisation",
        "parameters": count_parameters(net.model),
        "precision": "fp32" if dev.type != "cuda" else "autocast " + _autocast_name(),
        "predictor": f"stand-in conv net, {predictor.num_parameters()} parameters, "
        "~1.57 k MACs per input pixel, native 518",
        "network_flops": {},
        "repeats": repeats,
        "budget_s": budget,
    }
    rows: list[BenchRow] = []
    for size in sizes:
        photo = synthetic_photo(size)
        fc = count_flops(net.model, size)
        header["network_flops"][size] = {"gmacs": fc.gmacs, "gflops": fc.gflops}
        rng = np.random.default_rng(size)
        yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
        low = (1.0 + (xx > 0.5) + 0.2 * yy).astype(np.float32)
        high = (2.0 * low + rng.normal(0, 0.02, low.shape)).astype(np.float32)
        predictor_time = None
        for method in methods:
            log(f"  {size}px {method} ...")
            rec = _Recording(net)
            fn = _task(method, rec, poisson, predictor, photo, low, high, size)
            times, warm, peak, out = _timed(fn, dev, repeats, budget)
            if method in ("network", "poisson"):
                predictor_calls, fusions = 0, 1
            elif method == "predictor":
                predictor_calls, fusions = 1, 0
            else:
                predictor_calls, fusions = out.info["predictor_calls"], out.info["refiner_calls"]
            uses_net = method in ("network", "one-stage", "two-stage")
            passes = len(times) + (1 if warm else 0)  # the warm-up was recorded too
            per_run = rec.shapes[: len(rec.shapes) // passes] if uses_net else []
            row = BenchRow(
                size=size,
                method=method,
                runs=len(times),
                warm=warm,
                median_s=float(statistics.median(times)),
                times_s=[round(t, 4) for t in times],
                peak_bytes=peak,
                predictor_calls=predictor_calls,
                network_calls=fusions if uses_net else 0,
                gmacs=macs_of(per_run) if uses_net else None,
                extra={} if uses_net else {"poisson_calls": fusions},
            )
            rows.append(row)
            if method == "predictor":
                predictor_time = row.median_s
            log(f"    {row.median_s:.3f} s, {row.peak_bytes / 2**20:.0f} MiB")
            if step is not None:
                step(size, method)
        if predictor_time:
            for row in rows:
                if row.size == size and row.method != "predictor":
                    row.vs_predictor = row.median_s / predictor_time
    return header, rows


def _device_name(dev: Any) -> str:
    import platform

    import torch

    if dev.type == "cuda":
        return torch.cuda.get_device_name(dev)
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    import os

    return f"CPU {cpu} ({os.cpu_count()} cores)"


def _autocast_name() -> str:
    import torch

    return "bf16" if torch.cuda.is_bf16_supported() else "fp16"


# -- output -----------------------------------------------------------------------------------


def format_table(
    header: dict[str, Any], rows: Sequence[BenchRow], *, markdown: bool = False
) -> str:
    """The header lines and the table (plain text or Markdown)."""
    lines = [
        f"sddr {header['sddr_version']}, torch {header['torch']}, {header['device']}, "
        f"{header['threads']} thread{'' if header['threads'] == 1 else 's'}, "
        f"{header['precision']}",
        f"network {header['network']} ({header['weights']}): "
        f"{header['parameters'] / 1e6:.2f} M parameters; per pass "
        + ", ".join(
            f"{s}²: {v['gflops']:.1f} GFLOPs = {v['gmacs']:.2f} GMACs"
            for s, v in header["network_flops"].items()
        ),
        f"predictor: {header['predictor']}",
    ]
    cols = ["size", "method", "runs", "median s", "peak MiB", "predictor calls",
            "network calls", "GMACs", "× predictor"]  # fmt: skip
    table = []
    for r in rows:
        runs = f"{r.runs}" if r.warm else f"{r.runs}*"
        net_calls = str(r.network_calls)
        if r.extra.get("poisson_calls"):
            net_calls = f"0 (+{r.extra['poisson_calls']} Poisson)"
        table.append([
            str(r.size), r.method, runs, f"{r.median_s:.3f}", f"{r.peak_bytes / 2**20:.0f}",
            str(r.predictor_calls), net_calls,
            "—" if r.gmacs is None else f"{r.gmacs:.1f}",
            "—" if r.vs_predictor is None else f"{r.vs_predictor:.1f}",
        ])  # fmt: skip
    return _render_table(lines, cols, table, markdown)


def _render_table(lines: list[str], cols: list[str], table: list[list[str]], markdown: bool) -> str:
    """Header ``lines`` then ``table`` under ``cols``: Markdown, or aligned plain text."""
    if markdown:
        out = [*(f"- {line}" for line in lines), ""]
        out.append("| " + " | ".join(cols) + " |")
        out.append("|" + "|".join("---" for _ in cols) + "|")
        out += ["| " + " | ".join(row) + " |" for row in table]
        return "\n".join(out)
    widths = [max(len(c), *(len(row[i]) for row in table)) for i, c in enumerate(cols)]
    out = [*lines, ""]
    out.append("  ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True)))
    out.append("  ".join("-" * w for w in widths))
    out += ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)) for row in table]
    return "\n".join(out)


#: ``sddr bench speed`` presets: (sizes, repeats, budget in seconds).
QUICK_SPEED: tuple[tuple[int, ...], int, float] = ((512, 1024), 3, 5.0)
FULL_SPEED: tuple[tuple[int, ...], int, float] = ((512, 1024, 2048), 3, 40.0)


def run_speed_cmd(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from sddr_core.errors import InputError

    sizes, repeats, budget = FULL_SPEED if getattr(args, "full", False) else QUICK_SPEED
    args.sizes = list(args.sizes or sizes)
    args.repeats = repeats if args.repeats is None else args.repeats
    args.budget = budget if args.budget is None else args.budget
    if any(s < 64 or s % 32 for s in args.sizes):
        raise InputError(f"--sizes must be multiples of 32 of at least 64, got {args.sizes}.")
    if args.repeats < 1 or args.budget <= 0:
        raise InputError("--repeats must be at least 1 and --budget positive.")
    if args.json:
        from sddr_core.io.files import check_writable

        check_writable(args.json, overwrite=args.overwrite)  # fail before, not after, the run
    if args.threads:
        set_threads(args.threads)
    start = time.perf_counter()
    # Progress in units of work ~ pixels (a 1024 px step costs about four 512 px ones), so
    # the bar's estimate of the time left holds across sizes.
    cost = {size: (size / 512) ** 2 for size in args.sizes}
    bar = tqdm(
        total=round(sum(cost.values()) * len(args.methods), 3),
        desc="bench speed",
        bar_format="{desc}: {percentage:3.0f}%|{bar}| {elapsed}<{remaining}{postfix}",
        file=sys.stderr,
    )

    def step(size: int, method: str) -> None:
        bar.set_postfix_str(f"{size}px {method} done", refresh=False)
        bar.update(round(cost[size], 3))

    try:
        header, rows = run_speed(
            args.sizes,
            repeats=args.repeats,
            budget=args.budget,
            methods=args.methods,
            device=args.device,
            refiner=args.refiner,
            variant=args.variant,
            log=lambda msg: bar.write(msg, file=sys.stderr),
            step=step,
        )
    finally:
        bar.close()
    header["wall_s"] = round(time.perf_counter() - start, 1)
    print(format_table(header, rows, markdown=args.markdown))
    quick = not getattr(args, "full", False) and tuple(args.sizes) == QUICK_SPEED[0]
    hint = "; the quick default: --full adds 2048 px and longer budgets" if quick else ""
    print(f"\n(total {header['wall_s']:.0f} s{hint})")
    if args.json:
        from sddr_core.io.files import atomic_write

        data = json.dumps({"header": header, "rows": [asdict(r) for r in rows]}, indent=2)
        atomic_write(args.json, lambda fh: fh.write(data.encode()), overwrite=args.overwrite)
    return 0


# -- refinement as a fraction of the predictor's high-resolution pass --------------------------

#: The architecture ``sddr bench fraction`` times by default (its Hugging Face id).
DA_V2_SMALL_ID = "depth-anything/Depth-Anything-V2-Small-hf"

#: The targets of the fraction table (refinement time / one high-resolution predictor pass).
FRACTION_TARGETS: dict[str, float] = {
    "poisson": 0.15,
    "network": 0.10,
    "poisson+snap": 0.15,
    "network+snap": 0.10,
}


#: ``depth-anything/Depth-Anything-V2-Small-hf``'s architecture: DINOv2 ViT-S/14 backbone and
#: DPT head, as ``transformers`` config arguments.
DA_V2_SMALL_BACKBONE: dict[str, Any] = {
    "hidden_size": 384,
    "num_hidden_layers": 12,
    "num_attention_heads": 6,
    "mlp_ratio": 4,
    "image_size": 518,
    "patch_size": 14,
    "out_indices": [3, 6, 9, 12],
    "reshape_hidden_states": False,
}
DA_V2_SMALL_HEAD: dict[str, Any] = {
    "reassemble_hidden_size": 384,
    "reassemble_factors": [4, 2, 1, 0.5],
    "neck_hidden_sizes": [48, 96, 192, 384],
    "fusion_hidden_size": 64,
    "head_hidden_size": 32,
    "depth_estimation_type": "relative",
}


def depth_anything_v2_small(folder: str | Any, *, seed: int = 0) -> Any:
    """Save the Depth Anything V2 Small architecture with random weights to ``folder``.

    The configuration is that of ``depth-anything/Depth-Anything-V2-Small-hf``
    (:data:`DA_V2_SMALL_BACKBONE`, :data:`DA_V2_SMALL_HEAD`: ViT-S/14, 384 wide, 12 layers,
    6 heads, features of layers 3, 6, 9, 12; DPT neck 48, 96, 192, 384): 24.8 M parameters,
    the cost of the real model, nothing downloaded; speed does not depend on the weights.
    Returns the folder (a Path) holding ``config.json``, ``model.safetensors`` and
    ``preprocessor_config.json``.

    Raises:
        SddrError: transformers is not installed.
    """
    return save_depth_anything(folder, DA_V2_SMALL_BACKBONE, DA_V2_SMALL_HEAD, seed=seed)


def save_depth_anything(
    folder: str | Any, backbone: dict[str, Any], head: dict[str, Any], *, seed: int = 0
) -> Any:
    """Save a randomly initialised Depth Anything model (DINOv2 ``backbone`` and DPT ``head``
    config arguments) with an ImageNet-normalisation ``preprocessor_config.json``, loadable
    by ``HFDepthPredictor("depth-anything-v2-small", weights=folder)``."""
    from pathlib import Path

    import torch

    from sddr_core.predictors.hf_transformers import _import_transformers

    transformers = _import_transformers()
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    config = transformers.DepthAnythingConfig(
        backbone_config=transformers.Dinov2Config(**backbone), **head
    )
    torch.manual_seed(seed)
    transformers.DepthAnythingForDepthEstimation(config).save_pretrained(folder)
    preprocessing = {
        "image_processor_type": "DPTImageProcessor",
        "do_normalize": True,
        "image_mean": [0.485, 0.456, 0.406],
        "image_std": [0.229, 0.224, 0.225],
        "size": {"height": 518, "width": 518},
        "keep_aspect_ratio": True,
        "ensure_multiple_of": 14,
    }
    (folder / "preprocessor_config.json").write_text(json.dumps(preprocessing, indent=2))
    return folder


@dataclass
class FractionRow:
    """One refiner's fusion time against the predictor's high-resolution pass."""

    refiner: str  # the requested name (``poisson``, ``network``, ``poisson-jacobi-cg``)
    loaded: str  # repr of the refiner object that ran
    working_shape: tuple[int, int]
    median_s: float
    times_s: list[float]
    fraction: float  # median_s / the predictor's median
    target: float | None = None


def _fraction_refiner(name: str, device: Any) -> Any:
    from sddr_core.refiners.poisson import PoissonRefiner

    name = name.removesuffix("+snap")
    if name == "poisson":
        return PoissonRefiner()
    if name == "poisson-jacobi-cg":
        return PoissonRefiner(solver="jacobi-cg")
    if name == "network":
        from sddr_core.inference.refine import as_refiner

        return as_refiner(None, device=device)  # the default refiner, as refine() loads it
    from sddr_core.errors import InputError

    raise InputError(f"unknown refiner {name!r}; choose from {list(FRACTION_REFINERS)}.")


def run_fraction(
    size: tuple[int, int] = (1024, 768),
    *,
    refiners: Sequence[str] = ("poisson", "network"),
    repeats: int = 5,
    predictor: Any = None,
    weights: str | None = None,
    device: Any = "cpu",
    compile: bool = False,
    log: Callable[[str], None] | None = None,
) -> tuple[dict[str, Any], list[FractionRow]]:
    """Refinement time as a fraction of one high-resolution predictor pass.

    On a ``size = (width, height)`` synthetic photo: run ``predictor`` once at its native
    resolution (the low input) and once at the photo's long side (the high input, as
    ``refine(..., high_resolution=max(size))``), then for one warm-up round and ``repeats``
    timed rounds, back to back in this process: one high-resolution predictor pass, then
    each refiner's fusion stage (:func:`sddr_core.inference.one_stage.fuse_at` at the working
    size :func:`~sddr_core.inference.one_stage.working_size_for` picks, resizing included);
    for ``NAME+snap`` also the snap of the result to the photo's edges
    (``header["snap"]`` says how many pixels it changed).
    Each fraction is the refiner's median time over the predictor's median time.

    Args:
        predictor: any predictor object (``predict(image, resolution)``,
            ``native_resolution``); default: the Depth Anything V2 Small architecture from
            ``weights`` (a folder) or with random weights (:func:`depth_anything_v2_small`).
        refiners: names from :data:`FRACTION_REFINERS`.
        compile: run the network refiner compiled (``NetworkRefiner.compile``); three
            warm-up rounds instead of one, so that compiling and CUDA-graph capture are not
            timed.

    Returns:
        ``(header, rows)``; ``header["predictor_s"]`` holds the predictor's times.
    """
    import tempfile

    import torch

    from sddr_core import __version__
    from sddr_core.device import resolve_device
    from sddr_core.errors import InputError
    from sddr_core.inference.one_stage import fuse_at, working_size_for
    from sddr_core.inference.refine import snap_to_photo

    unknown = sorted(set(refiners) - set(FRACTION_REFINERS))
    if unknown:
        raise InputError(f"unknown refiner(s) {unknown}; choose from {list(FRACTION_REFINERS)}.")
    if repeats < 1:
        raise InputError("--repeats must be at least 1.")
    log = log or (lambda msg: None)
    dev = resolve_device(device)
    width, height = int(size[0]), int(size[1])
    if predictor is None:
        from sddr_core.predictors.hf_transformers import HFDepthPredictor

        with tempfile.TemporaryDirectory(prefix="sddr-da-v2-small-") as tmp:
            folder = weights
            if folder is None:
                log("building Depth Anything V2 Small with random weights ...")
                folder = str(depth_anything_v2_small(tmp))
            predictor = HFDepthPredictor(
                "depth-anything-v2-small", weights=folder, device=dev, download=False
            )
        n_params = sum(p.numel() for p in predictor.model.parameters())
        description = (
            f"depth-anything-v2-small architecture ({n_params / 1e6:.1f} M parameters, "
            + ("weights from " + str(weights) if weights else "random weights from its config")
            + ")"
        )
    else:
        description = str(getattr(predictor, "name", type(predictor).__name__))
    loaded = {name: _fraction_refiner(name, dev) for name in refiners}
    for refiner in loaded.values():
        if hasattr(refiner, "compile"):
            refiner.compile = compile
    warmups = 3 if compile else 1

    photo = synthetic_photo(max(width, height))[:height, :width]
    photo = np.ascontiguousarray(photo)
    high_res = max(width, height)
    log(f"low pass at {predictor.native_resolution} ...")
    low = predictor.predict(photo, int(predictor.native_resolution))
    log(f"high pass at {high_res} ...")
    high = predictor.predict(photo, high_res)
    shapes = {name: working_size_for(photo.shape[:2], high.shape, r) for name, r in loaded.items()}

    pred_times: list[float] = []
    times: dict[str, list[float]] = {name: [] for name in loaded}
    header_snap: dict[str, dict[str, Any]] = {}
    for round_ in range(repeats + warmups):
        timed = round_ >= warmups
        t = time.perf_counter()
        high = predictor.predict(photo, high_res)
        dt = time.perf_counter() - t
        if timed:
            pred_times.append(dt)
        msg = [f"predictor {dt:.3f} s"]
        for name, refiner in loaded.items():
            t = time.perf_counter()
            fusion = fuse_at(refiner, low, high, shapes[name])
            if name.endswith("+snap"):
                snap_info: dict[str, Any] = {}
                snap_to_photo(fusion.depth, photo, snap_info, {}, device=dev, kind=predictor.kind)
                header_snap[name] = snap_info
            dt = time.perf_counter() - t
            if timed:
                times[name].append(dt)
            msg.append(f"{name} {dt:.3f} s")
        label = f"round {round_ - warmups + 1}: " if timed else "warm-up: "
        log(label + ", ".join(msg))

    pred_median = float(statistics.median(pred_times))
    rows = [
        FractionRow(
            refiner=name,
            loaded=repr(refiner),
            working_shape=shapes[name],
            median_s=float(statistics.median(times[name])),
            times_s=[round(t, 4) for t in times[name]],
            fraction=float(statistics.median(times[name])) / pred_median,
            target=FRACTION_TARGETS.get(name),
        )
        for name, refiner in loaded.items()
    ]
    header = {
        "sddr_version": __version__,
        "torch": torch.__version__,
        "device": _device_name(dev),
        "threads": torch.get_num_threads(),
        "predictor": description,
        "photo": f"{width}x{height}",
        "low_shape": list(low.shape),
        "high_shape": list(high.shape),
        "high_resolution": high_res,
        "predictor_median_s": pred_median,
        "predictor_s": [round(t, 4) for t in pred_times],
        "repeats": repeats,
        "compiled": bool(compile),
        "snap": {
            name: {**info, "share": round(info["snapped_pixels"] / (width * height), 4)}
            for name, info in header_snap.items()
        },
    }
    return header, rows


def format_fraction(
    header: dict[str, Any], rows: Sequence[FractionRow], *, markdown: bool = False
) -> str:
    """The header lines and the fraction table (plain text or Markdown)."""
    lines = [
        f"sddr {header['sddr_version']}, torch {header['torch']}, {header['device']}, "
        f"{header['threads']} thread{'' if header['threads'] == 1 else 's'}"
        + (", network compiled (torch.compile)" if header.get("compiled") else ""),
        f"predictor: {header['predictor']}; photo {header['photo']}, high-resolution pass at "
        f"{header['high_resolution']} px -> {header['high_shape'][1]}x{header['high_shape'][0]}"
        f" output, median {header['predictor_median_s']:.3f} s over {header['repeats']} runs "
        f"({', '.join(f'{t:.2f}' for t in header['predictor_s'])})",
    ]
    for name, info in (header.get("snap") or {}).items():
        lines.append(
            f"{name}: the snap (radius {info['snap_radius']} px) changed "
            f"{info['snapped_pixels']} pixels ({100 * info['share']:.1f} % of the photo)"
        )
    cols = ["refiner", "runs", "working size", "median s", "× predictor", "target", "met"]
    table = []
    for r in rows:
        target = "—" if r.target is None else f"≤ {100 * r.target:.0f} %"
        met = "—" if r.target is None else ("yes" if r.fraction <= r.target else "no")
        table.append([
            r.refiner if r.loaded.startswith(("PoissonRefiner", "NetworkRefiner"))
            else f"{r.refiner} ({r.loaded})",
            str(len(r.times_s)), f"{r.working_shape[1]}x{r.working_shape[0]}",
            f"{r.median_s:.3f}", f"{100 * r.fraction:.1f} %", target, met,
        ])  # fmt: skip
    return _render_table(lines, cols, table, markdown)


def set_threads(threads: int) -> None:
    """Use ``threads`` CPU threads in torch and OpenCV (numpy's BLAS keeps its own)."""
    import cv2
    import torch

    torch.set_num_threads(int(threads))
    cv2.setNumThreads(int(threads))


def run_fraction_cmd(args: argparse.Namespace) -> int:
    from sddr_core.errors import InputError

    if args.repeats < 1:
        raise InputError("--repeats must be at least 1.")
    if args.json:
        from sddr_core.io.files import check_writable

        check_writable(args.json, overwrite=args.overwrite)
    if args.threads:
        set_threads(args.threads)
    start = time.perf_counter()
    header, rows = run_fraction(
        args.size,
        refiners=args.refiners,
        repeats=args.repeats,
        weights=args.weights,
        device=args.device,
        compile=args.compile,
        log=lambda msg: print(msg, file=sys.stderr, flush=True),
    )
    header["wall_s"] = round(time.perf_counter() - start, 1)
    print(format_fraction(header, rows, markdown=args.markdown))
    print(f"\n(total {header['wall_s']:.0f} s)")
    if args.json:
        from sddr_core.io.files import atomic_write

        data = json.dumps({"header": header, "rows": [asdict(r) for r in rows]}, indent=2)
        atomic_write(args.json, lambda fh: fh.write(data.encode()), overwrite=args.overwrite)
    return 0
