"""Prometheus metrics of a service process, beyond the gateway's HTTP ones.

Every process served by `cli.serve` exposes them on its health port (`HEALTH_PORT`,
`/metrics`, see common.health); the gateway also on its own `/metrics`. Names follow the
Prometheus conventions: `_total` for counters, `_seconds` for durations, base units.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import Counter, Gauge, Histogram

_children: dict[tuple[int, tuple[str, ...]], Any] = {}


def child(metric: Any, *labels: str) -> Any:
    """`metric.labels(*labels)`, remembered: prometheus_client takes a lock and checks the
    label values on every call, ~2 % of a fast RPC's CPU for the two metrics of each call.
    For the label sets of the hot paths, which are few (services x methods, routes x
    statuses); nothing here ever removes a child."""
    key = (id(metric), labels)
    found = _children.get(key)
    if found is None:
        found = _children[key] = metric.labels(*labels)
    return found

RPC_CALLS = Counter("cxc_rpc_calls_total", "RPC calls served, per method",
                    ["service", "method"])
RPC_ERRORS = Counter("cxc_rpc_errors_total", "RPC calls that raised, per method and error "
                     "(expected errors included: a 4xx is a caller's mistake)",
                     ["service", "method", "error"])
RPC_SECONDS = Histogram("cxc_rpc_seconds", "Time to serve one RPC call", ["service", "method"],
                        buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
EVENT_SECONDS = Histogram("cxc_event_handling_seconds", "Time to handle one event, per handler",
                          ["service", "handler"],
                          buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
EVENT_FAILURES = Counter("cxc_event_failures_total", "Event deliveries whose handler raised "
                         "(the event goes back to its queue, then to parking)",
                         ["service", "handler"])
OUTBOX_BACKLOG = Gauge("cxc_outbox_backlog", "Outbox events not yet published", ["service"])
OUTBOX_OLDEST_AGE = Gauge("cxc_outbox_oldest_unsent_age_seconds",
                          "Age of the oldest outbox event not yet published (0 when none)",
                          ["service"])
PARKED = Gauge("cxc_parked_events", "Events parked after failing the delivery limit, per consuming "
               "service (cxc events parked / replay)", ["service"])
BROKER_CONNECTED = Gauge("cxc_broker_connected", "1 while the process's consumer connection to "
                         "RabbitMQ is up", ["service"])
BROKER_RECONNECTS = Counter("cxc_broker_reconnects_total", "Consumer connections to RabbitMQ "
                            "re-established after a loss", ["service"])
READY = Gauge("cxc_ready", "1 when the process is ready (its /readyz answers 200)", ["service"])
CHECK_OK = Gauge("cxc_readiness_check_ok", "1 when this readiness check passes",
                 ["service", "check"])
# Filled by the matching service through the metrics hook (common.health).
MATCHING_INDEX_ENTRIES = Gauge("cxc_matching_index_entries", "Catalogue entries in this "
                               "process's matching index", ["service"])
MATCHING_INDEX_LAG = Gauge("cxc_matching_index_refresh_lag_seconds", "Time since this process's "
                           "matching index last folded in the catalogue's changes", ["service"])
