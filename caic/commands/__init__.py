"""Sub-commands of ``caic``; importing this package registers them on the app."""

from caic.commands import (
    evals,  # noqa: F401
    lang,  # noqa: F401
    lint,  # noqa: F401
    report,  # noqa: F401
    rlaif,  # noqa: F401
    slcai,  # noqa: F401
    train,  # noqa: F401
)
