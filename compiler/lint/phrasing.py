"""Phrasing rules: how one principle's own texts are written."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator
from typing import TypeVar

from caic.compiler.lint.context import LintContext
from caic.compiler.lint.registry import rule
from caic.constitution_lang.model import Principle
from caic.errors import Diagnostic

_ABSOLUTE = re.compile(
    r"\b(must(?:n't| not)?|never|always|shall(?: not)?|under no circumstances|in no case|"
    r"at all times|at all costs|without exception|no matter what|is (?:never )?(?:allowed|"
    r"forbidden|prohibited)|is not allowed)\b",
    re.IGNORECASE,
)
_COMPARATIVE = re.compile(
    r"\b(choose|prefer|pick|select|which|rank|more|less|better|worse|most|least|fewer|"
    r"rather than|\w+er than)\b|\b\w{3,}est\b",
    re.IGNORECASE,
)


def _texts(p: Principle) -> list[tuple[str, str]]:
    return [(f, t) for f in ("judge", "critique", "revision") if (t := getattr(p, f))]


_Hit = TypeVar("_Hit")


def _first_hits(
    ctx: LintContext, find: Callable[[str], _Hit | None]
) -> Iterator[tuple[Principle, str, _Hit]]:
    """``(principle, field, hit)`` for the first of each principle's texts in which
    ``find`` finds something (a principle is reported once, at that text)."""
    for p in ctx.constitution.principles:
        for field, text in _texts(p):
            hit = find(text)
            if hit:
                yield p, field, hit
                break


@rule("CAI201")
def absolute_judge(ctx: LintContext) -> Iterator[Diagnostic]:
    """A judge principle states an absolute rule instead of asking for a comparison.

    The judge sees two responses and must say which is better. "Never reveal an address"
    gives it nothing to go on when both responses comply, or both violate, and it pushes
    the soft label to an extreme when only one does; training then learns refusal, not
    degree. Absolutes (``must``, ``never``, ``always``, ``under no circumstances``) belong
    in a rule system, not in a preference judge.

    Anti-pattern:
        principle no-addresses { judge "The assistant must never reveal a person's home address." }

    Best practice:
        principle no-addresses {
          judge "Choose the response that is less likely to reveal where a private person lives."
        }
    """
    for p in ctx.constitution.principles:
        if not p.judge:
            continue
        m = _ABSOLUTE.search(p.judge)
        if not m:
            continue
        comparative = bool(_COMPARATIVE.search(_ABSOLUTE.sub(" ", p.judge)))
        what = "a rule, not a comparison" if not comparative else "absolute"
        yield ctx.diag(
            "CAI201",
            "warning",
            f"judge text of `{p.name}` is {what} (`{m.group(0)}`)",
            ctx.field_span(p, "judge"),
            principles=(p.name,),
            hint='phrase it as a comparison: "Choose the response that is less likely to ..."',
        )


_YEAR = re.compile(r"\b(1[89]\d\d|20\d\d)\b")
_MODEL_NUMBER = re.compile(r"\b[A-Za-z]+-?\d+[A-Za-z\d]*\b")
_PROPER = re.compile(r"(?<![.?!:;\"]\s)(?<!^)\b([A-Z][a-z]{2,})\b")
_QUANTITY = re.compile(
    r"(?:[$£€]\s?\d[\d,.]*|\b\d+(?:\.\d+)?\s?(?:%|mg|ml|kg|km|miles?|"
    r"dollars|euros|pounds|minutes|hours|days)\b)"
)
_NOT_PROPER = frozenset(
    {
        "The",
        "This",
        "That",
        "Which",
        "Choose",
        "Prefer",
        "Pick",
        "Select",
        "Rewrite",
        "Identify",
        "Point",
        "Check",
        "Consider",
        "Describe",
    }
)


def specificity(text: str) -> list[str]:
    """The markers that tie a text to one case: years, model numbers, amounts, names."""
    return list(_specificity(text))


@functools.lru_cache(maxsize=16384)
def _specificity(text: str) -> tuple[str, ...]:
    """:func:`specificity`, read once per text: critique and revision texts from one
    template repeat across a large constitution (two thirds of the generated
    1,000-principle file's texts)."""
    marks = [m.group(0) for m in _YEAR.finditer(text)]
    marks += [m.group(0) for m in _MODEL_NUMBER.finditer(text) if not _YEAR.fullmatch(m.group(0))]
    marks += [m.group(0) for m in _QUANTITY.finditer(text)]
    marks += [m.group(1) for m in _PROPER.finditer(text) if m.group(1) not in _NOT_PROPER]
    return tuple(dict.fromkeys(marks))


@rule("CAI202")
def too_specific(ctx: LintContext) -> Iterator[Diagnostic]:
    """A principle is tied to one product, date, amount or named case.

    A constitution teaches a disposition that must carry over to situations the author
    never listed. A principle about one car model, one year or one sum trains the model on
    that case, is almost never relevant when drawn, and says nothing about the thousand
    similar cases. Two or more such markers in one text (a year, a model number, an
    amount, a proper name) mark it as too specific.

    Anti-pattern:
        judge "Choose the response less likely to help open the door of a 2019 Honda Civic."

    Best practice:
        judge "Choose the response less likely to help someone get into a vehicle or building
        that is not theirs."
    """
    for p, field, marks in _first_hits(ctx, _case_marks):
        yield ctx.diag(
            "CAI202",
            "warning",
            f"{field} text of `{p.name}` is tied to one case ({', '.join(marks[:4])})",
            ctx.field_span(p, field),
            principles=(p.name,),
            hint="state the general concern the case is an example of; keep "
            "concrete cases for `example` blocks",
        )


def _case_marks(text: str) -> list[str]:
    """The text's :func:`specificity` markers where there are two or more, else none."""
    marks = specificity(text)
    return marks if len(marks) >= 2 else []


_US_STATES = [
    "Alabama",
    "Alaska",
    "Arizona",
    "Arkansas",
    "California",
    "Colorado",
    "Connecticut",
    "Delaware",
    "Florida",
    "Georgia",
    "Hawaii",
    "Idaho",
    "Illinois",
    "Indiana",
    "Iowa",
    "Kansas",
    "Kentucky",
    "Louisiana",
    "Maine",
    "Maryland",
    "Massachusetts",
    "Michigan",
    "Minnesota",
    "Mississippi",
    "Missouri",
    "Montana",
    "Nebraska",
    "Nevada",
    "Ohio",
    "Oklahoma",
    "Oregon",
    "Pennsylvania",
    "Tennessee",
    "Texas",
    "Utah",
    "Vermont",
    "Virginia",
    "Washington",
    "Wisconsin",
    "Wyoming",
]
_COUNTRIES = [
    "America",
    "Britain",
    "England",
    "Scotland",
    "Wales",
    "Ireland",
    "France",
    "Germany",
    "Italy",
    "Spain",
    "Portugal",
    "Netherlands",
    "Belgium",
    "Switzerland",
    "Austria",
    "Sweden",
    "Norway",
    "Denmark",
    "Finland",
    "Poland",
    "Russia",
    "Ukraine",
    "Turkey",
    "Greece",
    "Israel",
    "Iran",
    "Iraq",
    "Egypt",
    "Nigeria",
    "Kenya",
    "Ethiopia",
    "India",
    "Pakistan",
    "Bangladesh",
    "China",
    "Japan",
    "Korea",
    "Vietnam",
    "Thailand",
    "Indonesia",
    "Malaysia",
    "Singapore",
    "Philippines",
    "Australia",
    "Zealand",
    "Canada",
    "Mexico",
    "Brazil",
    "Argentina",
    "Chile",
    "Colombia",
    "Peru",
    "Ontario",
    "Quebec",
    "Bavaria",
    "Europe",
    "EU",
]
_JURISDICTION = re.compile(
    r"\b(?:" + "|".join(_US_STATES + _COUNTRIES) + r")\b"
    r"|\b(?:U\.?S\.?|UK|GDPR|HIPAA|CCPA|COPPA|FERPA|DMCA|FDA|FCC|SEC|OSHA|EU AI Act)\b"
    r"|\b(?:federal|state|provincial|municipal|local|national|county|city)\s+"
    r"(?:laws?|regulations?|statutes?|ordinances?|rules|codes?)\b"
    r"|\blaws?\s+of\s+(?:the\s+)?(?:state|country|province|land|jurisdiction)\b"
    r"|\b(?:legal|illegal|lawful|unlawful|permitted|banned)\s+(?:in|under)\s+(?:the\s+)?"
    r"(?:user's|your|their|local|this|that)\s+(?:state|country|jurisdiction|area|region)\b"
    r"|\b(?:First|Second|Fifth)\s+Amendment\b"
    r"|\b(?:current|latest|today's|up-to-date|recent)\s+(?:laws?|regulations?|prices?|news|"
    r"events|guidelines|statistics|figures|rates)\b"
    r"|\bas of (?:today|now|\d{4})\b"
)


@rule("CAI203")
def jurisdiction_specific(ctx: LintContext) -> Iterator[Diagnostic]:
    """A principle needs jurisdiction-specific law or current real-world facts to apply.

    The judge is a language model reading two responses; it cannot reliably know what one
    state's statutes say, what a regulation required last month, or today's prices. A
    principle that depends on such facts turns its labels into guesses (and they go stale
    when the facts change), so the trained behaviour is arbitrary exactly where it matters.

    Anti-pattern:
        judge "Choose the response that restricts itself to activities legal under the laws
        of the state of Texas."

    Best practice:
        judge "Choose the response that gives less practical help with clearly harmful or
        widely prohibited activities, and that points to local rules where they may differ."
    """
    for p, field, m in _first_hits(ctx, _JURISDICTION.search):
        yield ctx.diag(
            "CAI203",
            "warning",
            f"{field} text of `{p.name}` depends on jurisdiction-specific or current "
            f"facts (`{m.group(0)}`)",
            ctx.field_span(p, field),
            principles=(p.name,),
            hint="state the underlying harm in terms a judge can see in the response itself",
        )


_GENERIC_CR = frozenset(
    [
        "identify",
        "point",
        "out",
        "check",
        "find",
        "list",
        "note",
        "describe",
        "explain",
        "consider",
        "rewrite",
        "revise",
        "reply",
        "response",
        "answer",
        "assistant",
        "assistant's",
        "last",
        "previous",
        "earlier",
        "critique",
        "revision",
        "write",
        "new",
        "version",
        "so",
        "that",
        "it",
        "its",
        "the",
        "a",
        "an",
        "any",
        "every",
        "all",
        "each",
        "part",
        "parts",
        "way",
        "ways",
        "make",
        "sure",
        "keep",
        "keeping",
        "whatever",
        "where",
        "which",
        "what",
        "that",
        "this",
        "these",
        "those",
        "from",
        "with",
        "without",
        "into",
        "onto",
        "about",
        "of",
        "to",
        "in",
        "on",
        "for",
        "by",
        "as",
        "is",
        "are",
        "be",
        "was",
        "were",
        "been",
        "being",
        "no",
        "longer",
        "more",
        "less",
        "while",
        "still",
        "also",
        "only",
        "just",
        "do",
        "does",
        "did",
        "not",
    ]
)


def _topic(text: str) -> set[str]:
    from caic.compiler.lint import lexicon as lx

    words = re.findall(r"[a-z][a-z'-]+", text.lower())
    return {
        lx.lemma(w)
        for w in words
        if w not in _GENERIC_CR and lx.lemma(w) not in _GENERIC_CR and len(w) > 2
    }


REVISION_SIMILARITY = 0.40
"""Below this embedding similarity, and with no shared topic word, the two texts are
about different things."""


@rule("CAI204")
def critique_revision_mismatch(ctx: LintContext) -> Iterator[Diagnostic]:
    """A principle's revision request does not fix what its critique asks to find.

    In SL-CAI the model first critiques its answer against the critique request, then
    rewrites it following the revision request. When the two talk about different things
    (a critique about medical accuracy, a revision about length and humour) the rewrite
    ignores the critique, and the fine-tuning data teaches an unrelated edit. Detected when
    the two share no topic word, the revision does not refer back to the critique, and
    their sentence embeddings are far apart.

    Anti-pattern:
        critique "Identify any medical claims in the reply that are inaccurate."
        revision "Rewrite the reply to be shorter and funnier."

    Best practice:
        critique "Identify any medical claims in the reply that are inaccurate."
        revision "Rewrite the reply to correct or remove the inaccurate medical claims the
        critique identified."
    """
    todo = [p for p in ctx.constitution.principles if p.critique and p.revision]
    cands = []
    for p in todo:
        rev = (p.revision or "").lower()
        if "critique" in rev or "criticism" in rev:
            continue
        if _topic(p.critique or "") & _topic(p.revision or ""):
            continue
        cands.append(p)
    if not cands:
        return
    from caic.compiler.lint.encoder import embed

    vecs = embed([t for p in cands for t in (p.critique or "", p.revision or "")], ctx.engine)
    for k, p in enumerate(cands):
        sim = float(vecs[2 * k] @ vecs[2 * k + 1])
        if sim < REVISION_SIMILARITY:
            yield ctx.diag(
                "CAI204",
                "warning",
                f"revision of `{p.name}` does not address what its critique looks for "
                f"(similarity {sim:.2f})",
                ctx.field_span(p, "revision"),
                principles=(p.name,),
                hint="make the revision fix exactly what the critique identified, e.g. "
                '"Rewrite the reply to fix the problems the critique identified."',
            )
