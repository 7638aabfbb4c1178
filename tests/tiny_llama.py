"""A randomly initialised Llama small enough to train in seconds on a CPU, for the tests
that run the real trainers (``test_train_rl_tiny.py``, ``test_train_soft_labels.py``)."""

from __future__ import annotations

from typing import Any


def tiny_llama_config(vocab: int, hidden: int, layers: int, **extra: Any) -> Any:
    """A ``LlamaConfig`` of ``layers`` blocks ``hidden`` wide, with two attention heads
    sharing one key/value head and a feed-forward layer twice as wide; ``extra`` goes to
    the config as it is (token ids, ``num_labels``, ...)."""
    from transformers import LlamaConfig

    return LlamaConfig(
        vocab_size=vocab,
        hidden_size=hidden,
        intermediate_size=2 * hidden,
        num_hidden_layers=layers,
        num_attention_heads=2,
        num_key_value_heads=1,
        **extra,
    )
