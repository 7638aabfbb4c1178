"""The test environment's lock (``.ci/constraints.txt``) still satisfies ``pyproject.toml``.

``.ci/run`` installs with the lock as pip constraints; a dependency added or a range moved
in ``pyproject.toml`` without ``bash .ci/lock`` would otherwise surface as a resolver
conflict on a fresh machine, or as a package missing from the lock.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
LOCKED_EXTRAS = ("ml", "server", "test")


def pins() -> dict[str, Version]:
    out = {}
    for line in (ROOT / ".ci" / "constraints.txt").read_text(encoding="utf-8").splitlines():
        spec, _, marker = line.strip().partition(";")
        if not spec or spec.startswith("#"):
            continue
        if marker.strip() and not Marker(marker.strip()).evaluate():
            continue
        name, _, version = spec.strip().partition("==")
        out[canonicalize_name(name)] = Version(version)
    return out


def test_every_dependency_is_locked_within_its_declared_range() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    declared = list(project["dependencies"])
    for extra in LOCKED_EXTRAS:
        declared += project["optional-dependencies"][extra]
    inputs = (ROOT / ".ci" / "requirements.in").read_text(encoding="utf-8").splitlines()
    declared += [line for line in inputs if line.strip() and not line.startswith("#")]
    locked = pins()
    problems = []
    for text in declared:
        req = Requirement(text)
        have = locked.get(canonicalize_name(req.name))
        if have is None:
            problems.append(f"{req.name} is not in the lock")
        elif not req.specifier.contains(have, prereleases=True):
            problems.append(f"{req.name} {have} is outside {req.specifier}")
    assert not problems, "; ".join(problems) + " (refresh with `bash .ci/lock`)"

