"""Usage mistakes read as usage mistakes, for every command: the command's usage line, the
problem, exit 2, and never the words "internal error" or a traceback."""

from __future__ import annotations

import sys
import typing
from collections.abc import Iterator
from typing import Any

import pytest
import typer

from caic.cli import app, main


def _leaves(cmd: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    subs = getattr(cmd, "commands", None)
    if subs:
        for name, sub in sorted(subs.items()):
            yield from _leaves(sub, (*path, name))
    else:
        yield path, cmd


def _commands() -> list[tuple[tuple[str, ...], Any]]:
    from caic.cli import commands  # noqa: F401  (registers the sub-commands)

    return list(_leaves(typer.main.get_command(app)))


COMMANDS = _commands()
IDS = [" ".join(p) for p, _ in COMMANDS]


def _run(argv: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: Any) -> tuple[int, str]:
    monkeypatch.setattr(sys, "argv", ["caic", *argv])
    monkeypatch.delenv("CAIC_DEBUG", raising=False)
    with pytest.raises(SystemExit) as exc:
        main()
    err = capsys.readouterr().err
    code = exc.value.code
    return (code if isinstance(code, int) else 1), err


def _assert_usage(rc: int, err: str, path: tuple[str, ...], problem: str) -> None:
    assert rc == 2, err
    assert "internal error" not in err and "Traceback" not in err, err
    assert f"Usage: caic {' '.join(path)}" in err, err
    assert problem in err, err


def _required_args(cmd: Any) -> list[str]:
    """A placeholder for every required argument, so parsing reaches the options."""
    return ["x" for p in cmd.params if p.param_type_name == "argument" and p.required]


def test_every_command_is_covered() -> None:
    names = set(IDS)
    for expected in ("compile", "lint", "eval", "report", "sl-cai generate", "rlaif label"):
        assert expected in names


def test_unknown_command_suggests(capsys: pytest.CaptureFixture[str], monkeypatch: Any) -> None:
    rc, err = _run(["exprt", "x"], capsys, monkeypatch)
    assert rc == 2 and "internal error" not in err
    assert "Usage: caic" in err and "No such command 'exprt'" in err
    assert "Did you mean 'export'" in err or "Did you mean 'report'" in err


def test_unknown_subcommand(capsys: pytest.CaptureFixture[str], monkeypatch: Any) -> None:
    rc, err = _run(["sl-cai", "generat"], capsys, monkeypatch)
    _assert_usage(rc, err, ("sl-cai",), "No such command 'generat'")


@pytest.mark.parametrize(("path", "cmd"), COMMANDS, ids=IDS)
def test_unknown_option(
    path: tuple[str, ...], cmd: Any, capsys: pytest.CaptureFixture[str], monkeypatch: Any
) -> None:
    rc, err = _run([*path, *_required_args(cmd), "--no-such-flag"], capsys, monkeypatch)
    _assert_usage(rc, err, path, "No such option: --no-such-flag")


@pytest.mark.parametrize(("path", "cmd"), COMMANDS, ids=IDS)
def test_missing_parameter(
    path: tuple[str, ...], cmd: Any, capsys: pytest.CaptureFixture[str], monkeypatch: Any
) -> None:
    required = [p for p in cmd.params if p.required]
    if not required:
        pytest.skip(f"caic {' '.join(path)} has no required parameter")
    rc, err = _run(list(path), capsys, monkeypatch)
    _assert_usage(rc, err, path, "Missing")


def _bad_value(param: Any) -> str | None:
    """A value the option's type rejects: a word for a number."""
    annotation = param.type_descriptor.annotation
    kinds = set(typing.get_args(annotation)) | {annotation}
    return "not-a-number" if kinds & {int, float} else None


@pytest.mark.parametrize(("path", "cmd"), COMMANDS, ids=IDS)
def test_bad_option_value(
    path: tuple[str, ...], cmd: Any, capsys: pytest.CaptureFixture[str], monkeypatch: Any
) -> None:
    typed = [
        (p, v)
        for p in cmd.params
        if p.param_type_name == "option"
        and not getattr(p, "is_flag", False)
        and (v := _bad_value(p)) is not None
    ]
    if not typed:
        pytest.skip(f"caic {' '.join(path)} has no option with a checked type")
    param, value = typed[0]
    rc, err = _run([*path, *_required_args(cmd), param.opts[0], value], capsys, monkeypatch)
    _assert_usage(rc, err, path, "Invalid value")


def test_own_usage_errors_show_the_usage_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: Any, tmp_path: Any
) -> None:
    src = tmp_path / "c.cai"
    src.write_text('cai 1\nconstitution "c" {\n}\n', encoding="utf-8")
    rc, err = _run(["lint", "--format", "nope", str(src)], capsys, monkeypatch)
    assert rc == 2 and "error[E008] unknown --format `nope`" in err
    assert "Usage: caic lint" in err and "internal error" not in err
