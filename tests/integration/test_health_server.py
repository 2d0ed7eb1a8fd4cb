"""A service process's health port: RPC metrics per method, the outbox gauges, and the hooks
a service's own extensions add to readiness and metrics (what matching's index will use)."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from nameko.extensions import DependencyProvider
from nameko.standalone.rpc import ClusterRpcProxy

from common import metrics
from common.entrypoints import rpc
from common.errors import NotAllowed
from common.health import with_health
from tests.fixtures import free_port


def get(port: int, path: str) -> requests.Response:
    return requests.get(f"http://127.0.0.1:{port}{path}", timeout=10)


def sample(text: str, name: str, **labels: str) -> float | None:
    wanted = ",".join(f'{key}="{value}"' for key, value in sorted(labels.items()))
    for line in text.splitlines():
        metric, _, value = line.rpartition(" ")
        if metric.startswith(name + "{") and ",".join(sorted(metric[len(name) + 1:-1].split(","))) == wanted:
            return float(value)
    return None


class Index(DependencyProvider):
    built = False

    def readiness(self) -> str | None:
        return None if self.built else "the index is not built yet"

    def report_metrics(self) -> None:
        metrics.MATCHING_INDEX_ENTRIES.labels(self.container.service_name).set(42)

    def get_dependency(self, worker_ctx: Any) -> Index:
        return self


class Hooked:
    name = "hooked"
    index = Index()

    @rpc
    def ping(self) -> str:
        return "pong"


@pytest.fixture
def health_config(config: dict[str, Any]) -> dict[str, Any]:
    return {**config, "HEALTH_PORT": str(free_port()), "HEALTH_HOST": "127.0.0.1"}


def test_rpc_calls_and_errors_are_counted_per_method(container_factory, health_config, tokens):
    from services.registration.service import RegistrationService

    container_factory(with_health(RegistrationService), health_config).start()
    port = int(health_config["HEALTH_PORT"])
    before = get(port, "/metrics").text
    participant = tokens.issue("someone", ["participant"], None, None)[0]
    with ClusterRpcProxy(health_config, context_data={"auth_token": participant}) as proxy:
        proxy.registration.list_partnerships()
        with pytest.raises(NotAllowed):
            proxy.registration.list_catalogue_profiles()
    after = get(port, "/metrics").text

    def grew(name: str, **labels: str) -> float:
        return (sample(after, name, **labels) or 0) - (sample(before, name, **labels) or 0)

    assert grew("cxc_rpc_calls_total", service="registration", method="list_partnerships") == 1
    assert grew("cxc_rpc_calls_total", service="registration", method="list_catalogue_profiles") == 1
    assert grew("cxc_rpc_errors_total", service="registration", method="list_catalogue_profiles",
                error="NotAllowed") == 1
    assert grew("cxc_rpc_errors_total", service="registration", method="list_partnerships",
                error="NotAllowed") == 0
    assert sample(after, "cxc_outbox_backlog", service="registration") == 0
    assert sample(after, "cxc_outbox_oldest_unsent_age_seconds", service="registration") == 0
    ready = get(port, "/readyz").json()
    assert ready["checks"] == {"database": "ok", "broker": "ok"}
    assert get(port, "/nope").status_code == 404


def test_a_services_own_readiness_and_metrics_hooks(container_factory, health_config):
    container = container_factory(with_health(Hooked), health_config)
    container.start()
    port = int(health_config["HEALTH_PORT"])
    assert get(port, "/livez").status_code == 200
    waiting = get(port, "/readyz")
    assert waiting.status_code == 503
    assert waiting.json()["checks"]["index"] == "the index is not built yet"
    assert waiting.json()["checks"]["broker"] == "ok"
    index = next(dep for dep in container.dependencies if isinstance(dep, Index))
    index.built = True
    assert get(port, "/readyz").status_code == 200
    assert sample(get(port, "/metrics").text, "cxc_matching_index_entries", service="hooked") == 42
