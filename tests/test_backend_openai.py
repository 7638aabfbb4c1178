"""The OpenAI-compatible backend: protocol details against a mock transport (fast), then a
real llama.cpp server serving the embedded GGUF on 127.0.0.1 (marked ``server``)."""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from backend_fixtures import default_gguf_or_skip, free_port, llama_server

from caic.backends.base import SamplingParams
from caic.backends.chat_template import ChatTemplate
from caic.backends.openai_backend import OpenAIBackend
from caic.backends.registry import get_backend
from caic.errors import CaicError

Handler = Callable[[httpx.Request], httpx.Response]
URLS = ["http://s1:9/v1", "http://s2:9/v1"]
USER = [{"role": "user", "content": "Which answer is better?"}]


def mock_backend(handler: Handler, **kw: Any) -> OpenAIBackend:
    kw.setdefault("backoff", 0.0)
    return OpenAIBackend(URLS, "m", transport=httpx.MockTransport(handler), **kw)


def chat_reply(content: str, **extra: Any) -> httpx.Response:
    body = {"choices": [{"message": {"role": "assistant", "content": content}, **extra}],
            "usage": {"prompt_tokens": 5, "completion_tokens": 2}}  # fmt: skip
    return httpx.Response(200, json=body)


def test_generate_keeps_order_trims_stops_and_rotates_urls() -> None:
    hosts: list[str] = []

    def handler(req: httpx.Request) -> httpx.Response:
        hosts.append(req.url.host)
        body = json.loads(req.content)
        assert body["stop"] == ["###"] and body["max_tokens"] == 8 and body["seed"] == 3
        return chat_reply(f"re: {body['messages'][-1]['content']}###tail")

    convs = [[{"role": "user", "content": str(i)}] for i in range(6)]
    with mock_backend(handler, concurrency=1) as b:
        out = b.generate(convs, SamplingParams(max_new_tokens=8, seed=3, stop=["###"]))
        assert out == [f"re: {i}" for i in range(6)]
        assert hosts == ["s1", "s2"] * 3
        assert b.stats.per_url == {URLS[0]: 3, URLS[1]: 3}
        assert b.stats.completion_tokens == 12


def test_requests_to_two_urls_are_in_flight_together_and_traced() -> None:
    """Scale-out needs the client to send to both servers at once: each handler call
    waits until the other URL's request has arrived too, then both spans overlap."""
    both = threading.Barrier(2, timeout=10)

    def handler(req: httpx.Request) -> httpx.Response:
        both.wait()  # BrokenBarrierError (a failed test) if requests go one at a time
        return chat_reply("ok")

    convs = [[{"role": "user", "content": str(i)}] for i in range(4)]
    with mock_backend(handler, trace=True) as b:
        assert b.concurrency == 8  # 4 per URL by default
        assert b.generate(convs, SamplingParams(max_new_tokens=2)) == ["ok"] * 4
        spans = b.stats.spans
    assert sorted(u for u, _, _ in spans) == sorted(URLS * 2)
    first = {u: (t0, t1) for u, t0, t1 in reversed(spans)}
    (a0, a1), (b0, b1) = first[URLS[0]], first[URLS[1]]
    assert max(a0, b0) < min(a1, b1)
    with mock_backend(lambda r: chat_reply("ok")) as b:
        b.generate(convs, SamplingParams(max_new_tokens=2))
        assert b.stats.spans == [] and b.stats.requests == 4  # tracing is opt-in


def test_retries_5xx_and_429_then_succeeds() -> None:
    codes = iter([503, 429, 200])

    def handler(req: httpx.Request) -> httpx.Response:
        code = next(codes)
        return chat_reply("ok") if code == 200 else httpx.Response(code, text="busy")

    with mock_backend(handler) as b:
        assert b.generate([USER], SamplingParams()) == ["ok"]
        assert b.stats.retries == 2


