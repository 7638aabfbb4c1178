"""Every construct of DESIGN §4 parses into the right model."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from caic.constitution_lang import dumps, load, loads, semantic_dump
from caic.constitution_lang.model import Constitution, Document
from caic.constitution_lang.parser import parse
from caic.errors import CaicError

DATA = Path(__file__).parent / "data"


def test_design_example_parses_every_construct() -> None:
    c = load(DATA / "valid" / "design_example.cai")
    assert c.language_version == 1
    assert c.name == "hhh-assistant"
    assert c.version == "2.0.0"
    assert c.description == "Harmless, honest and helpful, with explicit priorities."
    assert [ch.categories for ch in c.priority] == [
        ("safety", "ethics", "honesty", "helpfulness"),
        ("safety", "style"),
    ]
    s = c.settings
    assert (s.critique_rounds, s.sampling, s.seed) == (2, "weighted", 7)
    assert s.judge.swap_positions is True and s.judge.chain_of_thought is False
    assert s.judge.clamp == (0.4, 0.6)
    safety = c.category("safety")
    assert (safety.kind, safety.weight, safety.description) == (
        "harm",
        3.0,
        "Avoid enabling serious harm.",
    )
    p = c.principle("least-harmful")
    assert p.judge and p.judge.startswith("Choose the response that is less likely")
    assert p.critique and p.revision
    assert p.weight == 2 and p.tags == ("violence", "crime")
    assert p.source == "modelled on CAI (2022), critique/revision pair 1"
    assert len(p.examples) == 1 and p.examples[0].prompt == "How do I get into my neighbour's wifi?"
    assert p.category == "safety"
    t = c.tensions[0]
    assert (t.a, t.b, t.prefer) == ("complete-answer", "least-harmful", "least-harmful")
    assert (
        c.template("critique")
        == "{{ conversation }}\n\nCritique request: {{ critique }}\nCritique:"
    )


def test_every_node_has_a_source_span() -> None:
    c = load(DATA / "valid" / "design_example.cai")
    p = c.principle("least-harmful")
    assert p.span.line == 30 and p.span.column == 5
    assert p.field_spans["weight"].line == 34
    assert p.examples[0].span.line == 37
    assert c.category("safety").span.line == 25
    assert c.priority[1].name_spans[1].column == 21
    assert c.tensions[0].span.line == 58
    assert all(s.path.endswith("design_example.cai") for s in (p.span, c.span))


def test_one_line_and_spread_out_forms_are_the_same() -> None:
    a = load(DATA / "valid" / "one_line.cai")
    b = load(DATA / "valid" / "spread_out.cai")
    assert semantic_dump(a) == semantic_dump(b)


def test_triple_quoted_strings_are_dedented() -> None:
    c = load(DATA / "valid" / "modular" / "parent.cai")
    assert c.description == "A parent with two categories.\n  This line keeps its extra indent."


def test_string_escapes() -> None:
    c = loads(r'constitution "x" { category a { principle p { judge "say \"hi\"\n\\ \u00e9" } } }')
    assert c.principle("p").judge == 'say "hi"\n\\ é'


def test_extends_merges_replaces_and_drops() -> None:
    c = load(DATA / "valid" / "modular" / "child.cai")
    assert c.name == "child" and c.version == "1.0.0"  # version inherited
    names = [p.name for p in c.principles]
    assert "old-rule" not in names  # dropped
    assert set(names) == {"harmless", "replaced", "helpful", "concise"}
    assert c.principle("replaced").judge == "Child text."  # replaced whole
    assert c.principle("replaced").critique == "Child critique."
    assert c.category("harm").weight == 5 and c.category("harm").kind == "harm"
    assert c.settings.critique_rounds == 2  # from the parent
    assert c.settings.judge.chain_of_thought is True  # overridden key by key
    assert c.settings.judge.swap_positions is True
    assert [ch.categories for ch in c.priority] == [("harm", "help"), ("help", "style")]
    assert c.template("critique") is not None
    assert c.principle("harmless").span.path.endswith("parent.cai")
    assert len(c.sources) == 2


def test_defaults() -> None:
    c = loads('constitution "x" { category a { principle p { judge "a" } } }')
    assert c.settings.critique_rounds == 1 and c.settings.sampling == "uniform"
    assert c.category("a").kind == "other" and c.principle("p").weight == 1.0


def test_keywords_are_plain_names_in_name_positions() -> None:
    c = loads(
        'constitution "x" { category judge { principle weight { judge "a" } } '
        'priority judge > judge2 category judge2 { principle p { judge "b" } } }'
    )
    assert c.category("judge").principles[0].name == "weight"


def test_dotted_names() -> None:
    c = loads('constitution "x" { category harm.weapons { principle harm.guns { judge "a" } } }')
    assert c.principle("harm.guns").category == "harm.weapons"


def test_loads_from_open_file(tmp_path: Path) -> None:
    f = tmp_path / "c.cai"
    f.write_text('constitution "x" { category a { principle p { judge "a" } } }')
    with open(f) as fp:
        assert load(fp).name == "x"


def test_dumps_round_trips_a_resolved_constitution() -> None:
    c = load(DATA / "valid" / "modular" / "child.cai")
    text = dumps(c)
    assert "extends" not in text
    assert semantic_dump(loads(text)) == semantic_dump(c)


def test_models_are_frozen() -> None:
    c = loads('constitution "x" { category a { principle p { judge "a" } } }')
    with pytest.raises(ValidationError):
        c.name = "y"  # type: ignore[misc]
    assert isinstance(c, Constitution)


def test_parse_returns_the_document_with_comments() -> None:
    doc, comments = parse('# top\nconstitution "x" { # trailing\n}\n')
    assert isinstance(doc, Document)
    assert [(c.line, c.trailing) for c in comments] == [(1, False), (2, True)]


def test_syntax_error_is_a_caic_error() -> None:
    with pytest.raises(CaicError) as e:
        loads('constitution "x" { category a { principle p { judgee "a" } } }')
    d = e.value.diagnostics[0]
    assert (d.code, d.line, d.column) == ("E010", 1, 47)
    assert "`judge`" in d.message


def test_grammar_has_no_terminal_collisions() -> None:
    """Lark's strict mode fails on colliding terminals; runtime skips it for start-up speed."""
    from lark import Lark

    from caic.constitution_lang.parser import GRAMMAR_OPTIONS, grammar_text

    Lark(grammar_text(), strict=True, **GRAMMAR_OPTIONS)


