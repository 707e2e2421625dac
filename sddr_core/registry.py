"""Name -> spec tables for predictors and refiners, filled from the plugin hooks.

The registry is the single source of truth for the CLI listings, the ComfyUI combo boxes,
the docs and the parametrised tests. Names may be matched with wildcards in listings;
unknown names fail fast with close matches.
"""

from __future__ import annotations

import fnmatch
from typing import Any

from sddr_core.errors import SddrError, UnknownNameError
from sddr_core.plugins import get_plugin_manager
from sddr_core.predictors.base import DepthPredictor, PredictorSpec
from sddr_core.refiners.base import Refiner, RefinerSpec

__all__ = [
    "clear_cache",
    "create_predictor",
    "create_refiner",
    "default_refiner_name",
    "get_predictor_spec",
    "get_refiner_spec",
    "list_predictors",
    "list_refiners",
]

_cache: dict[str, dict[str, Any]] = {}


def clear_cache() -> None:
    """Forget the tables; the next look-up asks the plugins again."""
    _cache.clear()


def _collect(hook_name: str, kind: str) -> dict[str, Any]:
    if kind in _cache:
        return _cache[kind]
    pm = get_plugin_manager()
    table: dict[str, Any] = {}
    owner: dict[str, str] = {}
    hook = getattr(pm.hook, hook_name)
    for impl in reversed(hook.get_hookimpls()):  # registration order
        specs = impl.function() or []
        for spec in specs:
            if spec.name in table:
                raise SddrError(
                    f"{kind} name {spec.name!r} is registered twice, by {owner[spec.name]!r} "
                    f"and {impl.plugin_name!r}. Uninstall or disable one of them "
                    "(SDDR_LOAD_PLUGINS selects which plugins load)."
                )
            table[spec.name] = spec
            owner[spec.name] = impl.plugin_name
    _cache[kind] = table
    return table


def _predictors() -> dict[str, PredictorSpec]:
    return _collect("sddr_register_predictors", "predictor")


def _refiners() -> dict[str, RefinerSpec]:
    return _collect("sddr_register_refiners", "refiner")


def list_predictors(pattern: str = "*") -> list[PredictorSpec]:
    """Registered predictor specs whose name matches ``pattern`` (shell wildcards)."""
    return [s for n, s in sorted(_predictors().items()) if fnmatch.fnmatch(n, pattern)]


def list_refiners(pattern: str = "*") -> list[RefinerSpec]:
    """Registered refiner specs whose name matches ``pattern``, best first."""
    specs = [s for n, s in _refiners().items() if fnmatch.fnmatch(n, pattern)]
    return sorted(specs, key=lambda s: (-s.priority, s.name))


def get_predictor_spec(name: str) -> PredictorSpec:
    table = _predictors()
    if name not in table:
        raise UnknownNameError("predictor", name, table)
    return table[name]


def get_refiner_spec(name: str) -> RefinerSpec:
    table = _refiners()
    if name not in table:
        raise UnknownNameError("refiner", name, table)
    return table[name]


def create_predictor(name: str, **options: Any) -> DepthPredictor:
    """Create a registered predictor; ``options`` go to its factory (``weights=``, ...)."""
    spec = get_predictor_spec(name)
    return spec.factory(**options)


def default_refiner_name() -> str:
    """The best available refiner: highest priority among those whose ``available()``."""
    for spec in list_refiners():
        if spec.available():
            return spec.name
    raise UnknownNameError("refiner", "<default>", _refiners())


def create_refiner(name: str | None = None, **options: Any) -> Refiner:
    """Create a registered refiner by name (``None``: the best available one)."""
    spec = get_refiner_spec(name or default_refiner_name())
    return spec.factory(**options)
