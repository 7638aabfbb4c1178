"""Formatter properties: the model is unchanged, formatting is idempotent, comments survive."""

from __future__ import annotations

import re
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from caic.constitution_lang import dumps, format_text, load, loads, semantic_dump
from caic.constitution_lang.model import (
    Category,
    Constitution,
    Example,
    JudgeSettings,
    Principle,
    PriorityChain,
    Settings,
    Tension,
)

ROOT = Path(__file__).parent.parent
SHIPPED = sorted((ROOT / "constitutions").rglob("*.cai"))
VALID = sorted((Path(__file__).parent / "data" / "valid").rglob("*.cai"))

names = st.from_regex(r"[a-z][a-z0-9_-]{0,10}(\.[a-z][a-z0-9]{0,5})?", fullmatch=True)
# Text an author might write: printable, quotes, backslashes, newlines and non-ASCII.
text = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs", "Cc"), include_characters='\n"\\\t'),
    min_size=1,
    max_size=60,
).filter(lambda s: bool(s.strip()))
weights = st.floats(min_value=0.01, max_value=100, allow_nan=False).map(lambda x: round(x, 3))


@st.composite
def principles(draw: st.DrawFn, name: str, category: str) -> Principle:
    shape = draw(st.sampled_from(["judge", "pair", "all"]))
    has_judge = shape in ("judge", "all")
    has_pair = shape in ("pair", "all")
    examples = draw(
        st.lists(
            st.builds(
                Example,
                prompt=st.none() | text,
                response=st.none() | text,
                critique=st.none() | text,
                revision=st.none() | text,
            ),
            max_size=2,
        )
    )
    return Principle(
        name=name,
        category=category,
        judge=draw(text) if has_judge else None,
        critique=draw(text) if has_pair else None,
        revision=draw(text) if has_pair else None,
        weight=draw(weights),
        tags=tuple(draw(st.lists(names, max_size=3))),
        source=draw(st.none() | text),
        examples=tuple(examples),
    )


@st.composite
def constitutions(draw: st.DrawFn) -> Constitution:
    cat_names = draw(st.lists(names, min_size=1, max_size=4, unique=True))
    p_names = draw(st.lists(names, min_size=len(cat_names), max_size=8, unique=True))
    cats = []
    for i, cname in enumerate(cat_names):
        mine = p_names[i :: len(cat_names)]
        cats.append(
            Category(
                name=cname,
                kind=draw(
                    st.sampled_from(["harm", "ethics", "honesty", "helpfulness", "style", "other"])
                ),
                weight=draw(weights),
                description=draw(st.none() | text),
                principles=tuple(draw(principles(n, cname)) for n in mine),
            )
        )
    chains = []
    if len(cat_names) >= 2:
        order = draw(st.permutations(cat_names))
        chains.append(PriorityChain(categories=tuple(order)))
    tensions = []
    if len(p_names) >= 2:
        a, b = p_names[0], p_names[1]
        tensions.append(
            Tension(
                a=a, b=b, prefer=draw(st.sampled_from([a, b, None])), note=draw(st.none() | text)
            )
        )
    lo = draw(st.floats(0, 0.5).map(lambda x: round(x, 2)))
    settings_ = Settings(
        critique_rounds=draw(st.integers(1, 8)),
        sampling=draw(st.sampled_from(["uniform", "weighted"])),
        seed=draw(st.integers(0, 2**31)),
        few_shot=draw(st.booleans()),
        judge=JudgeSettings(swap_positions=draw(st.booleans()), clamp=(lo, round(1 - lo, 2))),
    )
    return Constitution(
        name=draw(text),
        version=draw(st.none() | text),
        description=draw(st.none() | text),
        priority=tuple(chains),
        settings=settings_,
        categories=tuple(cats),
        tensions=tuple(tensions),
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(constitutions())
def test_dumps_then_loads_is_the_same_model(c: Constitution) -> None:
    text_ = dumps(c)
    back = loads(text_)
    assert semantic_dump(back) == semantic_dump(c)
    assert dumps(back) == text_


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    constitutions(),
    st.lists(st.from_regex(r"# [ -~]{0,20}", fullmatch=True), min_size=1, max_size=6),
    st.randoms(),
)
def test_format_keeps_model_is_idempotent_and_keeps_comments(
    c: Constitution, comments: list[str], rnd
) -> None:  # type: ignore[no-untyped-def]
    # Scatter comments over the lines of a valid file, on their own lines or trailing.
    lines = dumps(c).split("\n")
    safe = _lines_outside_strings(lines)
    for comment in comments:
        i = rnd.choice(safe)
        if rnd.random() < 0.5 and lines[i].strip():
            lines[i] = lines[i] + "  " + comment
        else:
            lines.insert(i, comment)
            safe = _lines_outside_strings(lines)
    source = "\n".join(lines)
    once = format_text(source)
    assert format_text(once) == once
    assert semantic_dump(loads(once)) == semantic_dump(loads(source))
    for comment in comments:
        assert comment.strip() in once


def _lines_outside_strings(lines: list[str]) -> list[int]:
    """Indices of lines that are not inside a triple-quoted string (comments go there)."""
    out, inside = [], False
    for i, line in enumerate(lines):
        if not inside:
            out.append(i)
        if line.count('"""') % 2 == 1:
            inside = not inside
    return out


def test_shipped_and_valid_files_format_idempotently_and_keep_their_model() -> None:
    for path in [*SHIPPED, *VALID]:
        source = path.read_text(encoding="utf-8")
        once = format_text(source, str(path))
        assert format_text(once, str(path)) == once, path
        assert len(re.findall(r"#", once)) >= len(
            [ln for ln in source.split("\n") if ln.strip().startswith("#")]
        ), path
        if "extends" not in source:
            assert semantic_dump(loads(once)) == semantic_dump(load(path)), path


def test_shipped_constitutions_are_already_canonical() -> None:
    for path in SHIPPED:
        source = path.read_text(encoding="utf-8")
        assert format_text(source, str(path)) == source, f"run `caic fmt {path}`"


def test_comment_placement() -> None:
    source = (
        '# head\nconstitution "x" {  # open\n  # before cat\n  category a { kind harm  # k\n'
        '    principle p { judge "j" }  # after p\n    # end of a\n  }\n}\n# tail\n'
    )
    out = format_text(source)
    assert out == (
        '# head\nconstitution "x" {  # open\n  # before cat\n  category a {\n    kind harm  # k\n'
        '\n    principle p {\n      judge "j"  # after p\n    }\n    # end of a\n  }\n}\n# tail\n'
    )
