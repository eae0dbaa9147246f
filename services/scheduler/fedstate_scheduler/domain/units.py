"""Human-readable CPU and memory figures for explanations ("1500m", "768Mi")."""

from __future__ import annotations

_BINARY_UNITS = (("Ti", 1 << 40), ("Gi", 1 << 30), ("Mi", 1 << 20), ("Ki", 1 << 10))


def cpu(millis: int) -> str:
    return f"{millis // 1000}" if millis % 1000 == 0 else f"{millis}m"


def memory(size: int) -> str:
    for suffix, factor in _BINARY_UNITS:
        if size >= factor:
            value = size / factor
            return f"{value:.0f}{suffix}" if value == int(value) else f"{value:.1f}{suffix}"
    return f"{size}"
