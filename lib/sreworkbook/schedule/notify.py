"""Who hears about a scheduled run: the :class:`Notifier` protocol and the ``notify_on`` rule.

The channels themselves (Slack, e-mail, PagerDuty, webhook) live with the alerting work; the
scheduler only needs something with ``send(summary, report_url)``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Protocol

from sreworkbook.config import load_environment
from sreworkbook.exceptions import WorkbookError
from sreworkbook.results import RunSummary, Status

__all__ = ["ChannelNotifier", "Notifier", "NullNotifier", "should_notify"]


class Notifier(Protocol):
    """Tells people about one finished run; may raise — the scheduler records and goes on."""

    def send(self, summary: RunSummary, report_url: str) -> None: ...


class NullNotifier:
    """Sends nothing (no channel configured)."""

    def send(self, summary: RunSummary, report_url: str) -> None:
        """Do nothing."""


class ChannelNotifier:
    """Sends through the channels the run's environment configures (``notifications:``).

    Uses the alerting work's notifiers (Slack, e-mail, PagerDuty, webhook). Raises
    :class:`WorkbookError` naming what did not get through — or that the environment
    configures no channel — so that the scheduler's history says so.
    """

    def __init__(self, root: Path, environ: Mapping[str, str]) -> None:
        self.root = root
        self.environ = environ

    def send(self, summary: RunSummary, report_url: str) -> None:
        """Send ``summary`` with a link to its report through every configured channel."""
        from sreworkbook.alerts.notify import Notification, notifiers_for, notify_all

        env = load_environment(summary.env, root=self.root)
        notifiers = notifiers_for(env.notifications, self.environ)
        if not notifiers:
            raise WorkbookError(f"environment {env.name} configures no notification channel")
        deliveries = notify_all(notifiers, Notification.from_summary(summary, report_url))
        failed = [d for d in deliveries if not d.ok]
        if failed:
            raise WorkbookError("; ".join(f"{d.notifier}: {d.detail}" for d in failed))


#: ``crit`` covers UNKNOWN too: the README's exit code 1 means "needs a look" for both.
_CRIT = frozenset({Status.CRIT, Status.UNKNOWN})


def should_notify(notify_on: Iterable[str], status: Status) -> bool:
    """Whether a run ending in ``status`` is announced under a job's ``notify_on``."""
    wanted = set(notify_on)
    return (
        "always" in wanted
        or ("failure" in wanted and status is Status.ERROR)
        or ("crit" in wanted and status in _CRIT)
    )
