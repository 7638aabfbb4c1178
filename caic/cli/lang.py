"""``caic check``, ``fmt``, ``compile``, ``import`` and ``explain``."""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Annotated

import typer

from caic.cli import app, fail, print_diagnostics, usage
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


@app.command()
def fmt(
    files: Annotated[list[Path], typer.Argument(help="`.cai` files to rewrite.")],
    check_only: Annotated[
        bool,
        typer.Option(
            "--check", help="Rewrite nothing; exit 1 and print a diff when a file would change."
        ),
    ] = False,
) -> None:
    """Rewrite constitutions in canonical form (comments kept).

    Example: `caic fmt --check constitutions/*.cai`
    """
    from caic.constitution_lang import format_text
    from caic.constitution_lang.parser import read_source
    from caic.io import write_text_atomic

    changed = 0
    errors: list[Diagnostic] = []
    for f in files:
        try:
            text = read_source(str(f))
            new = format_text(text, str(f))
        except CaicError as e:
            errors.extend(e.diagnostics)
            continue
        if new == text:
            continue
        changed += 1
        if check_only:
            diff = difflib.unified_diff(
                text.splitlines(True), new.splitlines(True), f"{f} (current)", f"{f} (formatted)"
            )
            typer.echo("".join(diff), nl=False)
        else:
            write_text_atomic(f, new)
            typer.echo(f"formatted {f}", err=True)
    if errors:
        print_diagnostics(errors)
        raise typer.Exit(1)
    if check_only and changed:
        typer.echo(f"{changed} file(s) would be reformatted", err=True)
        raise typer.Exit(1)


@app.command("compile")
def compile_(
    file: Annotated[
        Path,
        typer.Argument(
            help="The constitution: a path, or the name of a "
            "shipped one (hhh-v2, cai-2022-harmless, ...)."
        ),
    ],
    out: Annotated[
        Path | None,
        typer.Option(
            "-o", "--out", help="Output directory (default: NAME.promptset next to the file)."
        ),
    ] = None,
    prompts: Annotated[
        str | None,
        typer.Option("--prompts", help="Prompts to bind (JSONL, CSV or a HF dataset id)."),
    ] = None,
    pairs: Annotated[str | None, typer.Option("--pairs", help="Response pairs to bind.")] = None,
    prompt_column: Annotated[str | None, typer.Option("--prompt-column")] = None,
    rounds: Annotated[
        int | None,
        typer.Option("--rounds", min=1, max=8, help="K critique rounds (default: settings)."),
    ] = None,
    seed: Annotated[
        int | None, typer.Option("--seed", help="Seed for draws (default: settings).")
    ] = None,
    principles_per_pair: Annotated[int, typer.Option("--principles-per-pair", min=1)] = 1,
    out_format: Annotated[
        str, typer.Option("--format", help="jsonl or hf (a datasets.DatasetDict).")
    ] = "jsonl",
) -> None:
    """Compile a constitution into a PromptSet directory (and bind it to data).

    Writes manifest.json, principles.jsonl, critique.jsonl, revision.jsonl, judge.jsonl and,
    with data, sl_cai_jobs.jsonl and judge_jobs.jsonl. Same inputs and seed give
    byte-identical files; the directory appears whole or not at all.

    Example: `caic compile constitutions/hhh-v2.cai -o build/v2 --prompts prompts.jsonl`
    """
    from caic.compiler import bind, data
    from caic.compiler.promptset import write_promptset
    from caic.constitution_lang import load
    from caic.constitutions import find

    _check_format(out_format, ("jsonl", "hf"))
    file = find(str(file))
    try:
        c = load(file)
    except CaicError as e:
        fail(e)
        return
    seed = c.settings.seed if seed is None else seed
    jobs = {}
    if prompts:
        rows = data.load_prompts(prompts, prompt_column)
        jobs["sl_cai_jobs.jsonl"] = bind.sl_cai_jobs(c, rows, rounds, seed)
    if pairs:
        jobs["judge_jobs.jsonl"] = bind.judge_jobs(
            c, data.load_pairs(pairs), principles_per_pair, seed
        )
    target = out or file.with_suffix(".promptset")
    if out_format == "hf":
        from caic.compiler.hf import write_hf

        write_hf(c, target, seed, jobs)
    else:
        man = write_promptset(c, target, seed, jobs)
        counts = ", ".join(f"{n}: {v['records']}" for n, v in man["files"].items())
        typer.echo(f"wrote {target} ({counts})", err=True)
    typer.echo(str(target))


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
