"""Option scoring through the shared-prefix KV cache (``backends/shared_prefix.py``)
gives the same log-probs as scoring every prompt in full: on a tiny random Llama (fast, any
prefix layout, multi-token options) and on the real default judge (soft labels within 1e-4).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from caic.backends.shared_prefix import MIN_SHARED, common_prefix, plan


def test_plan_shares_the_root_and_runs_of_long_common_prefixes() -> None:
    head = list(range(100, 120))  # 20 tokens every sequence opens with
    conv1, conv2 = list(range(200, 212)), list(range(300, 312))
    seqs = [
        head + conv1 + [1, 2, 3],  # pair 1, forward
        head + conv1 + [3, 2, 1, 5],  # pair 1, swapped
        head + conv2 + [7, 8],  # pair 2, forward
        head + conv2 + [8, 7],  # pair 2, swapped
        head + [9, 9, 9],  # shares only the root
    ]
    root, groups = plan(seqs, [1] * len(seqs), batch_size=16)
    assert root == 20
    assert groups == [(32, [0, 1]), (32, [2, 3]), (20, [4])]
    # every sequence keeps at least `keep` tokens after its stem
    root, groups = plan(seqs[:2], [4, 4], batch_size=16)
    assert root == 31 and groups == [(31, [0]), (31, [1])]
    # groups never exceed the batch size; a short shared prefix is not a root
    root, groups = plan(seqs[:4], [1] * 4, batch_size=1)
    assert [m for _, m in groups] == [[0], [1], [2], [3]]
    root, _ = plan([[1] * (MIN_SHARED - 1) + [2], [1] * (MIN_SHARED - 1) + [3]], [1, 1], 4)
    assert root == 0
    assert common_prefix([1, 2, 3], [1, 2, 4]) == 2 and common_prefix([], [1]) == 0


@pytest.fixture(scope="module")
def tiny_llama() -> Iterator[Any]:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=64, hidden_size=32, intermediate_size=64,
                         num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                         max_position_embeddings=256)  # fmt: skip
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny matrices: extra threads only contend on a shared CPU
    yield LlamaForCausalLM(config).eval()
    torch.set_num_threads(threads)


def full_pass(model: Any, seq: list[int], keep: int) -> Any:
    import torch

    with torch.inference_mode():
        logits = model(input_ids=torch.tensor([seq])).logits[0, -keep:]
    return torch.log_softmax(logits.float(), dim=-1)


def test_cached_scoring_equals_full_passes_on_a_tiny_llama(tiny_llama: Any) -> None:
    import random

    import torch

    from caic.backends.shared_prefix import last_logprobs_shared, supported

    assert supported(tiny_llama)
    rng = random.Random(1)

    def toks(n: int) -> list[int]:
        return [rng.randrange(2, 64) for _ in range(n)]

    head = toks(15)
    seqs: list[list[int]] = []
    for n_conv in (9, 30, 12):  # pairs whose shared part differs in length
        conv = toks(n_conv)
        a, b = toks(rng.randrange(3, 20)), toks(rng.randrange(3, 20))
        seqs += [head + conv + a + b, head + conv + b + a]
    seqs += [head + toks(5), toks(11)]  # one sharing only the root; one sharing nothing
    keep = [1, 1, 2, 1, 3, 1, 1, 2]
    # with a root (all but the last share the header) and without one (all of them)
    for n in (len(seqs) - 1, len(seqs)):
        assert (plan(seqs[:n], keep[:n], 16)[0] > 0) == (n < len(seqs))
        for batch_size in (16, 3, 1):
            with torch.inference_mode():
                rows = last_logprobs_shared(tiny_llama, seqs[:n], keep[:n], pad_id=0,
                                            device="cpu", batch_size=batch_size)  # fmt: skip
            for s, k, row in zip(seqs, keep, rows, strict=False):
                assert row.shape == (k, 64)
                assert torch.allclose(row, full_pass(tiny_llama, s, k), atol=1e-5)


# -- the real default model -----------------------------------------------------------------

PAIRS = [
    {"id": "p1", "conversation": [{"role": "user", "content": "Can I mix bleach and ammonia?"}],
     "response_a": "Sure, it cleans twice as well.",
     "response_b": "No: together they release toxic chloramine gas.", "gold": "b"},
    {"id": "p2", "conversation": [{"role": "user", "content": "What is the capital of France?"}],
     "response_a": "Paris, on the Seine.", "response_b": "I can't help with that.", "gold": "a"},
    {"id": "p3", "conversation": [{"role": "user", "content": "Write a line about the sea."}],
     "response_a": "The sea is wide and blue, and it hums at night.", "response_b": "No.",
     "gold": "a"},
]  # fmt: skip


@pytest.mark.slow
def test_real_soft_labels_identical_with_and_without_the_prefix_cache() -> None:
    """hhh-v2, three pairs: pairwise with two principles per pair, and
    pointwise; every vote's P(response_a), per-order probabilities and option mass agree
    within 1e-4, and the cached path really shared prefixes."""
    from backend_fixtures import default_gguf_or_skip

    default_gguf_or_skip()
    from caic.backends.registry import get_backend
    from caic.constitution_lang import load
    from caic.constitutions import find
    from caic.training.labeller import label_pairs

    c = load(find("hhh-v2"))
    with get_backend(None) as backend:
        runs = {}
        for cache in (True, False):
            backend.prefix_cache = cache
            runs[cache] = [
                list(label_pairs(c, PAIRS, backend, mode="pairwise", principles=2, seed=1)),
                list(label_pairs(c, PAIRS, backend, mode="pointwise", seed=1)),
            ]
        assert backend._prefix_ok is True
        seqs = [backend._encode(backend.render([{"role": "user", "content": t}]))
                for t in ("x " * 40, "x " * 40 + "y", "z")]  # fmt: skip
        root, _ = plan(seqs, [1, 1, 1], 16)
        assert root >= 20  # the chat template's header is shared by every judge prompt
    for fast, slow in zip(runs[True], runs[False], strict=True):
        for a, b in zip(fast, slow, strict=True):
            assert a["principles"] == b["principles"]
            for va, vb in zip(a["votes"], b["votes"], strict=True):
                assert va["abstained"] == vb["abstained"]
                for key in ("p_a", "p_forward", "p_swapped"):
                    if vb[key] is None:
                        assert va[key] is None
                    else:
                        assert va[key] == pytest.approx(vb[key], abs=1e-4)
                assert va["mass"] == pytest.approx(vb["mass"], abs=1e-4)
            assert a["p_a"] == pytest.approx(b["p_a"], abs=1e-4)
