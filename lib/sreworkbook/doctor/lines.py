"""What ``doctor`` says about one thing: a verdict, what it found, and the fix."""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum

from sreworkbook.edges.http import describe
from sreworkbook.exceptions import SourceError, WorkbookError
from sreworkbook.secrets import Scrubber, mask_text

__all__ = ["DoctorLine", "Verdict", "failure_text"]


class Verdict(StrEnum):
    """OK: ready. WARN: a run works but something is missing or degraded. FAIL: fix first."""

    OK = "OK"
    WARN = "WARN"
    FAIL = "FAIL"


@dataclass(frozen=True)
class DoctorLine:
    """One check's outcome: ``check`` names it, ``fix`` says what to do when not OK."""

    check: str
    verdict: Verdict
    detail: str
    fix: str = ""

    def __str__(self) -> str:
        text = f"{self.verdict.value:4}  {self.check:24}  {self.detail}"
        return f"{text} — fix: {self.fix}" if self.fix and self.verdict is not Verdict.OK else text

    def scrubbed(self, scrubber: Scrubber) -> DoctorLine:
        """This line with every known secret value (and URI password) masked."""
        return replace(self, detail=scrubber.scrub(self.detail), fix=scrubber.scrub(self.fix))


def failure_text(exc: BaseException, limit: int = 160) -> str:
    """An exception as one short line (without the source's name), URI passwords masked:
    a known network cause in a few words (``connection refused``), else the library's text."""
    if isinstance(exc, WorkbookError):
        text = str(exc)
    else:
        text = describe(exc) or f"{type(exc).__name__}: {exc}"
    if isinstance(exc, SourceError):
        text = text.removeprefix(f"{exc.source}: ")
    first = " ".join(text.split())
    return mask_text(first if len(first) <= limit else first[: limit - 1] + "…")
