"""A gateway served from a background thread for CLI tests, and a way to run bus writes on its loop."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from fedstate.bus.connection import Bus

T = TypeVar("T")


@dataclass
class ServedGateway:
    url: str
    tenant: str
    bus: Bus
    loop: asyncio.AbstractEventLoop
    token: str
    tokens_file: Path

    @property
    def headers(self) -> dict[str, str]:
        """For a test's own HTTP requests: the admin token the CLI sends too."""
        return {"Authorization": f"Bearer {self.token}"}

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run ``coroutine`` on the gateway's loop (where ``bus`` lives) and return its result."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=30)
