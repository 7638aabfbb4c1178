"""The README's examples run as they stand.

Every ```python block of README.md is executed in a fresh namespace from the repository
root. Blocks whose first line is ``# needs: model`` load the embedded default model and
run with the slow tests; the others must not touch a model and run in the normal suite.
Blocks write only through :mod:`tempfile`, which points into pytest's ``tmp_path`` here.
"""

from __future__ import annotations

import re
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).parent.parent
README = ROOT / "README.md"
MODEL_MARK = "# needs: model"
MAX_LINES = 400


def fenced_blocks(text: str, lang: str) -> list[tuple[int, str]]:
    """``(line number of the opening fence, body)`` of every ```LANG block."""
    blocks = []
    for m in re.finditer(rf"^```{lang}\n(.*?)^```$", text, flags=re.M | re.S):
        blocks.append((text.count("\n", 0, m.start()) + 1, m.group(1)))
    return blocks


BLOCKS = fenced_blocks(README.read_text(encoding="utf-8"), "python")
PLAIN = [(line, src) for line, src in BLOCKS if not src.startswith(MODEL_MARK)]
MODEL = [(line, src) for line, src in BLOCKS if src.startswith(MODEL_MARK)]


def run_block(line: int, source: str) -> None:
    """Execute one block; a traceback names ``README.md:LINE``."""
    code = compile(source, f"README.md:{line}", "exec")
    exec(code, {"__name__": f"readme_block_{line}"})


@pytest.fixture
def at_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Run from the repository root with temporary files under ``tmp_path``."""
    monkeypatch.chdir(ROOT)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr(sys, "path", list(sys.path))  # a block may prepend tests/
    yield tmp_path


def _no_model(*args: Any, **kwargs: Any) -> Any:
    raise AssertionError(f"a README block without `{MODEL_MARK}` asked for a model backend")


def test_readme_is_short_and_has_both_kinds_of_blocks() -> None:
    lines = README.read_text(encoding="utf-8").count("\n")
    assert lines <= MAX_LINES, f"README.md has {lines} lines; move detail to docs/"
    assert len(PLAIN) >= 6 and len(MODEL) >= 5
    # A marker anywhere but the first line would silently move a model block into
    # the fast test.
    assert not [line for line, src in PLAIN if MODEL_MARK in src]


def test_cai_example_loads() -> None:
    from caic.constitution_lang import loads

    examples = [src for _, src in fenced_blocks(README.read_text(encoding="utf-8"), "")]
    cai = [src for src in examples if src.startswith("cai 1\n")]
    assert cai, "the README shows no .cai example"
    constitution = loads(cai[0])
    assert [p.name for p in constitution.principles] == ["least-harmful", "complete-answer"]


@pytest.mark.parametrize(("line", "source"), PLAIN, ids=[f"line{line}" for line, _ in PLAIN])
def test_block_without_model(
    line: int, source: str, at_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import caic.backends.registry

    monkeypatch.setattr(caic.backends.registry, "get_backend", _no_model)
    monkeypatch.setenv("CAIC_CACHE", str(at_root / "cache"))  # lint embeddings, parser tables
    run_block(line, source)


@pytest.mark.slow
@pytest.mark.parametrize(("line", "source"), MODEL, ids=[f"line{line}" for line, _ in MODEL])
def test_block_with_model(line: int, source: str, at_root: Path) -> None:
    run_block(line, source)
