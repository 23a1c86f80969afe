"""The layout is a promise: each package imports only what its docstring allows.

Reads every module's imports with ``ast`` (those inside functions too: a lazy
import is still an arrow) and checks them against one table.  The pure core
also may not import anything that does I/O or reads a clock.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "arpwatch_lb"

ALLOWED = {
    # package: the arpwatch_lb packages its modules may import
    "core": {"core"},
    "sources": {"core", "sources"},
    "sinks": {"core", "sinks", "extras"},
    "kube": {"core", "kube", "extras"},
    "sessions": {"core", "sources", "sinks", "sessions", "kube", "extras"},
    "cli": {"core", "sources", "sinks", "sessions", "kube", "extras", "cli", "__init__"},
}
TOP_LEVEL = {"__init__", "__main__", "extras"}
"""Modules directly in arpwatch_lb/ (no package of their own)."""
CORE_FORBIDDEN = {"socket", "select", "time", "os", "sys", "subprocess", "fcntl", "ctypes",
                  "urllib", "http", "datetime", "random", "pathlib", "io", "netifaces", "scapy",
                  "click", "tabulate", "kubernetes", "prometheus_client"}
"""What the pure core must not import: I/O, clocks, randomness and the optional libraries."""


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def _imports(path: Path, source: str | None = None) -> list[tuple[int, str]]:
    """(level, absolute-or-relative dotted name) of every import in ``path`` (or ``source``)."""
    tree = ast.parse(path.read_text() if source is None else source, str(path))
    out: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(0, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level and not node.module:  # from . import x / from .. import x
                out += [(node.level, a.name) for a in node.names]
            else:
                out.append((node.level, node.module or ""))
    return out


def _resolve(path: Path, level: int, name: str) -> str:
    """The absolute module name an import means."""
    if level == 0:
        return name
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    base = parts[:-level]
    return ".".join([*base, name] if name else base)


def _package(path: Path) -> str:
    rel = path.relative_to(PACKAGE).parts
    return rel[0] if len(rel) > 1 else rel[0][:-3]


def _violations(path: Path, source: str | None = None) -> list[str]:
    pkg = _package(path)
    allowed = ALLOWED.get(pkg)
    if allowed is None:
        return [] if pkg in TOP_LEVEL else [f"{path}: a module outside the layout's packages"]
    out = []
    for level, name in _imports(path, source):
        target = _resolve(path, level, name)
        top = target.split(".")[0]
        if top == "arpwatch_lb":
            inner = target.split(".")[1] if "." in target else "__init__"
            if not ((PACKAGE / inner).is_dir() or (PACKAGE / f"{inner}.py").exists()):
                inner = "__init__"  # a name defined in arpwatch_lb/__init__.py
            if inner not in allowed:
                out.append(f"{path.relative_to(PACKAGE)} imports {target}")
        elif pkg == "core" and top in CORE_FORBIDDEN:
            out.append(f"core module {path.name} imports {target}")
    return out


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_follow_the_layout(path: Path) -> None:
    assert _violations(path) == []


def test_every_package_says_what_it_owns_and_may_import() -> None:
    for pkg in ALLOWED:
        doc = importlib.import_module(f"arpwatch_lb.{pkg}").__doc__ or ""
        assert "May import" in doc, f"arpwatch_lb.{pkg} has no 'May import' in its docstring"


def test_the_rule_catches_wrong_arrows() -> None:
    """The checker itself can fail: a core module importing a source or a socket is caught."""
    fake = PACKAGE / "core" / "imaginary.py"
    found = _violations(fake, "from ..sources import capture_files\n"
                              "def f():\n    import socket\n")
    assert found == ["core/imaginary.py imports arpwatch_lb.sources",
                     "core module imaginary.py imports socket"]
    assert _violations(PACKAGE / "sinks" / "x.py", "from ..sessions.watch import X\n") == [
        "sinks/x.py imports arpwatch_lb.sessions.watch"]
