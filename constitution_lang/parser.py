"""Text → :class:`Document`: the Lark parser, the tree transformer and syntax errors.

The parser is built once (LALR, ``strict=True`` so grammar collisions fail loudly)
and cached. Syntax errors become :class:`~caic.errors.Diagnostic` records with the
expected tokens spelled as an author would type them and, at end of file, the
block that was never closed.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import hashlib
import os
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from lark import Lark, Token, Transformer, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from caic.constitution_lang.model import (
    DocCategory,
    Document,
    Drop,
    Example,
    Extends,
    Principle,
    PriorityChain,
    SettingEntry,
    Span,
    Template,
    Tension,
)
from caic.errors import CaicError, Diagnostic

MAX_BYTES = 8 * 1024 * 1024
"""Largest `.cai` file caic reads; a constitution is prose, not data."""

MAX_SYNTAX_ERRORS = 20


@dataclass(frozen=True)
class Comment:
    """A ``# ...`` comment with its position; the formatter re-attaches it."""

    line: int
    column: int
    text: str
    trailing: bool
    """True when code precedes it on the same line."""


_comment_sink: contextvars.ContextVar[Callable[[Token], None] | None] = contextvars.ContextVar(
    "caic_comment_sink", default=None
)


def _on_comment(tok: Token) -> Token:
    sink = _comment_sink.get()
    if sink is not None:
        sink(tok)
    return tok


GRAMMAR_OPTIONS: dict[str, Any] = {
    "parser": "lalr",
    "lexer": "basic",
    "propagate_positions": False,  # spans come from tokens (see _Builder._span)
    "maybe_placeholders": False,
    "lexer_callbacks": {"COMMENT": _on_comment},
}


def grammar_text() -> str:
    return resources.files("caic.constitution_lang").joinpath("cai.lark").read_text("utf-8")


TABLES = "cai.lark-tables"
"""The parser tables shipped next to the grammar (:func:`write_shipped_tables`)."""
_GIVEN_ON_LOAD = ("lexer_callbacks", "propagate_positions")
"""Options passed again when tables are loaded (a callback cannot be stored)."""


def _tables_header() -> dict[str, str]:
    """What tables are valid for: the grammar, its options, Lark's and Python's version."""
    import sys

    import lark

    grammar = grammar_text()
    stored = {k: v for k, v in GRAMMAR_OPTIONS.items() if k not in _GIVEN_ON_LOAD}
    versions = f"lark {lark.__version__}, python {sys.version_info[0]}.{sys.version_info[1]}"
    key = hashlib.sha256(f"{grammar}{sorted(stored.items())}{versions}".encode()).hexdigest()
    return {"key": key, "grammar": hashlib.sha256(grammar.encode()).hexdigest(), "for": versions}


def _load_tables(data: bytes, key: str) -> Lark | None:
    """A parser from saved tables whose header carries ``key``, else ``None``."""
    import io
    import json

    head, _, body = data.partition(b"\n")
    try:
        if json.loads(head).get("key") != key:
            return None
        inst = Lark.__new__(Lark)
        return inst._load(io.BytesIO(body), **{k: GRAMMAR_OPTIONS[k] for k in _GIVEN_ON_LOAD})
    except Exception:  # stale or damaged tables: build them instead
        return None


def _save_tables(parser: Lark, path: Path, header: dict[str, str]) -> None:
    import json

    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        f.write(json.dumps(header).encode() + b"\n")
        parser.save(f, _GIVEN_ON_LOAD)
    os.replace(tmp, path)


