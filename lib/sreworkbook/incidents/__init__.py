"""Incident analysis over Winston logs: trace a request, group errors, error rate, summary.

Reading is :mod:`sreworkbook.sources.logs`; this package only analyses what it returns.
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
from sreworkbook.incidents.summary import ErrorRate, IncidentSummary, error_rate, summarise
from sreworkbook.incidents.trace import RequestsAround, Trace, requests_around, trace

__all__ = [
    "ERROR_LEVELS",
    "ErrorGroup",
    "ErrorRate",
    "ErrorReport",
    "IncidentSummary",
    "RequestsAround",
    "Trace",
    "error_groups",
    "error_rate",
    "group_errors",
    "normalise_message",
    "requests_around",
    "rfc3339",
    "summarise",
    "trace",
]
