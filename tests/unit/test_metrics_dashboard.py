"""The example Grafana dashboard only charts metrics the processes really export."""

from __future__ import annotations

import json
import re
from pathlib import Path

from prometheus_client import REGISTRY, generate_latest

import common.metrics  # noqa: F401 - registers the service metrics
import gateway.http  # noqa: F401 - registers the HTTP metrics

DASHBOARD = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "clusterxchange.json"


def exported() -> set[str]:
    text = generate_latest(REGISTRY).decode()
    names = set()
    for name, kind in re.findall(r"^# TYPE (\S+) (\S+)$", text, re.M):
        names.add(name)
        if kind == "histogram":
            names |= {f"{name}_bucket", f"{name}_sum", f"{name}_count"}
    return names


def test_every_charted_metric_exists():
    dashboard = json.loads(DASHBOARD.read_text())
    charted = {name for panel in dashboard["panels"] for target in panel["targets"]
               for name in re.findall(r"\bcxc_\w+", target["expr"])}
    assert charted, "the dashboard charts nothing"
    assert charted - exported() == set()


def test_the_operators_metrics_are_exported():
    assert {"cxc_rpc_calls_total", "cxc_rpc_errors_total", "cxc_event_handling_seconds_bucket",
            "cxc_event_failures_total", "cxc_outbox_backlog", "cxc_outbox_oldest_unsent_age_seconds",
            "cxc_parked_events", "cxc_matching_index_entries",
            "cxc_matching_index_refresh_lag_seconds", "cxc_ready"} <= exported()
