"""TLS expiry against real local HTTPS servers with self-signed certificates."""

from __future__ import annotations

import datetime as dt
import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from sreworkbook.checks import fetch_certificate, parse_target, run_checks, tls_checks
from sreworkbook.config import Environment
from sreworkbook.results import CheckResult, Status

from .conftest import CannedServer, SelfSigned

MakeHttps = Callable[[float], tuple[CannedServer, SelfSigned]]


def environment(base_url: str, targets: list[str] | None = None, **thresholds: Any) -> Environment:
    return Environment.model_validate(
        {
            "name": "t",
            "service": {"base_url": base_url, "tls_targets": targets or []},
            "thresholds": thresholds,
            "check_timeout_s": 2,
        }
    )


def check_one(env: Environment, **kwargs: Any) -> CheckResult:
    checks = tls_checks(env, environ={}, **kwargs)
    assert len(checks) == 1
    (result,) = run_checks(checks)
    return result


@pytest.mark.parametrize(
    ("target", "where"),
    [
        ("https://api.example.com", ("api.example.com", 443)),
        ("https://api.example.com:8443/x", ("api.example.com", 8443)),
        ("app.example.com:9443", ("app.example.com", 9443)),
        ("app.example.com", ("app.example.com", 443)),
        ("http://api.example.com", None),
    ],
)
def test_parse_target(target: str, where: tuple[str, int] | None) -> None:
    assert parse_target(target) == where


def test_http_service_gets_no_tls_check() -> None:
    assert tls_checks(environment("http://127.0.0.1:1"), environ={}) == []


def test_targets_are_deduplicated_by_host_and_port() -> None:
    env = environment(
        "https://api.example.com",
        ["https://api.example.com/", "api.example.com:443", "https://app.example.com"],
    )
    names = [c.name for c in tls_checks(env, environ={})]
    assert names == ["certificate api.example.com:443", "certificate app.example.com:443"]


def test_self_signed_is_crit_but_its_expiry_is_still_known(https_server: MakeHttps) -> None:
    server, _ = https_server(60)
    result = check_one(environment(server.url))
    assert result.status is Status.CRIT
    assert result.detail.startswith("verify failed: self-signed certificate")
    assert result.metrics["verified"] == 0.0
    assert result.metrics["days_left"] == pytest.approx(60, abs=0.01)
    assert result.target == f"127.0.0.1:{server.port}"


@pytest.mark.parametrize(
    ("days", "status"),
    [(60, Status.OK), (10, Status.WARN), (3, Status.CRIT)],
)
def test_days_left_against_thresholds_when_trusted(
    https_server: MakeHttps, days: float, status: Status
) -> None:
    server, cert = https_server(days)
    result = check_one(environment(server.url), cafile=str(cert.cert_file))
    assert result.metrics["verified"] == 1.0
    assert result.metrics["days_left"] == pytest.approx(days, abs=0.01)
    assert result.status is status
    assert f"expires {cert.not_after:%Y-%m-%d %H:%M} UTC" in result.detail
    assert "subject localhost, issuer localhost" in result.detail
    assert "names (SAN) localhost, 127.0.0.1: 127.0.0.1 covered" in result.detail
    assert result.metrics["hostname_covered"] == 1.0


def test_thresholds_exactly_at_the_boundary(https_server: MakeHttps) -> None:
    server, cert = https_server(30)
    env = environment(server.url, tls_warn_days=21, tls_crit_days=7)
    at = {
        21: Status.OK,  # exactly at warn: not below it
        7: Status.WARN,  # exactly at crit: not below it
    }
    for days, status in at.items():
        now = cert.not_after - dt.timedelta(days=days)
        result = check_one(env, cafile=str(cert.cert_file), now=lambda now=now: now)
        assert result.metrics["days_left"] == days
        assert result.status is status, days
    almost = cert.not_after - dt.timedelta(days=7) + dt.timedelta(seconds=1)
    assert check_one(env, cafile=str(cert.cert_file), now=lambda: almost).status is Status.CRIT


