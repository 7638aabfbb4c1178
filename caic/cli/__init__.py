"""The ``caic`` command line: typer + rich; data to stdout, diagnostics to stderr.

Exit codes: 0 clean, 1 findings (errors in a file, a failed gate), 2 usage or
I/O errors. A known error prints one line per diagnostic; the traceback only
with ``CAIC_DEBUG=1``.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

import caic
from caic.errors import CaicError, Diagnostic, UsageError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    rich_markup_mode="markdown",
    help="caic: compile, lint and evaluate Constitutional AI constitutions.",
)


def group(name: str, help: str) -> typer.Typer:
    """A sub-command group ``caic NAME ...``, added to the app."""
    sub = typer.Typer(no_args_is_help=True, rich_markup_mode="markdown", help=help)
    app.add_typer(sub, name=name)
    return sub


def _version(value: bool) -> None:
    if value:
        typer.echo(f"caic {caic.__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """caic: compile, lint and evaluate Constitutional AI constitutions."""


def _source_of(path: str) -> str | None:
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def print_diagnostics(diags: list[Diagnostic], fmt: str = "human") -> None:
    """Human: header + source line + caret + hint on stderr. JSON: a list on stdout."""
    if fmt == "json":
        typer.echo(json.dumps([d.as_json() for d in diags], indent=2, ensure_ascii=False))
        return
    cache: dict[str, str | None] = {}
    for d in diags:
        if d.path not in cache:
            cache[d.path] = _source_of(d.path)
        typer.echo(d.render(cache[d.path]), err=True)


def fail(err: CaicError, fmt: str = "human") -> None:
    print_diagnostics(err.diagnostics, fmt)
    raise typer.Exit(err.exit_code)


def run() -> None:
    """The ``caic`` command (console script, ``python -m caic``): :func:`main`, then a
    quick exit. Everything still alive is freed by the exit; moving it out of the garbage
    collector's reach first spares the full collections the interpreter runs while
    shutting down (0.15 s after linting a 1,000-principle file, 7% of the run). Only
    here, in a process that ends next: :func:`main` also runs in-process (tests), where
    freezing would keep garbage alive."""
    import gc

    try:
        main()
    finally:
        gc.freeze()


def main() -> None:
    """Entry point: run the app, turning caic errors into one-line messages."""
    from caic.cli import commands  # noqa: F401  (registers the sub-commands)

    debug = os.environ.get("CAIC_DEBUG", "") not in ("", "0")
    try:
        rc = app(standalone_mode=False, prog_name="caic")
        sys.exit(rc if isinstance(rc, int) else 0)
    except typer.Exit as e:
        sys.exit(e.exit_code)
    except CaicError as e:
        if debug:
            raise
        print_diagnostics(e.diagnostics)
        if isinstance(e, UsageError) and all(d.path == "<args>" for d in e.diagnostics):
            line = usage_line(sys.argv[1:])
            if line:
                typer.echo(line, err=True)
        sys.exit(e.exit_code)
    except KeyboardInterrupt:
        typer.echo("interrupted; rerun the same command to resume", err=True)
        sys.exit(130)
    except Exception as e:
        if _is_usage_mistake(e):
            e.show()  # type: ignore[attr-defined]
            sys.exit(2)
        if _is_abort(e):
            sys.exit(130)
        if debug:
            raise
        typer.echo(
            f"caic: internal error: {type(e).__name__}: {e} (set CAIC_DEBUG=1 for the traceback)",
            err=True,
        )
        sys.exit(2)


def _usage_error_types() -> tuple[type[BaseException], ...]:
    """Click's ``UsageError`` and the copy typer ships since 0.20 (``typer._click``), which
    does not derive from click's: a usage mistake of either kind is the user's, not ours."""
    import click

    types: list[type[BaseException]] = [click.exceptions.UsageError]
    try:
        from typer._click.exceptions import UsageError as TyperUsageError
    except ImportError:  # typer before it vendored click
        pass
    else:
        types.append(TyperUsageError)
    return tuple(types)


def _is_usage_mistake(e: BaseException) -> bool:
    return isinstance(e, _usage_error_types()) and hasattr(e, "show")


def usage_line(argv: list[str]) -> str | None:
    """``Usage: caic CMD [OPTIONS] ARGS`` for the (sub)command that ``argv`` names, or
    ``None`` when it names none."""
    group = typer.main.get_command(app)
    ctx = group.make_context("caic", [], resilient_parsing=True)
    cmd = group
    for word in argv:
        sub = getattr(cmd, "commands", {}).get(word)
        if sub is None:
            break
        cmd = sub
        ctx = cmd.make_context(word, [], parent=ctx, resilient_parsing=True)
    if cmd is group:
        return None
    return cmd.get_usage(ctx).rstrip()


def _is_abort(e: BaseException) -> bool:
    import click

    return isinstance(e, click.exceptions.Abort | typer.Abort)


def usage(message: str, hint: str | None = None) -> UsageError:
    return UsageError(Diagnostic(code="E008", message=message, path="<args>", hint=hint))
