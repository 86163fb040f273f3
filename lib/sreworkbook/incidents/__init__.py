"""Incident analysis over Winston logs: trace a request, group errors, error rate, summary.

Reading is :mod:`sreworkbook.sources.logs`; this package only analyses what it returns.
:func:`explore` gathers what the incident explorer notebook shows, :func:`lineup_of` lines it up
with a metrics source, and :mod:`sreworkbook.incidents.view` draws it.
"""

from sreworkbook.incidents.errors import (
    ERROR_LEVELS,
    ErrorGroup,
    ErrorReport,
    error_groups,
    group_errors,
    normalise_message,
    rfc3339,
)
from sreworkbook.incidents.exploration import Exploration, Focus, explore
from sreworkbook.incidents.lineup import LineUp, conclude, line_up, lineup_of
from sreworkbook.incidents.summary import ErrorRate, IncidentSummary, error_rate, summarise
from sreworkbook.incidents.trace import RequestsAround, Trace, requests_around, trace

__all__ = [
    "ERROR_LEVELS",
    "ErrorGroup",
    "ErrorRate",
    "ErrorReport",
    "Exploration",
    "Focus",
    "IncidentSummary",
    "LineUp",
    "RequestsAround",
    "Trace",
    "conclude",
    "error_groups",
    "error_rate",
    "explore",
    "group_errors",
    "line_up",
    "lineup_of",
    "normalise_message",
    "requests_around",
    "rfc3339",
    "summarise",
    "trace",
]
