"""Parameter files: load, inherit (``extends:``), validate, and show with secrets masked.

One YAML file per environment under ``parameters/``. Validation is strict (unknown keys are
errors) and every error names the file and the dotted key. Values that hold credentials are
``${ENV_VAR}`` references, resolved only by :meth:`Environment.secret` at connection time.

Over 500 lines on purpose: it is the one schema of a parameter file, every section's model
beside the :class:`Environment` that holds it and the loader that validates it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from sreworkbook.exceptions import MissingFileError, ParameterError
from sreworkbook.secrets import mask_uri, references, resolve

__all__ = [
    "HOME_VARIABLE",
    "AIServiceConfig",
    "AlertmanagerConfig",
    "BackupsConfig",
    "BudgetConfig",
    "DatadogConfig",
    "ElasticConfig",
    "Environment",
    "FilesMetricsConfig",
    "LogsConfig",
    "MetricsConfig",
    "MongoConfig",
    "NewRelicConfig",
    "NotificationsConfig",
    "PrometheusConfig",
    "RedisConfig",
    "ReplyRoute",
    "ResponderConfig",
    "RunbookMapping",
    "SLOConfig",
    "SandboxConfig",
    "ServiceConfig",
    "Thresholds",
    "environment_path",
    "load_environment",
    "load_yaml",
    "validation_error",
    "validation_message",
    "workbook_root",
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _http_url(value: str) -> str:
    if not references(value) and not value.startswith(("http://", "https://")):
        raise ValueError(f"must be an http(s) URL, got {value!r}")
    return value.rstrip("/")


class ProbeConfig(_Model):
    path: str
    expected_status: int = 200


def _default_probes() -> dict[str, ProbeConfig]:
    return {
        "liveness": ProbeConfig(path="/health/live"),
        "readiness": ProbeConfig(path="/health/ready"),
        "startup": ProbeConfig(path="/health/startup"),
    }


class ServiceConfig(_Model):
    """The backend under inspection: health endpoints, Kubernetes probes, ``/metrics``."""

    base_url: str
    health_path: str = "/health"
    detailed_path: str | None = "/health/detailed"
    probes: dict[str, ProbeConfig] = Field(default_factory=_default_probes)
    metrics_path: str | None = "/metrics"
    required_metrics: list[str] = Field(
        default_factory=lambda: [
            "http_request_duration_seconds",
            "db_query_duration_seconds",
            "process_resident_memory_bytes",
            "process_cpu_seconds_total",
            "active_users",
        ]
    )
    tls_targets: list[str] = Field(default_factory=list)
    headers: dict[str, str] = Field(default_factory=dict)

    _check_url = field_validator("base_url")(lambda cls, v: _http_url(v))


class AIServiceConfig(_Model):
    url: str
    expected_status: int = 200

    _check_url = field_validator("url")(lambda cls, v: _http_url(v))


class MongoConfig(_Model):
    uri: str
    database: str = "tradeai"


class RedisConfig(_Model):
    url: str


class PrometheusConfig(_Model):
    """A Prometheus HTTP API (also Thanos, Mimir, VictoriaMetrics)."""

    url: str
    bearer_token: str | None = None
    username: str | None = None
    password: str | None = None
    timeout_s: float = Field(default=10.0, gt=0)
    job: str = "tradeai-backend"
    memory_pct_query: str = 'max(system_memory_usage_percent{job="$job"})'
    cpu_pct_query: str = 'max(system_cpu_usage_percent{job="$job"})'

    _check_url = field_validator("url")(lambda cls, v: _http_url(v))


class AlertmanagerConfig(_Model):
    """An Alertmanager API (the sandbox runs one; notebooks may read its alerts)."""

    url: str
    timeout_s: float = Field(default=10.0, gt=0)

    _check_url = field_validator("url")(lambda cls, v: _http_url(v))


class NewRelicConfig(_Model):
    """New Relic NerdGraph (NRQL); ``api_key`` is a user key reference."""

    account_id: int
    api_key: str
    endpoint: str = "https://api.newrelic.com/graphql"
    app_name: str = "tradeai-backend"
    timeout_s: float = Field(default=15.0, gt=0)


class DatadogConfig(_Model):
    """Datadog metrics query API; keys are references."""

    api_key: str
    app_key: str
    site_url: str = "https://api.datadoghq.com"
    service: str = "tradeai-backend"
    env_tag: str | None = None
    timeout_s: float = Field(default=15.0, gt=0)


class ElasticConfig(_Model):
    """Elastic APM data in Elasticsearch (the APM data streams), read through ``_search``.

    ``api_key`` (the base64 ``id:key`` Elasticsearch returns) or ``username``/``password``
    are references; ``service``/``environment`` are ``service.name``/``service.environment``.
    """

    url: str
    api_key: str | None = None
    username: str | None = None
    password: str | None = None
    service: str = "tradeai-backend"
    environment: str | None = None
    rum_service: str | None = None
    traces_index: str = "traces-apm*"
    metrics_index: str = "metrics-apm*"
    timeout_s: float = Field(default=15.0, gt=0)


class FilesMetricsConfig(_Model):
    """A CSV or Parquet export in the tidy shape (panel, timestamp, series, value)."""

    path: str


class MetricsConfig(_Model):
    """Which metrics store the dashboards read; the notebooks do not change."""

    source: Literal["prometheus", "newrelic", "datadog", "elastic", "files"] = "prometheus"
    newrelic: NewRelicConfig | None = None
    datadog: DatadogConfig | None = None
    elastic: ElasticConfig | None = None
    files: FilesMetricsConfig | None = None


class S3Config(_Model):
    """Where the cloud copies are; keys are ``${ENV}`` references (else boto3's standard chain)."""

    bucket: str
    prefix: str = ""
    endpoint_url: str | None = None
    region: str = "us-east-1"
    access_key_id: str | None = None
    secret_access_key: str | None = None


class BackupsConfig(_Model):
    local_dir: str | None = None
    s3: S3Config | None = None
    name_pattern: str = r"tradeai_backup_(\d{8})_(\d{6})\.(?:tar|archive)\.gz"
    rpo_hours: float = Field(default=24.0, gt=0)
    local_retention_days: int = Field(default=7, ge=1)
    s3_retention_days: int = Field(default=30, ge=1)
    scratch_database: str = "tradeai_restore_test"
    #: Restore drills refuse any scratch database whose whole name does not match this.
    scratch_pattern: str = r".+_restore_test"
    #: The nightly job's log (the seed's ``/var/log/mongodb-backup.log``), for the runbook.
    log_file: str | None = None


class LogsConfig(_Model):
    dir: str
    s3_prefix: str | None = None


class SlackConfig(_Model):
    webhook_url: str
    channel: str | None = None


class EmailConfig(_Model):
    smtp_host: str
    smtp_port: int = 587
    from_addr: str
    to: list[str]
    username: str | None = None
    password: str | None = None
    starttls: bool = True


class PagerDutyConfig(_Model):
    routing_key: str
    #: PagerDuty's Events API v2 (``None``: events.pagerduty.com; set it for the EU region or a
    #: local receiver, as the sandbox does).
    events_url: str | None = None


class WebhookConfig(_Model):
    url: str


class NotificationsConfig(_Model):
    slack: SlackConfig | None = None
    email: EmailConfig | None = None
    pagerduty: PagerDutyConfig | None = None
    webhook: WebhookConfig | None = None


class Thresholds(_Model):
    """The seed's alert thresholds, and the health checks' own."""

    error_rate_crit: float = Field(default=0.05, ge=0, le=1)
    p95_latency_warn_s: float = Field(default=2.0, gt=0)
    memory_warn_pct: float = Field(default=80.0, ge=0, le=100)
    memory_crit_pct: float = Field(default=90.0, ge=0, le=100)
    cpu_warn_pct: float = Field(default=80.0, ge=0, le=100)
    cpu_crit_pct: float = Field(default=95.0, ge=0, le=100)
    check_latency_warn_ms: float = Field(default=1000.0, gt=0)
    tls_warn_days: float = Field(default=21.0, ge=0)
    tls_crit_days: float = Field(default=7.0, ge=0)
    redis_memory_warn_pct: float = Field(default=80.0, ge=0, le=100)
    redis_memory_crit_pct: float = Field(default=95.0, ge=0, le=100)
    db_connection_failures_crit: float = Field(default=10.0, ge=0)


class SLOConfig(_Model):
    name: str
    kind: Literal["availability", "latency"]
    objective: float = Field(gt=0, lt=1)
    threshold_s: float | None = Field(default=None, gt=0)
    window_days: int = Field(default=30, ge=1)


class SandboxConfig(_Model):
    """How ``sreworkbook sandbox up`` builds the embedded stack for this environment."""

    data_dir: str = ".sandbox"
    history_days: int = Field(default=30, ge=1, le=90)
    history_step_s: int = Field(default=60, ge=15, le=600)
    seed_documents: int = Field(default=100_000, ge=0)


#: Where a runbook parameter's value comes from (``responder.runbooks.*.parameters``).
PARAMETER_SOURCES = ("labels", "alert", "startsAt", "endsAt", "window.start", "window.end")
_SOURCE_PREFIXES = ("label.", "annotation.")


def _parameter_source(value: str) -> str:
    if value in PARAMETER_SOURCES:
        return value
    prefix, _, name = value.partition(".")
    if f"{prefix}." in _SOURCE_PREFIXES and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        return value
    shown = ", ".join((*PARAMETER_SOURCES, "label.NAME", "annotation.NAME"))
    raise ValueError(f"unknown source {value!r} (one of: {shown})")


def _default_mapping() -> dict[str, str]:
    return {"labels": "alert", "start": "window.start", "end": "window.end"}


class RunbookMapping(_Model):
    """A notebook run for an alert; ``parameters`` maps its parameters to parts of the alert.

    Sources: ``labels`` (the labels as JSON), ``alert`` (labels, annotations and ``startsAt``
    as JSON), ``label.NAME``, ``annotation.NAME``, ``startsAt``, ``endsAt``, ``window.start``
    (``startsAt`` minus the lead) and ``window.end``. Values are passed as data, never code.
    """

    notebook: str
    parameters: dict[str, str] = Field(default_factory=_default_mapping)

    @field_validator("parameters")
    @classmethod
    def _sources(cls, value: dict[str, str]) -> dict[str, str]:
        for source in value.values():
            _parameter_source(source)
        return value


class ReplyRoute(_Model):
    """Where replies about alerts whose labels equal every ``match`` pair go."""

    match: dict[str, str] = Field(default_factory=dict)
    notifications: NotificationsConfig


def _listen(value: str) -> str:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) < 65536:
        raise ValueError(f"must be HOST:PORT, got {value!r}")
    return value


