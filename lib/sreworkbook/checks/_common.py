"""Helpers shared by the check modules: grading against thresholds, safe error text."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from sreworkbook.config import Environment
from sreworkbook.exceptions import SecretError
from sreworkbook.results import CheckResult, Status
from sreworkbook.secrets import MASK, Scrubber, mask_text, mask_uri, references

__all__ = [
    "budget",
    "connection_probe",
    "connection_target",
    "error_text",
    "grade_above",
    "grade_below",
    "masked",
    "not_configured",
]


def grade_above(value: float, *, warn: float, crit: float) -> Status:
    """CRIT when ``value`` is strictly above ``crit``, WARN strictly above ``warn``, else OK.

    A value exactly at a threshold does not cross it (the seed's "memory > 90 %").
    """
    if value > crit:
        return Status.CRIT
    if value > warn:
        return Status.WARN
    return Status.OK


def grade_below(value: float, *, warn: float, crit: float) -> Status:
    """CRIT when ``value`` is strictly below ``crit``, WARN strictly below ``warn``, else OK."""
    if value < crit:
        return Status.CRIT
    if value < warn:
        return Status.WARN
    return Status.OK


def budget(timeout_s: float) -> float:
    """The share of a check's timeout a probe gives its client library.

    Clients that retry until their own timeout (pymongo's server selection) must give up
    before the runner's hard deadline, so that the probe, not the runner, says what failed.
    """
    return max(0.05, timeout_s * 0.8)


# ``redis://:password@host`` (no user name), which ``mask_text`` leaves alone.
_NO_USER_PASSWORD = re.compile(r"\b([a-z][a-z0-9+.-]*://):([^@\s/]+)@", re.IGNORECASE)


def masked(text: str) -> str:
    """``text`` with the password of every URI in it masked, with or without a user name."""
    text = mask_text(text)
    return _NO_USER_PASSWORD.sub(lambda m: f"{m.group(1)}:{MASK}@", text)


def error_text(exc: BaseException, scrubber: Scrubber | None = None) -> str:
    """``ExcType: message`` with URI passwords masked and any known secret value removed."""
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    text = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
    text = masked(scrubber.scrub(text) if scrubber else text)
    return text if len(text) <= 300 else text[:297] + "..."


def connection_target(
    env: Environment, environ: Mapping[str, str], value: str, *, key: str
) -> tuple[str, str, Scrubber]:
    """A connection string resolved now (``SecretError`` when a reference is not set), what a
    result may show of it, and a scrubber for the secrets it holds."""
    resolved = env.secret(value, environ, key=key)
    scrubber = Scrubber.from_references(references(value), environ)
    return resolved, scrubber.scrub(mask_uri(resolved)), scrubber


def connection_probe(
    name: str,
    component: str,
    env: Environment,
    environ: Mapping[str, str],
    value: str,
    *,
    key: str,
    probe: Callable[[float, str, str, Scrubber], CheckResult],
) -> Callable[[float], CheckResult]:
    """A probe that resolves the connection string ``value`` first (:func:`connection_target`)
    and runs ``probe(timeout_s, resolved, target, scrubber)``; UNKNOWN, saying which secret is
    missing, when a reference in it is not set."""

    def run(timeout_s: float) -> CheckResult:
        try:
            resolved, target, scrubber = connection_target(env, environ, value, key=key)
        except SecretError as exc:
            return CheckResult(name, component, Status.UNKNOWN, detail=str(exc))
        return probe(timeout_s, resolved, target, scrubber)

    return run


def not_configured(name: str, component: str) -> Callable[[float], CheckResult]:
    """A probe that reports ``component`` as SKIPPED because the environment lacks it."""

    def probe(timeout_s: float) -> CheckResult:
        return CheckResult(name, component, Status.SKIPPED, detail="not configured")

    return probe
