"""A small, general-purpose polarity lexicon for reading what a judge principle prefers.

Three tables, all written from ordinary English, not from any pair set:

* :data:`SCALES`: antonym scales. Each has a positive and a negative pole (``short``
  against ``long``, ``agree`` against ``disagree``); a principle that asks for more of one
  pole asks for less of the other. They cover the evaluative dimensions a response is
  commonly judged on (length, certainty, tone, formality, disclosure, obedience, ...).
* :data:`OPERATORS`: words that flip (``not``, ``never``, ``less``, ``avoid``) or keep
  (``more``, ``most``) the direction of what follows them.
* :data:`PHRASES`: phrasal verbs and fixed expressions rewritten to one word before
  lookup (``leave out`` → ``omit``), so that the scales can stay single words.

:func:`lemma` maps an inflected word to the form the tables use (``shortest`` → ``short``,
``criticizes`` → ``criticise``); words not in the tables get a light suffix stem so that
plural and singular still match.
"""

from __future__ import annotations

import functools
import json
import re

# Each scale: (name, positive pole, negative pole). Poles are lemmas (see `lemma`).
# A word may sit on more than one scale.
_SCALE_TABLE: tuple[tuple[str, str, str], ...] = (
    (
        "length",
        "long lengthy detailed thorough extensive comprehensive exhaustive elaborate expansive "
        "verbose wordy depth in-depth lengthen expand elaborate",
        "short brief concise succinct terse compact laconic shorten abbreviate condense summary",
    ),
    (
        "complexity",
        "complex complicated intricate sophisticated technical jargon advanced nuanced",
        "simple plain basic elementary everyday straightforward simplify simplistic",
    ),
    (
        "audience",
        "expert specialist connoisseur",
        "beginner novice layperson layman newcomer amateur",
    ),
    (
        "certainty",
        "confident certain sure definite definitive decisive assertive conclusive "
        "categorical unequivocal confidence certainty",
        "uncertain unsure tentative hesitant doubtful noncommittal hedge hedging uncertainty "
        "doubt unconfident",
    ),
    (
        "agreement",
        "agree concur affirm validate echo endorse accept agreement",
        "disagree contradict correct challenge dispute refute rebut disagreement correction",
    ),
    (
        "praise",
        "praise compliment flatter commend applaud admire flattery",
        "criticise criticize condemn blame disparage scold criticism belittle",
    ),
    (
        "humour",
        "playful humorous funny witty joke jokey whimsical lighthearted light-hearted silly "
        "humour humor comic comical",
        "serious solemn grave sober earnest stern somber sombre",
    ),
    (
        "formality",
        "formal businesslike stiff ceremonious",
        "casual informal chatty colloquial relaxed slang slangy conversational breezy",
    ),
    (
        "warmth",
        "warm friendly gentle empathetic compassionate caring sympathetic tender kind affectionate",
        "cold harsh curt brusque unfriendly unkind callous cruel frosty",
    ),
    (
        "politeness",
        "polite courteous respectful civil tactful considerate",
        "rude impolite disrespectful tactless crude vulgar insulting",
    ),
    (
        "neutrality",
        "opinionated partisan one-sided opinion stance side",
        "neutral impartial balanced objective even-handed unbiased nonpartisan",
    ),
    (
        "speculation",
        "speculate speculative speculation guess conjecture unverified unsupported invent "
        "fabricate",
        "verify verified proven established confirmed documented sourced evidence-based "
        "cite citation",
    ),
    (
        "directness",
        "direct straight candid frank forthright explicit",
        "evasive indirect vague roundabout circuitous oblique euphemistic",
    ),
    (
        "speed",
        "immediate immediately quick quickly fast prompt promptly instant swift hasty",
        "slow slowly delay delayed gradual unhurried",
    ),
    (
        "amount",
        "many much lot lots plenty numerous abundant heavy frequent maximum maximal every "
        "extensive",
        "few little scarce sparse minimal minimum rare occasional sparingly light-touch",
    ),
    (
        "emotion",
        "emotional passionate enthusiastic excited dramatic expressive effusive exuberant",
        "calm dispassionate measured restrained understated stoic composed unemotional",
    ),
    (
        "inclusion",
        "include add mention cover incorporate insert attach",
        "omit exclude skip remove delete strip",
    ),
    (
        "disclosure",
        "reveal disclose share expose divulge publish leak openly transparent",
        "withhold conceal hide secret confidential redact secretive private privacy",
    ),
    (
        "obedience",
        "follow obey comply adhere abide heed conform defer uphold honour honor",
        "ignore disobey depart deviate disregard override defy violate infringe breach "
        "flout circumvent",
    ),
    (
        "continuation",
        "continue maintain persist sustain prolong extend linger dwell",
        "stop end quit halt conclude finish abandon exit break interrupt",
    ),
    (
        "compliance",
        "comply fulfil fulfill accommodate grant oblige",
        "refuse decline reject deny rebuff refusal",
    ),
    (
        "caution",
        "cautious careful conservative prudent wary restrictive strict protective guarded "
        "restrained caution",
        "permissive reckless lenient lax careless loose",
    ),
    (
        "optimism",
        "optimistic hopeful upbeat cheerful rosy reassuring reassure",
        "pessimistic gloomy bleak grim cynical alarming alarm",
    ),
    (
        "encouragement",
        "encourage promote urge motivate foster incite advocate glorify encouragement",
        "discourage dissuade deter",
    ),
    (
        "safety",
        "protect safeguard shield defend secure preserve",
        "endanger jeopardise jeopardize threaten harm hurt injure damage",
    ),
    (
        "honesty",
        "honest truthful sincere truth",
        "dishonest deceptive misleading lie lying deceive mislead manipulative untruthful",
    ),
    (
        "autonomy",
        "autonomy freedom liberty independence self-determination permit allow",
        "paternalistic paternalism forbid prohibit ban control restrict",
    ),
    ("consistency", "consistent stable steady", "inconsistent erratic contradictory"),
    (
        "creativity",
        "creative original imaginative inventive novel unconventional",
        "conventional formulaic predictable generic",
    ),
    ("character", "in-character roleplay role-play persona", "out-of-character"),
)

