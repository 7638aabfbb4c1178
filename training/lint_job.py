"""The lint job as a library call: :func:`lint_job` takes one :class:`LintJobConfig` and
returns a :class:`LintResult` (the diagnostics, the files that could not be linted, and
the exit status).

The static rules are the compiler's (:func:`caic.compiler.lint.engine.lint`); this job adds
what needs a model and so sits above it: ``deep`` (a model backend judges whether similar
principles conflict) and ``probe`` (the behavioural lint of :mod:`caic.training.principle_probe`:
every judge principle votes on the probe pairs through the judge backend, and principle
pairs whose votes anti-correlate, CAI901 ``conflict-in-practice``, or coincide, CAI902
``redundant-in-practice``, are reported with the correlation). Those two codes are not
static rules of the registry (they need a model and data), so ``select``/``ignore`` keys
naming them are taken out before the static rules are configured and applied to the
probe findings here; inline ``# caic: ignore[CODE]`` silences them like any finding.

``caic lint`` builds the config from its options, calls :func:`lint_job` and prints the
result in its ``format`` (:func:`caic.compiler.lint.output.render`); Python callers do the
same::

    from caic.training.lint_job import LintJobConfig, lint_job
    result = lint_job(LintJobConfig(files=["constitutions/hhh-v2.cai"], select=["CAI1"]))
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

from caic.compiler.lint.output import FORMATS
from caic.config import Config, known
from caic.errors import CaicError, Diagnostic, usage_error
from caic.progress import Say, quiet


class LintJobConfig(Config):
    """``caic lint``: the files and how to lint them.

    ``format`` and ``list_rules`` tell the command line how to print (or to print the
    rules instead of linting); :func:`lint_job` returns the same diagnostics whatever
    they are.
    """

    files: list[Path] | None = None
    """`.cai` files to lint."""
    format: Literal["human", "json", "sarif", "github"] = "human"
    """human, json, sarif or github."""
    select: list[str] | None = None
    """Rules to run: codes, names or prefixes (CAI1), comma-separated; replaces `select`
    from pyproject.toml."""
    ignore: list[str] | None = None
    """Rules to skip; replaces `ignore` from pyproject.toml."""
    deep: bool = False
    """Also ask a model whether similar principles conflict (slow)."""
    judge: str | None = None
    """Backend spec for --deep or --probe, e.g. transformers or openai:URL#MODEL."""
    probe: str | None = None
    """Probe pairs (any `rlaif label --pairs` format): every judge principle votes on them;
    flags principles that conflict (CAI901) or coincide (CAI902) in practice."""
    probe_min_pairs: int = Field(default=5, ge=2)
    """Fewest shared pairs for a correlation."""
    list_rules: bool = False
    """Print the rules and exit."""
    preview: bool | None = None
    """Also run preview rules; replaces `preview` from pyproject.toml."""

    @field_validator("format", mode="before")
    @classmethod
    def _known_format(cls, value: object) -> object:
        return known(value, FORMATS, "--format")

    @field_validator("select", "ignore", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        """Keys may be repeated and comma- (or space-) separated: ``CAI1,CAI201``."""
        if isinstance(value, str):
            value = [value]
        if isinstance(value, list | tuple):
            return [k for v in value for k in str(v).replace(" ", ",").split(",") if k]
        return value


class LintResult(BaseModel):
    """What :func:`lint_job` found."""

    files: int
    """Files given (linted or not)."""
    errors: list[Diagnostic]
    """Why files could not be linted: unreadable, unparsable, a bad configuration."""
    findings: list[Diagnostic]
    """Lint findings (static rules, ``deep`` and ``probe``), sorted within each file."""
    exit_code: int
    """2 when a file could not be linted, else 1 when a finding is a warning or an error,
    else 0."""

    @property
    def diagnostics(self) -> list[Diagnostic]:
        """The errors, then the findings: what ``caic lint`` prints."""
        return self.errors + self.findings


def lint_job(cfg: LintJobConfig, *, say: Say = quiet) -> LintResult:
    """Lint ``cfg.files``: the static rules, and the model-based checks ``cfg.deep`` and
    ``cfg.probe`` ask for. A file that cannot be read, parsed or configured is an error of
    the result, not an exception; a bad argument raises :class:`~caic.errors.UsageError`."""
    from caic.compiler.lint.config import load_config
    from caic.compiler.lint.engine import lint, worst
    from caic.constitution_lang import load

    if not cfg.files:
        raise usage_error("no files to lint", hint="caic lint FILE.cai ...")
    if cfg.judge and not (cfg.deep or cfg.probe):
        raise usage_error("--judge needs --deep or --probe")
    sel, ign = cfg.select, cfg.ignore
    probe_on = _probe_codes(["CAI9"])
    if sel is not None:
        probe_on = _probe_codes(sel)
        sel = [k for k in sel if not _probe_key(k)]
    if ign is not None:
        probe_on -= _probe_codes(ign)
        ign = [k for k in ign if not _probe_key(k)]
    probe_pairs: list[dict[str, Any]] = []
    if cfg.probe:
        from caic.training.pair_sampler import read_pairs

        probe_pairs = read_pairs(cfg.probe)
        if not probe_pairs:
            raise usage_error(f"no pairs in {cfg.probe}")
    backend = _deep_backend(cfg.judge, say) if cfg.deep else None
    probe_backend = backend
    if cfg.probe and backend is None and probe_on:
        from caic.backends.registry import get_backend

        probe_backend = get_backend(cfg.judge)

    findings: list[Diagnostic] = []
    errors: list[Diagnostic] = []
    try:
        for f in cfg.files:
            with _collector_paused(backend is None):
                try:
                    config = load_config(f, sel, ign, cfg.preview)
                    c = load(f)
                except CaicError as e:
                    errors.extend(e.diagnostics)
                    continue
                found = lint(c, config, deep_backend=backend)
            if cfg.probe and probe_on:
                found += _probe_findings(
                    c, probe_pairs, probe_backend, probe_on, cfg.probe_min_pairs, say
                )
                found.sort(key=lambda d: (d.path, d.line, d.column, d.code, d.principles))
            findings.extend(found)
    finally:
        if probe_backend is not None:
            probe_backend.close()
    return LintResult(
        files=len(cfg.files),
        errors=errors,
        findings=findings,
        exit_code=2 if errors else worst(findings),
    )


def _probe_key(key: str) -> bool:
    """Whether a select/ignore key names only probe codes (so the static config never sees it)."""
    from caic.codes import lookup

    k = key.strip()
    entry = lookup(k)
    return k.upper().startswith("CAI9") or (entry is not None and entry.group == "probe")


def _probe_codes(keys: list[str]) -> set[str]:
    """The probe codes that select/ignore keys name (codes, names, prefixes such as ``CAI9``)."""
    from caic.codes import resolve

    return resolve(keys, groups=("probe",))[0]


def _probe_findings(
    c: Any,
    pairs: list[dict[str, Any]],
    backend: Any,
    enabled: set[str],
    min_pairs: int,
    say: Say,
) -> list[Diagnostic]:
    """Behavioural findings for one constitution, filtered by select/ignore and suppressions."""
    from caic.compiler.lint.suppress import Suppressions
    from caic.training.principle_probe import probe_principles

    n = sum(1 for p in c.principles if p.judge)
    say(f"probing {n} principles of {c.name} over {len(pairs)} pairs with {backend.model_id} ...")
    if len(pairs) < min_pairs:
        say(
            f"only {len(pairs)} probe pairs, fewer than the {min_pairs} a "
            "correlation needs (--probe-min-pairs): no behavioural findings"
        )
        return []
    supp = Suppressions(c)
    found = probe_principles(c, pairs, backend, min_pairs=min_pairs)
    return [d for d in found if d.code in enabled and not supp.suppressed(d)]


@contextlib.contextmanager
def _collector_paused(pause: bool = True) -> Iterator[None]:
    """The cyclic garbage collector off while a file is parsed and linted, on again after.

    Both allocate many small objects that live to the end of the run, and the
    collector kept walking them: 0.15-0.2 s of a 1,000-principle lint, 300 collections.
    What they free, reference counting frees; the few cycles wait for the next
    collection. Not while a model backend runs (``deep``), whose memory is its own."""
    if not pause or not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _deep_backend(judge: str | None, say: Say) -> Any:
    """The model backend for ``deep``, or ``None`` (with a note) when unavailable."""
    try:
        from caic.backends.registry import get_backend
    except ImportError as e:
        say(f"--deep skipped: model backends unavailable ({e})")
        return None
    try:
        return get_backend(judge)
    except CaicError:
        raise
    except Exception as e:  # a missing optional dependency, weights, a server, ...
        say(
            f"--deep skipped: cannot start backend `{judge or 'default'}` ({type(e).__name__}: {e})"
        )
        return None
