"""Writes deploy/k8s/processes.yaml: a Deployment, a Service and a PodDisruptionBudget per
process (each service and the gateway), HorizontalPodAutoscalers for the gateway and matching,
and the migration Job, all from the table below.

    python deploy/k8s/render.py          # after changing PROCESSES; a test checks it is current

Adding a service is one entry in PROCESSES (and its database Secret, docs/operations.md).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
OUTPUT = HERE / "processes.yaml"
IMAGE = "clusterxchange"  # the tag is set in kustomization.yaml (images:)
HEALTH_PORT = 9000
UID = 10001
PART_OF = "clusterxchange"


@dataclass(frozen=True)
class Process:
    name: str
    database: bool = True  # gets its own DATABASE_URL_<NAME> from Secret cxc-db-<name>
    storage: bool = False  # S3 credentials (documents)
    iban_keys: bool = False
    sealing: bool = False  # the document-sealing key and certificate
    signs_tokens: bool = False  # the token private keys (registration only)
    replicas: int = 2
    cpu: tuple[str, str] = ("100m", "1")  # request, limit
    memory: tuple[str, str] = ("256Mi", "512Mi")
    autoscale: tuple[int, int] | None = None  # min, max replicas
    http: bool = False  # the gateway's public port
    env: dict[str, str] = field(default_factory=dict)
    # (variable, Secret, key): secrets only this process reads
    secrets: tuple[tuple[str, str, str], ...] = ()


PROCESSES = (
    Process("registration", storage=True, signs_tokens=True, secrets=(
        ("ACCOUNT_TOKEN_SECRET", "cxc-account-links", "secret"),
        ("SERVICE_SECRET_NOTIFICATIONS", "cxc-service-notifications", "secret"))),
    # Each matching process holds the whole catalogue in memory.
    Process("matching", memory=("512Mi", "1Gi"), autoscale=(2, 6)),
    Process("agreements", storage=True, iban_keys=True, sealing=True, memory=("384Mi", "768Mi")),
    Process("payments", storage=True, iban_keys=True, memory=("384Mi", "768Mi")),
    # Support-desk screenshots are documents; email goes out through SMTP.
    Process("notifications", storage=True, env={"EMAIL_TRANSPORT": "smtp"}, secrets=(
        ("SERVICE_SECRET_NOTIFICATIONS", "cxc-service-notifications", "secret"),
        ("WEBHOOKS_SECRET_KEYS", "cxc-webhook-keys", "keys"),
        ("SMTP_USERNAME", "cxc-smtp", "username"),
        ("SMTP_PASSWORD", "cxc-smtp", "password"))),
    Process("gateway", database=False, storage=True, http=True, autoscale=(2, 10),
            cpu=("200m", "1")),
)


def labels(component: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": f"cxc-{component}", "app.kubernetes.io/part-of": PART_OF,
            "app.kubernetes.io/component": component}


def secret_env(name: str, secret: str, key: str) -> dict[str, Any]:
    return {"name": name, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}


def environment(process: Process, migrate: bool = False) -> list[dict[str, Any]]:
    env = [secret_env("AMQP_URI", "cxc-broker", "uri")]
    databases = [p.name for p in PROCESSES if p.database] if migrate else (
        [process.name] if process.database else [])
    env += [secret_env(f"DATABASE_URL_{name.upper()}", f"cxc-db-{name}", "url") for name in databases]
    if process.storage or migrate:
        env += [secret_env("S3_ACCESS_KEY", "cxc-storage", "access-key"),
                secret_env("S3_SECRET_KEY", "cxc-storage", "secret-key")]
    if process.iban_keys or migrate:
        env.append(secret_env("AGREEMENTS_IBAN_KEYS", "cxc-iban-keys", "keys"))
    env.append({"name": "JWT_KEYS_DIR",
                "value": "/etc/cxc/jwt-private" if process.signs_tokens else "/etc/cxc/jwt-public"})
    if process.sealing or migrate:
        env.append({"name": "DOCUMENT_SEALING_DIR", "value": "/etc/cxc/sealing"})
    env += [secret_env(name, secret, key) for name, secret, key in process.secrets]
    env += [{"name": key, "value": value} for key, value in sorted(process.env.items())]
    return env


def volumes(process: Process, migrate: bool = False) -> tuple[list[dict], list[dict]]:
    mounts = [{"name": "tmp", "mountPath": "/tmp"}]  # noqa: S108 - the pod's own emptyDir
    vols: list[dict[str, Any]] = [{"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}}]
    jwt = "cxc-jwt-private" if process.signs_tokens else "cxc-jwt-public"
    mounts.append({"name": "jwt", "mountPath": f"/etc/cxc/{jwt.removeprefix('cxc-')}",
                   "readOnly": True})
    vols.append({"name": "jwt", "secret": {"secretName": jwt, "defaultMode": 0o440}})
    if process.sealing or migrate:
        mounts.append({"name": "sealing", "mountPath": "/etc/cxc/sealing", "readOnly": True})
        vols.append({"name": "sealing", "secret": {"secretName": "cxc-sealing",
                                                   "defaultMode": 0o440}})
    return mounts, vols


def pod_security() -> dict[str, Any]:
    return {"runAsNonRoot": True, "runAsUser": UID, "runAsGroup": UID, "fsGroup": UID,
            "seccompProfile": {"type": "RuntimeDefault"}}


def container_security() -> dict[str, Any]:
    return {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
            "runAsNonRoot": True, "capabilities": {"drop": ["ALL"]}}


def resources(process: Process) -> dict[str, Any]:
    return {"requests": {"cpu": process.cpu[0], "memory": process.memory[0]},
            "limits": {"cpu": process.cpu[1], "memory": process.memory[1]}}


def probe(path: str, period: int, failures: int) -> dict[str, Any]:
    return {"httpGet": {"path": path, "port": "health"}, "periodSeconds": period,
            "timeoutSeconds": 3, "failureThreshold": failures}


def deployment(process: Process) -> dict[str, Any]:
    mounts, vols = volumes(process)
    ports = [{"name": "health", "containerPort": HEALTH_PORT}]
    if process.http:
        ports.insert(0, {"name": "http", "containerPort": 8000})
    container = {
        "name": process.name,
        "image": IMAGE,
        "command": ["python", "-m", "cli.serve", process.name],
        "ports": ports,
        "envFrom": [{"configMapRef": {"name": "cxc-config"}}],
        "env": environment(process),
        # Live: the process serves its event loop. Ready: database, broker and the
        # service's own checks (common.health). Startup gives the first load time.
        "startupProbe": probe("/livez", 2, 60),
        "livenessProbe": probe("/livez", 10, 3),
        "readinessProbe": probe("/readyz", 5, 2),
        "resources": resources(process),
        "securityContext": container_security(),
        "volumeMounts": mounts,
    }
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": f"cxc-{process.name}", "labels": labels(process.name)},
        "spec": {
            "replicas": process.replicas,
            "selector": {"matchLabels": labels(process.name)},
            "strategy": {"type": "RollingUpdate",
                         "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
            "template": {
                "metadata": {"labels": labels(process.name),
                             "annotations": {"prometheus.io/scrape": "true",
                                             "prometheus.io/port": str(HEALTH_PORT),
                                             "prometheus.io/path": "/metrics"}},
                "spec": {
                    "automountServiceAccountToken": False,
                    "securityContext": pod_security(),
                    # nameko finishes the workers in flight after SIGTERM
                    "terminationGracePeriodSeconds": 30,
                    "containers": [container],
                    "volumes": vols,
                },
            },
        },
    }


def service(process: Process) -> dict[str, Any]:
    ports = [{"name": "health", "port": HEALTH_PORT, "targetPort": "health"}]
    if process.http:
        ports.insert(0, {"name": "http", "port": 80, "targetPort": "http"})
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": f"cxc-{process.name}", "labels": labels(process.name)},
            "spec": {"selector": labels(process.name), "ports": ports}}


def disruption_budget(process: Process) -> dict[str, Any]:
    return {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
            "metadata": {"name": f"cxc-{process.name}", "labels": labels(process.name)},
            "spec": {"minAvailable": 1, "selector": {"matchLabels": labels(process.name)}}}


def autoscaler(process: Process) -> dict[str, Any]:
    low, high = process.autoscale or (process.replicas, process.replicas)
    return {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": f"cxc-{process.name}", "labels": labels(process.name)},
            "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment",
                                        "name": f"cxc-{process.name}"},
                     "minReplicas": low, "maxReplicas": high,
                     "metrics": [{"type": "Resource", "resource": {
                         "name": "cpu", "target": {"type": "Utilization",
                                                   "averageUtilization": 70}}}]}}


def migration_job() -> dict[str, Any]:
    job = Process("migrate", storage=True, iban_keys=True, sealing=True,
                  memory=("256Mi", "512Mi"))
    mounts, vols = volumes(job, migrate=True)
    return {
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": "cxc-migrate", "labels": labels("migrate")},
        "spec": {
            "backoffLimit": 4,
            "ttlSecondsAfterFinished": 86400,
            "template": {
                "metadata": {"labels": labels("migrate")},
                "spec": {
                    "restartPolicy": "OnFailure",
                    "automountServiceAccountToken": False,
                    "securityContext": pod_security(),
                    "containers": [{
                        "name": "migrate",
                        "image": IMAGE,
                        "command": ["sh", "-c", "cxc migrate && cxc seed"],
                        "envFrom": [{"configMapRef": {"name": "cxc-config"}}],
                        "env": environment(job, migrate=True),
                        "resources": resources(job),
                        "securityContext": container_security(),
                        "volumeMounts": mounts,
                    }],
                    "volumes": vols,
                },
            },
        },
    }


def documents() -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = [migration_job()]
    for process in PROCESSES:
        docs += [deployment(process), service(process), disruption_budget(process)]
        if process.autoscale:
            docs.append(autoscaler(process))
    return docs


def render() -> str:
    header = ("# Generated by deploy/k8s/render.py from its PROCESSES table: edit that, then run\n"
              "# `python deploy/k8s/render.py` (a test fails when this file is out of date).\n")
    return header + yaml.safe_dump_all(documents(), sort_keys=False, width=100)


if __name__ == "__main__":
    OUTPUT.write_text(render())
    print(f"wrote {OUTPUT.relative_to(Path.cwd()) if OUTPUT.is_relative_to(Path.cwd()) else OUTPUT}",
          file=sys.stderr)
