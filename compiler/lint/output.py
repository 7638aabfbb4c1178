"""Lint output formats: human, json, sarif (2.1.0) and github (workflow commands)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import caic
from caic.errors import Diagnostic

FORMATS = ("human", "json", "sarif", "github")
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_GITHUB_LEVEL = {"error": "error", "warning": "warning", "note": "notice"}


def to_json(diags: list[Diagnostic]) -> str:
    """A JSON list; each object has code, name, severity, message, path, line, column,
    end_line, end_column, hint and principles.

    One object per line: as easy to read and to ``grep`` as an indented list, and written
    by json's C encoder (``indent`` would switch to the pure-Python one, which took
    seconds on a 1,000-principle file's findings).
    """
    if not diags:
        return "[]"
    rows = ",\n".join("  " + json.dumps(d.as_json(), ensure_ascii=False) for d in diags)
    return "[\n" + rows + "\n]"


def _uri(path: str) -> str:
    p = Path(path)
    if p.is_absolute():
        try:
            p = p.relative_to(Path.cwd())
        except ValueError:
            return p.as_uri()
    return p.as_posix()


def to_sarif(diags: list[Diagnostic]) -> str:
    """A SARIF 2.1.0 log with one run; rules carry their explanation as help text."""
    from caic.compiler.lint.registry import all_rules

    rules = all_rules()
    index = {r.code: i for i, r in enumerate(rules)}
    descriptors = [
        {
            "id": r.code,
            "name": r.name,
            "shortDescription": {"text": r.summary},
            "fullDescription": {"text": r.doc},
            "help": {"text": r.doc},
            "defaultConfiguration": {"level": r.severity},
        }
        for r in rules
    ]
    results = []
    for d in diags:
        region: dict[str, int] = {"startLine": d.line, "startColumn": d.column}
        if d.end_line:
            region["endLine"] = d.end_line
        if d.end_column and (d.end_line or d.line) >= d.line:
            region["endColumn"] = max(d.end_column, 1)
        result: dict[str, object] = {
            "ruleId": d.code,
            "level": d.severity,
            "message": {"text": d.message + (f" ({d.hint})" if d.hint else "")},
            "locations": [
                {"physicalLocation": {"artifactLocation": {"uri": _uri(d.path)}, "region": region}}
            ],
        }
        if d.code in index:
            result["ruleIndex"] = index[d.code]
        if d.principles:
            result["properties"] = {"principles": list(d.principles)}
        results.append(result)
    log: dict[str, Any] = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {"name": "caic", "version": caic.__version__, "rules": descriptors}
                },
                "results": results,
            }
        ],
    }
    _add_probe_rules(log)
    return json.dumps(log, indent=2, ensure_ascii=False)


def _add_probe_rules(log: dict[str, Any]) -> None:
    """Add rule descriptors (name from the code table, text from ``caic explain``) for the
    probe codes (``caic lint --probe``) a SARIF log uses: they are not rules of the
    registry."""
    from caic.codes import CODES
    from caic.constitution_lang.codes import EXPLANATIONS

    run = log["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    for result in run["results"]:
        code = result["ruleId"]
        entry = CODES.get(code)
        if entry is None or entry.group != "probe" or "ruleIndex" in result:
            continue
        if not any(r["id"] == code for r in rules):
            about = EXPLANATIONS[code].summary
            rules.append({
                "id": code,
                "name": entry.name,
                "shortDescription": {"text": about.split(". ")[0]},
                "fullDescription": {"text": about},
                "help": {"text": about},
                "defaultConfiguration": {"level": entry.severity},
            })  # fmt: skip
        result["ruleIndex"] = next(i for i, r in enumerate(rules) if r["id"] == code)


def _escape_data(s: str) -> str:
    return s.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_prop(s: str) -> str:
    return _escape_data(s).replace(":", "%3A").replace(",", "%2C")


def to_github(diags: list[Diagnostic]) -> str:
    """GitHub Actions workflow commands, one ``::warning file=...::message`` per finding."""
    lines = []
    for d in diags:
        props = [f"file={_escape_prop(_uri(d.path))}", f"line={d.line}", f"col={d.column}"]
        if d.end_line:
            props.append(f"endLine={d.end_line}")
        if d.end_column and d.end_line == d.line:
            props.append(f"endColumn={d.end_column}")
        title = f"{d.code} {d.name}" if d.name else d.code
        props.append(f"title={_escape_prop(title)}")
        msg = f"[{d.code}] {d.message}" + (f" ({d.hint})" if d.hint else "")
        lines.append(f"::{_GITHUB_LEVEL[d.severity]} {','.join(props)}::{_escape_data(msg)}")
    return "\n".join(lines)


def render(diags: list[Diagnostic], fmt: str) -> str:
    """The text of ``fmt`` (json, sarif or github) for stdout; empty when ``github`` has
    nothing to say. The human format prints each finding with its source line on stderr
    (the command line's printer) and :func:`summary` after them."""
    if fmt == "json":
        return to_json(diags)
    if fmt == "sarif":
        return to_sarif(diags)
    if fmt == "github":
        return to_github(diags)
    raise ValueError(f"no text rendering for format {fmt!r}; one of json, sarif, github")


def summary(diags: list[Diagnostic], files: int) -> str:
    """``3 warnings, 1 note in 2 files`` (human format, on stderr)."""
    counts = {s: sum(d.severity == s for d in diags) for s in ("error", "warning", "note")}
    parts = [f"{n} {s}{'s' if n != 1 else ''}" for s, n in counts.items() if n]
    return (", ".join(parts) or "no findings") + f" in {files} file{'s' if files != 1 else ''}"
