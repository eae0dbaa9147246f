"""``python -m fedstate_scheduler``: run the scheduler service (NATS URL from FEDSTATE_NATS_URL)."""

from __future__ import annotations

from fedstate.service import run
from fedstate.settings import ServiceSettings

from .heap import HeapKeeper
from .service import make_body


def main() -> None:
    settings = ServiceSettings()
    # The service runtime freezes what start-up built (``fedstate.service.settle_start_up``); the
    # HeapKeeper does the same for snapshots as heartbeats arrive (docs/performance.md).
    run("scheduler", settings, make_body(settings, heap=HeapKeeper()))


if __name__ == "__main__":
    main()
