"""Human and Markdown forms of a :class:`~caic.compiler.diff.ConstitutionDiff`.

Changes are grouped into sections (constitution, categories, principles, sampling
probabilities, priority and tensions, settings, compiled prompts); rewordings show a
word diff, git's ``[-old-]{+new+}`` style in a terminal and ``~~old~~ **new**`` in
Markdown.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import get_args

from caic.compiler.diff import Change, ChangeKind, ConstitutionDiff, Side, WordOp


def render_words(ops: Iterable[WordOp]) -> str:
    """git's ``--word-diff=plain`` style: ``[-old-]{+new+}``."""
    out = []
    for w in ops:
        if w.op == "equal":
            out.append(w.old)
            continue
        out.append((f"[-{w.old}-]" if w.old else "") + (f"{{+{w.new}+}}" if w.new else ""))
    return " ".join(out)


def _kinds(*families: str) -> frozenset[str]:
    """The change kinds of ``families``: ``category`` is ``category-added``,
    ``category-removed`` and ``category-changed``; ``priority`` is also itself."""
    return frozenset(
        k for k in get_args(ChangeKind) if any(k == f or k.startswith(f + "-") for f in families)
    )


SECTIONS: tuple[tuple[str, frozenset[str]], ...] = (
    ("Constitution", _kinds("metadata", "template")),
    ("Categories", _kinds("category")),
    ("Principles", _kinds("principle", "order")),
    ("Sampling probabilities", _kinds("probability")),
    ("Priority and tensions", _kinds("priority", "tension")),
    ("Settings", _kinds("setting")),
    ("Compiled prompts", _kinds("prompts")),
)
"""Each kind of change in exactly one section, the sections in the order printed."""


def sections(d: ConstitutionDiff) -> list[tuple[str, list[Change]]]:
    """The changes grouped for display, empty sections left out."""
    out = []
    for title, kinds in SECTIONS:
        items = [c for c in d.changes if c.kind in kinds]
        if items:
            out.append((title, items))
    return out


def _mark(c: Change) -> str:
    if c.kind.endswith("-added") or c.field == "added":
        return "+"
    if c.kind.endswith("-removed") or c.field == "removed":
        return "-"
    return "~"


def _label(s: Side) -> str:
    return f"{s.name} {s.version or ''}".strip() + f" ({s.sha256[:8]})"


def render_human(d: ConstitutionDiff) -> str:
    """Plain text for a terminal; word diffs in git's ``[-old-]{+new+}`` style."""
    head = f"{_label(d.old)} → {_label(d.new)}: "
    if not d.changes:
        return head + "no changes of meaning\n"
    lines = [head + f"{len(d.changes)} change(s)"]
    for title, items in sections(d):
        lines.append(f"{title}:")
        for c in items:
            lines.append(f"  {_mark(c)} {c.summary.replace('`', '')}")
            if c.words and c.kind != "template":
                lines.append(f"      {render_words(c.words)}")
    return "\n".join(lines) + "\n"


def _md_escape(text: str) -> str:
    return "".join("\\" + ch if ch in "\\`*_~[]<>|" else ch for ch in text)


def render_words_md(ops: Iterable[WordOp]) -> str:
    """Word diff for Markdown: ``~~old~~`` then ``**new**``."""
    out = []
    for w in ops:
        if w.op == "equal":
            out.append(_md_escape(w.old))
            continue
        if w.old:
            out.append(f"~~{_md_escape(w.old)}~~")
        if w.new:
            out.append(f"**{_md_escape(w.new)}**")
    return " ".join(out)


def render_markdown(d: ConstitutionDiff, level: int = 3) -> str:
    """Markdown for a pull-request comment; long sections fold into ``<details>``."""
    h = "#" * level
    lines = [
        f"{h} Constitution diff: `{d.old.name}` {d.old.version or ''} → "
        f"`{d.new.name}` {d.new.version or ''}",
        "",
    ]
    if not d.changes:
        return "\n".join([*lines, "No changes of meaning.", ""])
    lines += [
        f"{len(d.changes)} change(s); renames matched at text similarity ≥ {d.rename_threshold:g}.",
        "",
    ]
    for title, items in sections(d):
        fold = len(items) > 12
        if fold:
            lines += [f"<details><summary><b>{title}</b> ({len(items)})</summary>", ""]
        else:
            lines += [f"**{title}** ({len(items)})", ""]
        for c in items:
            lines.append(f"- {_mark(c)} {c.summary}")
            if c.words and c.kind != "template":
                lines.append(f"  <br>{render_words_md(c.words)}")
        lines.append("")
        if fold:
            lines += ["</details>", ""]
    return "\n".join(lines)
