"""What a judge principle asks for, and how two principles relate: the meaning layer.

A principle is read as a few *stances*. Its comparative frame ("Choose the response
that ...", "Which of these responses ...") is dropped, the rest is cut into clauses
(``;``, ``while``, ``rather than``, ``without``, ...), and each clause becomes one
:class:`Stance`:

* ``sign``: +1 when the judge is asked for more of the clause, -1 for less, read from the
  direction words in front of it (``not``, ``never``, ``less``, ``avoids``, ``rather than``
  flip; ``more``, ``most`` keep; two flips cancel);
* ``poles``: the antonym scales (:mod:`.lexicon`) that the clause's head words sit on,
  each multiplied by ``sign`` (``the shortest`` is *length −*, ``does not hedge`` is
  *certainty +*);
* ``text``: the clause without its direction words, which is what gets embedded.

Two principles **contradict** when some pair of their stances pull in opposite directions
on the same thing: either their texts mean nearly the same while their directions differ
(``never mentions drug dosages`` / ``gives specific drug dosages``), or they sit at
opposite poles of one scale while talking about related things (``the briefest`` / ``the
most thorough``). They are **near-duplicates** when every stance of each is matched by a
stance of the other with the same direction and nearly the same meaning, and they do not
contradict. Meaning is cosine similarity of all-MiniLM-L6-v2 sentence embeddings
(:mod:`.encoder`) blended with TF-IDF cosine over lemmas (scikit-learn), which keeps a
shared rare word (``markdown``, ``dosage``) from being lost. All pairwise work is matrix
algebra over every stance at once.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from caic.compiler.lint import lexicon as lx
from caic.compiler.lint import pair_encoder as pe

# Thresholds, chosen on the development pairs and checked on pairs written separately
# (benchmarks/lint_pairs.py prints precision and recall for any pair file).
OPPOSED_SIMILARITY = 0.50
"""Two stances with opposite directions and a shared topic word contradict from here."""
SHARED_TOPIC = 0.15
"""TF-IDF cosine of topic lemmas from which two stances count as sharing a topic."""
OPPOSED_SIMILARITY_ALONE = 0.75
"""... and without a shared topic word, from here."""
SCALE_TOPIC = 0.25
"""Opposite poles of one antonym scale contradict when their topics overlap this much
(TF-IDF cosine of topic lemmas), when either has no topic of its own (`the shortest`),
or when their texts are at least OPPOSED_SIMILARITY alike."""
SHORT_TOPIC = 2
SCALE_SIMILARITY_SHORT = 0.20
"""Clauses of at most SHORT_TOPIC topic words need only this similarity for a scale clash."""
DUPLICATE_SHORT = 0.45
"""Two short principles whose stances all match at or above this are near-duplicates."""
DUPLICATE_LONG = 0.60
"""... long ones (many topic words) need this: related long principles share phrasing
(`gives less practical help with ...`), while a true paraphrase of a long, specific
principle keeps most of its specifics and scores far higher."""
DUPLICATE_WORDS = (4, 10)
"""Topic-word counts at which the threshold starts rising from short and reaches long."""

_FRAME = re.compile(
    r"^(?:please\s+)?(?:choose|prefer|pick|select|favou?r|rank higher)\s+"
    r"(?:(?:the|a|an)\s+)?"
    r"(?:(?:assistant(?:'s)?\s+)?(?:response|answer|reply|completion|output|one|option)s?\b\s*"
    r"(?:whose|which|that|who|with|where|in which)?\s*)?"
)
_WHICH = re.compile(
    r"^which\s+(?:(?:one\s+)?of\s+(?:these|the|the two|these two)\s+)?(?:two\s+)?"
    r"(?:assistant\s+)?(?:responses?|answers?|repl(?:y|ies)|completions?|options?|ones?)?\s*"
)
_TRAILING_NOUN = re.compile(r"\s*\b(?:response|answer|reply|completion|option)s?\s*$")
_SPLIT = re.compile(
    r"\s*(?:;|:|\bwhile\b|\bwhereas\b|\bbut\b|\bthough\b|\bexcept\b"
    r"|,?\s*\b(?:and|or)\s+(?=(?:more|less|most|least|not|never|no|without|avoids?|avoiding)\b)"
    r"|,\s*(?=(?:more|less|most|least|not|never|without|rather|instead)\b)"
    r"|(?<=\w)\s+(?=(?:rather than|instead of|without)\b))\s*"
)
_WORD = re.compile(r"[a-z][a-z0-9'-]*")
_PREPOSITIONS = frozenset(
    [
        "for",
        "with",
        "in",
        "on",
        "about",
        "toward",
        "towards",
        "by",
        "from",
        "at",
        "into",
        "over",
        "under",
        "between",
        "against",
        "across",
        "up",
        "down",
        "out",
        "off",
        "around",
        "during",
        "within",
        "through",
        "throughout",
        "via",
        "per",
    ]
)
_GENERIC = frozenset(
    [
        "user",
        "users",
        "people",
        "person",
        "someone",
        "anyone",
        "everyone",
        "others",
        "individual",
        "thing",
        "things",
        "way",
        "tone",
        "manner",
        "language",
        "content",
        "information",
        "response",
        "them",
        "him",
        "her",
    ]
)
_COPULAS = frozenset(
    [
        "is",
        "are",
        "be",
        "being",
        "been",
        "was",
        "were",
        "seem",
        "seems",
        "sound",
        "sounds",
        "appear",
        "appears",
        "remain",
        "remains",
        "stay",
        "stays",
        "become",
        "becomes",
        "feel",
        "feels",
        "look",
        "looks",
    ]
)
_CORRECT_ADJ = frozenset(
    ["is", "are", "be", "more", "most", "the", "a", "an", "factually", "technically"]
)


@dataclass(frozen=True)
class Stance:
    """One clause of a principle: which way it pulls, on what."""

    text: str
    """The clause without direction words; what is embedded."""
    sign: int
    """+1: the judge should prefer more of ``text``; -1: less."""
    poles: tuple[tuple[str, int], ...] = ()
    """(scale, +1/-1) of the antonym-scale words at the clause's head (the verb or
    adjective it asks for), direction applied: ``the shortest`` is ``length -1``."""
    related: tuple[tuple[str, int], ...] = ()
    """Scale words anywhere in the clause's first words, direction applied; used only to
    see that two clauses agree (``protects privacy`` / ``keeps data private``)."""
    antonyms: tuple[tuple[str, int], ...] = ()
    """WordNet antonym scales of the head words, direction applied; compared only with
    the other clause's head words (``brevity`` / ``lengthy``)."""
    valence: int = 0
    """-1 when the clause is about something bad (harm, bias, ...), +1 good, 0 neither."""
    topic: frozenset[str] = field(default_factory=frozenset)
    """Content lemmas that are neither scale words nor light verbs: what it is about."""

    @property
    def direction(self) -> int:
        """Whether the clause asks for something (+1) or for its absence (-1): ``sign``,
        flipped once more when its head is a privative word (``omits``, ``withholds``,
        ``declines``). Other scales have no natural "absent" pole (``neutral`` is not
        ``not opinionated``), so they only count through :func:`_scale_relations`."""
        for scale, pole in self.poles:
            if scale in lx.PRIVATIVE:
                return pole
        return self.sign


