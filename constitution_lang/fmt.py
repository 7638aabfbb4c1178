"""The canonical printer (``caic fmt``) and ``dumps``.

Canonical form: two-space indents, one statement per line, fields in a fixed
order, blocks in source order. Comments are re-attached by position: a comment
that follows code on a line stays at the end of that statement's line; a comment
on a line of its own goes before the next statement of the source. Both rules
are stable under re-formatting, so formatting is idempotent.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from caic.constitution_lang.model import (
    Constitution,
    DocCategory,
    Document,
    Example,
    Node,
    Principle,
    SettingEntry,
    Span,
)
from caic.constitution_lang.parser import Comment, decode_string

INDENT = "  "


@dataclass
class _Line:
    depth: int
    text: str
    src: tuple[int, int] | None = None
    """Source position of the statement this line starts (None for closers and blanks)."""
    src_end: tuple[int, int] | None = None
    """For a closing brace: the source position of that brace."""
    trailing: str | None = None


def quote(value: str, depth: int = 0) -> str:
    """A string literal for ``value``: triple-quoted when multi-line and it round-trips."""
    if "\n" in value and '"""' not in value:
        pad = INDENT * (depth + 1)
        body = value.replace("\\", "\\\\")
        lines = [(pad + ln) if ln.strip() else "" for ln in body.split("\n")]
        literal = '"""\n' + "\n".join(lines) + "\n" + INDENT * depth + '"""'
        if decode_string(literal) == value:
            return literal
    out = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    out = out.replace("\t", "\\t").replace("\r", "\\r").replace("\0", "\\0")
    return f'"{out}"'


def number(value: float | int) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def _pos(span: Span | None) -> tuple[int, int] | None:
    return (span.line, span.column) if span is not None else None


class _Printer:
    def __init__(self) -> None:
        self.lines: list[_Line] = []

    def emit(self, depth: int, text: str, span: Span | None = None) -> None:
        self.lines.append(_Line(depth, text, _pos(span)))

    def close(self, depth: int, span: Span | None) -> None:
        end = (span.end_line, max(1, span.end_column - 1)) if span is not None else None
        self.lines.append(_Line(depth, "}", None, end))

    def blank(self) -> None:
        if self.lines and self.lines[-1].text:
            self.lines.append(_Line(0, ""))

    def fields(
        self, depth: int, node: Node, *keys: str, show: Callable[[Any], str] | None = None
    ) -> None:
        """A ``key value`` line for each of ``keys`` that ``node`` sets, in that order;
        ``show`` prints the value (default: a string literal at ``depth``)."""
        for key in keys:
            value = getattr(node, key)
            if value is not None:
                text = show(value) if show is not None else quote(value, depth)
                self.emit(depth, f"{key} {text}", node.field_spans.get(key))

    # -- nodes -------------------------------------------------------------
    def document(self, doc: Document) -> None:
        if doc.language_version is not None:
            self.emit(0, f"cai {doc.language_version}", doc.field_spans.get("header"))
            self.blank()
        self.emit(0, f"constitution {quote(doc.name)} {{", doc.span)
        d = 1
        self.fields(d, doc, "version", show=quote)
        self.fields(d, doc, "description")
        for ext in doc.extends:
            self.emit(d, f"extends {quote(ext.path)}", ext.span)
        for drop in doc.drops:
            self.emit(d, f"drop {drop.name}", drop.span)
        if doc.priority:
            self.blank()
        for chain in doc.priority:
            self.emit(d, "priority " + " > ".join(chain.categories), chain.span)
        if doc.settings is not None:
            self.blank()
            self.emit(d, "settings {", doc.settings_span)
            for entry in doc.settings:
                self.setting(d + 1, entry)
            self.close(d, doc.settings_span)
        for cat in doc.categories:
            self.blank()
            self.category(d, cat)
        for t in doc.tensions:
            self.blank()
            self.emit(d, f"tension {t.a} {t.b} {{", t.span)
            self.fields(d + 1, t, "prefer", show=str)
            self.fields(d + 1, t, "note")
            self.close(d, t.span)
        for tpl in doc.templates:
            self.blank()
            self.emit(d, f"template {tpl.name} {quote(tpl.text, d)}", tpl.span)
        self.close(0, doc.span)

    def setting(self, depth: int, entry: SettingEntry) -> None:
        if entry.kind == "block":
            self.emit(depth, f"{entry.key} {{", entry.span)
            for child in entry.items:
                self.setting(depth + 1, child)
            self.close(depth, entry.span)
        else:
            self.emit(depth, f"{entry.key} {_value(entry.kind, entry.value, depth)}", entry.span)

    def category(self, depth: int, cat: DocCategory) -> None:
        self.emit(depth, f"category {cat.name} {{", cat.span)
        d = depth + 1
        self.fields(d, cat, "kind", show=str)
        self.fields(d, cat, "weight", show=number)
        self.fields(d, cat, "description")
        for drop in cat.drops:
            self.emit(d, f"drop {drop.name}", drop.span)
        for p in cat.principles:
            self.blank()
            self.principle(d, p)
        self.close(depth, cat.span)

    def principle(self, depth: int, p: Principle) -> None:
        self.emit(depth, f"principle {p.name} {{", p.span)
        d = depth + 1
        self.fields(d, p, "judge", "critique", "revision")
        if p.weight != 1.0 or "weight" in p.field_spans:
            self.emit(d, f"weight {number(p.weight)}", p.field_spans.get("weight"))
        if p.tags:
            self.emit(d, "tags [" + ", ".join(p.tags) + "]", p.field_spans.get("tags"))
        self.fields(d, p, "source")
        for ex in p.examples:
            self.example(d, ex)
        self.close(depth, p.span)

    def example(self, depth: int, ex: Example) -> None:
        self.emit(depth, "example {", ex.span)
        self.fields(depth + 1, ex, "prompt", "response", "critique", "revision")
        self.close(depth, ex.span)


