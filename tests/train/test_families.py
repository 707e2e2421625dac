"""Training pairs from degradation families, the family predictors and a tiny band run."""

import json

import numpy as np
import pytest

from sddr_core.errors import InputError
from sddr_core.train.families import FAMILIES, make_pair


def _gt_image():
    from sddr_core.datasets.procedural import training_scene

    scene = training_scene(7, (96, 128))
    return scene.disparity, scene.image


@pytest.mark.parametrize("family", [f for f in FAMILIES if f != "stereo"])
def test_each_family_gives_a_finite_pair_of_the_crop_size(family):
    gt, image = _gt_image()
    pair = make_pair(gt, image, np.random.default_rng(0), families=[family], secondary_p=0.0)
    assert pair.families == (family,)
    for m in (pair.low, pair.high, pair.gt):
        assert m.shape == gt.shape and m.dtype == np.float32
    assert np.isfinite(pair.low).all() and np.isfinite(pair.high).all()


def test_excluded_family_is_never_drawn_and_stereo_needs_passes():
    gt, image = _gt_image()
    rng = np.random.default_rng(1)
    allowed = [f for f in FAMILIES if f not in ("texture", "stereo")]
    seen = set()
    for _ in range(40):
        seen.update(make_pair(gt, image, rng, families=allowed).families)
    assert "texture" not in seen and "stereo" not in seen and len(seen) >= 5
    with pytest.raises(ValueError, match="no family"):
        make_pair(gt, image, rng, families=["stereo"])
    lo, hi = gt * 0.9, gt * 1.1
    pair = make_pair(gt, image, rng, families=["stereo"], stereo=(lo, hi), depth_fraction=0.0)
    assert np.corrcoef(pair.low.ravel(), lo.ravel())[0, 1] > 0.999


def test_depth_pairs_are_positive_and_inverse():
    gt, image = _gt_image()
    pair = make_pair(gt, image, np.random.default_rng(2), families=["sddr"], depth_fraction=1.0)
    assert pair.kind == "depth"
    assert (pair.low > 0).all() and (pair.high > 0).all()
    np.testing.assert_allclose(pair.gt, 1.0 / gt, rtol=1e-5)


def test_high_good_is_close_to_truth_and_unusable_is_not():
    gt, image = _gt_image()
    good = make_pair(gt, image, np.random.default_rng(3), families=["high-good"], secondary_p=0)
    bad = make_pair(gt, image, np.random.default_rng(3), families=["high-unusable"], secondary_p=0)
    c_good = abs(np.corrcoef(good.high.ravel(), good.gt.ravel())[0, 1])
    c_bad = abs(np.corrcoef(bad.high.ravel(), bad.gt.ravel())[0, 1])
    assert c_good > 0.99 and c_bad < c_good


def test_family_predictor_is_seeded_and_low_is_blurrier():
    from sddr_core.datasets.base import Sample
    from sddr_core.predictors.degraded import DegradedPredictor
    from sddr_core.registry import create_predictor

    gt, image = _gt_image()
    pred = DegradedPredictor(gt, image, "texture", native_resolution=48)
    low = pred.predict(image, 48)
    high = pred.predict(image, 128)
    assert low.shape == (36, 48) and high.shape == gt.shape
    np.testing.assert_array_equal(high, pred.predict(image, 128))
    sample = Sample(rgb=image, gt=gt, gt_kind="disparity", valid=np.ones(gt.shape, bool))
    made = create_predictor("family-texture", sample=sample)
    assert made.name == "family-texture"
    # the strength knob: a stronger family moves the high pass further from the truth
    err = {}
    for strength in (0.5, 3.0):
        p = create_predictor("family-lowfreq", sample=sample, strength=strength)
        h = p.predict(image, 128)
        err[strength] = 1 - abs(np.corrcoef(h.ravel(), gt.ravel())[0, 1])
    assert err[3.0] > err[0.5]
    with pytest.raises(InputError, match="strength"):
        DegradedPredictor(gt, image, "texture", strength=0)