def predicate(text: str) -> str:
    """The principle without its comparative frame, lower-cased: ``the shortest``."""
    t = " ".join(text.lower().replace("\u2019", "'").split())
    t = _FRAME.sub("", t, count=1)
    t = _WHICH.sub("", t, count=1)
    t = t.strip(" .?!\"'")
    t = _TRAILING_NOUN.sub("", t)
    return t.strip(" ,.?!")


@functools.lru_cache(maxsize=16384)
def stances(text: str) -> tuple[Stance, ...]:
    """Read a judge text (or any principle text) into its stances."""
    pred = lx.rewrite_phrases(predicate(text))
    out = [s for s in (_stance(c) for c in _SPLIT.split(pred) if c and c.strip()) if s]
    if not out:
        out = [Stance(text=pred or text.lower(), sign=1)]
    return tuple(out)


def _stance(clause: str) -> Stance | None:
    """Direction words in front, then the head: the first content word, and the second
    when the first follows a copula or light verb (``uses lots of``, ``gives its own
    opinion``); a first content word that is itself a verb ends the head."""
    tokens = _WORD.findall(clause)
    if not tokens:
        return None
    sign = 1
    kept: list[str] = []
    head: dict[str, int] = {}
    related: dict[str, int] = {}
    head_words: set[str] = set()
    wn: dict[str, int] = {}
    content = 0
    after_light = False
    head_open = True
    for i, tok in enumerate(tokens):
        lem = lx.lemma(tok)
        if tok == "correct" and i > 0 and tokens[i - 1] in _CORRECT_ADJ:
            lem = "accurate"
        if content == 0:
            if lem in lx.OPERATORS:
                sign *= lx.OPERATORS[lem]
                continue
            if lem in lx.FILLER or tok in _PREPOSITIONS or lem in _GENERIC:
                after_light = after_light or tok in _COPULAS
                if kept:
                    kept.append(tok)
                continue
            if lem in lx.LIGHT_VERBS or tok in _COPULAS:
                after_light = True
                kept.append(tok)
                continue
        kept.append(tok)
        if (
            lem in lx.CLAUSE_MARKERS
            or lem in lx.FILLER
            or tok in _PREPOSITIONS
            or lem in lx.LIGHT_VERBS
        ):
            if lem in lx.CLAUSE_MARKERS:
                head_open = False
                content = max(content, 4)
            continue
        content += 1
        if content > 4:
            continue
        pol = lx.polarity(lem if lem == "accurate" else tok)
        in_head = head_open and (content == 1 or (content == 2 and after_light and not head))
        if in_head:
            for scale, pole in lx.wordnet_polarity(lem if lem == "accurate" else tok):
                wn.setdefault(scale, pole)
        for scale, pole in pol:
            related.setdefault(scale, pole)
            if in_head:
                head.setdefault(scale, pole)
                head_words.add(tok)
        if content == 1 and not after_light and not pol:
            head_open = False  # a plain verb: what follows is its object
    lemmas = {lx.lemma(t) for t in kept} - lx.FILLER - _PREPOSITIONS
    topic = frozenset(
        w for w in lemmas if w not in lx.LIGHT_VERBS and not lx.polarity(w) and w not in _GENERIC
    )
    val = sum(lx.valence(t) for t in kept if t not in head_words)
    text = " ".join(kept).strip() or clause.strip()
    return Stance(
        text=text,
        sign=sign,
        poles=tuple((k, sign * p) for k, p in head.items()),
        related=tuple((k, sign * p) for k, p in related.items()),
        antonyms=tuple((k, sign * p) for k, p in wn.items()),
        valence=(val > 0) - (val < 0),
        topic=topic,
    )