class ResponderConfig(_Model):
    """``sreworkbook respond serve``: Alertmanager's webhook in, runbook runs and replies out."""

    listen: str = "127.0.0.1:9097"
    #: Where Alertmanager reaches it (exports); default ``http://LISTEN/webhook``.
    url: str | None = None
    #: The bearer token Alertmanager sends (``http_config.authorization``): a ``${ENV}``.
    token: str
    #: Where the outputs root is served (a web server, the S3 website), for report links.
    report_base_url: str | None = None
    runbooks: dict[str, RunbookMapping] = Field(default_factory=dict)
    #: Run for an alert that matches no runbook; none: the reply says so without a run.
    triage: RunbookMapping | None = None
    #: First matching route wins; none matching: the environment's ``notifications``.
    replies: list[ReplyRoute] = Field(default_factory=list)
    concurrency: int = Field(default=2, ge=1, le=16)
    #: A group that fires again within this many seconds of resolving is the same episode.
    dedup_window_s: float = Field(default=600.0, ge=0)
    queue_bound: int = Field(default=100, ge=1, le=100_000)
    #: How long before ``startsAt`` the runbook's window opens.
    lead_s: float = Field(default=1800.0, ge=0)
    #: The journal's folder, relative to the workbook root unless absolute.
    journal_dir: str = ".responder"

    _check_listen = field_validator("listen")(lambda cls, v: _listen(v))

    @field_validator("token")
    @classmethod
    def _token_reference(cls, value: str) -> str:
        if not re.fullmatch(r"\$\{[A-Za-z_][A-Za-z0-9_]*\}", value):
            raise ValueError("must be a ${ENV_VAR} reference, never the token itself")
        return value

    @field_validator("report_base_url", "url")
    @classmethod
    def _base(cls, value: str | None) -> str | None:
        return None if value is None else _http_url(value)


