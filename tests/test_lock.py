"""The test environment's lock (``.ci/constraints.txt``) still satisfies ``pyproject.toml``.

``.ci/run`` installs with the lock as pip constraints; a dependency added or a range moved
in ``pyproject.toml`` without ``bash .ci/lock`` would otherwise surface as a resolver
conflict on a fresh machine, or as a package missing from the lock.
"""

from __future__ import annotations

import importlib.util
import tomllib
from pathlib import Path
from typing import Any

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
LOCKED_EXTRAS = ("ml", "server", "test")


def lock_reader() -> Any:
    """``.ci/check_lock.py`` as a module: the test reads the lock as CI does."""
    spec = importlib.util.spec_from_file_location("check_lock", ROOT / ".ci" / "check_lock.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_dependency_is_locked_within_its_declared_range() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    declared = list(project["dependencies"])
    for extra in LOCKED_EXTRAS:
        declared += project["optional-dependencies"][extra]
    inputs = (ROOT / ".ci" / "requirements.in").read_text(encoding="utf-8").splitlines()
    declared += [line for line in inputs if line.strip() and not line.startswith("#")]
    locked = lock_reader().locked()
    problems = []
    for text in declared:
        req = Requirement(text)
        have = locked.get(canonicalize_name(req.name))
        if have is None:
            problems.append(f"{req.name} is not in the lock")
        elif not req.specifier.contains(have, prereleases=True):
            problems.append(f"{req.name} {have} is outside {req.specifier}")
    assert not problems, "; ".join(problems) + " (refresh with `bash .ci/lock`)"
