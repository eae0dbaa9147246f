"""Printing for the CLI: kubectl-like tables, YAML/JSON documents, ages and resource amounts."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import yaml
from rich.console import Console
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

WIDE_ENOUGH = 250
GIB = 1024**3
MIB = 1024**2


def console() -> Console:
    """Stdout; when not a terminal (pipes, tests) wide enough that tables never wrap."""
    terminal = Console(highlight=False)
    return terminal if terminal.is_terminal else Console(highlight=False, width=WIDE_ENOUGH)


def print_table(headers: Sequence[str], rows: Sequence[Sequence[str]], indent: int = 0, header: bool = True) -> None:
    table = Table(
        box=None, show_edge=False, pad_edge=False, padding=(0, 3, 0, 0), header_style="bold", show_header=header
    )
    for title in headers:
        table.add_column(title, no_wrap=True)
    for row in rows:
        table.add_row(*(Text(cell) for cell in row))
    out = console()
    with out.capture() as captured:
        out.print(Padding(table, (0, 0, 0, indent), expand=False))
    # rich pads the last column to its widest cell; kubectl does not.
    print("\n".join(line.rstrip() for line in captured.get().splitlines()))


def print_lines(*lines: str) -> None:
    out = console()
    for line in lines:
        out.print(Text(line), soft_wrap=True)


def print_document(data: Any, output: str) -> None:
    """``-o json`` or ``-o yaml`` of a wire dict, printed as-is (no markup)."""
    if output == "json":
        text = json.dumps(data, indent=2)
    else:
        text = yaml.safe_dump(data, sort_keys=False, default_flow_style=False).rstrip("\n")
    print(text)


def parse_time(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if not value:
        return None
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def age(value: Any, now: datetime | None = None) -> str:
    """kubectl's short ages: 42s, 3m10s, 25m, 5h3m, 3d4h, 40d."""
    since = parse_time(value)
    if since is None:
        return "<unknown>"
    seconds = int(max(0.0, ((now or datetime.now(UTC)) - since).total_seconds()))
    minutes, hours, days = seconds // 60, seconds // 3600, seconds // 86400
    if seconds < 120:
        return f"{seconds}s"
    if minutes < 10:
        return f"{minutes}m{seconds % 60}s"
    if hours < 3:
        return f"{minutes}m"
    if hours < 8:
        return f"{hours}h{minutes % 60}m"
    if days < 2:
        return f"{hours}h"
    return f"{days}d{hours % 24}h" if days < 8 else f"{days}d"


def cpu(millis: int) -> str:
    """Cores, as kubectl top shows capacity: ``24``, ``21.6``."""
    return f"{millis // 1000}" if millis % 1000 == 0 else f"{millis / 1000:.1f}"


def memory(amount: int) -> str:
    if amount % GIB == 0 or amount >= 10 * GIB:
        return f"{amount // GIB}Gi"
    return f"{amount // MIB}Mi"