def test_eval_strength_reaches_family_predictors_only(capsys):
    from sddr_core.cli.main import main

    code = main(["eval", "--dataset", "motorcycle", "--predictor", "stereo-bm", "--strength", "2"])
    assert code != 0 and "simulated and family-<name>" in capsys.readouterr().err


def _tiny_band_config(out, **changes):
    """A band-training config that runs in a second: tiny network, 64 px crops, 4 steps."""
    from sddr_core.train.band import BandTrainConfig

    settings = dict(variant="bandfusion-tiny", crop=64, pool_size=6, batch_size=2, steps=4,
                    log_every=2, checkpoint_every=2, real_fraction=0.0)  # fmt: skip
    return BandTrainConfig(out_dir=str(out), **{**settings, **changes})


def test_tiny_band_training_run_writes_a_loadable_checkpoint(tmp_path):
    from sddr_core.refiners.network import load_refiner
    from sddr_core.train.band import train_band

    cfg = _tiny_band_config(tmp_path / "run", families=["sddr", "texture"])
    path = train_band(cfg, progress=False)
    refiner = load_refiner(path)
    assert "texture" in refiner.meta["training"]
    log = (tmp_path / "run" / "log.csv").read_text().splitlines()
    assert log[0].startswith("step") and len(log) == 3
    cfg.steps = 6  # resume continues from step 4
    train_band(cfg, progress=False)
    assert len((tmp_path / "run" / "log.csv").read_text().splitlines()) == 4
    # starting over where a run lies needs overwrite; with it, the old log goes
    from sddr_core.errors import OutputExistsError

    with pytest.raises(OutputExistsError, match="--overwrite"):
        train_band(cfg, progress=False, resume=False)
    assert len((tmp_path / "run" / "log.csv").read_text().splitlines()) == 4  # untouched
    cfg.steps = 2
    train_band(cfg, progress=False, resume=False, overwrite=True)
    log = (tmp_path / "run" / "log.csv").read_text().splitlines()
    assert len(log) == 2 and log[1].startswith("2,")


def test_band_pool_workers_draw_fresh_pairs_in_other_processes():
    """``data.workers``: pairs come from worker processes, each refresh replaces at least
    ``n`` pairs, and closing the pool ends the processes."""
    from sddr_core.train.band import BandTrainConfig, _Pool

    cfg = BandTrainConfig(
        crop=48, pool_size=4, workers=2, real_fraction=0.0, families=["sddr", "holes"]
    )
    pool = _Pool(cfg, np.random.default_rng(0))
    try:
        assert len(pool.pairs) == 4 and pool.pairs[0].low.shape == (48, 48)
        before = [id(p) for p in pool.pairs]
        pool.refresh(3)
        changed = sum(id(p) not in before for p in pool.pairs)
        assert changed >= 1  # three draws land on random slots (possibly the same one)
        assert len(pool.pending) == 8  # every taken result was replaced by a new request
        low, high, gt = pool.batch(2)
        assert low.shape == high.shape == gt.shape == (2, 1, 48, 48)
        assert torch_isfinite(low) and torch_isfinite(high)
        procs = list(pool.workers._pool)
    finally:
        pool.close()
    for proc in procs:
        proc.join(timeout=10)
        assert not proc.is_alive()


def torch_isfinite(t) -> bool:
    import torch

    return bool(torch.isfinite(t).all())