class BudgetConfig(_Model):
    """A run's budget in an environment file (``budgets: {NOTEBOOK or "*": ...}``)."""

    deadline_s: float | None = Field(default=None, gt=0)
    cell_timeout_s: float | None = Field(default=None, gt=0)


class Environment(_Model):
    """One environment's parameters (``parameters/<name>.yaml``)."""

    name: str
    description: str = ""
    service: ServiceConfig | None = None
    ai_service: AIServiceConfig | None = None
    mongodb: MongoConfig | None = None
    redis: RedisConfig | None = None
    prometheus: PrometheusConfig | None = None
    alertmanager: AlertmanagerConfig | None = None
    metrics: MetricsConfig = Field(default_factory=MetricsConfig)
    backups: BackupsConfig | None = None
    logs: LogsConfig | None = None
    notifications: NotificationsConfig = Field(default_factory=NotificationsConfig)
    thresholds: Thresholds = Field(default_factory=Thresholds)
    check_timeout_s: float = Field(default=5.0, gt=0, le=300)
    slos: list[SLOConfig] = Field(default_factory=list)
    sandbox: SandboxConfig | None = None
    responder: ResponderConfig | None = None
    #: Run budgets by notebook name (``*`` for every notebook), over each notebook's defaults.
    budgets: dict[str, BudgetConfig] = Field(default_factory=dict)
    source_file: str = Field(default="", exclude=True)

    def secret(self, value: str, environ: Mapping[str, str], *, key: str | None = None) -> str:
        """``value`` with its ``${ENV}`` references resolved: call only to connect."""
        return resolve(value, environ, key=key)

    def resolver(self, environ: Mapping[str, str]) -> Callable[[str], str]:
        """:meth:`secret` over ``environ``, for the helpers that take a ``resolve`` function."""

        def resolve_one(value: str) -> str:
            return self.secret(value, environ)

        return resolve_one

    def secret_references(self) -> list[str]:
        """Every environment variable this environment refers to."""
        found: list[str] = []
        _walk_strings(self.model_dump(), lambda s: found.extend(references(s)))
        return sorted(set(found))

    def masked(self) -> dict[str, Any]:
        """The parameters as safe to show: URIs with passwords masked, references kept."""
        masked: dict[str, Any] = _mask_tree(self.model_dump(exclude_none=True))
        return masked


