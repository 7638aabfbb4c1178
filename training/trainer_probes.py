"""Before/after measurements on training items: did the run learn what it was given?

- SFT: mean negative log-likelihood per token of the final assistant turn (should fall);
- reward model: mean reward margin r(chosen) - r(rejected) (should rise);
- DPO: the policy's log-probability margin log p(chosen) - log p(rejected); after training,
  beta x (after - before) is DPO's implicit reward margin (positive when it learned);
- RL: the reward model's mean reward of the policy's greedy completions (should rise).

Sequences are tokenised as TRL tokenises them (chat template, or plain text plus EOS).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

Row = dict[str, Any]


@contextmanager
def _measuring(model: Any) -> Iterator[Any]:
    """The model in eval mode without gradients, for a measurement; put back as it was (a
    probe runs before and after training, on the trainer's own model). Yields its device."""
    import torch

    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            yield next(model.parameters()).device
    finally:
        model.train(was_training)


def _ids(tok: Any, x: str | list[dict[str, str]], **kw: Any) -> list[int]:
    if isinstance(x, list):
        return list(tok.apply_chat_template(x, tokenize=True, return_dict=True, **kw)["input_ids"])
    return list(tok(text=x)["input_ids"])


def encode(tok: Any, prompt: Any, completion: Any) -> tuple[list[int], int]:
    """Token ids of prompt + completion, and where the completion starts."""
    if isinstance(prompt, list):
        p = _ids(tok, prompt, add_generation_prompt=True)
        full = _ids(tok, prompt + completion)
    else:
        text = completion if completion.endswith(tok.eos_token) else completion + tok.eos_token
        p = _ids(tok, prompt)
        full = _ids(tok, prompt + text)
    n = 0
    for a, b in zip(p, full, strict=False):
        if a != b:
            break
        n += 1
    return full, n


def split_sft(row: Row) -> tuple[Any, Any]:
    """(prompt, completion) of an SFT row: the last assistant turn is the completion."""
    if "messages" in row:
        msgs = row["messages"]
        last = max(i for i, m in enumerate(msgs) if m["role"] == "assistant")
        return msgs[:last], [msgs[last]]
    if "prompt" in row:
        return row["prompt"], row["completion"]
    return "", row["text"]


def completion_logps(model: Any, tok: Any, pairs: list[tuple[Any, Any]]) -> list[tuple[float, int]]:
    """(sum of log-probs, token count) of each completion given its prompt; one pass each."""
    import torch

    out = []
    with _measuring(model) as device:
        for prompt, completion in pairs:
            ids, start = encode(tok, prompt, completion)
            start = max(start, 1)
            x = torch.tensor([ids], device=device)
            logits = model(input_ids=x).logits.float()[0, :-1]
            logp = torch.log_softmax(logits, -1)
            target = x[0, 1:]
            tok_lp = logp.gather(-1, target[:, None])[:, 0][start - 1 :]
            out.append((float(tok_lp.sum()), int(tok_lp.numel())))
    return out


def sft_nll(model: Any, tok: Any, rows: list[Row]) -> float:
    """Mean per-token NLL of the final assistant turns of ``rows``."""
    scores = completion_logps(model, tok, [split_sft(r) for r in rows])
    total = sum(s for s, _ in scores)
    count = sum(n for _, n in scores)
    return -total / max(count, 1)


def _as_pref(row: Row) -> tuple[Any, Any, Any]:
    prompt = row.get("prompt")
    if prompt is None:  # implicit prompt: the shared start of chosen and rejected
        from trl.data_utils import extract_prompt

        ex = extract_prompt({"chosen": row["chosen"], "rejected": row["rejected"]})
        return ex["prompt"], ex["chosen"], ex["rejected"]
    return prompt, row["chosen"], row["rejected"]


def policy_margin(model: Any, tok: Any, rows: list[Row]) -> float:
    """Mean of log p(chosen | prompt) - log p(rejected | prompt) under ``model``."""
    pairs = []
    for r in rows:
        p, c, rej = _as_pref(r)
        pairs += [(p, c), (p, rej)]
    lps = completion_logps(model, tok, pairs)
    margins = [lps[i][0] - lps[i + 1][0] for i in range(0, len(lps), 2)]
    return sum(margins) / len(margins)


def rewards(model: Any, tok: Any, seqs: list[Any]) -> list[float]:
    """Scalar rewards of full sequences (conversations or text) from a sequence classifier."""
    import torch

    out = []
    with _measuring(model) as device:
        for s in seqs:
            ids = _ids(tok, s)
            logits = model(input_ids=torch.tensor([ids], device=device)).logits
            out.append(float(logits[0, 0]))
    return out


def reward_margin(model: Any, tok: Any, rows: list[Row]) -> dict[str, float]:
    """Mean r(chosen) - r(rejected), the pairwise accuracy, and (with soft labels) the loss."""
    import math

    seqs = []
    for r in rows:
        p, c, rej = _as_pref(r)
        seqs += [p + c, p + rej]
    rs = rewards(model, tok, seqs)
    margins = [rs[i] - rs[i + 1] for i in range(0, len(rs), 2)]
    out = {
        "margin": sum(margins) / len(margins),
        "accuracy": sum(m > 0 for m in margins) / len(margins),
    }
    if all("p_chosen" in r for r in rows):
        from caic.training.rm import soft_bt_loss_value

        out["soft_loss"] = sum(
            soft_bt_loss_value(m, float(r["p_chosen"])) for m, r in zip(margins, rows, strict=True)
        ) / len(rows)
        assert math.isfinite(out["soft_loss"])
    return out


def greedy_reward(
    policy: Any,
    tok: Any,
    rm: Any,
    rm_tok: Any,
    prompts: list[list[dict[str, str]]],
    max_new_tokens: int,
) -> dict[str, Any]:
    """Mean reward-model score of the policy's greedy completions to ``prompts``."""
    import torch

    completions = []
    with _measuring(policy) as device:
        for p in prompts:
            ids = _ids(tok, p, add_generation_prompt=True)
            x = torch.tensor([ids], device=device)
            gen = policy.generate(
                input_ids=x,
                attention_mask=torch.ones_like(x),
                max_new_tokens=max_new_tokens,
                do_sample=False,
                pad_token_id=tok.pad_token_id,
            )
            completions.append(tok.decode(gen[0, len(ids) :], skip_special_tokens=True))
    convs = [
        p + [{"role": "assistant", "content": c}] for p, c in zip(prompts, completions, strict=True)
    ]
    rs = rewards(rm, rm_tok, convs)
    return {"mean_reward": sum(rs) / len(rs), "completions": completions}
