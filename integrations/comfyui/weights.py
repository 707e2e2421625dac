"""Predictor weights in ComfyUI's ``models/depth`` folder: first-use downloads with progress,
and an error an artist can act on when there is no internet connection.

sddr looks for weights in the folders the pack offers through its ``sddr_weight_dirs`` hook
(``models/depth/<folder>``) before the Hugging Face cache; this module makes a missing model
land in ``models/depth/<folder>`` rather than in that cache. It imports neither ComfyUI nor
torch, so it is unit-tested without them.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["FILES", "download_weights", "hub_url", "model_folder", "offline_message"]

#: The files a transformers depth model needs (what sddr's own download fetches).
FILES: tuple[str, ...] = (
    "config.json",
    "preprocessor_config.json",
    "*.safetensors",
    "*.safetensors.index.json",
)


def model_folder(depth_dir: str | os.PathLike[str], model_id: str) -> Path:
    """``models/depth/<last part of the model id>``, one of the names sddr looks for."""
    return Path(depth_dir) / model_id.rstrip("/").split("/")[-1]


def hub_url(model_id: str) -> str:
    """The page listing the model's files on the Hugging Face Hub."""
    return f"https://huggingface.co/{model_id}/tree/main"


def offline_message(name: str, model_id: str, folder: Path, reason: str) -> str:
    """What to tell an artist whose predictor weights are missing and cannot be downloaded."""
    return (
        f"The depth model '{name}' is not in ComfyUI's models folder yet and could not be "
        f"downloaded ({reason}).\n"
        f"To add it by hand: open {hub_url(model_id)}, download config.json, "
        "preprocessor_config.json and model.safetensors, and put the three files in this "
        f"folder (create it if needed):\n  {folder}\n"
        "Then press Run again; the predictor list shows 'downloaded' once ComfyUI is "
        "restarted or the page refreshed.\n"
        f'(With a terminal: hf download {model_id} --local-dir "{folder}")'
    )


def _offline() -> bool:
    flags = (
        os.environ.get(v, "").strip().upper() for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    )
    return any(f in ("1", "ON", "YES", "TRUE") for f in flags)


def _progress_class(report: Callable[[int, int], None], check: Callable[[], None]) -> type:
    from tqdm.auto import tqdm

    class ReportingTqdm(tqdm):  # the files bar of snapshot_download
        done = 0  # counted here: a disabled bar (HF_HUB_DISABLE_PROGRESS_BARS) keeps n at 0

        def update(self, n: float | None = 1) -> bool | None:
            check()
            out = super().update(n)
            self.done += int(n or 0)
            report(self.done, int(self.total or 0))
            return out

    return ReportingTqdm


def download_weights(
    name: str,
    model_id: str,
    depth_dir: str | os.PathLike[str],
    *,
    report: Callable[[int, int], None] = lambda done, total: None,
    check_cancel: Callable[[], None] = lambda: None,
    snapshot_download: Any = None,
) -> Path:
    """Download ``model_id``'s files into ``models/depth/<folder>`` (see :func:`model_folder`).

    Args:
        name: the sddr predictor name (for messages).
        model_id: the Hugging Face model id.
        depth_dir: ComfyUI's ``models/depth`` folder.
        report: ``report(files_done, files_total)`` while downloading (ComfyUI's progress bar).
        check_cancel: called as files arrive; raises to stop (ComfyUI's Cancel).
        snapshot_download: ``huggingface_hub.snapshot_download`` (tests pass a fake).

    Returns:
        The folder holding the model.

    Raises:
        sddr_core.errors.WeightsError: offline, the download failed, or it brought no weights;
            the message says which files to put where (:func:`offline_message`).
    """
    from sddr_core.errors import WeightsError

    folder = model_folder(depth_dir, model_id)
    if _offline():
        raise WeightsError(offline_message(name, model_id, folder, "offline mode is on"))
    if snapshot_download is None:
        try:
            from huggingface_hub import snapshot_download
        except ImportError as exc:
            raise WeightsError(
                offline_message(name, model_id, folder, "huggingface_hub is not installed")
            ) from exc
    tqdm_class = _progress_class(report, check_cancel)
    try:
        snapshot_download(
            model_id,
            local_dir=str(folder),
            allow_patterns=list(FILES),
            library_name="sddr-comfyui",
            tqdm_class=tqdm_class,
        )
    except Exception as exc:
        if type(exc).__name__ == "InterruptProcessingException":
            raise  # the user pressed Cancel
        reason = "no internet connection or the download failed: " + type(exc).__name__
        raise WeightsError(offline_message(name, model_id, folder, reason)) from exc
    if not (folder / "config.json").is_file() or not any(folder.glob("*.safetensors")):
        raise WeightsError(
            offline_message(name, model_id, folder, "the download brought no weights file")
        )
    return folder
