"""Informers: one list-then-watch per kind of Kubernetes object, kept in memory, as client-go's.

A reconcile reads the objects it needs from here instead of listing them, so the cost of a pass is
the work it does, not the size of the cluster; every change calls ``on_change`` with the object, so
the controller looks again at the instance it belongs to. The watch resumes from the last
resourceVersion seen (bookmarks keep it fresh while nothing changes); when the API answers 410
Expired (its history compacted) or the stream breaks, the informer lists again and reports what
changed in between, deletions included.

Objects stay plain dicts read straight from the response: deserialising them into the client's
models would cost more than everything else the agent does with them.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
from collections import defaultdict
from collections.abc import Callable, Hashable
from typing import Any

from kubernetes.aio.client.exceptions import ApiException

log = logging.getLogger(__name__)

KubeDict = dict[str, Any]
ObjectKey = tuple[str, str]  # (namespace, name)
# Under aiohttp's default 5-minute request timeout, so the server ends a quiet watch first.
WATCH_SECONDS = 240
RETRY_SECONDS = 1.0
MAX_RETRY_SECONDS = 60.0


class Expired(Exception):
    """The resourceVersion the watch resumed from is older than the API server's history (410)."""


def _why(exc: Exception) -> str:
    """What an operator needs from a failed list or watch: the API's answer, not the exception's empty repr."""
    if isinstance(exc, ApiException):
        if exc.status == 404:
            return "404 Not Found: the kind is not served (its CustomResourceDefinition is not installed?)"
        return f"{exc.status} {exc.reason}"
    return repr(exc)


def object_key(obj: KubeDict) -> ObjectKey:
    meta = obj.get("metadata") or {}
    return meta.get("namespace", ""), meta.get("name", "")


def _version(obj: KubeDict) -> str:
    return str((obj.get("metadata") or {}).get("resourceVersion", ""))