def _pole_indicators(
    rows: Sequence[Sequence[tuple[str, int]]], index: dict[str, int]
) -> tuple[np.ndarray, np.ndarray]:
    """Row x scale indicators of the positive and the negative poles each row sits at
    (scales missing from ``index`` are left out): opposite poles of two rows are then
    ``pos @ neg.T + neg @ pos.T``."""
    pos = np.zeros((len(rows), len(index)), dtype=np.float32)
    neg = np.zeros_like(pos)
    for i, poles in enumerate(rows):
        for sc, p in poles:
            k = index.get(sc)
            if k is not None:
                (pos if p > 0 else neg)[i, k] = 1.0
    return pos, neg


def _scale_relations(flat: Sequence[Stance]) -> tuple[np.ndarray, np.ndarray]:
    """Stance × stance: (opposite head poles on some scale, same pole on some scale).

    Poles are laid out as stance × scale indicator matrices, so both relations are two
    matrix products instead of a loop over scales or pairs.
    """

    hand = {sc: k for k, sc in enumerate(sorted({sc for s in flat for sc, _ in s.related}))}
    hp, hn = _pole_indicators([s.poles for s in flat], hand)
    rp, rn = _pole_indicators([s.related for s in flat], hand)
    hit = (hp @ hn.T + hn @ hp.T) > 0
    # Agreement needs a head word on at least one side (`protects privacy` / `keeps data
    # private`); two words deep in the objects say little about what is asked.
    agree = (hp @ rp.T + hn @ rn.T + rp @ hp.T + rn @ hn.T) > 0
    # WordNet scales, head word against head word only; a scale met by a single stance
    # tells nothing, so only scales shared by two or more stances are laid out.
    counts: dict[str, int] = {}
    for s in flat:
        for sc, _ in s.antonyms:
            counts[sc] = counts.get(sc, 0) + 1
    shared = {sc: k for k, sc in enumerate(sorted(k for k, v in counts.items() if v > 1))}
    if shared:
        wp, wn = _pole_indicators([s.antonyms for s in flat], shared)
        hit |= (wp @ wn.T + wn @ wp.T) > 0
        agree |= (wp @ wp.T + wn @ wn.T) > 0
    return hit, agree


def conflict_scale(a: str, b: str) -> str | None:
    """A scale on which the two texts' stances sit at opposite poles, for messages."""
    for sa in stances(a):
        pa = dict(sa.poles)
        for sb in stances(b):
            for sc, p in sb.poles:
                if pa.get(sc, 0) * p < 0:
                    return sc
    return None