SCALES: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    name: (frozenset(pos.split()), frozenset(neg.split())) for name, pos, neg in _SCALE_TABLE
}
"""scale name → (positive pole lemmas, negative pole lemmas)."""

PRIVATIVE = frozenset(
    {"inclusion", "disclosure", "compliance", "continuation", "encouragement", "obedience"}
)
"""Scales whose negative pole is the absence of the positive one (``omit`` = not include,
``withhold`` = not share): a privative verb reverses a clause's direction like ``not``."""

POLE: dict[str, list[tuple[str, int]]] = {}
"""lemma → [(scale, +1 or -1)], the inverse of :data:`SCALES`."""
for _name, (_pos, _neg) in SCALES.items():
    for _w in _pos:
        POLE.setdefault(_w, []).append((_name, 1))
    for _w in _neg:
        POLE.setdefault(_w, []).append((_name, -1))

HEAD: dict[str, str] = {name: sorted(pos)[0] for name, (pos, _neg) in SCALES.items()}
"""A representative positive-pole word per scale, used to write canonical text."""
HEAD.update(
    {
        "length": "detailed",
        "certainty": "confident",
        "agreement": "agree",
        "disclosure": "reveal",
        "obedience": "follow",
        "continuation": "continue",
        "compliance": "comply",
        "amount": "many",
        "inclusion": "include",
        "safety": "protect",
        "honesty": "honest",
        "audience": "expert",
        "complexity": "technical",
        "speculation": "speculate",
        "neutrality": "opinionated",
        "humour": "humorous",
        "formality": "formal",
        "warmth": "warm",
        "politeness": "polite",
        "praise": "praise",
        "directness": "direct",
        "speed": "quick",
        "emotion": "emotional",
        "caution": "cautious",
        "optimism": "optimistic",
        "encouragement": "encourage",
        "autonomy": "autonomy",
    }
)

# Direction words: -1 flips what follows, +1 keeps it. "likely" and friends are
# transparent fillers between an operator and its attribute.
OPERATORS: dict[str, int] = {
    "not": -1,
    "never": -1,
    "no": -1,
    "without": -1,
    "nor": -1,
    "none": -1,
    "nothing": -1,
    "neither": -1,
    "n't": -1,
    "cannot": -1,
    "less": -1,
    "least": -1,
    "fewer": -1,
    "fewest": -1,
    "lower": -1,
    "lowest": -1,
    "avoid": -1,
    "refrain": -1,
    "minimise": -1,
    "minimize": -1,
    "reduce": -1,
    "limit": -1,
    "prevent": -1,
    "resist": -1,
    "steer": -1,
    "lack": -1,
    "instead": -1,
    "rather": -1,
    "unlikely": -1,
    "decrease": -1,
    "eschew": -1,
    "shun": -1,
    "more": 1,
    "most": 1,
    "greater": 1,
    "greatest": 1,
    "higher": 1,
    "highest": 1,
    "better": 1,
    "best": 1,
    "maximise": 1,
    "maximize": 1,
    "increase": 1,
    "enhance": 1,
}

