"""``sddr predictors``, ``sddr refiners``, ``sddr plugins``, ``sddr info``: what is here."""

from __future__ import annotations

import argparse
import platform


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("predictors", help="list registered depth predictors")
    p.add_argument("pattern", nargs="?", default="*", help="name filter (wildcards allowed)")
    p.set_defaults(func=run_predictors)
    p = sub.add_parser("refiners", help="list registered refiners, best first")
    p.set_defaults(func=run_refiners)
    p = sub.add_parser("plugins", help="list loaded plugins and the hooks they implement")
    p.set_defaults(func=run_plugins)
    p = sub.add_parser("info", help="versions and compute devices")
    p.set_defaults(func=run_info)


def _table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(lines)


def run_predictors(args: argparse.Namespace) -> int:
    from sddr_core.registry import list_predictors

    rows = []
    for s in list_predictors(args.pattern):
        present = "n/a" if s.weights_present is None else "yes" if s.weights_present() else "no"
        rows.append([s.name, s.source or "-", s.kind, str(s.native_resolution), s.licence, present])
    print(_table(rows, ["name", "model id", "kind", "native", "licence", "weights"]))
    return 0


def run_refiners(args: argparse.Namespace) -> int:
    from sddr_core.registry import list_refiners

    rows = [
        [s.name, str(s.priority), "yes" if s.available() else "no", s.description]
        for s in list_refiners()
    ]
    print(_table(rows, ["name", "priority", "available", "description"]))
    return 0


def run_plugins(args: argparse.Namespace) -> int:
    from sddr_core.plugins import list_plugins

    rows = [[p["name"], p["distribution"], ", ".join(p["hooks"])] for p in list_plugins()]
    print(_table(rows, ["plugin", "from", "hooks"]))
    return 0


def _dist_version(name: str) -> str | None:
    """The installed version of distribution ``name`` from its metadata (no import), or None."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return None


def run_info(args: argparse.Namespace) -> int:
    """Versions and devices, fast: versions come from package metadata, so torch (about 2 s
    to import) and transformers (about 1 s) are not imported; torch is imported only to probe
    CUDA devices, which a CPU build of torch (version ``+cpu``) cannot have."""
    import os
    import time

    import cv2
    import numpy

    from sddr_core import __version__

    print(f"sddr        {__version__}")
    print(f"python      {platform.python_version()} ({platform.platform()})")
    torch_version = _dist_version("torch")
    print(f"torch       {torch_version or 'not installed'}")
    print(f"numpy       {numpy.__version__}")
    print(f"opencv      {cv2.__version__}")
    transformers_version = _dist_version("transformers")
    if transformers_version:
        print(f"transformers {transformers_version}")
    else:
        from sddr_core.predictors.hf_transformers import INSTALL_HINT

        print(f"transformers not installed (for the HF predictors: {INSTALL_HINT})")
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    cores = f"{os.cpu_count()}" + (
        f" ({affinity} usable)" if affinity and affinity != os.cpu_count() else ""
    )
    omp = os.environ.get("OMP_NUM_THREADS")
    print(f"cpu cores   {cores}" + (f", OMP_NUM_THREADS={omp}" if omp else ""))
    if torch_version is None or torch_version.endswith("+cpu"):
        why = "not installed" if torch_version is None else "this torch is a CPU build"
        print(f"default device: cpu ({why})")
        print("cuda        not available")
        return 0
    start = time.perf_counter()
    import torch

    from sddr_core.device import resolve_device

    print(f"default device: {resolve_device(None)}")
    print(f"cpu threads: {torch.get_num_threads()}")
    if torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            prop = torch.cuda.get_device_properties(i)
            print(f"cuda:{i}      {prop.name}, {prop.total_memory / 2**30:.1f} GiB")
    else:
        print("cuda        not available")
    print(f"(probing devices imported torch: {time.perf_counter() - start:.1f} s)")
    return 0