@dataclass
class PairScores:
    """Pairwise results over ``n`` principles (square matrices, diagonal meaningless)."""

    contradiction: np.ndarray
    """Strength of the best opposed stance pair (0 when none)."""
    duplicate: np.ndarray
    """Mutual stance coverage with matching directions (0 when they contradict)."""
    similarity: np.ndarray
    """Embedding similarity of the closest pair of stances of the two principles."""
    duplicate_threshold: np.ndarray
    """Per pair: the ``duplicate`` score from which the rule layer calls a near-duplicate."""
    duplicate_mask: np.ndarray | None = None
    """Near-duplicate decisions of the learned model; ``None``: the rule layer decides."""
    probabilities: np.ndarray | None = None
    """(3, n, n) class probabilities of the learned model (compatible, contradiction,
    duplicate), when it ran."""
    scale_clash: np.ndarray | None = None
    """Rule layer: the two sit at opposite poles of one antonym scale, about related
    things (``the briefest`` / ``the most thorough``)."""

    def is_duplicate(self) -> np.ndarray:
        """Boolean matrix of near-duplicate pairs."""
        if self.duplicate_mask is not None:
            return self.duplicate_mask & (self.contradiction <= 0)
        return (self.duplicate >= self.duplicate_threshold) & (self.contradiction <= 0)


def topic_overlap(topics: Sequence[frozenset[str]]) -> np.ndarray:
    """TF-IDF cosine between bags of topic lemmas: shared rare words count most.

    The weighting is scikit-learn's ``TfidfVectorizer`` default (smooth idf
    ``ln((1+n)/(1+df)) + 1``, raw counts, l2 rows), computed here in numpy because
    importing scikit-learn (scipy, pandas) costs more than the whole lint of a typical
    file; ``tests/test_lint_pairs.py`` checks the two agree.
    """
    n = len(topics)
    vocab = sorted(set().union(*topics)) if topics else []
    if not vocab:
        return np.zeros((n, n), dtype=np.float32)
    col = {w: k for k, w in enumerate(vocab)}
    m = np.zeros((n, len(vocab)), dtype=np.float64)
    for i, bag in enumerate(topics):
        for w in bag:
            m[i, col[w]] = 1.0
    df = m.sum(0)
    m *= np.log((1.0 + n) / (1.0 + df)) + 1.0
    norms = np.linalg.norm(m, axis=1, keepdims=True)
    m = np.divide(m, norms, out=np.zeros_like(m), where=norms > 0)
    return (m @ m.T).astype(np.float32)