def test_time_boxed_band_run_ends_its_schedule(tmp_path):
    """``train.max_seconds``: the run stops after that long with its learning rate at the end
    of the cosine, and writes its checkpoint, however many steps were asked for."""
    from sddr_core.train.band import BandTrainConfig, _lr, _progress, train_band

    cfg = BandTrainConfig(steps=1000, warmup=10, lr=1e-3, max_seconds=100.0)
    assert _progress(500, 10.0, cfg) == 0.5  # steps first
    assert _progress(100, 80.0, cfg) == 0.8  # time first
    assert _lr(5, cfg, 0.9) == 1e-3 * 6 / 10  # warm-up counts steps
    assert abs(_lr(100, cfg, 1.0) - 5e-5) < 1e-12
    assert _lr(100, cfg, 0.5) > _lr(100, cfg, 0.9)
    cfg = _tiny_band_config(tmp_path / "run", pool_size=4, steps=10**6, warmup=1, max_seconds=2.0,
                            log_every=1, checkpoint_every=10**6, families=["sddr"])  # fmt: skip
    train_band(cfg, progress=False)
    rows = (tmp_path / "run" / "log.csv").read_text().splitlines()
    assert 2 <= len(rows) < 10**4
    assert (tmp_path / "run" / "last.safetensors").is_file()
    assert float(rows[-1].split(",")[2]) < 2e-4  # the cosine's tail (it ends at 5e-5)


def test_band_run_refuses_missing_inputs_before_starting_workers(tmp_path):
    """A missing init checkpoint, Middlebury folder or pass file is named, with what to do,
    before any worker process starts (a worker whose set-up fails would only be replaced)."""
    from sddr_core.errors import InputError
    from sddr_core.train.band import BandTrainConfig, train_band

    base = dict(out_dir=str(tmp_path / "run"), variant="bandfusion-tiny", workers=2, steps=1)
    with pytest.raises(InputError, match=r"run\.init_from.*from scratch"):
        train_band(BandTrainConfig(**base, init_from=str(tmp_path / "none.safetensors")))
    with pytest.raises(InputError, match=r"data\.middlebury2006.*real_fraction"):
        train_band(BandTrainConfig(**base, middlebury2006=str(tmp_path / "absent")))
    (tmp_path / "mb").mkdir()
    with pytest.raises(InputError, match=r"mono_cnn\.py passes"):
        train_band(
            BandTrainConfig(
                **base, middlebury2006=str(tmp_path / "mb"), real_passes=[str(tmp_path / "p.npz")]
            )
        )


def test_sddr_train_runs_a_band_config(tmp_path):
    import subprocess
    import sys

    cfg = tmp_path / "band.toml"
    cfg.write_text(
        '[run]\nout_dir = "%s"\n[model]\nvariant = "bandfusion-tiny"\n'
        "[data]\ncrop = 64\npool_size = 4\nreal_fraction = 0.0\n"
        "[train]\nsteps = 2\nbatch_size = 2\nlog_every = 1\ncheckpoint_every = 2\n"
        % (tmp_path / "run")
    )
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "sddr_core",
            "train",
            "--config",
            str(cfg),
            "--no-progress",
            "--device",
            "cpu",
            "--set",
            "data.workers=1",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "run" / "last.safetensors").is_file()
    recorded = json.loads((tmp_path / "run" / "config.json").read_text())
    assert recorded["device"] == "cpu" and recorded["workers"] == 1  # --device reaches band runs


def test_edge_shortfall_costs_blurred_steps_not_sharp_ones():
    import torch

    from sddr_core.train.band import aligned_loss, edge_shortfall

    gt = torch.zeros(1, 1, 32, 32)
    gt[..., 16:] = 1.0
    mask = torch.ones_like(gt, dtype=torch.bool)
    blurred = torch.nn.functional.avg_pool2d(
        torch.nn.functional.pad(gt, (2, 2, 2, 2), mode="replicate"), 5, stride=1
    )
    assert edge_shortfall(gt, gt, mask).item() == 0.0
    assert edge_shortfall(2 * gt, gt, mask).item() == 0.0  # sharper than the truth: no cost
    assert edge_shortfall(blurred, gt, mask).item() > 0.5
    with_edges = aligned_loss(blurred, gt, edge_weight=1.0)
    assert with_edges > aligned_loss(blurred, gt) > aligned_loss(gt, gt)


