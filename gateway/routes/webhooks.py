"""Webhooks of a partnership's back-office (contact points and `backoffice` keys) and the
AsyncAPI document of the events (docs/webhooks.md, docs/events.md)."""

from __future__ import annotations

from werkzeug.wrappers import Request, Response

from common.asyncapi import asyncapi_document
from gateway.http import api, json_response
from gateway.requests import json_body, optional_json_body, query_args
from gateway.routes.base import V1, Routes, paged, versioned, with_etag
from services.notifications import webhook_schemas as hooks

WEBHOOKS = f"{V1}/webhooks"
WEBHOOK = f"{WEBHOOKS}/<string:webhook_id>"
_ID = {"webhook_id": "$response.body#/id"}
WEBHOOK_LINKS = {
    "GetWebhook": {"operationId": "get_api_v1_webhooks_by_webhook_id", "parameters": _ID},
    "Deliveries": {"operationId": "get_api_v1_webhooks_by_webhook_id_deliveries", "parameters": _ID},
}
TAGS = ["webhooks"]


class WebhookRoutes(Routes):
    @api("POST", WEBHOOKS, "Register an endpoint of your partnership for the event types it "
         "wants; the answer holds its signing secret, shown only this once",
         tags=TAGS, body=hooks.CreateWebhookSchema, response=hooks.WebhookSchema, status=201,
         errors=(401, 403, 409, 422), location=True, links=WEBHOOK_LINKS)
    def create_webhook(self, request: Request) -> Response:
        created = self._call(request, "notifications", "create_webhook", json_body(request))
        return with_etag(created, 201, {"Location": f"{WEBHOOKS}/{created['id']}"})

    @api("GET", WEBHOOKS, "Your partnership's webhooks", tags=TAGS,
         query=hooks.WebhookListQuerySchema, response=hooks.WebhookSchema, many=True,
         errors=(401, 403, 422))
    def list_webhooks(self, request: Request) -> Response:
        return paged(self._call(request, "notifications", "list_webhooks", query_args(request)), request)

    @api("GET", WEBHOOK, "One of your partnership's webhooks", tags=TAGS,
         response=hooks.WebhookSchema, errors=(401, 403, 404), links=WEBHOOK_LINKS)
    def get_webhook(self, request: Request, webhook_id: str) -> Response:
        return with_etag(self._call(request, "notifications", "get_webhook", webhook_id))

    @api("PATCH", WEBHOOK, "Change a webhook's URL, event types, description or activity: a "
         "JSON merge patch; send `version` or If-Match", tags=TAGS,
         body=hooks.UpdateWebhookSchema, body_content="application/merge-patch+json",
         response=hooks.WebhookSchema, errors=(401, 403, 404, 409, 422, 428))
    def update_webhook(self, request: Request, webhook_id: str) -> Response:
        body = versioned(request, json_body(request))
        return with_etag(self._call(request, "notifications", "update_webhook", webhook_id, body))

    @api("DELETE", WEBHOOK, "Delete a webhook, its pending deliveries and its delivery log",
         tags=TAGS, response=hooks.WebhookDeletedSchema, errors=(401, 403, 404))
    def delete_webhook(self, request: Request, webhook_id: str) -> Response:
        return json_response(self._call(request, "notifications", "delete_webhook", webhook_id))

    @api("POST", f"{WEBHOOK}/rotate-secret", "A new signing secret (shown only this once); "
         "the old one keeps signing too during the overlap", tags=TAGS,
         body=hooks.RotateSecretSchema, response=hooks.WebhookSchema,
         errors=(401, 403, 404, 409, 422))
    def rotate_webhook_secret(self, request: Request, webhook_id: str) -> Response:
        return with_etag(self._call(request, "notifications", "rotate_webhook_secret", webhook_id,
                                    optional_json_body(request)))

    @api("POST", f"{WEBHOOK}/ping", "Send a signed `webhook_ping` event to this endpoint",
         tags=TAGS, response=hooks.PingSchema, status=202, errors=(401, 403, 404))
    def ping_webhook(self, request: Request, webhook_id: str) -> Response:
        return json_response(self._call(request, "notifications", "ping_webhook", webhook_id), 202)

    @api("GET", f"{WEBHOOK}/deliveries", "The delivery log, newest first: each event with its "
         "status and every attempt (response status, duration, error, next attempt)",
         tags=TAGS, query=hooks.DeliveryListQuerySchema, response=hooks.DeliverySchema,
         many=True, errors=(401, 403, 404, 422))
    def list_webhook_deliveries(self, request: Request, webhook_id: str) -> Response:
        return paged(self._call(request, "notifications", "list_webhook_deliveries", webhook_id,
                                query_args(request)), request)

    @api("GET", f"{V1}/asyncapi.json", "The AsyncAPI 2.6 document of the events a partnership's "
         "systems may bind to (AMQP) or receive by webhook", auth=False, tags=["ops"], rpc=False)
    def asyncapi(self, request: Request) -> Response:
        return json_response(asyncapi_document())
