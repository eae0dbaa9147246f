"""A durability ledger (issue 12, items 1 and 4): concurrent ``w:"majority"`` writes against every instance
while faults happen, recording each write the server acknowledged; afterwards every acknowledged write must
be readable with read concern majority from the PRIMARY (Jepsen's headline check: no acknowledged write lost).

A write that failed or timed out is not recorded: it may or may not have happened, and either is allowed.
Each instance is written through a client of its own (VIP:NodePort addresses, root credentials); when the set
moved so far that the client lost it, the client is made again from the addresses the status shows now.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from pymongo import MongoClient, ReadPreference
from pymongo.errors import PyMongoError
from pymongo.read_concern import ReadConcern
from pymongo.write_concern import WriteConcern

WRITE_TIMEOUT_MS = 10_000
SELECT_TIMEOUT_MS = 3_000
PAUSE_SECONDS = 0.05  # between two writes of one writer: a steady trickle, not a load test
CHECK_BATCH = 500


@dataclass
class Writer:
    """One instance's writer: ``uri`` is asked again whenever the client could not find a primary."""

    name: str
    uri: Callable[[], str | None]
    acknowledged: list[str] = field(default_factory=list)
    failed: int = 0
    errors: list[str] = field(default_factory=list)  # the latest few, for the report
    stopped: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None

    def start(self) -> None:
        self.thread = threading.Thread(target=self._run, name=f"ledger-{self.name}", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.stopped.set()
        if self.thread is not None:
            self.thread.join(WRITE_TIMEOUT_MS / 1000 + SELECT_TIMEOUT_MS / 1000 + 5)

    def _client(self) -> MongoClient[dict[str, Any]] | None:
        uri = self.uri()
        if uri is None:
            return None
        return MongoClient(uri, serverSelectionTimeoutMS=SELECT_TIMEOUT_MS, connectTimeoutMS=SELECT_TIMEOUT_MS)

    def _run(self) -> None:
        sequence = 0
        mongo = None
        while not self.stopped.is_set():
            if mongo is None and (mongo := self._client()) is None:
                self.stopped.wait(1)
                continue
            marker = f"{self.name}-{sequence}"
            sequence += 1
            try:
                entries = mongo.ledger.get_collection(
                    "entries", write_concern=WriteConcern(w="majority", wtimeout=WRITE_TIMEOUT_MS)
                )
                entries.insert_one({"_id": marker, "at": time.time()})
            except PyMongoError as exc:
                self.failed += 1
                self.errors = [*self.errors[-4:], f"{type(exc).__name__}: {str(exc)[:160]}"]
                mongo.close()
                mongo = None  # the next write asks for the addresses again
                self.stopped.wait(0.5)
                continue
            self.acknowledged.append(marker)
            self.stopped.wait(PAUSE_SECONDS)
        if mongo is not None:
            mongo.close()

    def missing(self) -> list[str]:
        """The acknowledged writes the PRIMARY does not return with read concern majority."""
        uri = self.uri()
        assert uri is not None, f"{self.name}: no address to read the ledger from"
        with MongoClient(uri, serverSelectionTimeoutMS=20_000) as mongo:
            entries = mongo.ledger.get_collection(
                "entries", read_preference=ReadPreference.PRIMARY, read_concern=ReadConcern("majority")
            )
            present: set[str] = set()
            for start in range(0, len(self.acknowledged), CHECK_BATCH):
                batch = self.acknowledged[start : start + CHECK_BATCH]
                present |= {d["_id"] for d in entries.find({"_id": {"$in": batch}}, {"_id": 1})}
        return [m for m in self.acknowledged if m not in present]

    def summary(self) -> str:
        return f"{self.name}: {len(self.acknowledged)} acknowledged, {self.failed} failed; latest errors {self.errors}"


class WriteLedger:
    """Writers for any number of instances, added and retired as instances come and go."""

    def __init__(self) -> None:
        self.writers: dict[str, Writer] = {}
        self.retired: dict[str, Writer] = {}  # instances deleted: their writes went with them

    def follow(self, name: str, uri: Callable[[], str | None]) -> Writer:
        writer = Writer(name, uri)
        self.writers[name] = writer
        writer.start()
        return writer

    def retire(self, name: str) -> None:
        """Stop writing to an instance about to be deleted (its data goes, so there is nothing to check)."""
        writer = self.writers.pop(name, None)
        if writer is not None:
            writer.stop()
            self.retired[name] = writer

    def stop(self) -> None:
        for writer in self.writers.values():
            writer.stopped.set()
        for writer in self.writers.values():
            writer.stop()

    def lost(self) -> dict[str, list[str]]:
        """instance → its acknowledged writes that are not readable; empty when nothing was lost."""
        return {name: missing for name, writer in self.writers.items() if (missing := writer.missing())}

    def report(self) -> str:
        return "\n".join(w.summary() for w in self.writers.values())


@contextmanager
def writing(name: str, uri: Callable[[], str | None]) -> Iterator[Writer]:
    """One instance written throughout the block; the writer stops at its end (checked by the caller)."""
    ledger = WriteLedger()
    writer = ledger.follow(name, uri)
    try:
        yield writer
    finally:
        ledger.stop()
