"""Document → Constitution: merge ``extends`` parents, type the settings, check meaning.

Every semantic error in a file is collected before anything is raised, so an
author sees all of them at once.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from typing import Any

from caic.constitution_lang.model import (
    KINDS,
    LANGUAGE_VERSION,
    Category,
    Constitution,
    Document,
    JudgeSettings,
    Principle,
    PriorityChain,
    SettingEntry,
    Settings,
    Span,
    Template,
    Tension,
)
from caic.errors import CaicError, Diagnostic

TEMPLATE_PLACEHOLDERS: dict[str, frozenset[str]] = {
    "critique": frozenset({"conversation", "critique", "principle", "category"}),
    "revision": frozenset({"conversation", "critique", "revision", "principle", "category"}),
    "judge": frozenset(
        {"conversation", "question", "option_a", "option_b", "principle", "category"}
    ),
    "judge_cot": frozenset(
        {"conversation", "question", "option_a", "option_b", "principle", "category"}
    ),
    "pointwise": frozenset({"conversation", "question", "response", "principle", "category"}),
    "system": frozenset({"constitution", "principles"}),
}
"""The built-in templates and the placeholders each may use."""

_SETTINGS: dict[str, str] = {
    "critique_rounds": "int",
    "sampling": "name",
    "seed": "int",
    "few_shot": "bool",
    "judge": "block",
}
_JUDGE_SETTINGS: dict[str, str] = {
    "swap_positions": "bool",
    "chain_of_thought": "bool",
    "clamp": "list",
    "mode": "name",
    "margin": "number",
}

Loader = Callable[[str], tuple[Document, str]]
"""Given an absolute path, return the parsed parent Document and its text."""


def _diag(code: str, name: str, message: str, span: Span, hint: str | None = None) -> Diagnostic:
    return Diagnostic(
        code=code,
        name=name,
        message=message,
        path=span.path,
        line=span.line,
        column=span.column,
        end_line=span.end_line,
        end_column=span.end_column,
        hint=hint,
    )


class _Merged:
    """Mutable accumulator for a document and its parents."""

    def __init__(self) -> None:
        self.name = ""
        self.version: str | None = None
        self.description: str | None = None
        self.categories: dict[str, dict[str, Any]] = {}
        self.priority: list[PriorityChain] = []
        self.tensions: list[Tension] = []
        self.templates: dict[str, Template] = {}
        self.settings: dict[str, tuple[SettingEntry, dict[str, SettingEntry]]] = {}
        self.sources: list[str] = []

    def owner_of(self, principle: str) -> str | None:
        for cname, cat in self.categories.items():
            if principle in cat["principles"]:
                return cname
        return None


def resolve(
    doc: Document,
    path: str | None,
    loader: Loader | None = None,
    earlier: list[Diagnostic] | None = None,
) -> Constitution:
    """Resolve and check ``doc``; raise :class:`CaicError` listing every problem.

    ``earlier`` carries problems the parser already found in this file, so that
    they are reported together with the semantic ones, in source order.
    """
    errors: list[Diagnostic] = list(earlier or ())
    merged = _merge_tree(doc, path, loader, (), errors)
    constitution = _finish(doc, path, merged, errors)
    if errors:
        raise CaicError(
            sorted(
                _unique(errors),
                key=lambda d: (d.path != (path or d.path), d.path, d.line, d.column),
            )
        )
    assert constitution is not None
    return constitution


def _unique(errors: list[Diagnostic]) -> list[Diagnostic]:
    """A parent file reached twice reports its problems once."""
    seen: set[tuple[str, int, int, str]] = set()
    out = []
    for d in errors:
        key = (d.path, d.line, d.column, d.code)
        if key not in seen:
            seen.add(key)
            out.append(d)
    return out


def _where(span: Span, here: Span) -> str:
    if span.path == here.path:
        return f"{span.line}:{span.column}"
    return f"{os.path.basename(span.path)}:{span.line}:{span.column}"


def _merge_tree(
    doc: Document,
    path: str | None,
    loader: Loader | None,
    stack: tuple[str, ...],
    errors: list[Diagnostic],
) -> _Merged:
    here = os.path.abspath(path) if path else None
    merged = _Merged()
    for ext in doc.extends:
        base_dir = os.path.dirname(here) if here else os.getcwd()
        target = os.path.normpath(os.path.join(base_dir, ext.path))
        if target in stack or target == here:
            chain = " → ".join(os.path.basename(p) for p in (*stack, here or "", target) if p)
            errors.append(
                _diag(
                    "E111",
                    "extends-cycle",
                    f"`extends` cycle: {chain}",
                    ext.span,
                    "a constitution cannot extend itself, directly or indirectly",
                )
            )
            continue
        if loader is None:
            errors.append(
                _diag(
                    "E110",
                    "extends-missing",
                    f'cannot resolve `extends "{ext.path}"` without a file path',
                    ext.span,
                    "load the constitution from a file",
                )
            )
            continue
        if not os.path.isfile(target):
            errors.append(
                _diag(
                    "E110",
                    "extends-missing",
                    f"`extends` file not found: {ext.path}",
                    ext.span,
                    f"looked in {os.path.basename(os.path.dirname(target)) or target}/; "
                    "paths are relative to the file that says `extends`",
                )
            )
            continue
        try:
            parent_doc, _ = loader(target)
            parent = _merge_tree(
                parent_doc, target, loader, (*stack, *((here,) if here else ())), errors
            )
            _check_document_local(parent_doc, errors)
        except CaicError as e:
            errors.extend(e.diagnostics)
            continue
        _absorb(merged, parent, inherited=True)
    if here:
        merged.sources.append(here)
    _apply(merged, doc, errors)
    return merged


def _absorb(into: _Merged, parent: _Merged, inherited: bool) -> None:
    into.version = parent.version
    into.description = parent.description
    for cname, cat in parent.categories.items():
        target = into.categories.setdefault(
            cname,
            {
                "kind": None,
                "weight": None,
                "description": None,
                "principles": {},
                "span": cat["span"],
                "field_spans": {},
            },
        )
        for key in ("kind", "weight", "description"):
            if cat[key] is not None:
                target[key] = cat[key]
                target["field_spans"][key] = cat["field_spans"].get(key)
        target["principles"].update(cat["principles"])
    into.priority.extend(parent.priority)
    into.tensions.extend(parent.tensions)
    into.templates.update(parent.templates)
    for key, (entry, children) in parent.settings.items():
        into.settings[key] = (entry, dict(children))
    into.sources.extend(s for s in parent.sources if s not in into.sources)


def _apply(merged: _Merged, doc: Document, errors: list[Diagnostic]) -> None:
    """Lay one file over what its parents gave."""
    inherited = {name for cat in merged.categories.values() for name in cat["principles"]}
    merged.name = doc.name
    if doc.version is not None:
        merged.version = doc.version
    if doc.description is not None:
        merged.description = doc.description
    seen_here: dict[str, Span] = {}
    seen_categories: dict[str, Span] = {}
    drops = [*doc.drops, *(d for c in doc.categories for d in c.drops)]
    for cat in doc.categories:
        if cat.name in seen_categories:
            first = seen_categories[cat.name]
            errors.append(
                _diag(
                    "E102",
                    "duplicate-category",
                    f"category `{cat.name}` defined twice in this file",
                    cat.span,
                    f"the first is at {first.line}:{first.column}; merge them",
                )
            )
        seen_categories.setdefault(cat.name, cat.span)
        target = merged.categories.setdefault(
            cat.name,
            {
                "kind": None,
                "weight": None,
                "description": None,
                "principles": {},
                "span": cat.span,
                "field_spans": {},
            },
        )
        for key in ("kind", "weight", "description"):
            value = getattr(cat, key)
            if value is not None:
                target[key] = value
                target["field_spans"][key] = cat.field_spans.get(key)
        for p in cat.principles:
            if p.name in seen_here:
                first = seen_here[p.name]
                errors.append(
                    _diag(
                        "E101",
                        "duplicate-principle",
                        f"principle `{p.name}` defined twice",
                        p.span,
                        f"the first is at {_where(first, p.span)}; "
                        "principle names are unique across the constitution",
                    )
                )
                continue
            seen_here[p.name] = p.span
            owner = merged.owner_of(p.name)
            if owner is not None:  # a child's principle replaces the parent's whole
                del merged.categories[owner]["principles"][p.name]
            target["principles"][p.name] = p
    for d in drops:
        if d.name in seen_here:
            errors.append(
                _diag(
                    "E112",
                    "unknown-drop",
                    f"`drop {d.name}` removes a principle this file defines",
                    d.span,
                    "drop only removes inherited principles",
                )
            )
            continue
        owner = merged.owner_of(d.name) if d.name in inherited else None
        if owner is None:
            known = sorted(inherited)
            errors.append(
                _diag(
                    "E112",
                    "unknown-drop",
                    f"`drop {d.name}`: no inherited principle of that name",
                    d.span,
                    _did_you_mean(d.name, known)
                    or ("nothing is inherited: add `extends`" if not known else None),
                )
            )
            continue
        del merged.categories[owner]["principles"][d.name]
    merged.priority.extend(doc.priority)
    merged.tensions.extend(doc.tensions)
    for t in doc.templates:
        merged.templates[t.name] = t
    for entry in doc.settings or ():
        if entry.kind == "block":
            prev = merged.settings.get(entry.key)
            children = dict(prev[1]) if prev else {}
            children.update({c.key: c for c in entry.items})
            merged.settings[entry.key] = (entry, children)
        else:
            merged.settings[entry.key] = (entry, {})


def _did_you_mean(name: str, options: list[str]) -> str | None:
    import difflib

    close = difflib.get_close_matches(name, options, n=1)
    return f"did you mean `{close[0]}`?" if close else None


def _check_document_local(doc: Document, errors: list[Diagnostic]) -> None:
    """Checks on a parent file that do not depend on the merge."""
    if doc.language_version is not None and doc.language_version != LANGUAGE_VERSION:
        span = doc.field_spans.get("header", doc.span)
        errors.append(
            _diag(
                "E020",
                "unknown-language-version",
                f"unknown language version `cai {doc.language_version}`",
                span,
                f"this caic understands `cai {LANGUAGE_VERSION}`",
            )
        )


def _finish(
    doc: Document, path: str | None, merged: _Merged, errors: list[Diagnostic]
) -> Constitution | None:
    _check_document_local(doc, errors)
    categories: list[Category] = []
    for cname, cat in merged.categories.items():
        kind = cat["kind"] or "other"
        if kind not in KINDS:
            span = cat["field_spans"].get("kind") or cat["span"]
            errors.append(
                _diag(
                    "E118",
                    "unknown-kind",
                    f"unknown category kind `{kind}`",
                    span,
                    _did_you_mean(kind, list(KINDS)) or f"one of {', '.join(KINDS)}",
                )
            )
            kind = "other"
        weight = cat["weight"] if cat["weight"] is not None else 1.0
        if weight <= 0:
            span = cat["field_spans"].get("weight") or cat["span"]
            errors.append(
                _diag(
                    "E105",
                    "non-positive-weight",
                    f"category `{cname}` has weight {weight:g}; weights must be positive",
                    span,
                    "drop the category, or give it a small positive weight",
                )
            )
        principles = tuple(
            p.model_copy(update={"category": cname}) for p in cat["principles"].values()
        )
        for p in principles:
            _check_principle(p, errors)
        categories.append(
            Category(
                span=cat["span"],
                name=cname,
                kind=kind,
                weight=weight,
                description=cat["description"],
                principles=principles,
                field_spans={k: v for k, v in cat["field_spans"].items() if v is not None},
            )
        )
    names = {p.name for c in categories for p in c.principles}
    category_names = [c.name for c in categories]
    _check_priority(merged.priority, category_names, errors)
    for t in merged.tensions:
        for side in (t.a, t.b):
            if side not in names:
                errors.append(
                    _diag(
                        "E115",
                        "unknown-tension-principle",
                        f"tension names unknown principle `{side}`",
                        t.span,
                        _did_you_mean(side, sorted(names)),
                    )
                )
        if t.prefer is not None and t.prefer not in (t.a, t.b):
            span = t.field_spans.get("prefer", t.span)
            errors.append(
                _diag(
                    "E116", "bad-prefer", f"`prefer {t.prefer}` must name `{t.a}` or `{t.b}`", span
                )
            )
    for tpl in merged.templates.values():
        _check_template(tpl, errors)
    settings = _settings(merged.settings, errors)
    version = doc.language_version or LANGUAGE_VERSION
    return Constitution(
        span=doc.span,
        name=merged.name,
        version=merged.version,
        description=merged.description,
        priority=tuple(merged.priority),
        settings=settings,
        categories=tuple(categories),
        tensions=tuple(merged.tensions),
        templates=tuple(sorted(merged.templates.values(), key=lambda t: t.name)),
        path=path,
        sources=tuple(merged.sources),
        language_version=version if version == LANGUAGE_VERSION else LANGUAGE_VERSION,
    )


def _check_principle(p: Principle, errors: list[Diagnostic]) -> None:
    has = {
        k: bool(getattr(p, k) and getattr(p, k).strip()) for k in ("judge", "critique", "revision")
    }
    if not any(has.values()):
        errors.append(
            _diag(
                "E107",
                "principle-without-text",
                f"principle `{p.name}` has no text",
                p.span,
                "give it a `judge` question, or a `critique` and a `revision`",
            )
        )
    elif has["critique"] != has["revision"]:
        present, missing = ("critique", "revision") if has["critique"] else ("revision", "critique")
        span = p.field_spans.get(present, p.span)
        errors.append(
            _diag(
                "E106",
                "unpaired-critique",
                f"principle `{p.name}` has a `{present}` but no `{missing}`",
                span,
                f"SL-CAI needs both; add a `{missing}` request",
            )
        )
    if p.weight <= 0:
        span = p.field_spans.get("weight", p.span)
        errors.append(
            _diag(
                "E105",
                "non-positive-weight",
                f"principle `{p.name}` has weight {p.weight:g}; weights must be positive",
                span,
            )
        )


def _check_priority(
    chains: list[PriorityChain], categories: list[str], errors: list[Diagnostic]
) -> None:
    known = set(categories)
    edges: dict[str, set[str]] = {}
    for chain in chains:
        for name, span in zip(
            chain.categories,
            chain.name_spans or (chain.span,) * len(chain.categories),
            strict=False,
        ):
            if name not in known:
                errors.append(
                    _diag(
                        "E103",
                        "unknown-priority-category",
                        f"`priority` names unknown category `{name}`",
                        span,
                        _did_you_mean(name, sorted(known)),
                    )
                )
        for hi, lo in zip(chain.categories, chain.categories[1:], strict=False):
            if hi == lo:
                errors.append(
                    _diag(
                        "E104",
                        "priority-cycle",
                        f"`{hi} > {lo}` orders a category above itself",
                        chain.span,
                    )
                )
                continue
            edges.setdefault(hi, set()).add(lo)
            cycle = _find_path(edges, lo, hi)
            if cycle:
                text = " > ".join([hi, *cycle])
                errors.append(
                    _diag(
                        "E104",
                        "priority-cycle",
                        f"priority cycle: {text}",
                        chain.span,
                        "priority chains must form an acyclic order",
                    )
                )
                edges[hi].discard(lo)


def _find_path(edges: dict[str, set[str]], start: str, goal: str) -> list[str] | None:
    stack: list[tuple[str, list[str]]] = [(start, [start])]
    seen: set[str] = set()
    while stack:
        node, path = stack.pop()
        if node == goal:
            return path
        if node in seen:
            continue
        seen.add(node)
        for nxt in sorted(edges.get(node, ())):
            stack.append((nxt, [*path, nxt]))
    return None


_PLACEHOLDER = re.compile(r"\{\{-?\s*([A-Za-z_][A-Za-z0-9_]*)")


def _check_template(tpl: Template, errors: list[Diagnostic]) -> None:
    import jinja2
    from jinja2 import meta

    allowed = TEMPLATE_PLACEHOLDERS.get(tpl.name)
    if allowed is None:
        errors.append(
            _diag(
                "E109",
                "unknown-template",
                f"unknown template `{tpl.name}`",
                tpl.span,
                _did_you_mean(tpl.name, sorted(TEMPLATE_PLACEHOLDERS))
                or f"one of {', '.join(sorted(TEMPLATE_PLACEHOLDERS))}",
            )
        )
        return
    text_span = tpl.field_spans.get("text", tpl.span)
    env = jinja2.Environment(autoescape=False)
    try:
        ast = env.parse(tpl.text)
    except jinja2.TemplateSyntaxError as e:
        line = text_span.line + (e.lineno or 1) - 1 + (1 if "\n" in tpl.text else 0)
        errors.append(
            Diagnostic(
                code="E119",
                name="template-syntax-error",
                path=tpl.span.path,
                line=line,
                column=1,
                message=f"template `{tpl.name}`: {e.message}",
            )
        )
        return
    for var in sorted(meta.find_undeclared_variables(ast) - allowed):
        line, col = _locate_placeholder(tpl, var)
        errors.append(
            Diagnostic(
                code="E108",
                name="unknown-placeholder",
                path=tpl.span.path,
                line=line,
                column=col,
                end_line=line,
                end_column=col + len(var),
                message=f"template `{tpl.name}` uses unknown placeholder `{{{{ {var} }}}}`",
                hint=(_did_you_mean(var, sorted(allowed)) or "")
                + f" known: {', '.join(sorted(allowed))}",
            )
        )


def _locate_placeholder(tpl: Template, var: str) -> tuple[int, int]:
    """Line and column of ``{{ var`` in the source, found in the template's raw text."""
    span = tpl.field_spans.get("text", tpl.span)
    raw = _source_slice(span)
    if raw is not None:
        for m in _PLACEHOLDER.finditer(raw):
            if m.group(1) == var:
                before = raw[: m.start(1)]
                line = span.line + before.count("\n")
                col = (
                    (m.start(1) - (before.rfind("\n") + 1) + 1)
                    if "\n" in before
                    else span.column + m.start(1)
                )
                return line, col
    return span.line, span.column


def _source_slice(span: Span) -> str | None:
    try:
        with open(span.path, encoding="utf-8") as f:
            lines = f.read().split("\n")
    except OSError:
        return None
    chunk = lines[span.line - 1 : span.end_line]
    if not chunk:
        return None
    chunk[-1] = chunk[-1][: span.end_column - 1]
    chunk[0] = chunk[0][span.column - 1 :]
    return "\n".join(chunk)


def _settings(
    raw: dict[str, tuple[SettingEntry, dict[str, SettingEntry]]], errors: list[Diagnostic]
) -> Settings:
    values: dict[str, Any] = {}
    judge: dict[str, Any] = {}
    for key, (entry, children) in raw.items():
        expected = _SETTINGS.get(key)
        if expected is None:
            errors.append(
                _diag(
                    "E113",
                    "unknown-setting",
                    f"unknown setting `{key}`",
                    entry.span,
                    _did_you_mean(key, sorted(_SETTINGS))
                    or f"known settings: {', '.join(sorted(_SETTINGS))}",
                )
            )
            continue
        if expected == "block":
            if entry.kind != "block":
                errors.append(
                    _diag(
                        "E114", "bad-setting", f"`{key}` is a block: `{key} {{ ... }}`", entry.span
                    )
                )
                continue
            for ckey, child in children.items():
                cexp = _JUDGE_SETTINGS.get(ckey)
                if cexp is None:
                    errors.append(
                        _diag(
                            "E113",
                            "unknown-setting",
                            f"unknown setting `{key}.{ckey}`",
                            child.span,
                            _did_you_mean(ckey, sorted(_JUDGE_SETTINGS))
                            or f"known: {', '.join(sorted(_JUDGE_SETTINGS))}",
                        )
                    )
                    continue
                value = _typed(child, cexp, f"{key}.{ckey}", errors)
                if value is not None:
                    judge[ckey] = value
            continue
        value = _typed(entry, expected, key, errors)
        if value is not None:
            values[key] = value
    try:
        judge_settings = JudgeSettings(**judge)
    except Exception:
        judge_settings = JudgeSettings()
    values["judge"] = judge_settings
    span_of = {key: entry.span for key, (entry, _) in raw.items()}
    if "sampling" in values and values["sampling"] not in ("uniform", "weighted"):
        errors.append(
            _diag(
                "E114",
                "bad-setting",
                f"`sampling {values['sampling']}`: expected `uniform` or `weighted`",
                span_of["sampling"],
            )
        )
        values.pop("sampling")
    if "critique_rounds" in values and not 1 <= values["critique_rounds"] <= 8:
        errors.append(
            _diag(
                "E114",
                "bad-setting",
                "`critique_rounds` must be between 1 and 8",
                span_of["critique_rounds"],
            )
        )
        values.pop("critique_rounds")
    return Settings(**values)


def _typed(entry: SettingEntry, expected: str, key: str, errors: list[Diagnostic]) -> Any:
    ok: Any = None
    if expected == "int" and entry.kind == "number" and isinstance(entry.value, int):
        ok = entry.value
    elif expected == "number" and entry.kind == "number":
        ok = float(entry.value)
    elif (
        expected == "bool"
        and entry.kind == "bool"
        or expected == "name"
        and entry.kind in ("name", "string")
    ):
        ok = entry.value
    elif expected == "list" and entry.kind == "list" and key.endswith("clamp"):
        nums = [v for k, v in entry.value if k == "number"]
        if len(nums) == 2 == len(entry.value) and 0 <= nums[0] <= nums[1] <= 1:
            return (float(nums[0]), float(nums[1]))
        errors.append(
            _diag(
                "E114",
                "bad-setting",
                "`clamp` must be `[lo, hi]` with 0 <= lo <= hi <= 1",
                entry.span,
            )
        )
        return None
    if key == "judge.mode" and ok not in (None, "pairwise", "pointwise"):
        errors.append(
            _diag(
                "E114",
                "bad-setting",
                f"`mode {ok}`: expected `pairwise` or `pointwise`",
                entry.span,
            )
        )
        return None
    if ok is None:
        words = {
            "int": "a whole number",
            "number": "a number",
            "bool": "`true` or `false`",
            "name": "a name",
            "list": "a list",
        }
        errors.append(
            _diag("E114", "bad-setting", f"`{key}` expects {words[expected]}", entry.span)
        )
    return ok