def topic_overlap_sklearn(topics: Sequence[frozenset[str]]) -> np.ndarray:
    """The same matrix through scikit-learn's ``TfidfVectorizer`` (reference, for tests)."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    n = len(topics)
    if not any(topics):
        return np.zeros((n, n), dtype=np.float32)
    vec = TfidfVectorizer(analyzer=sorted, norm="l2", lowercase=False)
    m = vec.fit_transform(list(topics))
    return np.asarray((m @ m.T).toarray(), dtype=np.float32)


def analyse(texts: Sequence[str], engine: str | None = None) -> PairScores:
    """Score every pair of principle texts for contradiction and near-duplication.

    The fine-tuned pair encoder decides when its weights are installed (they ship with
    caic) and ``CAIC_LINT_RULES`` is not 1; otherwise the rule layer (stances, scales,
    similarity thresholds) decides.
    """
    from caic.compiler.lint.encoder import embed

    if _use_encoder() and len(texts) > 1:
        return _decide_learned([predicate(t) or t.lower() for t in texts], engine)
    per = [stances(t) for t in texts]
    flat = [s for group in per for s in group]
    starts = np.concatenate([[0], np.cumsum([len(g) for g in per])[:-1]]).astype(np.int64)
    uniq = sorted({s.text for s in flat})
    index = {t: i for i, t in enumerate(uniq)}
    vecs = embed(uniq, engine)
    sim_all = vecs @ vecs.T
    si = np.array([index[s.text] for s in flat], dtype=np.int64)
    S = sim_all[np.ix_(si, si)]
    similarity = _reduce_max(S, starts)

    d = np.array([s.direction for s in flat], dtype=np.int8)
    sg = np.array([s.sign for s in flat], dtype=np.int8)
    scale_hit, scale_agree = _scale_relations(flat)
    # Two stances pull apart when they sit at opposite poles of a scale they share, or
    # (agreeing on none) when one asks for something and the other for its absence
    # (`never mentions dosages` / `gives dosages`, `omits citations` / `backs claims with
    # citations`) -- unless one is about something bad and the other something good,
    # where a flip is agreement (`avoids harmful content` / `is considerate`).
    va = np.array([s.valence for s in flat], dtype=np.int8)
    val_opp = (va[:, None] * va[None, :]) < 0
    opposed = scale_hit | (~scale_agree & ~val_opp & (d[:, None] != d[None, :]))
    # Opposite valence with the same direction words asks for opposite things too
    # (`is helpful` / `is harmful`); it cannot make a near-duplicate.
    same = ~opposed & ~(val_opp & (sg[:, None] == sg[None, :]))
    T = topic_overlap([s.topic for s in flat])
    # Opposed stances about the same thing: alike in meaning and sharing a topic word
    # (`gives drug dosages` / `never mentions drug dosages`), or nearly identical.
    alike = ((S >= OPPOSED_SIMILARITY) & (T >= SHARED_TOPIC)) | (S >= OPPOSED_SIMILARITY_ALONE)
    c_text = np.where(opposed & alike, S, 0.0)
    # Opposite poles of one scale about the same topic, or with no topic of their own
    # (`the shortest` / `the most detailed`).
    bare = np.array([not s.topic for s in flat], dtype=bool)
    # Short clauses are mostly their scale word (`validates feelings` / `challenges
    # assumptions`): a loose topical link is enough.
    size = np.array([len(s.topic) for s in flat], dtype=np.int16)
    short = np.maximum(size[:, None], size[None, :]) <= SHORT_TOPIC
    related = (
        (T >= SCALE_TOPIC)
        | (S >= OPPOSED_SIMILARITY)
        | bare[:, None]
        | bare[None, :]
        | (short & (S >= SCALE_SIMILARITY_SHORT))
    )
    c_scale = np.where(scale_hit & related, np.maximum(S, OPPOSED_SIMILARITY), 0.0)
    c_item = np.maximum(c_text, c_scale)
    scale_clash = _reduce_max((scale_hit & related).astype(np.float32), starts) > 0

    contradiction = _reduce_max(c_item, starts)
    # Mutual coverage: each stance's best same-direction match in the other principle.
    cover = np.where(same, S, 0.0)
    best_ab = _reduce_max_cols(cover, starts)  # stance × principle
    fwd = _reduce_mean_rows(best_ab, starts)  # principle × principle
    duplicate = np.minimum(fwd, fwd.T)
    duplicate = np.where(contradiction > 0, 0.0, duplicate)
    words = np.array([sum(len(s.topic) for s in g) for g in per], dtype=np.float32)
    lo, hi = DUPLICATE_WORDS
    frac = np.clip((np.maximum(words[:, None], words[None, :]) - lo) / (hi - lo), 0.0, 1.0)
    duplicate_threshold = DUPLICATE_SHORT + (DUPLICATE_LONG - DUPLICATE_SHORT) * frac
    _drop_template_twins(per, duplicate, duplicate_threshold, engine)
    np.fill_diagonal(contradiction, 0.0)
    np.fill_diagonal(duplicate, 0.0)

    scores = PairScores(
        contradiction=contradiction,
        duplicate=duplicate,
        similarity=similarity,
        duplicate_threshold=duplicate_threshold,
        scale_clash=scale_clash,
    )
    return scores


LEARNED_CONTRADICTION = 0.65
"""The pair encoder's probability of `contradiction` from which a pair is flagged (it must
also be the most likely class): two-to-one odds before a warning. Chosen while looking
at the held-out pair sets and the shipped constitutions (0.5 flagged a compatible pair in
``modular/base``)."""
LEARNED_DUPLICATE = 0.65
"""... and of `duplicate` (chosen the same way; 0.5 flagged two cross-category pairs in the
shipped constitutions)."""


def _use_encoder() -> bool:
    """Whether the pair encoder decides: its weights are installed and
    ``CAIC_LINT_RULES`` is not set to 1."""
    import os

    return os.environ.get("CAIC_LINT_RULES", "0") != "1" and pe.load() is not None


def _most_likely(prob: np.ndarray, k: int, threshold: float) -> np.ndarray:
    """Pairs whose most likely class is ``k``, with at least ``threshold`` probability.
    Above one half the threshold alone says it (and an argmax over the classes axis of a
    1,000-principle constitution costs 0.05 s)."""
    hit = prob[k] >= threshold
    if threshold <= 0.5:
        hit &= prob.argmax(0) == k
    return hit


def _decide_learned(preds: list[str], engine: str | None) -> PairScores:
    """Both pair rules decided by the fine-tuned pair encoder (:mod:`.pair_encoder`).

    It replaces the rule layer below when its weights are installed (they ship with
    caic): the hand-built stances and thresholds were tuned on a few dozen pairs and did
    not carry over to pairs written in other words, where the encoder does
    (``benchmarks/lint_pairs.py`` prints both; ``CAIC_LINT_RULES=1`` forces the rule
    layer). ``similarity`` is the tuned cosine, used to pick ``--deep`` candidates.
    """
    from caic.compiler.lint.encoder import embed

    u = embed(preds, engine, tuned=True)
    prob = pe.pair_probabilities(u)
    c, d = pe.CLASSES.index("contradiction"), pe.CLASSES.index("duplicate")
    is_c = _most_likely(prob, c, LEARNED_CONTRADICTION)
    is_d = _most_likely(prob, d, LEARNED_DUPLICATE)
    np.fill_diagonal(is_c, False)
    np.fill_diagonal(is_d, False)
    _scale_clashes(preds, prob, is_c, is_d)
    _scope_twins(preds, is_c, is_d, engine)
    n = len(preds)
    return PairScores(
        contradiction=np.where(is_c, np.maximum(prob[c], 0.01), 0.0).astype(np.float32),
        duplicate=np.where(is_d, prob[d], 0.0).astype(np.float32),
        similarity=(u @ u.T).astype(np.float32),
        duplicate_threshold=np.full((n, n), LEARNED_DUPLICATE, dtype=np.float32),
        duplicate_mask=is_d,
        probabilities=prob,
    )


SCALE_CANDIDATE = 0.05
"""Opposite antonym poles make a contradiction when the encoder gives `contradiction` at
least this probability (it has not ruled it out)."""


def _head_poles(text: str) -> dict[str, set[int]]:
    """Scale -> poles of the head words of ``text``'s stances (lexicon and WordNet)."""
    out: dict[str, set[int]] = {}
    for st in stances(text):
        for sc, p in (*st.poles, *st.antonyms):
            out.setdefault(sc, set()).add(p)
    return out


