"""Every state each instance's status takes, and every ``State*`` event, recorded from a stack's start.

The invariant it checks after each end-to-end test (issue 14, item 2): an instance's state changes only
together with an event that says why — a ``State<New>`` event whose message reads "… is <New>: <reason>".
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import nats
import nats.errors
import pytest
from nats.js import api

from fedstate.bus.access import nats_servers
from fedstate.bus.names import EVENTS_STREAM, Bucket, events_subject_all, kv_stream, kv_subject
from fedstate.cli.localstack import LocalStack
from fedstate.cli.records import load_state

GRACE_SECONDS = 5.0
SUBSCRIBE_SECONDS = 45.0  # how long the log tries to subscribe to a stack that has just started
_LOGS: dict[int, StateLog] = {}  # an event follows its status write; give it this long to arrive


class StateLog:
    def __init__(self, nats_url: str, options: dict[str, Any]) -> None:
        self._url = nats_url
        self._options = options  # the admin user's
        self._lock = threading.Lock()
        self.states: defaultdict[str, list[str]] = defaultdict(list)  # "tenant/ns/name" → states, in order
        self.told: defaultdict[str, list[tuple[str, str]]] = defaultdict(list)  # → (reason, message)
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="state-log", daemon=True)

    def start(self) -> None:
        self._thread.start()
        if not self._ready.wait(SUBSCRIBE_SECONDS + 10):
            raise RuntimeError("the state log could not subscribe")

    def stop(self) -> None:
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)

    def _run(self) -> None:
        self._loop.run_until_complete(self._follow())

    async def _follow(self) -> None:
        self._stop = asyncio.Event()
        deadline = time.monotonic() + SUBSCRIBE_SECONDS
        while True:
            nc = await nats.connect(nats_servers(self._url), **self._options)
            try:
                await self._subscribe(nc)
                break
            except nats.errors.TimeoutError:
                # A clustered stack's streams are still electing their leaders just after it started (seen in CI:
                # the consumer's creation timed out). Start again on a new connection, so that no half-made
                # subscription of the first try delivers the history twice.
                await nc.close()
                if time.monotonic() > deadline:
                    raise
        self._ready.set()
        await self._stop.wait()
        await nc.close()

    async def _subscribe(self, nc: nats.NATS) -> None:
        js = nc.jetstream()
        every = {"ordered_consumer": True, "deliver_policy": api.DeliverPolicy.ALL}
        await js.subscribe(kv_subject(Bucket.STATUS, ">"), stream=kv_stream(Bucket.STATUS), cb=self._status, **every)
        await js.subscribe(events_subject_all(), stream=EVENTS_STREAM, cb=self._event, **every)

    async def _status(self, msg: Any) -> None:
        tenant, namespace, _kind, name = msg.subject.removeprefix(kv_subject(Bucket.STATUS, "")).split(".")
        if not msg.data:
            return  # a tombstone: the object is gone
        data = json.loads(msg.data)["data"]
        state = (data.get("multicloud") or data.get("mongodb") or {}).get("state")
        with self._lock:
            seen = self.states[f"{tenant}/{namespace}/{name}"]
            if state and (not seen or seen[-1] != state):
                seen.append(state)

    async def _event(self, msg: Any) -> None:
        if told := _told(msg.data):
            with self._lock:
                self.told[told[0]].append(told[1])

    async def _every_event(self) -> defaultdict[str, list[tuple[str, str]]]:
        """The events stream read again from its start. nats-py's ordered consumer gives up re-creating itself
        for ten seconds when one attempt times out (a leader being elected), so the live subscription can be
        behind; what the stream holds is what the product said."""
        nc = await nats.connect(nats_servers(self._url), **self._options)
        try:
            js = nc.jetstream()
            subscription = await js.pull_subscribe(events_subject_all(), stream=EVENTS_STREAM)
            told: defaultdict[str, list[tuple[str, str]]] = defaultdict(list)
            while (await subscription.consumer_info()).num_pending:
                for msg in await subscription.fetch(500, timeout=5):
                    if event := _told(msg.data):
                        told[event[0]].append(event[1])
            return told
        finally:
            await nc.close()

    def untold(self) -> list[str]:
        """Each change of state that no ``State*`` event with a reason accounts for."""
        with self._lock:
            missing = []
            for instance, states in self.states.items():
                told = Counter(
                    reason.removeprefix("State")
                    for reason, message in self.told[instance]
                    if message.partition(f" is {reason.removeprefix('State')}: ")[2].strip()
                )
                for state, times in Counter(states).items():
                    if told[state] < times:
                        missing.append(f"{instance} became {state} {times}x, told {told[state]}x: {states}")
            return missing

    def check(self) -> None:
        deadline = time.monotonic() + GRACE_SECONDS
        while (missing := self.untold()) and time.monotonic() < deadline:
            time.sleep(0.2)
        if missing:
            told = asyncio.run(self._every_event())
            with self._lock:
                self.told = told
            missing = self.untold()
        assert not missing, f"a state changed without an event saying why: {missing}"


def _told(data: bytes) -> tuple[str, tuple[str, str]] | None:
    """(instance, (reason, message)) of a ``State*`` event."""
    event = json.loads(data)["data"]
    if not event["reason"].startswith("State"):
        return None
    return event["instance"], (event["reason"], event["message"])


@contextmanager
def running(workdir: Path, env: Mapping[str, str] | None = None, **options: int) -> Iterator[LocalStack]:
    """``fedstate up`` a stack in ``workdir`` (its services see ``env`` too), record its states and events,
    ``fedstate down`` at the end."""
    local = LocalStack(workdir, **options)
    try:
        with pytest.MonkeyPatch.context() as patch:
            for key, value in (env or {}).items():
                patch.setenv(key, value)
            local.up()
        state = load_state(local.paths)
        assert state is not None
        _LOGS[id(local)] = log = StateLog(state.nats_url, local.nats_options())
        log.start()
        yield local
    finally:
        if (log := _LOGS.pop(id(local), None)) is not None:
            log.stop()
        local.down()


def state_log(local: LocalStack) -> StateLog | None:
    return _LOGS.get(id(local))
