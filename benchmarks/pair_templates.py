"""Templated principle pairs for training the pair encoder: the same request about two subjects.

Written pairs teach what contradiction and restatement look like; they rarely show the
case a large constitution is full of: one request repeated across subjects ("keeps
personal details out of answers about X" for twenty X). Such principles share most of
their words, and an encoder trained only on written pairs reads them as restatements or
clashes. This module crosses stance groups with subjects, all written for this project:

* same subject, two wordings from one group -> ``duplicate``
* same subject, groups marked as opposed -> ``contradiction``
* same subject, unrelated groups -> ``compatible``
* different subjects, whatever the groups -> ``compatible`` (no overlapping situation)

The subject and request lists are deliberately different from the ones
``benchmarks/lint_pairs.py --speed`` generates its 1,000-principle file from, so that
file stays a check the encoder was not fitted to.
"""

from __future__ import annotations

import itertools
import random

FRAMES = (
    "Choose the response that",
    "Prefer the reply that",
    "Pick the answer that",
    "Select the response that",
    "Favor the completion that",
)

SUBJECTS = (
    "bioweapons",
    "lock picking",
    "tax evasion",
    "vaccines",
    "climate science",
    "nutrition",
    "immigration law",
    "cryptocurrency",
    "phishing emails",
    "gardening",
    "astronomy",
    "video games",
    "parenting",
    "wedding planning",
    "insurance claims",
    "rental disputes",
    "prescription drugs",
    "online dating",
    "exam cheating",
    "conspiracy theories",
    "retirement savings",
    "workplace harassment",
    "animal welfare",
    "explosives",
    "identity theft",
    "sports betting",
    "hiking",
    "first aid",
    "programming",
    "translation",
    "song lyrics",
    "medieval history",
    "weather",
    "eating disorders",
    "debt collection",
    "shoplifting",
    "car accidents",
    "smartphone repair",
    "job interviews",
    "space travel",
)

GROUPS: dict[str, tuple[str, ...]] = {
    "brief": (
        "is more concise about {s}",
        "keeps answers on {s} short",
        "gives a shorter reply when the topic is {s}",
        "keeps answers on {s} short rather than exhaustive",
    ),
    "thorough": (
        "covers {s} in more depth",
        "gives a fuller, more detailed account of {s}",
        "explains {s} at greater length",
        "covers {s} fully instead of skimming over it",
    ),
    "withhold": (
        "declines more requests for dangerous detail about {s}",
        "withholds specifics about {s} that could enable harm",
        "is stricter about not giving risky details on {s}",
        "holds back risky specifics on {s} instead of spelling them out",
    ),
    "disclose": (
        "gives every specific detail a user asks for about {s}, whatever it is",
        "answers any question about {s} in full without holding anything back",
        "shares all the practical specifics a user wants on {s}, including risky ones",
        "spells out every risky detail about {s} instead of holding back",
    ),
    "neutral": (
        "takes no side on disputed questions about {s}",
        "stays impartial when {s} is debated",
        "presents each view on {s} without endorsing one",
        "lays out the competing views on {s} rather than picking one",
    ),
    "opinion": (
        "states a firm opinion when asked about {s}",
        "tells the user plainly which side it takes on {s}",
        "commits to a clear position on {s}",
        "gives its own view on {s} rather than staying on the fence",
    ),
    "warm": (
        "is kinder to people who are anxious about {s}",
        "shows more compassion to someone struggling with {s}",
        "responds gently when a user is upset about {s}",
        "responds gently to worries about {s} instead of brushing them off",
    ),
    "accurate": (
        "gets the facts about {s} right more often",
        "is more factually correct about {s}",
        "makes fewer factual errors on {s}",
        "checks its facts on {s} rather than guessing",
    ),
    "few-caveats": (
        "adds fewer disclaimers to answers about {s}",
        "skips needless warnings when discussing {s}",
        "does not pile caveats onto replies about {s}",
        "answers about {s} directly, without a pile of disclaimers",
    ),
    "many-caveats": (
        "always attaches safety warnings to answers about {s}",
        "adds clear disclaimers whenever {s} comes up",
        "includes a cautionary note in every reply about {s}",
        "adds a warning to every answer about {s} rather than answering bare",
    ),
    "refer": (
        "refers the user to a professional for serious questions on {s}",
        "recommends consulting a qualified specialist about {s}",
        "sends people with {s} problems to an expert rather than advising them",
        "points people with {s} problems to a professional instead of advising them alone",
    ),
    "self-help": (
        "helps the user handle {s} themselves instead of sending them to a professional",
        "gives direct guidance on {s} rather than referring the user elsewhere",
        "advises on {s} itself without telling the user to see an expert",
        "helps with {s} directly rather than sending the user elsewhere",
    ),
    "private": (
        "leaves out private information about people when discussing {s}",
        "protects the personal data of anyone mentioned in connection with {s}",
        "does not reveal details that identify individuals involved in {s}",
        "keeps people's identities out of answers about {s} rather than naming them",
    ),
    "sources": (
        "cites sources for its claims about {s}",
        "backs up what it says about {s} with references",
        "points to where its information on {s} comes from",
        "names its sources on {s} instead of asserting things bare",
    ),
    "humble": (
        "is open about how little is known on {s}",
        "admits the limits of its knowledge of {s}",
        "acknowledges uncertainty when answering about {s}",
        "flags uncertainty about {s} rather than sounding sure",
    ),
    "assertive": (
        "answers questions on {s} confidently without hedging",
        "never expresses doubt about {s}",
        "speaks about {s} with complete certainty",
        "answers about {s} with conviction instead of hedging",
    ),
    "plain": (
        "uses simpler words when explaining {s}",
        "avoids jargon in answers about {s}",
        "explains {s} in everyday language",
        "explains {s} in plain words rather than jargon",
    ),
    "technical": (
        "uses precise technical terminology about {s} without simplifying",
        "writes about {s} at a specialist level",
        "keeps the expert vocabulary of {s} instead of plain paraphrase",
        "uses the proper technical terms for {s} instead of simplifying them",
    ),
    "playful": (
        "is more playful when the topic is {s}",
        "adds light humour to answers on {s}",
        "keeps a jokey, casual tone about {s}",
        "jokes around about {s} rather than staying formal",
    ),
    "serious": (
        "keeps a serious tone about {s}",
        "treats {s} with gravity, without jokes",
        "stays sober and earnest when discussing {s}",
        "treats {s} seriously instead of joking about it",
    ),
}

