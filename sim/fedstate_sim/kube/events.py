"""core/v1 Events written by the simulated controllers, de-duplicated like client-go's recorder:
the same (object, reason, message) bumps ``count`` and ``lastTimestamp`` instead of adding an Event.
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING

from fedstate_sim.kube import errors
from fedstate_sim.kube.meta import Obj, meta, name_of, uid_of
from fedstate_sim.kube.resources import EVENTS

if TYPE_CHECKING:
    from fedstate_sim.kube.store import ObjectStore


_MAX_REMEMBERED = 10_000


class EventRecorder:
    def __init__(self, store: ObjectStore, host: str) -> None:
        self._store = store
        self._host = host
        self._seen: dict[tuple[str, str, str], tuple[str, str]] = {}  # → (namespace, event name)

    def normal(self, involved: Obj, reason: str, message: str, component: str) -> None:
        self.record(involved, "Normal", reason, message, component)

    def warning(self, involved: Obj, reason: str, message: str, component: str) -> None:
        self.record(involved, "Warning", reason, message, component)

    def record(self, involved: Obj, type_: str, reason: str, message: str, component: str) -> None:
        key = (uid_of(involved), reason, message)
        if key in self._seen and self._bump(*self._seen[key]):
            return
        namespace = meta(involved).get("namespace") or "default"
        try:
            event = self._store.create(
                EVENTS, self._new_event(involved, type_, reason, message, component), namespace, owned=True
            )
        except errors.ApiError:
            return  # namespace gone: nothing to tell
        if len(self._seen) >= _MAX_REMEMBERED:
            self._seen.clear()
        self._seen[key] = (namespace, name_of(event))

    def _bump(self, namespace: str, name: str) -> bool:
        def bump(event: Obj) -> None:
            event["count"] = int(event.get("count", 1)) + 1
            event["lastTimestamp"] = self._store.clock.timestamp()

        return self._store.mutate(EVENTS, namespace, name, bump) is not None

    def _new_event(self, involved: Obj, type_: str, reason: str, message: str, component: str) -> Obj:
        now = self._store.clock.timestamp()
        return {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": f"{name_of(involved)}.{secrets.token_hex(8)}"},
            "involvedObject": {
                "apiVersion": involved.get("apiVersion"),
                "kind": involved.get("kind"),
                "name": name_of(involved),
                "namespace": meta(involved).get("namespace"),
                "uid": uid_of(involved),
                "resourceVersion": meta(involved).get("resourceVersion"),
            },
            "reason": reason,
            "message": message,
            "type": type_,
            "count": 1,
            "firstTimestamp": now,
            "lastTimestamp": now,
            "source": {"component": component, "host": self._host},
            "reportingComponent": component,
            "reportingInstance": f"{component}-fedstate-simulator",
        }
