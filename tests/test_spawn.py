"""Jobs in a child process (``caic.spawn``): the result comes back, a caic error comes back
as the same error with its diagnostics and exit code, anything else as one line."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from caic.errors import CaicError, UsageError
from caic.spawn import run_in_child
from caic.training.slcai_job import ExportConfig, export


def test_result_comes_back_from_another_process(tmp_path: Path) -> None:
    pid = run_in_child(_pid, None)
    assert isinstance(pid, int) and pid != os.getpid()


def _pid(_: object) -> int:
    return os.getpid()


def test_caic_errors_come_back_whole(tmp_path: Path) -> None:
    empty = tmp_path / "traces.jsonl"
    empty.write_text('{"id": "a"\n', encoding="utf-8")
    cfg = ExportConfig(in_=empty, out=tmp_path / "sft.jsonl")
    with pytest.raises(CaicError) as here:
        export(cfg)
    with pytest.raises(UsageError) as there:
        run_in_child(export, cfg)
    assert there.value.exit_code == here.value.exit_code == 2
    assert [d.header() for d in there.value.diagnostics] == [
        d.header() for d in here.value.diagnostics
    ]
    assert not (tmp_path / "sft.jsonl").exists()


def _boom(_: object) -> None:
    raise RuntimeError("no good")


def test_other_errors_are_one_line() -> None:
    with pytest.raises(CaicError, match=r"test_spawn\._boom failed: RuntimeError: no good"):
        run_in_child(_boom, None)
