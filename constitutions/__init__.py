"""Constitutions shipped with caic, addressable by name (``caic compile hhh-v2``)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def shipped() -> dict[str, Path]:
    """``{name: path}`` for every shipped `.cai` file, e.g. ``"modular/assistant"``."""
    root = Path(str(resources.files("caic.constitutions")))
    return {p.relative_to(root).with_suffix("").as_posix(): p for p in sorted(root.rglob("*.cai"))}


def find(arg: str) -> Path:
    """A path as given if it exists, else the shipped constitution of that name."""
    path = Path(arg)
    if path.exists():
        return path
    key = arg.removesuffix(".cai").removeprefix("constitutions/")
    return shipped().get(key, path)
