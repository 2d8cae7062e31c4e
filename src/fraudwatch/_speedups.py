"""Compiled builds of the online feature path and the one-row tree walk, used only while they
match their sources.

The modules in :data:`COMPILED` are plain Python. ``scripts/build_speedups.py`` (run by
``make``) compiles each, unchanged, with Cython into an extension module beside its source
and records the sha256 of the source it compiled in ``_compiled.json``. Python would import
an extension module in preference to the source of the same name, so this module installs an
import hook (from ``fraudwatch/__init__.py``, before any of them is imported) that keeps
that preference only while the recorded hash matches the source on disk: a source edited
since the build is imported as Python, with a warning, never as stale machine code. Setting
``FRAUDWATCH_PURE_PYTHON=1`` imports every one of them as Python (the tests compare both).

The compiled code has the semantics of the source (type annotations are not used as C
types); the speed-up comes from running without the interpreter loop, 27-35% off the median
in-process ``compute_and_update`` (docs/benchmarks.md, Features, Session 6).

The modules in :data:`NATIVE` are different: written for Cython (typed ``.pyx``), they have
no Python source to fall back to, so the hook refuses a build that does not match its source
(an ``ImportError``, with a warning) and their callers keep another path, as they do when the
build is absent or ``FRAUDWATCH_PURE_PYTHON`` is set.
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import json
import os
import sys
import warnings
from collections.abc import Sequence
from importlib.abc import MetaPathFinder
from importlib.machinery import ModuleSpec
from pathlib import Path
from types import ModuleType

__all__ = [
    "COMPILED",
    "MANIFEST",
    "NATIVE",
    "PURE_ENV",
    "compiled_modules",
    "install",
    "source_digest",
]

COMPILED: tuple[str, ...] = (
    "fraudwatch.features._dd",
    "fraudwatch.features._geo",
    "fraudwatch.features._online_math",
    "fraudwatch.features._online",
    "fraudwatch.features.state._memory",
)
"""Modules that may run compiled (the per-transaction online feature path)."""

NATIVE: tuple[str, ...] = ("fraudwatch.models._treewalk",)
"""Modules written for Cython (``.pyx``, typed), with no Python source: callers import them
inside ``try`` and keep another path when they are not built (or not current)."""

MANIFEST = Path(__file__).with_name("_compiled.json")
"""Written by the build: ``{module: sha256 of the source compiled}``."""

PURE_ENV = "FRAUDWATCH_PURE_PYTHON"
"""Set to ``1`` to import the modules of :data:`COMPILED` from their Python sources and to
refuse those of :data:`NATIVE` (their callers then take their other path)."""


def source_digest(path: Path) -> str:
    """sha256 of a source file's bytes."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _recorded() -> dict[str, str]:
    try:
        data = json.loads(MANIFEST.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


class _Finder(MetaPathFinder):
    """A ``sys.meta_path`` finder for ``fraudwatch.*``: a compiled build only if it is current.

    Any extension module found for a ``fraudwatch`` module that has its Python source beside
    it is checked, not only those of :data:`COMPILED`: a build left behind by a module that is
    no longer compiled is as stale as one whose source changed.
    """

    def __init__(self) -> None:
        self._recorded: dict[str, str] | None = None

    def find_spec(
        self, name: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if not name.startswith("fraudwatch."):
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or not isinstance(spec.loader, importlib.machinery.ExtensionFileLoader):
            return spec  # no compiled build: the usual source import
        stem = name.rsplit(".", 1)[1]
        source = Path(str(spec.origin)).with_name(stem + ".py")
        typed = source.with_suffix(".pyx")
        if name in NATIVE or (not source.is_file() and typed.is_file()):
            return self._native_spec(name, spec, typed)
        if not source.is_file():
            return spec  # installed without sources: only the build exists
        if os.environ.get(PURE_ENV, "") not in ("", "0"):
            return importlib.util.spec_from_file_location(name, source)
        if self._recorded is None:
            self._recorded = _recorded()
        if name not in COMPILED or self._recorded.get(name) != source_digest(source):
            warnings.warn(
                f"{name}: the compiled build does not match {source.name}; importing the "
                "Python source instead (rebuild with `make speedups`)",
                RuntimeWarning,
                stacklevel=2,
            )
            return importlib.util.spec_from_file_location(name, source)
        return spec

    def _native_spec(self, name: str, spec: ModuleSpec, source: Path) -> ModuleSpec:
        """A module of :data:`NATIVE` (no Python source): its build if current, else none.

        A build installed without its ``.pyx`` is loaded unchecked (there is nothing to
        compare it with), unless ``FRAUDWATCH_PURE_PYTHON`` is set.

        Raises
        ------
        ImportError
            ``FRAUDWATCH_PURE_PYTHON`` is set, or the build does not match its ``.pyx``
            source; its callers then take their other path.
        """
        if os.environ.get(PURE_ENV, "") not in ("", "0"):
            raise ImportError(f"{name}: not loaded, {PURE_ENV} is set", name=name)
        if not source.is_file():
            return spec  # installed without sources: only the build exists
        if self._recorded is None:
            self._recorded = _recorded()
        if name not in NATIVE:
            raise ImportError(f"{name}: a build of a module that is not built any more", name=name)
        if self._recorded.get(name) != source_digest(source):
            warnings.warn(
                f"{name}: the compiled build does not match {source.name}; not loading it "
                "(rebuild with `make speedups`)",
                RuntimeWarning,
                stacklevel=2,
            )
            raise ImportError(f"{name}: the build does not match {source.name}", name=name)
        return spec


def install() -> None:
    """Put the finder first on ``sys.meta_path`` (once)."""
    if not any(isinstance(f, _Finder) for f in sys.meta_path):
        sys.meta_path.insert(0, _Finder())


def compiled_modules() -> dict[str, bool]:
    """For each module of :data:`COMPILED`, whether the loaded one is the compiled build.

    Imports them if they are not loaded yet.
    """
    out: dict[str, bool] = {}
    for name in COMPILED:
        module = sys.modules.get(name) or importlib.import_module(name)
        origin = str(getattr(module, "__file__", "") or "")
        out[name] = origin.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES))
    return out
