"""The sandbox's stand-in AI service: ``GET /health`` and a fake ``POST /predict``.

Run as ``python -m sreworkbook.sandbox.ai_service --port PORT``; it binds 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import json
import random
import signal
import threading
import time
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["MODEL", "AIHandler", "AIServer", "main", "predict"]

MODEL = "tradeai-forecast-v3"


def predict(payload: Any, rng: random.Random) -> dict[str, Any]:
    """A plausible forecast for ``payload`` (``{"sku": ..., "price": ..., "horizonDays": ...}``)."""
    data = payload if isinstance(payload, dict) else {}
    price = float(data.get("price") or 100.0)
    horizon = int(data.get("horizonDays") or 7)
    drift = rng.gauss(0.002, 0.01) * horizon
    return {
        "model": MODEL,
        "sku": data.get("sku", "SKU-1001"),
        "horizonDays": horizon,
        "predictedPrice": round(price * (1 + drift), 2),
        "confidence": round(rng.uniform(0.6, 0.95), 3),
        "generatedAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


class AIHandler(BaseHTTPRequestHandler):
    """Answers ``/health`` and ``/predict``; everything else is 404."""

    server_version = "tradeai-ai/3.0"
    rng = random.Random()

    def log_message(self, format: str, *args: Any) -> None:  # quiet: no access log
        return

    def _send(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path.split("?")[0] == "/health":
            self._send(200, {"status": "ok", "model": MODEL})
        else:
            self._send(404, {"error": "not found"})

    def do_POST(self) -> None:
        if self.path.split("?")[0] != "/predict":
            self._send(404, {"error": "not found"})
            return
        length = int(self.headers.get("Content-Length") or 0)
        try:
            payload = json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            self._send(400, {"error": "body must be JSON"})
            return
        time.sleep(self.rng.uniform(0.02, 0.08))  # model inference
        self._send(200, predict(payload, self.rng))


class AIServer(ThreadingHTTPServer):
    """The AI service's HTTP server on 127.0.0.1."""

    daemon_threads = True
    request_queue_size = 128

    def __init__(self, port: int) -> None:
        super().__init__(("127.0.0.1", port), AIHandler)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    server = AIServer(args.port)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    server.serve_forever()
    server.server_close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
