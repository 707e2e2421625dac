"""The public names other issues and outside checks rely on. Removing one fails here."""

import inspect

import sddr_core

PUBLIC = {
    "refine", "refine_depths", "RefinedDepth", "load_refiner", "list_predictors",
    "list_refiners", "create_predictor", "create_refiner", "DepthPredictor",
    "CallablePredictor", "PredictorSpec", "Refiner", "RefinerSpec", "Fusion", "hookimpl",
    "SddrError", "InputError", "ShapeError", "UnsupportedFormatError", "OutputExistsError",
    "UnknownNameError", "WeightsError", "PredictorError", "CancelledError", "MODES",
    "__version__",
}  # fmt: skip


def test_public_names_exist():
    missing = PUBLIC - set(sddr_core.__all__)
    assert not missing
    for name in PUBLIC:
        assert hasattr(sddr_core, name)


def test_refine_signature_is_the_contract():
    sig = inspect.signature(sddr_core.refine)
    assert list(sig.parameters)[:2] == ["image", "predictor"]
    kw = {n: p.default for n, p in sig.parameters.items() if p.kind == p.KEYWORD_ONLY}
    assert kw == {
        "mode": "one-stage",
        "refiner": None,
        "device": None,
        "low_resolution": None,
        "high_resolution": None,
        "snap": True,
    }


def test_errors_share_one_base():
    for name in sddr_core.errors.__all__:
        assert issubclass(getattr(sddr_core.errors, name), sddr_core.SddrError)


def test_refined_depth_has_the_contract_members():
    for member in ("depth", "kind", "edges", "low", "high", "timings"):
        assert member in sddr_core.RefinedDepth.__dataclass_fields__
    for method in ("to_depth", "to_disparity", "to_controlnet", "save"):
        assert callable(getattr(sddr_core.RefinedDepth, method))
