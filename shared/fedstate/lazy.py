"""Package exports that load on first use (PEP 562), so importing one light module of a package
(``fedstate.bus.names``, ``fedstate.models.base``) does not import all of its siblings and their
dependencies. The CLI starts in under 0.2 s thanks to this; services see no difference."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterable, Mapping
from typing import Any


def exports(package: str, homes: Mapping[str, Iterable[str]]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package`` (or a module): each name is imported from its home module when first read."""
    module_of = {name: module for module, names in homes.items() for name in names}

    def __getattr__(name: str) -> Any:
        module = module_of.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        home = sys.modules[package]
        # A package's homes are its submodules; a plain module's are its siblings.
        anchor = package if hasattr(home, "__path__") else package.rpartition(".")[0]
        value = getattr(importlib.import_module(f".{module}", anchor), name)
        setattr(sys.modules[package], name, value)
        return value

    return __getattr__
