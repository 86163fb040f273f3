"""The explorer's analysis against the sandbox's generated logs and their truth."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from sreworkbook.config import Environment
from sreworkbook.exceptions import ParameterError
from sreworkbook.incidents import explore, normalise_message
from sreworkbook.incidents.exploration import pick_incident, resolve_span
from sreworkbook.known_incidents import Incident, load_incidents
from sreworkbook.results import Status
from sreworkbook.sandbox.winston import log_line

NOW = datetime(2026, 11, 28, 20, 41, 39, tzinfo=UTC)
CONTRACT = {"lines_scanned", "malformed_lines", "errors", "error_groups", "failed_requests",
            "first_error_at"}  # fmt: skip


def environment(folder: Path | str) -> Environment:
    return Environment.model_validate({"name": "t", "logs": {"dir": str(folder)}})


def spike_of(truth: dict[str, Any]) -> dict[str, Any]:
    return next(i for i in truth["incidents"] if i["kind"] == "error_rate")


def known_of(folder: Path) -> tuple[Incident, ...]:
    return load_incidents(folder.parent / "truth.json", strict=False)


def ts(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_named_incident_is_what_the_truth_says(sandbox_logs: tuple[Path, dict[str, Any]]) -> None:
    folder, truth = sandbox_logs
    spike = spike_of(truth)
    found = explore(
        environment(folder), root=Path("/"), now=NOW, incident=spike["name"], known=known_of(folder)
    )
    s = found.summary
    assert s is not None and found.focus.incident is not None
    assert (found.focus.start, found.focus.end) == (ts(spike["start"]), ts(spike["end"]))
    assert found.focus.context_start < found.focus.start < found.focus.end < found.focus.context_end
    assert (s.requests, s.failed_requests, s.errors) == (
        spike["requests"], spike["failed_requests"], spike["cause_lines"]
    )  # fmt: skip
    # The 5xx completion lines are failed requests of their route, with their status; no group.
    assert spike["cause_lines"] < spike["error_lines"]
    assert "Request completed" not in {g.group for g in s.groups}
    assert s.route_statuses["/api/trades"][0][0] == 500
    dominant = s.groups[0]
    assert dominant.count == spike["dominant"]["count"]
    assert dominant.group == normalise_message(spike["dominant"]["message"])
    assert s.affected_routes[0] == ("/api/trades", spike["failed_requests"])
    assert sum(n for _, n in s.top_users) == spike["failed_requests"]
    expected = Status.CRIT if spike["failed_requests"] / spike["requests"] > 0.05 else Status.WARN
    assert found.status is expected is Status.CRIT
    assert found.findings()[0].title == "Failed requests above threshold"
    first = spike["first_failed_request"]
    assert found.trace is not None and found.trace.correlation_id == first["correlation_id"]
    assert list(found.trace.frame["message"]) == first["messages"]
    assert found.around is not None and len(found.around.failing)
    assert set(found.around.failing["statusCode"]) == {500}
    assert len(found.search) == spike["error_lines"]  # errors and warnings, none of the latter
    metrics = found.metrics()
    assert set(metrics) >= CONTRACT and metrics["trace_lines"] == len(first["messages"])
    assert metrics["error_rate"] == pytest.approx(spike["failed_requests"] / spike["requests"])
    assert spike["name"] in found.headline and "logged requests failed" in found.headline
    assert "dominant errors" in found._repr_html_()


def test_without_a_name_the_most_recent_incident_in_the_window(
    sandbox_logs: tuple[Path, dict[str, Any]],
) -> None:
    folder, truth = sandbox_logs
    found = explore(
        environment(folder), root=Path("/"), now=NOW, window="36h", known=known_of(folder)
    )
    assert found.focus.incident is not None
    assert found.focus.incident.name == spike_of(truth)["name"]
    assert found.focus.label.startswith("Most recent incident in the window")


def test_from_logs_alone_the_worst_minute_is_in_the_spike(
    sandbox_logs: tuple[Path, dict[str, Any]],
) -> None:
    folder, truth = sandbox_logs
    spike = spike_of(truth)
    start, end = ts(spike["start"]) - timedelta(hours=6), ts(spike["end"]) + timedelta(hours=6)
    found = explore(environment(folder), root=Path("/"), now=NOW, start=str(start), end=str(end))
    assert found.focus.incident is None and found.focus.at is not None
    assert ts(spike["start"]) <= found.focus.at < ts(spike["end"])
    assert found.headline.startswith("Worst error minute")
    assert found.summary is not None
    assert found.summary.groups[0].count == truth["error_lines_by_kind"]["pool"]
    assert found.trace is not None and found.trace.failed
    failing = found.trace.frame[found.trace.frame["level"] == "error"]["ts"].iloc[0]
    assert found.focus.at <= failing < found.focus.at + timedelta(minutes=1)
    assert found.status is Status.WARN  # over 12 hours the share is under the threshold


def write_day(folder: Path, *lines: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "combined-2026-11-28.log").write_text("".join(f"{x}\n" for x in lines))
    return folder


def test_quiet_window_is_ok_and_a_search_narrows(tmp_path: Path) -> None:
    at = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
    meta = {"correlationId": "c-1", "method": "GET", "url": "/api/customers", "userId": "u1"}
    folder = write_day(
        tmp_path / "logs",
        log_line("info", "Incoming request", at, **meta),
        log_line("warn", "Cache miss storm", at + timedelta(seconds=1), **meta),
        log_line(
            "info",
            "Request completed",
            at + timedelta(seconds=2),
            statusCode=200,
            duration="2000ms",
            **meta,
        ),
    )
    found = explore(environment(folder), root=Path("/"), now=NOW, window="24h", text="storm")
    assert found.status is Status.OK and found.trace is None and found.around is None
    assert found.headline.endswith("no errors in 1 logged requests.")
    assert list(found.search["message"]) == ["Cache miss storm"]
    traced = explore(environment(folder), root=Path("/"), now=NOW, correlation_id="c-1")
    assert traced.trace is not None and traced.trace.lines == 3
    assert list(traced.trace.frame["step_ms"]) == [0.0, 1000.0, 1000.0]
    lost = explore(environment(folder), root=Path("/"), now=NOW, correlation_id="nope")
    assert any(f.title == "Request not found" for f in lost.findings())


@pytest.mark.parametrize(
    ("logs", "problem"),
    [("missing", "log directory not found"), (None, "no logs: section"), ("old", "no log file")],
)
def test_unreadable_logs_are_unknown(tmp_path: Path, logs: str | None, problem: str) -> None:
    if logs == "old":
        write_day(tmp_path / "old", '{"level":"info","message":"x"}')
    env = (
        Environment.model_validate({"name": "t"}) if logs is None else environment(tmp_path / logs)
    )
    found = explore(env, root=tmp_path, now=NOW + timedelta(days=3), window="1h")
    assert found.status is Status.UNKNOWN and problem in found.problem
    assert found.metrics() == {"lines_scanned": 0.0}
    assert [f.severity for f in found.findings()] == [Status.UNKNOWN]
    assert "logs unreadable" in found.headline


@pytest.mark.parametrize(
    "content",
    [
        random.Random(7).randbytes(64 * 1024),  # random bytes
        b"Nov 28 10:00:00 web1 nginx: GET /api 200\n" * 50,  # another format
    ],
)
def test_logs_with_no_parseable_line_are_unknown_not_ok(tmp_path: Path, content: bytes) -> None:
    folder = tmp_path / "logs"
    folder.mkdir()
    (folder / "combined-2026-11-28.log").write_bytes(content)
    found = explore(environment(folder), root=tmp_path, now=NOW, window="24h")
    # Before: OK, "no errors in 0 logged requests".
    assert found.status is Status.UNKNOWN
    [finding] = found.findings()
    assert finding.severity is Status.UNKNOWN and finding.title == "Logs unreadable"
    assert (
        finding.detail.startswith("none of the ") and "is a JSON log line, e.g. " in finding.detail
    )
    assert finding.detail.isprintable() and len(finding.detail) < 200
    assert "logs unreadable" in found.headline


def test_bad_parameters_name_themselves(sandbox_logs: tuple[Path, dict[str, Any]]) -> None:
    folder, _ = sandbox_logs
    for kwargs, key in (
        ({"start": "yesterday"}, "start"),
        ({"end": "soon"}, "end"),
        ({"window": "24x"}, "window"),
        ({"start": "2026-11-28T10:00:00Z", "end": "2026-11-28T09:00:00Z"}, "start"),
        ({"level": "error,loud"}, "level"),
        ({"incident": "no-such-incident"}, "incident"),
    ):
        with pytest.raises(ParameterError) as caught:
            explore(environment(folder), root=Path("/"), now=NOW, known=known_of(folder), **kwargs)
        assert caught.value.key == key, kwargs
    with pytest.raises(ParameterError, match="did you mean one of: trades-api-error-spike"):
        pick_incident(known_of(folder), "nope", NOW - timedelta(days=1), NOW)
    assert resolve_span(start="", end="", window="1h", now=NOW) == (NOW - timedelta(hours=1), NOW)
