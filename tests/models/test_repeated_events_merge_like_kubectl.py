"""Events that say the same thing about the same object merge into one series with a count, first and
last time, as Kubernetes' event correlator merges them; kubectl shows such a series as ``3m (x5 over 10m)``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from fedstate.api.views import EventSeries, merge, series_key
from fedstate.cli.tables import seen
from fedstate.models.events import Event

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def event(reason: str, minutes_ago: float, message: str = "m", instance: str = "t/default/a") -> Event:
    return Event(
        instance=instance,
        reason=reason,
        message=message,
        component="federation",
        time=NOW - timedelta(minutes=minutes_ago),
    )


def test_five_identical_events_are_one_series() -> None:
    found = merge([event("Elected", 10), event("Scaled", 9), *(event("Elected", m) for m in (7, 5, 4, 3))])
    assert [("Scaled", 1), ("Elected", 5)] == [(s.event.reason, s.count) for s in found]
    elected = found[1]
    assert (NOW - timedelta(minutes=10), NOW - timedelta(minutes=3)) == (elected.first, elected.last)
    assert "3m (x5 over 10m)" == seen(elected, NOW)
    assert "9m" == seen(found[0], NOW)


def test_a_different_message_or_object_is_another_series() -> None:
    found = merge([event("Elected", 3, "member-2"), event("Elected", 2, "member-3"), event("Elected", 1, instance="b")])
    assert [1, 1, 1] == [s.count for s in found]


events = st.builds(
    event,
    reason=st.sampled_from(["Elected", "Scaled", "Failover"]),
    minutes_ago=st.integers(min_value=0, max_value=120),
    message=st.sampled_from(["m1", "m2"]),
    instance=st.sampled_from(["t/default/a", "t/default/b"]),
)


@given(st.lists(events, max_size=40), st.randoms())
def test_merging_keeps_every_occurrence_once(found: list[Event], shuffle: object) -> None:
    series = merge(found)
    assert len(found) == sum(s.count for s in series)
    assert len({series_key(e) for e in found}) == len(series) == len({series_key(s.event) for s in series})
    for s in series:
        times = [e.time for e in found if series_key(e) == series_key(s.event)]
        assert (min(times), max(times), len(times)) == (s.first, s.last, s.count)
        assert s.event.time == s.last
    assert [s.last for s in series] == sorted(s.last for s in series)
    shuffled = list(found)
    shuffle.shuffle(shuffled)  # type: ignore[attr-defined]
    assert _summary(series) == _summary(merge(shuffled))


def _summary(series: list[EventSeries]) -> set[tuple[object, ...]]:
    return {(series_key(s.event), s.count, s.first, s.last) for s in series}
