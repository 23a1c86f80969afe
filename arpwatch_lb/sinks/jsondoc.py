"""The JSON sink: the report document, one object."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any


def render_json(report: Mapping[str, Any]) -> str:
    """Serialize the report (stable key order, two-space indent)."""
    return json.dumps(report, indent=2)