def _walk_strings(node: Any, visit: Any) -> None:
    if isinstance(node, str):
        visit(node)
    elif isinstance(node, Mapping):
        for value in node.values():
            _walk_strings(value, visit)
    elif isinstance(node, list | tuple):
        for value in node:
            _walk_strings(value, visit)


_SECRET_KEYS = {
    "password",
    "bearer_token",
    "routing_key",
    "webhook_url",
    "token",
    "api_key",
    "app_key",
    "secret_access_key",
}


def _mask_tree(node: Any, key: str = "") -> Any:
    if isinstance(node, Mapping):
        return {k: _mask_tree(v, str(k)) for k, v in node.items()}
    if isinstance(node, list):
        return [_mask_tree(v, key) for v in node]
    if isinstance(node, str):
        if key in _SECRET_KEYS and not references(node):
            return "***"
        if "://" in node:
            return mask_uri(node)
    return node


def environment_path(name_or_path: str, *, root: Path) -> Path:
    """Where environment ``name_or_path`` lives: a path as given, else ``parameters/NAME.yaml``."""
    if name_or_path.endswith((".yaml", ".yml")) or "/" in name_or_path:
        path = Path(name_or_path)
        return path if path.is_absolute() else root / path
    return root / "parameters" / f"{name_or_path}.yaml"


def load_yaml(path: Path) -> dict[str, Any]:
    """A YAML mapping from ``path``; a missing file or bad YAML raises naming the file."""
    if not path.is_file():
        raise MissingFileError(str(path), what="parameter file")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ParameterError(f"not valid YAML{where}: {problem}", source=str(path)) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ParameterError(f"cannot read: {exc}", source=str(path)) from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ParameterError("must be a mapping of keys to values", source=str(path))
    return data


