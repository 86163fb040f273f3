"""The sandbox's notification receivers: the local Slack-compatible webhook and SMTP sink.

Run as ``python -m sreworkbook.sandbox.receivers`` in a process of its own, on the ports the
environment's ``notifications`` name: the Slack webhook's (``notifications.slack.webhook_url``,
also where Alertmanager's PagerDuty and heartbeat posts go, on other paths) and the SMTP port
(``notifications.email.smtp_port``, else a free one). What arrives is kept as JSON lines
(``slack.jsonl``, ``mail.jsonl``) and an mbox in the component's folder; ``GET /received`` on
the webhook port returns the posts.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sreworkbook.config import Environment
from sreworkbook.exceptions import SandboxError
from sreworkbook.sandbox.layout import Context
from sreworkbook.sandbox.process import ensure_port_free, wait_ready
from sreworkbook.sandbox.services import _start_module
from sreworkbook.sandbox.state import Record

__all__ = ["read_received", "smtp_address", "start_receivers"]

NAME = "receivers"


def smtp_address(env: Environment) -> tuple[str, int] | None:
    """Where the SMTP sink listens: the e-mail channel's host and port when it is loopback."""
    email = env.notifications.email
    if email is None:
        return None
    if email.smtp_host not in ("127.0.0.1", "localhost"):
        raise SandboxError(
            f"notifications.email.smtp_host {email.smtp_host!r} is not loopback (127.0.0.1)",
            component=NAME,
        )
    return "127.0.0.1", email.smtp_port


def start_receivers(ctx: Context) -> Record:
    """Start the receivers on the webhook's port and the e-mail channel's SMTP port."""
    where = ctx.endpoint(NAME)
    smtp = smtp_address(ctx.env)
    if smtp is not None:
        ensure_port_free(*smtp, component=NAME, what="SMTP port")
    folder = ctx.layout.dir(NAME)
    (folder / "receivers.json").unlink(missing_ok=True)
    args = ["--host", where.host, "--slack-port", str(where.port), "--dir", str(folder)]
    args += ["--smtp-port", str(smtp[1] if smtp else 0)]
    record = _start_module(ctx, NAME, "sreworkbook.sandbox.receivers", args, "/received")
    # receivers.json is written once both the webhook and the SMTP sink listen.
    wait_ready(
        NAME,
        lambda: bool(_info(folder)),
        pid=record.pid,
        timeout_s=15,
        log_path=ctx.layout.out(NAME),
    )
    info = _info(folder)
    detail = (
        f"slack-compatible webhook {urlsplit(where.url)._replace(path='').geturl()}, "
        f"SMTP sink 127.0.0.1:{info.get('smtp_port', '?')}, received posts in {folder}"
    )
    return Record(
        NAME, record.status, record.pid, record.ticks, where.url, detail, backend="python"
    )


def _info(folder: Path) -> dict[str, Any]:
    try:
        data = json.loads((folder / "receivers.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def read_received(folder: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The posts and mails the receivers in ``folder`` have kept, oldest first."""

    def lines(name: str) -> list[dict[str, Any]]:
        path = folder / name
        if not path.is_file():
            return []
        out = []
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                continue
        return out

    return lines("slack.jsonl"), lines("mail.jsonl")
