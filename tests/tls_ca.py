"""A throw-away certificate authority for tests that speak TLS (``openssl`` CLI).

:func:`make_ca` writes ``NAME.crt``/``NAME.key`` (a self-signed CA, P-256, valid
two days); :func:`issue_server_cert` signs a server certificate for IP
addresses and DNS names with it, with the extensions a strict verifier wants
(SAN, ``serverAuth``, ``CA:FALSE``); :func:`server_context` loads one into an
:class:`ssl.SSLContext` for a server.  Nothing is installed anywhere: the
files stay where the caller says.
"""

from __future__ import annotations

import ipaddress
import shutil
import ssl
import subprocess
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Cert", "issue_server_cert", "make_ca", "server_context"]

DAYS = "2"


@dataclass(frozen=True)
class Cert:
    """A certificate and its private key (PEM files)."""

    crt: Path
    key: Path


def _openssl(*args: str) -> None:
    exe = shutil.which("openssl")
    if exe is None:
        raise AssertionError("the openssl command is not installed (Debian package openssl)")
    r = subprocess.run([exe, *args], capture_output=True, text=True, timeout=60, check=False)
    if r.returncode != 0:
        raise AssertionError(f"openssl {' '.join(args)} failed: {r.stderr.strip()}")


def make_ca(directory: Path, name: str) -> Cert:
    """A self-signed CA ``directory/name.crt`` (subject CN=name) and its key."""
    directory.mkdir(parents=True, exist_ok=True)
    crt, key = directory / f"{name}.crt", directory / f"{name}.key"
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-keyout", str(key), "-out", str(crt), "-days", DAYS, "-subj", f"/CN={name}",
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign",
             "-addext", "subjectKeyIdentifier=hash")
    return Cert(crt, key)


def issue_server_cert(ca: Cert, directory: Path, name: str, hosts: list[str]) -> Cert:
    """A server certificate signed by ``ca`` for ``hosts`` (IP addresses or DNS names)."""
    directory.mkdir(parents=True, exist_ok=True)
    crt, key, csr = (directory / f"{name}.{ext}" for ext in ("crt", "key", "csr"))
    ext = directory / f"{name}.ext"
    san = []
    for h in hosts:
        try:
            ipaddress.ip_address(h)
            san.append(f"IP:{h}")
        except ValueError:
            san.append(f"DNS:{h}")
    ext.write_text(f"subjectAltName={','.join(san)}\n"
                   "basicConstraints=critical,CA:FALSE\n"
                   "keyUsage=critical,digitalSignature\n"
                   "extendedKeyUsage=serverAuth\n"
                   "authorityKeyIdentifier=keyid\n"
                   "subjectKeyIdentifier=hash\n")
    _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-keyout", str(key), "-out", str(csr), "-subj", f"/CN={name}")
    _openssl("x509", "-req", "-in", str(csr), "-CA", str(ca.crt), "-CAkey", str(ca.key),
             "-CAcreateserial", "-out", str(crt), "-days", DAYS, "-extfile", str(ext))
    return Cert(crt, key)


def server_context(cert: Cert) -> ssl.SSLContext:
    """A server-side TLS context presenting ``cert``."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(cert.crt), str(cert.key))
    return ctx
