"""Fail when the environment is not the one .ci/constraints.txt describes.

Every installed distribution must be pinned there, at the pinned version (a local label
such as ``+cpu`` aside), so that a test run on a new machine uses the releases the last
green run used. Prints one line per difference and exits 1; exits 0 in silence.
"""

from __future__ import annotations

import sys
from importlib.metadata import distributions
from pathlib import Path

from packaging.markers import Marker
from packaging.utils import canonicalize_name
from packaging.version import Version

LOCK = Path(__file__).with_name("constraints.txt")
NOT_LOCKED = {"caic"}  # the project itself, installed editable


def locked() -> dict[str, Version]:
    pins: dict[str, Version] = {}
    for line in LOCK.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        spec, _, marker = line.partition(";")
        if marker.strip() and not Marker(marker.strip()).evaluate():
            continue
        name, _, version = spec.strip().partition("==")
        pins[canonicalize_name(name)] = Version(version)
    return pins


def main() -> int:
    pins = locked()
    problems = []
    for dist in distributions():
        name = canonicalize_name(dist.metadata["Name"])
        if name in NOT_LOCKED:
            continue
        have = Version(dist.version)
        want = pins.get(name)
        if want is None:
            problems.append(f"{name} {have} is installed but not in {LOCK.name}")
        elif Version(have.public) != want:
            problems.append(f"{name} {have} is installed, {LOCK.name} pins {want}")
    for p in sorted(problems):
        print(f"lock: {p}", file=sys.stderr)
    if problems:
        print("lock: refresh with `bash .ci/lock` (README, 'The lock')", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
