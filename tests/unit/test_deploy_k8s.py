"""deploy/k8s: every manifest valid against the Kubernetes schemas (offline, strict), each
Deployment with probes, requests and limits and an unprivileged security context, and each
process reaching only its own secrets."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from common.config import SERVICES

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
KUBERNETES = "1.30.0"  # the oldest version we support; newer ones accept these manifests too
APPS = sorted({*SERVICES, "notifications"})


def kustomized() -> list[dict[str, Any]]:
    """What `kubectl apply -k` would apply: kustomize's output where kubectl exists, else the
    listed resources with the kustomization's namespace and image applied here."""
    if shutil.which("kubectl"):
        out = subprocess.run(["kubectl", "kustomize", str(K8S)], capture_output=True, text=True,
                             check=True).stdout
        return [doc for doc in yaml.safe_load_all(out) if doc]
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    docs = [doc for name in kustomization["resources"]
            for doc in yaml.safe_load_all((K8S / name).read_text()) if doc]
    for doc in docs:
        if doc["kind"] != "Namespace":
            doc["metadata"]["namespace"] = kustomization["namespace"]
    return docs


@pytest.fixture(scope="module")
def manifests() -> list[dict[str, Any]]:
    return kustomized()


def of_kind(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for doc in docs if doc["kind"] == kind}


def pod_spec(workload: dict[str, Any]) -> dict[str, Any]:
    return workload["spec"]["template"]["spec"]


def secret_refs(workload: dict[str, Any]) -> set[str]:
    spec = pod_spec(workload)
    refs = {env["valueFrom"]["secretKeyRef"]["name"] for container in spec["containers"]
            for env in container.get("env", []) if "secretKeyRef" in env.get("valueFrom", {})}
    refs |= {volume["secret"]["secretName"] for volume in spec.get("volumes", []) if "secret" in volume}
    return refs


def test_the_generated_file_is_current():
    import importlib.util

    spec = importlib.util.spec_from_file_location("k8s_render", K8S / "render.py")
    render = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = render  # dataclasses look their module up
    spec.loader.exec_module(render)
    assert (K8S / "processes.yaml").read_text() == render.render(), \
        "run `python deploy/k8s/render.py`"


def test_every_manifest_is_valid_against_the_kubernetes_schemas(manifests):
    examples = [doc for doc in yaml.safe_load_all((K8S / "secrets.example.yaml").read_text()) if doc]
    custom = []
    for doc in [*manifests, *examples]:
        group = doc["apiVersion"].rpartition("/")[0]
        if "." in group and not group.endswith(".k8s.io"):
            custom.append(doc)  # a custom resource: no schema in Kubernetes itself
            continue
        kubernetes_validate.validate(doc, KUBERNETES, strict=True)
    assert [doc["kind"] for doc in custom] == ["RabbitmqCluster"]


def test_an_invalid_manifest_is_caught():
    broken = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "x"},
              "spec": {"replicas": "two", "selector": {}, "template": {}}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES, strict=True)


def test_rabbitmq_is_a_clustered_operator_resource(manifests):
    cluster = of_kind(manifests, "RabbitmqCluster")["cxc-rabbitmq"]
    assert cluster["apiVersion"] == "rabbitmq.com/v1beta1"
    assert cluster["spec"]["replicas"] >= 3 and cluster["spec"]["replicas"] % 2 == 1


def test_a_deployment_service_and_budget_per_process(manifests):
    deployments, services = of_kind(manifests, "Deployment"), of_kind(manifests, "Service")
    budgets = of_kind(manifests, "PodDisruptionBudget")
    for name in [*APPS, "gateway"]:
        deployment = deployments[f"cxc-{name}"]
        selector = deployment["spec"]["selector"]["matchLabels"]
        assert pod_spec(deployment)["containers"][0]["command"][-1] == name
        assert services[f"cxc-{name}"]["spec"]["selector"] == selector
        assert budgets[f"cxc-{name}"]["spec"]["selector"]["matchLabels"] == selector
    assert {port["name"] for port in services["cxc-gateway"]["spec"]["ports"]} == {"http", "health"}


def test_the_gateway_and_matching_scale_on_load(manifests):
    deployments = of_kind(manifests, "Deployment")
    scalers = of_kind(manifests, "HorizontalPodAutoscaler")
    assert set(scalers) == {"cxc-gateway", "cxc-matching"}
    for scaler in scalers.values():
        assert scaler["spec"]["scaleTargetRef"]["name"] in deployments
        assert scaler["spec"]["minReplicas"] >= 2


def test_every_deployment_has_probes_resources_and_runs_unprivileged(manifests):
    workloads = [*of_kind(manifests, "Deployment").values(), *of_kind(manifests, "Job").values()]
    assert len(workloads) == len(APPS) + 2
    for workload in workloads:
        spec = pod_spec(workload)
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert spec["securityContext"]["runAsUser"] > 0
        assert spec["automountServiceAccountToken"] is False
        for container in spec["containers"]:
            where = f"{workload['metadata']['name']}/{container['name']}"
            for kind in ("requests", "limits"):
                assert set(container["resources"][kind]) == {"cpu", "memory"}, where
            security = container["securityContext"]
            assert security["allowPrivilegeEscalation"] is False, where
            assert security["readOnlyRootFilesystem"] is True, where
            assert security["capabilities"]["drop"] == ["ALL"], where
            if workload["kind"] == "Deployment":
                assert container["livenessProbe"]["httpGet"]["path"] == "/livez", where
                assert container["readinessProbe"]["httpGet"]["path"] == "/readyz", where
                ports = {port["name"]: port["containerPort"] for port in container["ports"]}
                assert container["livenessProbe"]["httpGet"]["port"] in ports, where
                health = {env.get("value") for env in container.get("env", [])
                          if env["name"] == "HEALTH_PORT"}
                config = of_kind(manifests, "ConfigMap")["cxc-config"]["data"]
                assert int((health - {None} or {config["HEALTH_PORT"]}).pop()) == ports["health"]


def test_each_process_reaches_only_its_own_secrets(manifests):
    deployments = of_kind(manifests, "Deployment")
    for name in [*APPS, "gateway"]:
        refs = secret_refs(deployments[f"cxc-{name}"])
        assert {ref for ref in refs if ref.startswith("cxc-db-")} == (
            {f"cxc-db-{name}"} if name != "gateway" else set()), name
        assert ("cxc-jwt-private" in refs) == (name == "registration"), name
        assert ("cxc-sealing" in refs) == (name == "agreements"), name
        assert ("cxc-iban-keys" in refs) == (name in ("agreements", "payments")), name
    job = of_kind(manifests, "Job")["cxc-migrate"]
    assert {f"cxc-db-{name}" for name in APPS} <= secret_refs(job)


def test_every_secret_read_is_in_the_example(manifests):
    examples = {doc["metadata"]["name"]: doc for doc in
                yaml.safe_load_all((K8S / "secrets.example.yaml").read_text()) if doc}
    workloads = [*of_kind(manifests, "Deployment").values(), *of_kind(manifests, "Job").values()]
    for workload in workloads:
        for container in pod_spec(workload)["containers"]:
            for env in container.get("env", []):
                ref = env.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    assert ref["key"] in examples[ref["name"]]["stringData"], ref
        for volume in pod_spec(workload).get("volumes", []):
            if "secret" in volume:
                assert volume["secret"]["secretName"] in examples
    assert not of_kind(manifests, "Secret"), "secrets are created outside the kustomization"