def test_client_error_is_one_line_with_the_server_message_and_no_retry() -> None:
    calls = []

    def handler(req: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(400, json={"error": {"message": "max_tokens too large\nmore"}})

    with mock_backend(handler) as b, pytest.raises(CaicError) as err:
        b.generate([USER], SamplingParams())
    assert str(err.value).endswith("/chat/completions: HTTP 400: max_tokens too large")
    assert len(calls) == 1


def test_connection_failures_exhaust_retries_and_name_the_urls() -> None:
    def handler(req: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=req)

    with mock_backend(handler, max_retries=3) as b, pytest.raises(CaicError) as err:
        b.generate([USER], SamplingParams())
    msg = str(err.value)
    assert "\n" not in msg and "after 4 attempts" in msg and "ConnectError" in msg
    assert URLS[0] in msg and URLS[1] in msg
    assert b.stats.retries == 3


def test_model_is_read_from_the_server_when_not_named() -> None:
    def handler(req: httpx.Request) -> httpx.Response:
        assert req.url.path == "/v1/models"
        return httpx.Response(200, json={"data": [{"id": "served", "max_model_len": 4096}]})

    b = OpenAIBackend(URLS[:1], transport=httpx.MockTransport(handler))
    assert (b.model_id, b.max_context) == ("served", 4096)


def test_top_logprobs_map_to_options_with_a_floor() -> None:
    top = [{"token": " A", "logprob": -0.5}, {"token": "A", "logprob": -1.0},
           {"token": "B", "logprob": -2.0}, {"token": "\n", "logprob": -3.0}]  # fmt: skip

    def handler(req: httpx.Request) -> httpx.Response:
        body = json.loads(req.content)
        assert body["logprobs"] is True and body["top_logprobs"] == 20
        assert body["max_tokens"] == 1
        return chat_reply("A", logprobs={"content": [{"token": "A", "top_logprobs": top}]})

    with mock_backend(handler) as b:
        [[a, bb, c]] = b.score_options([USER], ["A", "B", "C"])
    assert a == pytest.approx(math.log(math.exp(-0.5) + math.exp(-1.0)))
    assert (bb, c) == (-2.0, -3.0)  # C is not listed: the lowest listed log-prob bounds it
    with mock_backend(handler, missing_logprob=-50.0) as b:
        assert b.score_options([USER], ["C"]) == [[-50.0]]


def test_assistant_prefix_renders_the_template_client_side(tmp_path: Path) -> None:
    tpl = tmp_path / "t.jinja"
    tpl.write_text(
        "{% for m in messages %}<{{ m.role }}>{{ m.content }}\n{% endfor %}"
        "{% if add_generation_prompt %}<assistant>{% endif %}"
    )
    prompts: list[str] = []

    def handler(req: httpx.Request) -> httpx.Response:
        body = json.loads(req.content)
        assert req.url.path == "/v1/completions" and body["logprobs"] == 20
        prompts.append(body["prompt"])
        choice = {"text": "A", "logprobs": {"top_logprobs": [{"A": -0.1, "B": -2.5}]}}
        return httpx.Response(200, json={"choices": [choice]})

    with mock_backend(handler, chat_template=str(tpl)) as b:
        assert b.score_options([USER], ["B", "A"], "The better response is (") == [[-2.5, -0.1]]
    assert prompts == ["<user>Which answer is better?\n<assistant>The better response is ("]


def test_echo_mode_sums_the_option_tokens(tmp_path: Path) -> None:
    tpl = tmp_path / "t.jinja"
    tpl.write_text("<s>{{ messages[0].content }}|")

    def handler(req: httpx.Request) -> httpx.Response:
        body = json.loads(req.content)
        assert body["echo"] is True
        assert body["prompt"] == "<s>Q|Yes"
        # Echoed as "Q", "|Y", "es" (the special "<s>" left out of the text and of the
        # offsets, and "|Y" merged), then one generated token that must be ignored.
        lp = {"tokens": ["Q", "|Y", "es", "!"], "text_offset": [0, 1, 3, 5],
              "token_logprobs": [None, -1.0, -0.25, -9.0]}  # fmt: skip
        choice = {"text": "Q|Yes!", "logprobs": lp}
        return httpx.Response(200, json={"choices": [choice], "usage": {"completion_tokens": 1}})

    conv = [{"role": "user", "content": "Q"}]
    with mock_backend(handler, chat_template=str(tpl), score_mode="echo") as b:
        assert b.score_options([conv], ["Yes"]) == [[-1.25]]


def test_template_from_the_embedded_gguf() -> None:
    tpl = ChatTemplate.load("default")
    assert (tpl.bos_token, tpl.eos_token) == ("<|im_start|>", "<|im_end|>")
    assert tpl.render([{"role": "user", "content": "hi"}]) == (
        "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging "
        "Face<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
    )
    assert tpl.render([{"role": "system", "content": "S"}], add_generation_prompt=False) == (
        "<|im_start|>system\nS<|im_end|>\n"
    )


BOS_TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}[{{ m.role }}] {{ m.content }}\n{% endfor %}"
    "{% if add_generation_prompt %}[assistant] {% endif %}"
)


@pytest.mark.parametrize("add_bos", [True, False])
def test_completion_prompt_leaves_out_the_bos_the_server_adds(add_bos: bool) -> None:
    """Servers tokenize /completions text with special tokens (a BOS in front when the
    tokenizer adds one) and chat prompts without: a template's own BOS must go only when
    the server would add another."""
    tpl = ChatTemplate(BOS_TEMPLATE, bos_token="<s>", eos_token="</s>", add_bos=add_bos)
    assert tpl.render(USER) == "<s>[user] Which answer is better?\n[assistant] "
    expected = (
        "[user] Which answer is better?\n[assistant] (" if add_bos else tpl.render(USER) + "("
    )
    assert tpl.completion_prompt(USER, "(") == expected


