"""caic.io's atomic writer: whole files or none, with the mode a plain open() gives."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from caic.io import atomic_write, write_text_atomic


def test_atomic_write_is_all_or_nothing_and_readable_like_a_plain_file(tmp_path: Path) -> None:
    out = tmp_path / "sub" / "out.json"
    write_text_atomic(out, "{}\n")
    assert out.read_text() == "{}\n"
    mask = os.umask(0o022)
    os.umask(mask)
    assert stat.S_IMODE(out.stat().st_mode) == 0o666 & ~mask  # not mkstemp's 0600
    with pytest.raises(RuntimeError), atomic_write(out) as f:
        f.write("half")
        raise RuntimeError("killed")
    assert out.read_text() == "{}\n"
    assert [p.name for p in out.parent.iterdir()] == ["out.json"]  # no temporary left