FILLER = frozenset(
    [
        "the",
        "a",
        "an",
        "that",
        "which",
        "who",
        "whose",
        "is",
        "are",
        "be",
        "being",
        "been",
        "does",
        "do",
        "did",
        "its",
        "it",
        "their",
        "them",
        "they",
        "likely",
        "to",
        "of",
        "as",
        "possible",
        "can",
        "could",
        "would",
        "will",
        "should",
        "may",
        "might",
        "must",
        "any",
        "some",
        "one",
        "response",
        "responses",
        "reply",
        "replies",
        "option",
        "completion",
        "assistant",
        "so",
        "also",
        "only",
        "always",
        "clearly",
        "really",
        "truly",
        "genuinely",
        "much",
        "far",
        "even",
        "still",
        "well",
    ]
)
"""Words skipped while looking for the head of an attribute (they carry no direction)."""

LIGHT_VERBS = frozenset(
    [
        "give",
        "provide",
        "offer",
        "state",
        "say",
        "tell",
        "make",
        "use",
        "write",
        "produce",
        "show",
        "contain",
        "have",
        "take",
        "get",
        "put",
        "let",
        "help",
        "assist",
        "sound",
        "express",
        "present",
        "deliver",
        "keep",
        "treat",
        "handle",
        "bring",
        "supply",
        "seem",
        "appear",
        "come",
        "go",
        "engage",
        "do",
        "remain",
        "stay",
        "become",
        "feel",
        "look",
    ]
)
"""Verbs too general to carry an opposition on their own (``does not write malware``
against ``writes clean code`` is not a contradiction about writing)."""

CLAUSE_MARKERS = frozenset(
    [
        "that",
        "which",
        "who",
        "whom",
        "whose",
        "when",
        "where",
        "whenever",
        "wherever",
        "if",
        "unless",
        "because",
        "although",
        "though",
        "while",
        "what",
        "how",
        "why",
        "until",
    ]
)
"""Words that open a subordinate clause: scale words after them describe an object,
not what the principle asks for."""

PHRASES: tuple[tuple[str, str], ...] = (
    (r"\bleav(?:e|es|ing) out\b", "omit"),
    (r"\bleft out\b", "omit"),
    (r"\bwrap(?:s|ping|ped)? (?:things |it |the conversation |conversations )?up\b", "conclude"),
    (r"\bturn(?:s|ing|ed)? down\b", "decline"),
    (r"\bgo(?:es|ing)? along with\b", "agree with"),
    (r"\bsid(?:e|es|ing) with\b", "agree with"),
    (r"\bpush(?:es|ing)? back\b", "disagree"),
    (
        r"\bpoint(?:s|ing)? out (?=(?:\w+ ){0,3}(?:errors?|mistakes?|inaccurac\w+|flaws?)\b)",
        "correct ",
    ),
    (r"\bstick(?:s|ing)? to\b", "adhere to"),
    (
        r"\bkeep(?:s|ing)? ((?:[\w']+ ){0,4}?)(?:secret|confidential|private|hidden)\b",
        r"conceal \1",
    ),
    (r"\bkeep(?:s|ing)? going\b", "continue"),
    (r"\bkeep(?:s|ing)? (?=\w+ing\b)", "continue "),
    (r"\bmov(?:e|es|ing) (?:quickly |swiftly )?(?:past|on from)\b", "skip"),
    (r"\bbreak(?:s|ing)? character\b", "out-of-character"),
    (r"\bstay(?:s|ing)? in character\b", "in-character"),
    (r"\bin character\b", "in-character"),
    (r"\bto the point\b", "direct"),
    (r"\bstraight to the point\b", "direct"),
    (r"\bat length\b", "lengthy"),
    (r"\bin depth\b", "in-depth"),
    (r"\bin detail\b", "detailed"),
    (r"\bat all costs\b", "always"),
    (r"\babove all(?: else)?\b", "always"),
    (r"\bno matter what\b", "always"),
    (r"\bdo(?:es)?n't\b", "does not"),
    (r"\bwon't\b", "will not"),
    (r"\bcan't\b", "cannot"),
    (r"\bisn't\b", "is not"),
    (r"\baren't\b", "are not"),
    (r"\blight[- ]hearted\b", "lighthearted"),
    (r"\beven[- ]handed(?:ly)?\b", "even-handed"),
    (r"\bone[- ]sided\b", "one-sided"),
    (r"\bless likely\b", "less"),
    (r"\bfree (?:of|from)\b", "without"),
    (
        r"\bdiscourag(?:e|es|ing) (?:(?:the|a|any) )?(?:user|users|people|person|someone|anyone|"
        r"them|others|readers?)(?:'s)? from\b",
        "not",
    ),
    (
        r"\b(?:encourag|urg|motivat|invit|push)(?:e|es|ing|ed)? (?:(?:the|a|any) )?"
        r"(?:user|users|people|person|someone|anyone|them|others|readers?) to\b",
        "",
    ),
    (r"\b(?:make|makes|making|made) up\b", "invent"),
    (r"\bbreak(?:s|ing)? (?:the |any )?(?:law|laws)\b", "act illegally"),
    (r"\bbreak(?:s|ing)? (?:the |any )?rules?\b", "violate rules"),
    (r"\bmore likely\b", "more"),
)
_PHRASES = tuple((re.compile(p), r) for p, r in PHRASES)
_ANY_PHRASE = re.compile("|".join(f"(?:{p})" for p, _ in PHRASES))
"""One search says whether any rewrite applies; most texts need none."""