def test_add_bos_is_read_from_the_tokenizer_folder(tmp_path: Path) -> None:
    cfg = {"chat_template": BOS_TEMPLATE, "bos_token": "<s>", "eos_token": "</s>"}
    (tmp_path / "tokenizer_config.json").write_text(json.dumps({**cfg, "add_bos_token": True}))
    assert ChatTemplate.load(str(tmp_path)).add_bos
    (tmp_path / "tokenizer_config.json").write_text(json.dumps(cfg))
    assert not ChatTemplate.load(str(tmp_path)).add_bos
    # Llama 3 style: no flag, the post-processor puts the BOS in front of every sequence.
    post = {"type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}},
                       {"Sequence": {"id": "A", "type_id": 0}}]}  # fmt: skip
    (tmp_path / "tokenizer.json").write_text(json.dumps({"post_processor": post}))
    assert ChatTemplate.load(str(tmp_path)).add_bos
    # A BOS spelled outside ASCII (DeepSeek's) is found in the post-processor too.
    bos = "<\uff5cbegin\u2581of\u2581sentence\uff5c>"
    (tmp_path / "tokenizer_config.json").write_text(json.dumps({**cfg, "bos_token": bos}))
    post["single"][0]["SpecialToken"]["id"] = bos  # type: ignore[index]
    (tmp_path / "tokenizer.json").write_text(json.dumps({"post_processor": post}))
    assert ChatTemplate.load(str(tmp_path)).add_bos


def test_a_broken_tokenizer_file_is_one_line_naming_file_and_line(tmp_path: Path) -> None:
    cfg = {"chat_template": BOS_TEMPLATE, "bos_token": "<s>"}
    (tmp_path / "tokenizer_config.json").write_text(json.dumps(cfg))
    (tmp_path / "tokenizer.json").write_text('{\n  "post_processor": {,\n}')
    with pytest.raises(CaicError) as err:
        ChatTemplate.load(str(tmp_path))
    msg = str(err.value)
    assert (
        "\n" not in msg and f"{tmp_path / 'tokenizer.json'}:2:" in msg and "malformed JSON" in msg
    )


def test_add_bos_follows_llama_cpp_for_gguf_files() -> None:
    from caic.backends.chat_template import _gguf_adds_bos

    assert not ChatTemplate.load("default").add_bos  # SmolLM2 sets the flag to false
    assert _gguf_adds_bos({"tokenizer.ggml.add_bos_token": True, "tokenizer.ggml.model": "gpt2"})
    assert _gguf_adds_bos({"tokenizer.ggml.model": "llama"})  # SentencePiece default
    assert _gguf_adds_bos({"tokenizer.ggml.model": "gpt2", "tokenizer.ggml.pre": "llama-bpe"})
    assert not _gguf_adds_bos({"tokenizer.ggml.model": "gpt2", "tokenizer.ggml.pre": "qwen2"})


def test_prefix_without_a_known_template_is_a_usage_error() -> None:
    b = mock_backend(lambda req: chat_reply("x"))
    with pytest.raises(CaicError, match="chat template"):
        b.score_options([USER], ["A", "B"], "(")


# -- a real llama.cpp server ----------------------------------------------------------------


@pytest.fixture(scope="module")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    gguf = default_gguf_or_skip()
    log = tmp_path_factory.mktemp("llama") / "server.log"
    with llama_server(gguf, threads=1, log=log) as url:
        yield url


JUDGE = [
    {"role": "user", "content": "Question: What is the capital of France?\n"
     "(A) The capital of France is Paris.\n(B) France has no capital.\n"
     "Which response is more accurate?"},
]  # fmt: skip


@pytest.mark.server
def test_server_generates_deterministically(server_url: str) -> None:
    convs = [[{"role": "user", "content": "What is 2+2?"}], [{"role": "user", "content": "Hi!"}]]
    params = SamplingParams(max_new_tokens=12)
    with get_backend(f"openai:{server_url}#smollm2") as b:
        first, second = b.generate(convs, params), b.generate(convs, params)
        assert first == second and all(t.strip() for t in first)
        assert b.stats.completion_tokens > 0


