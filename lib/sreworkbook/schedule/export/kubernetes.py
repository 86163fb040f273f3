"""Kubernetes: a ConfigMap of the parameter files and a ``batch/v1`` CronJob per job.

Each CronJob runs ``sreworkbook schedule run JOB`` in the workbook's image (``--image``, else
``$SREWORKBOOK_IMAGE``, else ``image:`` in ``schedule.yaml``): ``concurrencyPolicy: Forbid``
(no overlap), ``startingDeadlineSeconds`` (a start missed by more is skipped — and
``schedule check`` notices), history limits, ``activeDeadlineSeconds`` from the job's timeout
(its worst case: every attempt timing out plus the backoffs), ``timeZone: Etc/UTC``, the
job's requests and limits, a non-root, read-only container.

Parameters come from the ConfigMap, mounted over ``WORKDIR/parameters``. Secrets come from one
Secret as environment variables: every variable the job's parameter file refers to by
``secretKeyRef`` (a missing key stops the pod before it starts) and the rest by ``envFrom``.
A parameter file holding a literal secret is refused, so none reaches the ConfigMap. Outputs
go to a PersistentVolumeClaim at ``WORKDIR/outputs``; the path is the env var
``SREWORKBOOK_OUTPUTS`` so that an object-store root can replace it without editing the command.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from sreworkbook.exceptions import ParameterError
from sreworkbook.schedule.export.common import (
    ExportOptions,
    ResponderService,
    portable_cron,
    respond_argv,
    run_job_argv,
)
from sreworkbook.schedule.export.k8s_secrets import literal_secrets
from sreworkbook.schedule.model import Job, Resources, Schedule

__all__ = [
    "configmap_manifest",
    "cronjob_manifest",
    "image_of",
    "responder_manifests",
    "write_kubernetes",
]

STARTING_DEADLINE_S = 300
#: The image's user (Containerfile): runs as this uid, owns the outputs volume via fsGroup.
UID = 10001
HOME = "/home/sreworkbook"
#: A ConfigMap holds at most 1 MiB.
CONFIGMAP_LIMIT = 1 << 20


def image_of(schedule: Schedule, options: ExportOptions) -> str:
    """The image to run: the option (``--image`` or ``$SREWORKBOOK_IMAGE``), else the schedule's."""
    image = options.image or schedule.image
    if not image:
        raise ParameterError(
            "no container image: set `image:` in schedule.yaml, $SREWORKBOOK_IMAGE or --image",
            key="image",
        )
    return image


def _labels(component: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": "sreworkbook", "app.kubernetes.io/component": component}


def _resources(resources: Resources) -> dict[str, Any]:
    limits = {"memory": resources.memory_limit}
    if resources.cpu_limit is not None:
        limits["cpu"] = resources.cpu_limit
    return {"requests": {"cpu": resources.cpu, "memory": resources.memory}, "limits": limits}


def configmap_manifest(options: ExportOptions) -> dict[str, Any]:
    """The ConfigMap holding every parameter file; a literal secret in one is refused."""
    data: dict[str, str] = {}
    for name, text in sorted(options.parameter_files.items()):
        found = literal_secrets(text, source=name)
        if found:
            raise ParameterError(
                f"holds a literal secret at {', '.join(found)}: refer to an environment "
                "variable (${NAME}) held in the Secret instead; it is not put in a ConfigMap",
                source=name,
            )
        data[name] = text
    size = sum(len(k) + len(v.encode()) for k, v in data.items())
    if size > CONFIGMAP_LIMIT:
        raise ParameterError(
            f"the parameter files take {size:,} bytes, more than a ConfigMap holds (1 MiB)",
            key="parameters",
        )
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": options.configmap, "labels": _labels("parameters")},
        "data": data,
    }


def _container(job: Job, schedule: Schedule, options: ExportOptions) -> dict[str, Any]:
    return _base_container(
        schedule, options, run_job_argv(options, job, outputs="$(SREWORKBOOK_OUTPUTS)"),
        options.secret_refs.get(job.name, ()), schedule.resources_of(job),
    )  # fmt: skip


def _base_container(
    schedule: Schedule,
    options: ExportOptions,
    command: list[str],
    refs: tuple[str, ...],
    resources: Resources,
) -> dict[str, Any]:
    env: list[dict[str, Any]] = [
        {"name": "SREWORKBOOK_OUTPUTS", "value": options.outputs_dir},
        {"name": "HOME", "value": HOME},
    ]
    env += [
        {"name": var, "valueFrom": {"secretKeyRef": {"name": options.secret, "key": var}}}
        for var in refs
    ]
    return {
        "name": "sreworkbook",
        "image": image_of(schedule, options),
        "command": command,
        "workingDir": options.workdir,
        "env": env,
        "envFrom": [{"secretRef": {"name": options.secret, "optional": True}}],
        "volumeMounts": [
            {"name": "outputs", "mountPath": options.outputs_dir},
            {"name": "parameters", "mountPath": f"{options.workdir}/parameters", "readOnly": True},
            {"name": "tmp", "mountPath": "/tmp"},
            {"name": "home", "mountPath": HOME},
        ],
        "resources": _resources(resources),
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
    }


