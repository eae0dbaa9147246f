"""``Lease``: a member-cluster service's "I am alive", renewed on a fixed period (``fs-leases``).

Like a Kubernetes node Lease next to the node status: reports are written only when they change,
so their age says nothing about the writer; a reader judges liveness from the lease alone.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import Field

from .base import WireModel


class Lease(WireModel):
    holder: str = Field(description="the member cluster whose service renews this lease")
    component: str = Field(description="which service of that cluster, e.g. dataplane-agent")
    renewed_at: datetime
    renew_every_seconds: float = Field(gt=0, description="the period the holder promises to renew on")
    # A data-plane agent's X25519 public key (base64), to which the federation seals the cluster's credentials.
    public_key: str = Field(default="", description="the holder's sealing public key (data-plane agents)")
    fingerprint: str = Field(default="", description="SHA256 fingerprint of public_key, to compare by eye")

    def silent_for(self, now: datetime) -> timedelta:
        return max(timedelta(0), now - self.renewed_at)

    def alive(self, now: datetime, failure_threshold: timedelta) -> bool:
        return self.silent_for(now) <= failure_threshold


class LeaderLease(WireModel):
    """Which replica of a central service does its work (``fs-leases.leader.<service>.<scope>``), as a Kubernetes
    coordination Lease: the holder renews it with compare-and-set; the others take it over once it has not
    changed for ``duration_seconds`` by their own clock (never by ``renewed_at``: clocks of two hosts differ)."""

    holder: str = Field(description="the replica holding the lease: its host and process")
    service: str = Field(description="the service it leads, e.g. scheduler")
    duration_seconds: float = Field(gt=0, description="how long the others wait on an unchanged lease before taking it")
    acquired_at: datetime
    renewed_at: datetime = Field(description="for people reading it; no decision is taken from it")
    transitions: int = Field(default=0, ge=0, description="how many times the lease changed hands")
