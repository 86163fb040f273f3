"""Notifications for scheduled runs: the channels of a run's environment.

The scheduler calls what :func:`channels_of` returns with a run's environment name and sends
to the notifiers it gets, as alerts do: one :class:`~sreworkbook.notify.message.Notifier`
protocol for both.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from sreworkbook.config import load_environment
from sreworkbook.notify.message import Notifier
from sreworkbook.notify.registry import notifiers_for

__all__ = ["Channels", "channels_of"]

#: The notifiers of an environment, by its name.
Channels = Callable[[str], list[Notifier]]


def channels_of(root: Path, environ: Mapping[str, str]) -> Channels:
    """The notifiers each environment under ``root/parameters`` configures (read when asked;
    a file that cannot be read raises its :class:`~sreworkbook.exceptions.WorkbookError`)."""

    def of(env: str) -> list[Notifier]:
        return notifiers_for(load_environment(env, root=root).notifications, environ)

    return of
