"""``bench/scale.py`` measures the steady state over a window that starts midway between the agents' heartbeats and
well away from the collectors' resync beats, all on shared wall-clock beats, and lasts --steady-seconds from one
reading of the processes' CPU to the next: a window of whole periods then holds one renewal of each per period,
wherever the clock stood when the fleet went quiet. Started anywhere, a 60 s window (62.5 s with the reading of
the other counters) held one or two of the collectors' 60 s beats and its figure swung up to twice the rate."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from bench.scale_probes import until_steady_window


def beats_within(start: float, end: float, every: float) -> int:
    """How many multiples of ``every`` lie in [start, end]."""
    return math.floor(end / every) - math.ceil(start / every) + 1


@given(
    st.floats(min_value=0, max_value=2e9),
    st.sampled_from([(60.0, 5.0), (60.0, 1.0), (30.0, 5.0), (300.0, 5.0)]),
    st.integers(min_value=1, max_value=5),
    st.floats(min_value=0, max_value=0.45),
)
def test_a_window_of_whole_periods_holds_one_beat_of_each_per_period(
    clock: float, periods: tuple[float, float], whole: int, overhead_share: float
) -> None:
    resync, heartbeat = periods
    wait = until_steady_window(clock, resync, heartbeat)
    assert 0 <= wait < resync + 1e-6
    start = clock + wait
    # The processes' CPU is read in a moment at either end: well within half a heartbeat.
    slack = overhead_share * heartbeat
    end = start + whole * resync + slack
    assert whole == beats_within(start - slack, end, resync)
    assert whole * round(resync / heartbeat) == beats_within(start - slack, end, heartbeat)
