"""Doctor checks over the network: HTTP endpoints, a Prometheus query, Redis, SMTP.

Each connects with the environment's credentials, as a run would, within ``timeout_s``,
and changes nothing (no alert, no message is sent; SMTP only logs in).
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Mapping

import redis as redis_py
from redis.backoff import NoBackoff
from redis.exceptions import AuthenticationError, RedisError, ResponseError
from redis.retry import Retry

from sreworkbook.checks import http_get, joined, service_request
from sreworkbook.config import Environment
from sreworkbook.doctor.lines import DoctorLine, Verdict, failure_text
from sreworkbook.exceptions import SecretError, SourceError
from sreworkbook.secrets import mask_uri
from sreworkbook.sources.prometheus import PrometheusSource

__all__ = ["http_checks", "redis_checks", "smtp_checks"]

_REACH = "check the URL and that this host can reach it (DNS, firewall, VPN, proxy)"


def _http_line(
    check: str, url: str, headers: Mapping[str, str], timeout_s: float, *, what: str, creds: str
) -> DoctorLine:
    shown = mask_uri(url)
    try:
        answer = http_get(url, timeout_s=timeout_s, headers=headers)
    except SourceError as exc:
        return DoctorLine(check, Verdict.FAIL, f"{shown}: {failure_text(exc)}", _REACH)
    code = answer.status_code
    if code in (401, 403):
        return DoctorLine(check, Verdict.FAIL, f"{shown} refused the credentials ({code})", creds)
    if code >= 400:
        return DoctorLine(
            check, Verdict.WARN, f"{shown} answered {code} in {answer.elapsed_ms:.0f} ms",
            f"reachable, but {what} answers {code}: check the path, or the service itself",
        )  # fmt: skip
    return DoctorLine(check, Verdict.OK, f"{shown}: {code} in {answer.elapsed_ms:.0f} ms")


def _service(env: Environment, environ: Mapping[str, str], timeout_s: float) -> list[DoctorLine]:
    lines = []
    if env.service is not None:
        try:
            url, headers = service_request(env, environ, env.service.health_path)
        except SecretError as exc:
            return [DoctorLine("service health", Verdict.FAIL, str(exc), "set the variable")]
        lines.append(
            _http_line(
                "service health", url, headers, timeout_s, what="the health endpoint",
                creds="check service.headers (the token's environment variable)",
            )
        )  # fmt: skip
    if env.ai_service is not None:
        try:
            url = env.secret(env.ai_service.url, environ, key="ai_service.url")
        except SecretError as exc:
            return [*lines, DoctorLine("ai service", Verdict.FAIL, str(exc), "set the variable")]
        lines.append(
            _http_line(
                "ai service", url, {}, timeout_s, what="the AI service",
                creds="the AI service wants credentials the workbook does not send",
            )
        )  # fmt: skip
    return lines


def _prometheus(env: Environment, environ: Mapping[str, str], timeout_s: float) -> list[DoctorLine]:
    config, check = env.prometheus, "prometheus query"
    if env.metrics.source != "prometheus":
        note = f"metrics.source is {env.metrics.source}: not checked here"
        return [
            DoctorLine(
                f"metrics {env.metrics.source}",
                Verdict.WARN,
                note,
                "run metrics_dashboard once by hand to check its credentials",
            )
        ]
    if config is None:
        return []
    try:
        source = PrometheusSource.from_config(
            config.model_copy(update={"timeout_s": min(config.timeout_s, timeout_s)}),
            environ,
            retries=0,
        )
    except SecretError as exc:
        return [DoctorLine(check, Verdict.FAIL, str(exc), "set the variable")]
    shown = mask_uri(config.url)
    query = f'up{{job="{config.job}"}}'
    try:
        found = source.query(query)
    except SourceError as exc:
        if exc.status in (401, 403):
            return [
                DoctorLine(
                    check, Verdict.FAIL, f"{shown} refused the credentials ({exc.status})",
                    "check prometheus.bearer_token or prometheus.username/password",
                )
            ]  # fmt: skip
        return [DoctorLine(check, Verdict.FAIL, f"{shown}: {failure_text(exc)}", _REACH)]
    finally:
        if source.session is not None:
            source.session.close()
    if found.empty:
        return [
            DoctorLine(
                check, Verdict.WARN, f"{shown}: {query} returned no series",
                "check prometheus.job: the dashboards filter on it",
            )
        ]  # fmt: skip
    return [DoctorLine(check, Verdict.OK, f"{shown}: {query} returned {len(found)} series")]


def _alertmanager(
    env: Environment, environ: Mapping[str, str], timeout_s: float
) -> list[DoctorLine]:
    if env.alertmanager is None:
        return []
    try:
        url = env.secret(env.alertmanager.url, environ, key="alertmanager.url")
    except SecretError as exc:
        return [DoctorLine("alertmanager", Verdict.FAIL, str(exc), "set the variable")]
    return [
        _http_line(
            "alertmanager", joined(url, "/-/healthy"), {}, timeout_s, what="Alertmanager",
            creds="Alertmanager wants credentials the workbook does not send",
        )
    ]  # fmt: skip


def http_checks(env: Environment, environ: Mapping[str, str], timeout_s: float) -> list[DoctorLine]:
    """The service's health endpoint, the AI service, a Prometheus query, Alertmanager."""
    return [
        *_service(env, environ, timeout_s),
        *_prometheus(env, environ, timeout_s),
        *_alertmanager(env, environ, timeout_s),
    ]


