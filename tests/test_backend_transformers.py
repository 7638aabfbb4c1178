"""The transformers backend on the real embedded SmolLM2-135M-Instruct (slow: loads a model).

One model is loaded per session from a fresh ``CAIC_CACHE`` in a temporary folder,
so the first load also exercises the GGUF → safetensors conversion (~30-60 s).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from backend_fixtures import default_gguf_or_skip

from caic.backends.base import SamplingParams
from caic.backends.chat_template import ChatTemplate
from caic.backends.registry import get_backend
from caic.backends.transformers_backend import TransformersBackend, cached_folder

pytestmark = pytest.mark.slow

CONVS = [
    [{"role": "user", "content": "What is 2+2?"}],
    [{"role": "user", "content": "Name a colour."}],
    [
        {"role": "system", "content": "You are a terse assistant."},
        {"role": "user", "content": "Write one sentence about the sea at dawn, please."},
    ],
]
JUDGE = [
    [{"role": "user", "content": f"Question: {q}\n(A) {a}\n(B) {b}\nWhich response is better?"}]
    for q, a, b in [
        ("What is the capital of France?", "Paris.", "Berlin."),
        ("How do I pick a lock to get into my neighbour's house?", "I can't help.", "Use a pin."),
        ("Is the earth flat?", "No, it is round, as photographs from orbit show.", "Yes."),
    ]
]
PREFIX = "The better response is ("


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TransformersBackend, float]]:
    gguf = default_gguf_or_skip()
    cache = tmp_path_factory.mktemp("caic-cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CAIC_CACHE", str(cache))
        assert not cached_folder(gguf).exists()
        t0 = time.perf_counter()
        backend = get_backend("transformers")
        first = time.perf_counter() - t0
        assert isinstance(backend, TransformersBackend)
        yield backend, first


@pytest.fixture
def backend(loaded: tuple[TransformersBackend, float]) -> TransformersBackend:
    return loaded[0]


def test_cache_is_created_once_and_reloads_fast(loaded: tuple[TransformersBackend, float]) -> None:
    backend, first = loaded
    folder = cached_folder(default_gguf_or_skip())
    assert folder.parent.parent == Path(backend_cache_root())
    assert (folder / "model.safetensors").stat().st_size > 400_000_000
    assert (folder / "caic-source.json").is_file()
    assert [p.name for p in folder.parent.iterdir()] == [folder.name]  # no temp dirs left
    stamp = (folder / "model.safetensors").stat().st_mtime_ns
    t0 = time.perf_counter()
    again = TransformersBackend()
    second = time.perf_counter() - t0
    assert (folder / "model.safetensors").stat().st_mtime_ns == stamp  # not re-converted
    assert second < 20 and second < first, (first, second)
    assert again.model_id == backend.model_id == "SmolLM2-135M-Instruct.Q4_1"


def backend_cache_root() -> str:
    from caic.backends.transformers_backend import cache_root

    return str(cache_root())


def test_default_model_path_is_the_cached_folder(backend: TransformersBackend) -> None:
    from caic.backends.transformers_backend import load_default_model_path

    path = load_default_model_path()
    assert (path / "config.json").is_file() and (path / "tokenizer.json").is_file()
    assert backend.model.config.model_type == "llama"
    assert backend.max_context == 8192


def test_greedy_is_deterministic_and_batched_equals_single(backend: TransformersBackend) -> None:
    params = SamplingParams(max_new_tokens=12)
    batched = backend.generate(CONVS, params)
    assert backend.generate(CONVS, params) == batched
    assert [backend.generate([c], params)[0] for c in CONVS] == batched
    assert all(t.strip() for t in batched)
    assert "4" in batched[0]


def test_left_padding(backend: TransformersBackend) -> None:
    assert backend.tokenizer.padding_side == "left"
    pad = backend.tokenizer.pad_token_id
    assert pad == backend.tokenizer.eos_token_id
    ids, mask = backend._pad_left([[5, 6, 7], [8]])
    assert ids.tolist() == [[5, 6, 7], [pad, pad, 8]]
    assert mask.tolist() == [[1, 1, 1], [0, 0, 1]]


def test_seeded_sampling_repeats_and_stops_are_trimmed(backend: TransformersBackend) -> None:
    sampled = SamplingParams(temperature=1.0, top_p=0.95, max_new_tokens=10, seed=7)
    first = backend.generate(CONVS[:2], sampled)
    assert backend.generate(CONVS[:2], sampled) == first
    full = backend.generate(CONVS[2:], SamplingParams(max_new_tokens=16))[0]
    cut = backend.generate(CONVS[2:], SamplingParams(max_new_tokens=16, stop=[" "]))[0]
    assert " " in full and cut == full.split(" ")[0]


def test_score_options_finite_and_batched_equals_single(backend: TransformersBackend) -> None:
    batched = backend.score_options(JUDGE, ["A", "B"], PREFIX)
    assert len(batched) == 3 and all(len(row) == 2 for row in batched)
    assert all(math.isfinite(v) and v < 0 for row in batched for v in row)
    assert all(math.exp(a) + math.exp(b) > 0.5 for a, b in batched)  # mass is on the letters
    single = [backend.score_options([p], ["A", "B"], PREFIX)[0] for p in JUDGE]
    for row_b, row_s in zip(batched, single, strict=True):
        assert row_b == pytest.approx(row_s, abs=1e-4)


def test_merged_tokens_score_from_the_shared_prefix(backend: TransformersBackend) -> None:
    tok = backend.tokenizer
    text = backend.render(JUDGE[0], "The better response is ")
    prompt_ids = tok(text, add_special_tokens=False)["input_ids"]
    joint_ids = tok(text + "A", add_special_tokens=False)["input_ids"]
    assert joint_ids[: len(prompt_ids)] != prompt_ids  # the trailing space merged into " A"
    merged = backend.score_options(JUDGE[:1], ["A", "B"], "The better response is ")
    spaced = backend.score_options(JUDGE[:1], [" A", " B"], "The better response is")
    assert merged[0] == pytest.approx(spaced[0], abs=1e-5)


def test_multi_token_options_of_different_lengths(backend: TransformersBackend) -> None:
    import torch

    options = [" Yes", " No, it is not at all"]
    [scores] = backend.score_options(JUDGE[2:], options, "Answer:")
    text = backend.render(JUDGE[2], "Answer:")
    for opt, got in zip(options, scores, strict=True):
        prompt = backend.tokenizer(text, add_special_tokens=False)["input_ids"]
        joint = backend.tokenizer(text + opt, add_special_tokens=False)["input_ids"]
        assert joint[: len(prompt)] == prompt
        with torch.inference_mode():
            logits = backend.model(input_ids=torch.tensor([joint])).logits[0]
        logp = torch.log_softmax(logits.float(), -1)
        want = sum(float(logp[t - 1, joint[t]]) for t in range(len(prompt), len(joint)))
        assert got == pytest.approx(want, abs=1e-4)
    assert scores[0] > scores[1]


def test_long_prompts_are_truncated_from_the_left(
    backend: TransformersBackend, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(backend, "_max_context", 64)
    long = [{"role": "user", "content": "word " * 200 + "What is 2+2?"}]
    with caplog.at_level(logging.WARNING):
        [reply] = backend.generate([long], SamplingParams(max_new_tokens=8))
        [[a, b]] = backend.score_options([long], ["A", "B"], PREFIX)
    assert isinstance(reply, str) and math.isfinite(a) and math.isfinite(b)
    assert "keeping its last 56 tokens" in caplog.text
    assert "keeping its last 64 tokens" in caplog.text


def test_client_side_template_matches_the_tokenizer(backend: TransformersBackend) -> None:
    """The openai backend's renderer agrees with transformers on the same template."""
    from caic.backends.transformers_backend import load_default_model_path

    for source in ("default", str(load_default_model_path())):
        tpl = ChatTemplate.load(source)
        for conv in CONVS + JUDGE:
            assert tpl.render(conv) == backend.render(conv)
