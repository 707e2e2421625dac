"""Plugins: discovery through the entry-point group, registration, progress, cancellation."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

import sddr_core
from sddr_core.plugins import get_plugin_manager, list_plugins, reload_plugins, temporary_plugin
from sddr_core.registry import list_predictors

HERE = Path(__file__).parent / "outside_plugin"


@pytest.fixture
def installed_outside_plugin(tmp_path, monkeypatch):
    """Install the outside plugin as a distribution with an ``sddr_core`` entry point."""
    site = tmp_path / "site"
    dist = site / "sddr_outside_plugin-1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: sddr-outside-plugin\nVersion: 1.0\n"
    )
    (dist / "entry_points.txt").write_text("[sddr_core]\noutside = sddr_outside_plugin\n")
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.syspath_prepend(str(HERE))
    monkeypatch.delenv("SDDR_LOAD_PLUGINS", raising=False)
    reload_plugins()
    yield sys.modules["sddr_outside_plugin"]
    monkeypatch.setenv("SDDR_LOAD_PLUGINS", "")
    reload_plugins()


def test_builtins_register_through_hooks():
    names = {s.name for s in list_predictors()}
    assert {"simulated", "depth-anything-v2-small"} <= names
    plugins = {p["name"] for p in list_plugins()}
    assert "sddr_core.predictors.simulated" in plugins
    assert "sddr_core.refiners.poisson" in plugins


def test_outside_plugin_adds_predictor_and_receives_progress(installed_outside_plugin, scene):
    mod = installed_outside_plugin
    spec = sddr_core.registry.get_predictor_spec("outside-gradient")
    assert spec.licence == "MIT"
    dists = {p["name"]: p["distribution"] for p in list_plugins()}
    assert dists["outside"] == "sddr-outside-plugin 1.0"
    mod.EVENTS.clear()
    result = sddr_core.refine(scene[0], "outside-gradient", refiner="poisson")
    assert result.kind == "depth" and result.info["predictor"] == "outside-gradient"
    stages = [e[0] for e in mod.EVENTS]
    n_snap = stages.count("snap")
    assert stages == ["predict-low"] * 2 + ["predict-high"] * 2 + ["refine"] * 2 + ["snap"] * n_snap
    snap = [e[1:] for e in mod.EVENTS if e[0] == "snap"]  # hundredths of its two passes
    assert n_snap >= 2 and snap[0] == (0, 200) and snap[-1] == (200, 200)
    assert [d for d, _ in snap] == sorted({d for d, _ in snap})


def test_load_plugins_env_selects(installed_outside_plugin, monkeypatch):
    monkeypatch.setenv("SDDR_LOAD_PLUGINS", "")
    reload_plugins()
    assert "outside-gradient" not in {s.name for s in list_predictors()}
    monkeypatch.setenv("SDDR_LOAD_PLUGINS", "outside")
    reload_plugins()
    assert "outside-gradient" in {s.name for s in list_predictors()}


class Recorder:
    def __init__(self, cancel_at: str | None = None) -> None:
        self.events: list[tuple[str, int, int]] = []
        self.cancel_at = cancel_at

    @sddr_core.hookimpl
    def sddr_progress(self, stage, done, total):
        self.events.append((stage, done, total))

    @sddr_core.hookimpl
    def sddr_should_cancel(self, stage):
        return True if stage == self.cancel_at else None


def test_temporary_plugin_progress(scene, toy_predictor):
    rec = Recorder()
    with temporary_plugin(rec):
        sddr_core.refine(scene[0], toy_predictor, refiner="poisson")
    assert ("predict-low", 0, 1) in rec.events and ("refine", 1, 1) in rec.events
    n = len(rec.events)
    sddr_core.refine(scene[0], toy_predictor, refiner="poisson")
    assert len(rec.events) == n  # unregistered after the block


@pytest.mark.parametrize("stage", ["predict-low", "predict-high", "refine", "snap"])
def test_cancellation(scene, toy_predictor, stage):
    rec = Recorder(cancel_at=stage)
    with temporary_plugin(rec), pytest.raises(sddr_core.CancelledError, match="cancelled"):
        sddr_core.refine(scene[0], toy_predictor, refiner="poisson")
    assert (stage, 1, 1) not in rec.events


class CancelDuringSnap(Recorder):
    """Asks to stop once the snap has reported its first batch."""

    @sddr_core.hookimpl
    def sddr_should_cancel(self, stage):
        return True if any(e[0] == "snap" and e[1] > 0 for e in self.events) else None


def test_cancel_during_the_snap_between_batches(scene, toy_predictor, monkeypatch):
    from sddr_core.ops import snap as snap_module

    original = snap_module.snap_to_image
    monkeypatch.setattr(  # batches of 64 pixels: many batches, a cancel lands between two
        snap_module, "snap_to_image", lambda *a, **k: original(*a, **{**k, "chunk": 64})
    )
    rec = CancelDuringSnap()
    with temporary_plugin(rec), pytest.raises(sddr_core.CancelledError, match="snap"):
        sddr_core.refine(scene[0], toy_predictor, refiner="poisson")
    snap = [e for e in rec.events if e[0] == "snap"]
    assert snap[0] == ("snap", 0, 200) and 0 < snap[-1][1] < 200


def test_cancel_is_firstresult():
    pm = get_plugin_manager()
    assert pm.hook.sddr_should_cancel.spec.opts["firstresult"] is True


def test_duplicate_names_are_reported():
    class Dup:
        @sddr_core.hookimpl
        def sddr_register_refiners(self):
            return [sddr_core.RefinerSpec(name="poisson", factory=lambda **_: None)]

    with temporary_plugin(Dup(), name="dup"), pytest.raises(sddr_core.SddrError, match="twice"):
        sddr_core.list_refiners()


def test_weight_dirs_hook_collects_folders():
    class Dirs:
        @sddr_core.hookimpl
        def sddr_weight_dirs(self, model_id):
            return [f"/models/{model_id}"]

    with temporary_plugin(Dirs()):
        got = get_plugin_manager().hook.sddr_weight_dirs(model_id="a/b")
    assert ["/models/a/b"] in got


def test_plugin_refiner_is_used_by_name(scene, toy_predictor):
    class Mean:
        name = "mean"
        size_multiple = 1
        max_working_side = 512

        def fuse(self, low, high):
            return sddr_core.Fusion(0.5 * (low + sddr_core.ops.apply_scale_shift(high, low)))

    class Plug:
        @sddr_core.hookimpl
        def sddr_register_refiners(self):
            return [sddr_core.RefinerSpec(name="mean", factory=lambda **_: Mean())]

    with temporary_plugin(Plug()):
        result = sddr_core.refine(scene[0], toy_predictor, refiner="mean")
    assert result.info["refiner"] == "mean" and np.isfinite(result.depth).all()