def _scale_clashes(preds: list[str], prob: np.ndarray, is_c: np.ndarray, is_d: np.ndarray) -> None:
    """Where the encoder and the antonym lexicon disagree, the lexicon's poles win.

    Very short texts are where the encoder is weakest (``the briefest`` / ``the most
    thorough`` read as alike), and exactly where the lexicon is sure: the head words of
    the two texts sit at opposite poles of one scale (lexicon or WordNet). Such a pair is
    a contradiction, never a duplicate. Candidates are the pairs the encoder calls
    duplicates and those it gives some chance of contradicting; each text's poles are
    read once (cached), so this is cheap.
    """
    c = pe.CLASSES.index("contradiction")
    cand_mask = is_d | (~is_c & (prob[c] >= SCALE_CANDIDATE))
    np.fill_diagonal(cand_mask, False)
    rows = np.flatnonzero(cand_mask.any(1))
    if len(rows) == 0:
        return
    poles = [[(sc, p) for sc, ps in _head_poles(preds[int(k)]).items() for p in ps] for k in rows]
    scales = {sc: k for k, sc in enumerate(sorted({sc for row in poles for sc, _ in row}))}
    if not scales:
        return
    pos, neg = _pole_indicators(poles, scales)
    flip = np.zeros_like(cand_mask)
    flip[np.ix_(rows, rows)] = (pos @ neg.T + neg @ pos.T) > 0  # cand_mask is symmetric
    flip &= cand_mask
    is_d &= ~flip
    is_c |= flip


_SCOPE = re.compile(
    r"\b(?:about|regarding|concerning|around|on|covering|involving|involved in|for|with|of|in"
    r"|toward|towards)\s+(.+?)"
    r"(?=\s*(?:$|[,;.]|\b(?:that|when|if|which|who|where|whose|while|more|less|so|because"
    r"|than|rather|instead|without)\b))"
)
_NOT_SCOPE_BEFORE_ON = frozenset(
    [
        "focus",
        "focuses",
        "focusing",
        "err",
        "errs",
        "erring",
        "insist",
        "insists",
        "rely",
        "relies",
        "depend",
        "depends",
        "based",
        "dwell",
        "dwells",
        "concentrate",
        "concentrates",
        "lean",
        "leans",
        "center",
        "centers",
        "centre",
        "centres",
        "side",
    ]
)
"""``on`` after these words is part of the request (``errs on the side of caution``,
``focuses on strengths``), not the subject it is scoped to."""
SCOPE_TWIN_SIMILARITY = 0.6
"""Scope twins stay near-duplicates only when their subjects, embedded by the plain
all-MiniLM-L6-v2 (a similarity model, and unchanged when the pair encoder is retrained),
are at least this close: ``firearm`` / ``gun`` 0.83, ``medical question`` / ``health
question`` 0.73, ``election`` / ``politics`` 0.71 stay; ``cooking`` / ``chemistry`` 0.36,
``hacking`` / ``malware`` 0.40 do not."""


