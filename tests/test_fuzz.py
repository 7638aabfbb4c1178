"""Random and mutated inputs never raise anything but CaicError, and every error has a place."""

from __future__ import annotations

import contextlib
import random
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from caic.constitution_lang import format_text, loads
from caic.errors import CaicError

ROOT = Path(__file__).parent.parent
SEEDS = [
    p.read_text(encoding="utf-8")
    for p in [
        *sorted((ROOT / "constitutions").glob("*.cai")),
        *sorted((Path(__file__).parent / "data" / "valid").glob("*.cai")),
    ]
]
TOKENS = [
    "{",
    "}",
    "[",
    "]",
    ",",
    ">",
    '"',
    '"""',
    "#",
    "\n",
    " ",
    "principle",
    "category",
    "judge",
    "weight",
    "-1",
    "0",
    "1e9",
    "settings",
    "extends",
    "drop",
    "priority",
    "tension",
    "template",
    "{{ x }}",
    "cai 2",
    "é",
    "\\",
    "\x00",
]


def _check(text: str) -> None:
    try:
        loads(text)
    except CaicError as e:
        assert e.diagnostics
        for d in e.diagnostics:
            assert d.line >= 1 and d.column >= 1, d
            assert d.code
    with contextlib.suppress(CaicError):
        format_text(text)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=200))
def test_random_text(text: str) -> None:
    _check(text)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.integers(0, len(SEEDS) - 1),
    st.lists(
        st.tuples(
            st.integers(0, 10**6), st.sampled_from(["del", "ins", "dup"]), st.sampled_from(TOKENS)
        ),
        min_size=1,
        max_size=5,
    ),
)
def test_mutated_constitutions(seed_index: int, edits: list[tuple[int, str, str]]) -> None:
    text = SEEDS[seed_index]
    for pos, op, token in edits:
        i = pos % (len(text) + 1)
        if op == "del":
            text = text[:i] + text[i + random.Random(pos).randint(1, 20) :]
        elif op == "ins":
            text = text[:i] + token + text[i:]
        else:
            text = text[:i] + text[i : i + 40] + text[i:]
    _check(text)
