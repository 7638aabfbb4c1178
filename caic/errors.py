"""The one exception root of caic and the diagnostics it carries.

Every error caic knows about is a :class:`CaicError` holding one or more
:class:`Diagnostic` records. The command line prints them one per line (with the
source line and a caret where there is one) and exits non-zero; tracebacks are
shown only with ``CAIC_DEBUG=1``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

Severity = Literal["error", "warning", "note"]


class Diagnostic(BaseModel):
    """One finding about one place in one file."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    code: str
    """Stable code, e.g. ``E101`` (language) or ``CAI201`` (lint)."""
    severity: Severity = "error"
    """``error``, ``warning`` or ``note``."""
    message: str
    """One sentence, no trailing period."""
    path: str = "<string>"
    """The file the finding is in."""
    line: int = 1
    """1-based line of the start of the finding."""
    column: int = 1
    """1-based column of the start of the finding."""
    end_line: int | None = None
    """1-based line of the end of the finding, when known."""
    end_column: int | None = None
    """1-based column just past the end, when known."""
    hint: str | None = None
    """A suggestion that helps fix it, when there is one."""
    name: str | None = None
    """Kebab-case name of the rule or error kind."""
    principles: tuple[str, ...] = ()
    """Names of the principles involved (lint findings)."""

    def header(self) -> str:
        """``path:line:col: severity[CODE] message``."""
        return f"{self.path}:{self.line}:{self.column}: {self.severity}[{self.code}] {self.message}"

    def render(self, source: str | None = None) -> str:
        """Human form: header, the source line with a caret, and the hint."""
        out = [self.header()]
        if source is not None:
            lines = source.splitlines()
            if 1 <= self.line <= len(lines):
                text = lines[self.line - 1].expandtabs(1)
                gutter = str(self.line)
                pad = " " * len(gutter)
                width = 1
                if self.end_line == self.line and self.end_column:
                    width = max(1, self.end_column - self.column)
                width = min(width, max(1, len(text) - self.column + 1))
                out.append(f"{pad} |")
                out.append(f"{gutter} | {text}")
                out.append(f"{pad} | {' ' * (self.column - 1)}{'^' * width}")
        if self.hint:
            out.append(f"  = hint: {self.hint}")
        return "\n".join(out)

    def as_json(self) -> dict[str, object]:
        """The JSON object of ``--format json``."""
        return self.model_dump(mode="json")


class CaicError(Exception):
    """Root of every error caic raises on purpose; carries its diagnostics."""

    exit_code = 1

    def __init__(
        self, diagnostics: list[Diagnostic] | Diagnostic | str, *, exit_code: int | None = None
    ):
        if isinstance(diagnostics, str):
            diagnostics = [Diagnostic(code="E000", message=diagnostics)]
        elif isinstance(diagnostics, Diagnostic):
            diagnostics = [diagnostics]
        self.diagnostics: list[Diagnostic] = list(diagnostics)
        if exit_code is not None:
            self.exit_code = exit_code
        super().__init__("\n".join(d.header() for d in self.diagnostics))


class UsageError(CaicError):
    """Bad arguments, missing files, unreadable input: exit code 2."""

    exit_code = 2


def usage_error(
    message: str,
    *,
    path: str = "<args>",
    line: int = 1,
    column: int = 1,
    code: str = "E008",
    hint: str | None = None,
) -> UsageError:
    """Build a one-diagnostic :class:`UsageError`."""
    return UsageError(
        Diagnostic(code=code, message=message, path=path, line=line, column=column, hint=hint)
    )
