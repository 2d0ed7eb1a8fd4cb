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


def test_event_handling_time_and_failures_per_handler(container_factory, health_config):
    import time
    import uuid

    from common.events import make_event
    from services.registration.service import RegistrationService
    from tests.helpers import publish_event

    # A long back-off: the handler's own time must not include it.
    config = {**health_config, "EVENT_RETRY_BASE_SECONDS": 3.0}
    container_factory(with_health(RegistrationService), config).start()
    port = int(config["HEALTH_PORT"])
    labels = {"service": "registration", "handler": "handle_contact_accepted"}

    def scrape() -> str:
        return get(port, "/metrics").text

    before = scrape()
    good = make_event("contact_accepted", {"contact_id": str(uuid.uuid4()),
                                           "requester_registration_id": str(uuid.uuid4()),
                                           "recipient_registration_id": str(uuid.uuid4())})
    bad = make_event("contact_accepted", {"contact_id": str(uuid.uuid4())})  # ids missing
    publish_event(config, "matching", good)
    publish_event(config, "matching", bad)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        after = scrape()
        failures = (sample(after, "cxc_event_failures_total", **labels) or 0) - (
            sample(before, "cxc_event_failures_total", **labels) or 0)
        handled = (sample(after, "cxc_event_handling_seconds_count", **labels) or 0) - (
            sample(before, "cxc_event_handling_seconds_count", **labels) or 0)
        if failures >= 1 and handled >= 2:
            break
        time.sleep(0.2)
    assert failures == 1 and handled == 2
    spent = (sample(after, "cxc_event_handling_seconds_sum", **labels) or 0) - (
        sample(before, "cxc_event_handling_seconds_sum", **labels) or 0)
    assert spent < 2.5  # two handler runs, without the 3 s back-off of the failed one