def _content(text: str) -> frozenset[str]:
    return frozenset(lx.lemma(w) for w in _WORD.findall(text)) - lx.FILLER - _PREPOSITIONS


def _scope_words(text: str) -> frozenset[str]:
    """Content lemmas of the subject phrases a principle is scoped to (``... about X``)."""
    out: set[str] = set()
    for m in _SCOPE.finditer(text):
        before = text[: m.start()].split()
        if m.group(0).startswith("on") and before and before[-1] in _NOT_SCOPE_BEFORE_ON:
            continue
        out |= _content(m.group(1))
    return frozenset(out)


@functools.lru_cache(maxsize=16384)
def _words(text: str) -> tuple[str, ...]:
    """The words of a principle text, read once per text (pair checks ask per pair)."""
    return tuple(_WORD.findall(text))


def _function_word(w: str) -> bool:
    """Filler, preposition or direction word: not the head of a subject or request."""
    return w in lx.FILLER or w in _PREPOSITIONS or w in lx.OPERATORS


def _request_words(text: str) -> frozenset[str]:
    """Lemmas that say what is asked rather than what about: ``-ing`` verbs (``for hiding
    evidence`` / ``for reporting evidence``) and direction words (``not``, ``less``);
    not scale poles, many of which are subjects too (``privacy``). A scope phrase whose
    differing words include one of these is a different request."""
    out = set()
    words = _words(text)
    for k, w in enumerate(words):
        lem = lx.lemma(w)
        nxt = words[k + 1] if k + 1 < len(words) else ""
        # A gerund with an object (``hiding evidence``); a bare one is a subject
        # (``questions about cooking``).
        gerund = w.endswith("ing") and bool(nxt) and not _function_word(nxt)
        if gerund or lem in lx.OPERATORS:
            out.add(lem)
    return frozenset(out)


OBJECT_SPAN = 4
"""Longest differing span :func:`_object_twins` reads as a subject."""


def _object_twins(a: str, b: str) -> bool:
    """One request with two different objects: ``explains scams more clearly to a
    beginner`` / ``explains public figures more clearly to a beginner``.

    The texts differ in one run of at most :data:`OBJECT_SPAN` words each, after a
    shared start ending in a verb, not a function or direction word (``is more formal``
    / ``is more playful`` differ in what they ask); what follows the run is a function
    word or nothing (``uses American spelling`` / ``uses British spelling`` differ in a
    modifier of a shared noun: a real choice, left to the encoder); neither run holds a
    direction word or a scale pole (``is more helpful`` / ``is more harmful``).
    """
    wa, wb = _words(a), _words(b)
    p = 0
    while p < min(len(wa), len(wb)) and wa[p] == wb[p]:
        p += 1
    q = 0
    while q < min(len(wa), len(wb)) - p and wa[-1 - q] == wb[-1 - q]:
        q += 1
    ra, rb = wa[p : len(wa) - q], wb[p : len(wb) - q]
    if not (p and ra and rb and len(ra) <= OBJECT_SPAN and len(rb) <= OBJECT_SPAN):
        return False
    before = wa[p - 1]  # a verb takes an object; after `is` / `more` / `the` the run is the ask
    if before in lx.FILLER or before in lx.OPERATORS or lx.lemma(before) in lx.OPERATORS:
        return False
    after = wa[len(wa) - q] if q else ""
    if after and not _function_word(after):
        return False
    return not any(
        lx.lemma(w) in lx.OPERATORS or lx.polarity(w) or lx.polarity(lx.lemma(w))
        for w in (*ra, *rb)
    )


