"""The `.cai` language: parse, resolve, check and print constitutions.

>>> from caic.constitution_lang import loads
>>> c = loads('constitution "demo" { category harm { kind harm principle p { judge "Choose '
...           'the less harmful response." } } }')
>>> [p.name for p in c.principles]
['p']
"""

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
