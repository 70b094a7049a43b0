"""Every public class and function in the API reference (docs/api.rst) shows a runnable
example: its docstring holds a ``>>>`` session, which pytest runs as a doctest."""

from __future__ import annotations

import importlib
import inspect
import re
from pathlib import Path

API = Path(__file__).resolve().parent.parent / "docs" / "api.rst"


def _documented() -> dict[str, object]:
    """Public name -> object for every ``automodule`` of the reference: the module's
    ``__all__`` (or the ``:members:`` listed), else what it defines itself."""
    text = API.read_text()
    found: dict[str, object] = {}
    blocks = re.findall(r"\.\. automodule:: (\S+)\n((?:   :.*\n)*)", text)
    assert len(blocks) >= 10, "docs/api.rst changed shape: update this test"
    for module_name, options in blocks:
        module = importlib.import_module(module_name)
        members = re.search(r":members: (.+)", options)
        if members:
            names = [n.strip() for n in members.group(1).split(",")]
        elif hasattr(module, "__all__"):
            names = list(module.__all__)
        else:
            names = [
                n
                for n, o in vars(module).items()
                if not n.startswith("_") and getattr(o, "__module__", None) == module_name
            ]
        for name in names:
            obj = getattr(module, name)
            if inspect.isclass(obj) or inspect.isfunction(obj):
                found[f"{module_name}.{name}"] = obj
    return found


def test_every_public_class_and_function_has_an_example():
    documented = _documented()
    assert len(documented) > 90
    missing = [name for name, obj in documented.items() if ">>>" not in (obj.__doc__ or "")]
    assert not missing, f"add an Example: section to {missing}"
