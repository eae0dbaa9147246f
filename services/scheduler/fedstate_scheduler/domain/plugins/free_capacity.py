"""Score: clusters that can hold more members of this instance rate higher (0 to 100)."""

from __future__ import annotations

from collections.abc import Sequence

from ..framework import Candidate, Context

NAME = "FreeCapacity"
MAX_SCORE = 100.0


class FreeCapacity:
    name = NAME

    def score(self, ctx: Context, candidates: Sequence[Candidate]) -> list[float]:
        """Members a cluster can hold, as a share of the roomiest candidate's, times 100."""
        most = max((c.capacity for c in candidates), default=0)
        if most == 0:
            return [0.0 for _ in candidates]
        return [round(MAX_SCORE * c.capacity / most, 2) for c in candidates]
