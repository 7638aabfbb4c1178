"""The HTML report in a real browser: headless Chromium renders it, offline.

Checks the rendered DOM (not the source) for the metric table, the trade-off plot and
the flipped-items section, and saves a screenshot to ``docs/report.png`` for the
README. Skipped when Debian's ``chromium`` is not installed (``.ci/run`` installs it).
"""

from __future__ import annotations

import shutil
import struct
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
from report_fixtures import two_runs

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


def render(runs: tuple[Path, Path], tmp_path: Path) -> Path:
    from caic.evals.report import build_report, load_run
    from caic.evals.report_render import render_html

    html = tmp_path / "report.html"
    html.write_text(render_html(build_report([load_run(r) for r in runs])), encoding="utf-8")
    return html


def check_and_screenshot(html: Path, tmp_path: Path, n_metrics: int, save: Path | None) -> None:
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
    assert dom.within("flips", "table", "flip") >= 1 and dom.within("flips", "tr") >= 2
    shot = tmp_path / "report.png"
    r = chromium(tmp_path / "profile", f"--screenshot={shot}", "--window-size=1280,2000", url)
    assert r.returncode == 0 and shot.exists(), r.stderr[-2000:]
    assert png_size(shot) == (1280, 2000)
    assert shot.stat().st_size > 50_000  # a blank page compresses to a few kB
    if save is not None:
        save.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, save)


def test_fixture_report_in_chromium(tmp_path: Path) -> None:
    runs = two_runs(tmp_path / "runs")
    html = render(runs, tmp_path)
    check_and_screenshot(html, tmp_path, n_metrics=8, save=ROOT / "docs" / "report.png")
