"""Module paths and names of 0.3 that moved in 0.4: they keep working until 0.5, with a
``DeprecationWarning`` naming the new place."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from types import ModuleType
from typing import Any


def moved(
    old: str, new: ModuleType | tuple[ModuleType, ...], renamed: Mapping[str, str]
) -> Callable[[str], Any]:
    """A module ``__getattr__`` for module ``old``, whose names now live in ``new`` (a
    module, or several a module was split into: the first that has the name) (``renamed``:
    old name -> new name where the name changed too)."""
    homes = new if isinstance(new, tuple) else (new,)

    def __getattr__(name: str) -> Any:
        target = renamed.get(name, name)
        new = next((home for home in homes if hasattr(home, target)), None)
        if new is None:
            raise AttributeError(f"module {old!r} has no attribute {name!r}")
        warnings.warn(
            f"{old}.{name} is deprecated and will be removed in 0.5; use {new.__name__}.{target}",
            DeprecationWarning,
            stacklevel=2,
        )
        return getattr(new, target)

    return __getattr__


def renamed_values(
    old: str, values: Mapping[str, tuple[Callable[[], Any], str]]
) -> Callable[[str], Any]:
    """A module ``__getattr__`` for module ``old``, whose names of 0.3 in ``values`` (name ->
    ``(what it is now, as a function, what to use instead)``) still work until 0.5."""

    def __getattr__(name: str) -> Any:
        if name not in values:
            raise AttributeError(f"module {old!r} has no attribute {name!r}")
        value, instead = values[name]
        warnings.warn(
            f"{old}.{name} is deprecated and will be removed in 0.5; use {instead}",
            DeprecationWarning,
            stacklevel=2,
        )
        return value()

    return __getattr__