@functools.cache
def _parser() -> Lark:
    """The LALR parser, built once per process and its tables cached across processes.

    Building the tables takes about a quarter of a second, loading them ~20 ms. They
    come from the user's cache (``$CAIC_CACHE``), else from the copy shipped with the
    package (built for one Lark and Python version: :data:`TABLES`), else are built and
    saved to the user's cache. A header names the grammar, options and versions they
    were built for; tables for anything else are not used. The grammar is checked for
    terminal collisions with ``strict=True`` by the test suite (tests/test_lang_parse.py),
    which is too slow to repeat on every start.
    """
    header = _tables_header()
    user: Path | None = None
    with contextlib.suppress(OSError):
        root = Path(os.environ.get("CAIC_CACHE") or Path.home() / ".cache" / "caic")
        user = root / f"lark-cai-{header['key'][:16]}.tables"
        if user.is_file() and (found := _load_tables(user.read_bytes(), header["key"])):
            return found
    shipped = resources.files("caic.constitution_lang").joinpath(TABLES)
    with contextlib.suppress(OSError):
        if shipped.is_file() and (found := _load_tables(shipped.read_bytes(), header["key"])):
            return found
    parser = Lark(grammar_text(), **GRAMMAR_OPTIONS)
    if user is not None:
        with contextlib.suppress(OSError):  # an unwritable cache only costs time
            user.parent.mkdir(parents=True, exist_ok=True)
            _save_tables(parser, user, header)
    return parser


def write_shipped_tables(folder: Path | None = None) -> Path:
    """Build the parser tables and write them next to the grammar. Run after changing
    ``cai.lark`` or upgrading Lark (``python -c "from caic.constitution_lang.parser
    import write_shipped_tables; write_shipped_tables()"``); a test checks that they
    were built from the current grammar."""
    path = (folder or Path(__file__).parent) / TABLES
    _save_tables(Lark(grammar_text(), **GRAMMAR_OPTIONS), path, _tables_header())
    return path


_TOKEN_NAMES = {
    "LBRACE": "`{`",
    "RBRACE": "`}`",
    "LSQB": "`[`",
    "RSQB": "`]`",
    "COMMA": "`,`",
    "MORETHAN": "`>`",
    "NAME": "a name",
    "STRING": "a string",
    "NUMBER": "a number",
    "$END": "end of file",
}


def _describe(term: str) -> str:
    if term in _TOKEN_NAMES:
        return _TOKEN_NAMES[term]
    return f"`{term.lower()}`"


def _describe_token(tok: Token) -> str:
    if tok.type == "$END":
        return "end of file"
    text = str(tok)
    if len(text) > 30:
        text = text[:27] + "..."
    return f"`{text}`"


def decode_string(raw: str) -> str:
    """The value of a STRING token: quotes removed, escapes applied, triple quotes dedented."""
    if raw.startswith('"""'):
        body = raw[3:-3]
        if body.startswith("\n"):
            body = body[1:]
        body = textwrap.dedent(body)
        body = "\n".join(
            line.rstrip(" \t") if not line.strip() else line for line in body.split("\n")
        ).strip("\n")
    else:
        body = raw[1:-1]
    return _unescape(body)


_ESCAPES = {"n": "\n", "t": "\t", '"': '"', "\\": "\\", "r": "\r", "0": "\0"}


def _unescape(s: str) -> str:
    if "\\" not in s:
        return s
    out = []
    i = 0
    while i < len(s):
        c = s[i]
        if c == "\\" and i + 1 < len(s):
            nxt = s[i + 1]
            if nxt == "u" and i + 5 < len(s) + 0:
                try:
                    out.append(chr(int(s[i + 2 : i + 6], 16)))
                    i += 6
                    continue
                except ValueError:
                    pass
            out.append(_ESCAPES.get(nxt, "\\" + nxt))
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _number(tok: Token) -> int | float:
    text = str(tok)
    if all(ch.isdigit() or ch in "+-" for ch in text):
        return int(text)
    return float(text)


