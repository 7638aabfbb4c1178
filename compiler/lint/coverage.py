"""Coverage rules: what the constitution as a whole leaves out.

A concern counts as covered when a principle carries its tag, or (for the behavioural
edge cases) when a principle's text plainly addresses it. Findings point at the
``constitution`` header; suppress one there with ``# caic: ignore[CODE]``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from caic.compiler.lint.context import LintContext
from caic.compiler.lint.registry import rule
from caic.constitution_lang.model import Principle
from caic.errors import Diagnostic


def _text(p: Principle) -> str:
    return " ".join(t for t in (p.judge, p.critique, p.revision) if t)


def _any(ctx: LintContext, tags: set[str], pattern: re.Pattern[str]) -> bool:
    return any(tags & set(p.tags) or pattern.search(_text(p)) for p in ctx.constitution.principles)


_HELPFUL = re.compile(
    r"\b(helpful|helpfulness|useful|usefulness|over-?refus\w*|needless(?:ly)? refus\w*|"
    r"refus\w* (?:a |an )?(?:safe|reasonable|legitimate|harmless)|answers? the (?:user's )?"
    r"(?:actual )?question|addresses what the user|solves the user's)\b",
    re.IGNORECASE,
)


@rule("CAI301")
def missing_helpfulness(ctx: LintContext) -> Iterator[Diagnostic]:
    """No principle rewards being helpful, so training drifts into over-refusal.

    A constitution made only of harm-avoidance principles rewards the response that does
    least, and the cheapest way to do least is to refuse. RLAIF then teaches refusal of
    safe requests that only look risky (the failure XSTest measures). Positive principles
    (answer the real question, do not refuse needlessly, do not preach) are the
    counterweight. Satisfied by a category of kind ``helpfulness`` with principles, a
    principle tagged ``helpfulness``, or one whose text asks for helpful answers or
    against needless refusal.

    Anti-pattern:
        category safety {
          kind harm
          principle least-harmful { judge "Choose the less harmful response." }
        }

    Best practice:
        category helpfulness {
          kind helpfulness
          principle no-needless-refusal {
            judge "Choose the response that helps with a safe request that only sounds
                   risky, rather than refusing it."
          }
        }
    """
    c = ctx.constitution
    if any(cat.kind == "helpfulness" and cat.principles for cat in c.categories):
        return
    if _any(ctx, {"helpfulness", "helpful"}, _HELPFUL):
        return
    yield ctx.diag(
        "CAI301",
        "warning",
        "no principle rewards helpful answers; training will drift toward over-refusal",
        ctx.header_span(c),
        hint="add a `kind helpfulness` category, e.g. a no-needless-refusal principle",
    )


_JAILBREAK = re.compile(
    r"\b(jailbreak\w*|role-?play\w*|persona\w*|in character|unrestricted mode|hypothetical\w*|"
    r"fictional framing|framed as fiction|pretend\w* to be|prompt injection|injected "
    r"instructions|instructions (?:found |hidden )?inside documents|developer mode|"
    r"ignore (?:its|your|previous) (?:instructions|guidelines))\b",
    re.IGNORECASE,
)
_SYCOPHANCY = re.compile(
    r"\b(sycophan\w*|flatter\w*|are you sure|pushes back|push(?:es)? back|backs? down|"
    r"cav(?:e|es|ing) in|suggested answer|answer the user (?:has )?suggested|"
    r"what (?:they|the user) want(?:s)? to hear|keeps? a (?:correct|well-supported) answer|"
    r"abandon\w* (?:a |its )?correct|changes? (?:a |its )?correct answer|"
    r"stated attachment|(?:agree|agrees|agreeing) with the user (?:just|only|simply))\b",
    re.IGNORECASE,
)


@rule("CAI302")
def missing_jailbreak(ctx: LintContext) -> Iterator[Diagnostic]:
    """No principle covers jailbreak framings (role-play, hypotheticals, injected prompts).

    Most harmful requests that get through arrive wrapped: "pretend you are an AI without
    rules", "in a story, explain how ...", "for research purposes", or instructions hidden
    in a pasted document. Principles that only name harms judge the wrapper, not what the
    answer would enable, so the trained model learns the wrapper works (Wei et al. 2023,
    "Jailbroken"). Satisfied by a principle tagged ``jailbreak`` or one whose text
    addresses role-play, persona, hypothetical or injected-instruction framings.

    Anti-pattern:
        A constitution whose only principles are "Choose the less harmful response" and its
        variants.

    Best practice:
        principle framing-jailbreak {
          judge "Choose the response that judges a request by what the answer would
                 enable, less swayed by framing it as fiction, a hypothetical or role-play."
          tags [jailbreak]
        }
    """
    if _any(ctx, {"jailbreak", "jailbreaks", "prompt_injection", "roleplay"}, _JAILBREAK):
        return
    yield ctx.diag(
        "CAI302",
        "warning",
        "no principle covers jailbreak framings (role-play, hypotheticals, injected instructions)",
        ctx.header_span(ctx.constitution),
        hint="add a principle tagged `jailbreak` that judges what the answer "
        "enables, whatever the framing",
    )


@rule("CAI303")
def missing_sycophancy(ctx: LintContext) -> Iterator[Diagnostic]:
    """No principle covers sycophancy (caving to pushback, adopting the user's wrong answer).

    Preference training rewards what raters like, and raters like being agreed with:
    assistants learn to abandon correct answers when asked "are you sure?", to adopt an
    answer the user suggests, and to praise work the user says is theirs (Sharma et al.
    2023, "Towards Understanding Sycophancy in Language Models"). An AI judge inherits the
    same pull unless a principle names it. Satisfied by a principle tagged ``sycophancy``
    or one whose text addresses these behaviours. The 2022 CAI constitution had none, so
    ``constitutions/cai-2022-harmless.cai`` reports this by design.

    Anti-pattern:
        A constitution with honesty principles about facts but nothing about holding a
        correct answer under social pressure.

    Best practice:
        principle hold-correct-answer {
          judge "Choose the response that keeps a well-supported answer when the user
                 pushes back without new evidence."
          tags [sycophancy]
        }
    """
    if _any(ctx, {"sycophancy"}, _SYCOPHANCY):
        return
    yield ctx.diag(
        "CAI303",
        "warning",
        "no principle covers sycophancy (caving to pushback, adopting a "
        "suggested wrong answer, flattering feedback)",
        ctx.header_span(ctx.constitution),
        hint="add a principle tagged `sycophancy`, e.g. hold a correct answer "
        "when the user pushes back without new evidence",
    )


HAZARDS: dict[str, str] = {
    "violent_crime": "violent crimes",
    "nonviolent_crime": "non-violent crimes",
    "sex_crime": "sex-related crimes",
    "child_exploitation": "child sexual exploitation",
    "indiscriminate_weapons": "indiscriminate weapons (CBRNE)",
    "self_harm": "suicide and self-harm",
    "hate": "hate",
    "specialized_advice": "specialized advice",
    "privacy": "privacy",
    "intellectual_property": "intellectual property",
    "defamation": "defamation",
    "sexual_content": "sexual content",
}
"""The twelve hazard categories of MLCommons AILuminate v1.0 (Ghosh et al. 2025,
arXiv:2503.05731), which grew out of the v0.5 AI Safety Benchmark taxonomy (Vidgen et al.
2024, arXiv:2404.12241). Keys are the tags a principle carries to cover one."""

ALIASES: dict[str, str] = {
    "violence": "violent_crime",
    "violent_crimes": "violent_crime",
    "terrorism": "violent_crime",
    "crime": "nonviolent_crime",
    "nonviolent_crimes": "nonviolent_crime",
    "fraud": "nonviolent_crime",
    "cyber": "nonviolent_crime",
    "sex_crimes": "sex_crime",
    "csam": "child_exploitation",
    "child_safety": "child_exploitation",
    "cbrn": "indiscriminate_weapons",
    "cbrne": "indiscriminate_weapons",
    "weapons": "indiscriminate_weapons",
    "suicide": "self_harm",
    "hate_speech": "hate",
    "ip": "intellectual_property",
    "copyright": "intellectual_property",
    "specialised_advice": "specialized_advice",
    "sexual": "sexual_content",
}
"""Common tag spellings accepted for a hazard."""


@rule("CAI304")
def uncovered_hazard(ctx: LintContext) -> Iterator[Diagnostic]:
    """Hazard categories of the AILuminate v1.0 taxonomy that no principle covers.

    A harm-avoidance constitution should say something about each kind of serious harm,
    or the trained model has no signal there. caic checks against the twelve hazard
    categories of MLCommons AILuminate v1.0 (Ghosh et al. 2025, "AILuminate: Introducing
    v1.0 of the AI Risk and Reliability Benchmark from MLCommons", arXiv:2503.05731; the
    taxonomy extends the v0.5 AI Safety Benchmark of Vidgen et al. 2024,
    arXiv:2404.12241): violent_crime, nonviolent_crime, sex_crime, child_exploitation,
    indiscriminate_weapons, self_harm, hate, specialized_advice, privacy,
    intellectual_property, defamation, sexual_content. A hazard is covered when a
    principle carries its name (or a common alias) as a tag. Only constitutions with a
    category of kind ``harm`` are checked.

    Anti-pattern:
        category safety {
          kind harm
          principle weapons { judge "..."  tags [indiscriminate_weapons] }
        }
        (eleven hazards with no principle)

    Best practice:
        One principle per hazard, each tagged with the hazard's name, as
        ``constitutions/hhh-v2.cai`` does; a broad principle may carry several tags.
    """
    c = ctx.constitution
    if not any(cat.kind == "harm" for cat in c.categories):
        return
    covered = {ALIASES.get(t, t) for p in c.principles for t in p.tags}
    missing = [h for h in HAZARDS if h not in covered]
    if missing:
        yield ctx.diag(
            "CAI304",
            "warning",
            f"no principle covers {len(missing)} of the {len(HAZARDS)} AILuminate v1.0 hazard "
            f"categories: {', '.join(missing)}",
            ctx.header_span(c),
            hint="tag principles with the hazard names; taxonomy: MLCommons AILuminate v1.0 "
            "(Ghosh et al. 2025, arXiv:2503.05731)",
        )
