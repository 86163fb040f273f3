"""The sandbox's alert responder: ``sreworkbook respond serve`` on ``responder.listen``.

Alertmanager posts every alert (but the Watchdog) to it with a bearer token the sandbox makes
once and keeps in ``DATA/responder/token`` (mode 0600): the responder gets it in the
environment variable its ``responder.token`` names, Alertmanager inline in its configuration
(a loopback sandbox; production reads it from a file). Its replies go to the local receivers.
"""

from __future__ import annotations

import os
import secrets
import sys

from sreworkbook.config import Environment
from sreworkbook.sandbox.layout import Context, Layout
from sreworkbook.sandbox.process import ensure_port_free, http_ok, spawn, wait_ready
from sreworkbook.sandbox.services import python_env
from sreworkbook.sandbox.state import RUNNING, Record
from sreworkbook.secrets import references

__all__ = ["responder_token", "start_responder"]

NAME = "responder"


def responder_token(env: Environment, layout: Layout) -> dict[str, str]:
    """``{VARIABLE: token}`` for the environment's responder (made once), or ``{}`` without one."""
    if env.responder is None:
        return {}
    names = references(env.responder.token)
    path = layout.dir(NAME) / "token"
    if not path.is_file():
        # Written aside, then linked into place: the components starting at once (responder,
        # Alertmanager) see no file or the whole token, never an empty one.
        partial = path.with_name(f".token.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(secrets.token_urlsafe(32))
        try:
            os.link(partial, path)
        except FileExistsError:
            pass  # the other one won: use its token
        finally:
            partial.unlink()
    return {names[0]: path.read_text(encoding="ascii").strip()}


def start_responder(ctx: Context) -> Record:
    """Start ``respond serve`` for this environment; ready once ``/healthz`` answers."""
    where = ctx.endpoint(NAME)
    ensure_port_free(where.host, where.port, component=NAME)
    env_file = ctx.env.source_file or ctx.env.name
    argv = [sys.executable, "-m", "sreworkbook", "--root", str(ctx.layout.root)]
    argv += ["respond", "serve", "--env", env_file, "--listen", where.address]
    child = python_env()
    child.update(responder_token(ctx.env, ctx.layout))
    out = ctx.layout.out(NAME)
    pid, ticks = spawn(NAME, argv, log_path=out, cwd=ctx.layout.root, env=child)
    wait_ready(NAME, lambda: http_ok(where.http + "/healthz"), pid=pid, timeout_s=60,
               log_path=out)  # fmt: skip
    detail = f"sreworkbook respond serve; Alertmanager posts to {where.url}"
    return Record(NAME, RUNNING, pid, ticks, where.url, detail, backend="python")