def redis_checks(
    env: Environment, environ: Mapping[str, str], timeout_s: float
) -> list[DoctorLine]:
    """``PING`` with the URL's credentials."""
    if env.redis is None:
        return []
    check = "redis"
    try:
        url = env.secret(env.redis.url, environ, key="redis.url")
    except SecretError as exc:
        return [DoctorLine(check, Verdict.FAIL, str(exc), "set the variable")]
    shown = mask_uri(url)
    client: redis_py.Redis | None = None
    try:
        client = redis_py.Redis.from_url(
            url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s,
            retry=Retry(NoBackoff(), 0), single_connection_client=True,
        )  # fmt: skip
        client.ping()
    except (AuthenticationError, ResponseError) as exc:
        return [
            DoctorLine(
                check, Verdict.FAIL, f"{shown}: {failure_text(exc)}",
                "check the password (and user) in the Redis URL's variable",
            )
        ]  # fmt: skip
    except (RedisError, ValueError) as exc:
        return [DoctorLine(check, Verdict.FAIL, f"{shown}: {failure_text(exc)}", _REACH)]
    finally:
        if client is not None:
            client.close()
    return [DoctorLine(check, Verdict.OK, f"{shown}: PING answered")]


def smtp_checks(env: Environment, environ: Mapping[str, str], timeout_s: float) -> list[DoctorLine]:
    """Connect to the e-mail relay (STARTTLS, log in if configured); nothing is sent."""
    email = env.notifications.email
    if email is None:
        return []
    check, where = "smtp", f"{email.smtp_host}:{email.smtp_port}"
    try:
        user = env.secret(email.username, environ) if email.username else None
        password = env.secret(email.password, environ) if email.password else None
    except SecretError as exc:
        return [DoctorLine(check, Verdict.FAIL, str(exc), "set the variable")]
    try:
        with smtplib.SMTP(email.smtp_host, email.smtp_port, timeout=timeout_s) as smtp:
            smtp.ehlo()
            if email.starttls:
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            if user and password:
                smtp.login(user, password)
    except smtplib.SMTPAuthenticationError as exc:
        return [
            DoctorLine(
                check, Verdict.FAIL, f"{where} refused the login ({exc.smtp_code})",
                "check notifications.email.username and the password's variable",
            )
        ]  # fmt: skip
    except (smtplib.SMTPException, OSError) as exc:
        fix = "check notifications.email.smtp_host, smtp_port and starttls"
        return [DoctorLine(check, Verdict.FAIL, f"{where}: {failure_text(exc)}", fix)]
    how = " with login" if user and password else ""
    tls = ", STARTTLS" if email.starttls else ""
    return [DoctorLine(check, Verdict.OK, f"{where}: connected{tls}{how} (nothing sent)")]
