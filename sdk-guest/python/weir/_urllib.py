"""Installs the ``wasi:http`` opener of :mod:`weir.wasi_http` when ``urllib.request``
is imported, in a component.

``urllib.request`` and what it imports add about 2 MB to a component, so the SDK does
not import it for every plugin: :func:`arm` (called by ``import weir`` inside a
component) installs the opener at once if ``urllib.request`` is already imported, and
otherwise puts a finder on ``sys.meta_path`` that installs it right after the first
import of ``urllib.request`` (at build time: componentize-py bundles the modules imported
while it builds, so a plugin imports ``urllib.request`` at module level, not first inside
a call, where no standard library is left to import from). This module imports nothing
of urllib itself.
"""

from __future__ import annotations

import importlib.abc
import sys
from typing import Any, Optional

_NAME = "urllib.request"


def _install() -> None:
    from . import wasi_http

    wasi_http.install()


class _InstallAfterExec(importlib.abc.Loader):
    """Runs the real loader of ``urllib.request``, then installs the opener."""

    def __init__(self, loader: Any, finder: "_UrllibFinder") -> None:
        self._loader = loader
        self._finder = finder

    def create_module(self, spec: Any) -> Any:
        return self._loader.create_module(spec)

    def exec_module(self, module: Any) -> None:
        self._loader.exec_module(module)
        self._finder.disarm()
        # The import system binds `urllib.request` on its package only after this
        # returns; the opener's module needs it now.
        parent, _, child = module.__name__.rpartition(".")
        setattr(sys.modules[parent], child, module)
        _install()

    def __getattr__(self, name: str) -> Any:
        # get_source, is_package... of the real loader.
        return getattr(self._loader, name)


class _UrllibFinder(importlib.abc.MetaPathFinder):
    """Finds ``urllib.request`` with the other finders and wraps its loader."""

    def find_spec(self, fullname: str, path: Optional[Any] = None, target: Optional[Any] = None) -> Any:
        if fullname != _NAME:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                break
        else:
            return None
        if spec.loader is not None and hasattr(spec.loader, "exec_module"):
            spec.loader = _InstallAfterExec(spec.loader, self)
        return spec

    def disarm(self) -> None:
        if self in sys.meta_path:
            sys.meta_path.remove(self)


def arm() -> None:
    """Installs the opener now if ``urllib.request`` is imported, else once it is."""
    if _NAME in sys.modules:
        _install()
    elif not any(isinstance(finder, _UrllibFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, _UrllibFinder())
