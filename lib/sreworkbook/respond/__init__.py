"""The alert responder: Alertmanager's webhook in, the runbook's report out, in one thread.

- :mod:`~sreworkbook.respond.payload` — the webhook body (version 4), read strictly;
- :mod:`~sreworkbook.respond.episodes` — one episode per group from firing to resolved;
- :mod:`~sreworkbook.respond.journal` — accepted work on disk before the 200;
- :mod:`~sreworkbook.respond.service` — accept, queue, workers; replay after a restart;
- :mod:`~sreworkbook.respond.work` — the runbook run and the reply;
- :mod:`~sreworkbook.respond.server` — the HTTP receiver; :mod:`~sreworkbook.respond.cli` —
  ``sreworkbook respond serve``.
"""

from sreworkbook.respond.episodes import Decision, Episode, Episodes
from sreworkbook.respond.journal import Journal, Replay, Work
from sreworkbook.respond.payload import Alert, AlertGroup, parse_group
from sreworkbook.respond.server import MAX_BODY_BYTES, WebhookServer
from sreworkbook.respond.service import Acceptance, Responder
from sreworkbook.respond.work import Executor, Outcome, RunResult, parameters_for

__all__ = [
    "MAX_BODY_BYTES",
    "Acceptance",
    "Alert",
    "AlertGroup",
    "Decision",
    "Episode",
    "Episodes",
    "Executor",
    "Journal",
    "Outcome",
    "Replay",
    "Responder",
    "RunResult",
    "WebhookServer",
    "Work",
    "parameters_for",
    "parse_group",
]
