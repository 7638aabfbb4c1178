"""``caic lint``: contradictions, duplicates and the authoring rules.

``--probe PAIRS`` adds the behavioural lint of :mod:`caic.training.probe`: every judge
principle votes on the probe pairs through the judge backend, and principle pairs whose
votes anti-correlate (CAI901 ``conflict-in-practice``) or coincide (CAI902
``redundant-in-practice``) are reported with the correlation, in every output format.
Those two codes are not static rules of the registry (they need a model and data), so
``--select``/``--ignore`` keys naming them are taken out before the static rules are
configured and applied to the probe findings here; inline ``# caic: ignore[CODE]``
silences them like any finding.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer

from caic.cli import app, usage
from caic.errors import CaicError, Diagnostic


def _split(values: list[str] | None) -> list[str] | None:
    if values is None:
        return None
    return [k for v in values for k in v.replace(" ", ",").split(",") if k]


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
    c: Any, pairs: list[dict[str, Any]], backend: Any, enabled: set[str], min_pairs: int
) -> list[Diagnostic]:
    """Behavioural findings for one constitution, filtered by select/ignore and suppressions."""
    from caic.compiler.lint.suppress import Suppressions
    from caic.training.probe import probe_principles

    n = sum(1 for p in c.principles if p.judge)
    typer.echo(
        f"caic lint: probing {n} principles of {c.name} over {len(pairs)} pairs "
        f"with {backend.model_id} ...",
        err=True,
    )
    if len(pairs) < min_pairs:
        typer.echo(
            f"caic lint: only {len(pairs)} probe pairs, fewer than the {min_pairs} a "
            "correlation needs (--probe-min-pairs): no behavioural findings",
            err=True,
        )
        return []
    supp = Suppressions(c)
    found = probe_principles(c, pairs, backend, min_pairs=min_pairs)
    return [d for d in found if d.code in enabled and not supp.suppressed(d)]


def _sarif_with_probe_rules(text: str) -> str:
    """Add rule descriptors (name from the code table, text from ``caic explain``) for the
    probe codes a SARIF log uses."""
    import json

    from caic.codes import CODES
    from caic.constitution_lang.codes import EXPLANATIONS

    log = json.loads(text)
    run = log["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    for result in run["results"]:
        code = result["ruleId"]
        entry = CODES.get(code)
        if entry is None or entry.group != "probe" or "ruleIndex" in result:
            continue
        if not any(r["id"] == code for r in rules):
            about = EXPLANATIONS[code].summary
            rules.append({
                "id": code,
                "name": entry.name,
                "shortDescription": {"text": about.split(". ")[0]},
                "fullDescription": {"text": about},
                "help": {"text": about},
                "defaultConfiguration": {"level": entry.severity},
            })  # fmt: skip
        result["ruleIndex"] = next(i for i, r in enumerate(rules) if r["id"] == code)
    return json.dumps(log, indent=2, ensure_ascii=False)


@contextlib.contextmanager
def _collector_paused(pause: bool = True) -> Iterator[None]:
    """The cyclic garbage collector off while a file is parsed and linted, on again after.

    Both allocate many small objects that live to the end of the run, and the
    collector kept walking them: 0.15-0.2 s of a 1,000-principle lint, 300 collections.
    What they free, reference counting frees; the few cycles wait for the next
    collection. Not while a model backend runs (``--deep``), whose memory is its own."""
    if not pause or not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _deep_backend(judge: str | None) -> Any:
    """The model backend for ``--deep``, or ``None`` (with a note) when unavailable."""
    try:
        from caic.backends.registry import get_backend
    except ImportError as e:
        typer.echo(f"caic lint: --deep skipped: model backends unavailable ({e})", err=True)
        return None
    try:
        return get_backend(judge)
    except CaicError:
        raise
    except Exception as e:  # a missing optional dependency, weights, a server, ...
        typer.echo(
            f"caic lint: --deep skipped: cannot start backend `{judge or 'default'}` "
            f"({type(e).__name__}: {e})",
            err=True,
        )
        return None


@app.command()
def lint(
    files: Annotated[list[Path] | None, typer.Argument(help="`.cai` files to lint.")] = None,
    fmt: Annotated[str, typer.Option("--format", help="human, json, sarif or github.")] = "human",
    select: Annotated[
        list[str] | None,
        typer.Option(
            "--select",
            help="Rules to run: codes, names or prefixes (CAI1), comma-separated; "
            "replaces `select` from pyproject.toml.",
        ),
    ] = None,
    ignore: Annotated[
        list[str] | None,
        typer.Option("--ignore", help="Rules to skip; replaces `ignore` from pyproject.toml."),
    ] = None,
    deep: Annotated[
        bool,
        typer.Option("--deep", help="Also ask a model whether similar principles conflict (slow)."),
    ] = False,
    judge: Annotated[
        str | None,
        typer.Option(
            "--judge",
            help="Backend spec for --deep or --probe, e.g. transformers or openai:URL#MODEL.",
        ),
    ] = None,
    probe: Annotated[
        str | None,
        typer.Option(
            "--probe",
            help="Probe pairs (any `rlaif label --pairs` format): every judge principle votes "
            "on them; flags principles that conflict (CAI901) or coincide (CAI902) in practice.",
        ),
    ] = None,
    probe_min_pairs: Annotated[
        int,
        typer.Option("--probe-min-pairs", min=2, help="Fewest shared pairs for a correlation."),
    ] = 5,
    list_rules: Annotated[
        bool, typer.Option("--list-rules", help="Print the rules and exit.")
    ] = False,
    preview: Annotated[
        bool | None,
        typer.Option(
            "--preview/--no-preview",
            help="Also run preview rules; replaces `preview` from pyproject.toml.",
        ),
    ] = None,
) -> None:
    """Lint constitutions: contradictions, near-duplicates and authoring mistakes.

    Configuration comes from `[tool.caic.lint]` in the nearest pyproject.toml above each
    file; silence one finding with `# caic: ignore[CODE]` on a line of the principle (or
    on the line the finding points at). Exit 0 when nothing at warning level or above is
    found, 1 when something is, 2 on usage or parse errors. `caic explain CODE` describes
    a rule. `--probe PAIRS` also runs every judge principle over the pairs with the judge
    model and reports principles whose votes anti-correlate (CAI901) or coincide (CAI902).

    Example: `caic lint constitutions/hhh-v2.cai --probe probe.jsonl --format json`
    """
    from caic.compiler.lint.config import load_config
    from caic.compiler.lint.engine import lint as run_lint
    from caic.compiler.lint.engine import worst
    from caic.compiler.lint.output import FORMATS, summary, to_github, to_json, to_sarif
    from caic.compiler.lint.registry import all_rules
    from caic.constitution_lang import load

    if fmt not in FORMATS:
        raise usage(f"unknown --format `{fmt}`", hint=f"one of {', '.join(FORMATS)}")
    if list_rules:
        for r in all_rules():
            tag = "" if r.lifecycle == "stable" else f" [{r.lifecycle}]"
            typer.echo(f"{r.code}  {r.name:<28} {r.severity:<8} {r.summary}{tag}")
        return
    if not files:
        raise usage("no files to lint", hint="caic lint FILE.cai ...")
    if judge and not (deep or probe):
        raise usage("--judge needs --deep or --probe")
    sel, ign = _split(select), _split(ignore)
    probe_on = _probe_codes(["CAI9"])
    if sel is not None:
        probe_on = _probe_codes(sel)
        sel = [k for k in sel if not _probe_key(k)]
    if ign is not None:
        probe_on -= _probe_codes(ign)
        ign = [k for k in ign if not _probe_key(k)]
    probe_pairs: list[dict[str, Any]] = []
    if probe:
        from caic.training.rlaif_pairs import read_pairs

        probe_pairs = read_pairs(probe)
        if not probe_pairs:
            raise usage(f"no pairs in {probe}")
    backend = _deep_backend(judge) if deep else None
    probe_backend = backend
    if probe and backend is None and probe_on:
        from caic.backends.registry import get_backend

        probe_backend = get_backend(judge)

    findings: list[Diagnostic] = []
    errors: list[Diagnostic] = []
    for f in files:
        with _collector_paused(backend is None):
            try:
                config = load_config(f, sel, ign, preview)
                c = load(f)
            except CaicError as e:
                errors.extend(e.diagnostics)
                continue
            found = run_lint(c, config, deep_backend=backend)
        if probe and probe_on:
            found += _probe_findings(c, probe_pairs, probe_backend, probe_on, probe_min_pairs)
            found.sort(key=lambda d: (d.path, d.line, d.column, d.code, d.principles))
        findings.extend(found)
    if probe_backend is not None:
        probe_backend.close()
    out = errors + findings
    if fmt == "json":
        typer.echo(to_json(out))
    elif fmt == "sarif":
        typer.echo(_sarif_with_probe_rules(to_sarif(out)))
    elif fmt == "github":
        text = to_github(out)
        if text:
            typer.echo(text)
    else:
        from caic.cli import print_diagnostics

        print_diagnostics(out)
        typer.echo(summary(out, len(files)), err=True)
    raise typer.Exit(2 if errors else worst(findings))
