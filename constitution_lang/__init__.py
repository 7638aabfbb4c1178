"""The `.cai` language: parse, resolve, check and print constitutions.

>>> from caic.constitution_lang import loads
>>> c = loads('constitution "demo" { category harm { kind harm principle p { judge "Choose '
...           'the less harmful response." } } }')
>>> [p.name for p in c.principles]
['p']
"""

from typing import TYPE_CHECKING, Any

from caic.constitution_lang.model import (
    LANGUAGE_VERSION,
    Category,
    Constitution,
    Document,
    Principle,
    Settings,
    semantic_dump,
)

# Imported here, after its submodule of the same name, so the name is the function.
from caic.constitution_lang.resolve import resolve

if TYPE_CHECKING:
    from caic.constitution_lang.api import dump, dumps, format_text, load, loads, sha256
    from caic.constitution_lang.parser import parse

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
    """The parser's names, imported on first use, so that importing a submodule (the command
    line's configs) does not build the parser."""
    if name in __all__:
        from caic.constitution_lang import api, parser

        for module in (api, parser):
            if hasattr(module, name):
                return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
