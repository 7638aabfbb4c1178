"""The in-process vLLM engine, for batch generation on a GPU (the ``caic[vllm]`` extra).

vLLM is imported only when this backend is built. Option scoring asks vLLM for the
log-prob of each prompt token (``prompt_logprobs``) over prompt+option, and sums
the tokens after the longest prefix shared with the prompt alone, exactly as the
transformers backend does; prefix caching makes the repeated prompt cheap.
With no model given it serves the embedded SmolLM2 from its safetensors cache, so
it works without network access.
"""

from __future__ import annotations

from typing import Any

from caic.backends.base import (
    Backend,
    Message,
    SamplingParams,
    check_options,
    split_continuation,
    trim_at_stop,
)
from caic.errors import CaicError, usage_error


def _import_vllm() -> Any:
    try:
        import vllm
    except ImportError as e:
        raise usage_error(
            f"the vllm backend needs vLLM, which is not installed ({e.name or e})",
            hint="pip install 'caic[vllm]' (CUDA only; there is no CPU wheel)",
        ) from None
    return vllm


class VLLMBackend(Backend):
    """A ``vllm.LLM`` engine; extra keyword arguments go to its constructor."""

    def __init__(
        self,
        target: str | None = None,
        *,
        name: str | None = None,
        dtype: str = "auto",
        gpu_memory_utilization: float = 0.85,
        max_context: int | None = None,
        seed: int = 0,
        **engine_kw: Any,
    ) -> None:
        vllm = _import_vllm()
        self._vllm = vllm
        self.name = name or (f"vllm:{target}" if target else "vllm")
        if target is None:
            from caic.backends.transformers_backend import (
                default_gguf_path,
                load_default_model_path,
            )

            source = str(load_default_model_path())
            self.model_id = default_gguf_path().stem
        else:
            source = self.model_id = target
        kw: dict[str, Any] = {
            "model": source,
            "dtype": dtype,
            "gpu_memory_utilization": gpu_memory_utilization,
            "seed": seed,
            "enable_prefix_caching": True,
        }
        if max_context:
            kw["max_model_len"] = max_context
        kw.update(engine_kw)
        try:
            self.llm = vllm.LLM(**kw)
        except (OSError, ValueError, RuntimeError) as e:
            raise CaicError(f"vLLM could not load {source!r}: {str(e).splitlines()[0]}") from None
        self.tokenizer = self.llm.get_tokenizer()
        self._max_context = int(self.llm.llm_engine.model_config.max_model_len)

    @property
    def max_context(self) -> int:
        return self._max_context

    def _params(self, params: SamplingParams, **extra: Any) -> Any:
        return self._vllm.SamplingParams(
            temperature=params.temperature,
            top_p=params.top_p,
            max_tokens=params.max_new_tokens,
            seed=params.seed,
            stop=list(params.stop) or None,
            **extra,
        )

    def generate(self, conversations: list[list[Message]], params: SamplingParams) -> list[str]:
        outs = self.llm.chat(conversations, self._params(params), use_tqdm=False)
        return [trim_at_stop(o.outputs[0].text, params.stop) for o in outs]

    def generate_text(self, prompts: list[str], params: SamplingParams) -> list[str]:
        outs = self.llm.generate(prompts, self._params(params), use_tqdm=False)
        return [trim_at_stop(o.outputs[0].text, params.stop) for o in outs]

    def _encode(self, text: str) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def score_options(
        self, prompts: list[list[Message]], options: list[str], assistant_prefix: str = ""
    ) -> list[list[float]]:
        opts = check_options(options)
        requests: list[dict[str, list[int]]] = []
        cuts: list[int] = []
        for conv in prompts:
            text = self.tokenizer.apply_chat_template(
                conv, tokenize=False, add_generation_prompt=True
            )
            text = str(text) + assistant_prefix
            prompt_ids = self._encode(text)
            for opt in opts:
                joint = self._encode(text + opt)
                requests.append({"prompt_token_ids": joint})
                cuts.append(max(1, split_continuation(prompt_ids, joint)))
        sp = self._vllm.SamplingParams(max_tokens=1, temperature=0.0, prompt_logprobs=0)
        outs = self.llm.generate(requests, sp, use_tqdm=False)
        flat: list[float] = []
        for req, cut, out in zip(requests, cuts, outs, strict=True):
            ids = req["prompt_token_ids"]
            plp = out.prompt_logprobs or []
            flat.append(float(sum(plp[t][ids[t]].logprob for t in range(cut, len(ids)))))
        n = len(opts)
        return [flat[i * n : (i + 1) * n] for i in range(len(prompts))]

    def close(self) -> None:
        del self.llm