class _Builder(Transformer[Token, Any]):
    """Builds nodes with spans; collects field-level problems, checks nothing across nodes."""

    def __init__(self, path: str):
        # No callbacks for tokens (there are none): Lark would look one up per token.
        super().__init__(visit_tokens=False)
        self.path = path
        self.errors: list[Diagnostic] = []

    # -- helpers ---------------------------------------------------------
    def _span(self, c: list[Any]) -> Span:
        """From the start of a node's first token to the end of its last: the rules a
        span is taken of keep their keyword and bracket tokens (``!`` in the grammar)."""
        first, last = c[0], c[-1]
        return Span(
            path=self.path,
            line=first.line,
            column=first.column,
            end_line=last.end_line,
            end_column=last.end_column,
        )

    def _tok_span(self, tok: Token) -> Span:
        return Span(
            path=self.path,
            line=tok.line or 1,
            column=tok.column or 1,
            end_line=tok.end_line or tok.line or 1,
            end_column=tok.end_column or tok.column or 1,
        )

    def _fields(self, owner: str, items: list[Any]) -> tuple[dict[str, Any], dict[str, Span]]:
        """Gather ``(field, value, span)`` triples; a repeated field is an error."""
        values: dict[str, Any] = {}
        spans: dict[str, Span] = {}
        for item in items:
            if not isinstance(item, tuple) or len(item) != 3:
                continue
            key, value, span = item
            if key in values:
                first = spans[key]
                self.errors.append(
                    Diagnostic(
                        code="E117",
                        name="duplicate-field",
                        path=span.path,
                        line=span.line,
                        column=span.column,
                        end_line=span.end_line,
                        end_column=span.end_column,
                        message=f"`{key}` given twice in {owner}",
                        hint=f"the first `{key}` is at {first.line}:{first.column}; keep one",
                    )
                )
                continue
            values[key] = value
            spans[key] = span
        return values, spans

    # -- leaves ------------------------------------------------------------
    # A field rule's children: its keyword token, then what follows it.
    def name(self, c: list[Token]) -> Token:
        return c[0]

    def example_key(self, c: list[Token]) -> Token:
        return c[0]

    def version(self, c: list[Token]) -> tuple[str, Any, Span]:
        return ("version", decode_string(c[1]), self._span(c))

    def description(self, c: list[Token]) -> tuple[str, Any, Span]:
        return ("description", decode_string(c[1]), self._span(c))

    def kind(self, c: list[Token]) -> tuple[str, Any, Span]:
        return ("kind", str(c[1]), self._span(c))

    def weight(self, c: list[Token]) -> tuple[str, Any, Span]:
        return ("weight", float(c[1]), self._span(c))

    def _text(self, name: str, c: list[Token]) -> tuple[str, Any, Span]:
        return (name, decode_string(c[1]), self._span(c))

    def judge(self, c: list[Token]) -> tuple[str, Any, Span]:
        return self._text("judge", c)

    def critique(self, c: list[Token]) -> tuple[str, Any, Span]:
        return self._text("critique", c)

    def revision(self, c: list[Token]) -> tuple[str, Any, Span]:
        return self._text("revision", c)

    def source(self, c: list[Token]) -> tuple[str, Any, Span]:
        return self._text("source", c)

    def note(self, c: list[Token]) -> tuple[str, Any, Span]:
        return self._text("note", c)

    def tags(self, c: list[Token]) -> tuple[str, Any, Span]:
        # `tags [a, b]`: the keyword, brackets and commas are tokens too.
        names = tuple(str(t) for t in c[2:-1] if t.type != "COMMA")
        return ("tags", names, self._span(c))

    def prefer(self, c: list[Token]) -> tuple[str, Any, Span]:
        return ("prefer", str(c[1]), self._span(c))

    def example_field(self, c: list[Token]) -> tuple[str, Any, Span]:
        return (str(c[0]), decode_string(c[1]), self._span(c))

    def example(self, c: list[Any]) -> tuple[str, Any, Span]:
        values, spans = self._fields("example", c[2:-1])
        span = self._span(c)
        return ("example", Example.model_construct(span=span, field_spans=spans, **values), span)

    def drop(self, c: list[Token]) -> Drop:
        return Drop.model_construct(span=self._span(c), name=str(c[1]))

    def extends(self, c: list[Token]) -> Extends:
        return Extends.model_construct(span=self._span(c), path=decode_string(c[1]))

    def priority(self, c: list[Token]) -> PriorityChain:
        names = c[1::2]  # priority a > b > c
        return PriorityChain.model_construct(
            span=self._span(c),
            categories=tuple(str(t) for t in names),
            name_spans=tuple(self._tok_span(t) for t in names),
        )

    def template(self, c: list[Token]) -> Template:
        return Template.model_construct(
            span=self._span(c),
            name=str(c[1]),
            text=decode_string(c[2]),
            field_spans={"text": self._tok_span(c[2])},
        )

    def tension(self, c: list[Any]) -> Tension:
        values, spans = self._fields("tension", c[4:-1])
        return Tension.model_construct(
            span=self._span(c), field_spans=spans, a=str(c[1]), b=str(c[2]), **values
        )

    # -- settings ------------------------------------------------------------
    # A value is ``(kind, value, last token)``: the token ends its setting's span.
    def string_value(self, c: list[Token]) -> tuple[str, Any, Token]:
        return ("string", decode_string(c[0]), c[0])

    def number_value(self, c: list[Token]) -> tuple[str, Any, Token]:
        return ("number", _number(c[0]), c[0])

    def name_value(self, c: list[Token]) -> tuple[str, Any, Token]:
        text = str(c[0])
        if text in ("true", "false"):
            return ("bool", text == "true", c[0])
        return ("name", text, c[0])

    def list_value(self, c: list[Any]) -> tuple[str, Any, Token]:
        items = tuple(v[:2] for v in c[1:-1] if isinstance(v, tuple))  # `[`, `,`, `]` dropped
        return ("list", items, c[-1])

    def setting_value(self, c: list[Any]) -> SettingEntry:
        kind, value, last = c[1]
        return SettingEntry.model_construct(
            span=self._span([c[0], last]), key=str(c[0]), kind=kind, value=value
        )

    def setting_block(self, c: list[Any]) -> SettingEntry:
        return SettingEntry.model_construct(
            span=self._span(c), key=str(c[0]), kind="block", items=tuple(c[2:-1])
        )

    def settings(self, c: list[Any]) -> tuple[str, Any, Span]:
        return ("settings", tuple(c[2:-1]), self._span(c))

    # -- blocks --------------------------------------------------------------
    # A block's children: keyword, name, `{`, its items, `}`.
    def principle(self, c: list[Any]) -> Principle:
        name = str(c[1])
        items = [x for x in c[3:-1] if isinstance(x, tuple)]
        examples = tuple(v for k, v, _ in items if k == "example")
        values, spans = self._fields(f"principle `{name}`", [x for x in items if x[0] != "example"])
        return Principle.model_construct(
            span=self._span(c), field_spans=spans, name=name, examples=examples, **values
        )

    def category(self, c: list[Any]) -> DocCategory:
        name = str(c[1])
        items = c[3:-1]
        principles = tuple(x for x in items if isinstance(x, Principle))
        principles = tuple(p.model_copy(update={"category": name}) for p in principles)
        drops = tuple(x for x in items if isinstance(x, Drop))
        values, spans = self._fields(f"category `{name}`", items)
        return DocCategory.model_construct(
            span=self._span(c),
            field_spans=spans,
            name=name,
            principles=principles,
            drops=drops,
            **values,
        )

    def constitution(self, c: list[Any]) -> Document:
        name = decode_string(c[1])
        items = c[3:-1]
        values, spans = self._fields("the constitution", items)
        settings = values.pop("settings", None)
        return Document(
            span=self._span(c),
            field_spans=spans,
            name=name,
            extends=tuple(x for x in items if isinstance(x, Extends)),
            drops=tuple(x for x in items if isinstance(x, Drop)),
            priority=tuple(x for x in items if isinstance(x, PriorityChain)),
            categories=tuple(x for x in items if isinstance(x, DocCategory)),
            tensions=tuple(x for x in items if isinstance(x, Tension)),
            templates=tuple(x for x in items if isinstance(x, Template)),
            settings=settings,
            settings_span=spans.get("settings"),
            **values,
        )

    def header(self, c: list[Token]) -> tuple[str, Any, Token]:
        return ("header", _number(c[0]), c[0])

    def start(self, c: list[Any]) -> Document:
        doc: Document = c[-1]
        if len(c) == 2:
            _, version, tok = c[0]
            return doc.model_copy(
                update={
                    "language_version": version,
                    "field_spans": {**doc.field_spans, "header": self._tok_span(tok)},
                }
            )
        return doc