_IRREGULAR = {
    "better": "better",
    "best": "best",
    "worse": "bad",
    "worst": "bad",
    "less": "less",
    "least": "least",
    "more": "more",
    "most": "most",
    "fewer": "fewer",
    "written": "write",
    "wrote": "write",
    "gave": "give",
    "given": "give",
    "kept": "keep",
    "told": "tell",
    "said": "say",
    "made": "make",
    "broke": "break",
    "broken": "break",
    "hid": "hide",
    "hidden": "hide",
    "chose": "choose",
    "chosen": "choose",
    "stuck": "stick",
    "left": "leave",
    "data": "data",
    "news": "news",
    "always": "always",
    "lots": "lots",
    "uses": "use",
    "others": "other",
    "is": "is",
    "was": "is",
    "has": "have",
    "does": "does",
    "its": "its",
    "this": "this",
    "thus": "thus",
    "less-detailed": "less",
    "corrects": "correct",
    "correcting": "correct",
    "corrected": "correct",
    "quickly": "quickly",
    "immediately": "immediately",
    "promptly": "promptly",
    "slowly": "slowly",
    "openly": "openly",
    "sparingly": "sparingly",
    "clearly": "clearly",
    "mostly": "mostly",
    "humor": "humor",
    "humour": "humour",
    "analyses": "analysis",
    "lies": "lie",
    "lying": "lying",
    "dying": "die",
    "proven": "proven",
    "shortest": "short",
    "longest": "long",
    "simplest": "simple",
    "plainest": "plain",
    "briefest": "brief",
    "politest": "polite",
    "correctly": "correctly",
    "incorrectly": "incorrectly",
}

_KNOWN = frozenset(POLE) | frozenset(OPERATORS) | frozenset(LIGHT_VERBS)
_ADVERB_KEEP = frozenset(
    {
        "only",
        "early",
        "family",
        "daily",
        "likely",
        "reply",
        "apply",
        "supply",
        "ally",
        "rely",
        "fully",
    }
)


@functools.lru_cache(maxsize=65536)
def lemma(word: str) -> str:
    """The lexicon form of ``word``: known lemmas first, then a light suffix stem."""
    w = word.lower().strip("'")
    if w.endswith("'s"):
        w = w[:-2]
    if w in _IRREGULAR:
        return _IRREGULAR[w]
    if w in _KNOWN:
        return w
    w = (
        w.replace("izing", "ising").replace("ize", "ise").replace("ization", "isation")
        if w not in _KNOWN and w.replace("ize", "ise") in _KNOWN
        else w
    )
    for cand in _candidates(w):
        if cand in _KNOWN:
            return cand
    return _stem(w)


