"""Federation service settings."""

from __future__ import annotations

from pydantic import Field

from fedstate.settings import ServiceSettings


class FederationSettings(ServiceSettings):
    # Seeds the per-instance keyFile and generated passwords; keep it stable across restarts.
    # Every change reaches the orchestrator by a watch (specs, placements, data-plane specs, reports, leases):
    # this look at a steady instance is only a safety net. At 30 s it was 7-12 % of a core at 300 instances.
    resync_seconds: float = Field(300.0, gt=0, description="seconds between two looks at a steady instance")
    secret: str = Field(default="fedstate-dev-secret", description="control-plane secret (FEDSTATE_SECRET)")
