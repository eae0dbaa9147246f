"""Jepsen-style: under random partitions (non-transitive ones too), kills and cluster failures, every
acknowledged w:"majority" write is on the final primary; the same run with w:1 loses acknowledged writes.

FEDSTATE_JEPSEN_SEED=<n> replays a run's fault schedule (the seed is printed with the operation log when a
run fails); FEDSTATE_JEPSEN_SECONDS=<s> makes the w:"majority" run longer than its default.
"""

from __future__ import annotations

import os
import random

from jepsen_support import run

MAJORITY_SECONDS = float(os.environ.get("FEDSTATE_JEPSEN_SECONDS", "40"))
# Schedules whose w:1 runs lose acknowledged writes: proof the checker can fail. Whether a run loses any depends on
# timing as well (a loaded machine may elect before a write lands on the isolated primary): the next seed is tried.
W1_SEEDS = (2, 7, 11)
W1_SECONDS = 15.0
MEMBERSHIP_SECONDS = float(os.environ.get("FEDSTATE_JEPSEN_SECONDS", "30"))
MIN_ACKNOWLEDGED = 50  # a run that acknowledged almost nothing proves nothing


def _seed() -> int:
    given = os.environ.get("FEDSTATE_JEPSEN_SEED")
    return int(given) if given else random.SystemRandom().randrange(1_000_000)


def test_every_acknowledged_majority_write_survives_random_faults() -> None:
    """After healing: exactly one primary, and it holds every acknowledged w:"majority" write (read majority)."""
    seed = _seed()
    print(f"jepsen seed {seed} (FEDSTATE_JEPSEN_SEED={seed} replays its fault schedule)")
    verdict = run(seed, "majority", MAJORITY_SECONDS, octet=232)
    assert len(verdict.acknowledged) >= MIN_ACKNOWLEDGED, verdict.report()
    assert 1 == len(verdict.primaries), verdict.report()
    assert [] == verdict.lost, verdict.report()


def test_every_acknowledged_majority_write_survives_membership_changes_among_faults() -> None:
    """The same faults, and the primary removes members and adds them back (one voter at a time): every
    acknowledged w:"majority" write survives. A reconfig must wait until what the old config committed is
    committed in the new one (mongod's oplog commitment), or two shrinking steps can leave a write on a minority."""
    seed = _seed()
    print(f"jepsen seed {seed} (FEDSTATE_JEPSEN_SEED={seed} replays its fault schedule)")
    verdict = run(seed, "majority", MEMBERSHIP_SECONDS, octet=234, membership=True)
    assert len(verdict.acknowledged) >= MIN_ACKNOWLEDGED, verdict.report()
    assert 1 == len(verdict.primaries), verdict.report()
    assert [] == verdict.lost, verdict.report()


def test_the_checker_finds_lost_writes_when_writes_are_acknowledged_by_the_primary_alone() -> None:
    """The same faults with w:1: some acknowledged writes were rolled back and are missing on the final primary."""
    for seed in W1_SEEDS:
        verdict = run(seed, 1, W1_SECONDS, octet=233)
        assert 1 == len(verdict.primaries), verdict.report()
        if verdict.lost:
            break
    assert verdict.lost, verdict.report()
    assert verdict.rollbacks, verdict.report()
