"""examples/grafana/rampart-dashboard.json and examples/prometheus/rampart-alerts.yml
name only metrics (and label values) that the real binary's /metrics exposes:
every expression is read from the files, every rampart_* name in it is looked
up in a live scrape of a config with a weighted route and a health-checked
cluster (so every conditional family is there)."""
import json
import re
from pathlib import Path

import yaml

import helpers
import prometheus_text

ROOT = Path(__file__).resolve().parents[2]
METRIC = re.compile(r"\brampart_[a-zA-Z0-9_]+")
# label="value" and label=~"a|b" matchers on the labels whose values are fixed.
MATCHER = re.compile(r'\b(code|cause|event)\s*(=~|=)\s*"([^"]*)"')


def expressions():
    out = []
    dashboard = json.loads((ROOT / "examples/grafana/rampart-dashboard.json").read_text())
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            out.append(("dashboard: " + panel["title"], target["expr"]))
    for variable in dashboard["templating"]["list"]:
        if variable.get("type") == "query":
            out.append(("dashboard variable " + variable["name"], variable["query"]))
    rules = yaml.safe_load((ROOT / "examples/prometheus/rampart-alerts.yml").read_text())
    for group in rules["groups"]:
        for rule in group["rules"]:
            out.append(("alert " + rule["alert"], rule["expr"]))
    return out


def live_metrics(stack):
    upstream = stack.upstream("app")
    port, admin_port = helpers.free_port(), helpers.free_port()
    clusters = [helpers.cluster("app", [upstream.address]),
                helpers.cluster("next", [upstream.address],
                                health_check={"path": "/health", "interval": "1s"})]
    routes = [{"name": "split", "match": {"prefix": "/split"},
               "clusters": [{"cluster": "app", "weight": 90}, {"cluster": "next", "weight": 10}]},
              helpers.route("all", "app", prefix="/")]
    text = helpers.config(port, clusters, [{"name": "default", "domains": ["*"], "routes": routes}],
                          admin={"address": f"127.0.0.1:{admin_port}"})
    stack.rampart(text, port)
    helpers.wait_port(admin_port)
    assert helpers.get(port, "/split/x").status == 200
    body = helpers.get(admin_port, "/metrics").body.decode()
    return prometheus_text.parse(body)


def test_every_example_expression_names_exposed_metrics(stack):
    families = live_metrics(stack)
    names = set(families)
    label_values = {}
    for family in families.values():
        for sample_name, labels, _ in family["samples"]:
            names.add(sample_name)
            for key, value in labels.items():
                label_values.setdefault(key, set()).add(value)
    exprs = expressions()
    assert len(exprs) >= 20
    checked = set()
    for where, expr in exprs:
        found = METRIC.findall(expr)
        assert found, f"{where}: no rampart metric in {expr!r}"
        for name in found:
            assert name in names, f"{where}: {name} is not exposed by /metrics"
            checked.add(name)
        for label, op, value in MATCHER.findall(expr):
            wanted = value.split("|") if op == "=~" else [value]
            for v in wanted:
                assert v in label_values.get(label, set()), f"{where}: {label}={v!r} never appears"
    # The examples cover the headline numbers.
    assert {"rampart_requests_total", "rampart_request_duration_seconds_bucket",
            "rampart_refusals_total", "rampart_cluster_endpoints_healthy",
            "rampart_access_log_dropped_total", "rampart_shield_refused_at_accept_total"} <= checked