def _candidates(w: str) -> list[str]:
    out: list[str] = []
    rules = (
        ("iest", "y"),
        ("ier", "y"),
        ("ies", "y"),
        ("ied", "y"),
        ("ily", "y"),
        ("est", ""),
        ("est", "e"),
        ("er", ""),
        ("er", "e"),
        ("ing", ""),
        ("ing", "e"),
        ("ed", ""),
        ("ed", "e"),
        ("es", ""),
        ("s", ""),
        ("ly", ""),
        ("ly", "le"),
        ("ness", ""),
        ("ment", ""),
        ("ation", "e"),
        ("ion", "e"),
        ("ion", ""),
    )
    for suf, rep in rules:
        if w.endswith(suf) and len(w) - len(suf) >= 2:
            base = w[: -len(suf)] + rep
            out.append(base)
            if len(base) >= 3 and base[-1] == base[-2] and not rep:
                out.append(base[:-1])  # bigger -> big, stopped -> stop
    return out


def _stem(w: str) -> str:
    """Fold plurals and common verb endings so ``opinions`` meets ``opinion``."""
    if w in _ADVERB_KEEP or len(w) <= 3:
        return w
    for suf, rep in (
        ("ies", "y"),
        ("sses", "ss"),
        ("ches", "ch"),
        ("shes", "sh"),
        ("xes", "x"),
        ("s", ""),
    ):
        if (
            w.endswith(suf)
            and not w.endswith("ss")
            and not w.endswith("us")
            and not w.endswith("is")
        ):
            return w[: -len(suf)] + rep
    return w


def rewrite_phrases(text: str) -> str:
    """Rewrite the phrasal verbs and fixed expressions of :data:`PHRASES`."""
    if not _ANY_PHRASE.search(text):
        return text
    for pat, rep in _PHRASES:
        text = pat.sub(rep, text)
    return text


_NEGATING_PREFIXES = ("un", "in", "im", "ir", "il", "dis", "non-", "non")


class _WordNetTable:
    """The shipped WordNet antonym table, read once; entries are turned into
    ``(scale, pole)`` tuples when looked up (building all 19,000 up front took longer
    than linting a small constitution)."""

    def __init__(self, names: list[str], words: dict[str, list[list[int]]]) -> None:
        self.names = names
        self.words = words

    def get(self, word: str) -> tuple[tuple[str, int], ...]:
        entries = self.words.get(word)
        if not entries:
            return ()
        return tuple((self.names[i], p) for i, p in entries)


@functools.cache
def _wordnet() -> _WordNetTable:
    """word → ((``wn:a|b``, pole), ...) from the shipped WordNet antonym table."""
    from importlib import resources

    try:
        raw = (
            resources.files("caic.compiler.lint")
            .joinpath("antonyms.json")
            .read_text(encoding="utf-8")
        )
    except (OSError, ModuleNotFoundError):  # pragma: no cover - broken install
        return _WordNetTable([], {})
    table = json.loads(raw)
    return _WordNetTable(["wn:" + n for n in table["scales"]], table["words"])


def _affixes(w: str, look: object) -> tuple[tuple[str, int], ...]:
    """Poles of ``w`` through its lemma, or a morphological antonym of a listed base."""
    get = look  # type: ignore[assignment]
    for form in (lemma(w), w):
        found = get(form)  # type: ignore[operator]
        if found:
            return tuple(found)
    for suf, flip in (
        ("fulness", 1),
        ("ful", 1),
        ("fully", 1),
        ("lessness", -1),
        ("lessly", -1),
        ("less", -1),
    ):
        if w.endswith(suf) and len(w) - len(suf) >= 3:
            base = get(lemma(w[: -len(suf)]))  # type: ignore[operator]
            if base:
                return tuple((s, p * flip) for s, p in base)
    for pre in _NEGATING_PREFIXES:
        if w.startswith(pre) and len(w) - len(pre) >= 4:
            base = get(lemma(w[len(pre) :]))  # type: ignore[operator]
            if base:
                return tuple((s, -p) for s, p in base)
    return ()


@functools.lru_cache(maxsize=65536)
def polarity(word: str) -> tuple[tuple[str, int], ...]:
    """(scale, pole) pairs of a word on the hand scales, with morphological antonyms read
    off affixes: ``harmful`` sits where ``harm`` does, ``harmless`` and ``careless`` at the
    opposite pole of their base, ``unkind`` likewise (unless listed themselves)."""
    return _affixes(word.lower(), POLE.get)


@functools.lru_cache(maxsize=65536)
def wordnet_polarity(word: str) -> tuple[tuple[str, int], ...]:
    """(``wn:a|b``, pole) pairs of a word on WordNet's antonym scales."""
    wn = _wordnet()

    def get(form: str) -> tuple[tuple[str, int], ...]:
        return wn.get(form) or wn.get(form.replace("ise", "ize")) or ()

    return _affixes(word.lower(), get)


