"""The AsyncAPI 2.6 document of the events a partnership's systems may bind to, generated
from common.events (exchanges and routing keys) and common.event_schemas (payloads).

One channel per event type (the routing key) with its AMQP binding to the source's topic
exchange; the payload schemas are the marshmallow contracts turned into JSON Schema by the
same converter (apispec) as the OpenAPI document. Internal account events are left out.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin

from common.event_schemas import EVENT_SCHEMAS, EVENT_SUMMARIES, PUBLIC_EVENTS_BY_SOURCE

ASYNCAPI_VERSION = "2.6.0"


def _schema_name(schema: Any) -> str:
    cls = schema if isinstance(schema, type) else type(schema)
    return cls.__name__.removesuffix("Schema")


def payload_schemas() -> dict[str, Any]:
    """JSON Schema of every payload class (and the classes they nest), by name."""
    spec = APISpec(title="events", version="1", openapi_version="3.0.3",
                   plugins=[MarshmallowPlugin(schema_name_resolver=_schema_name)])
    for schema in dict.fromkeys(EVENT_SCHEMAS.values()):
        name = _schema_name(schema)
        if name not in spec.components.schemas:
            spec.components.schema(name, schema=schema)
    return _json_schema(spec.to_dict()["components"]["schemas"])


def _json_schema(node: Any) -> Any:
    """OpenAPI 3.0's dialect said in JSON Schema (AsyncAPI's): `nullable` becomes a "null"
    type. Our own contracts refuse unknown fields, a consumer's must not (additive changes):
    `additionalProperties: false` is dropped."""
    if isinstance(node, list):
        return [_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _json_schema(value) for key, value in node.items()}
    if node.get("additionalProperties") is False:
        del node["additionalProperties"]
    if node.pop("nullable", False) and isinstance(node.get("type"), str):
        node["type"] = [node["type"], "null"]
    return node


def _channel(source: str, event_type: str) -> dict[str, Any]:
    exchange = f"{source}.events"
    return {
        "description": f"Routing key `{event_type}` on the topic exchange `{exchange}`.",
        "subscribe": {
            "operationId": f"receive_{event_type}",
            "summary": f"{source} publishes {event_type}",
            "message": {"$ref": f"#/components/messages/{event_type}"},
        },
        "bindings": {"amqp": {
            "is": "routingKey",
            "exchange": {"name": exchange, "type": "topic", "durable": True, "autoDelete": False,
                         "vhost": "/"},
            "bindingVersion": "0.2.0",
        }},
    }


def _message(source: str, event_type: str) -> dict[str, Any]:
    schema = EVENT_SCHEMAS[event_type]
    return {
        "name": event_type,
        "title": event_type.replace("_", " ").capitalize(),
        "summary": EVENT_SUMMARIES[event_type],
        "contentType": "application/json",
        "headers": {"type": "object", "properties": {
            "event_type": {"type": "string", "const": event_type,
                           "description": "The event type, also the routing key"}}},
        "correlationId": {"description": "The AMQP message_id is the event_id",
                          "location": "$message.payload#/event_id"},
        "payload": {"$ref": f"#/components/schemas/{_schema_name(schema)}"},
        "bindings": {"amqp": {"messageType": event_type, "deliveryMode": 2,
                              "bindingVersion": "0.2.0"}},
    }


@cache
def asyncapi_document() -> dict[str, Any]:
    channels: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for source, events in PUBLIC_EVENTS_BY_SOURCE.items():
        for event_type in events:
            channels[event_type] = _channel(source, event_type)
            messages[event_type] = _message(source, event_type)
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "id": "urn:clusterxchange:events",
        "info": {
            "title": "ClusterXchange events",
            "version": "1.0.0",
            "description": (
                "The events each ClusterXchange service publishes to its topic exchange "
                "`<service>.events`, with the event type as routing key. Bind a durable queue of "
                "your own with the routing keys you want. Delivery is at least once: deduplicate "
                "by `event_id`. Payload changes are additive only. Events carry ids, states, "
                "versions, amounts and public profile fields, never personal data. The same "
                "events reach a partnership's signed webhooks (docs/webhooks.md)."),
        },
        "defaultContentType": "application/json",
        "servers": {"broker": {
            "url": "{host}:{port}", "protocol": "amqp", "protocolVersion": "0.9.1",
            "description": "The platform's RabbitMQ; ask the operators for an account.",
            "variables": {"host": {"default": "localhost"}, "port": {"default": "5672"}},
        }},
        "channels": channels,
        "components": {"messages": messages, "schemas": payload_schemas()},
    }
