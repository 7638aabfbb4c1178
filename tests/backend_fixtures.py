"""Helpers for the backend tests: a real llama.cpp OpenAI-compatible server on 127.0.0.1.

``tests/conftest.py`` belongs to other suites, so the backend test modules import
what they need from here.
"""

from __future__ import annotations

import contextlib
import importlib.util
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def default_gguf_or_skip() -> Path:
    from caic.backends.transformers_backend import default_gguf_path
    from caic.errors import UsageError

    try:
        return default_gguf_path()
    except UsageError as e:
        pytest.skip(f"the embedded model is not installed: {e}")


@contextlib.contextmanager
def llama_server(
    gguf: Path, *, threads: int = 1, alias: str = "smollm2", log: Path | None = None
) -> Iterator[str]:
    """Run ``python -m llama_cpp.server`` on a free port; yield its ``/v1`` base URL.

    The process is started directly (no shell), so the PID held is the server's
    own, and it is terminated, then killed if it lingers, on exit.
    """
    if importlib.util.find_spec("llama_cpp") is None:
        pytest.skip("llama_cpp is not importable: pip install 'caic[server]'")
    port = free_port()
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf),
           "--host", "127.0.0.1", "--port", str(port), "--model_alias", alias,
           "--n_threads", str(threads), "--n_threads_batch", str(threads)]  # fmt: skip
    out = open(log, "wb") if log else subprocess.DEVNULL  # noqa: SIM115 - closed below
    proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"llama.cpp server exited with {proc.returncode}: {cmd}")
            try:
                with urllib.request.urlopen(url + "/models", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("llama.cpp server did not answer /v1/models within 120 s")
            time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)
        if log:
            out.close()  # type: ignore[union-attr]
