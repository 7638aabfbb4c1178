"""Score many token sequences that share prefixes, computing each shared prefix once.

Judge prompts share a lot: every prompt of a ``score_options`` call opens with the same
chat-template header and instructions, and the two orders of a pair (or every principle
judged on one pair) share the conversation too. :func:`last_logprobs_shared` runs the
model in three stages with a key/value cache:

1. **root**: the prefix common to all sequences, once, at batch size 1;
2. **stems**: per group of consecutive sequences sharing a longer prefix, the part of
   that prefix after the root, batched over groups on top of the root's cache;
3. **suffixes**: each sequence's remaining tokens, batched on top of its group's cache,
   keeping only the last positions' logits.

Padding goes to the left of each stage's new tokens, so in the cache it sits *between*
stages; the 2-D attention mask (the concatenation of every stage's mask) hides it and
positions count real tokens only, so every sequence sees exactly its own tokens at
their own positions, as in one uncached forward pass (fp32 results agree to ~1e-6).

Only models whose cache is a plain :class:`~transformers.DynamicCache` of full-attention
layers qualify (sliding-window or recurrent layers would need their own handling);
:func:`supported` tells, and the caller falls back to uncached scoring otherwise.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

MIN_SHARED = 8
"""A prefix shorter than this is not worth a separate stage."""


def common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    """Length of the longest common prefix of two token lists."""
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def plan(
    seqs: Sequence[Sequence[int]], keep: Sequence[int], batch_size: int
) -> tuple[int, list[tuple[int, list[int]]]]:
    """``(root length, [(stem end, member indices), ...])`` for :func:`last_logprobs_shared`.

    Every sequence keeps at least ``keep[k]`` tokens after its group's stem (those
    positions' logits are wanted). Groups are runs of consecutive sequences sharing at
    least :data:`MIN_SHARED` tokens beyond the root, at most ``batch_size`` members each.
    """
    cap = [len(s) - k for s, k in zip(seqs, keep, strict=True)]
    root = min(min(common_prefix(seqs[0], s) for s in seqs), min(cap))
    if root < MIN_SHARED:
        root = 0
    groups: list[tuple[int, list[int]]] = []
    k = 0
    while k < len(seqs):
        members, end = [k], cap[k]
        j = k + 1
        while j < len(seqs) and len(members) < batch_size:
            shared = min(common_prefix(seqs[k], seqs[j]), cap[j], end)
            if shared < root + MIN_SHARED:
                break
            members.append(j)
            end = shared
            j += 1
        groups.append((end if len(members) > 1 else root, members))
        k = j
    return root, groups


def supported(model: Any) -> bool:
    """Whether the model's cache is all plain full-attention :class:`DynamicLayer` s."""
    from transformers import DynamicCache
    from transformers.cache_utils import DynamicLayer

    try:
        cache = DynamicCache(config=model.config)
    except Exception:  # an architecture the cache cannot describe: score uncached
        return False
    return bool(cache.layers) and all(type(layer) is DynamicLayer for layer in cache.layers)


def _layers(cache: Any) -> list[tuple[torch.Tensor, torch.Tensor]]:
    return [(layer.keys, layer.values) for layer in cache.layers]


def _cache_of(out: Any) -> Any:
    # transformers 5.x renamed the output's ``past_key_values`` to ``cache``
    cache = getattr(out, "cache", None)
    return cache if cache is not None else out.past_key_values


def _cache_from(layers: list[tuple[torch.Tensor, torch.Tensor]]) -> Any:
    from transformers import DynamicCache

    return DynamicCache(layers)


def _pad_left(
    rows: Sequence[Sequence[int]], pad: int, device: str
) -> tuple[torch.Tensor, torch.Tensor]:
    import torch

    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, r in enumerate(rows):
        if r:
            ids[i, width - len(r) :] = torch.tensor(list(r), dtype=torch.long)
            mask[i, width - len(r) :] = 1
    return ids.to(device), mask.to(device)


