"""Federation service settings."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from fedstate.settings import ServiceSettings


class FederationSettings(ServiceSettings):
    # Every change reaches the orchestrator by a watch (specs, placements, data-plane specs, reports, leases):
    # this look at a steady instance is only a safety net. At 30 s it was 7-12 % of a core at 300 instances.
    resync_seconds: float = Field(300.0, gt=0, description="seconds between two looks at a steady instance")
    # A status change clients wait for (state, observedGeneration, a condition turning) is written at once;
    # other progress (a member's role, an address, a message) at most this often per instance, the last always.
    status_progress_seconds: float = Field(
        0.5, ge=0, description="seconds between two writes of an instance's status that change only its progress"
    )
    # The federation's X25519 key ring (fedstate.sealing), made by the admin bootstrap: no default, no start without.
    federation_key_file: Path | None = Field(
        default=None, description="the federation's sealing key ring (`fedstate bus bootstrap --federation-key`)"
    )
