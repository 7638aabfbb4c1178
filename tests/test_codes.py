"""One owner for every code: the table in ``caic.codes`` names every code the sources raise,
every lint rule is registered under a lint code of the table (and every lint code has a
rule or an explanation), names agree wherever a diagnostic spells one out, and preview
rules run only with preview on."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from caic import codes
from caic.compiler.lint import registry
from caic.compiler.lint.config import LintConfig, load_config
from caic.constitution_lang.codes import EXPLANATIONS
from caic.errors import CaicError

ROOT = Path(__file__).parent.parent
SOURCES = [
    p
    for folder in ("caic", "constitution_lang", "compiler", "backends", "training", "evals")
    for p in (ROOT / folder).rglob("*.py")
]


def test_codes_and_names_are_unique() -> None:
    assert len({c.code for c in codes.TABLE}) == len(codes.TABLE)
    assert len({c.name for c in codes.TABLE}) == len(codes.TABLE)
    for c in codes.TABLE:
        assert re.fullmatch(r"E\d{3}|CAI\d{3}", c.code), c
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", c.name), c


def test_every_code_the_sources_raise_is_in_the_table() -> None:
    used = set()
    for path in SOURCES:
        used |= set(re.findall(r"[\"'](E\d{3}|CAI\d{3})[\"']", path.read_text(encoding="utf-8")))
    assert used, "the scan found no codes at all"
    assert used - set(codes.CODES) == set()


def test_names_spelt_out_beside_a_code_match_the_table() -> None:
    pair = re.compile(r"[\"'](E\d{3}|CAI\d{3})[\"'],\s*(?:name=)?[\"']([a-z][a-z0-9-]+)[\"']")
    seen = 0
    for path in SOURCES:
        for code, name in pair.findall(path.read_text(encoding="utf-8")):
            if code in codes.CODES and "-" in name:
                seen += 1
                assert codes.CODES[code].name == name, (path, code, name)
    assert seen >= 10


def test_every_lint_code_has_its_rule_and_every_rule_its_code() -> None:
    rules = {r.code: r for r in registry.all_rules()}
    static = {c.code for c in codes.TABLE if c.group in registry.STATIC_GROUPS}
    assert set(rules) == static
    for code, r in rules.items():
        entry = codes.CODES[code]
        assert (r.name, r.severity, r.family, r.lifecycle) == (
            entry.name,
            entry.severity,
            entry.group,
            entry.lifecycle,
        )
    for c in codes.TABLE:
        if not c.is_lint or c.group == "probe":
            assert c.code in EXPLANATIONS, f"{c.code} has no explanation for caic explain"
    assert set(EXPLANATIONS) <= set(codes.CODES)


def test_resolve_takes_codes_names_prefixes_and_all() -> None:
    got, unknown = codes.resolve(["CAI1", "too-specific", "cai403", "nonsense"])
    assert got == {"CAI101", "CAI102", "CAI202", "CAI403"} and unknown == ["nonsense"]
    every, _ = codes.resolve(["ALL"], groups=("pairs",))
    assert every == {"CAI101", "CAI102"}
    assert codes.resolve(["CAI9"], groups=("probe",))[0] == {"CAI901", "CAI902"}
    assert codes.resolve(["E101"])[1] == ["E101"]  # a language code is not a lint rule


@pytest.fixture
def preview_rule(monkeypatch: pytest.MonkeyPatch) -> str:
    """CAI203 as a preview rule, for the length of one test."""
    entry = codes.CODES["CAI203"]
    row = codes.Code(entry.code, entry.name, entry.group, entry.severity, "preview")
    monkeypatch.setitem(codes.CODES, "CAI203", row)
    monkeypatch.setattr(
        codes, "TABLE", tuple(row if c.code == "CAI203" else c for c in codes.TABLE)
    )
    return "CAI203"


def test_preview_rules_run_only_with_preview(preview_rule: str, tmp_path: Path) -> None:
    assert not LintConfig().enabled(preview_rule)
    assert LintConfig(preview=True).enabled(preview_rule)
    assert LintConfig().enabled("CAI202")
    src = tmp_path / "c.cai"
    src.write_text('cai 1\nconstitution "c" {\n}\n', encoding="utf-8")
    # A prefix or ALL leaves it out without preview, and takes it with preview.
    assert preview_rule not in (load_config(src, ["CAI2"]).select or set())
    assert preview_rule in (load_config(src, ["CAI2"], preview=True).select or set())
    # Named outright without preview: a clear usage error, not a silent no-op.
    with pytest.raises(CaicError, match="preview rule"):
        load_config(src, [preview_rule])
    (tmp_path / "pyproject.toml").write_text("[tool.caic.lint]\npreview = true\n")
    assert load_config(src).preview and load_config(src, preview=False).preview is False


def test_removed_codes_never_run(monkeypatch: pytest.MonkeyPatch) -> None:
    entry = codes.CODES["CAI402"]
    monkeypatch.setitem(
        codes.CODES, "CAI402", codes.Code(entry.code, entry.name, entry.group, "warning", "removed")
    )
    assert not LintConfig().enabled("CAI402")