def read_source(path: str) -> str:
    """Read a `.cai` file, turning I/O, encoding, size and emptiness problems into errors."""
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise CaicError(
            Diagnostic(code="E004", name="file-not-found", path=path, message="no such file"),
            exit_code=2,
        ) from None
    except IsADirectoryError:
        raise CaicError(
            Diagnostic(
                code="E004",
                name="file-not-found",
                path=path,
                message="is a directory, not a .cai file",
            ),
            exit_code=2,
        ) from None
    except OSError as e:
        raise CaicError(
            Diagnostic(
                code="E004", name="file-not-found", path=path, message=f"cannot read: {e.strerror}"
            ),
            exit_code=2,
        ) from None
    if len(data) > MAX_BYTES:
        raise CaicError(
            Diagnostic(
                code="E003",
                name="file-too-large",
                path=path,
                message=f"file is larger than {MAX_BYTES // (1024 * 1024)} MiB",
                hint="a constitution is prose; split it with `extends`",
            )
        )
    return decode_bytes(data, path)


def decode_bytes(data: bytes, path: str) -> str:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        before = data[: e.start]
        line = before.count(b"\n") + 1
        col = e.start - (before.rfind(b"\n") + 1) + 1
        raise CaicError(
            Diagnostic(
                code="E001",
                name="not-utf8",
                path=path,
                line=line,
                column=col,
                message=f"not UTF-8: byte 0x{data[e.start]:02x} cannot be decoded",
                hint="save the file as UTF-8",
            )
        ) from None
    return text.removeprefix("\ufeff")


