"""Every hook spec has a section in docs/hooks.md with its exact signature, and a docstring."""

import inspect
import re
from pathlib import Path

import pytest

from sddr_core import hookspecs

DOC = (Path(__file__).parents[1] / "docs" / "hooks.md").read_text()
SPECS = [
    f for name, f in inspect.getmembers(hookspecs, inspect.isfunction) if name.startswith("sddr_")
]


def test_there_are_hooks():
    assert len(SPECS) >= 5


@pytest.mark.parametrize("spec", SPECS, ids=lambda f: f.__name__)
def test_hook_is_documented(spec):
    assert re.search(rf"^## {spec.__name__}$", DOC, re.M), f"docs/hooks.md lacks ## {spec.__name__}"
    params = ", ".join(inspect.signature(spec).parameters)
    section = DOC.split(f"## {spec.__name__}")[1].split("\n## ")[0]
    assert f"def {spec.__name__}(" in section
    for p in inspect.signature(spec).parameters:
        assert p in section, f"{spec.__name__}: parameter {p} not in the docs ({params})"
    assert (spec.__doc__ and ":return:" in spec.__doc__) or "->" in str(inspect.signature(spec))
