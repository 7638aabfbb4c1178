"""Semantic diff of two constitutions (``caic diff``).

The diff compares resolved :class:`Constitution` objects, never text, so comments,
whitespace and the order of fields, settings, tags, tensions and priority chains
produce no change. What it reports, in this order:

* metadata (name, version, description) and template overrides;
* categories added, removed, or with a new kind, weight or description;
* principles added, removed, **renamed** (an unmatched old and new principle whose
  texts are similar enough, see :data:`RENAME_THRESHOLD`), **reworded** (judge,
  critique or revision text changed, with a word diff), **moved** between categories,
  and weight, tag, source and example changes;
* the declaration order of the principles both sides share (it decides which
  principle a seeded draw picks, and the system prompt's order);
* sampling probabilities, both stages (:func:`caic.compiler.sampling.probabilities`);
* priority: orderings between categories added or removed (compared as the
  transitive reduction of the chains, so equivalent chains are equal) and tier
  changes (:func:`caic.compiler.sampling.priority_ranks`);
* tensions added, removed or changed (principle names followed through renames);
* settings, key by key;
* which compiled prompts change: the critique, revision and judge records of each
  principle both sides share, compared by the sha256 of their content (the record id,
  which carries the principle's name, is left out), and the system prompt.

``changes`` is empty exactly when none of these differ; the compiled prompt records,
probabilities, tiers and settings are then identical. :mod:`caic.compiler.diff_render`
prints a diff for a terminal or a pull request.
"""

from __future__ import annotations

import difflib
import hashlib
import json
from collections.abc import Iterable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

import caic
from caic.compiler.sampling import priority_ranks, probabilities
from caic.constitution_lang.model import Constitution, Principle, semantic_dump

SCHEMA_VERSION = 1
RENAME_THRESHOLD = 0.6
"""Minimum word-level ``difflib.SequenceMatcher`` ratio between the texts (judge,
critique and revision joined) of an unmatched removed and added principle for them to
count as one principle renamed. 0.6 keeps light rewording together while two
different principles about the same topic (which share many words) stay apart: across
the shipped ``cai-2022-harmless`` → ``hhh-v2`` (rewritten from scratch) the most similar
pair scores 0.47."""
_EPS = 1e-12

ChangeKind = Literal[
    "metadata",
    "template",
    "category-added",
    "category-removed",
    "category-changed",
    "principle-added",
    "principle-removed",
    "principle-renamed",
    "principle-reworded",
    "principle-moved",
    "principle-changed",
    "order",
    "probability",
    "priority",
    "priority-rank",
    "tension-added",
    "tension-removed",
    "tension-changed",
    "setting",
    "prompts",
]


class WordOp(BaseModel):
    """One step of a word diff."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    op: Literal["equal", "delete", "insert", "replace"]
    """What happened to this run of words."""
    old: str = ""
    """The words before (empty for ``insert``)."""
    new: str = ""
    """The words after (empty for ``delete``)."""


class Change(BaseModel):
    """One change of meaning between two constitutions."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: ChangeKind
    """What sort of change it is."""
    subject: str
    """The principle, category, setting key or template it concerns (new name where renamed)."""
    field: str | None = None
    """The field that changed, e.g. ``judge``, ``weight``, ``critique`` (a stage)."""
    old: Any = None
    """The value before (JSON data), where there is one."""
    new: Any = None
    """The value after (JSON data), where there is one."""
    similarity: float | None = None
    """Text similarity of a renamed pair (see ``RENAME_THRESHOLD``)."""
    words: tuple[WordOp, ...] = ()
    """Word diff of a reworded text."""
    summary: str
    """The change in one line of plain words."""


