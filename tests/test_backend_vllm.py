"""The in-process vLLM backend on the embedded model (needs vllm and a CUDA GPU)."""

from __future__ import annotations

import importlib.util
import math
from collections.abc import Iterator

import pytest

from caic.backends.base import SamplingParams


def _skip_reason() -> str | None:
    if importlib.util.find_spec("vllm") is None:
        return "vllm is not installed (pip install 'caic[vllm]', CUDA only)"
    import torch

    if not torch.cuda.is_available():
        return "vLLM needs a CUDA GPU and none is available"
    return None


pytestmark = [pytest.mark.gpu, pytest.mark.slow]
CONVS = [[{"role": "user", "content": "What is 2+2?"}], [{"role": "user", "content": "Hi!"}]]
JUDGE = [
    [{"role": "user", "content": "Capital of France?\n(A) Paris.\n(B) Berlin.\nWhich is better?"}],
    [{"role": "user", "content": "Is the earth flat?\n(A) Yes.\n(B) No.\nWhich is better?"}],
]


@pytest.fixture(scope="module")
def backend() -> Iterator[object]:
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    from caic.backends.registry import get_backend

    b = get_backend("vllm", gpu_memory_utilization=0.3, max_context=2048)
    yield b
    b.close()


def test_greedy_generation_is_deterministic(backend: object) -> None:
    params = SamplingParams(max_new_tokens=16)
    first = backend.generate(CONVS, params)  # type: ignore[attr-defined]
    assert first == backend.generate(CONVS, params)  # type: ignore[attr-defined]
    assert all(t.strip() for t in first)


def test_score_options_finite_and_batched_equals_single(backend: object) -> None:
    batched = backend.score_options(JUDGE, ["A", "B"], "The better response is (")  # type: ignore[attr-defined]
    assert all(math.isfinite(v) and v < 0 for row in batched for v in row)
    for conv, row in zip(JUDGE, batched, strict=True):
        [single] = backend.score_options([conv], ["A", "B"], "The better response is (")  # type: ignore[attr-defined]
        assert single == pytest.approx(row, abs=1e-2)  # bf16 kernels vary with batch shape
