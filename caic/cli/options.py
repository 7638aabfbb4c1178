"""Command-line options made from a job's config, so each option is defined once.

A job is a function taking one pydantic config (DESIGN §3). Its fields are the command's
options: :func:`config_command` reads the config class — each field's type, default,
bounds (``ge``/``le``/``gt``/``lt``) and docstring — and registers a typer command whose
options are those fields (``max_new_tokens`` → ``--max-new-tokens``). The command builds
the config from what it was given and calls the decorated function with it. A value the
config rejects (a validator's message) is a usage mistake: the usage line, the problem,
exit 2.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable, Mapping, Sequence
from typing import Annotated, Any, TypeVar

import annotated_types as at
import typer
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

C = TypeVar("C", bound=BaseModel)


def _flag(name: str) -> str:
    return "--" + name.rstrip("_").replace("_", "-")


def _help(field: FieldInfo) -> str | None:
    """The field's docstring as one line of help."""
    if not field.description:
        return None
    return " ".join(field.description.split())


def _bounds(field: FieldInfo) -> dict[str, Any]:
    out: dict[str, Any] = {}
    # Open bounds (gt/lt) have no click equivalent: the config checks them.
    for m in field.metadata:
        if isinstance(m, at.Ge):
            out["min"] = m.ge
        elif isinstance(m, at.Le):
            out["max"] = m.le
    return out


def _cli_type(annotation: Any) -> Any:
    """The type typer parses: a ``Literal`` of strings is read as ``str`` (the config then
    names the allowed values when one is wrong)."""
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) is typing.Literal:
        return str
    if args and any(typing.get_origin(a) is typing.Literal for a in args):
        return str | None if type(None) in args else str
    return annotation


def _parameter(
    name: str, field: FieldInfo, flags: Sequence[str], argument: bool, read_as: Any = None
) -> Any:
    if argument:
        info: Any = typer.Argument(help=_help(field), show_default=False)
    else:
        info = typer.Option(*flags, help=_help(field), **_bounds(field))
    if field.is_required():
        default: Any = inspect.Parameter.empty
    elif field.default_factory is not None:
        default = None  # not given: the config makes the default
    else:
        default = field.get_default()
    kind = read_as if read_as is not None else _cli_type(field.annotation)
    return inspect.Parameter(
        name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=Annotated[kind, info]
    )


def config_command(
    group: typer.Typer,
    name: str,
    config: type[C],
    *,
    short: Mapping[str, str] | None = None,
    flags: Mapping[str, Sequence[str]] | None = None,
    arguments: Sequence[str] = (),
    exclude: Sequence[str] = (),
    read_as: Mapping[str, Any] | None = None,
) -> Callable[[Callable[[C], None]], Callable[[C], None]]:
    """Register ``fn(cfg)`` as ``caic ... NAME`` with one option per field of ``config``.

    ``short`` adds a short flag (``{"out": "-o"}``); ``flags`` replaces a field's flags
    (``{"in_": ["--in", "-i"]}``); ``arguments`` are fields taken as positional arguments;
    ``exclude`` are fields the command line does not set (the config's default stands);
    ``read_as`` reads a field as another type (``{"suites": str}``: one comma-separated
    string that the config's validator splits). The command's help is ``fn``'s docstring.
    """
    short = short or {}
    flags = flags or {}
    read_as = read_as or {}

    def register(fn: Callable[[C], None]) -> Callable[[C], None]:
        params = []
        for field_name, field in config.model_fields.items():
            if field_name in exclude:
                continue
            names = list(flags.get(field_name, [_flag(field_name)]))
            if field_name in short:
                names.append(short[field_name])
            params.append(
                _parameter(
                    field_name, field, names, field_name in arguments, read_as.get(field_name)
                )
            )
        # Required parameters first, as Python signatures need.
        params.sort(key=lambda p: p.default is not inspect.Parameter.empty)

        def command(**values: Any) -> None:
            given = {
                k: v
                for k, v in values.items()
                if not (v is None and config.model_fields[k].default_factory is not None)
            }
            try:
                cfg = config(**given)
            except ValidationError as e:
                raise _usage_mistake(e, short, flags) from None
            fn(cfg)

        command.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
        command.__annotations__ = {p.name: p.annotation for p in params}
        command.__doc__ = fn.__doc__
        command.__name__ = fn.__name__
        group.command(name)(command)
        return fn

    return register


def _usage_mistake(
    e: ValidationError, short: Mapping[str, str], flags: Mapping[str, Sequence[str]]
) -> Exception:
    from caic.cli import usage

    err = e.errors()[0]
    field = str(err["loc"][0]) if err["loc"] else ""
    flag = flags.get(field, [_flag(field)])[0] if field else ""
    message = err["msg"].removeprefix("Value error, ")
    return usage(f"{flag}: {message}" if flag else message)
