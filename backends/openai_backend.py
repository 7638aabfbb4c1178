"""Any OpenAI-compatible server (vLLM, llama.cpp, TGI) as a backend.

Requests go out from a thread pool over one pooled ``httpx`` client, spread
round-robin over one or more base URLs, per request (not per batch): request i goes
to URL i mod n, so n identical servers get equal shares. The pool's size (the
concurrency limit, by default 4 per URL) must be at least the number of URLs for
the servers to work at the same time. A failed attempt moves to the next URL.
Connection errors, timeouts, 429 and 5xx are retried with exponential backoff;
when every attempt fails the error is one line naming the URLs.

Option scoring uses the server's log-probs:

- with no ``assistant_prefix``, ``/chat/completions`` with ``logprobs`` and
  ``top_logprobs`` and one generated token (the server renders the chat template);
- with an ``assistant_prefix``, the prompt is rendered here with the model's chat
  template (from a GGUF, a tokenizer folder or a ``.jinja`` file; the embedded
  SmolLM2's by default for models named like it) and sent to ``/completions``, without
  the template's own BOS where the server's tokenizer adds one
  (:meth:`ChatTemplate.completion_prompt`), so the model sees the tokens a chat request
  would give it.

llama-cpp-python's server keeps the previous request's KV cache and evaluates only the
part of a new prompt after the prefix the two share (at least its last token), so the
same prompt is evaluated in one batch or token by token depending on what the server ran
before. Where llama.cpp's batched and single-token kernels round differently, scores then
differ in the last digits and greedy text can take the other branch at a near-tie; on an
AVX2 CPU we measured no difference (Q4_1 and Q4_0 files). Send an unrelated request first
where two runs must start from the same server state.

Top tokens are matched to options up to spaces and brackets (``" A"``, ``"A"`` and
``"(A"`` all count for ``A``; their probabilities are summed); an option absent from
the top-k gets ``missing_logprob`` (by default the lowest listed log-prob, an upper
bound on its true value). ``score_mode="echo"`` instead scores each option's full
text from the prompt's echoed log-probs: exact for multi-token options, one request
per option (slow on llama-cpp-python, which ranks the whole vocabulary for every
echoed token: about 10 s for a 60-token prompt on 2 CPU cores).
"""

from __future__ import annotations

import itertools
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from caic.backends.base import (
    Backend,
    Message,
    SamplingParams,
    check_options,
    describe,
    logsumexp,
    normalize_option,
    trim_at_stop,
)
from caic.backends.chat_template import ChatTemplate
from caic.errors import CaicError, usage_error

if TYPE_CHECKING:
    import httpx

DEFAULT_CONTEXT = 2048
"""Assumed context window when the server does not report one (llama.cpp's default)."""


@dataclass
class RequestStats:
    """Counters over the backend's lifetime; ``server_seconds`` only where reported.

    With ``trace=True`` on the backend, ``spans`` also holds ``(url, start, end)``
    (``time.perf_counter()`` seconds) for every successful request, to check that
    requests to different servers overlap in time.
    """

    requests: int = 0
    retries: int = 0
    client_seconds: float = 0.0
    server_seconds: float = 0.0
    server_timed: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    per_url: dict[str, int] = field(default_factory=dict)
    spans: list[tuple[str, float, float]] = field(default_factory=list)


