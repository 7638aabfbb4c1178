"""Sub-commands of ``caic``; importing this package registers them on the app."""

from caic.commands import lang  # noqa: F401
