"""``caic lint``: contradictions, duplicates and the authoring rules."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from caic.cli import app, usage
from caic.errors import CaicError, Diagnostic


def _split(values: list[str] | None) -> list[str] | None:
    if values is None:
        return None
    return [k for v in values for k in v.replace(" ", ",").split(",") if k]


def _deep_backend(judge: str | None) -> Any:
    """The model backend for ``--deep``, or ``None`` (with a note) when unavailable."""
    try:
        from caic.training.backends.registry import get_backend
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
            "--judge", help="Backend spec for --deep, e.g. transformers or openai:URL#MODEL."
        ),
    ] = None,
    list_rules: Annotated[
        bool, typer.Option("--list-rules", help="Print the rules and exit.")
    ] = False,
) -> None:
    """Lint constitutions: contradictions, near-duplicates and authoring mistakes.

    Configuration comes from `[tool.caic.lint]` in the nearest pyproject.toml above each
    file; silence one finding with `# caic: ignore[CODE]` on a line of the principle (or
    on the line the finding points at). Exit 0 when nothing at warning level or above is
    found, 1 when something is, 2 on usage or parse errors. `caic explain CODE` describes
    a rule.

    Example: `caic lint constitutions/hhh-v2.cai --format sarif > lint.sarif`
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
            typer.echo(f"{r.code}  {r.name:<28} {r.severity:<8} {r.summary}")
        return
    if not files:
        raise usage("no files to lint", hint="caic lint FILE.cai ...")
    if judge and not deep:
        raise usage("--judge needs --deep")
    backend = _deep_backend(judge) if deep else None

    findings: list[Diagnostic] = []
    errors: list[Diagnostic] = []
    for f in files:
        try:
            config = load_config(f, _split(select), _split(ignore))
            c = load(f)
        except CaicError as e:
            errors.extend(e.diagnostics)
            continue
        findings.extend(run_lint(c, config, deep_backend=backend))
    out = errors + findings
    if fmt == "json":
        typer.echo(to_json(out))
    elif fmt == "sarif":
        typer.echo(to_sarif(out))
    elif fmt == "github":
        text = to_github(out)
        if text:
            typer.echo(text)
    else:
        from caic.cli import print_diagnostics

        print_diagnostics(out)
        typer.echo(summary(out, len(files)), err=True)
    raise typer.Exit(2 if errors else worst(findings))
