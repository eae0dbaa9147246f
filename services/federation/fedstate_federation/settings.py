"""Federation service settings."""

from __future__ import annotations

from pydantic import Field

from fedstate.settings import ServiceSettings


class FederationSettings(ServiceSettings):
    # Seeds the per-instance keyFile and generated passwords; keep it stable across restarts.
    secret: str = Field(default="fedstate-dev-secret", description="control-plane secret (FEDSTATE_SECRET)")
