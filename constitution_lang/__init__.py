"""The `.cai` language: parse, resolve, check and print constitutions.

>>> from caic.constitution_lang import loads
>>> c = loads('constitution "demo" { category harm { kind harm principle p { judge "Choose '
...           'the less harmful response." } } }')
>>> [p.name for p in c.principles]
['p']
"""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from caic.constitution_lang.api import dump, dumps, format_text, load, loads, sha256
    from caic.constitution_lang.model import (
        LANGUAGE_VERSION,
        Category,
        Constitution,
        Document,
        Principle,
        Settings,
        semantic_dump,
    )
    from caic.constitution_lang.parser import parse
    from caic.constitution_lang.resolve import resolve

_HOME = {
    **dict.fromkeys(("dump", "dumps", "format_text", "load", "loads", "sha256"), "api"),
    **dict.fromkeys(
        (
            "LANGUAGE_VERSION",
            "Category",
            "Constitution",
            "Document",
            "Principle",
            "Settings",
            "semantic_dump",
        ),
        "model",
    ),
    "parse": "parser",
    "resolve": "resolve",
}
"""Where each public name lives; imported on first use, so that importing a submodule
(the command line's configs) does not build the parser."""

__all__ = [
    "LANGUAGE_VERSION",
    "Category",
    "Constitution",
    "Document",
    "Principle",
    "Settings",
    "dump",
    "dumps",
    "format_text",
    "load",
    "loads",
    "parse",
    "resolve",
    "semantic_dump",
    "sha256",
]


def __getattr__(name: str) -> Any:
    if name in _HOME:
        import importlib

        return getattr(importlib.import_module(f"caic.constitution_lang.{_HOME[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
