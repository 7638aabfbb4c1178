"""The invalid corpus: every file gives its golden diagnostics (all errors, not the first)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from caic.constitution_lang import load, loads
from caic.errors import CaicError

DATA = Path(__file__).parent / "data"
INVALID = sorted((DATA / "invalid").glob("*.cai"))


def render(path: Path) -> str:
    with pytest.raises(CaicError) as e:
        load(path)
    out = []
    for d in e.value.diagnostics:
        rel = os.path.relpath(d.path, DATA) if os.path.isabs(d.path) else d.path
        d = d.model_copy(update={"path": rel})
        try:
            source = (DATA / rel).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            source = None
        out.append(d.render(source))
    return "\n".join(out) + "\n"


@pytest.mark.parametrize("path", INVALID, ids=[p.stem for p in INVALID])
def test_invalid_corpus_matches_golden(path: Path, golden: Callable[[Path, str], None]) -> None:
    golden(path.with_suffix(".expected"), render(path))


def _codes(path: Path) -> list[str]:
    with pytest.raises(CaicError) as e:
        load(path)
    return [d.code for d in e.value.diagnostics]


@pytest.mark.parametrize(
    ("name", "codes"),
    [
        ("unclosed_block", ["E011"]),
        ("unknown_field", ["E010"]),
        ("uppercase_name", ["E010"]),
        ("unterminated_string", ["E010"]),
        ("duplicate_principle", ["E101"]),
        ("unknown_priority_category", ["E103"]),
        ("priority_cycle", ["E104"]),
        ("nonpositive_weight", ["E105", "E105"]),
        ("unpaired_critique", ["E106", "E106"]),
        ("no_text", ["E107"]),
        ("unknown_placeholder", ["E108"]),
        ("unknown_template", ["E109"]),
        ("missing_extends", ["E110"]),
        ("unknown_drop", ["E112"]),
        ("unknown_setting", ["E113", "E113"]),
        ("unknown_version", ["E020"]),
        ("empty", ["E002"]),
        ("not_utf8", ["E001"]),
    ],
)
def test_each_check_has_its_code(name: str, codes: list[str]) -> None:
    assert _codes(DATA / "invalid" / f"{name}.cai") == codes


def test_every_error_in_a_file_is_reported() -> None:
    codes = _codes(DATA / "invalid" / "many_errors.cai")
    assert set(codes) >= {"E101", "E103", "E105", "E106", "E112", "E113"}
    assert len(codes) >= 6


def test_bad_settings_each_reported() -> None:
    codes = _codes(DATA / "invalid" / "bad_setting_value.cai")
    assert codes.count("E114") == 5


def test_extends_cycle() -> None:
    codes = _codes(DATA / "invalid" / "cycle_a.cai")
    assert "E111" in codes


def test_unclosed_block_hint_names_the_block() -> None:
    with pytest.raises(CaicError) as e:
        load(DATA / "invalid" / "unclosed_block.cai")
    assert e.value.diagnostics[0].hint == "unclosed `category {` opened at 2:3"


def test_placeholder_error_points_at_the_placeholder() -> None:
    with pytest.raises(CaicError) as e:
        load(DATA / "invalid" / "unknown_placeholder.cai")
    d = e.value.diagnostics[0]
    assert (d.line, d.column) == (6, 26)
    assert "did you mean `critique`" in (d.hint or "")


def test_very_large_file(tmp_path: Path) -> None:
    big = tmp_path / "big.cai"
    with open(big, "w") as f:
        f.write('constitution "x" {\n')
        f.write("# padding\n" * 1_000_000)
        f.write("}\n")
    with pytest.raises(CaicError) as e:
        load(big)
    assert e.value.diagnostics[0].code == "E003"


def test_missing_file_is_exit_code_2(tmp_path: Path) -> None:
    with pytest.raises(CaicError) as e:
        load(tmp_path / "nope.cai")
    assert e.value.exit_code == 2 and e.value.diagnostics[0].code == "E004"


def test_principle_text_is_data_not_template() -> None:
    c = loads(
        'constitution "x" { category a { principle p { critique "{{ conversation }} '
        '{% if x %}" revision "r" } } }'
    )
    assert c.principle("p").critique == "{{ conversation }} {% if x %}"
