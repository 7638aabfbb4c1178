"""Lint configuration: ``[tool.caic.lint]`` in the nearest ``pyproject.toml``.

Looked up from the linted file's folder upward to the filesystem root; the first
``pyproject.toml`` that has a ``[tool.caic.lint]`` table wins. Keys::

    [tool.caic.lint]
    select = ["CAI1", "missing-helpfulness"]   # codes, names or code prefixes; default all
    ignore = ["CAI202"]                         # applied after select
    preview = false                             # true: preview rules run too
    [tool.caic.lint.severity]
    near-duplicate = "error"                    # error | warning | note | off

Command-line ``--select`` / ``--ignore`` replace the file's lists; ``--preview`` turns
preview on. Which rules are preview is the code table's to say (:mod:`caic.codes`).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from caic.codes import CODES
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
    preview: bool = False
    """Whether preview rules run."""

    def enabled(self, code: str) -> bool:
        entry = CODES.get(code)
        if entry is None or entry.lifecycle == "removed":
            return False
        if entry.lifecycle == "preview" and not self.preview:
            return False
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
    start: str | Path,
    select: list[str] | None = None,
    ignore: list[str] | None = None,
    preview: bool | None = None,
) -> LintConfig:
    """Config for linting the file at ``start``, with command-line overrides (``None``
    keeps the file's setting)."""
    from caic.compiler.lint.registry import resolve_keys

    path = find_pyproject(start)
    table: dict[str, object] = {}
    if path is not None:
        table = tomllib.loads(path.read_text(encoding="utf-8"))["tool"]["caic"]["lint"]
    where = str(path) if path else "<args>"
    if preview is None:
        raw_preview = table.get("preview", False)
        if not isinstance(raw_preview, bool):
            raise usage_error("`preview` must be true or false", path=where, code="E003")
        preview = raw_preview

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
        codes, unknown = resolve_keys(raw, preview=bool(preview))
        if unknown:
            raise usage_error(
                f"unknown lint rule `{unknown[0]}` in `{name}`",
                path=where,
                code="E003",
                hint="see `caic lint --list-rules`",
            )
        if name == "select" and not preview:
            named = sorted(c for c in codes if CODES[c].lifecycle == "preview")
            if named:
                raise usage_error(
                    f"`{named[0]}` is a preview rule; it runs only with preview on",
                    path=where,
                    code="E003",
                    hint="add --preview, or `preview = true` in [tool.caic.lint]",
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
        codes, unknown = resolve_keys([k], preview=True)
        if unknown:
            raise usage_error(f"unknown lint rule `{k}` in `severity`", path=where, code="E003")
        for code in codes:
            sev[code] = v
    return LintConfig(
        select=sel,
        ignore=ign,
        severity=sev,
        source=str(path) if path else None,
        preview=bool(preview),
    )