class Side(BaseModel):
    """Identity of one of the two constitutions compared."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    """Constitution name."""
    version: str | None
    """Its version string."""
    sha256: str
    """sha256 of its canonical text."""
    path: str | None
    """The file it was loaded from."""


class ConstitutionDiff(BaseModel):
    """The result of ``caic diff OLD NEW``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: int = SCHEMA_VERSION
    """Version of this JSON shape."""
    kind: Literal["constitution-diff"] = "constitution-diff"
    """Artefact type."""
    caic_version: str = caic.__version__
    """caic version that computed it."""
    old: Side
    """The constitution diffed from."""
    new: Side
    """The constitution diffed to."""
    rename_threshold: float = RENAME_THRESHOLD
    """Similarity at or above which an unmatched removed/added pair is a rename."""
    changes: tuple[Change, ...] = ()
    """Every change of meaning; empty exactly when nothing of meaning changed."""
    prompts_changed: tuple[str, ...] = Field(default=())
    """Compiled prompt records that differ, as ``principle/family`` (plus ``system``)."""


def words_diff(old: str, new: str) -> tuple[WordOp, ...]:
    """Word-level diff of two texts (whitespace-separated tokens)."""
    a, b = old.split(), new.split()
    ops = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        op: Any = tag
        ops.append(WordOp(op=op, old=" ".join(a[i1:i2]), new=" ".join(b[j1:j2])))
    return tuple(ops)


def similarity(a: Principle, b: Principle) -> float:
    """Word-level similarity of two principles' texts, in [0, 1]."""
    ta = " ".join(t for t in (a.judge, a.critique, a.revision) if t).lower().split()
    tb = " ".join(t for t in (b.judge, b.critique, b.revision) if t).lower().split()
    return difflib.SequenceMatcher(None, ta, tb, autojunk=False).ratio()


def match_renames(
    removed: list[Principle], added: list[Principle], threshold: float = RENAME_THRESHOLD
) -> list[tuple[Principle, Principle, float]]:
    """Greedy best-first pairing of removed and added principles above ``threshold``."""
    scored = sorted(
        ((similarity(r, a), i, j) for i, r in enumerate(removed) for j, a in enumerate(added)),
        key=lambda t: (-t[0], t[1], t[2]),
    )
    used_r: set[int] = set()
    used_a: set[int] = set()
    pairs = []
    for s, i, j in scored:
        if s < threshold:
            break
        if i in used_r or j in used_a:
            continue
        used_r.add(i)
        used_a.add(j)
        pairs.append((removed[i], added[j], round(s, 4)))
    return pairs


def _reduction(c: Constitution) -> set[tuple[str, str]]:
    """Transitive reduction of the priority order: the edges no longer path implies."""
    edges = {
        (h, lo)
        for ch in c.priority
        for h, lo in zip(ch.categories, ch.categories[1:], strict=False)
    }
    succ: dict[str, set[str]] = {}
    for h, lo in edges:
        succ.setdefault(h, set()).add(lo)

    def reach(start: str) -> set[str]:
        seen: set[str] = set()
        stack = list(succ.get(start, ()))
        while stack:
            n = stack.pop()
            if n not in seen:
                seen.add(n)
                stack.extend(succ.get(n, ()))
        return seen

    return {
        (h, lo) for h, lo in edges if not any(lo in reach(m) for m in succ.get(h, ()) if m != lo)
    }