def _pod_security() -> dict[str, Any]:
    return {
        "runAsNonRoot": True,
        "runAsUser": UID,
        "runAsGroup": UID,
        "fsGroup": UID,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def _volumes(options: ExportOptions) -> list[dict[str, Any]]:
    return [
        {"name": "outputs", "persistentVolumeClaim": {"claimName": options.pvc}},
        {"name": "parameters", "configMap": {"name": options.configmap}},
        {"name": "tmp", "emptyDir": {}},
        {"name": "home", "emptyDir": {}},
    ]


def responder_manifests(
    service: ResponderService, options: ExportOptions, schedule: Schedule
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A Deployment running ``respond serve`` (one replica: one journal, on the outputs
    volume) and the Service Alertmanager posts to (``http://sreworkbook-responder:PORT``)."""
    labels = _labels("responder")
    container = _base_container(
        schedule, options,
        respond_argv(options, service, host="0.0.0.0", outputs="$(SREWORKBOOK_OUTPUTS)"),
        service.secret_refs, schedule.resources,
    )  # fmt: skip
    probe = {"httpGet": {"path": "/healthz", "port": "http"}, "periodSeconds": 10}
    container.update(
        {
            "ports": [{"name": "http", "containerPort": service.port, "protocol": "TCP"}],
            "readinessProbe": {**probe, "initialDelaySeconds": 5},
            "livenessProbe": {**probe, "initialDelaySeconds": 30, "failureThreshold": 6},
        }
    )
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "sreworkbook-responder", "labels": dict(labels)},
        "spec": {
            "replicas": 1,
            "strategy": {"type": "Recreate"},  # never two writers of one journal
            "selector": {"matchLabels": dict(labels)},
            "template": {
                "metadata": {"labels": dict(labels)},
                "spec": {
                    "securityContext": _pod_security(),
                    "containers": [container],
                    "volumes": _volumes(options),
                },
            },
        },
    }
    svc = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "sreworkbook-responder", "labels": dict(labels)},
        "spec": {
            "selector": dict(labels),
            "ports": [{"name": "http", "port": service.port, "targetPort": "http"}],
        },
    }
    return deployment, svc


def cronjob_manifest(
    job: Job, options: ExportOptions, schedule: Schedule | None = None
) -> tuple[dict[str, Any], str | None]:
    """The CronJob for ``job`` and a note when its schedule could not be said exactly."""
    schedule = schedule or Schedule(jobs=[job])
    cron, note = portable_cron(job.expr)
    labels = _labels(job.name)
    pod = {
        "restartPolicy": "Never",
        "securityContext": _pod_security(),
        "containers": [_container(job, schedule, options)],
        "volumes": _volumes(options),
    }
    manifest = {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": f"sreworkbook-{job.name}", "labels": dict(labels)},
        "spec": {
            "schedule": cron,
            "timeZone": "Etc/UTC",
            "concurrencyPolicy": "Forbid",
            "startingDeadlineSeconds": STARTING_DEADLINE_S,
            "successfulJobsHistoryLimit": 3,
            "failedJobsHistoryLimit": 5,
            "jobTemplate": {
                "metadata": {"labels": dict(labels)},
                "spec": {
                    # Retries of transient failures happen inside `schedule run`; a pod that
                    # fails for any other reason is not started again.
                    "backoffLimit": 0,
                    "activeDeadlineSeconds": int(job.worst_case_s()) + 120,
                    "template": {"metadata": {"labels": dict(labels)}, "spec": pod},
                },
            },
        },
    }
    return manifest, note


class _Dumper(yaml.SafeDumper):
    """Multi-line strings (the ConfigMap's files) as ``|`` blocks, readable in a review."""


def _text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _text)


def _dump(header: list[str], manifest: Mapping[str, Any]) -> str:
    body = yaml.dump(
        dict(manifest), Dumper=_Dumper, sort_keys=False, default_flow_style=False,
        allow_unicode=True, width=100,
    )  # fmt: skip
    return "\n".join(header) + "\n" + body


def write_kubernetes(schedule: Schedule, out: Path, options: ExportOptions) -> list[Path]:
    """Write ``configmap-parameters.yaml`` and ``cronjob-JOB.yaml`` for every job into ``out``."""
    configmap = configmap_manifest(options)
    manifests: list[tuple[Path, str]] = []
    source = f"# Generated by `sreworkbook schedule export --format k8s` from {options.source}."
    manifests.append(
        (
            out / "configmap-parameters.yaml",
            _dump(
                [
                    source,
                    "# The parameter files, mounted read-only over the image's parameters/.",
                    "# They hold ${NAME} references only; the values live in the Secret "
                    f"{options.secret}.",
                ],
                configmap,
            ),
        )
    )
    for job in schedule.jobs:
        manifest, note = cronjob_manifest(job, options, schedule)
        refs = options.secret_refs.get(job.name, ())
        header = [
            source,
            f"# Job {job.name}: {job.notebook} on {job.env}, cron {job.cron!r} (UTC).",
        ]
        if refs:
            header.append(
                f"# Needs the Secret {options.secret} with: {', '.join(refs)} "
                f"(kubectl create secret generic {options.secret} --from-literal=NAME=...)."
            )
        if note:
            header.append(f"# NOTE: {note}")
        manifests.append((out / f"cronjob-{job.name}.yaml", _dump(header, manifest)))
    if options.responder is not None:
        deployment, svc = responder_manifests(options.responder, options, schedule)
        header = [
            source,
            f"# The alert responder for {options.responder.env}: point Alertmanager's "
            "webhook_configs at",
            f"# http://sreworkbook-responder:{options.responder.port}/webhook (responder.url; "
            "`sreworkbook alerts export`).",
        ]
        manifests.append((out / "deployment-responder.yaml", _dump(header, deployment)))
        manifests.append((out / "service-responder.yaml", _dump(header, svc)))
    for path, text in manifests:
        path.write_text(text, encoding="utf-8")
    return [path for path, _ in manifests]
