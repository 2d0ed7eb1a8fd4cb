"""Operations: health, metrics, the OpenAPI document and the interactive docs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import swagger_ui_bundle
from kombu import Connection
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from werkzeug.wrappers import Request, Response

from common.config import SERVICES
from common.errors import AppError, NotFound
from common.events import consuming_services
from common.metrics import PARKED
from common.parking import parked_count
from gateway.http import api, json_response
from gateway.openapi import openapi_document
from gateway.routes.base import V1, Routes

STATIC = Path(__file__).resolve().parent.parent / "static"
SWAGGER_FILES = {"swagger-ui.css", "swagger-ui-bundle.js", "swagger-ui-standalone-preset.js",
                 "favicon-32x32.png", "favicon-16x16.png"}


class OpsRoutes(Routes):
    @api("GET", "/health", "Health of the broker and every service", auth=False, tags=["ops"],
         rpc=False, same_body=(503,))
    def health(self, request: Request) -> Response:
        report: dict[str, Any] = {"broker": "ok", "services": {}, "parked": {}}
        try:
            report["parked"] = self._parked()
        except Exception as exc:
            report["broker"] = f"unreachable: {exc.__class__.__name__}"
        for service in SERVICES:
            try:
                self.rpc.call(service, "health", timeout=2, confirm=True)
                report["services"][service] = "ok"
            except AppError as exc:
                report["services"][service] = exc.detail
            except Exception as exc:
                report["services"][service] = f"error: {exc.__class__.__name__}"
        healthy = report["broker"] == "ok" and all(v == "ok" for v in report["services"].values())
        # Parked events need an operator but do not stop the system serving: "degraded"
        # with 200, so a load balancer keeps sending traffic.
        parked = any(report["parked"].values())
        report["status"] = "ok" if healthy and not parked else "degraded"
        return json_response(report, 200 if healthy else 503)

    @api("GET", "/metrics", "Prometheus metrics", auth=False, tags=["ops"],
         content="text/plain", rpc=False)
    def metrics(self, request: Request) -> Response:
        try:
            self._parked()
        except Exception:
            PARKED.clear()  # unknown rather than stale
        return Response(generate_latest(), mimetype=CONTENT_TYPE_LATEST)

    def _parked(self) -> dict[str, int]:
        """Parked events per consuming service, by passive queue declares (one connection)."""
        with Connection(self.config["AMQP_URI"], connect_timeout=2) as conn:
            conn.ensure_connection(max_retries=1)
            counts = {service: parked_count(conn, service) or 0
                      for service in consuming_services()}
        for service, count in counts.items():
            PARKED.labels(service=service).set(count)
        return counts

    @api("GET", f"{V1}/openapi.json", "This API's OpenAPI 3 document", auth=False, tags=["ops"],
         rpc=False)
    def openapi(self, request: Request) -> Response:
        return json_response(openapi_document())

    @api("GET", "/api/docs", "Interactive API documentation", auth=False, hidden=True)
    def docs(self, request: Request) -> Response:
        return Response((STATIC / "docs.html").read_bytes(), mimetype="text/html")

    @api("GET", "/api/docs/<string:filename>", "Documentation assets", auth=False, hidden=True)
    def docs_asset(self, request: Request, filename: str) -> Response:
        if filename == "init.js":
            path = STATIC / filename
        elif filename in SWAGGER_FILES:
            path = Path(swagger_ui_bundle.swagger_ui_path) / filename
        else:
            raise NotFound("No such file.")
        mimetype = {"css": "text/css", "js": "application/javascript", "png": "image/png"}[
            filename.rsplit(".", 1)[1]]
        return Response(path.read_bytes(), mimetype=mimetype,
                        headers={"Cache-Control": "public, max-age=86400"})
