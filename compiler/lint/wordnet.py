"""Build the antonym-scale table ``antonyms.json`` from the WordNet 3.0 database.

The hand-written scales of :mod:`.lexicon` cover the dimensions responses are usually
judged on; WordNet's antonym pointers cover the rest of everyday English. Each lexical
antonym pair (``long``/``short``, ``agree``/``disagree``, ``include``/``exclude``) becomes
one scale. A pole holds the word's synset, for adjectives the satellite synsets that are
"similar to" it (``lengthy``, ``brief``), and the derivationally related forms of those
words (``confident`` → ``confidence``), so that a principle that asks for *brevity* and one
that asks for *lengthy* answers land on opposite poles of one scale.

The table is generated once and shipped with caic (``compiler/lint/antonyms.json``); the
linter never needs WordNet itself. To regenerate it (Debian: ``apt-get install
wordnet-base``)::

    python -m caic.compiler.lint.wordnet /usr/share/wordnet compiler/lint/antonyms.json

WordNet 3.0 Copyright 2006 by Princeton University. All rights reserved. THIS SOFTWARE
AND DATABASE IS PROVIDED "AS IS" AND PRINCETON UNIVERSITY MAKES NO REPRESENTATIONS OR
WARRANTIES, EXPRESS OR IMPLIED. (WordNet 3.0 licence: use, copy, modify and distribute
for any purpose without fee, with this notice.)
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path

NOTICE = (
    "Generated from WordNet 3.0 by caic.compiler.lint.wordnet. WordNet 3.0 Copyright "
    "2006 by Princeton University. All rights reserved. THIS SOFTWARE AND DATABASE IS "
    "PROVIDED AS IS AND PRINCETON UNIVERSITY MAKES NO REPRESENTATIONS OR WARRANTIES, "
    "EXPRESS OR IMPLIED."
)

_FILES = {"n": "data.noun", "v": "data.verb", "a": "data.adj", "r": "data.adv"}
_POS = {"n": "n", "v": "v", "a": "a", "s": "a", "r": "r"}
SENSES = 2
"""A word joins a pole only through one of its SENSES most frequent senses (WordNet's
index order), so rare readings (``short`` as *curt*, ``rude`` as *early*) stay out."""
MAX_POLE = 60
"""Poles larger than this are cut to their head synset: huge satellite clusters (``good``)
are too loose to mean one thing."""


class _Synset:
    __slots__ = ("words", "ptrs")

    def __init__(self, words: list[str], ptrs: list[tuple[str, str, str, int, int]]):
        self.words = words
        self.ptrs = ptrs


def _read(folder: Path) -> dict[tuple[str, str], _Synset]:
    out: dict[tuple[str, str], _Synset] = {}
    for pos, name in _FILES.items():
        for line in (folder / name).read_text(encoding="latin-1").splitlines():
            if not line or line.startswith(" "):
                continue
            head = line.split(" | ", 1)[0].split()
            offset = head[0]
            n = int(head[3], 16)
            words = [head[4 + 2 * i].lower().split("(")[0] for i in range(n)]
            i = 4 + 2 * n
            pcnt = int(head[i])
            ptrs = []
            for k in range(pcnt):
                sym, off, ppos, st = head[i + 1 + 4 * k : i + 5 + 4 * k]
                ptrs.append((sym, off, _POS[ppos], int(st[:2], 16), int(st[2:], 16)))
            out[(pos, offset)] = _Synset(words, ptrs)
    return out


def _ranks(folder: Path) -> dict[tuple[str, str], dict[str, int]]:
    """(pos, offset) → {lemma: sense rank of that synset for the lemma (0 = commonest)}."""
    out: dict[tuple[str, str], dict[str, int]] = defaultdict(dict)
    for pos, name in (
        ("n", "index.noun"),
        ("v", "index.verb"),
        ("a", "index.adj"),
        ("r", "index.adv"),
    ):
        for line in (folder / name).read_text(encoding="latin-1").splitlines():
            if not line or line.startswith(" "):
                continue
            f = line.split()
            lemma, synset_cnt, p_cnt = f[0], int(f[2]), int(f[3])
            offsets = f[6 + p_cnt : 6 + p_cnt + synset_cnt]
            for rank, off in enumerate(offsets):
                out[(pos, off)][lemma] = rank
    return out


def build(folder: Path) -> dict[str, object]:
    """The table: ``{"scales": [name, ...], "words": {word: [[scale, pole], ...]}}``."""
    syn = _read(folder)
    ranks = _ranks(folder)

    def common(key: tuple[str, str], word: str) -> bool:
        return ranks.get(key, {}).get(word, SENSES) < SENSES

    def pole_words(key: tuple[str, str], word_no: int) -> set[str]:
        s = syn[key]
        members = {key}
        if key[0] == "a":
            members |= {(p, off) for sym, off, p, _, _ in s.ptrs if sym == "&"}
        words: set[str] = set()
        for m in members:
            words.update(w for w in syn[m].words if common(m, w))
        if len(words) > MAX_POLE:
            words = {w for w in s.words if common(key, w)}
        # Derivationally related forms of the antonym word itself (confident → confidence).
        for sym, off, p, src, tgt in s.ptrs:
            if sym in ("+", "\\") and src == word_no and (p, off) in syn:
                target = syn[(p, off)].words
                if 1 <= tgt <= len(target) and common((p, off), target[tgt - 1]):
                    words.add(target[tgt - 1])
        return {w for w in words if "_" not in w and w.isascii() and len(w) > 2}

    scales: dict[tuple[str, str], tuple[set[str], set[str]]] = {}
    for key, s in syn.items():
        for sym, off, p, src, tgt in s.ptrs:
            if sym != "!" or src == 0 or (p, off) not in syn:
                continue
            a, b = s.words[src - 1], syn[(p, off)].words[tgt - 1]
            if "_" in a or "_" in b or not (common(key, a) and common((p, off), b)):
                continue
            name = tuple(sorted((a, b)))
            pos_side = pole_words(key, src)
            neg_side = pole_words((p, off), tgt)
            if a != name[0]:
                pos_side, neg_side = neg_side, pos_side
            old = scales.get(name)  # type: ignore[arg-type]
            if old:
                old[0].update(pos_side)
                old[1].update(neg_side)
            else:
                scales[name] = (pos_side, neg_side)  # type: ignore[index]
    names = sorted(scales)
    words: dict[str, list[list[int]]] = defaultdict(list)
    for i, name in enumerate(names):
        pos_side, neg_side = scales[name]
        both = pos_side & neg_side
        for w in sorted(pos_side - both):
            words[w].append([i, 1])
        for w in sorted(neg_side - both):
            words[w].append([i, -1])
    return {
        "notice": NOTICE,
        "scales": ["|".join(n) for n in names],
        "words": dict(sorted(words.items())),
    }


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(
            "usage: python -m caic.compiler.lint.wordnet WORDNET_DICT_DIR OUT.json", file=sys.stderr
        )
        return 2
    table = build(Path(argv[0]))
    Path(argv[1]).write_text(
        json.dumps(table, separators=(",", ":"), sort_keys=False) + "\n", encoding="utf-8"
    )
    print(f"{len(table['scales'])} scales, {len(table['words'])} words -> {argv[1]}")  # type: ignore[arg-type]
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
