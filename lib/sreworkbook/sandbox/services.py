"""The sandbox's own Python services, each in its own process: the AI service and the demo
TradeAI backend."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import sreworkbook
from sreworkbook.sandbox.api_settings import ApiSettings
from sreworkbook.sandbox.layout import Context
from sreworkbook.sandbox.log_history import prepare_api_logs
from sreworkbook.sandbox.process import ensure_port_free, http_ok, spawn, wait_ready
from sreworkbook.sandbox.state import RUNNING, Record

__all__ = ["python_env", "start_ai", "start_api"]


def python_env() -> dict[str, str]:
    """The environment for a child interpreter that must import this very package."""
    env = dict(os.environ)
    package_parent = str(Path(sreworkbook.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_parent, env.get("PYTHONPATH", "")) if p)
    return env


def _start_module(ctx: Context, name: str, module: str, args: list[str], ready_path: str) -> Record:
    where = ctx.endpoint(name)
    ensure_port_free(where.host, where.port, component=name)
    out = ctx.layout.out(name)
    argv = [sys.executable, "-m", module, *args]
    pid, ticks = spawn(name, argv, log_path=out, cwd=ctx.layout.root, env=python_env())
    wait_ready(name, lambda: http_ok(where.http + ready_path), pid=pid, timeout_s=30, log_path=out)
    return Record(name, RUNNING, pid, ticks, where.url, f"python -m {module}", backend="python")


def start_ai(ctx: Context) -> Record:
    """Start the stand-in AI service on ``env.ai_service.url``'s port."""
    port = ctx.endpoint("ai").port
    return _start_module(
        ctx, "ai", "sreworkbook.sandbox.ai_service", ["--port", str(port)], "/health"
    )


def start_api(ctx: Context) -> Record:
    """Start the demo TradeAI backend on ``env.service.base_url``'s port."""
    ctx.endpoint("api")
    settings = ApiSettings.from_env(ctx.env, ctx.layout)
    path = ctx.layout.dir("api") / "settings.json"
    settings.write(path)
    prepare_api_logs(ctx)  # the week of log history, before the API appends to today's file
    return _start_module(
        ctx, "api", "sreworkbook.sandbox.demo_api", ["--settings", str(path)], "/health/live"
    )
