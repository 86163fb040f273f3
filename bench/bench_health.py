"""The check runner against running the same checks one after another.

50 HTTP checks against real local servers, 10 of which hang, each with a 2 s timeout. Prints
the runner's wall time, its ratio to the timeout (goal: at most 1.5×) and its ratio to the
sequential time, which is measured by actually running the checks one at a time (what a
script looping over endpoints with ``requests.get(url, timeout=2)`` would take). Not a test.

    .venv/bin/python bench/bench_health.py [--checks 50] [--hanging 10] [--timeout 2]
"""

from __future__ import annotations

import argparse
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from sreworkbook.checks import run_checks, service_checks
from sreworkbook.config import Environment
from sreworkbook.results import Status

_RELEASE = threading.Event()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that timed out closed its end


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        if self.path.startswith("/hang"):
            _RELEASE.wait(60)
            return
        body = b'{"status": "ok"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def _serve() -> tuple[_Server, str]:
    server = _Server(("127.0.0.1", 0), _Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checks", type=int, default=50)
    parser.add_argument("--hanging", type=int, default=10)
    parser.add_argument("--timeout", type=float, default=2.0)
    args = parser.parse_args()

    # Two real servers: one that answers, one whose every request hangs; every check is a
    # Kubernetes-probe check of the service, as the workbook builds them.
    answering, ok_url = _serve()
    hanging, hang_url = _serve()
    counts = {ok_url: args.checks - args.hanging, hang_url: args.hanging}
    checks = [
        check
        for base, count in counts.items()
        for check in service_checks(
            Environment.model_validate(
                {
                    "name": "bench",
                    "service": {
                        "base_url": base,
                        "detailed_path": None,
                        "metrics_path": None,
                        "probes": {f"p{i}": {"path": f"/{'hang' if base == hang_url else 'ok'}{i}"}
                                   for i in range(count)},
                    },
                    "check_timeout_s": args.timeout,
                }
            ),
            environ={},
        )
        if check.name != "health"
    ]  # fmt: skip

    start = time.perf_counter()
    results = run_checks(checks)
    concurrent = time.perf_counter() - start
    timed_out = sum(r.status is Status.UNKNOWN for r in results)

    start = time.perf_counter()
    for check in checks:
        run_checks([check])
    sequential = time.perf_counter() - start

    _RELEASE.set()
    for server in (answering, hanging):
        server.shutdown()
        server.server_close()

    print(f"checks: {len(checks)} ({args.hanging} hanging), timeout {args.timeout:g} s")
    print(f"run_checks wall time:   {concurrent:7.3f} s  ({timed_out} timed out)")
    print(f"ratio to the timeout:   {concurrent / args.timeout:7.2f}x  (goal <= 1.5x)")
    print(f"sequential wall time:   {sequential:7.3f} s")
    print(f"ratio to sequential:    {concurrent / sequential:7.3f}  "
          f"({sequential / concurrent:.1f}x faster)")  # fmt: skip


if __name__ == "__main__":
    main()