def _merge(base: dict[str, Any], child: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in child.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _merge(dict(merged[key]), value)
        else:
            merged[key] = value
    return merged


def _load_with_extends(path: Path, seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    path = path.resolve()
    if path in seen:
        chain = " → ".join(p.name for p in (*seen, path))
        raise ParameterError(f"extends itself ({chain})", source=str(seen[0]), key="extends")
    data = load_yaml(path)
    parent = data.pop("extends", None)
    if parent is None:
        return data
    if not isinstance(parent, str):
        raise ParameterError("must be a file name", source=str(path), key="extends")
    parent_path = path.parent / parent
    if not parent_path.is_file():
        raise ParameterError(f"{parent} not found", source=str(path), key="extends")
    return _merge(_load_with_extends(parent_path, (*seen, path)), data)


def validation_error(exc: ValidationError, *, source: str) -> ParameterError:
    """A :class:`ParameterError` naming the file and the first failing key."""
    key = ".".join(str(part) for part in exc.errors()[0]["loc"])
    return ParameterError(validation_message(exc), source=source, key=key)


def validation_message(exc: ValidationError) -> str:
    """What pydantic's first complaint means to a reader, and how many more there are."""
    first = exc.errors()[0]
    message = first["msg"].removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        message = "unknown key"
    elif first["type"] == "missing":
        message = "required key is missing"
    more = len(exc.errors()) - 1
    if more:
        message += f" (and {more} more problem{'s' if more > 1 else ''})"
    return message


def load_environment(name_or_path: str, *, root: Path) -> Environment:
    """Load and validate an environment; errors name the file and the key."""
    path = environment_path(name_or_path, root=root)
    data = _load_with_extends(path)
    data.setdefault("name", path.stem)
    try:
        env = Environment.model_validate(data)
    except ValidationError as exc:
        raise validation_error(exc, source=str(path)) from None
    return env.model_copy(update={"source_file": str(path)})


#: The environment variable naming the workbook folder, wherever a notebook or command runs.
HOME_VARIABLE = "SREWORKBOOK_HOME"


def workbook_root(
    start: Path | None = None,
    *,
    env: str = "",
    environ: Mapping[str, str] | None = None,
    package_dir: Path | None = None,
) -> Path:
    """The workbook folder (holding ``parameters/`` and ``notebooks/``); never just the cwd.

    Found, in order, from ``$SREWORKBOOK_HOME`` (in ``environ``); from the environment file
    ``env`` when it is given as a path (the workbook around the file); at or above ``start``
    (default: the cwd, which in JupyterLab is the notebook's folder); and last from where the
    package was installed from (``package_dir``, default this package's folder: an editable
    install in a workbook checkout). Every relative
    path in an environment (outputs, logs, backups, incidents) resolves against it, so a
    notebook run in JupyterLab, by papermill or from another folder finds the same history.
    """
    home = (environ or {}).get(HOME_VARIABLE, "")
    if home:
        folder = Path(home).expanduser().resolve()
        if not (folder / "parameters").is_dir():
            raise ParameterError(
                f"{HOME_VARIABLE}={home} holds no parameters/ folder", key=HOME_VARIABLE
            )
        return folder
    here = (start or Path.cwd()).resolve()
    starts = [here, (package_dir or Path(__file__).parent).resolve()]
    if env and (env.endswith((".yaml", ".yml")) or "/" in env):
        file = Path(env).expanduser()
        starts.insert(0, (file if file.is_absolute() else here / file).resolve().parent)
    for begin in starts:
        found = _workbook_at_or_above(begin)
        if found is not None:
            return found
    raise ParameterError(
        f"no workbook here: no folder holding parameters/ and notebooks/ at or above {here}; "
        f"set {HOME_VARIABLE} to the workbook folder"
    )


def _workbook_at_or_above(here: Path) -> Path | None:
    for folder in (here, *here.parents):
        if (folder / "parameters").is_dir() and (folder / "notebooks").is_dir():
            return folder
    return None