def parse(text: str, path: str = "<string>") -> tuple[Document, list[Comment]]:
    """Parse `.cai` text into a :class:`Document` and its comments.

    Raises :class:`CaicError` with every syntax error found (up to a limit).
    """
    doc, comments, problems = parse_collect(text, path)
    if problems:
        raise CaicError(problems)
    return doc, comments


def parse_collect(
    text: str, path: str = "<string>"
) -> tuple[Document, list[Comment], list[Diagnostic]]:
    """Like :func:`parse`, but field-level problems (a field given twice) come back
    with the document instead of being raised, so later checks can add theirs."""
    if len(text.encode("utf-8", errors="replace")) > MAX_BYTES:
        raise CaicError(
            Diagnostic(code="E003", name="file-too-large", path=path, message="file is too large")
        )
    if not text.strip():
        raise CaicError(
            Diagnostic(
                code="E002",
                name="empty-file",
                path=path,
                message='empty file: expected `constitution "name" { ... }`',
                hint='start with: constitution "my-constitution" { }',
            )
        )
    comments: list[Comment] = []
    errors: list[Diagnostic] = []
    lines = text.split("\n")

    def on_comment(tok: Token) -> None:
        line = tok.line or 1
        col = tok.column or 1
        trailing = bool(lines[line - 1][: col - 1].strip())
        comments.append(Comment(line, col, str(tok), trailing))

    def on_error(e: UnexpectedInput) -> bool:
        d = _syntax_diagnostic(e, text, path)
        errors.append(d)
        # After an unterminated string the rest of the file is misread: stop there
        # rather than report a cascade of errors that are not the author's.
        unterminated = d.hint is not None and d.hint.startswith("unterminated string")
        return (
            len(errors) < MAX_SYNTAX_ERRORS
            and not unterminated
            and not isinstance(e, UnexpectedEOF)
        )

    parser = _parser()
    reset = _comment_sink.set(on_comment)
    try:
        tree = parser.parse(text, on_error=on_error)
    except UnexpectedInput as e:
        if not errors or errors[-1].line != e.line or errors[-1].column != e.column:
            errors.append(_syntax_diagnostic(e, text, path))
        tree = None
    except Exception as e:  # lark can give up during recovery; the first errors stand
        if not errors:
            errors.append(
                Diagnostic(
                    code="E010", name="syntax-error", path=path, message=f"cannot parse: {e}"
                )
            )
        tree = None
    finally:
        _comment_sink.reset(reset)
    if errors:
        raise CaicError(_dedupe(errors))
    assert isinstance(tree, Tree)
    builder = _Builder(path)
    doc = builder.transform(tree)
    comments.sort(key=lambda c: (c.line, c.column))
    return doc, _dedupe_comments(comments), builder.errors