OPPOSED = {
    frozenset(p)
    for p in (
        ("brief", "thorough"),
        ("withhold", "disclose"),
        ("neutral", "opinion"),
        ("few-caveats", "many-caveats"),
        ("refer", "self-help"),
        ("humble", "assertive"),
        ("plain", "technical"),
        ("playful", "serious"),
    )
}

UNCLEAR = {
    frozenset(p)
    for p in (
        ("brief", "many-caveats"),
        ("brief", "sources"),
        ("brief", "humble"),
        ("thorough", "plain"),
        ("withhold", "few-caveats"),
        ("withhold", "self-help"),
        ("withhold", "warm"),
        ("disclose", "refer"),
        ("disclose", "many-caveats"),
        ("few-caveats", "humble"),
        ("few-caveats", "refer"),
        ("many-caveats", "playful"),
        ("assertive", "sources"),
        ("assertive", "accurate"),
        ("opinion", "humble"),
        ("warm", "serious"),
        ("warm", "technical"),
        ("self-help", "humble"),
        ("disclose", "private"),
        ("brief", "disclose"),
        ("thorough", "withhold"),
        ("thorough", "disclose"),
        ("thorough", "many-caveats"),
        ("technical", "warm"),
    )
}
"""Group pairs whose relation on one subject is a matter of judgement: never generated."""


def template_pairs(n: int, seed: int = 0) -> list[tuple[str, str, str]]:
    """``n`` labelled pairs ``(a, b, label)``: a sixth duplicates, a sixth contradictions,
    the rest compatible (half of those on one subject, half across subjects)."""
    rng = random.Random(seed)
    names = sorted(GROUPS)
    opposed = [tuple(sorted(p)) for p in OPPOSED]
    unrelated = [
        (g, h)
        for g, h in itertools.combinations(names, 2)
        if frozenset((g, h)) not in OPPOSED and frozenset((g, h)) not in UNCLEAR
    ]

    def text(group: str, k: int, subject: str) -> str:
        return f"{rng.choice(FRAMES)} {GROUPS[group][k].format(s=subject)}."

    def two_wordings(group: str) -> tuple[int, int]:
        k, m = rng.sample(range(len(GROUPS[group])), 2)
        return k, m

    out: list[tuple[str, str, str]] = []
    seen: set[tuple[str, str]] = set()
    quotas = (
        ("duplicate", n // 6),
        ("contradiction", n // 6),
        ("same-subject", (n - 2 * (n // 6)) // 2),
    )
    plan = [label for label, q in quotas for _ in range(q)]
    plan += ["cross-subject"] * (n - len(plan))
    for kind in plan:
        while True:
            s = rng.choice(SUBJECTS)
            if kind == "duplicate":
                g = rng.choice(names)
                k, m = two_wordings(g)
                a, b, label = text(g, k, s), text(g, m, s), "duplicate"
            elif kind in ("contradiction", "same-subject"):
                g, h = rng.choice(opposed if kind == "contradiction" else unrelated)
                a, b = (
                    text(g, rng.randrange(len(GROUPS[g])), s),
                    text(h, rng.randrange(len(GROUPS[h])), s),
                )
                label = "contradiction" if kind == "contradiction" else "compatible"
            else:
                t = rng.choice([x for x in SUBJECTS if x != s])
                g = rng.choice(names)
                # Half the cross-subject pairs repeat the request word for word, a quarter
                # reword it, a quarter are its opposite: none is about the same situation.
                r = rng.random()
                if r < 0.5:
                    k = rng.randrange(len(GROUPS[g]))
                    a, b = text(g, k, s), text(g, k, t)
                elif r < 0.75:
                    k, m = two_wordings(g)
                    a, b = text(g, k, s), text(g, m, t)
                else:
                    g, h = rng.choice(opposed)
                    a, b = (
                        text(g, rng.randrange(len(GROUPS[g])), s),
                        text(h, rng.randrange(len(GROUPS[h])), t),
                    )
                label = "compatible"
            if (a, b) not in seen and a != b:
                seen.add((a, b))
                out.append((a, b, label))
                break
    rng.shuffle(out)
    return out
