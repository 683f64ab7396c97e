"""Emulators of partners that publish their API: each module here serves one format at its own base path.

Every module exposes `router` (a FastAPI `APIRouter` carrying its own prefix, e.g. `/ups`); `routers()` finds them,
so adding an emulator is adding a module. They share the sandbox's store, faults, clock and inspection endpoints
through `sandbox.context`.
"""

import importlib
import pkgutil

from fastapi import APIRouter


def routers() -> list[APIRouter]:
    """The router of every emulator module in this package, in module-name order."""
    found = []
    for module in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if module.name.startswith("_"):
            continue
        router = getattr(importlib.import_module(f"{__name__}.{module.name}"), "router", None)
        if isinstance(router, APIRouter):
            found.append(router)
    return found
