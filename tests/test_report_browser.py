"""The HTML report in a real browser: headless Chromium renders it, offline.

Checks the rendered DOM (not the source) for the metric table, the trade-off plot and
the flipped-items section. The slow test does so on two real ``caic eval`` runs of the
embedded model (v1 and v2 constitutions as system prompts) and saves its screenshot to
``docs/report.png`` for the README. Skipped when Debian's ``chromium`` is not installed
(``.ci/run`` installs it).
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from report_fixtures import cli, two_runs

ROOT = Path(__file__).parent.parent
CHROMIUM = shutil.which("chromium") or (
    "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None
)
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")


def chromium(profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    return subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=180,
    )


class Dom(HTMLParser):
    """Every element as (tag, attributes, ids of its open ancestors)."""

    def __init__(self) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str], tuple[str, ...]]] = []
        self.stack: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        self.elements.append((tag, a, tuple(i for _, i in self.stack if i)))
        if tag not in ("meta", "br", "line", "circle", "rect", "input", "img"):
            self.stack.append((tag, a.get("id", "")))

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i][0] == tag:
                del self.stack[i:]
                break

    def within(self, ancestor: str, tag: str, cls: str | None = None) -> int:
        return sum(
            1
            for t, a, up in self.elements
            if t == tag and ancestor in up and (cls is None or cls in a.get("class", "").split())
        )


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def render(runs: tuple[Path, Path], tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    from caic.evals.report import build_report, load_run
    from caic.evals.report.render import render_html

    report = build_report([load_run(r) for r in runs])
    html = tmp_path / "report.html"
    html.write_text(render_html(report), encoding="utf-8")
    return html, report


def check_and_screenshot(html: Path, tmp_path: Path, n_metrics: int, save: Path | None) -> Dom:
    url = html.resolve().as_uri()
    r = chromium(tmp_path / "profile", "--dump-dom", url)
    assert r.returncode == 0, r.stderr[-2000:]
    dom = Dom()
    dom.feed(r.stdout)
    ids = {a.get("id") for _, a, _ in dom.elements}
    assert {"metrics-table", "tradeoff-plot", "flips", "constitution-diff"} <= ids
    assert dom.within("metrics-table", "tr") == n_metrics + 1  # header + one row per metric
    assert dom.within("tradeoff-plot", "g", "run-point") == 2
    assert dom.within("tradeoff-plot", "circle") == 2
    assert dom.within("flips", "h3") == 1  # one comparison: baseline → candidate
    shot = tmp_path / "report.png"
    r = chromium(tmp_path / "profile", f"--screenshot={shot}", "--window-size=1280,2000", url)
    assert r.returncode == 0 and shot.exists(), r.stderr[-2000:]
    assert png_size(shot) == (1280, 2000)
    assert shot.stat().st_size > 50_000  # a blank page compresses to a few kB
    if save is not None:
        save.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, save)
    return dom


def test_fixture_report_in_chromium(tmp_path: Path) -> None:
    """Runs generated from known samples: fast, and flips are guaranteed."""
    html, report = render(two_runs(tmp_path / "runs"), tmp_path)
    dom = check_and_screenshot(html, tmp_path, len(report["metrics"]), save=None)
    assert dom.within("flips", "table", "flip") == 4  # one table per suite with flips
    assert dom.within("flips", "tr") == 42 + 4  # every flipped item + a header per table


REAL_SUITES = "harmlessness,over-refusal,label-agreement"


@pytest.fixture(scope="module")
def real_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Two real runs of the embedded model: v1 and v2 constitutions as system prompts."""
    root = tmp_path_factory.mktemp("real")
    for name, constitution in (("v1", "cai-2022-harmless"), ("v2", "hhh-v2")):
        r = subprocess.run(
            [sys.executable, "-m", "caic", "eval", "--suite", REAL_SUITES, "--limit", "4",
             "-c", constitution, "--system-prompt", "--max-new-tokens", "24",
             "-o", str(root / name)],
            capture_output=True,
            text=True,
            timeout=1800,
        )  # fmt: skip
        assert r.returncode == 0, r.stderr[-3000:]
    return root / "v1", root / "v2"


@pytest.mark.slow
def test_real_runs_report_in_chromium(real_runs: tuple[Path, Path], tmp_path: Path) -> None:
    """The README's screenshot: a report of two real eval runs, rendered by Chromium."""
    html, report = render(real_runs, tmp_path)
    # Every metric caic eval declares is backed by the samples, so each gets a paired test.
    for m in report["metrics"]:
        comp = m["comparisons"]["v2"]
        if m["runs"]["v1"] and m["runs"]["v2"]:
            assert comp["test"] is not None, (m["key"], comp["verdict"])
    (entry,) = report["constitution_diffs"]
    assert entry["status"] == "diff" and entry["diff"]["new"]["name"] == "hhh-v2"
    # The README's copy is refreshed only on request: a test run leaves the tree as it was.
    save = ROOT / "docs" / "report.png" if os.environ.get("CAIC_UPDATE_SCREENSHOT") else None
    check_and_screenshot(html, tmp_path, len(report["metrics"]), save=save)
    # The CI gate of the issue, on real metric names.
    delta = next(m for m in report["metrics"] if m["key"] == "over_refusal.full_refusal_rate")[
        "comparisons"
    ]["v2"]["delta"]
    gate = "over_refusal.full_refusal_rate.delta > 0.05"
    code, _, err = cli("report", *map(str, real_runs), "-o", str(tmp_path / "r.md"),
                       "--fail-on", gate)  # fmt: skip
    assert code == (1 if delta > 0.05 else 0), err
