"""The plugin manager: hook specs, built-in plugins and third-party discovery.

Built-in predictors and refiners are ordinary plugins registered through the same hooks as
third-party ones. Third-party plugins come from the ``sddr_core`` entry-point group.

Environment variables:
    ``SDDR_LOAD_PLUGINS``: comma-separated entry-point names to load (empty: load none);
        unset loads every installed plugin.
    ``SDDR_TRACE_PLUGINS=1``: log every hook call to stderr.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
from collections.abc import Iterator
from typing import Any

import pluggy

from sddr_core import hookspecs
from sddr_core.hookspecs import PROJECT_NAME

__all__ = [
    "BUILTIN_PLUGINS",
    "get_plugin_manager",
    "list_plugins",
    "register_plugin",
    "reload_plugins",
    "temporary_plugin",
    "unregister_plugin",
]

#: Modules providing sddr's own predictors and refiners, registered like any plugin.
BUILTIN_PLUGINS: tuple[str, ...] = (
    "sddr_core.predictors.simulated",
    "sddr_core.predictors.hf_transformers",
    "sddr_core.predictors.stereo",
    "sddr_core.predictors.degraded",
    "sddr_core.refiners.poisson",
    "sddr_core.refiners.split",
    "sddr_core.refiners.network",
)

_pm: pluggy.PluginManager | None = None


def _build() -> pluggy.PluginManager:
    pm = pluggy.PluginManager(PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    for modname in BUILTIN_PLUGINS:
        try:
            mod = importlib.import_module(modname)
        except ModuleNotFoundError as exc:
            if exc.name and exc.name.startswith(modname):
                continue  # built-in not shipped yet (optional module)
            raise
        pm.register(mod, name=modname)
    wanted = os.environ.get("SDDR_LOAD_PLUGINS")
    if wanted is None:
        pm.load_setuptools_entrypoints(PROJECT_NAME)
    else:
        for name in filter(None, (n.strip() for n in wanted.split(","))):
            pm.load_setuptools_entrypoints(PROJECT_NAME, name=name)
    pm.check_pending()
    if os.environ.get("SDDR_TRACE_PLUGINS"):
        pm.trace.root.setwriter(sys.stderr.write)
        pm.enable_tracing()
    return pm


def get_plugin_manager() -> pluggy.PluginManager:
    """The process-wide plugin manager, built on first use."""
    global _pm
    if _pm is None:
        _pm = _build()
    return _pm


def reload_plugins() -> pluggy.PluginManager:
    """Rebuild the plugin manager (after installing a plugin, or changing the environment)."""
    global _pm
    _pm = None
    from sddr_core import registry

    registry.clear_cache()
    return get_plugin_manager()


def register_plugin(plugin: Any, name: str | None = None) -> str:
    """Register a plugin object or module at run time; returns the name it got."""
    from sddr_core import registry

    pm = get_plugin_manager()
    got = pm.register(plugin, name=name)
    pm.check_pending()
    registry.clear_cache()
    return got  # type: ignore[return-value]


def unregister_plugin(plugin: Any = None, name: str | None = None) -> None:
    """Remove a plugin registered with :func:`register_plugin`."""
    from sddr_core import registry

    get_plugin_manager().unregister(plugin, name=name)
    registry.clear_cache()


@contextlib.contextmanager
def temporary_plugin(plugin: Any, name: str | None = None) -> Iterator[Any]:
    """Register ``plugin`` for the duration of a ``with`` block (progress bars, Cancel)."""
    got = register_plugin(plugin, name=name)
    try:
        yield plugin
    finally:
        unregister_plugin(name=got)


def list_plugins() -> list[dict[str, Any]]:
    """Every registered plugin with the hooks it implements (for ``sddr plugins``)."""
    pm = get_plugin_manager()
    out = []
    dists = {id(p): d for p, d in pm.list_plugin_distinfo()}
    for name, plugin in pm.list_name_plugin():
        if plugin is None:
            continue
        dist = dists.get(id(plugin))
        out.append(
            {
                "name": name,
                "hooks": sorted(h.name for h in pm.get_hookcallers(plugin) or []),
                "distribution": f"{dist.project_name} {dist.version}" if dist else "built-in",
            }
        )
    return out
