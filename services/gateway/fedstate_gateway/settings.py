"""Gateway settings: the common service settings plus where the REST API listens."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from fedstate.settings import ServiceSettings


class GatewaySettings(ServiceSettings):
    api_host: str = Field(default="127.0.0.1", description="address the REST API listens on")
    api_port: int = Field(default=8080, description="port of the REST API")
    intake_timeout_seconds: float = Field(default=10.0, description="how long to wait for the intake's reply")
    watch_bookmark_seconds: float = Field(default=15.0, description="a watch's BOOKMARK event comes this often")
    watch_timeout_seconds: int = Field(default=1800, description="a watch ends after this long unless asked shorter")
    watch_history: int = Field(default=2000, description="recent changes kept for watches that resume")
    watch_queue_limit: int = Field(default=1000, description="events a slow watch may fall behind before it is ended")
    tokens_file: Path | None = Field(
        default=None,
        description="the API tokens, hashed (fedstate token create writes it); unset: every API request is a 401",
    )
