"""``sddr train`` as a user runs it (a subprocess), from a folder that is not the clone: the
built-in configs are found by name."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from helpers import run_sddr


def sddr(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return run_sddr(*args, cwd=cwd, timeout=600)


@pytest.mark.slow
def test_train_tiny_by_name_from_any_folder(tmp_path: Path) -> None:
    run = sddr("train", "--config", "tiny", "--steps", "2", "--no-progress", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert "trained 2 steps" in run.stdout
    assert (tmp_path / "runs" / "tiny" / "last.safetensors").is_file()  # its out_dir, here


def test_unknown_config_name_lists_the_builtin_ones(tmp_path: Path) -> None:
    run = sddr("train", "--config", "tinny", cwd=tmp_path)
    assert run.returncode != 0 and "Traceback" not in run.stderr
    assert "neither a file nor a built-in config" in run.stderr
    for name in ("tiny", "default", "default_stage2", "ablation/grad"):
        assert name in run.stderr