# Evaluative valence of content words (not of the direction words above): "avoids
# harmful content" and "is considerate" both ask for something good, so a flipped
# direction between a bad-valence and a good-valence clause is agreement, not conflict.
NEGATIVE = frozenset(
    [
        "harm",
        "harmful",
        "hurt",
        "damage",
        "danger",
        "dangerous",
        "hazard",
        "hazardous",
        "risk",
        "threat",
        "violence",
        "violent",
        "crime",
        "criminal",
        "illegal",
        "illegally",
        "unlawful",
        "illicit",
        "fraud",
        "scam",
        "scammer",
        "theft",
        "steal",
        "weapon",
        "bomb",
        "explosive",
        "poison",
        "malware",
        "virus",
        "hack",
        "hacking",
        "attack",
        "abuse",
        "abusive",
        "toxic",
        "toxicity",
        "hateful",
        "hate",
        "slur",
        "insult",
        "offensive",
        "harassment",
        "harass",
        "bully",
        "bullying",
        "discrimination",
        "discriminate",
        "discriminatory",
        "prejudice",
        "prejudiced",
        "bias",
        "biased",
        "stereotype",
        "racist",
        "sexist",
        "bigot",
        "bigotry",
        "demean",
        "dehumanise",
        "hostile",
        "hostility",
        "cruelty",
        "deceptive",
        "deception",
        "deceive",
        "misinformation",
        "disinformation",
        "propaganda",
        "conspiracy",
        "fabricated",
        "fabrication",
        "fake",
        "false",
        "wrong",
        "error",
        "mistake",
        "inaccurate",
        "inaccuracy",
        "unethical",
        "immoral",
        "evil",
        "wrongdoing",
        "exploit",
        "exploitation",
        "extremist",
        "extremism",
        "terrorism",
        "terrorist",
        "suicide",
        "self-harm",
        "addiction",
        "unsafe",
        "condescending",
        "condescension",
        "patronising",
        "patronizing",
        "preachy",
        "moralise",
        "moralising",
        "moralize",
        "moralizing",
        "lecture",
        "lecturing",
        "scold",
        "scolding",
        "sermonise",
        "sermonising",
        "gore",
        "gratuitous",
        "unnecessary",
        "needless",
        "irrelevant",
        "padding",
        "filler",
        "sycophantic",
        "sycophancy",
        "misuse",
        "unwanted",
        "inappropriate",
        "objectionable",
        "obscene",
        "manipulation",
        "manipulate",
        "defamatory",
        "defamation",
        "libel",
        "slander",
        "plagiarism",
        "cheat",
        "cheating",
        "stalk",
        "stalking",
        "infringement",
        "exaggerate",
        "exaggeration",
        "overconfident",
        "knee-jerk",
        "suspicion",
        "accusatory",
    ]
)
POSITIVE = frozenset(
    [
        "helpful",
        "useful",
        "beneficial",
        "good",
        "kind",
        "kindness",
        "considerate",
        "consideration",
        "caring",
        "care",
        "compassion",
        "compassionate",
        "empathy",
        "respect",
        "respectful",
        "fair",
        "fairly",
        "fairness",
        "ethical",
        "ethically",
        "moral",
        "accurate",
        "accuracy",
        "accurately",
        "correct",
        "correctly",
        "truthful",
        "safe",
        "safely",
        "safety",
        "secure",
        "security",
        "wellbeing",
        "well-being",
        "support",
        "supportive",
        "clear",
        "clarity",
        "reliable",
        "trustworthy",
        "thoughtful",
        "wise",
        "wisdom",
        "sensible",
        "reasonable",
        "appropriate",
        "legitimate",
        "lawful",
        "legal",
        "healthy",
        "inclusive",
        "peace",
        "peaceful",
        "benign",
        "harmless",
        "constructive",
        "relevant",
        "informative",
        "valuable",
        "quality",
        "dignity",
        "decent",
        "decency",
        "humane",
    ]
)


@functools.lru_cache(maxsize=65536)
def valence(word: str) -> int:
    """+1 for a good-valence word, -1 for a bad one, 0 otherwise."""
    w = word.lower()
    lem = lemma(w)
    for form in (w, lem):
        if form in NEGATIVE:
            return -1
        if form in POSITIVE:
            return 1
    if w.endswith("less") and lemma(w[:-4]) in NEGATIVE:
        return 1
    return 0
