"""caic: a constitution compiler and evaluation harness for Constitutional AI."""

__version__ = "0.1.0"