def last_logprobs_shared(
    model: Any,
    seqs: Sequence[Sequence[int]],
    keep: Sequence[int],
    *,
    pad_id: int,
    device: str,
    batch_size: int,
) -> list[torch.Tensor]:
    """Log-softmax over the vocabulary at the last ``keep[k]`` positions of each sequence.

    The same result as one uncached forward pass per sequence, with shared prefixes run
    once (module docstring). Call under ``torch.inference_mode()``.
    """
    import torch

    root, groups = plan(seqs, keep, batch_size)
    root_layers: list[tuple[torch.Tensor, torch.Tensor]] = []
    if root:
        ids = torch.tensor([list(seqs[0][:root])], dtype=torch.long, device=device)
        out = model(input_ids=ids, use_cache=True, logits_to_keep=1)
        root_layers = _layers(_cache_of(out))
    # Big groups first, packed up to batch_size sequences per suffix batch; groups of
    # similar length batch together, so little compute goes to padding.
    order = sorted(range(len(groups)), key=lambda g: -max(len(seqs[m]) for m in groups[g][1]))
    batches: list[list[int]] = []
    count = 0
    for g in order:
        n = len(groups[g][1])
        if not batches or count + n > batch_size:
            batches.append([])
            count = 0
        batches[-1].append(g)
        count += n
    rows: list[torch.Tensor] = [torch.empty(0)] * len(seqs)
    for batch in batches:
        _run_batch(model, seqs, keep, root, root_layers, [groups[g] for g in batch],
                   rows, pad_id, device)  # fmt: skip
    return rows


def _run_batch(
    model: Any,
    seqs: Sequence[Sequence[int]],
    keep: Sequence[int],
    root: int,
    root_layers: list[tuple[torch.Tensor, torch.Tensor]],
    groups: list[tuple[int, list[int]]],
    rows: list[torch.Tensor],
    pad_id: int,
    device: str,
) -> None:
    import torch

    n_g = len(groups)
    mask = torch.ones((n_g, root), dtype=torch.long, device=device)
    layers = [(k.expand(n_g, -1, -1, -1), v.expand(n_g, -1, -1, -1)) for k, v in root_layers]
    stems = [seqs[members[0]][root:end] for end, members in groups]
    if any(stems):
        ids, stem_mask = _pad_left(stems, pad_id, device)
        mask = torch.cat([mask, stem_mask], dim=1)
        pos = (mask.cumsum(-1) - 1).clamp(min=0)[:, root:]
        cache = _cache_from(layers) if layers else None
        out = model(input_ids=ids, attention_mask=mask, position_ids=pos, cache=cache,
                    use_cache=True, logits_to_keep=1)  # fmt: skip
        layers = _layers(_cache_of(out))
    members = [(g, m) for g, (_, ms) in enumerate(groups) for m in ms]
    index = torch.tensor([g for g, _ in members], dtype=torch.long, device=device)
    suffixes = [seqs[m][groups[g][0] :] for g, m in members]
    ids, suf_mask = _pad_left(suffixes, pad_id, device)
    full = torch.cat([mask.index_select(0, index), suf_mask], dim=1)
    pos = (full.cumsum(-1) - 1).clamp(min=0)[:, full.shape[1] - ids.shape[1] :]
    cache = (
        _cache_from([(k.index_select(0, index), v.index_select(0, index)) for k, v in layers])
        if layers
        else None
    )
    k_max = max(keep[m] for _, m in members)
    logits = model(input_ids=ids, attention_mask=full, position_ids=pos, cache=cache,
                   use_cache=cache is not None, logits_to_keep=k_max).logits  # fmt: skip
    logp = torch.log_softmax(logits.float(), dim=-1).cpu()
    for b, (_, m) in enumerate(members):
        rows[m] = logp[b, k_max - keep[m] :]
