"""Printing for the CLI: kubectl-like tables, YAML/JSON documents, ages and resource amounts.

Tables are laid out as kubectl's tabwriter does: each column as wide as its widest cell, three
spaces apart, and no cell is ever cut or dropped. On a terminal a row wider than the screen
wraps its last column (the free text: MESSAGE) inside that column; when even that leaves too
little room, the line is printed whole and the terminal wraps it. Piped output is never wrapped,
so ``fedstate events | grep Failover`` sees every event on one line.
"""

from __future__ import annotations

import json
import shutil
import sys
import textwrap
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

GAP = 3
# Below this many columns left for the last column, wrapping it would only make a tall thin mess.
MIN_WRAP_WIDTH = 20
GIB = 1024**3
MIB = 1024**2


def terminal_width() -> int | None:
    """The screen's width when stdout is a terminal; None when piped (nothing is wrapped then)."""
    if not sys.stdout.isatty():
        return None
    return shutil.get_terminal_size().columns


def layout(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    width: int | None = None,
    indent: int = 0,
    header: bool = True,
) -> list[str]:
    """The lines of a table; with ``width``, rows too wide wrap their last column within it."""
    given = [list(headers), *(list(r) for r in rows)] if header else [list(r) for r in rows]
    if not given:
        return []
    columns = max(len(line) for line in given)
    lines = [line + [""] * (columns - len(line)) for line in given]
    widths = [max(len(line[i]) for line in lines) for i in range(columns - 1)]
    start = indent + sum(widths) + GAP * len(widths)
    room = None if width is None else width - start
    wrap = room if room is not None and room >= MIN_WRAP_WIDTH else None
    printed = []
    for line in lines:
        prefix = " " * indent + "".join(cell.ljust(w + GAP) for cell, w in zip(line[:-1], widths, strict=True))
        last = line[-1]
        pieces = textwrap.wrap(last, wrap, break_on_hyphens=False) if wrap and len(last) > wrap else [last]
        printed.append((prefix + pieces[0]).rstrip())
        printed += [" " * start + piece for piece in pieces[1:]]
    return printed


def print_table(headers: Sequence[str], rows: Sequence[Sequence[str]], indent: int = 0, header: bool = True) -> None:
    print_lines(*layout(headers, rows, terminal_width(), indent, header))


def print_lines(*lines: str) -> None:
    for line in lines:
        print(line)


def print_document(data: Any, output: str) -> None:
    """``-o json`` or ``-o yaml`` of a wire dict, printed as-is (no markup)."""
    if output == "json":
        text = json.dumps(data, indent=2)
    else:
        import yaml  # only this output needs it

        text = yaml.safe_dump(data, sort_keys=False, default_flow_style=False).rstrip("\n")
    print(text)


def parse_time(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if not value:
        return None
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def age(value: Any, now: datetime | None = None) -> str:
    """kubectl's short ages: 42s, 3m10s, 3m, 25m, 5h3m, 3d4h, 40d."""
    since = parse_time(value)
    if since is None:
        return "<unknown>"
    seconds = int(max(0.0, ((now or datetime.now(UTC)) - since).total_seconds()))
    minutes, hours, days = seconds // 60, seconds // 3600, seconds // 86400
    if seconds < 120:
        return f"{seconds}s"
    if minutes < 10:
        return _two(minutes, "m", seconds % 60, "s")
    if hours < 3:
        return f"{minutes}m"
    if hours < 8:
        return _two(hours, "h", minutes % 60, "m")
    if days < 2:
        return f"{hours}h"
    return _two(days, "d", hours % 24, "h") if days < 8 else f"{days}d"


def _two(big: int, big_unit: str, small: int, small_unit: str) -> str:
    """``3m10s``, but ``3m`` rather than ``3m0s`` (Go's duration.HumanDuration, which kubectl prints)."""
    return f"{big}{big_unit}{small}{small_unit}" if small else f"{big}{big_unit}"


def cpu(millis: int) -> str:
    """Cores, as kubectl top shows capacity: ``24``, ``21.6``."""
    return f"{millis // 1000}" if millis % 1000 == 0 else f"{millis / 1000:.1f}"


def memory(amount: int) -> str:
    if amount % GIB == 0 or amount >= 10 * GIB:
        return f"{amount // GIB}Gi"
    return f"{amount // MIB}Mi"