@pytest.mark.server
def test_server_scores_options_with_and_without_a_prefix(server_url: str) -> None:
    with get_backend(f"openai:{server_url}#smollm2") as b:
        [[a, bb]] = b.score_options([JUDGE], ["A", "B"], "The better response is (")
        assert all(math.isfinite(v) and v < 0 for v in (a, bb))
        assert math.exp(a) + math.exp(bb) > 0.5  # most of the mass is on the two letters
        [[yes, no]] = b.score_options([JUDGE], ["Yes", "No"])
        assert math.isfinite(yes) and math.isfinite(no)
    # Echo scoring reads the same distribution one option at a time (on a short prompt:
    # llama-cpp-python ranks the whole vocabulary for every echoed token).
    short = [{"role": "system", "content": "Judge."}, {"role": "user", "content": "(A) or (B)?"}]
    with get_backend(f"openai:{server_url}#smollm2") as b:
        [top] = b.score_options([short], ["A", "B"], "(")
    with get_backend(f"openai:{server_url}#smollm2", score_mode="echo") as b:
        [echo] = b.score_options([short], ["A", "B"], "(")
    assert echo == pytest.approx(top, abs=0.05)


def first_token(client: httpx.Client, path: str, body: dict[str, Any]) -> tuple[dict, int]:
    """The top-20 log-probs of the first reply token, and the prompt's token count."""
    body = {"model": "smollm2", "max_tokens": 1, "temperature": 0.0, **body}
    r = client.post(path, json=body)
    r.raise_for_status()
    out = r.json()
    lp = out["choices"][0]["logprobs"]
    if path == "/chat/completions":
        tops = {e["token"]: e["logprob"] for e in lp["content"][0]["top_logprobs"]}
    else:
        tops = lp["top_logprobs"][0]
    return tops, int(out["usage"]["prompt_tokens"])


def fresh_state(client: httpx.Client) -> None:
    """Make the server evaluate the next prompt whole: llama-cpp-python reuses the previous
    request's KV cache for a shared prefix, and this prompt shares not even the first token."""
    client.post("/completions", json={"model": "smollm2", "prompt": "Hello", "max_tokens": 1})


@pytest.mark.server
def test_completion_prompt_puts_the_chat_requests_tokens_before_the_model(
    server_url: str,
) -> None:
    """The judge scores a client-rendered prompt through /completions; the model must see
    exactly what a chat request gives it: as many prompt tokens, the same next-token
    distribution and, from the same server state, the same greedy reply. One extra token
    in front (a second BOS) moves the distribution far past the tolerance."""
    tpl = ChatTemplate.load(str(default_gguf_or_skip()))
    text = tpl.completion_prompt(JUDGE)
    assert text == tpl.render(JUDGE)  # SmolLM2's tokenizer adds no BOS of its own
    with httpx.Client(base_url=server_url, timeout=120) as c:
        fresh_state(c)
        chat, n_chat = first_token(
            c, "/chat/completions", {"messages": JUDGE, "logprobs": True, "top_logprobs": 20}
        )
        fresh_state(c)
        comp, n_comp = first_token(c, "/completions", {"prompt": text, "logprobs": 20})
        fresh_state(c)
        bos, n_bos = first_token(c, "/completions",
                                 {"prompt": tpl.bos_token + text, "logprobs": 20})  # fmt: skip
    assert n_comp == n_chat and n_bos == n_chat + 1
    assert sorted(comp, key=comp.__getitem__)[-5:] == sorted(chat, key=chat.__getitem__)[-5:]
    assert max(abs(comp[t] - chat[t]) for t in set(comp) & set(chat)) < 1e-3
    assert max(abs(bos[t] - chat[t]) for t in set(bos) & set(chat)) > 0.1

    with get_backend(f"openai:{server_url}#smollm2") as b, httpx.Client(base_url=server_url) as c:
        fresh_state(c)
        [reply] = b.generate([JUDGE], SamplingParams(max_new_tokens=8))
        fresh_state(c)
        [raw] = b.generate_text([text], SamplingParams(max_new_tokens=8, stop=["<|im_end|>"]))
    assert reply == raw and reply.strip()


@pytest.mark.server
def test_round_robin_over_two_urls(server_url: str) -> None:
    other = server_url.replace("127.0.0.1", "localhost")
    convs = [[{"role": "user", "content": f"Say {w}."}] for w in ("yes", "no", "maybe", "ok")]
    with get_backend(f"openai:{server_url},{other}#smollm2", concurrency=2, trace=True) as b:
        out = b.generate(convs, SamplingParams(max_new_tokens=4))
        assert len(out) == 4
        assert b.stats.per_url == {server_url: 2, other: 2}
        spans = b.stats.spans
    # Both URLs had a request in flight at the same time (the server queues the second).
    assert any(
        max(a0, b0) < min(a1, b1)
        for u, a0, a1 in spans
        for v, b0, b1 in spans
        if (u, v) == (server_url, other)
    )


@pytest.mark.server
def test_unreachable_server_fails_with_one_clear_line() -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    with (
        get_backend(f"openai:{url}#m", max_retries=2, backoff=0.01) as b,
        pytest.raises(CaicError) as err,
    ):
        b.generate([USER], SamplingParams(max_new_tokens=4))
    msg = str(err.value)
    assert "\n" not in msg and url in msg and "after 3 attempts" in msg
    assert b.stats.retries == 2
