"""Importing this module registers every sub-command of ``caic`` on the app."""

from caic.cli import (
    evals,  # noqa: F401
    lang,  # noqa: F401
    lint,  # noqa: F401
    report,  # noqa: F401
    rlaif,  # noqa: F401
    schema,  # noqa: F401
    slcai,  # noqa: F401
    train,  # noqa: F401
)
