"""caic: a constitution compiler and evaluation harness for Constitutional AI."""

from caic.version import __version__

__all__ = ["__version__"]
