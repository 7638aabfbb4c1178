"""Sub-commands of ``caic``; importing this package registers them on the app."""

from caic.commands import lang  # noqa: F401
from caic.commands import slcai  # noqa: F401
from caic.commands import rlaif  # noqa: F401
from caic.commands import report  # noqa: F401
from caic.commands import evals  # noqa: F401
from caic.commands import lint  # noqa: F401
from caic.commands import train  # noqa: F401
