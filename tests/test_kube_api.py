"""The official Kubernetes client against a local API server: lists, watches, RBAC, outages."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import kube_scenario as ks
import pytest
import tls_ca
from fake_apiserver import FakeApiServer

from arpwatch_lb.kube.api import KubeApi, KubeForbidden, KubeGone, KubeUnreachable
from arpwatch_lb.kube.discovery import Backoff, VipWatcher


@pytest.fixture
def server() -> Iterator[FakeApiServer]:
    s = FakeApiServer().start()
    yield s
    s.stop()


@pytest.fixture
def api(server: FakeApiServer, tmp_path: Path) -> Iterator[KubeApi]:
    a = KubeApi(str(server.kubeconfig(tmp_path / "kubeconfig")), connect_timeout=1,
                read_timeout=5)
    yield a
    a.close()


def wait_for(cond: Callable[[], bool], timeout: float = 5.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.02)
    return cond()


def test_lists_are_raw_api_objects_and_paged(server: FakeApiServer, api: KubeApi) -> None:
    ks.populate(server, events=1234)
    items, rv = api.list_services()
    assert rv == str(server.rv)
    assert {s["metadata"]["name"] for s in items} == {"web", "api"}
    web = next(s for s in items if s["metadata"]["name"] == "web")
    assert web["spec"]["type"] == "LoadBalancer"  # camelCase, as sent
    assert web["metadata"]["managedFields"][1]["subresource"] == "status"
    events = api.list_service_events()
    assert len(events) == 1234
    assert sum("continue=" in r for r in server.requests) >= 2  # 500 per page
    assert [n["metadata"]["name"] for n in api.list_nodes()] == ["node1", "node2"]
    l2 = api.list_servicel2statuses()
    assert l2 is not None and l2[0]["status"]["node"] == "node2"


def test_missing_crd_is_none(server: FakeApiServer, api: KubeApi) -> None:
    server.missing.add("servicel2statuses")
    assert api.list_servicel2statuses() is None


def test_forbidden_names_the_permission(server: FakeApiServer, api: KubeApi) -> None:
    server.forbidden.add(("list", "services"))
    with pytest.raises(KubeForbidden) as exc:
        api.list_services()
    msg = str(exc.value)
    assert "\n" not in msg
    assert "list services" in msg and 'cannot list resource "services"' in msg


def test_unreachable_is_one_line(tmp_path: Path) -> None:
    s = FakeApiServer().start()
    kc = s.kubeconfig(tmp_path / "kc")
    s.stop()
    a = KubeApi(str(kc), connect_timeout=1)
    with pytest.raises(KubeUnreachable) as exc:
        a.list_nodes()
    assert "unreachable" in str(exc.value) and "\n" not in str(exc.value)


def test_tls_is_verified_and_a_wrong_ca_or_token_is_one_line(tmp_path: Path) -> None:
    ca = tls_ca.make_ca(tmp_path, "cluster-ca")
    other = tls_ca.make_ca(tmp_path, "other-ca")
    s = FakeApiServer()
    s.token = "sa-token"
    s.tls = tls_ca.server_context(tls_ca.issue_server_cert(ca, tmp_path, "apiserver", ["127.0.0.1"]))
    s.start()
    ks.populate(s, events=1, flaps=1)
    good = KubeApi(str(s.kubeconfig(tmp_path / "good", ca=ca.crt)), connect_timeout=1)
    bad = KubeApi(str(s.kubeconfig(tmp_path / "bad", ca=other.crt)), connect_timeout=1)
    try:
        assert good.host == s.url and s.url.startswith("https://")
        assert {x["metadata"]["name"] for x in good.list_services()[0]} == {"web", "api"}
        with pytest.raises(KubeUnreachable) as exc:
            bad.list_nodes()
        s.token = "rotated-token"  # the client's token is stale now: 401, said as such
        with pytest.raises(KubeForbidden) as stale:
            good.list_nodes()
    finally:
        good.close()
        bad.close()
        s.stop()
    msg = str(exc.value)
    assert "\n" not in msg, msg
    assert msg == (f"Kubernetes API server {s.url}: TLS certificate not trusted (unable to get "
                   "local issuer certificate); check the cluster CA: the service account's ca.crt "
                   "in a pod, certificate-authority(-data) in a kubeconfig")
    assert str(stale.value) == ("unauthorized: the API server rejected the credentials for "
                                "'list nodes' (Unauthorized); check the token (the service "
                                "account's in a pod, the kubeconfig's user)")


def test_watch_streams_changes_and_410(server: FakeApiServer, api: KubeApi) -> None:
    server.put("services", ks.kube_vip_service())
    _, rv = api.list_services()
    server.put("services", ks.contested_service(False))
    server.delete("services", "default", "api")
    events = list(api.watch_services(rv, timeout_seconds=1))
    assert [(e.type, e.object["metadata"]["name"]) for e in events] == [
        ("ADDED", "web"), ("DELETED", "api")]
    server.compact()
    with pytest.raises(KubeGone):
        list(api.watch_services(rv, timeout_seconds=1))


def test_watcher_follows_services_without_restart(server: FakeApiServer, api: KubeApi) -> None:
    server.put("services", ks.kube_vip_service())
    logs: list[str] = []
    w = VipWatcher(api, log=logs.append, watch_timeout=2, backoff=Backoff(0.05, 0.2)).start()
    try:
        assert w.synced.wait(5)
        assert w.snapshot().vips == {ks.OTHER_VIP}
        for i in range(10):  # the status flapping between {ip} and {ip, ports}
            server.put("services", ks.contested_service(i % 2 == 1))
        assert wait_for(lambda: w.snapshot().vips == {ks.VIP, ks.OTHER_VIP})
        server.compact()  # the next watch restart gets 410 → list again
        server.delete("services", "default", "api")
        assert wait_for(lambda: w.snapshot().vips == {ks.VIP}, timeout=8)
        assert logs == []
    finally:
        w.stop()


def test_api_down_mid_watch_keeps_vips_says_once_and_recovers(server: FakeApiServer,
                                                              api: KubeApi) -> None:
    server.put("services", ks.contested_service(False))
    server.put("services", ks.kube_vip_service())
    server.put("nodes", ks.node("node1"))
    logs: list[str] = []
    w = VipWatcher(api, log=logs.append, watch_timeout=30, backoff=Backoff(0.05, 0.2)).start()
    try:
        assert w.synced.wait(5)
        assert w.node_ips() == {"192.0.2.11": "node1"}
        server.stop()  # down mid-watch
        assert wait_for(lambda: w.errors >= 3)  # several failed retries…
        assert w.snapshot().vips == {ks.VIP, ks.OTHER_VIP}  # …last known VIPs kept
        assert not w.connected
        assert len(logs) == 1 and "keeping the last 2 known VIPs" in logs[0]
        server.delete("services", "default", "web")  # deleted (while contested) during the outage
        server.start()
        assert wait_for(lambda: w.connected and w.snapshot().vips == {ks.OTHER_VIP}, timeout=8)
        assert len(logs) == 2 and "reachable again" in logs[1]
    finally:
        w.stop()


def test_forbidden_watcher_reports_once(server: FakeApiServer, api: KubeApi) -> None:
    server.forbidden.add(("list", "services"))
    logs: list[str] = []
    w = VipWatcher(api, log=logs.append, backoff=Backoff(0.02, 0.05)).start()
    try:
        assert wait_for(lambda: w.errors >= 3)
        assert len(logs) == 1 and "forbidden" in logs[0]
        assert w.snapshot().vips == frozenset()
    finally:
        w.stop()


def test_event_list_is_bounded(server: FakeApiServer, api: KubeApi) -> None:
    for i in range(1200):
        server.put("events", ks.node_assigned_event(i))
    events = api.list_service_events(max_items=600)
    assert 600 <= len(events) < 1200
    assert api.truncated and "stopped after 1000 objects" in api.truncated[0]


def test_nodes_forbidden_still_gives_vips(server: FakeApiServer, api: KubeApi) -> None:
    server.put("services", ks.kube_vip_service())
    server.forbidden.add(("list", "nodes"))
    logs: list[str] = []
    w = VipWatcher(api, log=logs.append, watch_timeout=2).start()
    try:
        assert w.synced.wait(5)
        assert w.snapshot().vips == {ks.OTHER_VIP} and w.node_ips() == {}
        assert len(logs) == 1 and "list nodes" in logs[0] and "without node names" in logs[0]
    finally:
        w.stop()


def test_in_cluster_config_is_used_without_kubeconfig(monkeypatch: pytest.MonkeyPatch,
                                                       tmp_path: Path) -> None:
    from kubernetes.config import incluster_config

    token, ca = tmp_path / "token", tmp_path / "ca.crt"
    token.write_text("sa-token")
    ca.write_text("not really a certificate")
    monkeypatch.setattr(incluster_config, "SERVICE_TOKEN_FILENAME", str(token))
    monkeypatch.setattr(incluster_config, "SERVICE_CERT_FILENAME", str(ca))
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.43.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "443")
    a = KubeApi()
    try:
        assert a.host == "https://10.43.0.1:443"
    finally:
        a.close()
