"""Render a model's chat template without loading its tokenizer.

The OpenAI backend needs the exact prompt text when it scores options after an
assistant prefix (the server's chat endpoint cannot continue a partial assistant
turn). The template comes from a GGUF file's metadata, a tokenizer folder or a
``.jinja`` file, and is rendered with a sandboxed jinja2 environment configured
as ``transformers``' ``apply_chat_template`` configures it.
"""

from __future__ import annotations

import json
import mmap
import struct
from datetime import datetime
from pathlib import Path
from typing import Any

from caic.errors import usage_error
from caic.training.backends.base import Message

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

    def __init__(self, source: str, bos_token: str = "", eos_token: str = "") -> None:
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

    def render(self, messages: list[Message], add_generation_prompt: bool = True) -> str:
        """The conversation as prompt text, ending with the generation prompt."""
        return self._template.render(
            messages=messages,
            add_generation_prompt=add_generation_prompt,
            bos_token=self.bos_token,
            eos_token=self.eos_token,
        )

    @classmethod
    def load(cls, spec: str) -> ChatTemplate:
        """From ``default``, a ``.gguf`` file, a tokenizer folder or a ``.jinja`` file."""
        path = Path(spec).expanduser()
        if spec == "default":
            from caic.training.backends import transformers_backend as tb

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
        cfg = json.loads(cfg_file.read_text(encoding="utf-8")) if cfg_file.is_file() else {}
        jinja = path / "chat_template.jinja"
        text = jinja.read_text(encoding="utf-8") if jinja.is_file() else cfg.get("chat_template")
        if isinstance(text, list):  # named templates: take the default one
            text = next((t["template"] for t in text if t.get("name") == "default"), None)
        if not text:
            raise usage_error(f"no chat template in {path}")

        def token(key: str) -> str:
            v = cfg.get(key) or ""
            return str(v.get("content", "") if isinstance(v, dict) else v)

        return cls(text, token("bos_token"), token("eos_token"))

    @classmethod
    def _from_gguf(cls, path: Path) -> ChatTemplate:
        keys = {"tokenizer.chat_template", "tokenizer.ggml.tokens"}
        keys |= {"tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id"}
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
        )
