"""TLS certificate expiry of the service's https endpoints.

One check per distinct ``host:port``: ``service.base_url`` when it is https, and every
``service.tls_targets`` entry (``https://host[:port]`` or ``host:port``). The certificate is
fetched even when it does not verify, so the report says both "verify failed: self-signed"
(CRIT) and when it expires. Days left below ``thresholds.tls_crit_days`` → CRIT, below
``tls_warn_days`` → WARN; an expired certificate is CRIT. The detail lists the certificate's
subject alternative names and whether the checked hostname is among them (CRIT when not:
clients refuse it). Plain http targets get no check.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

from sreworkbook.checks._common import grade_below, masked
from sreworkbook.checks._x509 import covers, read_certificate
from sreworkbook.checks.runner import Check
from sreworkbook.config import Environment
from sreworkbook.exceptions import SecretError
from sreworkbook.results import CheckResult, Status
from sreworkbook.secrets import mask_uri, references

__all__ = ["Certificate", "fetch_certificate", "parse_target", "tls_checks"]

COMPONENT = "tls"


@dataclass(frozen=True)
class Certificate:
    """What a TLS endpoint presented, and whether it verified against the trust store."""

    subject: str
    issuer: str
    not_after: datetime
    verified: bool
    verify_error: str = ""
    #: Subject alternative names (DNS names and IP addresses), as the certificate lists them.
    sans: tuple[str, ...] = ()
    #: The host that was checked is among ``sans`` (wildcards matched per RFC 6125).
    hostname_covered: bool = False


def _utcnow() -> datetime:
    return datetime.now(UTC)


def parse_target(target: str) -> tuple[str, int] | None:
    """``(host, port)`` for an https URL or ``host[:port]``; ``None`` for a plain http URL."""
    text = target.strip()
    if "://" not in text:
        text = f"https://{text}"
    parts = urlsplit(text)
    if parts.scheme.lower() != "https" or not parts.hostname:
        return None
    return parts.hostname, parts.port or 443


def fetch_certificate(
    host: str, port: int, *, timeout_s: float, cafile: str | None = None
) -> Certificate:
    """The peer certificate of ``host:port``, verified against the trust store (or ``cafile``).

    A certificate that fails verification is fetched again without verification so its
    expiry is still known. Network errors propagate as ``OSError`` subclasses
    (``ConnectionRefusedError``, ``TimeoutError``, ``ssl.SSLError``, ``socket.gaierror``).
    """
    verify_error = ""
    der: bytes | None = None
    context = ssl.create_default_context(cafile=cafile)
    try:
        with (
            socket.create_connection((host, port), timeout=timeout_s) as sock,
            context.wrap_socket(sock, server_hostname=host) as tls,
        ):
            der = tls.getpeercert(binary_form=True)
    except ssl.SSLCertVerificationError as exc:
        verify_error = str(exc.verify_message or exc.reason or exc)
    if der is None:
        loose = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        loose.check_hostname = False
        loose.verify_mode = ssl.CERT_NONE
        with (
            socket.create_connection((host, port), timeout=timeout_s) as sock,
            loose.wrap_socket(sock, server_hostname=host) as tls,
        ):
            der = tls.getpeercert(binary_form=True)
    if der is None:
        raise ssl.SSLError("the server presented no certificate")
    fields = read_certificate(der)
    return Certificate(
        subject=fields.subject,
        issuer=fields.issuer,
        not_after=fields.not_after,
        verified=not verify_error,
        verify_error=verify_error,
        sans=fields.sans,
        hostname_covered=covers(fields.sans, host),
    )


def _judge(
    name: str, cert: Certificate, env: Environment, now: datetime, target: str, host: str
) -> CheckResult:
    days = (cert.not_after - now).total_seconds() / 86400.0
    limits = env.thresholds
    expiry = f"expires {cert.not_after:%Y-%m-%d %H:%M} UTC"
    if days < 0:
        status, when = Status.CRIT, f"expired {-days:.1f} days ago"
    else:
        status = grade_below(days, warn=limits.tls_warn_days, crit=limits.tls_crit_days)
        when = f"{expiry} (in {days:.1f} days)"
    names = ", ".join(cert.sans) if cert.sans else "none"
    coverage = f"{host} covered" if cert.hostname_covered else f"{host} NOT covered"
    parts = [
        when,
        f"subject {cert.subject}, issuer {cert.issuer}",
        f"names (SAN) {names}: {coverage}",
    ]
    if not cert.hostname_covered:
        status = Status.CRIT
    if not cert.verified:
        status = Status.CRIT
        parts.insert(0, f"verify failed: {cert.verify_error}")
    return CheckResult(
        name,
        COMPONENT,
        status,
        detail=masked("; ".join(parts)),
        target=target,
        metrics={
            "days_left": round(days, 3),
            "verified": 1.0 if cert.verified else 0.0,
            "hostname_covered": 1.0 if cert.hostname_covered else 0.0,
        },
    )


def _probe(
    env: Environment,
    raw: str,
    *,
    environ: Mapping[str, str],
    cafile: str | None,
    now: Callable[[], datetime],
) -> Callable[[float], CheckResult]:
    shown = mask_uri(raw)
    name = _label(raw)

    def probe(timeout_s: float) -> CheckResult:
        try:
            where = parse_target(env.secret(raw, environ, key="service.tls_targets"))
        except SecretError as exc:
            return CheckResult(name, COMPONENT, Status.UNKNOWN, detail=str(exc), target=shown)
        if where is None:
            return CheckResult(name, COMPONENT, Status.SKIPPED, detail="not https", target=shown)
        host, port = where
        target = f"{host}:{port}"
        try:
            cert = fetch_certificate(host, port, timeout_s=timeout_s, cafile=cafile)
        except TimeoutError:
            detail = f"timed out after {timeout_s:g} s"
            return CheckResult(name, COMPONENT, Status.UNKNOWN, detail=detail, target=target)
        except ConnectionRefusedError:
            detail = "connection refused"
            return CheckResult(name, COMPONENT, Status.CRIT, detail=detail, target=target)
        except socket.gaierror:
            detail = "cannot resolve host"
            return CheckResult(name, COMPONENT, Status.CRIT, detail=detail, target=target)
        except (ssl.SSLError, OSError) as exc:
            detail = f"TLS handshake failed: {masked(str(exc))[:200]}"
            return CheckResult(name, COMPONENT, Status.CRIT, detail=detail, target=target)
        except ValueError as exc:
            detail = f"unreadable certificate: {masked(str(exc))[:200]}"
            return CheckResult(name, COMPONENT, Status.CRIT, detail=detail, target=target)
        return _judge(name, cert, env, now(), target, host)

    return probe


def _label(raw: str) -> str:
    where = None if references(raw) else parse_target(raw)
    return f"certificate {where[0]}:{where[1]}" if where else f"certificate {mask_uri(raw)}"


def _raw_targets(env: Environment) -> list[str]:
    service = env.service
    if service is None:
        return []
    raw: list[str] = []
    base = service.base_url
    if references(base) or base.lower().startswith("https://"):
        raw.append(base)
    raw.extend(service.tls_targets)
    unique: dict[tuple[str, int] | str, str] = {}
    for item in raw:
        key: tuple[str, int] | str = item if references(item) else (parse_target(item) or item)
        unique.setdefault(key, item)
    return [item for item in unique.values() if references(item) or parse_target(item)]


def tls_checks(
    env: Environment,
    *,
    environ: Mapping[str, str],
    cafile: str | None = None,
    now: Callable[[], datetime] = _utcnow,
) -> list[Check]:
    """One certificate check per https ``host:port`` of ``env.service``; none for http.

    ``cafile`` replaces the system trust store (a private CA); ``now`` is the UTC clock.
    """
    return [
        Check(
            _label(raw),
            COMPONENT,
            mask_uri(raw),
            env.check_timeout_s,
            _probe(env, raw, environ=environ, cafile=cafile, now=now),
        )
        for raw in _raw_targets(env)
    ]
