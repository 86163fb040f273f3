"""The alert responder: webhook acceptance under a storm, and webhook → reply on the sandbox.

1. Acceptance: 1,000 webhook posts (50 groups, duplicates from 8 senders, flapping) paced
   over a minute (``--burst``: as fast as answered) to ``respond serve``'s receiver with its
   journal, episodes and workers (runs recorded, not executed), against the floor: a bare
   ``ThreadingHTTPServer`` answering 200 to the same posts. Goal: p99 ≤ 50 ms.
2. Webhook → reply: a HighErrorRate group posted to a responder started by ``sandbox up``
   (demo API with 1 day of history, Prometheus, receivers, responder), timed until its reply
   with the report link arrives at the local Slack receiver; the high_error_rate run's own
   duration (from its summary) is subtracted to give the responder's overhead. Goals: p95 ≤
   15 s on 2 cores, overhead ≤ 1 s.

Prints figures and ratios; not a test.

    .venv/bin/python bench/bench_respond.py [--replies 5] [--burst] [--skip-sandbox]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import requests
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the storm is shared with the load test

from sreworkbook.config import Environment  # noqa: E402
from sreworkbook.notify import Delivery, Notification  # noqa: E402
from sreworkbook.respond import Executor, Journal, Responder, RunResult, WebhookServer  # noqa: E402
from sreworkbook.results import Status  # noqa: E402
from support.net import free_port  # noqa: E402
from support.storm import plan_storm, run_storm  # noqa: E402

TOKEN = "bench-token"


class _Floor(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")


def _serve(server: ThreadingHTTPServer) -> threading.Thread:
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    return thread


def acceptance(burst: bool) -> None:
    storm = plan_storm(posts=1000, groups=50)
    pace = 0.0 if burst else 59.0 / max(len(lane) for lane in storm.senders)
    env = Environment.model_validate({"name": "bench", "responder": {
        "token": "${T}", "triage": {"notebook": "triage"}, "queue_bound": 200}})  # fmt: skip
    assert env.responder is not None
    runs: list[str] = []

    def run(notebook: str, parameters: Any) -> RunResult:
        runs.append(notebook)
        return RunResult(notebook, Status.OK, "ok", "http://x/r.html")

    def send(section: Any, message: Notification) -> Sequence[Delivery]:
        return (Delivery("slack", True, 1, 200),)

    with tempfile.TemporaryDirectory() as tmp:
        responder = Responder(Executor(env, env.responder, runner=run, sender=send),
                              Journal(Path(tmp) / "j.jsonl"))  # fmt: skip
        server = WebhookServer(("127.0.0.1", 0), responder, lambda: TOKEN)
        responder.start()
        thread = _serve(server)
        ours = run_storm(server.url + "/webhook", TOKEN, storm, pace_s=pace)
        responder.wait_idle(60)
        server.shutdown()
        thread.join()
        responder.stop()
    floor_server = ThreadingHTTPServer(("127.0.0.1", 0), _Floor)
    thread = _serve(floor_server)
    port = floor_server.server_address[1]
    floor = run_storm(f"http://127.0.0.1:{port}/", TOKEN, storm, pace_s=pace)
    floor_server.shutdown()
    thread.join()
    mode = "burst (as fast as answered)" if burst else f"paced over {ours.wall_s:.0f} s"
    print(f"Acceptance of {storm.posts:,} posts, {storm.groups} groups, 8 senders, {mode}:")
    for name, got in (("respond serve", ours), ("bare HTTP 200 (floor)", floor)):
        print(f"  {name:22} p50 {got.quantile(0.5) * 1000:6.1f} ms   p99 "
              f"{got.quantile(0.99) * 1000:6.1f} ms   max {max(got.latencies_s) * 1000:6.1f} ms")  # fmt: skip
    print(f"  ratio p99 responder / floor: {ours.quantile(0.99) / floor.quantile(0.99):.1f}x; "
          f"runs: {len(runs)} for {storm.groups} groups + {len(storm.resolving)} resolutions; "
          f"goal p99 ≤ 50 ms: {'met' if ours.quantile(0.99) <= 0.05 else 'NOT met'}")  # fmt: skip


def webhook_to_reply(count: int) -> None:
    from sreworkbook.config import load_environment
    from sreworkbook.sandbox import down, up

    base = Path(tempfile.mkdtemp(prefix="bench-respond-"))
    data, outputs = base / "data", base / "outputs"
    api, prom, hook, responder = (free_port() for _ in range(4))
    doc = {
        "extends": str(ROOT / "parameters" / "sandbox.yaml"), "name": "bench-respond",
        "service": {"base_url": f"http://127.0.0.1:{api}"},
        "prometheus": {"url": f"http://127.0.0.1:{prom}"},
        "notifications": {"slack": {"webhook_url": f"http://127.0.0.1:{hook}/services/sandbox"},
                          "email": None, "pagerduty": None},
        "responder": {"listen": f"127.0.0.1:{responder}", "journal_dir": str(base / "journal")},
        "ai_service": None, "mongodb": None, "redis": None, "backups": None,
        "alertmanager": None, "logs": {"dir": str(data / "logs-app")},
        "sandbox": {"data_dir": str(data), "history_days": 1},
    }  # fmt: skip
    env_file = base / "bench-respond.yaml"
    env_file.write_text(yaml.safe_dump(doc, sort_keys=False))
    env = load_environment(str(env_file), root=ROOT)
    os.environ["SREWORKBOOK_OUTPUTS"] = str(outputs)
    cache = ROOT / ".sandbox" / "bench-cache" / "history"
    up(env, root=ROOT, strict=True, history_cache=cache)
    try:
        token = (data / "responder" / "token").read_text().strip()
        totals, notebook = [], []
        for i in range(count):
            body = json.dumps({
                "version": "4", "groupKey": f"bench-{i}", "status": "firing",
                "receiver": "responder", "groupLabels": {"alertname": "HighErrorRate"},
                "alerts": [{"status": "firing", "labels": {"alertname": "HighErrorRate",
                            "job": "tradeai-backend", "severity": "critical", "n": str(i)},
                            "annotations": {}, "startsAt": time.strftime(
                                "%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 300)),
                            "endsAt": "0001-01-01T00:00:00Z"}],
            })  # fmt: skip
            seen = len(requests.get(f"http://127.0.0.1:{hook}/received", timeout=5).json())
            began = time.monotonic()
            answer = requests.post(f"http://127.0.0.1:{responder}/webhook", data=body,
                                   headers={"Authorization": f"Bearer {token}"}, timeout=10)  # fmt: skip
            answer.raise_for_status()
            while len(requests.get(f"http://127.0.0.1:{hook}/received", timeout=5).json()) <= seen:
                time.sleep(0.05)
            totals.append(time.monotonic() - began)
            last = (outputs / "ledger.jsonl").read_text().splitlines()[-1]
            notebook.append(float(json.loads(last)["duration_s"]))
        overhead = [t - n for t, n in zip(totals, notebook, strict=True)]
        p95 = sorted(totals)[min(len(totals) - 1, int(0.95 * len(totals)))]
        print(
            f"Webhook → reply with the report link, high_error_rate on the sandbox, {count} runs:"
        )
        print(f"  total   median {statistics.median(totals):5.1f} s   p95 {p95:5.1f} s "
              f"(goal ≤ 15 s: {'met' if p95 <= 15 else 'NOT met'})")  # fmt: skip
        print(f"  notebook run (summary duration_s) median {statistics.median(notebook):5.1f} s")
        print(f"  responder overhead median {statistics.median(overhead):5.2f} s   max "
              f"{max(overhead):5.2f} s (goal ≤ 1 s: {'met' if max(overhead) <= 1 else 'NOT met'})")  # fmt: skip
    finally:
        down(env, root=ROOT)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replies", type=int, default=5, help="webhook → reply samples")
    parser.add_argument("--burst", action="store_true", help="the storm unpaced")
    parser.add_argument("--skip-sandbox", action="store_true", help="acceptance only")
    args = parser.parse_args()
    acceptance(args.burst)
    if not args.skip_sandbox:
        webhook_to_reply(args.replies)


if __name__ == "__main__":
    main()