def _hash(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()


def prompt_hashes(c: Constitution) -> dict[str, dict[str, str]]:
    """``{principle: {family: sha256}}`` of its compiled records, without ids and names."""
    from caic.compiler.promptset import critique_records, judge_records, revision_records

    out: dict[str, dict[str, str]] = {}
    for r in critique_records(c):
        out.setdefault(r["principle"], {})["critique"] = _hash([r["few_shot"], r["messages"]])
    for r in revision_records(c):
        out.setdefault(r["principle"], {})["revision"] = _hash(r["messages"])
    judge: dict[tuple[str, str], list[Any]] = {}
    for r in judge_records(c):
        body = {k: v for k, v in r.items() if k not in ("id", "principle")}
        judge.setdefault((r["principle"], f"judge/{r['mode']}"), []).append(body)
    for (name, family), bodies in judge.items():
        out.setdefault(name, {})[family] = _hash(bodies)
    return out


def _settings(c: Constitution) -> dict[str, Any]:
    flat: dict[str, Any] = {}

    def walk(prefix: str, obj: Any) -> None:
        if isinstance(obj, dict):
            for k, v in obj.items():
                walk(f"{prefix}{k}.", v)
        else:
            flat[prefix[:-1]] = obj

    walk("", c.settings.model_dump(mode="json"))
    return flat


def _side(c: Constitution) -> Side:
    from caic.constitution_lang.api import sha256  # the parser: only when a diff is made

    return Side(name=c.name, version=c.version, sha256=sha256(c), path=c.path)


def _short(text: Any, n: int = 60) -> str:
    s = json.dumps(text) if not isinstance(text, str) else text
    return s if len(s) <= n else s[: n - 1] + "…"


def _norm(text: str | None) -> str | None:
    return " ".join(text.split()) if text is not None else None


def _fmt_p(x: float) -> str:
    return f"{x:.4f}"


class _Differ:
    """Accumulates the changes of one ``diff`` call, section by section."""

    def __init__(self, old: Constitution, new: Constitution, threshold: float) -> None:
        self.old, self.new, self.threshold = old, new, threshold
        self.changes: list[Change] = []
        op = {p.name: p for p in old.principles}
        nps = {p.name: p for p in new.principles}
        removed = [p for p in old.principles if p.name not in nps]
        added = [p for p in new.principles if p.name not in op]
        renames = match_renames(removed, added, threshold)
        self.rename = {o.name: n.name for o, n, _ in renames}
        self.removed = [p for p in removed if p.name not in self.rename]
        gone = set(self.rename.values())
        self.added = [p for p in added if p.name not in gone]
        sims = {n.name: s for _, n, s in renames}
        back = {v: k for k, v in self.rename.items()}
        # Matched pairs in the new file's declaration order.
        self.pairs: list[tuple[Principle, Principle, float | None]] = []
        for p in new.principles:
            if p.name in op:
                self.pairs.append((op[p.name], p, None))
            elif p.name in back:
                self.pairs.append((op[back[p.name]], p, sims[p.name]))

    def add(self, kind: ChangeKind, subject: str, summary: str, **kw: Any) -> None:
        self.changes.append(Change(kind=kind, subject=subject, summary=summary, **kw))

    def metadata(self) -> None:
        for f in ("name", "version", "description", "language_version"):
            a, b = getattr(self.old, f), getattr(self.new, f)
            if _norm(str(a)) != _norm(str(b)):
                words = words_diff(a or "", b or "") if f == "description" else ()
                self.add(
                    "metadata",
                    f,
                    f"{f}: {_short(a)} → {_short(b)}",
                    field=f,
                    old=a,
                    new=b,
                    words=words,
                )
        ot = {t.name: t.text for t in self.old.templates}
        nt = {t.name: t.text for t in self.new.templates}
        for name in sorted(ot.keys() | nt.keys()):
            a, b = ot.get(name), nt.get(name)
            if a == b:
                continue
            what = "added" if a is None else "removed" if b is None else "changed"
            self.add(
                "template",
                name,
                f"template override `{name}` {what}",
                field=what,
                old=a,
                new=b,
                words=words_diff(a or "", b or ""),
            )

    def categories(self) -> None:
        oc = {c.name: c for c in self.old.categories}
        nc = {c.name: c for c in self.new.categories}
        for c in self.old.categories:
            if c.name in nc:
                continue
            self.add(
                "category-removed",
                c.name,
                f"category `{c.name}` removed ({len(c.principles)} principles)",
                old={"kind": c.kind, "weight": c.weight},
            )
        for c in self.new.categories:
            if c.name not in oc:
                self.add(
                    "category-added",
                    c.name,
                    f"category `{c.name}` added (kind {c.kind}, weight {c.weight:g})",
                    new={"kind": c.kind, "weight": c.weight},
                )
        for c in self.new.categories:
            if c.name not in oc:
                continue
            o = oc[c.name]
            for f in ("kind", "weight", "description"):
                a, b = getattr(o, f), getattr(c, f)
                if (_norm(a) if isinstance(a, str) else a) != (
                    _norm(b) if isinstance(b, str) else b
                ):
                    self.add(
                        "category-changed",
                        c.name,
                        f"category `{c.name}` {f}: {_short(a)} → {_short(b)}",
                        field=f,
                        old=a,
                        new=b,
                    )

    def principles(self) -> None:
        pc = probabilities(self.new, "critique")
        pj = probabilities(self.new, "judge")
        for p in self.removed:
            self.add(
                "principle-removed",
                p.name,
                f"removed `{p.category}/{p.name}`",
                old=_texts(p),
            )
        for p in self.added:
            probs = ", ".join(
                f"{s} P={_fmt_p(d[p.name])}"
                for s, d in (("critique", pc), ("judge", pj))
                if p.name in d
            )
            self.add(
                "principle-added",
                p.name,
                f"added `{p.category}/{p.name}` ({probs})",
                new=_texts(p),
            )
        for o, n, sim in self.pairs:
            self._pair(o, n, sim)
        old_order = [self.rename.get(o.name, o.name) for o in self.old.principles]
        shared = {n.name for _, n, _ in self.pairs}
        a = [x for x in old_order if x in shared]
        b = [p.name for p in self.new.principles if p.name in shared]
        if a != b:
            self.add(
                "order",
                "principles",
                "declaration order of shared principles changed "
                "(seeded draws and the system prompt follow it)",
                old=a,
                new=b,
            )

    def _pair(self, o: Principle, n: Principle, sim: float | None) -> None:
        if sim is not None:
            self.add(
                "principle-renamed",
                n.name,
                f"renamed `{o.name}` → `{n.name}` (similarity {sim:.2f})",
                old=o.name,
                new=n.name,
                similarity=sim,
            )
        if o.category != n.category:
            self.add(
                "principle-moved",
                n.name,
                f"moved `{n.name}`: category `{o.category}` → `{n.category}`",
                field="category",
                old=o.category,
                new=n.category,
            )
        for f in ("judge", "critique", "revision"):
            a, b = getattr(o, f), getattr(n, f)
            if _norm(a) == _norm(b):
                continue
            what = "added" if a is None else "removed" if b is None else "reworded"
            self.add(
                "principle-reworded",
                n.name,
                f"`{n.name}` {f} text {what}",
                field=f,
                old=a,
                new=b,
                words=words_diff(a or "", b or ""),
            )
        checks: list[tuple[str, Any, Any]] = [
            ("weight", o.weight, n.weight),
            ("tags", sorted(o.tags), sorted(n.tags)),
            ("source", _norm(o.source), _norm(n.source)),
            ("examples", semantic_dump_all(o.examples), semantic_dump_all(n.examples)),
        ]
        for f, a, b in checks:
            if a != b:
                shown = f"{len(a)} → {len(b)}" if f == "examples" else f"{_short(a)} → {_short(b)}"
                self.add(
                    "principle-changed", n.name, f"`{n.name}` {f}: {shown}", field=f, old=a, new=b
                )

    def probabilities(self) -> None:
        for stage in ("critique", "judge"):
            po = probabilities(self.old, stage)  # type: ignore[arg-type]
            pn = probabilities(self.new, stage)  # type: ignore[arg-type]
            for o, n, _ in self.pairs:
                a, b = po.get(o.name, 0.0), pn.get(n.name, 0.0)
                if abs(a - b) > _EPS:
                    self.add(
                        "probability",
                        n.name,
                        f"`{n.name}` {stage} draw probability {_fmt_p(a)} → {_fmt_p(b)}",
                        field=stage,
                        old=a,
                        new=b,
                    )

    def priority(self) -> None:
        ro, rn = _reduction(self.old), _reduction(self.new)
        for what, edges, side in (("added", rn - ro, "new"), ("removed", ro - rn, "old")):
            for hi, lo in sorted(edges):
                self.add(
                    "priority",
                    f"{hi} > {lo}",
                    f"priority {what}: {hi} > {lo}",
                    field=what,
                    **{side: [hi, lo]},
                )
        ko, kn = priority_ranks(self.old), priority_ranks(self.new)
        for c in self.new.categories:
            if c.name in ko and ko[c.name] != kn.get(c.name):
                self.add(
                    "priority-rank",
                    c.name,
                    f"category `{c.name}` priority tier {ko[c.name]} → {kn[c.name]} (0 = highest)",
                    old=ko[c.name],
                    new=kn[c.name],
                )

    def tensions(self) -> None:
        m = self.rename

        def key(a: str, b: str) -> tuple[str, str]:
            return (min(a, b), max(a, b))

        old = {key(m.get(t.a, t.a), m.get(t.b, t.b)): t for t in self.old.tensions}
        new = {key(t.a, t.b): t for t in self.new.tensions}
        for k in sorted(old.keys() - new.keys()):
            self.add(
                "tension-removed",
                " ↔ ".join(k),
                f"tension removed: {k[0]} ↔ {k[1]}",
                old={"prefer": old[k].prefer, "note": old[k].note},
            )
        for k in sorted(new.keys() - old.keys()):
            t = new[k]
            self.add(
                "tension-added",
                " ↔ ".join(k),
                f"tension added: {k[0]} ↔ {k[1]}" + (f" (prefer {t.prefer})" if t.prefer else ""),
                new={"prefer": t.prefer, "note": t.note},
            )
        for k in sorted(old.keys() & new.keys()):
            o, n = old[k], new[k]
            po = m.get(o.prefer, o.prefer) if o.prefer else None
            if po != n.prefer:
                self.add(
                    "tension-changed",
                    " ↔ ".join(k),
                    f"tension {k[0]} ↔ {k[1]}: prefer {po} → {n.prefer}",
                    field="prefer",
                    old=po,
                    new=n.prefer,
                )
            if _norm(o.note) != _norm(n.note):
                self.add(
                    "tension-changed",
                    " ↔ ".join(k),
                    f"tension {k[0]} ↔ {k[1]}: note reworded",
                    field="note",
                    old=o.note,
                    new=n.note,
                    words=words_diff(o.note or "", n.note or ""),
                )

    def settings(self) -> None:
        so, sn = _settings(self.old), _settings(self.new)
        for k in sorted(so.keys() | sn.keys()):
            if so.get(k) != sn.get(k):
                self.add(
                    "setting",
                    k,
                    f"setting {k}: {_short(so.get(k))} → {_short(sn.get(k))}",
                    field=k,
                    old=so.get(k),
                    new=sn.get(k),
                )

    def prompts(self) -> list[str]:
        ho, hn = prompt_hashes(self.old), prompt_hashes(self.new)
        changed: list[str] = []
        for o, n, _ in self.pairs:
            a, b = ho.get(o.name, {}), hn.get(n.name, {})
            fams = [f for f in sorted(a.keys() | b.keys()) if a.get(f) != b.get(f)]
            if fams:
                changed += [f"{n.name}/{f}" for f in fams]
                self.add(
                    "prompts",
                    n.name,
                    f"`{n.name}` compiled prompts change: " + ", ".join(fams),
                    field="records",
                    new=fams,
                )
        from caic.compiler import prompts  # jinja2: only when a diff is computed

        if prompts.system_prompt(self.old) != prompts.system_prompt(self.new):
            changed.append("system")
            self.add(
                "prompts",
                "system",
                "system prompt (`--system-prompt` evals) changes",
                field="system",
            )
        return changed


def _texts(p: Principle) -> dict[str, str | None]:
    """What an added or removed principle's change carries: its category and texts."""
    return {
        "category": p.category,
        "judge": p.judge,
        "critique": p.critique,
        "revision": p.revision,
    }


def semantic_dump_all(items: Iterable[BaseModel]) -> list[Any]:
    return [semantic_dump(x) for x in items]


def diff(
    old: Constitution, new: Constitution, threshold: float = RENAME_THRESHOLD
) -> ConstitutionDiff:
    """Every change of meaning from ``old`` to ``new`` (see the module docstring)."""
    d = _Differ(old, new, threshold)
    d.metadata()
    d.categories()
    d.principles()
    d.probabilities()
    d.priority()
    d.tensions()
    d.settings()
    changed = d.prompts()
    return ConstitutionDiff(
        old=_side(old),
        new=_side(new),
        rename_threshold=threshold,
        changes=tuple(d.changes),
        prompts_changed=tuple(changed),
    )
