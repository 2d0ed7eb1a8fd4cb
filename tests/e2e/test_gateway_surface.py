"""What the gateway itself offers: OpenAPI, docs, health, metrics, problems for unknown routes."""

from __future__ import annotations

import http.client
import re
from urllib.parse import urlsplit

import pytest
from openapi_spec_validator import validate

from common.config import SERVICES
from common.events import consuming_services
from gateway.http import ROUTES

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("notifications_container")]


def test_openapi_document_validates_and_lists_every_endpoint(api):
    document = api.get("/api/v1/openapi.json").json()
    validate(document)
    documented = {(method.upper(), path) for path, ops in document["paths"].items() for method in ops}
    routed = {(r.method, re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", r.path))
              for r in ROUTES if not r.hidden}
    assert documented == routed
    assert ("POST", "/api/v1/registrations/{registration_id}/assessment") in documented
    create = document["paths"]["/api/v1/registrations"]["post"]
    schema_ref = create["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert schema_ref.endswith("CreateRegistration")


def test_docs_are_served_locally(api):
    page = api.get("/api/docs")
    assert page.status_code == 200 and "swagger-ui-bundle.js" in page.text
    assert "http" not in page.text.split("<body>")[1].replace("/api/docs", "")
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css", "init.js"):
        assert api.get(f"/api/docs/{asset}").status_code == 200


def _raw_get(base: str, path: str) -> tuple[int, bytes]:
    """GET with the path sent byte for byte (requests would resolve the dots first)."""
    url = urlsplit(base)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    try:
        conn.putrequest("GET", path, skip_host=False, skip_accept_encoding=True)
        conn.endheaders()
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


@pytest.mark.parametrize("path", [
    "/api/docs/../service.py", "/api/docs/../../gateway/service.py", "/api/docs/..%2fservice.py",
    "/api/docs/%2e%2e%2fservice.py", "/api/docs/..%5cservice.py", "/api/docs/init.js%00.png",
])
def test_docs_assets_cannot_reach_other_files(api, path):
    status, body = _raw_get(api.base, path)
    assert status == 404
    assert b"GatewayService" not in body and b"import" not in body


def test_health_reports_broker_and_services(api):
    health = api.get("/health")
    assert health.status_code == 200
    assert health.json() == {"broker": "ok", "status": "ok",
                             "services": {name: "ok" for name in SERVICES},
                             "parked": {name: 0 for name in consuming_services()}}


def test_parked_events_show_in_health_and_metrics_without_failing_readiness(api, rabbit_config):
    from kombu import Connection

    from common.events import parking_exchange
    from common.parking import declare_parking

    with Connection(rabbit_config["AMQP_URI"],
                    transport_options={"confirm_publish": True}) as conn:
        declare_parking(conn, "matching")
        conn.Producer().publish({"event_id": "e1"}, exchange=parking_exchange("matching"),
                                routing_key="", serializer="json")
    health = api.get("/health")
    assert health.status_code == 200
    assert health.json()["status"] == "degraded"
    assert health.json()["parked"] == {**{name: 0 for name in consuming_services()}, "matching": 1}
    assert 'cxc_parked_events{service="matching"} 1.0' in api.get("/metrics").text


def test_metrics_count_requests(api):
    api.get("/api/v1/partnerships")
    for invented in ("BREW", "XQ7"):
        api.request(invented, "/api/v1/partnerships")
    metrics = api.get("/metrics").text
    assert 'cxc_http_requests_total{method="GET",route="/api/v1/partnerships",status="200"}' in metrics
    # methods nobody knows share one series instead of adding one each
    assert 'cxc_http_requests_total{method="OTHER",route="unmatched",status="405"}' in metrics
    assert "BREW" not in metrics and "XQ7" not in metrics


def test_unknown_route_is_a_problem(api):
    response = api.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.headers["Content-Type"] == "application/problem+json"
    assert api.delete("/api/v1/partnerships").status_code == 405


def test_reference_data_and_partnerships_are_public(api):
    partnerships = api.get("/api/v1/partnerships").json()
    assert {p["code"] for p in partnerships} >= {"GREENMOB", "TEXCIRC"}
    one = api.get(f"/api/v1/partnerships/{partnerships[0]['id']}")
    assert one.json()["id"] == partnerships[0]["id"]
    assert api.get("/api/v1/partnerships/nope").status_code == 404
    ref = api.get("/api/v1/reference").json()
    codes = {c["code"] for c in ref["countries"]}
    assert len(ref["sectors"]) == 14 and {"UA", "PT", "GB"} <= codes


def test_wrong_media_type_gets_415(api):
    response = api.post("/api/v1/accounts", data="email=x", headers={
        "Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 415