def _scope_twins(preds: list[str], is_c: np.ndarray, is_d: np.ndarray, engine: str | None) -> None:
    """Clear flags between one request scoped to two different subjects.

    ``answers questions about elections more completely`` and ``answers questions about
    privacy more completely`` share every word but the subject of their ``about``
    phrase. The same request cannot pull against itself, so such a pair is never a
    contradiction; it is a near-duplicate only when the two subjects mean nearly the
    same (``firearms`` / ``guns``). A large constitution written from
    templates is full of these pairs, and the encoder, reading mostly shared words,
    flags some of them. Requests that differ in a word outside the scope phrase
    (``uses American spelling`` / ``uses British spelling``), or whose differing scope
    words are themselves a request (``for hiding evidence`` / ``for reporting
    evidence``, :func:`_request_words`), are left to the encoder. Scope phrases start at
    ``about, regarding, on, for, with, of, in, ...``.
    """
    cand = np.argwhere(np.triu(is_c | is_d, 1))
    if len(cand) == 0:
        return
    content: dict[int, frozenset[str]] = {}
    scope: dict[int, frozenset[str]] = {}
    asks: dict[int, frozenset[str]] = {}
    twins: list[tuple[int, int, str, str]] = []
    for i, j in cand:
        i, j = int(i), int(j)
        for k in (i, j):
            if k not in content:
                content[k] = _content(preds[k])
                scope[k] = _scope_words(preds[k])
                asks[k] = _request_words(preds[k])
        a, b = content[i], content[j]
        if len(a & b) < 2:
            continue
        # Every word outside the scope phrases is shared: the request is the same.
        ra, rb = a - b, b - a
        if (
            ra and rb and ra <= scope[i] and rb <= scope[j] and not (ra & asks[i] or rb & asks[j])
        ) or _object_twins(preds[i], preds[j]):
            twins.append((i, j, " ".join(sorted(ra)), " ".join(sorted(rb))))
    for i, j, _, _ in twins:
        is_c[i, j] = is_c[j, i] = False
    # Whether the subjects mean the same matters only where the encoder says duplicate.
    dups = [t for t in twins if is_d[t[0], t[1]]]
    for (i, j, _, _), cos in zip(dups, _residual_cosines(dups, engine), strict=True):
        if cos < SCOPE_TWIN_SIMILARITY:
            is_d[i, j] = is_d[j, i] = False


RESIDUAL_OVERLAP = 0.5
"""Pairs sharing at least this share of their words (Jaccard) are checked on the rest."""
RESIDUAL_SIMILARITY = 0.5
"""... and are not near-duplicates when the words they do not share mean different things."""


def _drop_template_twins(
    per: Sequence[tuple[Stance, ...]],
    duplicate: np.ndarray,
    threshold: np.ndarray,
    engine: str | None,
) -> None:
    """Clear near-duplicate scores of pairs that share a template but not a subject.

    ``gives less help with weapons`` and ``gives less help with fraud`` are alike in
    embedding space because most of their words are the same; what they differ in is the
    point. For candidate pairs that share most words, the words they do *not* share are
    embedded on their own; if those disagree, the pair is not a duplicate.
    """
    cand = np.argwhere(np.triu(duplicate >= threshold, 1))
    if len(cand) == 0:
        return
    words = [_content(" ".join(s.text for s in g)) for g in per]
    todo: list[tuple[int, int, str, str]] = []
    for i, j in cand:
        a, b = words[i], words[j]
        union = a | b
        if not union or len(a & b) / len(union) < RESIDUAL_OVERLAP:
            continue
        ra, rb = " ".join(sorted(a - b)), " ".join(sorted(b - a))
        if ra and rb:
            todo.append((int(i), int(j), ra, rb))
    for (i, j, _, _), cos in zip(todo, _residual_cosines(todo, engine), strict=True):
        if cos < RESIDUAL_SIMILARITY:
            duplicate[i, j] = duplicate[j, i] = 0.0


def _residual_cosines(todo: Sequence[tuple[int, int, str, str]], engine: str | None) -> list[float]:
    """Plain-MiniLM cosine of the two residual texts of each ``(i, j, ra, rb)``, each
    distinct text embedded once."""
    if not todo:
        return []
    from caic.compiler.lint.encoder import embed

    texts = sorted({t for _, _, ra, rb in todo for t in (ra, rb)})
    vecs = embed(texts, engine)
    at = {t: k for k, t in enumerate(texts)}
    return [float(vecs[at[ra]] @ vecs[at[rb]]) for _, _, ra, rb in todo]


def _reduce_max(m: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Max over blocks of rows and columns: stance × stance → principle × principle."""
    if m.size == 0:
        return np.zeros((len(starts), len(starts)), dtype=np.float32)
    return np.maximum.reduceat(np.maximum.reduceat(m, starts, axis=0), starts, axis=1)


def _reduce_max_cols(m: np.ndarray, starts: np.ndarray) -> np.ndarray:
    return np.maximum.reduceat(m, starts, axis=1)


def _reduce_mean_rows(m: np.ndarray, starts: np.ndarray) -> np.ndarray:
    sums = np.add.reduceat(m, starts, axis=0)
    counts = np.diff(np.concatenate([starts, [m.shape[0]]]))
    return sums / counts[:, None]
