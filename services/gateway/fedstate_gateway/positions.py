"""Where a watch stands: a **position**, the revision of each bucket a user object is made of.

Written ``<fs-spec>.<fs-status>.<fs-local-objects>`` (``"812.1930.4"``). A list carries the position it was read
at in ``metadata.resourceVersion`` and every watch event's object the position just after it, as kube-apiserver's
do, so a client resumes after the last event it saw. A position is made of bus revisions, so any gateway can
resume it; one older than the feed's history (or than this gateway's start) is ``410 Expired`` and the client
lists again. An object read with ``GET`` keeps its ``fs-spec`` revision as resourceVersion: that is what a write
is checked against (``writes.py`` also accepts a position there). Decision 0010 says why.
"""

from __future__ import annotations

from enum import StrEnum
from typing import NamedTuple


class Source(StrEnum):
    """The buckets a position counts revisions of, in the order it writes them."""

    SPEC = "spec"
    STATUS = "status"
    LOCAL = "local"


class Position(NamedTuple):
    spec: int = 0
    status: int = 0
    local: int = 0

    def __str__(self) -> str:
        return f"{self.spec}.{self.status}.{self.local}"

    @classmethod
    def parse(cls, text: str) -> Position:
        """``ValueError`` unless ``text`` is three non-negative integers joined by dots."""
        parts = text.split(".")
        if len(parts) != len(Source) or not all(p.isdigit() for p in parts):
            raise ValueError(f"{text!r} is not a watch position")
        return cls(*(int(p) for p in parts))

    def of(self, source: Source) -> int:
        return int(getattr(self, source.value))


class Expired(Exception):
    """A position the feed cannot replay from: older than its history, or newer than the bus."""
