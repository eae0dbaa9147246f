"""Federation service settings."""

from __future__ import annotations

from fedstate.settings import ServiceSettings
from pydantic import Field


class FederationSettings(ServiceSettings):
    # Seeds the per-instance keyFile and generated passwords; keep it stable across restarts.
    secret: str = Field(default="fedstate-dev-secret", description="control-plane secret (FEDSTATE_SECRET)")
