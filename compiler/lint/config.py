"""Lint configuration: ``[tool.caic.lint]`` in the nearest ``pyproject.toml``.

Looked up from the linted file's folder upward to the filesystem root; the first
``pyproject.toml`` that has a ``[tool.caic.lint]`` table wins. Keys::

    [tool.caic.lint]
    select = ["CAI1", "missing-helpfulness"]   # codes, names or code prefixes; default all
    ignore = ["CAI202"]                         # applied after select
    [tool.caic.lint.severity]
    near-duplicate = "error"                    # error | warning | note | off

Command-line ``--select`` / ``--ignore`` replace the file's lists.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from caic.errors import usage_error

SEVERITIES = ("error", "warning", "note", "off")


@dataclass(frozen=True)
class LintConfig:
    """Which rules run and at what severity."""

    select: frozenset[str] | None = None
    """Codes to run; ``None`` for all."""
    ignore: frozenset[str] = frozenset()
    severity: dict[str, str] = field(default_factory=dict)
    """code → error | warning | note | off."""
    source: str | None = None
    """The pyproject.toml it came from, if any."""

    def enabled(self, code: str) -> bool:
        if self.select is not None and code not in self.select:
            return False
        return code not in self.ignore and self.severity.get(code) != "off"


def find_pyproject(start: str | Path) -> Path | None:
    """The nearest ``pyproject.toml`` with a ``[tool.caic.lint]`` table, upward from start."""
    here = Path(start).resolve()
    if here.is_file() or not here.exists():
        here = here.parent
    for folder in (here, *here.parents):
        candidate = folder / "pyproject.toml"
        if candidate.is_file():
            try:
                data = tomllib.loads(candidate.read_text(encoding="utf-8"))
            except (OSError, tomllib.TOMLDecodeError) as e:
                raise usage_error(
                    f"cannot read {candidate}: {e}", path=str(candidate), code="E003"
                ) from e
            if isinstance(data.get("tool", {}).get("caic", {}).get("lint"), dict):
                return candidate
    return None


def load_config(
    start: str | Path, select: list[str] | None = None, ignore: list[str] | None = None
) -> LintConfig:
    """Config for linting the file at ``start``, with command-line overrides."""
    from caic.compiler.lint.registry import resolve_keys

    path = find_pyproject(start)
    table: dict[str, object] = {}
    if path is not None:
        table = tomllib.loads(path.read_text(encoding="utf-8"))["tool"]["caic"]["lint"]
    where = str(path) if path else "<args>"

    def keys(name: str, override: list[str] | None) -> frozenset[str] | None:
        raw = override if override is not None else table.get(name)
        if raw is None:
            return None
        if isinstance(raw, str):
            raw = [raw]
        if not isinstance(raw, list) or not all(isinstance(x, str) for x in raw):
            raise usage_error(
                f"`{name}` must be a list of rule codes or names", path=where, code="E003"
            )
        codes, unknown = resolve_keys(raw)
        if unknown:
            raise usage_error(
                f"unknown lint rule `{unknown[0]}` in `{name}`",
                path=where,
                code="E003",
                hint="see `caic lint --list-rules`",
            )
        return frozenset(codes)

    sel = keys("select", select)
    ign = keys("ignore", ignore) or frozenset()
    sev: dict[str, str] = {}
    raw_sev = table.get("severity", {})
    if not isinstance(raw_sev, dict):
        raise usage_error("`severity` must be a table of rule = level", path=where, code="E003")
    for k, v in raw_sev.items():
        if v not in SEVERITIES:
            raise usage_error(
                f"severity of `{k}` must be one of {', '.join(SEVERITIES)}", path=where, code="E003"
            )
        codes, unknown = resolve_keys([k])
        if unknown:
            raise usage_error(f"unknown lint rule `{k}` in `severity`", path=where, code="E003")
        for code in codes:
            sev[code] = v
    return LintConfig(select=sel, ignore=ign, severity=sev, source=str(path) if path else None)
