"""Shared test configuration.

Golden files are regenerated only with ``--update-goldens`` (or CAIC_UPDATE_GOLDENS=1).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"
ROOT = Path(__file__).parent.parent


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-goldens",
        action="store_true",
        default=False,
        help="rewrite golden files instead of comparing against them",
    )


@pytest.fixture(scope="module")
def lint_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """``CAIC_CACHE`` in the session's temporary folder for a module's tests, so lint
    embeddings are computed once per session and never touch the user's cache."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CAIC_CACHE", str(tmp_path_factory.getbasetemp() / "caic-lint-cache"))
        yield


@pytest.fixture
def update_goldens(request: pytest.FixtureRequest) -> bool:
    return bool(
        request.config.getoption("--update-goldens") or os.environ.get("CAIC_UPDATE_GOLDENS") == "1"
    )


@pytest.fixture
def golden(update_goldens: bool):  # type: ignore[no-untyped-def]
    """``golden(path, actual)``: compare with the file, or write it under --update-goldens."""

    def check(path: Path, actual: str) -> None:
        if update_goldens or not path.exists():
            if not update_goldens:
                pytest.fail(f"golden file {path} is missing; run with --update-goldens")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(actual, encoding="utf-8")
            return
        expected = path.read_text(encoding="utf-8")
        assert actual == expected, f"output differs from golden {path}"

    return check
