"""``caic check``, ``fmt``, ``compile``, ``import`` and ``explain``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from caic.cli import app, print_diagnostics, usage
from caic.cli.options import config_command
from caic.compiler.compile_job import CompileConfig
from caic.constitution_lang.format_job import FormatConfig
from caic.errors import CaicError, Diagnostic

FormatOpt = Annotated[str, typer.Option("--format", help="human or json.")]


def _check_format(fmt: str, allowed: tuple[str, ...]) -> None:
    if fmt not in allowed:
        raise usage(f"unknown --format `{fmt}`", hint=f"one of {', '.join(allowed)}")


@app.command()
def check(
    files: Annotated[list[Path], typer.Argument(help="`.cai` files.")], fmt: FormatOpt = "human"
) -> None:
    """Parse and validate constitutions (paths or shipped names); report every error.

    Exit 0 when clean, 1 when errors are found, 2 on usage or I/O errors.

    Example: `caic check constitutions/hhh-v2.cai`
    """
    from caic.constitution_lang import load

    _check_format(fmt, ("human", "json"))
    diags: list[Diagnostic] = []
    worst = 0
    from caic.constitutions import find

    for f in files:
        try:
            c = load(find(str(f)))
            if fmt == "human":
                typer.echo(
                    f"{f}: ok ({len(c.principles)} principles, {len(c.categories)} categories)",
                    err=True,
                )
        except CaicError as e:
            diags.extend(e.diagnostics)
            worst = max(worst, e.exit_code)
    print_diagnostics(diags, fmt)
    raise typer.Exit(worst)


@config_command(app, "fmt", FormatConfig, arguments=("files",))
def fmt(cfg: FormatConfig) -> None:
    """Rewrite constitutions in canonical form (comments kept).

    Example: `caic fmt --check constitutions/*.cai`
    """
    from caic.cli.progress import say
    from caic.constitution_lang.format_job import format_files

    result = format_files(cfg, say=say)
    if result.diff:
        typer.echo(result.diff, nl=False)
    if result.errors:
        print_diagnostics(result.errors)
        raise typer.Exit(1)
    if cfg.check and result.changed:
        typer.echo(f"{len(result.changed)} file(s) would be reformatted", err=True)
        raise typer.Exit(1)


@config_command(app, "compile", CompileConfig, short={"out": "-o"}, arguments=("file",))
def compile_(cfg: CompileConfig) -> None:
    """Compile a constitution into a PromptSet directory (and bind it to data).

    Writes manifest.json, principles.jsonl, critique.jsonl, revision.jsonl, judge.jsonl and,
    with data, sl_cai_jobs.jsonl and judge_jobs.jsonl. Same inputs and seed give
    byte-identical files; the directory appears whole or not at all.

    Example: `caic compile constitutions/hhh-v2.cai -o build/v2 --prompts prompts.jsonl`
    """
    from caic.compiler.compile_job import compile_job

    result = compile_job(cfg)
    if result.format == "jsonl":
        counts = ", ".join(f"{n}: {v}" for n, v in result.records.items())
        typer.echo(f"wrote {result.out} ({counts})", err=True)
    typer.echo(str(result.out))


@app.command("import")
def import_(
    file: Annotated[Path, typer.Argument(help="JSON of critique/revision pairs.")],
    name: Annotated[str | None, typer.Option("--name", help="Constitution name.")] = None,
    out: Annotated[Path | None, typer.Option("-o", "--out")] = None,
) -> None:
    """Convert published JSON critique/revision pairs into a `.cai` file.

    Reads a mapping `{key: {"prompt": [critique], "edit_request": revision}}` or a list of
    `{"critic": ..., "revision": ...}` objects.

    Example: `caic import pairs.json -o imported.cai`
    """
    from caic.compiler.importer import import_pairs
    from caic.io import write_text_atomic

    text = import_pairs(file, name)
    if out:
        write_text_atomic(out, text)
        typer.echo(f"wrote {out}", err=True)
    else:
        typer.echo(text, nl=False)


@app.command()
def explain(
    code: Annotated[
        str, typer.Argument(help="A diagnostic code or rule name, e.g. E101 or contradiction.")
    ],
) -> None:
    """Explain a diagnostic code or lint rule, with a bad and a good example.

    Example: `caic explain E104`
    """
    from caic.codes import TABLE, lookup
    from caic.constitution_lang.codes import EXPLANATIONS

    entry = lookup(code)
    about = EXPLANATIONS.get(entry.code) if entry is not None else None
    if entry is not None and about is not None:
        typer.echo(
            f"{entry.code} {entry.name}\n\n{about.summary}\n\nBad:\n  "
            + about.bad.replace("\n", "\n  ")
            + "\n\nGood:\n  "
            + about.good.replace("\n", "\n  ")
        )
        return
    if entry is not None:
        from caic.compiler.lint.registry import explain_rule

        text = explain_rule(entry.code)
        if text:
            typer.echo(text)
            return
    known = [c.code for c in TABLE]
    raise usage(f"unknown code `{code}`", hint=f"known codes: {', '.join(known[:6])}, ...")
