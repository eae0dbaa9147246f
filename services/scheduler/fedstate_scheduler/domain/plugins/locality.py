"""Score: clusters already running members of this instance rate higher, so placements stay put."""

from __future__ import annotations

from collections.abc import Sequence

from ..framework import Candidate, Context

NAME = "Locality"
HOLDS_MEMBERS_SCORE = 100.0


class Locality:
    name = NAME

    def score(self, ctx: Context, candidates: Sequence[Candidate]) -> list[float]:
        """100 for a cluster that holds members of the current placement, 0 otherwise."""
        return [HOLDS_MEMBERS_SCORE if ctx.current.get(c.name, 0) else 0.0 for c in candidates]
