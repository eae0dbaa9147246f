"""Process-wide settings of a simulator process: its garbage collector and its open-file limit."""

from __future__ import annotations

import gc
import logging
import resource

log = logging.getLogger("fedstate_sim")

# The simulator keeps many long-lived JSON objects (every stored version within the watch history,
# thousands of members); with the default thresholds (700, 10, 10) full collections walking all of
# them took about a quarter of the CPU of starting 5,000 members (bench/sim_world.py). Cyclic
# garbage (closed connections, finished tasks) is still collected, only in larger batches.
GC_THRESHOLDS = (50_000, 20, 20)


def tune_gc() -> None:
    """Fewer collections, and none of the objects alive at start-up (imports) walked again."""
    gc.set_threshold(*GC_THRESHOLDS)
    gc.collect()
    gc.freeze()


def raise_file_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        except (ValueError, OSError):
            log.warning("fedstate simulator: could not raise RLIMIT_NOFILE from %s to %s", soft, hard)


def tune_process() -> None:
    raise_file_limit()
    tune_gc()
