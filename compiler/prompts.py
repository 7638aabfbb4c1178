"""Rendering the critique, revision, judge and pointwise prompts from templates.

Templates are package resources (``compiler/templates/*.j2``) unless the
constitution overrides one. Principle text is passed in as data, so jinja never
interprets it. The conversation (and, for the judge, the two responses) are
left as *slots*: a rendered message is stored as the text before and after each
slot, and :func:`fill` joins them with the real text at generation time. A
principle that happens to contain ``{{ conversation }}`` therefore cannot
capture the slot.
"""

from __future__ import annotations

import functools
from importlib import resources
from typing import Any

import jinja2

from caic.constitution_lang.model import Constitution, Principle

SLOT_NAMES = ("conversation", "option_a", "option_b", "response")
_SENTINEL = "\x00slot:{}\x00"


@functools.cache
def builtin_template(name: str) -> str:
    return resources.files("caic.compiler.templates").joinpath(f"{name}.j2").read_text("utf-8")


def template_source(c: Constitution, name: str) -> str:
    override = c.template(name)
    return override if override is not None else builtin_template(name)


@functools.cache
def _compile(source: str) -> jinja2.Template:
    env = jinja2.Environment(
        autoescape=False, keep_trailing_newline=False, undefined=jinja2.StrictUndefined
    )
    return env.from_string(source)


@functools.cache
def _plan(source: str) -> tuple[tuple[str, bool], ...] | None:
    """For a template of plain text and bare ``{{ name }}`` outputs, its pieces in order.

    ``(text, False)`` is literal text, ``(name, True)`` a variable. Rendering such a
    template is string joining, which keeps compiling 1,000 principles well under a
    second; anything fancier (filters, conditions, loops) returns ``None`` and goes
    through jinja. The plan is checked against jinja once before it is trusted.
    """
    from jinja2 import nodes

    env = jinja2.Environment(autoescape=False, keep_trailing_newline=False)
    body = env.parse(source).body
    pieces: list[tuple[str, bool]] = []
    for node in body:
        if not isinstance(node, nodes.Output):
            return None
        for child in node.nodes:
            if isinstance(child, nodes.TemplateData):
                pieces.append((child.data, False))
            elif isinstance(child, nodes.Name):
                pieces.append((child.name, True))
            else:
                return None
    probe = {name: f"\x01{name}\x01" for name, is_var in pieces if is_var}
    joined = "".join(probe[t] if v else t for t, v in pieces)
    if joined != _compile(source).render(**probe):
        return None
    return tuple(pieces)


def _render(source: str, values: dict[str, Any]) -> str:
    plan = _plan(source)
    if plan is None:
        return _compile(source).render(**values)
    return "".join(str(values[t]) if v else t for t, v in plan)


def render_parts(source: str, **values: Any) -> list[str | dict[str, str]]:
    """Render with slots left open: a list of text pieces and ``{"slot": name}`` markers."""
    slots = {name: _SENTINEL.format(name) for name in SLOT_NAMES}
    text = _render(source, {**slots, **values}).strip()
    parts: list[str | dict[str, str]] = []
    rest = text
    while True:
        positions = [(rest.find(s), name) for name, s in slots.items() if s in rest]
        if not positions:
            if rest:
                parts.append(rest)
            return parts
        pos, name = min(positions)
        if rest[:pos]:
            parts.append(rest[:pos])
        parts.append({"slot": name})
        rest = rest[pos + len(slots[name]) :]


def fill(parts: list[Any], **values: str) -> str:
    """Join rendered parts, putting ``values[slot]`` into each slot."""
    out = []
    for part in parts:
        if isinstance(part, dict):
            out.append(values[part["slot"]])
        else:
            out.append(part)
    return "".join(out)


def transcript(turns: list[dict[str, str]]) -> str:
    """A conversation as the plain transcript the templates show the model."""
    label = {"user": "User", "assistant": "Assistant", "system": "System"}
    return "\n\n".join(f"{label.get(t['role'], t['role'].title())}: {t['content']}" for t in turns)


def _principle_parts(
    c: Constitution, p: Principle, template: str, **texts: str
) -> list[str | dict[str, str]]:
    """Render one of ``p``'s templates with its texts, name and category."""
    return render_parts(
        template_source(c, template), **texts, principle=p.name, category=p.category
    )


def critique_parts(c: Constitution, p: Principle) -> list[str | dict[str, str]]:
    return _principle_parts(c, p, "critique", critique=p.critique or "")


def revision_parts(c: Constitution, p: Principle) -> list[str | dict[str, str]]:
    return _principle_parts(c, p, "revision", revision=p.revision or "", critique=p.critique or "")


def judge_parts(c: Constitution, p: Principle, cot: bool) -> list[str | dict[str, str]]:
    return _principle_parts(c, p, "judge_cot" if cot else "judge", question=p.judge or "")


def pointwise_parts(c: Constitution, p: Principle) -> list[str | dict[str, str]]:
    return _principle_parts(c, p, "pointwise", question=p.judge or "")


def system_prompt(c: Constitution) -> str:
    """The constitution rendered as a system prompt (evals' ``--system-prompt`` mode)."""
    texts = [p.judge or p.critique or "" for p in c.principles]
    return (
        _compile(template_source(c, "system")).render(constitution=c.name, principles=texts).strip()
    )


def few_shot_messages(c: Constitution) -> list[dict[str, str]]:
    """The constitution's examples as prior critique/revision turns."""
    if not c.settings.few_shot:
        return []
    messages: list[dict[str, str]] = []
    for p in c.principles:
        if not (p.critique and p.revision):
            continue
        for ex in p.examples:
            if not (ex.prompt and ex.response and ex.critique and ex.revision):
                continue
            conv = transcript(
                [
                    {"role": "user", "content": ex.prompt},
                    {"role": "assistant", "content": ex.response},
                ]
            )
            messages.append(
                {"role": "user", "content": fill(critique_parts(c, p), conversation=conv)}
            )
            messages.append({"role": "assistant", "content": ex.critique})
            messages.append({"role": "user", "content": fill(revision_parts(c, p))})
            messages.append({"role": "assistant", "content": ex.revision})
    return messages
