"""``fedstate wait --for``: parse the condition, then poll the gateway until it holds or time runs out.

Forms: ``state=Health``, ``condition=ServerReady`` (status "True"; or ``condition=X=False``), ``delete``.
States, condition types and statuses compare without regard to case, as kubectl's do (``state=health``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .errors import CliError
from .tables import state

if TYPE_CHECKING:
    from fedstate.api.views import ObjectView


@dataclass(frozen=True)
class WaitFor:
    kind: str  # state | condition | delete
    name: str = ""
    value: str = ""

    def __str__(self) -> str:
        if self.kind == "delete":
            return "delete"
        return f"{self.kind}={self.name}" + (f"={self.value}" if self.kind == "condition" else "")

    def met(self, obj: ObjectView | None) -> bool:
        """Whether ``obj`` (None when the object is gone) satisfies the condition."""
        if self.kind == "delete":
            return obj is None
        if obj is None or not current(obj):
            return False
        if self.kind == "state":
            return state(obj).casefold() == self.name.casefold()
        conditions = (obj.status or {}).get("conditions") or []
        return any(_same(c.get("type"), self.name) and _same(c.get("status"), self.value) for c in conditions)


def _same(found: object, wanted: str) -> bool:
    return isinstance(found, str) and found.casefold() == wanted.casefold()


def current(obj: ObjectView) -> bool:
    """The status describes the latest spec (observedGeneration, where the kind reports one, caught up)."""
    observed = (obj.status or {}).get("observedGeneration")
    return observed is None or int(observed) >= int(obj.metadata.get("generation") or 0)


def parse_for(text: str) -> WaitFor:
    if text == "delete":
        return WaitFor("delete")
    kind, _, rest = text.partition("=")
    if kind == "state" and rest:
        return WaitFor("state", rest)
    if kind == "condition" and rest:
        name, _, value = rest.partition("=")
        return WaitFor("condition", name, value or "True")
    raise CliError(f"--for {text!r}: expected state=STATE, condition=TYPE[=STATUS] or delete")


def parse_timeout(text: str) -> float:
    """Seconds, or a number with s/m/h: ``180``, ``180s``, ``3m``."""
    units = {"s": 1, "m": 60, "h": 3600}
    number, unit = (text[:-1], text[-1]) if text and text[-1] in units else (text, "s")
    try:
        return float(number) * units[unit]
    except ValueError:
        raise CliError(f"--timeout {text!r}: expected seconds such as 180 or 3m") from None


def describe_now(obj: ObjectView | None) -> str:
    if obj is None:
        return "it is gone"
    stale = "" if current(obj) else f", status still of generation {(obj.status or {}).get('observedGeneration')}"
    return f"state is {state(obj)}{stale}"


def wait_until(
    read: Callable[[], ObjectView | None],
    condition: WaitFor,
    timeout: float,
    interval: float = 0.5,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> ObjectView | None:
    """Poll ``read`` until ``condition`` holds; ``CliError`` with the last observed state on timeout."""
    deadline = clock() + timeout
    while True:
        obj = read()
        if obj is None and condition.kind != "delete":
            raise CliError(f"cannot wait for {condition}: the object does not exist")
        if condition.met(obj):
            return obj
        if clock() >= deadline:
            raise CliError(f"timed out after {timeout:g}s waiting for {condition} ({describe_now(obj)})")
        sleep(min(interval, max(0.0, deadline - clock())))
