"""Render a model's chat template without loading its tokenizer.

The OpenAI backend needs the exact prompt text when it scores options after an
assistant prefix (the server's chat endpoint cannot continue a partial assistant
turn). The template comes from a GGUF file's metadata, a tokenizer folder or a
``.jinja`` file, and is rendered with a sandboxed jinja2 environment configured
as ``transformers``' ``apply_chat_template`` configures it.

Text sent to a ``/completions`` endpoint is tokenized by the server *with* its special
tokens: llama.cpp (``Llama.create_completion``) and vLLM both put a BOS token in front when
the model's tokenizer adds one (``add_bos_token``), while their chat endpoints tokenize the
rendered template without adding any. A template that writes ``{{ bos_token }}`` itself
(Llama 3, Mistral, Gemma) would reach the model with two BOS tokens through
``/completions`` and one through ``/chat/completions``. :meth:`ChatTemplate.completion_prompt`
drops the template's own leading BOS when the tokenizer adds one, so both endpoints see
the same tokens.
"""

from __future__ import annotations

import json
import mmap
import struct
from datetime import datetime
from pathlib import Path
from typing import Any

from caic.backends.base import Message
from caic.errors import usage_error
from caic.io import read_json

# GGUF value types: fixed-size scalars by struct code; 8 = string, 9 = array.
_SCALARS = dict(enumerate("BbHhIif?")) | {10: "Q", 11: "q", 12: "d"}


def gguf_metadata(path: Path, keys: set[str]) -> dict[str, Any]:
    """The values of ``keys`` in a GGUF file's header (arrays of strings as lists).

    Reads the key-value section only, skipping everything else, so it takes
    milliseconds where ``gguf.GGUFReader`` builds every field (seconds).
    """
    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
        if m[:4] != b"GGUF":
            raise usage_error(f"not a GGUF file: {path}")
        (version,) = struct.unpack_from("<I", m, 4)
        if version not in (2, 3):
            raise usage_error(f"unsupported GGUF version {version} in {path}")
        (n_kv,) = struct.unpack_from("<Q", m, 16)
        pos = 24

        def string(p: int) -> tuple[str, int]:
            (n,) = struct.unpack_from("<Q", m, p)
            return m[p + 8 : p + 8 + n].decode("utf-8", errors="replace"), p + 8 + n

        def value(vtype: int, p: int, keep: bool) -> tuple[Any, int]:
            if vtype in _SCALARS:
                code = "<" + _SCALARS[vtype]
                return struct.unpack_from(code, m, p)[0], p + struct.calcsize(code)
            if vtype == 8:
                return string(p)
            if vtype == 9:
                item_type, count = struct.unpack_from("<IQ", m, p)
                p += 12
                if item_type in _SCALARS and not keep:  # skip fixed-size arrays in one step
                    return None, p + count * struct.calcsize("<" + _SCALARS[item_type])
                items = []
                for _ in range(count):
                    item, p = value(item_type, p, keep)
                    if keep:
                        items.append(item)
                return items, p
            raise usage_error(f"corrupt GGUF metadata in {path} (value type {vtype})")

        found: dict[str, Any] = {}
        for _ in range(n_kv):
            key, pos = string(pos)
            (vtype,) = struct.unpack_from("<I", m, pos)
            val, pos = value(vtype, pos + 4, key in keys)
            if key in keys:
                found[key] = val
                if len(found) == len(keys):
                    break
        return found