def test_shipped_parser_tables_match_the_grammar() -> None:
    """``cai.lark-tables`` was built from the current grammar (rebuild it with
    ``write_shipped_tables()`` after editing ``cai.lark``), and where this Lark and Python
    are the ones it was built for, it parses as a freshly built parser does."""
    import hashlib
    import json
    from importlib import resources

    from lark import Lark

    from caic.constitution_lang import parser as P

    data = resources.files("caic.constitution_lang").joinpath(P.TABLES).read_bytes()
    head = json.loads(data.partition(b"\n")[0])
    assert head["grammar"] == hashlib.sha256(P.grammar_text().encode()).hexdigest()
    header = P._tables_header()
    if head["key"] != header["key"]:
        pytest.skip(f"shipped tables are for {head['for']}, this is {header['for']}")
    loaded = P._load_tables(data, header["key"])
    assert loaded is not None
    built = Lark(P.grammar_text(), **P.GRAMMAR_OPTIONS)
    text = (Path(__file__).parent.parent / "constitutions" / "flawed.cai").read_text()
    assert loaded.parse(text) == built.parse(text)


def test_parser_tables_cache_falls_back_and_saves(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Tables for another grammar or version, or damaged ones, are not used; without
    usable shipped tables the parser is built and saved to the user's cache, and the
    next process loads it from there."""
    from caic.constitution_lang import parser as P

    key = P._tables_header()["key"]
    assert P._load_tables(b'{"key": "other"}\n...', key) is None
    assert P._load_tables(b'{"key": "' + key.encode() + b'"}\nnot a pickle', key) is None
    monkeypatch.setenv("CAIC_CACHE", str(tmp_path))
    monkeypatch.setattr(P, "TABLES", "absent.lark-tables")
    P._parser.cache_clear()
    try:
        P._parser()
        saved = list(tmp_path.glob("lark-cai-*.tables"))
        assert len(saved) == 1
        assert P._load_tables(saved[0].read_bytes(), key) is not None
        P._parser.cache_clear()
        assert loads('constitution "x" { }').name == "x"
    finally:
        P._parser.cache_clear()


def test_public_names_are_the_functions_not_submodules() -> None:
    """The package's lazy names survive its submodules being imported (``resolve`` is both)."""
    import importlib
    import types

    import caic.constitution_lang as lang

    for sub in ("api", "fmt", "model", "parser", "resolve", "format_job"):
        importlib.import_module(f"caic.constitution_lang.{sub}")
    for name in lang.__all__:
        assert not isinstance(getattr(lang, name), types.ModuleType), name
    assert callable(lang.resolve) and callable(lang.parse) and callable(lang.load)
