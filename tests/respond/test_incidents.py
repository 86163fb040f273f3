"""Incident pages and the index's "Incidents" section, from the responder's decisions."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from sreworkbook.index import build_index
from sreworkbook.index.incidents import Incident, IncidentEvent, incident_page, incidents_section
from sreworkbook.respond import Executor, Journal, Responder
from sreworkbook.respond.book import IncidentBook

from .helpers import Fakes, body, environment, serving
from .test_service import post

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def incident(ident: str, opened: str, resolved: str = "", title: str = "HighErrorRate") -> Incident:
    return Incident(ident, title, "prod", opened, resolved, "CRIT")


def test_the_section_lists_open_first_then_the_last_30_days_with_time_to_resolve() -> None:
    html = incidents_section(
        [
            incident("a", "2026-12-07T10:00:00Z", "2026-12-07T10:42:00Z"),
            incident("b", "2026-12-07T11:00:00Z"),
            incident("c", "2026-10-01T10:00:00Z", "2026-10-01T11:00:00Z"),  # too old
        ],
        now=NOW,
    )
    assert html.index("incidents/b.html") < html.index("incidents/a.html")
    assert "Open (1)" in html and "Resolved, last 30 days (1)" in html
    assert "resolved in 42m" in html and "incidents/c.html" not in html
    assert incidents_section([], now=NOW) == ""


def test_a_page_escapes_what_came_from_the_alert() -> None:
    page = incident_page(
        incident("x", "2026-12-07T10:00:00Z", title="<script>alert(1)</script>").with_event(
            IncidentEvent("2026-12-07T10:00:01Z", "alert", "<img src=x onerror=alert(1)>")
        )
    )
    assert "<script>alert" not in page and "<img" not in page
    assert "&lt;script&gt;" in page
    # Times a person reads are formatted; the machine-readable one stays in the element.
    assert '<time datetime="2026-12-07T10:00:01Z">2026-12-07 10:00:01 UTC</time>' in page
    assert 'opened <time datetime="2026-12-07T10:00:00Z">2026-12-07 10:00 UTC</time>' in page


def test_the_book_records_alerts_runs_replies_and_resolution_in_order(tmp_path: Path) -> None:
    outputs = tmp_path / "outputs"
    fakes = Fakes()
    env = environment()
    assert env.responder is not None
    clock = [datetime(2026, 12, 7, 1, 0, 5, tzinfo=UTC).timestamp()]
    book = IncidentBook(
        outputs, env.name, clock=lambda: clock[0],
        rebuild_index=lambda: build_index(outputs, now=NOW),
    )  # fmt: skip
    responder = Responder(
        Executor(env, env.responder, runner=fakes.run, sender=fakes.send),
        Journal(tmp_path / "j.jsonl"),
        clock=lambda: clock[0],
        on_decision=book.decided,
        on_outcome=book.finished,
    )
    with serving(responder) as server:
        assert post(server.url, body()).status_code == 200
        assert responder.wait_idle(10)
        clock[0] += 2520
        resolved = body(status="resolved", ends="2026-12-07T01:42:00Z")
        assert post(server.url, resolved).status_code == 200
        assert responder.wait_idle(10)
    book.flush()
    [record] = (outputs / "incidents").glob("*.json")
    data = json.loads(record.read_text())
    assert [e["kind"] for e in data["events"]] == [
        "alert", "run", "reply", "resolved", "run", "reply"
    ]  # fmt: skip
    assert data["resolved_at"] == "2026-12-07T01:42:00Z" and data["status"] == "CRIT"
    assert data["events"][1]["link"] == "http://out/r1.html"
    page = record.with_suffix(".html").read_text()
    assert "resolved after 42m" in page and 'href="http://out/r2.html"' in page
    index = (outputs / "index.html").read_text()
    assert "<h2>Incidents</h2>" in index and f"incidents/{record.stem}.html" in index
    assert "resolved in 42m" in index
