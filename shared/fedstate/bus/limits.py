"""How large an object the bus takes, in one import-light module: the CLI checks it before sending."""

from __future__ import annotations

import json
from typing import Any

# The largest object the intake takes, measured as compact UTF-8 JSON. NATS refuses a message over the
# server's max_payload (1 MiB by default); a request, its reply and the stored envelope each carry the
# object once, with room left for metadata. The gateway and the CLI refuse a larger object before the bus.
MAX_OBJECT_BYTES = 512 * 1024
# The largest bus value a reader takes: NATS's default max_payload, which fedstate's servers keep. No writer of
# ours comes near it; only a server configured larger could store a larger value, and readers refuse it.
MAX_VALUE_BYTES = 1024 * 1024


def object_size(obj: Any) -> int:
    """Bytes of ``obj`` as compact UTF-8 JSON, the measure ``MAX_OBJECT_BYTES`` limits."""
    return len(json.dumps(obj, separators=(",", ":"), ensure_ascii=False, default=str).encode())


def in_units(size: int) -> str:
    return f"{size / 2**20:.1f} MiB" if size >= 2**20 else f"{size / 2**10:.0f} KiB"


def too_large(what: str, size: int, measured: str = "as JSON") -> str:
    """``ConfigMap "big" is too large: 10.0 MiB as JSON, an object may be at most 512 KiB``."""
    return f"{what} is too large: {in_units(size)} {measured}, an object may be at most {in_units(MAX_OBJECT_BYTES)}"


__all__ = ["MAX_OBJECT_BYTES", "MAX_VALUE_BYTES", "in_units", "object_size", "too_large"]
