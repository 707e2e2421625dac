"""``sddr info`` (a subprocess) is fast: versions come from package metadata, and torch is
imported only where it can have CUDA devices to report."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib.metadata import version

import numpy as np


def test_info_reports_versions_without_importing_torch_on_a_cpu_build(tmp_path) -> None:
    env = {**os.environ, "SDDR_LOAD_PLUGINS": "", "OMP_NUM_THREADS": "1"}
    run = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "sddr_core", "info"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    torch_version = version("torch")
    assert f"torch       {torch_version}" in run.stdout
    assert f"numpy       {np.__version__}" in run.stdout
    assert "default device:" in run.stdout and "cuda" in run.stdout
    imported = {line.rsplit("|", 1)[-1].strip() for line in run.stderr.splitlines()}
    assert "transformers" not in imported  # about 1 s, only for its version
    if torch_version.endswith("+cpu"):
        assert "torch" not in imported  # about 2 s; a CPU build has no CUDA to probe
        assert "CPU build" in run.stdout
    else:
        assert "probing devices imported torch" in run.stdout
