"""deploy/: every manifest validated offline against the Kubernetes JSON schemas.

Built-in kinds use the schemas shipped inside ``kubernetes-validate`` (strict:
unknown fields fail).  prometheus-operator kinds (PodMonitor, PrometheusRule)
are checked against the small structural schemas below; the rules themselves
go through ``promtool`` in test_prometheus_rules.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate as kv
import pytest
import yaml

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
K8S_VERSION = "1.30"
MANIFESTS = sorted(DEPLOY.glob("*.yaml"))

_STR_MAP = {"type": "object", "additionalProperties": {"type": "string"}}
_META = {"type": "object", "required": ["name", "namespace"],
         "properties": {"name": {"type": "string"}, "namespace": {"type": "string"},
                        "labels": _STR_MAP, "annotations": _STR_MAP}}
_SELECTOR = {"type": "object", "properties": {"matchLabels": _STR_MAP,
                                              "matchExpressions": {"type": "array"}},
             "additionalProperties": False}
CRD_SCHEMAS: dict[str, dict[str, Any]] = {
    "PodMonitor": {
        "type": "object", "required": ["apiVersion", "kind", "metadata", "spec"],
        "properties": {
            "apiVersion": {"const": "monitoring.coreos.com/v1"}, "kind": {"const": "PodMonitor"},
            "metadata": _META,
            "spec": {"type": "object", "required": ["selector", "podMetricsEndpoints"],
                     "additionalProperties": False,
                     "properties": {
                         "selector": _SELECTOR,
                         "namespaceSelector": {"type": "object"},
                         "jobLabel": {"type": "string"},
                         "podMetricsEndpoints": {"type": "array", "minItems": 1, "items": {
                             "type": "object", "additionalProperties": False,
                             "properties": {
                                 "port": {"type": "string"}, "path": {"type": "string"},
                                 "interval": {"type": "string", "pattern": "^[0-9]+(ms|s|m|h)$"},
                                 "scrapeTimeout": {"type": "string"},
                                 "scheme": {"enum": ["http", "https"]},
                                 "honorLabels": {"type": "boolean"},
                                 "relabelings": {"type": "array", "items": {
                                     "type": "object", "additionalProperties": False,
                                     "properties": {
                                         "sourceLabels": {"type": "array",
                                                          "items": {"type": "string"}},
                                         "targetLabel": {"type": "string"},
                                         "regex": {"type": "string"},
                                         "replacement": {"type": "string"},
                                         "action": {"type": "string"}}}},
                                 "metricRelabelings": {"type": "array"}}}}}},
        },
    },
    "PrometheusRule": {
        "type": "object", "required": ["apiVersion", "kind", "metadata", "spec"],
        "properties": {
            "apiVersion": {"const": "monitoring.coreos.com/v1"},
            "kind": {"const": "PrometheusRule"}, "metadata": _META,
            "spec": {"type": "object", "required": ["groups"], "additionalProperties": False,
                     "properties": {"groups": {"type": "array", "minItems": 1, "items": {
                         "type": "object", "required": ["name", "rules"],
                         "additionalProperties": False,
                         "properties": {"name": {"type": "string"},
                                        "interval": {"type": "string"},
                                        "rules": {"type": "array", "minItems": 1, "items": {
                                            "type": "object", "required": ["expr"],
                                            "additionalProperties": False,
                                            "properties": {
                                                "alert": {"type": "string"},
                                                "record": {"type": "string"},
                                                "expr": {"type": "string"},
                                                "for": {"type": "string"},
                                                "labels": _STR_MAP,
                                                "annotations": _STR_MAP}}}}}}}},
        },
    },
}


def documents() -> list[tuple[str, dict[str, Any]]]:
    out = []
    for path in MANIFESTS:
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                out.append((f"{path.name}:{doc['kind']}", doc))
    return out


DOCS = documents()


def by_kind(kind: str) -> dict[str, Any]:
    (doc,) = [d for _, d in DOCS if d["kind"] == kind]
    return doc


@pytest.mark.parametrize(("name", "doc"), DOCS, ids=[n for n, _ in DOCS])
def test_manifest_is_schema_valid(name: str, doc: dict[str, Any]) -> None:
    if doc["kind"] in CRD_SCHEMAS:
        jsonschema.validate(doc, CRD_SCHEMAS[doc["kind"]])
    else:
        kv.validate(doc, K8S_VERSION, strict=True)


def test_validator_catches_mistakes() -> None:
    ds = by_kind("DaemonSet")
    bad = yaml.safe_load(yaml.safe_dump(ds))
    bad["spec"]["template"]["spec"]["containers"][0]["securityContext"]["capabilites"] = {}
    with pytest.raises(kv.ValidationError):
        kv.validate(bad, K8S_VERSION, strict=True)
    bad_pm = yaml.safe_load(yaml.safe_dump(by_kind("PodMonitor")))
    bad_pm["spec"]["podMetricsEndpoints"][0]["intervall"] = "30s"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad_pm, CRD_SCHEMAS["PodMonitor"])


def test_every_kind_is_there() -> None:
    kinds = sorted(d["kind"] for _, d in DOCS)
    assert kinds == sorted(["Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding",
                            "DaemonSet", "Service", "PodMonitor", "PrometheusRule"])
    assert MANIFESTS[0].name == "00-namespace.yaml"  # applied first by `kubectl apply -f deploy/`


def test_rbac_is_read_only_and_minimal() -> None:
    role = by_kind("ClusterRole")
    allowed = {(g, r) for rule in role["rules"] for g in rule["apiGroups"]
               for r in rule["resources"]}
    assert allowed == {("", "services"), ("", "nodes"), ("", "events"), ("", "pods"),
                       ("", "configmaps"), ("apps", "daemonsets"), ("coordination.k8s.io", "leases"),
                       ("metallb.io", "servicel2statuses"), ("metallb.io", "ipaddresspools"),
                       ("metallb.io", "l2advertisements"),
                       ("cilium.io", "ciliumloadbalancerippools"),
                       ("cilium.io", "ciliuml2announcementpolicies")}
    for rule in role["rules"]:
        assert set(rule["verbs"]) <= {"get", "list", "watch"}  # never a write
        assert "*" not in rule["resources"] and "*" not in rule["apiGroups"]
        if "configmaps" in rule["resources"]:  # ConfigMaps: three, by name, get only
            assert rule["resources"] == ["configmaps"] and rule["verbs"] == ["get"]
            assert sorted(rule["resourceNames"]) == ["cilium-config", "kube-proxy", "kubevip"]
        else:
            assert sorted(rule["verbs"]) == ["get", "list", "watch"]
            assert "resourceNames" not in rule
    assert not any("secrets" in rule["resources"] for rule in role["rules"])
    binding = by_kind("ClusterRoleBinding")
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    sa = by_kind("ServiceAccount")
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": sa["metadata"]["name"],
                                    "namespace": sa["metadata"]["namespace"]}]


def test_daemonset_security_and_probes() -> None:
    ds = by_kind("DaemonSet")
    pod = ds["spec"]["template"]["spec"]
    assert pod["hostNetwork"] is True and pod["dnsPolicy"] == "ClusterFirstWithHostNet"
    assert {"operator": "Exists"} in pod["tolerations"]
    assert pod["serviceAccountName"] == by_kind("ServiceAccount")["metadata"]["name"]
    (c,) = pod["containers"]
    sc = c["securityContext"]
    assert sc["capabilities"] == {"drop": ["ALL"], "add": ["NET_RAW"]}
    assert sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False
    assert sc["privileged"] is False
    assert c["args"] == ["watch", "--kubernetes", "--metrics-port", "9710", "--format", "jsonl"]
    for probe in ("livenessProbe", "readinessProbe"):
        assert c[probe]["httpGet"] == {"path": "/healthz", "port": "metrics"}
    assert {"name": "metrics", "containerPort": 9710, "protocol": "TCP"} in c["ports"]
    assert c["resources"]["requests"] and c["resources"]["limits"]
    labels = ds["spec"]["template"]["metadata"]["labels"]
    assert by_kind("PodMonitor")["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert by_kind("Service")["spec"]["selector"].items() <= labels.items()


def test_dockerfile() -> None:
    """The text; tests/test_container.py builds and runs it."""
    text = (DEPLOY / "Dockerfile").read_text()
    assert "ARG BASE=python:3.11-slim" in text
    assert "FROM ${BASE} AS build" in text and "COPY --from=build /opt/venv /opt/venv" in text
    assert "pip install --no-deps --no-build-isolation '.[kubernetes,metrics]'" in text
    assert 'x["kubernetes"], *x["metrics"]' in text  # the extras' dependencies
