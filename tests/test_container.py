"""deploy/Dockerfile built with podman and run the way deploy/20-daemonset.yaml runs it.

Needs root, ``podman``, ``runc``, ``debootstrap``, ``openssl`` (scripts/test-all installs
them) and network access to Debian and PyPI for the first build; nothing is skipped:
when a tool is missing or a step fails, the test FAILS with its message.

* The base: no registry image can be pulled, so ``debootstrap --variant=minbase``
  makes a Debian bookworm root with python3 (pip, venv) and ``podman import``
  turns it into ``BASE_IMAGE``.  The tarball is cached in ``.cache/container/``
  (git-ignored); the image is imported again only when the tarball changed.
* The image: ``podman build --build-arg BASE=<that base>`` of deploy/Dockerfile,
  unchanged.  The host's CA bundle is mounted into the build (pip behind a
  TLS-inspecting proxy); the Dockerfile knows nothing of it.
* The pod: the container spec of the DaemonSet is read from the YAML — args,
  env (the downward API's ``fieldRef``s resolved as the kubelet would), the
  securityContext, the emptyDir volume, resource limits, the grace period —
  and turned into ``podman run`` options; podman runs in the root namespace
  and joins a lab host's network namespace (``--network ns:/run/netns/…``),
  which plays the node (``hostNetwork: true``).
* The cluster: the fake API server (tests/fake_apiserver.py) serves HTTPS on
  another lab host with a certificate from a CA made here and wants the
  service-account token; the container finds both the way a pod does (token,
  ``ca.crt``, ``namespace`` under /var/run/secrets/kubernetes.io/serviceaccount,
  ``KUBERNETES_SERVICE_HOST``/``_PORT``), so in-cluster configuration and TLS
  verification are real.

Every address is TEST-NET inside the lab's namespaces.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import kube_scenario as ks
import pytest
import tls_ca
import yaml
from live_lab import Lab, Watch, live_lab_fixture  # noqa: F401 - live_lab_fixture provides live_lab

from lab.netlab import Host
from lab.scenarios import arping, start_announcer

REPO = Path(__file__).resolve().parents[1]
TESTS = REPO / "tests"
CACHE = REPO / ".cache" / "container"
SUITE = "bookworm"
MIRROR = "http://deb.debian.org/debian"
BASE_PACKAGES = "python3,python3-pip,python3-venv"
BASE_TAR = CACHE / f"debian-{SUITE}-python3.tar"
BASE_RECORD = CACHE / "base-image.json"
STORE = CACHE / "storage"
RUNROOT = Path("/run") / f"arpwatch-lb-test-{hashlib.sha256(bytes(CACHE)).hexdigest()[:12]}"
BASE_IMAGE = f"localhost/arpwatch-lb-test-base:{SUITE}"
IMAGE = "localhost/arpwatch-lb:test"
DAEMONSET = REPO / "deploy" / "20-daemonset.yaml"
CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
API_PORT = 6443
GATEWAY = "192.0.2.1"
"""The watcher's node gets a default route via this lab address (watch picks the
interface of the default route, as on a real node); nothing is ever sent to it."""
CAPS = {"CHOWN": 0, "DAC_OVERRIDE": 1, "FOWNER": 3, "KILL": 5, "SETGID": 6, "SETUID": 7,
        "NET_BIND_SERVICE": 10, "NET_ADMIN": 12, "NET_RAW": 13, "SYS_CHROOT": 18,
        "SYS_ADMIN": 21, "MKNOD": 27, "AUDIT_WRITE": 29, "SETFCAP": 31}
CONTAINER_KEYS = {"name", "image", "imagePullPolicy", "command", "args", "env", "ports",
                  "livenessProbe", "readinessProbe", "resources", "securityContext",
                  "volumeMounts"}
"""Container fields :meth:`DaemonSetPod.podman_args` carries over (or that need nothing)."""
SECURITY_KEYS = {"runAsUser", "runAsNonRoot", "allowPrivilegeEscalation",
                 "readOnlyRootFilesystem", "privileged", "capabilities", "seccompProfile"}
_names = itertools.count(1)


# -- podman -----------------------------------------------------------------------------------

@dataclass
class Podman:
    """The podman command with a containers.conf of our own (``CONTAINERS_CONF``)."""

    env: dict[str, str]

    def run(self, *args: str, timeout: float = 120.0, check: bool = True,
            ) -> subprocess.CompletedProcess[str]:
        """``podman ARGS``; fail the test with podman's output when ``check`` and it fails."""
        try:
            r = subprocess.run(["podman", *args], env=self.env, capture_output=True, text=True,
                               timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            pytest.fail(f"podman {' '.join(args[:3])} … did not finish in {timeout} s")
        if check and r.returncode != 0:
            pytest.fail(f"podman {' '.join(args)} exited {r.returncode}:\n"
                        f"{(r.stderr or r.stdout)[-4000:]}")
        return r


@pytest.fixture(scope="module")
def podman(tmp_path_factory: pytest.TempPathFactory) -> Podman:
    """podman with its own configuration and image store (``STORE``, in the checkout's
    git-ignored cache: no system file is touched, two checkouts never share tags).

    Containers here may not call setrlimit: no default ulimits.
    """
    if os.geteuid() != 0:
        pytest.fail("the container test needs root (podman, network namespaces)")
    for prog in ("podman", "runc", "debootstrap", "tar", "openssl"):
        if shutil.which(prog) is None:
            pytest.fail(f"{prog} is not installed (scripts/test-all installs it)")
    confdir = tmp_path_factory.mktemp("podman")
    conf = confdir / "containers.conf"
    conf.write_text("[containers]\n# no setrlimit for the containers' processes\n"
                    "default_ulimits = []\n")
    STORE.mkdir(parents=True, exist_ok=True)
    storage = confdir / "storage.conf"
    storage.write_text(f'[storage]\ndriver = "overlay"\ngraphroot = "{STORE}"\n'
                       f'runroot = "{RUNROOT}"\n')
    return Podman(dict(os.environ, CONTAINERS_CONF=str(conf), CONTAINERS_STORAGE_CONF=str(storage)))


# -- the base image: Debian from debootstrap, cached ------------------------------------------

def _mounts_under(root: Path) -> list[str]:
    prefix = str(root.resolve()) + "/"
    with open("/proc/self/mounts") as f:
        points = [line.split()[1].replace("\\040", " ") for line in f]
    return [p for p in points if p.startswith(prefix)]


def _remove_rootfs(root: Path) -> None:
    """Delete a debootstrap target, unmounting what a failed run may have left (proc, sys)."""
    for point in sorted(_mounts_under(root), reverse=True):
        subprocess.run(["umount", "-l", point], check=False, capture_output=True)
    left = _mounts_under(root)
    if left:
        raise AssertionError(f"not deleting {root}: still mounted: {left}")
    shutil.rmtree(root, ignore_errors=True)


def _base_tarball() -> Path:
    """``BASE_TAR``: made once with debootstrap (about a minute), then reused."""
    if BASE_TAR.exists():
        return BASE_TAR
    CACHE.mkdir(parents=True, exist_ok=True)
    for stale in CACHE.glob("rootfs-*"):  # an interrupted run's
        _remove_rootfs(stale)
    root = Path(tempfile.mkdtemp(prefix="rootfs-", dir=CACHE))
    try:
        r = subprocess.run(["debootstrap", "--variant=minbase", f"--include={BASE_PACKAGES}",
                            SUITE, str(root), MIRROR],
                           capture_output=True, text=True, timeout=1500, check=False)
        if r.returncode != 0:
            pytest.fail(f"debootstrap {SUITE} failed (exit {r.returncode}):\n"
                        f"{(r.stdout + r.stderr)[-3000:]}")
        # what a slim image leaves out too: packages already installed, indexes, docs
        for pattern in ("var/cache/apt/archives/*.deb", "var/lib/apt/lists/*",
                        "usr/share/doc/*", "usr/share/man/*", "usr/share/locale/*"):
            for p in root.glob(pattern):
                if p.is_dir() and not p.is_symlink():
                    shutil.rmtree(p)
                else:
                    p.unlink()
        part = BASE_TAR.with_name(BASE_TAR.name + ".part")
        subprocess.run(["tar", "-C", str(root), "-cf", str(part), "."], check=True, timeout=600)
        part.rename(BASE_TAR)
    finally:
        _remove_rootfs(root)
    return BASE_TAR


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@pytest.fixture(scope="module")
def base_image(podman: Podman) -> str:
    """``BASE_IMAGE`` from the cached tarball; imported again only when it changed (a new
    import is a new image, and every layer built on it would be built again)."""
    tar = _base_tarball()
    digest = _sha256(tar)
    try:
        record = json.loads(BASE_RECORD.read_text())
    except (OSError, ValueError):
        record = {}
    have = podman.run("image", "inspect", "--format", "{{.Id}}", BASE_IMAGE, check=False)
    if (have.returncode == 0 and record.get("tar_sha256") == digest
            and record.get("image_id") == have.stdout.strip()):
        return BASE_IMAGE
    image_id = podman.run("import", str(tar), BASE_IMAGE, timeout=600).stdout.strip().splitlines()[-1]
    got = podman.run("image", "inspect", "--format", "{{.Id}}", BASE_IMAGE).stdout.strip()
    assert image_id.removeprefix("sha256:") == got, (image_id, got)
    BASE_RECORD.write_text(json.dumps({"tar_sha256": digest, "image_id": got}))
    return BASE_IMAGE


@dataclass
class Built:
    """The image built for the tests, and how long the build took."""

    name: str
    seconds: float
    inspect: dict[str, Any]


@pytest.fixture(scope="module")
def image(podman: Podman, base_image: str) -> Built:
    """deploy/Dockerfile built on the local base (podman's layer cache makes rebuilds quick)."""
    # --network host: pip reaches PyPI as the host does (no bridge, no NAT rules needed)
    args = ["build", "--runtime", "runc", "--pull=never", "--network", "host",
            "--build-arg", f"BASE={base_image}", "-f", str(REPO / "deploy" / "Dockerfile"),
            "-t", IMAGE]
    if CA_BUNDLE.exists():  # pip in the build trusts what the host trusts (TLS proxies)
        args += ["-v", f"{CA_BUNDLE}:{CA_BUNDLE}:ro"]
    before = podman.run("image", "inspect", "--format", "{{.Id}}", IMAGE, check=False)
    t0 = time.monotonic()
    podman.run(*args, str(REPO), timeout=1500)
    seconds = time.monotonic() - t0
    inspect = json.loads(podman.run("image", "inspect", IMAGE).stdout)[0]
    old = before.stdout.strip()
    if before.returncode == 0 and old != inspect["Id"]:  # the last run's image: its venv layer goes
        podman.run("rmi", old, check=False)
    print(f"\nimage {IMAGE}: built in {seconds:.1f} s, {inspect['Size'] / 1e6:.0f} MB "
          f"on {base_image}")
    return Built(IMAGE, seconds, inspect)


# -- the DaemonSet's pod, read from the YAML --------------------------------------------------

def _quantity(text: str | int | float) -> float:
    """A Kubernetes quantity (``16Mi``, ``500m``, ``2``) as a number."""
    m = re.fullmatch(r"([0-9.]+)(m|Ki|Mi|Gi|k|M|G)?", str(text))
    assert m, f"unsupported quantity {text!r}"
    scale = {None: 1, "m": 1e-3, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "k": 1e3, "M": 1e6,
             "G": 1e9}[m.group(2)]
    return float(m.group(1)) * scale


@dataclass
class DaemonSetPod:
    """The DaemonSet's pod template (one container), as the kubelet would start it."""

    daemonset: dict[str, Any]

    @classmethod
    def load(cls) -> DaemonSetPod:
        """deploy/20-daemonset.yaml."""
        docs = [d for d in yaml.safe_load_all(DAEMONSET.read_text()) if d]
        (ds,) = [d for d in docs if d["kind"] == "DaemonSet"]
        return cls(ds)

    @property
    def pod(self) -> dict[str, Any]:
        """``spec.template.spec``."""
        return self.daemonset["spec"]["template"]["spec"]

    @property
    def container(self) -> dict[str, Any]:
        """The one container."""
        (c,) = self.pod["containers"]
        return c

    @property
    def grace(self) -> float:
        """``terminationGracePeriodSeconds`` (Kubernetes' default 30)."""
        return float(self.pod.get("terminationGracePeriodSeconds", 30))

    @property
    def capabilities(self) -> list[str]:
        """The capabilities the container adds (after dropping ALL)."""
        caps = self.container["securityContext"]["capabilities"]
        assert caps.get("drop") == ["ALL"], caps
        return list(caps.get("add", []))

    def env(self, fields: dict[str, str]) -> dict[str, str]:
        """The container's environment; ``fieldRef``s resolved from ``fields``."""
        out = {}
        for e in self.container.get("env", []):
            if "value" in e:
                out[e["name"]] = str(e["value"])
                continue
            assert "fieldRef" in e["valueFrom"], f"teach the test {e}"
            ref = e["valueFrom"]["fieldRef"]["fieldPath"]
            assert ref in fields, f"the test cannot resolve fieldRef {ref} of {e['name']}"
            out[e["name"]] = fields[ref]
        return out

    def args(self, env: dict[str, str]) -> list[str]:
        """``args`` with ``$(VAR)`` expanded as the kubelet does."""
        return [re.sub(r"\$\((\w+)\)", lambda m: env.get(m.group(1), m.group(0)), a)
                for a in self.container.get("args", [])]

    def port(self, name_or_number: str | int) -> int:
        """A container port by name (``metrics``) or number."""
        if isinstance(name_or_number, int):
            return name_or_number
        (p,) = [p for p in self.container["ports"] if p["name"] == name_or_number]
        return int(p["containerPort"])

    def podman_args(self, name: str, image: str, netns: str, fields: dict[str, str],
                    service_account: Path, api: tuple[str, int],
                    without: tuple[str, ...] = ()) -> list[str]:
        """``podman run`` arguments for this pod on a node whose network namespace is ``netns``.

        ``without``: capabilities not to add (a wrong securityContext).
        """
        c, pod = self.container, self.pod
        assert pod.get("hostNetwork") is True  # the lab namespace plays the node's network
        sc = c["securityContext"]
        # a setting the YAML gains must be carried over here, not silently left out
        assert set(c) <= CONTAINER_KEYS, f"teach the test {set(c) - CONTAINER_KEYS}"
        assert set(sc) <= SECURITY_KEYS, f"teach the test {set(sc) - SECURITY_KEYS}"
        argv = ["run", "--rm", "--name", name, "--runtime", "runc", "--pull=never",
                "--network", f"ns:/run/netns/{netns}"]
        if "command" in c:
            argv += ["--entrypoint", json.dumps(c["command"])]
        # dnsPolicy: the cluster's DNS; the lab has none, so a resolver that answers nothing
        # at once (nothing listens on the namespace's loopback) and sends nothing out
        argv += ["--dns", "127.0.0.1"]
        if "runAsUser" in sc:
            argv += ["--user", str(sc["runAsUser"])]
        assert not (sc.get("runAsNonRoot") and sc.get("runAsUser") == 0), \
            "the kubelet refuses runAsNonRoot with runAsUser 0"
        if sc.get("allowPrivilegeEscalation") is False:
            argv += ["--security-opt", "no-new-privileges"]
        if sc.get("readOnlyRootFilesystem"):  # and no writable /run, /var/tmp… either
            argv += ["--read-only", "--read-only-tmpfs=false"]
        assert sc.get("privileged") is False
        for cap in sc["capabilities"].get("drop", []):
            argv += ["--cap-drop", cap]
        for cap in sc["capabilities"].get("add", []):
            if cap not in without:
                argv += ["--cap-add", cap]
        seccomp = (sc.get("seccompProfile") or (pod.get("securityContext") or {})
                   .get("seccompProfile") or {}).get("type", "RuntimeDefault")
        assert seccomp == "RuntimeDefault", seccomp  # podman's default profile
        limits = (c.get("resources") or {}).get("limits") or {}
        if "memory" in limits:
            argv += ["--memory", str(int(_quantity(limits["memory"])))]
        if "cpu" in limits:
            argv += ["--cpus", f"{_quantity(limits['cpu']):g}"]
        volumes = {v["name"]: v for v in pod.get("volumes", [])}
        for vm in c.get("volumeMounts", []):
            vol = volumes[vm["name"]]
            assert "emptyDir" in vol, f"the test knows emptyDir volumes only: {vol}"
            size = (vol["emptyDir"] or {}).get("sizeLimit")
            opts = "rw,mode=1777" + (f",size={int(_quantity(size))}" if size else "")
            argv += ["--tmpfs", f"{vm['mountPath']}:{opts}"]
        if pod.get("automountServiceAccountToken", True):
            argv += ["-v", f"{service_account}:{SA_DIR}:ro"]
        env = self.env(fields)
        env |= {"KUBERNETES_SERVICE_HOST": api[0], "KUBERNETES_SERVICE_PORT": str(api[1])}
        for k, v in env.items():
            argv += ["--env", f"{k}={v}"]
        return [*argv, image, *self.args(env)]


@dataclass
class Cluster:
    """The fake API server over HTTPS on a lab host, and a service account for it."""

    host: Host
    proc: subprocess.Popen[str]
    ca: tls_ca.Cert
    token: str
    namespace: str

    def service_account(self, directory: Path, ca: Path | None = None) -> Path:
        """token, ca.crt (this cluster's CA unless ``ca``) and namespace, as mounted in a pod."""
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "token").write_text(self.token)
        shutil.copyfile(ca or self.ca.crt, directory / "ca.crt")
        (directory / "namespace").write_text(self.namespace)
        return directory