def test_a_hostname_not_among_the_sans_is_crit_and_says_so(https_server: MakeHttps) -> None:
    """A certificate for other names, even trusted and far from expiry: clients refuse it."""
    server, cert = https_server(90, ("api.tradeai.example", "*.tradeai.example"))
    result = check_one(environment(server.url), cafile=str(cert.cert_file))
    assert result.status is Status.CRIT
    assert "names (SAN) api.tradeai.example, *.tradeai.example: 127.0.0.1 NOT covered" in (
        result.detail
    )
    assert result.detail.startswith("verify failed: ")  # ssl's own hostname check agrees
    assert result.metrics["hostname_covered"] == 0.0
    assert result.metrics["days_left"] == pytest.approx(90, abs=0.01)


def test_the_checked_name_is_found_among_several_sans(https_server: MakeHttps) -> None:
    """Checked by name (``localhost``), not by address: the detail names that host."""
    server, cert = https_server(90, ("*.example.net", "localhost"))
    env = environment(f"https://localhost:{server.port}")
    result = check_one(env, cafile=str(cert.cert_file))
    assert result.status is Status.OK, result.detail
    assert "names (SAN) *.example.net, localhost: localhost covered" in result.detail


def test_expired_certificate_is_crit(https_server: MakeHttps) -> None:
    server, cert = https_server(30)
    later = cert.not_after + dt.timedelta(days=2)
    result = check_one(environment(server.url), cafile=str(cert.cert_file), now=lambda: later)
    assert result.status is Status.CRIT
    assert result.detail.startswith("expired 2.0 days ago")
    assert result.metrics["days_left"] == -2


def test_tls_targets_and_https_base_url_both_checked(https_server: MakeHttps) -> None:
    first, _ = https_server(40)
    second, _ = https_server(5)
    env = environment(first.url, [f"127.0.0.1:{second.port}"])
    results = run_checks(tls_checks(env, environ={}))
    assert [r.metrics["days_left"] for r in results] == [
        pytest.approx(40, abs=0.01),
        pytest.approx(5, abs=0.01),
    ]


def test_a_reference_target_is_resolved_when_checking(https_server: MakeHttps) -> None:
    server, cert = https_server(50)
    env = environment("${API_URL}")
    (check,) = tls_checks(env, environ={"API_URL": server.url}, cafile=str(cert.cert_file))
    assert check.target == "${API_URL}"
    (result,) = run_checks([check])
    assert result.status is Status.OK
    (plain,) = tls_checks(env, environ={"API_URL": "http://127.0.0.1:1"})
    assert run_checks([plain])[0].status is Status.SKIPPED


def test_refused_is_crit(closed_port: int) -> None:
    result = check_one(environment(f"https://127.0.0.1:{closed_port}"))
    assert (result.status, result.detail) == (Status.CRIT, "connection refused")


@pytest.fixture
def silent_listener() -> Iterator[int]:
    """A port that accepts TCP connections and never speaks TLS."""
    server = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []
    done = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not done.is_set():
            try:
                conn, _ = server.accept()
                accepted.append(conn)
            except TimeoutError:
                continue
            except OSError:
                return

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield int(server.getsockname()[1])
    done.set()
    thread.join(2)
    for conn in accepted:
        conn.close()
    server.close()


def test_a_silent_server_times_out_unknown(silent_listener: int) -> None:
    (check,) = tls_checks(environment(f"https://127.0.0.1:{silent_listener}"), environ={})
    result = check.probe(0.3)
    assert isinstance(result, CheckResult)
    assert (result.status, result.detail) == (Status.UNKNOWN, "timed out after 0.3 s")


def test_fetch_certificate_reports_verification(https_server: MakeHttps) -> None:
    server, cert = https_server(12)
    loose = fetch_certificate("127.0.0.1", server.port, timeout_s=2)
    trusted = fetch_certificate("127.0.0.1", server.port, timeout_s=2, cafile=str(cert.cert_file))
    assert not loose.verified and "self-signed" in loose.verify_error
    assert trusted.verified and trusted.verify_error == ""
    assert loose.not_after == trusted.not_after == cert.not_after