class ChatTemplate:
    """A Hugging Face chat template rendered with jinja2, as ``apply_chat_template`` does."""

    def __init__(
        self, source: str, bos_token: str = "", eos_token: str = "", add_bos: bool = False
    ) -> None:
        from jinja2.ext import loopcontrols
        from jinja2.sandbox import ImmutableSandboxedEnvironment

        def raise_exception(message: str) -> None:
            raise usage_error(f"chat template: {message}")

        def tojson(x: Any, ensure_ascii: bool = False, indent: Any = None,
                   separators: Any = None, sort_keys: bool = False) -> str:  # fmt: skip
            return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent,
                              separators=separators, sort_keys=sort_keys)  # fmt: skip

        env = ImmutableSandboxedEnvironment(
            trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols]
        )
        env.filters["tojson"] = tojson
        env.globals["raise_exception"] = raise_exception
        env.globals["strftime_now"] = lambda fmt: datetime.now().strftime(fmt)
        self._template = env.from_string(source)
        self.bos_token, self.eos_token = bos_token, eos_token
        self.add_bos = add_bos
        """Whether the model's tokenizer puts a BOS token in front of plain text."""

    def render(self, messages: list[Message], add_generation_prompt: bool = True) -> str:
        """The conversation as prompt text, ending with the generation prompt."""
        return self._template.render(
            messages=messages,
            add_generation_prompt=add_generation_prompt,
            bos_token=self.bos_token,
            eos_token=self.eos_token,
        )

    def completion_prompt(self, messages: list[Message], assistant_prefix: str = "") -> str:
        """The text to send to a ``/completions`` endpoint for the same tokens as a chat request.

        The server adds the BOS token itself when the tokenizer does (``add_bos``), so a
        BOS written by the template is left out here; everything else is :meth:`render`.
        """
        text = self.render(messages) + assistant_prefix
        if self.add_bos and self.bos_token and text.startswith(self.bos_token):
            text = text[len(self.bos_token) :]
        return text

    @classmethod
    def load(cls, spec: str) -> ChatTemplate:
        """From ``default``, a ``.gguf`` file, a tokenizer folder or a ``.jinja`` file."""
        path = Path(spec).expanduser()
        if spec == "default":
            from caic.backends import transformers_backend as tb

            path = tb.default_gguf_path()
        if path.is_dir():
            return cls._from_folder(path)
        if path.suffix == ".gguf" and path.is_file():
            return cls._from_gguf(path)
        if path.is_file():
            return cls(path.read_text(encoding="utf-8"))
        raise usage_error(
            f"chat template source not found: {spec}",
            hint="pass a .gguf file, a tokenizer folder, a .jinja file or 'default'",
        )

    @classmethod
    def _from_folder(cls, path: Path) -> ChatTemplate:
        cfg_file = path / "tokenizer_config.json"
        cfg = read_json(cfg_file) if cfg_file.is_file() else {}
        jinja = path / "chat_template.jinja"
        text = jinja.read_text(encoding="utf-8") if jinja.is_file() else cfg.get("chat_template")
        if isinstance(text, list):  # named templates: take the default one
            text = next((t["template"] for t in text if t.get("name") == "default"), None)
        if not text:
            raise usage_error(f"no chat template in {path}")

        def token(key: str) -> str:
            v = cfg.get(key) or ""
            return str(v.get("content", "") if isinstance(v, dict) else v)

        bos = token("bos_token")
        add_bos = cfg.get("add_bos_token")
        if add_bos is None:  # fast tokenizers (Llama 3) add it in tokenizer.json's post-processor
            add_bos = bool(bos) and bos in _post_processor_single(path / "tokenizer.json")
        return cls(text, bos, token("eos_token"), bool(add_bos))

    @classmethod
    def _from_gguf(cls, path: Path) -> ChatTemplate:
        keys = {"tokenizer.chat_template", "tokenizer.ggml.tokens"}
        keys |= {"tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id"}
        keys |= {"tokenizer.ggml.add_bos_token", "tokenizer.ggml.model", "tokenizer.ggml.pre"}
        meta = gguf_metadata(path, keys)
        if "tokenizer.chat_template" not in meta:
            raise usage_error(f"no chat template in {path}")
        tokens = meta.get("tokenizer.ggml.tokens") or []

        def special(key: str) -> str:
            i = meta.get(key)
            return str(tokens[i]) if isinstance(i, int) and 0 <= i < len(tokens) else ""

        return cls(
            str(meta["tokenizer.chat_template"]),
            special("tokenizer.ggml.bos_token_id"),
            special("tokenizer.ggml.eos_token_id"),
            _gguf_adds_bos(meta),
        )


def _gguf_adds_bos(meta: dict[str, Any]) -> bool:
    """Whether llama.cpp puts BOS in front of plain text for this GGUF: the file's flag, or
    llama.cpp's default for its tokenizer (SentencePiece and Llama 3's BPE add it)."""
    flag = meta.get("tokenizer.ggml.add_bos_token")
    if flag is not None:
        return bool(flag)
    model, pre = meta.get("tokenizer.ggml.model"), meta.get("tokenizer.ggml.pre")
    return model == "llama" or pre in {"llama3", "llama-v3", "llama-bpe"}


def _post_processor_single(path: Path) -> str:
    """The single-sequence template of a ``tokenizer.json`` post-processor, as text."""
    if not path.is_file():
        return ""
    post = read_json(path).get("post_processor") or {}
    procs = post.get("processors", [post]) if isinstance(post, dict) else []
    return json.dumps([p.get("single") for p in procs if isinstance(p, dict)], ensure_ascii=False)