SERVE_CLUSTER = """
import sys
sys.path.insert(0, sys.argv[1])
import kube_scenario as ks
import tls_ca
from fake_apiserver import FakeApiServer
_, _, host, port, token, crt, key, node, node_ip = sys.argv
s = FakeApiServer()
s.host, s.port, s.token = host, int(port), token
s.tls = tls_ca.server_context(tls_ca.Cert(crt, key))
s.start()
ks.populate(s, events=10, flaps=3)
s.put("nodes", {"metadata": {"name": node}, "status": {"addresses": [
    {"type": "InternalIP", "address": node_ip}, {"type": "Hostname", "address": node}]}})
print("ready", flush=True)
sys.stdin.read()
"""


def serve_cluster(host: Host, tmp: Path, node: Host, namespace: str) -> Cluster:
    """The reported cluster (tests/kube_scenario.py) plus ``node``, on ``host``:API_PORT."""
    assert host.ip is not None and node.ip is not None
    ca = tls_ca.make_ca(tmp / "pki", "cluster-ca")
    cert = tls_ca.issue_server_cert(ca, tmp / "pki", "apiserver", [host.ip, "kubernetes.default.svc"])
    token = hashlib.sha256(os.urandom(16)).hexdigest()
    proc = host.popen([sys.executable, "-c", SERVE_CLUSTER, str(TESTS), host.ip, str(API_PORT),
                       token, str(cert.crt), str(cert.key), node.name, node.ip],
                      stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    return Cluster(host, proc, ca, token, namespace)


@dataclass
class RunningPod:
    """A ``podman run`` in the foreground: its output read line by line."""

    podman: Podman
    name: str
    watch: Watch
    started: float = field(default_factory=time.monotonic)

    @property
    def proc(self) -> subprocess.Popen[str]:
        """The ``podman run`` process."""
        return self.watch.proc

    def events(self) -> list[dict[str, Any]]:
        """The JSON lines printed so far."""
        return [json.loads(line) for line in list(self.watch.stdout) if line.strip()]

    def wait_for(self, what: str, cond: Callable[[], bool], timeout: float) -> None:
        """Until ``cond()``; fail with the container's output otherwise."""
        deadline = time.monotonic() + timeout
        while not cond():
            if time.monotonic() > deadline or self.proc.poll() is not None:
                pytest.fail(f"{what}: not within {timeout} s (exit {self.proc.poll()}); "
                            f"stderr: {self.watch.stderr}; stdout: {self.watch.stdout[-5:]}")
            time.sleep(0.1)

    def pid(self) -> int:
        """The container's first process, as the host sees it."""
        return int(self.podman.run("inspect", "--format", "{{.State.Pid}}", self.name).stdout)

    def exec(self, *argv: str) -> subprocess.CompletedProcess[str]:
        """``podman exec`` in the container."""
        return self.podman.run("exec", self.name, *argv, check=False)


@pytest.fixture
def pods(podman: Podman) -> Iterator[Callable[[list[str]], RunningPod]]:
    """Start pods (``podman run`` arguments); whatever is left is removed at the end."""
    started: list[RunningPod] = []

    def start(argv: list[str]) -> RunningPod:
        name = argv[argv.index("--name") + 1]
        proc = subprocess.Popen(["podman", *argv], env=podman.env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        w = Watch(proc)
        for stream, lines in ((proc.stdout, w.stdout), (proc.stderr, w.stderr)):
            def read(stream: Any = stream, lines: list[str] = lines) -> None:
                for line in stream:
                    lines.append(line.rstrip("\n"))
            t = threading.Thread(target=read, daemon=True)
            t.start()
            w.readers.append(t)
        pod = RunningPod(podman, name, w)
        started.append(pod)
        return pod

    yield start
    for pod in started:
        if pod.proc.poll() is None:
            podman.run("rm", "-f", "-t", "0", pod.name, check=False)
            try:
                pod.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                pod.proc.kill()


def _pod_name() -> str:
    return f"awlb-test-{os.getpid()}-{next(_names)}"


def _http_get(host: Host, url: str) -> tuple[int | str, str]:
    """GET ``url`` from inside ``host``'s namespace: (status or error name, body)."""
    code = ("import sys, urllib.request, urllib.error\n"
            "try:\n"
            "    r = urllib.request.urlopen(sys.argv[1], timeout=5)\n"
            "    print(r.status); print(r.read().decode(), end='')\n"
            "except urllib.error.HTTPError as e:\n"
            "    print(e.code)\n"
            "except OSError as e:\n"
            "    print(type(getattr(e, 'reason', e)).__name__)\n")
    out = host.run([sys.executable, "-c", code, url], check=False).stdout
    first, _, body = out.partition("\n")
    return (int(first) if first.isdigit() else first), body


def _node(lab: Lab, name: str) -> Host:
    """A lab host playing a node the watcher runs on: a default route, as a node has."""
    h = lab.add_host(name)
    h.run(["ip", "route", "add", "default", "via", GATEWAY, "dev", h.ifname])
    return h


def _status_fields(pid: int) -> dict[str, str]:
    text = Path(f"/proc/{pid}/status").read_text()
    return dict(line.split(":\t", 1) for line in text.splitlines() if ":\t" in line)


# -- the tests --------------------------------------------------------------------------------

def test_image_is_small_and_holds_a_venv_that_runs(podman: Podman, image: Built) -> None:
    meta = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    cfg = image.inspect["Config"]
    labels = cfg.get("Labels") or {}
    assert labels.get("org.opencontainers.image.title") == meta["name"]
    assert labels.get("org.opencontainers.image.version") == meta["version"]
    assert labels.get("org.opencontainers.image.licenses") == meta["license"]["text"]
    assert labels.get("org.opencontainers.image.base.name") == BASE_IMAGE
    assert cfg["Entrypoint"] == ["arpwatch-lb"]
    # `docker run IMAGE` does what the DaemonSet's pod does
    assert cfg["Cmd"] == DaemonSetPod.load().container["args"]
    check = """
import importlib.util, json, os, shutil, subprocess, sys
out = {
    "prefix": sys.prefix,
    "compilers": [c for c in ("cc", "gcc", "c++", "g++", "clang", "make") if shutil.which(c)],
    "pip_in_venv": importlib.util.find_spec("pip") is not None,
    "pip_caches": [p for p in ("/root/.cache/pip", "/root/.cache", "/src")
                   if os.path.exists(p)],
    "extras": [m for m in ("kubernetes", "prometheus_client", "scapy", "netifaces")
               if importlib.util.find_spec(m) is not None],
    "version": subprocess.run(["arpwatch-lb", "--version"], capture_output=True,
                              text=True).stdout.strip(),
}
print(json.dumps(out))
"""
    r = podman.run("run", "--rm", "--runtime", "runc", "--pull=never", "--network", "none",
                   "--entrypoint", "python3", image.name, "-c", check)
    got = json.loads(r.stdout)
    assert got["prefix"] == "/opt/venv"
    assert got["compilers"] == [] and got["pip_caches"] == [] and got["pip_in_venv"] is False
    assert got["extras"] == ["kubernetes", "prometheus_client", "scapy", "netifaces"]
    assert got["version"] == f"arpwatch-lb, version {meta['version']}"
    size = image.inspect["Size"]
    assert 0 < size < 600e6, size
    print(f"image size {size / 1e6:.0f} MB (base {BASE_IMAGE}); build {image.seconds:.1f} s")


def _fight(lab_hosts: dict[str, Host], vip: str, announcers: bool = True) -> None:
    """The client resolves the nodes' own addresses (names for their MACs), then node1
    (kube-vip, VIP bound) and node2 (MetalLB, proxy ARP) both claim ``vip``."""
    n1, n2, client = lab_hosts["node1"], lab_hosts["node2"], lab_hosts["client"]
    arping(client, ks.NODES["node1"][0], "-c", "2", "-W", "0.3")
    arping(client, ks.NODES["node2"][0], "-c", "2", "-W", "0.3")
    n1.add_address(f"{vip}/32")
    n2.enable_proxy_arp(vip)
    if announcers:
        start_announcer(n1, "kubevip", "--iface", "eth0", "--vip", vip, "--rate-ms", "1000",
                        "--duration", "6")
        start_announcer(n2, "metallb", "--iface", "eth0", "--vip", vip, "--reconcile-every", "3",
                        "--duration", "6")
    arping(client, vip, "-d", "-c", "3", "-W", "0.5", expect_rc=1)  # both answer


def _cluster_lab(lab: Lab, tmp_path: Path, spec: DaemonSetPod,
                 ) -> tuple[dict[str, Host], Host, Cluster]:
    n1, n2 = lab.add_host("node1"), lab.add_host("node2")
    assert (n1.ip, n2.ip) == (ks.NODES["node1"][0], ks.NODES["node2"][0])
    node3 = _node(lab, "node3")
    api = lab.add_host("api")  # the API server; also the client and the scraper
    cluster = serve_cluster(api, tmp_path, node3, spec.daemonset["metadata"]["namespace"])
    return {"node1": n1, "node2": n2, "client": api}, node3, cluster


def _fields(node: Host) -> dict[str, str]:
    """What the downward API gives a hostNetwork pod on ``node``."""
    assert node.ip is not None
    return {"spec.nodeName": node.name, "status.hostIP": node.ip, "status.podIP": node.ip,
            "metadata.namespace": DaemonSetPod.load().daemonset["metadata"]["namespace"]}


def test_daemonset_pod_in_a_lab_cluster(podman: Podman, image: Built, live_lab: Lab,
                                        tmp_path: Path, pods: Callable[[list[str]], RunningPod],
                                        ) -> None:
    spec = DaemonSetPod.load()
    hosts, node3, cluster = _cluster_lab(live_lab, tmp_path, spec)
    api = cluster.host
    assert api.ip is not None and node3.ip is not None
    argv = spec.podman_args(_pod_name(), image.name, node3.ns, _fields(node3),
                            cluster.service_account(tmp_path / "sa"), (api.ip, API_PORT))
    pod = pods(argv)
    pod.wait_for("watch capturing with the cluster's VIPs", lambda: any(
        "watching eth0" in x for x in pod.watch.stderr) and any(
        "LoadBalancer VIPs" in x for x in pod.watch.stderr), timeout=60)
    started = time.monotonic() - pod.started
    env = spec.env(_fields(node3))
    args = spec.args(env)
    metrics_port = int(args[args.index("--metrics-port") + 1])
    # where the metrics listen: the YAML's choice (the node's address), nowhere else
    address = env.get("ARPWATCH_LB_METRICS_ADDRESS", "0.0.0.0")
    assert address == node3.ip
    assert f"arpwatch-lb: metrics on http://{node3.ip}:{metrics_port}/metrics" in pod.watch.stderr

    # the process: uid 0 holding NET_RAW only, no_new_privs, seccomp, read-only root
    st = _status_fields(pod.pid())
    want = sum(1 << CAPS[c] for c in spec.capabilities)
    assert spec.capabilities == ["NET_RAW"] and f"{want:016x}" == "0000000000002000"
    assert (st["CapEff"], st["CapPrm"], st["CapBnd"]) == (f"{want:016x}",) * 3, st
    inside = pod.exec("cat", "/proc/1/status")  # the same process, seen from the container
    assert inside.returncode == 0 and f"CapEff:\t{want:016x}" in inside.stdout, inside
    assert st["CapInh"] == st["CapAmb"] == "0000000000000000"
    assert st["Uid"].split() == [str(spec.container["securityContext"]["runAsUser"])] * 4
    assert st["NoNewPrivs"] == "1" and st["Seccomp"] == "2", st
    ro = pod.exec("sh", "-c", ": > /arpwatch-lb-write-test")
    assert ro.returncode != 0 and "Read-only file system" in ro.stderr, ro
    tmp = pod.exec("sh", "-c", "echo ok > /tmp/t && cat /tmp/t")
    assert (tmp.returncode, tmp.stdout) == (0, "ok\n"), tmp

    _fight(hosts, ks.VIP)
    pod.wait_for("a contested event for the VIP", lambda: any(
        e.get("event") == "contested" and e.get("ip") == ks.VIP for e in pod.events()), timeout=30)
    probe = spec.container["livenessProbe"]["httpGet"]
    health_port = spec.port(probe["port"])
    assert health_port == metrics_port
    # the kubelet and Prometheus reach a hostNetwork pod at its pod IP = the node's address
    code, body = _http_get(api, f"http://{node3.ip}:{health_port}{probe['path']}")
    assert (code, body) == (200, "ok\n")
    contested = f'arpwatch_lb_ip_contested{{vip="{ks.VIP}",vlan=""}} 1.0'
    deadline = time.monotonic() + 20
    while True:
        code, body = _http_get(api, f"http://{node3.ip}:{metrics_port}/metrics")
        if (code == 200 and contested in body and 'node="node1"' in body
                and 'node="node2"' in body) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert code == 200 and contested in body, body
    assert "arpwatch_lb_kubernetes_api_up 1.0" in body and "arpwatch_lb_kubernetes_vips 2.0" in body
    assert 'node="node1"' in body and 'node="node2"' in body, body
    # not on the node's other addresses: loopback refuses
    assert _http_get(node3, f"http://127.0.0.1:{metrics_port}/metrics")[0] == "ConnectionRefusedError"

    # the kubelet's stop: SIGTERM to the container's first process, then the grace period
    t0 = time.monotonic()
    podman.run("kill", "--signal", "TERM", pod.name)
    try:
        pod.proc.wait(timeout=spec.grace + 30)
    except subprocess.TimeoutExpired:
        pytest.fail(f"no exit {spec.grace + 30} s after SIGTERM: {pod.watch.stderr}")
    stopped = time.monotonic() - t0
    code, events, report = pod.watch.finish(timeout=10)
    assert stopped < spec.grace, f"exit took {stopped:.1f} s, grace period {spec.grace} s"
    assert code == 1, pod.watch.stderr  # a contested VIP
    ips = {e["ip"]: e for e in report["ips"]}
    assert ips[ks.VIP]["verdict"] == "contested"
    assert set(ips[ks.VIP]["nodes"]) == {"node1", "node2"}, ips[ks.VIP]
    assert report["sources"][0]["interface"] == "eth0"
    assert not [x for x in pod.watch.stderr if "Traceback" in x or "error" in x.lower()], \
        pod.watch.stderr
    [ev] = [e for e in events if e.get("event") == "contested" and e.get("ip") == ks.VIP]
    assert set(ev["nodes"]) == {"node1", "node2"}, ev
    print(f"pod ready {started:.1f} s after podman run; stopped {stopped:.2f} s after SIGTERM "
          f"(grace {spec.grace:g} s)")
    cluster.proc.terminate()


def test_daemonset_pod_with_a_wrong_ca_keeps_sniffing(podman: Podman, image: Built,
                                                      live_lab: Lab, tmp_path: Path,
                                                      pods: Callable[[list[str]], RunningPod],
                                                      ) -> None:
    spec = DaemonSetPod.load()
    hosts, node3, cluster = _cluster_lab(live_lab, tmp_path, spec)
    api = cluster.host
    assert api.ip is not None and node3.ip is not None
    other = tls_ca.make_ca(tmp_path / "other", "some-other-ca")
    sa = cluster.service_account(tmp_path / "sa", ca=other.crt)
    pod = pods(spec.podman_args(_pod_name(), image.name, node3.ns, _fields(node3), sa,
                                (api.ip, API_PORT)))
    pod.wait_for("watch capturing without the API", lambda: any(
        "watching eth0" in x for x in pod.watch.stderr), timeout=60)
    _fight(hosts, ks.VIP, announcers=False)
    pod.wait_for("a contested event (every IP is watched without the API's VIPs)", lambda: any(
        e.get("event") == "contested" and e.get("ip") == ks.VIP for e in pod.events()), timeout=20)
    port = spec.port(spec.container["readinessProbe"]["httpGet"]["port"])
    code, body = _http_get(api, f"http://{node3.ip}:{port}/metrics")
    assert code == 200 and "arpwatch_lb_kubernetes_api_up 0.0" in body, body
    assert _http_get(api, f"http://{node3.ip}:{port}/healthz") == (200, "ok\n")
    podman.run("kill", "--signal", "TERM", pod.name)
    code, _, report = pod.watch.finish(timeout=spec.grace + 30)
    tls = [x for x in pod.watch.stderr if "TLS" in x]
    assert len(tls) == 1, pod.watch.stderr  # said once, not per retry
    assert tls[0] == (f"arpwatch-lb: kubernetes: Kubernetes API server https://{api.ip}:{API_PORT}: "
                      "TLS certificate not trusted (unable to get local issuer certificate); "
                      "check the cluster CA: the service account's ca.crt in a pod, "
                      "certificate-authority(-data) in a kubeconfig; keeping the last 0 known "
                      "VIPs, retrying with backoff"), tls
    assert not [x for x in pod.watch.stderr if "Traceback" in x], pod.watch.stderr
    assert code == 1
    assert {e["ip"]: e["verdict"] for e in report["ips"]}.get(ks.VIP) == "contested"
    cluster.proc.terminate()


def test_daemonset_pod_without_net_raw_says_so_and_exits_2(
        podman: Podman, image: Built, live_lab: Lab, tmp_path: Path,
        pods: Callable[[list[str]], RunningPod]) -> None:
    spec = DaemonSetPod.load()
    _, node3, cluster = _cluster_lab(live_lab, tmp_path, spec)
    assert cluster.host.ip is not None
    pod = pods(spec.podman_args(_pod_name(), image.name, node3.ns, _fields(node3),
                                cluster.service_account(tmp_path / "sa"),
                                (cluster.host.ip, API_PORT), without=("NET_RAW",)))
    try:
        code = pod.proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail(f"still running without NET_RAW: {pod.watch.stderr}")
    for t in pod.watch.readers:
        t.join(10)
    assert code == 2, pod.watch.stderr
    assert pod.watch.stdout == []
    assert len(pod.watch.stderr) == 1, pod.watch.stderr
    assert pod.watch.stderr[0].startswith(
        "arpwatch-lb: error: capturing and probing need raw sockets (CAP_NET_RAW)"), pod.watch.stderr
    assert "NET_RAW to the container's securityContext.capabilities.add" in pod.watch.stderr[0]
    cluster.proc.terminate()
