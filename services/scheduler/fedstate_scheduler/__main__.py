"""``python -m fedstate_scheduler``: run the scheduler service (NATS URL from FEDSTATE_NATS_URL)."""

from __future__ import annotations

import gc

from fedstate.service import run
from fedstate.settings import ServiceSettings

from .heap import HeapKeeper
from .service import make_body


def main() -> None:
    settings = ServiceSettings()
    # Everything imported so far lives as long as the process: keep it out of the cyclic
    # collector's full passes, which otherwise dominate a decision's p99 (docs/performance.md);
    # the HeapKeeper does the same for snapshots as heartbeats arrive.
    gc.freeze()
    run("scheduler", settings, make_body(settings, heap=HeapKeeper()))


if __name__ == "__main__":
    main()
