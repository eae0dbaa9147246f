"""Failover waits while most clusters holding members are silent at once (the federation's view is the likelier
fault), and goes ahead for a cluster that falls silent alone: the pure rule. The scheduler keeping to it against
NATS: tests/scheduler/test_scheduler_service_writes_placements.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from fedstate_scheduler.domain.disruption import MIN_SILENT, disruption

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
AFTER = timedelta(seconds=60)
silences = st.lists(st.one_of(st.none(), st.integers(0, 600)), min_size=1, max_size=120)
fractions = st.floats(0.05, 1.0)


def heard(silent_seconds: list[int | None]) -> dict[str, datetime | None]:
    """Cluster k last heard ``silent_seconds[k]`` seconds ago (None: never)."""
    return {
        f"c{k}": None if seconds is None else NOW - timedelta(seconds=seconds)
        for k, seconds in enumerate(silent_seconds)
    }


def silent_count(silent_seconds: list[int | None]) -> int:
    return sum(1 for s in silent_seconds if s is None or s > AFTER.total_seconds())


@given(silences, fractions)
def test_held_exactly_when_more_than_the_fraction_and_at_least_two_are_silent(
    silent_seconds: list[int | None], fraction: float
) -> None:
    found = disruption(heard(silent_seconds), NOW, AFTER, fraction)
    silent = silent_count(silent_seconds)
    assert (found is not None) == (silent >= MIN_SILENT and silent > fraction * len(silent_seconds))
    if found is not None:
        assert (found.silent, found.in_use) == (silent, len(silent_seconds))


@given(st.integers(1, 200), st.integers(0, 600))
def test_one_silent_cluster_is_always_failed_over(fleet: int, silent_for: int) -> None:
    """However small the fleet: a single cluster falling silent is that cluster's failure."""
    assert disruption(heard([silent_for] + [0] * (fleet - 1)), NOW, AFTER) is None


@given(silences, st.integers(0, 119))
def test_more_silence_never_lifts_a_hold(silent_seconds: list[int | None], which: int) -> None:
    quieter = list(silent_seconds)
    quieter[which % len(quieter)] = None
    if disruption(heard(silent_seconds), NOW, AFTER) is not None:
        assert disruption(heard(quieter), NOW, AFTER) is not None


@given(silences)
def test_a_fraction_of_one_never_holds(silent_seconds: list[int | None]) -> None:
    assert disruption(heard(silent_seconds), NOW, AFTER, 1.0) is None
