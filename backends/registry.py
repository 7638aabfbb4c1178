"""Find a backend by its spec string, with "did you mean" on a wrong name.

Specs::

    None, "default", "transformers"      the embedded SmolLM2-135M-Instruct on transformers
    transformers:PATH_OR_HF_ID           any local folder, .gguf file or Hugging Face id
    openai:URL[,URL...][#MODEL]          OpenAI-compatible servers, used round-robin
    vllm[:ID]                            the in-process vLLM engine (GPU)

Factories import their implementation module only when called, so importing
this module (and listing the backends) costs nothing.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from typing import Any, NamedTuple

from caic.backends.base import Backend
from caic.errors import usage_error

Factory = Callable[..., Backend]
"""``factory(target, *, name, **kw) -> Backend``; ``target`` is the spec after ``kind:``."""

_REGISTRY: dict[str, Factory] = {}


def register(kind: str) -> Callable[[Factory], Factory]:
    """Decorator adding a factory under ``kind``; a duplicate name is a programming error."""

    def deco(factory: Factory) -> Factory:
        if kind in _REGISTRY:
            raise ValueError(f"backend {kind!r} is already registered")
        _REGISTRY[kind] = factory
        return factory

    return deco


def available() -> list[str]:
    """Names of the registered backend kinds, sorted."""
    return sorted(_REGISTRY)


class BackendSpec(NamedTuple):
    """A parsed spec: the backend kind and what follows ``kind:`` (``None`` if nothing)."""

    kind: str
    target: str | None


def parse_spec(spec: str | None) -> BackendSpec:
    """Split ``kind:target``; ``None`` and ``"default"`` mean the embedded default model."""
    if spec is None or spec.strip() in ("", "default"):
        return BackendSpec("transformers", None)
    spec = spec.strip()
    kind, sep, target = spec.partition(":")
    kind = kind.strip().lower()
    if kind not in _REGISTRY:
        close = difflib.get_close_matches(kind, available(), n=1, cutoff=0.5)
        hint = (
            f"did you mean {close[0]!r}?"
            if close
            else "a spec looks like transformers:PATH_OR_HF_ID, openai:URL#MODEL or vllm:ID"
        )
        raise usage_error(
            f"unknown backend {kind!r} in {spec!r} (known: {', '.join(available())})",
            hint=hint,
        )
    target = target.strip()
    return BackendSpec(kind, target if sep and target else None)


def get_backend(spec: str | None = None, **kw: Any) -> Backend:
    """Build the backend a spec names; keyword arguments go to its constructor."""
    kind, target = parse_spec(spec)
    return _REGISTRY[kind](target, name=spec or "default", **kw)


def parse_openai_target(target: str | None) -> tuple[list[str], str | None]:
    """``URL[,URL...][#MODEL]`` → base URLs ending in ``/v1`` (unless given a path) and model."""
    if not target:
        raise usage_error(
            "the openai backend needs a server URL",
            hint="e.g. openai:http://127.0.0.1:8000/v1#MODEL",
        )
    urls_part, _, model = target.partition("#")
    urls: list[str] = []
    for raw in urls_part.split(","):
        url = raw.strip().rstrip("/")
        if not url:
            continue
        if not url.startswith(("http://", "https://")):
            raise usage_error(
                f"openai backend URL must start with http:// or https://, got {url!r}",
                hint="e.g. openai:http://127.0.0.1:8000/v1#MODEL",
            )
        scheme, _, rest = url.partition("://")
        if "/" not in rest:  # a bare host:port means the usual /v1 prefix
            url += "/v1"
        urls.append(url)
    if not urls:
        raise usage_error(f"no server URL in openai spec {target!r}")
    return urls, model.strip() or None


@register("transformers")
def _transformers(target: str | None, **kw: Any) -> Backend:
    from caic.backends.transformers_backend import TransformersBackend

    return TransformersBackend(target, **kw)


@register("openai")
def _openai(target: str | None, **kw: Any) -> Backend:
    from caic.backends.openai_backend import OpenAIBackend

    urls, model = parse_openai_target(target)
    return OpenAIBackend(urls, model, **kw)


@register("vllm")
def _vllm(target: str | None, **kw: Any) -> Backend:
    from caic.backends.vllm_backend import VLLMBackend

    return VLLMBackend(target, **kw)
