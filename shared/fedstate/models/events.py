"""Events as people read them: the record each service publishes on ``FS_EVENTS``.

A service publishes one record per occurrence (``fedstate.bus.events.emit``); readers merge the
records that say the same thing about the same object into one series with a count, the first
and the last time, as Kubernetes' event correlator does (``3m (x5 over 10m)``):
``fedstate.api.views.merge``, which reads these records and the CLI's views of them alike.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from .base import WireModel


class Event(WireModel):
    instance: str  # tenant/namespace/name
    type: Literal["Normal", "Warning"] = "Normal"
    reason: str
    message: str
    component: str
    time: datetime