class Informer:
    """Every object one list operation returns (``list_pod_for_all_namespaces``, ...) under a label selector."""

    def __init__(
        self,
        api: Any,
        list_operation: str,
        label_selector: str,
        on_change: Callable[[KubeDict], None],
        index_by: Callable[[KubeDict], Hashable | None] = lambda obj: None,
        args: tuple[str, ...] = (),
        notable: Callable[[KubeDict], object] | None = None,
        field_selector: str = "",
        on_failure: Callable[[str], None] = lambda why: None,
    ) -> None:
        """``args`` go before the keyword arguments of every call: ``(group, version, plural)`` for
        ``list_cluster_custom_object``. With ``notable`` (controller-runtime's predicates), a modification is told
        to ``on_change`` only when what it returns changed: a status field no reader uses is no reason to look.
        ``on_failure`` is told why each failed list failed (``403 Forbidden``, ...)."""
        self.kind = args[-1] if args else list_operation.removeprefix("list_").removesuffix("_for_all_namespaces")
        self._call = functools.partial(getattr(api, f"{list_operation}_without_preload_content"), *args)
        self._selectors: dict[str, str] = {"label_selector": label_selector}
        if field_selector:
            self._selectors["field_selector"] = field_selector
        self._retry = asyncio.Event()  # set by ``retry_now``: the pause after a failure ends at once
        self._on_change = on_change
        self._on_failure = on_failure
        self._index_by = index_by
        self._notable = notable
        self._objects: dict[ObjectKey, KubeDict] = {}
        self._index: defaultdict[Hashable, set[ObjectKey]] = defaultdict(set)
        self.synced = asyncio.Event()
        self.tried = asyncio.Event()  # the first list has been answered, a refusal included
        self.failing = ""  # why the last list failed, until one succeeds again: what it holds may be old

    def get(self, namespace: str, name: str) -> KubeDict | None:
        return self._objects.get((namespace, name))

    def objects(self) -> list[KubeDict]:
        """Every object, by namespace and name (the order a list returns them in)."""
        return [self._objects[key] for key in sorted(self._objects)]

    def indexed(self, value: Hashable) -> list[KubeDict]:
        """The objects whose ``index_by`` is ``value``, by name."""
        return [self._objects[key] for key in sorted(self._index.get(value, ()))]

    def __len__(self) -> int:
        return len(self._objects)

    async def run(self) -> None:
        """List, then watch, forever; a broken watch lists again after a pause that grows to a minute."""
        delay = RETRY_SECONDS
        told = ""  # the failure last logged at info: the same one again (a kind not served) is logged at debug
        while True:
            listing = True
            try:
                version = await self._relist()
                listing = False
                self.synced.set()
                self.tried.set()
                self.failing = ""
                delay, told = RETRY_SECONDS, ""
                while True:
                    version = await self._watch(version)
            except asyncio.CancelledError:
                raise
            except Expired:
                log.info("watch expired, listing again", extra={"kind": self.kind})
            except Exception as exc:  # API down, connection reset, bad answer: start over after a pause
                why = _why(exc)
                if listing:  # a broken watch alone is not failing: streams end; the list after it tells
                    self.tried.set()
                    self.failing = why
                    self._on_failure(why)
                level = logging.DEBUG if why == told else logging.INFO
                log.log(level, "watch broke, listing again", extra={"kind": self.kind, "error": why, "retry_in": delay})
                told = why
                await self._pause(delay)
                delay = min(delay * 2, MAX_RETRY_SECONDS)

    def retry_now(self) -> None:
        """End the pause after a failed list or watch: what failed may work now (its CRD was just installed)."""
        self._retry.set()

    async def _pause(self, seconds: float) -> None:
        self._retry.clear()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):  # not ``wait_for``: on 3.11 it can swallow a cancellation
                await self._retry.wait()

    async def _relist(self) -> str:
        body = await self._read(await self._call(**self._selectors))
        fresh = {object_key(obj): obj for obj in body.get("items") or []}
        for gone in self._objects.keys() - fresh.keys():
            self._remove(gone)
        for key, obj in fresh.items():
            known = self._objects.get(key)
            if known is None or _version(known) != _version(obj):
                self._store(obj)
        return str((body.get("metadata") or {}).get("resourceVersion", ""))

    async def _watch(self, version: str) -> str:
        """Apply the events after ``version`` until the server ends the stream; the last version seen."""
        response = await self._call(
            **self._selectors,
            watch=True,
            resource_version=version,
            allow_watch_bookmarks=True,
            timeout_seconds=WATCH_SECONDS,
        )
        try:
            if response.status >= 400:
                await self._read(response)
            async for line in response.content:
                if line.strip():
                    version = self._apply(json.loads(line)) or version
        finally:
            response.release()
        return version

    def _apply(self, event: KubeDict) -> str | None:
        kind, obj = event.get("type"), event.get("object") or {}
        if kind == "ERROR":
            if obj.get("code") == 410:
                raise Expired(obj.get("message", ""))
            raise ApiException(status=obj.get("code"), reason=obj.get("message"))
        if kind == "DELETED":
            self._remove(object_key(obj))
        elif kind in ("ADDED", "MODIFIED"):
            self._store(obj)
        return _version(obj) or None

    def _store(self, obj: KubeDict) -> None:
        key = object_key(obj)
        previous = self._objects.get(key)
        if previous is not None:
            self._unindex(key, previous)
        self._objects[key] = obj
        value = self._index_by(obj)
        if value is not None:
            self._index[value].add(key)
        if previous is None or self._notable is None or self._notable(previous) != self._notable(obj):
            self._on_change(obj)

    def _remove(self, key: ObjectKey) -> None:
        obj = self._objects.pop(key, None)
        if obj is not None:
            self._unindex(key, obj)
            self._on_change(obj)

    def _unindex(self, key: ObjectKey, obj: KubeDict) -> None:
        value = self._index_by(obj)
        if value is not None:
            keys = self._index.get(value)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self._index[value]

    @staticmethod
    async def _read(response: Any) -> KubeDict:
        body = await response.read()
        if response.status >= 400:
            raise ApiException(status=response.status, reason=response.reason, body=body.decode(errors="replace"))
        return dict(json.loads(body))
