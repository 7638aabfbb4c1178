"""The base of every job config and result: frozen, strict, one docstring per field.

A field's docstring (the string literal under it) is its documentation: the command line's
option help, the JSON Schema's ``description``. Pydantic can read them itself
(``use_attribute_docstrings``), but it re-reads the module's source for every class, which
made starting ``caic`` 0.07 s slower with a few dozen configs; here each module's source is
parsed once, when its first model is defined.
"""

from __future__ import annotations

import ast
import functools
import inspect
import sys
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict

from caic.errors import usage_error


@functools.cache
def _field_docs(module: str) -> dict[str, dict[str, str]]:
    """``{class qualname: {field: docstring}}`` for the classes of ``module``."""
    mod = sys.modules.get(module)
    try:
        source = inspect.getsource(mod) if mod is not None else ""
    except (OSError, TypeError):
        return {}
    out: dict[str, dict[str, str]] = {}

    def visit(body: list[ast.stmt], prefix: str) -> None:
        for node in body:
            if not isinstance(node, ast.ClassDef):
                continue
            name = f"{prefix}{node.name}"
            docs: dict[str, str] = {}
            for stmt, after in zip(node.body, [*node.body[1:], None], strict=True):
                if (
                    isinstance(stmt, ast.AnnAssign)
                    and isinstance(stmt.target, ast.Name)
                    and isinstance(after, ast.Expr)
                    and isinstance(after.value, ast.Constant)
                    and isinstance(after.value.value, str)
                ):
                    docs[stmt.target.id] = inspect.cleandoc(after.value.value)
            out[name] = docs
            visit(node.body, f"{name}.")

    visit(ast.parse(source).body, "")
    return out


class Config(BaseModel):
    """Frozen, no unknown fields, documented fields; schemas built on first use."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        docs = _field_docs(cls.__module__).get(cls.__qualname__, {})
        for name, field in cls.model_fields.items():
            if field.description is None and name in docs:
                field.description = docs[name]


def known(value: object, allowed: Sequence[str], flag: str) -> object:
    """``value`` when it is one of ``allowed``; otherwise the usage error every command
    prints for an unknown choice (``unknown --format `x` `` with the choices as a hint)."""
    if isinstance(value, str) and value not in allowed:
        raise usage_error(f"unknown {flag} `{value}`", hint="one of " + ", ".join(allowed))
    return value
