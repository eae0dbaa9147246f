"""``python -m fedstate_federation``: intake responder + orchestrator."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack

from fedstate.bus.connection import Bus
from fedstate.sealing import KeyRing, SealingError
from fedstate.service import run
from fedstate.settings import load_settings

from .intake import serve_intake
from .orchestrator import Orchestrator
from .settings import FederationSettings
from .vault import Vault


def federation_vault(settings: FederationSettings) -> Vault:
    """The federation's key ring, which the admin bootstrap made: without it, nothing could be sealed or opened."""
    path = settings.federation_key_file
    if path is None:
        raise SystemExit(
            "error: FEDSTATE_FEDERATION_KEY_FILE (--federation-key-file) is not set: the federation seals every "
            "credential with its own key, made by `fedstate bus bootstrap --federation-key PATH` (docs/security.md)"
        )
    try:
        return Vault(KeyRing.read(path))
    except (OSError, ValueError, SealingError) as exc:
        raise SystemExit(f"error: cannot read the federation key ring {path}: {exc}") from None


async def body(bus: Bus, stack: AsyncExitStack, settings: FederationSettings, vault: Vault) -> None:
    subscription = await serve_intake(bus, vault)
    stack.push_async_callback(subscription.unsubscribe)
    orchestrator = Orchestrator(bus, settings, vault)
    stack.push_async_callback(orchestrator.controller.close)
    await orchestrator.run()
    await asyncio.Event().wait()


def main() -> None:
    settings = load_settings(FederationSettings)
    vault = federation_vault(settings)
    run("federation", settings, lambda bus, stack: body(bus, stack, settings, vault))


if __name__ == "__main__":
    main()