def test_family_predictor_window_above_native_is_a_high_pass():
    """Two-stage windows: the error kind follows the asked resolution against the native
    one (as a real network's), not the share of the scene the window covers."""
    from sddr_core.ops.resize import resize_map
    from sddr_core.predictors.degraded import DegradedPredictor

    gt, image = _gt_image()
    pred = DegradedPredictor(gt, image, "high-unusable", native_resolution=48)
    box = (0, 0, gt.shape[0] // 2 + 8, gt.shape[1] // 2 + 8)
    window = gt[box[0] : box[2], box[1] : box[3]]

    def corr(x):
        return float(np.corrcoef(resize_map(x, window.shape).ravel(), window.ravel())[0, 1])

    assert corr(pred.predict_region(image, box, 48)) > 0.8  # a low pass of the window
    assert corr(pred.predict_region(image, box, 72)) < 0.5  # above native: the high pass


def test_sharp_low_fraction_makes_finer_low_passes():
    from sddr_core.train.band import BandTrainConfig, _Pool

    def low_detail(fraction: float) -> float:
        cfg = BandTrainConfig(
            crop=96,
            pool_size=24,
            real_fraction=0.0,
            families=["high-good"],
            sharp_low_fraction=fraction,
            depth_fraction=0.0,
        )
        pool = _Pool(cfg, np.random.default_rng(0))

        def detail(p):
            x = (p.low - p.low.mean()) / (p.low.std() + 1e-6)
            return float(np.abs(np.diff(x, axis=1)).mean())

        return float(np.mean([detail(p) for p in pool.pairs]))

    assert low_detail(1.0) > 1.1 * low_detail(0.0)  # measured 1.14 (seed 0)


def test_real_passes_join_the_real_estimator_pairs(tmp_path, monkeypatch):
    """Passes of another real estimator (data.real_passes) are added to the stereo pairs of
    their training scene and view, resized to the scene; validation scenes are refused."""
    from sddr_core.datasets.middlebury2006 import MIDDLEBURY2006_SPLIT
    from sddr_core.errors import InputError
    from sddr_core.ops.resize import resize_map
    from sddr_core.train.band import _real_scenes, load_real_passes

    from helpers import write_middlebury2006_scene

    monkeypatch.setitem(MIDDLEBURY2006_SPLIT, "train", ["baby1"])  # a one-scene training side
    rng = np.random.default_rng(0)
    write_middlebury2006_scene(tmp_path / "mb" / "baby1", 0, (40, 48))
    low, high = rng.random((12, 16)).astype(np.float32), rng.random((30, 36)).astype(np.float32)
    passes = tmp_path / "mono.npz"
    np.savez(passes, **{"baby1/left/0/low": low, "baby1/left/0/high": high})
    scenes = _real_scenes(str(tmp_path / "mb"), [str(passes)])
    left, right = scenes  # one training scene, both views
    assert len(left.stereo) == len(right.stereo) + 1 == 7  # SGBM and BM at 3 pairs each, + 1
    # data.stereo_scales sets the (low, high) pairs
    one = _real_scenes(str(tmp_path / "mb"), [], [(0.3, 1.0), (0.7, 1.0)])[0].stereo
    assert len(one) == 4  # SGBM and BM at 2 pairs each
    # data.stereo_methods sets the matchers: DIS alone gives one pair per scale
    dis = _real_scenes(str(tmp_path / "mb"), [], [(0.3, 1.0)], ["dis"])[0].stereo
    assert len(dis) == 1 and not np.allclose(dis[0][1], one[0][1])  # not SGBM's pass
    assert all(m.shape == (40, 48) and np.isfinite(m).all() for pair in one for m in pair)
    lo, hi = left.stereo[-1]
    assert lo.shape == hi.shape == (40, 48)
    assert (
        np.corrcoef(hi[::8, ::8].ravel(), resize_map(high, (40, 48))[::8, ::8].ravel())[0, 1] > 0.99
    )

    bad = tmp_path / "bad.npz"
    for arrays, match in (
        ({"rocks1/left/0/low": low, "rocks1/left/0/high": high}, "not a Middlebury 2006 training"),
        ({"baby1/top/0/low": low, "baby1/top/0/high": high}, "name arrays"),
        ({"baby1/left/0/low": low}, "lacks its low or high"),
        ({"baby1/left/0/low": low, "baby1/left/0/high": np.full((4, 4), np.nan)}, "finite"),
    ):
        np.savez(bad, **arrays)
        with pytest.raises(InputError, match=match):
            load_real_passes([str(bad)])
    with pytest.raises(InputError, match="cannot read"):
        load_real_passes([str(tmp_path / "missing.npz")])


@pytest.mark.parametrize(
    "name",
    [
        "bandfusion",
        "bandfusion_stage2",
        "bandfusion_stage3",
        "bandfusion_stage4",
        "bandfusion_stage5",
        "bandfusion_gpu",
        "bandfusion_stage6",
        "bandfusion_stage7",
        "bandfusion_stage9",
        "bandfusion_stage10",
        "experiments/stage6_finetune",
    ],
)
def test_shipped_band_configs_load(name):
    from sddr_core.train.band import BandTrainConfig, load_band_file
    from sddr_core.train.config import resolve_config

    cfg = load_band_file(resolve_config(name), {})
    assert isinstance(cfg, BandTrainConfig) and cfg.steps > 0
    assert cfg.variant.startswith("bandfusion")


@pytest.mark.parametrize(
    "scales", [[], [[0.5, 0.4]], [[0.2, 1.2]], [[0.2]], [["a", 0.5]], [0.2, 0.5]]
)
def test_bad_stereo_scales_are_refused(scales):
    from sddr_core.errors import InputError
    from sddr_core.train.band import load_band_config

    with pytest.raises(InputError, match="stereo_scales"):
        load_band_config({"data": {"stereo_scales": scales}})
    assert load_band_config({"data": {"stereo_scales": [[0.25, 0.8]]}}).stereo_scales == [
        [0.25, 0.8]
    ]


@pytest.mark.parametrize("methods", [[], ["sgbm", "sgbm"], ["farneback"], "sgbm"])
def test_bad_stereo_methods_are_refused(methods):
    from sddr_core.errors import InputError
    from sddr_core.train.band import load_band_config

    with pytest.raises(InputError, match="stereo_methods"):
        load_band_config({"data": {"stereo_methods": methods}})
    cfg = load_band_config({"data": {"stereo_methods": ["bm", "dis"]}})
    assert cfg.stereo_methods == ["bm", "dis"]
    assert load_band_config({}).stereo_methods == ["sgbm", "bm"]


def test_band_training_with_ema_saves_the_averaged_weights_and_resumes(tmp_path):
    """``train.ema``: last.safetensors holds the moving average, not the last step's weights;
    state.pt carries it, so a resumed run goes on averaging; a run without it cannot resume
    with it."""
    import torch

    from sddr_core.errors import InputError
    from sddr_core.refiners.network import read_checkpoint
    from sddr_core.train.band import train_band

    cfg = _tiny_band_config(tmp_path / "run", families=["sddr"], lr=1e-2, ema=0.5)
    path = train_band(cfg, progress=False)
    state = torch.load(tmp_path / "run" / "state.pt", weights_only=True)
    saved, meta = read_checkpoint(path)
    assert "moving average" in meta["training"] and int(state["ema"]["n_averaged"]) == 4
    raw, averaged = state["model"], saved.state_dict()
    ema = {k[len("module.") :]: v for k, v in state["ema"].items() if k.startswith("module.")}
    assert set(ema) == set(raw) == set(averaged)
    for key in ema:  # what was saved is the average, and it differs from the last step
        torch.testing.assert_close(averaged[key], ema[key])
    assert any(not torch.equal(raw[k], ema[k]) for k in raw if raw[k].is_floating_point())
    cfg.steps = 6
    train_band(cfg, progress=False)
    state = torch.load(tmp_path / "run" / "state.pt", weights_only=True)
    assert int(state["ema"]["n_averaged"]) == 6
    plain = _tiny_band_config(tmp_path / "plain", families=["sddr"], steps=2)
    train_band(plain, progress=False)
    plain.ema, plain.steps = 0.9, 4
    with pytest.raises(InputError, match=r"without train\.ema"):
        train_band(plain, progress=False)


def test_band_training_distils_its_teachers(tmp_path):
    """``train.teachers``: the teachers' mean output is a second target; the same batches give
    a higher loss with it (the student is not the teacher), the checkpoint says so, and a
    missing teacher is refused before any step."""
    import csv

    from sddr_core.errors import InputError
    from sddr_core.refiners.network import read_checkpoint
    from sddr_core.train.band import load_band_config, train_band

    teacher = train_band(
        _tiny_band_config(tmp_path / "t", families=["sddr"], seed=5), progress=False
    )
    runs = {}
    for name, teachers in (("plain", []), ("taught", [str(teacher), str(teacher)])):
        cfg = _tiny_band_config(tmp_path / name, families=["sddr"], steps=2, teachers=teachers)
        path = train_band(cfg, progress=False)
        with (tmp_path / name / "log.csv").open() as fh:
            runs[name] = (float(next(iter(csv.DictReader(fh)))["loss"]), read_checkpoint(path)[1])
    assert runs["taught"][0] > runs["plain"][0] + 1e-3
    assert "distilled" not in runs["plain"][1]["training"]
    assert "distilled from last.safetensors, last.safetensors" in runs["taught"][1]["training"]
    missing = _tiny_band_config(tmp_path / "m", teachers=[str(tmp_path / "nope.safetensors")])
    with pytest.raises(InputError, match=r"nope\.safetensors not found"):
        train_band(missing, progress=False)
    assert not (tmp_path / "m" / "log.csv").exists()
    with pytest.raises(InputError, match=r"train\.teachers"):
        load_band_config({"train": {"teachers": "a.safetensors"}})
    with pytest.raises(InputError, match="distill_weight"):
        load_band_config({"train": {"distill_weight": -1}})


@pytest.mark.parametrize("decay", [1.0, -0.1, "0.9"])
def test_bad_ema_is_refused(decay):
    from sddr_core.errors import InputError
    from sddr_core.train.band import load_band_config

    with pytest.raises(InputError, match=r"train\.ema"):
        load_band_config({"train": {"ema": decay}})
    assert load_band_config({"train": {"ema": 0.998}}).ema == 0.998


def test_mirror_flips_all_three_maps_of_a_pair_together():
    from sddr_core.train.band import BandTrainConfig, _Pool

    def pool(mirror: float) -> _Pool:
        cfg = BandTrainConfig(
            crop=64, pool_size=16, real_fraction=0.0, families=["holes"], mirror=mirror
        )
        return _Pool(cfg, np.random.default_rng(3))

    def as_stored(p: _Pool, low) -> tuple[int, bool]:
        """(index of the stored pair this batch map shows, whether it is mirrored)."""
        for i, pair in enumerate(p.pairs):
            if np.array_equal(low, pair.low):
                return i, False
            if np.array_equal(low, pair.low[:, ::-1]):
                return i, True
        raise AssertionError("batch map is no stored pair")

    for mirror, expect in ((0.0, {False}), (1.0, {True}), (0.5, {False, True})):
        p = pool(mirror)
        low, high, gt = p.batch(16)
        seen = set()
        for b in range(16):
            i, flipped = as_stored(p, low[b, 0].numpy())
            ref = p.pairs[i]
            view = (lambda a: a[:, ::-1]) if flipped else (lambda a: a)
            np.testing.assert_array_equal(high[b, 0].numpy(), view(ref.high))
            np.testing.assert_array_equal(gt[b, 0].numpy(), view(ref.gt))
            seen.add(flipped)
        assert seen == expect


@pytest.mark.parametrize("value", [-0.1, 1.5, "0.5", True])
def test_bad_mirror_is_refused(value):
    from sddr_core.train.band import load_band_config

    with pytest.raises(InputError, match=r"data\.mirror"):
        load_band_config({"data": {"mirror": value}})
    assert load_band_config({"data": {"mirror": 0.5}}).mirror == 0.5
