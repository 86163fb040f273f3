"""The stand-in AI service."""

from __future__ import annotations

import json
import random
import threading
import urllib.error
import urllib.request

import pytest

from sreworkbook.sandbox.ai_service import MODEL, AIServer, predict


def test_predict_is_plausible() -> None:
    answer = predict({"sku": "SKU-3001", "price": 2000, "horizonDays": 3}, random.Random(1))
    assert answer["model"] == MODEL and answer["sku"] == "SKU-3001"
    assert 1700 < answer["predictedPrice"] < 2300 and 0.6 <= answer["confidence"] <= 0.95


def test_server_health_predict_and_404() -> None:
    server = AIServer(0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        with urllib.request.urlopen(base + "/health", timeout=5) as r:
            assert r.status == 200 and json.loads(r.read()) == {"status": "ok", "model": MODEL}
        call = urllib.request.Request(base + "/predict", data=b'{"price": 10}', method="POST")
        with urllib.request.urlopen(call, timeout=5) as r:
            assert json.loads(r.read())["model"] == MODEL
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(base + "/nope", timeout=5)
        assert caught.value.code == 404
        caught.value.close()
    finally:
        server.shutdown()
        server.server_close()
