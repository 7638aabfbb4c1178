"""The wheel installs caic under one namespace and works from a fresh virtual environment."""

from __future__ import annotations

import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(out),
            str(ROOT),
        ],
        check=True,
        timeout=600,
    )
    return next(out.glob("caic-*.whl"))


def test_wheel_has_only_the_caic_namespace(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert top == {"caic"}
    for pkg in ("constitution_lang", "compiler", "training", "evals", "constitutions"):
        assert f"caic/{pkg}/__init__.py" in names
    assert "caic/constitution_lang/cai.lark" in names
    assert "caic/compiler/templates/critique.j2" in names
    assert "caic/constitutions/hhh-v2.cai" in names
    assert "caic/constitutions/modular/assistant.cai" in names
    assert "caic/compiler/lint/pair_encoder.npz" in names  # the lint pair rules' weights


def test_wheel_installs_and_runs_in_a_fresh_venv(wheel: Path, tmp_path: Path) -> None:
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    py = env_dir / "bin" / "python"
    subprocess.run([str(py), "-m", "pip", "install", "-q", str(wheel)], check=True, timeout=900)
    bin_caic = env_dir / "bin" / "caic"
    r = subprocess.run(
        [str(bin_caic), "--version"], capture_output=True, text=True, cwd=tmp_path, check=True
    )
    assert r.stdout.strip().startswith("caic ")
    out = tmp_path / "ps"
    r = subprocess.run(
        [str(bin_caic), "compile", "hhh-v2", "-o", str(out)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert r.returncode == 0, r.stderr
    assert (out / "manifest.json").exists() and (out / "judge.jsonl").stat().st_size > 0
    # generic names are not importable at top level
    r = subprocess.run([str(py), "-c", "import compiler"], capture_output=True, cwd=tmp_path)
    assert r.returncode != 0
    r = subprocess.run(
        [str(py), "-c", "import caic.compiler, caic.evals, caic.training"],
        capture_output=True,
        cwd=tmp_path,
    )
    assert r.returncode == 0
