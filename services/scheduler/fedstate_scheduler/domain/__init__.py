"""The scheduler's pure core: placement decisions from frozen snapshots, no I/O."""

from __future__ import annotations

from .nodes import interned
from .pipeline import decide
from .request import MemberShape, PlacementRequest, Reservation

__all__ = ["MemberShape", "PlacementRequest", "Reservation", "decide", "interned"]