def _dedupe_comments(comments: list[Comment]) -> list[Comment]:
    seen: set[tuple[int, int]] = set()
    out = []
    for c in comments:
        if (c.line, c.column) not in seen:
            seen.add((c.line, c.column))
            out.append(c)
    return out


def _dedupe(errors: list[Diagnostic]) -> list[Diagnostic]:
    """One syntax error per line: recovery can report the same place repeatedly."""
    out: list[Diagnostic] = []
    lines: set[int] = set()
    for d in errors:
        if d.line in lines:
            continue
        lines.add(d.line)
        out.append(d)
    return out


def _syntax_diagnostic(e: UnexpectedInput, text: str, path: str) -> Diagnostic:
    line = getattr(e, "line", None) or 1
    column = getattr(e, "column", None) or 1
    if line < 1:  # lark reports EOF as line -1 in some versions
        line, column = _eof_position(text)
    hint = None
    if isinstance(e, UnexpectedCharacters):
        pos = e.pos_in_stream or 0
        ch = text[pos] if pos < len(text) else ""
        message = f"unexpected character `{ch}`"
        if ch.isalpha() and ch.isupper():
            hint = "names are lower-case: letters, digits, `-` and `_`, optionally dotted"
        elif ch == '"':
            hint = 'unterminated string: close it with `"` on the same line, or use `"""`'
        elif ch == "'":
            hint = "strings use double quotes"
        code, name, width = "E010", "syntax-error", 1
    else:
        expected: set[str] = set(getattr(e, "expected", None) or ())
        if isinstance(e, UnexpectedToken):
            token = e.token
            found = _describe_token(token)
            if token.type == "$END":
                line, column = _eof_position(text)
                hint = _unclosed_hint(text)
            elif token.type == "RBRACE" and not expected & {"RBRACE"}:
                hint = "this `}` closes a block too early, or one too many `}`"
        else:
            found = "end of file"
            line, column = _eof_position(text)
            hint = _unclosed_hint(text)
        names = sorted({_describe(t) for t in expected if not t.startswith("__")})
        if names:
            shown = ", ".join(names[:8]) + (", ..." if len(names) > 8 else "")
            message = f"unexpected {found}; expected {shown}"
        else:
            message = f"unexpected {found}"
        if found == "end of file":
            code, name = "E011", "unexpected-eof"
        else:
            code, name = "E010", "syntax-error"
        width = len(str(getattr(e, "token", ""))) or 1
    return Diagnostic(
        code=code,
        name=name,
        path=path,
        line=line,
        column=column,
        end_line=line,
        end_column=column + width,
        message=message,
        hint=hint,
    )


def _eof_position(text: str) -> tuple[int, int]:
    lines = text.rstrip("\n").split("\n")
    return len(lines), len(lines[-1]) + 1


def _unclosed_hint(text: str) -> str | None:
    """Name the innermost block opened and never closed, e.g. ``category {`` at 12:3."""
    stack: list[tuple[str, int, int]] = []
    try:
        tokens = list(_parser().lex(text, dont_ignore=False))
    except UnexpectedInput:
        return None
    last_words: list[Token] = []
    for tok in tokens:
        if tok.type == "LBRACE":
            opener = next(
                (w for w in reversed(last_words) if w.type not in ("NAME", "STRING", "NUMBER")),
                None,
            )
            word = str(opener) if opener is not None else "{"
            at = opener if opener is not None else tok
            stack.append((word, at.line or 1, at.column or 1))
            last_words = []
        elif tok.type == "RBRACE":
            if stack:
                stack.pop()
            last_words = []
        else:
            last_words.append(tok)
    if not stack:
        return None
    word, line, col = stack[-1]
    return f"unclosed `{word} {{` opened at {line}:{col}"
