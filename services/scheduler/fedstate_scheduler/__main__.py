"""``python -m fedstate_scheduler``: run the scheduler service (NATS URL from FEDSTATE_NATS_URL)."""

from __future__ import annotations

from fedstate.heap import HeapKeeper
from fedstate.service import run
from fedstate.settings import ServiceSettings

from .service import make_body


def main() -> None:
    settings = ServiceSettings()
    # One keeper for the process: the runtime settles the heap as it starts and as objects survive, the
    # scheduler also right after it takes in heartbeats (docs/scheduling.md).
    heap = HeapKeeper()
    run("scheduler", settings, make_body(settings, heap=heap), heap)


if __name__ == "__main__":
    main()