def _value(kind: str, value: object, depth: int) -> str:
    if kind == "string":
        return quote(str(value), depth)
    if kind == "bool":
        return "true" if value else "false"
    if kind == "number":
        assert isinstance(value, int | float)
        return number(value)
    if kind == "list":
        assert isinstance(value, tuple)
        return "[" + ", ".join(_value(k, v, depth) for k, v in value) + "]"
    return str(value)


def format_document(doc: Document, comments: Iterable[Comment] = ()) -> str:
    """Print ``doc`` in canonical form with its comments re-attached."""
    printer = _Printer()
    printer.document(doc)
    lines = printer.lines
    _attach(lines, list(comments))
    # Drop blank runs, and blanks right after an opener or right before a closer.
    cleaned: list[_Line] = []
    for i, line in enumerate(lines):
        if line.text == "" and line.trailing is None:
            prev = cleaned[-1] if cleaned else None
            nxt = lines[i + 1] if i + 1 < len(lines) else None
            if (
                prev is None
                or prev.text == ""
                or prev.text.endswith("{")
                or nxt is None
                or nxt.text in ("", "}")
            ):
                continue
        cleaned.append(line)
    out = []
    for line in cleaned:
        text = INDENT * line.depth + line.text if line.text else ""
        if line.trailing:
            text += "  " + line.trailing
        out.append(text)
    return "\n".join(out).rstrip("\n") + "\n"


def _attach(lines: list[_Line], comments: list[Comment]) -> None:
    """Place comments: trailing ones on their statement's line, the rest before the next one."""
    if not comments:
        return
    starts: dict[int, int] = {}  # source line → index of the last printed line starting there
    anchors: list[tuple[tuple[int, int], int]] = []
    for i, line in enumerate(lines):
        if line.src is not None:
            starts[line.src[0]] = i
            anchors.append((line.src, i))
        elif line.src_end is not None:
            anchors.append((line.src_end, i))
    anchors.sort()
    keys = [a[0] for a in anchors]
    before: dict[int, list[tuple[Comment, int]]] = {}
    tail: list[Comment] = []
    for c in comments:
        if c.trailing and c.line in starts and lines[starts[c.line]].trailing is None:
            lines[starts[c.line]].trailing = c.text
            continue
        k = bisect.bisect_right(keys, (c.line, c.column))
        if k >= len(anchors):
            tail.append(c)
            continue
        idx = anchors[k][1]
        target = lines[idx]
        depth = target.depth + 1 if target.src is None and target.text == "}" else target.depth
        before.setdefault(idx, []).append((c, depth))
    result: list[_Line] = []
    for i, line in enumerate(lines):
        for c, depth in before.get(i, ()):
            result.append(_Line(depth, c.text))
        result.append(line)
    for c in tail:
        result.append(_Line(0, c.text))
    lines[:] = result


def to_document(c: Constitution) -> Document:
    """The resolved constitution as a standalone file (parents flattened in)."""
    s = c.settings
    j = s.judge
    settings = (
        SettingEntry(key="critique_rounds", kind="number", value=s.critique_rounds),
        SettingEntry(key="sampling", kind="name", value=s.sampling),
        SettingEntry(key="seed", kind="number", value=s.seed),
        SettingEntry(key="few_shot", kind="bool", value=s.few_shot),
        SettingEntry(
            key="judge",
            kind="block",
            items=(
                SettingEntry(key="swap_positions", kind="bool", value=j.swap_positions),
                SettingEntry(key="chain_of_thought", kind="bool", value=j.chain_of_thought),
                SettingEntry(
                    key="clamp", kind="list", value=(("number", j.clamp[0]), ("number", j.clamp[1]))
                ),
                SettingEntry(key="mode", kind="name", value=j.mode),
                SettingEntry(key="margin", kind="number", value=j.margin),
            ),
        ),
    )
    return Document(
        language_version=c.language_version,
        name=c.name,
        version=c.version,
        description=c.description,
        priority=c.priority,
        settings=settings,
        categories=tuple(
            DocCategory(
                name=cat.name,
                kind=cat.kind,
                weight=cat.weight,
                description=cat.description,
                principles=tuple(p.model_copy(update={"field_spans": {}}) for p in cat.principles),
            )
            for cat in c.categories
        ),
        tensions=c.tensions,
        templates=c.templates,
    )