class OpenAIBackend(Backend):
    """Chat completions and log-prob scoring against OpenAI-compatible servers."""

    def __init__(
        self,
        urls: list[str] | str,
        model: str | None = None,
        *,
        name: str | None = None,
        api_key: str | None = None,
        concurrency: int | None = None,
        max_retries: int = 4,
        backoff: float = 0.5,
        timeout: float = 300.0,
        chat_template: str | None = None,
        top_logprobs: int = 20,
        missing_logprob: float | None = None,
        score_mode: Literal["top_logprobs", "echo"] = "top_logprobs",
        max_context: int | None = None,
        transport: httpx.BaseTransport | None = None,
        trace: bool = False,
    ) -> None:
        import httpx

        self.urls = [urls] if isinstance(urls, str) else list(urls)
        if not self.urls:
            raise usage_error("the openai backend needs at least one URL")
        self.name = name or f"openai:{','.join(self.urls)}" + (f"#{model}" if model else "")
        self._model = model
        self.concurrency = concurrency or 4 * len(self.urls)
        self.trace = trace
        self.max_retries, self.backoff = max_retries, backoff
        self.top_logprobs, self.missing_logprob = top_logprobs, missing_logprob
        self.score_mode = score_mode
        self._template_spec = chat_template
        self._template: ChatTemplate | None = None
        self._max_context = max_context
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(
            headers=headers,
            timeout=httpx.Timeout(timeout, connect=min(10.0, timeout)),
            limits=httpx.Limits(max_connections=self.concurrency),
            transport=transport,
        )
        self._pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="caic-openai")
        self._turn = itertools.count()
        self._lock = threading.Lock()
        self.stats = RequestStats()

    # -- transport ---------------------------------------------------------------------------

    def _request(self, method: str, path: str, payload: dict[str, Any] | None = None) -> Any:
        """One call with retries; each attempt goes to the next URL in the rotation."""
        import httpx

        start = next(self._turn)
        tried: list[str] = []
        last = ""
        for attempt in range(self.max_retries + 1):
            base = self.urls[(start + attempt) % len(self.urls)]
            if base not in tried:
                tried.append(base)
            if attempt:
                with self._lock:
                    self.stats.retries += 1
                delay = min(self.backoff * 2 ** (attempt - 1), 30.0)
                time.sleep(delay * random.uniform(0.5, 1.0))
            t0 = time.perf_counter()
            try:
                r = self._client.request(method, base + path, json=payload)
            except httpx.TransportError as e:
                last = f"{type(e).__name__}: {describe(e)}"
                continue
            if r.status_code == 429 or r.status_code >= 500:
                last = f"HTTP {r.status_code}"
                continue
            if r.status_code >= 400:
                raise CaicError(f"{base}{path}: HTTP {r.status_code}: {_error_text(r)}")
            try:
                body = r.json()
            except ValueError:
                raise CaicError(f"{base}{path}: response is not JSON") from None
            self._record(base, body, t0, time.perf_counter())
            return body
        raise CaicError(
            f"cannot reach the OpenAI-compatible server at {', '.join(tried)} "
            f"after {self.max_retries + 1} attempts ({last})"
        )

    def _record(self, base: str, body: Any, t0: float, t1: float) -> None:
        usage = (body.get("usage") or {}) if isinstance(body, dict) else {}
        timings = body.get("timings") if isinstance(body, dict) else None
        with self._lock:
            s = self.stats
            s.requests += 1
            s.per_url[base] = s.per_url.get(base, 0) + 1
            s.client_seconds += t1 - t0
            if self.trace:
                s.spans.append((base, t0, t1))
            s.prompt_tokens += int(usage.get("prompt_tokens") or 0)
            s.completion_tokens += int(usage.get("completion_tokens") or 0)
            if isinstance(timings, dict):  # llama.cpp's own server reports these
                ms = float(timings.get("prompt_ms") or 0) + float(timings.get("predicted_ms") or 0)
                s.server_seconds += ms / 1000
                s.server_timed += 1

    # -- model facts -------------------------------------------------------------------------

    def _models(self) -> list[dict[str, Any]]:
        body = self._request("GET", "/models")
        data = body.get("data") if isinstance(body, dict) else None
        return [m for m in data or [] if isinstance(m, dict)]

    @property
    def model_id(self) -> str:  # type: ignore[override]
        if self._model is None:
            models = self._models()
            if not models:
                raise CaicError(f"{self.urls[0]}/models lists no model; name one with #MODEL")
            self._model = str(models[0]["id"])
        return self._model

    @property
    def max_context(self) -> int:
        if self._max_context is None:
            found = [m.get("max_model_len") for m in self._models() if m.get("id") == self.model_id]
            self._max_context = int(found[0]) if found and found[0] else DEFAULT_CONTEXT
        return self._max_context

    def _chat_template(self) -> ChatTemplate:
        if self._template is None:
            spec = self._template_spec
            if spec is None and "smollm" in self.model_id.lower():
                spec = "default"
            if spec is None:
                raise usage_error(
                    f"scoring with an assistant prefix needs {self.model_id!r}'s chat template",
                    hint="pass chat_template=PATH (a .gguf, tokenizer folder or .jinja file)",
                )
            self._template = ChatTemplate.load(spec)
        return self._template

    # -- generation --------------------------------------------------------------------------

    def _sampling(self, params: SamplingParams) -> dict[str, Any]:
        out: dict[str, Any] = {
            "model": self.model_id,
            "max_tokens": params.max_new_tokens,
            "temperature": params.temperature,
            "top_p": params.top_p,
        }
        if params.seed is not None:
            out["seed"] = params.seed
        if params.stop:
            out["stop"] = list(params.stop)
        return out

    def generate(self, conversations: list[list[Message]], params: SamplingParams) -> list[str]:
        base = self._sampling(params)

        def one(conv: list[Message]) -> str:
            body = self._request("POST", "/chat/completions", {**base, "messages": conv})
            text = _choice(body).get("message", {}).get("content") or ""
            return trim_at_stop(text, params.stop)

        return list(self._pool.map(one, conversations))

    def generate_text(self, prompts: list[str], params: SamplingParams) -> list[str]:
        base = self._sampling(params)

        def one(prompt: str) -> str:
            body = self._request("POST", "/completions", {**base, "prompt": prompt})
            return trim_at_stop(_choice(body).get("text") or "", params.stop)

        return list(self._pool.map(one, prompts))

    # -- option scoring ----------------------------------------------------------------------

    def score_options(
        self, prompts: list[list[Message]], options: list[str], assistant_prefix: str = ""
    ) -> list[list[float]]:
        opts = check_options(options)
        _ = self.model_id  # resolve once here, not from every worker thread
        if self.score_mode == "echo":
            texts = [self._chat_template().completion_prompt(p, assistant_prefix) for p in prompts]
            jobs = [(t, o) for t in texts for o in opts]
            flat = list(self._pool.map(lambda job: self._echo_score(*job), jobs))
            return [flat[i * len(opts) : (i + 1) * len(opts)] for i in range(len(prompts))]
        return list(self._pool.map(lambda p: self._top_score(p, opts, assistant_prefix), prompts))

    def _top_score(self, prompt: list[Message], opts: list[str], prefix: str) -> list[float]:
        base = {"model": self.model_id, "max_tokens": 1, "temperature": 0.0}
        if prefix:
            text = self._chat_template().completion_prompt(prompt, prefix)
            payload = {**base, "prompt": text, "logprobs": self.top_logprobs}
            lp = _choice(self._request("POST", "/completions", payload)).get("logprobs") or {}
            tops = (lp.get("top_logprobs") or [None])[0] or {}
            listed = [(str(t), float(v)) for t, v in tops.items()]
        else:
            payload = {**base, "messages": prompt, "logprobs": True}
            payload["top_logprobs"] = self.top_logprobs
            lp = _choice(self._request("POST", "/chat/completions", payload)).get("logprobs") or {}
            first = (lp.get("content") or [{}])[0] or {}
            listed = [(str(e["token"]), float(e["logprob"])) for e in first.get("top_logprobs", [])]
        if not listed:
            raise CaicError(f"{self.name}: the server returned no log-probs for option scoring")
        floor = (
            self.missing_logprob if self.missing_logprob is not None else min(v for _, v in listed)
        )
        out = []
        for opt in opts:
            key = normalize_option(opt)
            hits = [v for t, v in listed if t.strip() and normalize_option(t) == key]
            out.append(logsumexp(hits) if hits else floor)
        return out

    def _echo_score(self, prompt_text: str, option: str) -> float:
        """Sum the echoed log-probs of the tokens that reach into the option's text.

        Offsets are measured from the end of the echoed prompt: servers may leave
        special tokens out of the echoed text (llama.cpp does), which shifts every
        offset but not the option's place at the end.
        """
        payload = {
            "model": self.model_id,
            "prompt": prompt_text + option,
            "max_tokens": 1,
            "temperature": 0.0,
            "echo": True,
            "logprobs": 1,
        }
        body = self._request("POST", "/completions", payload)
        lp = _choice(body).get("logprobs") or {}
        generated = int((body.get("usage") or {}).get("completion_tokens") or 1)
        tokens = list(lp.get("tokens") or [])[:-generated]
        offsets = list(lp.get("text_offset") or [])[: len(tokens)]
        values = list(lp.get("token_logprobs") or [])[: len(tokens)]
        if not tokens or len(offsets) != len(tokens) or len(values) != len(tokens):
            raise CaicError(f"{self.name}: the server did not echo prompt log-probs")
        start = offsets[-1] + len(tokens[-1]) - len(option)
        picked = [
            float(v)
            for tok, off, v in zip(tokens, offsets, values, strict=True)
            if off + len(tok) > start and v is not None
        ]
        if not picked:
            raise CaicError(f"{self.name}: the server did not echo prompt log-probs")
        return sum(picked)

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        self._client.close()


def _choice(body: Any) -> dict[str, Any]:
    try:
        choice = body["choices"][0]
    except (KeyError, IndexError, TypeError):
        raise CaicError(f"unexpected server response: {str(body)[:200]}") from None
    return choice if isinstance(choice, dict) else {}


def _error_text(r: httpx.Response) -> str:
    try:
        body = r.json()
    except ValueError:
        return describe(r.text or r.reason_phrase)
    err = body.get("error", body) if isinstance(body, dict) else body
    msg = err.get("message", err) if isinstance(err, dict) else err
    return describe(msg)
