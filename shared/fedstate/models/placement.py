"""``Placement``: the scheduler's decision of how many members go to which member cluster, and why."""

from __future__ import annotations

from pydantic import Field

from .base import WireModel


class ClusterAssignment(WireModel):
    cluster: str
    replicas: int  # data-bearing members
    voters: int  # of those, how many vote (at most 7 federation-wide)
    arbiter: bool = False


class ClusterVerdict(WireModel):
    """Why a cluster was kept or dropped, and how it scored: the lines of ``fedstate describe``."""

    cluster: str
    eligible: bool
    reasons: list[str] = Field(default_factory=list)
    score: float | None = None


class Placement(WireModel):
    spec_generation: int
    mode: str
    clusters: list[ClusterAssignment] = Field(default_factory=list)
    schedulable: bool = True
    summary: str = ""
    verdicts: list[ClusterVerdict] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)

    def replicas_by_cluster(self) -> dict[str, int]:
        return {a.cluster: a.replicas for a in self.clusters if a.replicas}
