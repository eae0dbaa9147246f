"""``?watch=true`` on every list path, and ``GET /watch`` for several kinds over one connection.

Events come from the feed (``feed.py``) as kube-apiserver writes them: one JSON object a line,
``{"type": "ADDED"|"MODIFIED"|"DELETED"|"BOOKMARK"|"ERROR", "object": ...}``, or, when the client sends
``Accept: text/event-stream``, as server-sent events whose ``id`` is the position (a browser's
``EventSource`` resumes from it by itself through ``Last-Event-ID``) and whose ``data`` is the same JSON.

Without ``resourceVersion`` (or with ``"0"``) a watch starts with every selected object as ADDED; with a
position it replays what came after it. A position the feed cannot replay from ends the stream with one
``ERROR`` event carrying a ``410 Expired`` Status, as kube-apiserver does: the client lists again.
BOOKMARK events (with ``allowWatchBookmarks=true``, and always on server-sent events) carry the latest
position while nothing else comes. A watch ends after ``timeoutSeconds``; the client resumes from its last
event.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse

from fedstate.api import RESOURCES, KubeStatus, Resource, lookup

from .context import GatewayContext, get_context
from .errors import status_error
from .feed import CLUSTER_API_VERSION, CLUSTER_KIND, Feed
from .filters import ObjectFilter, object_filter
from .metrics import WATCHES
from .positions import Expired, Position
from .watchers import BOOKMARK, ERROR, Event, Watcher

EVENT_STREAM = "text/event-stream"
NDJSON = "application/json"

Context = Annotated[GatewayContext, Depends(get_context)]


@dataclass(frozen=True)
class WatchOptions:
    """The query of a watch, as Kubernetes names it."""

    resource_version: str | None = None
    allow_watch_bookmarks: bool = False
    timeout_seconds: int | None = None


def watch_options(
    resource_version: Annotated[
        str | None,
        Query(alias="resourceVersion", description="watch from this position (a list's metadata.resourceVersion)"),
    ] = None,
    allow_watch_bookmarks: Annotated[bool, Query(alias="allowWatchBookmarks")] = False,
    timeout_seconds: Annotated[int | None, Query(alias="timeoutSeconds", ge=1)] = None,
) -> WatchOptions:
    return WatchOptions(resource_version, allow_watch_bookmarks, timeout_seconds)


Options = Annotated[WatchOptions, Depends(watch_options)]


def _since(text: str | None) -> Position | None:
    """The position to resume from; None to start with every object. A bare number is an object's fs-spec
    revision, which orders nothing across objects: the client must list again (410)."""
    if not text or text == "0":
        return None
    if text.isdigit():
        raise Expired(f"resourceVersion {text} is an object's version, not a watch position: list to get one")
    try:
        return Position.parse(text)
    except ValueError:
        raise status_error(400, f"resourceVersion {text!r} is not a watch position (<spec>.<status>.<local>)") from None


def _bookmark_kind(wanted: ObjectFilter) -> tuple[str, str]:
    """The kind a bookmark names: the watched kind's (the first one's, for several)."""
    if not wanted.resources:
        return CLUSTER_KIND, CLUSTER_API_VERSION
    first = sorted(wanted.resources, key=RESOURCES.index)[0]
    return first.kind, first.api_version


def _bookmark(kind: tuple[str, str], position: Position) -> bytes:
    obj = {"kind": kind[0], "apiVersion": kind[1], "metadata": {"resourceVersion": str(position)}}
    return json.dumps({"type": BOOKMARK, "object": obj}, separators=(",", ":")).encode()


def _expired(message: str) -> bytes:
    status = KubeStatus(code=410, reason="Expired", message=message).to_wire()
    return json.dumps({"type": ERROR, "object": status}, separators=(",", ":")).encode()


def framer(sse: bool) -> Callable[[bytes, Position | None], bytes]:
    """One event as the client asked for it: a line of JSON, or a server-sent event with the position as id."""

    def frame(line: bytes, position: Position | None) -> bytes:
        if not sse:
            return line + b"\n"
        head = f"id: {position}\n".encode() if position is not None else b""
        return head + b"data: " + line + b"\n\n"

    return frame


def _framed(frame: Callable[[bytes, Position | None], bytes], events: list[Event]) -> bytes:
    return b"".join(frame(event.line(), event.position) for event in events)


@dataclass
class Stream:
    """One open watch, written to its client until the time is up, the client leaves, or it falls behind."""

    feed: Feed
    watcher: Watcher
    frame: Callable[[bytes, Position | None], bytes]
    bookmark: Callable[[Position], bytes] | None
    bookmark_seconds: float
    timeout: float

    async def chunks(self) -> AsyncIterator[bytes]:
        loop = asyncio.get_running_loop()
        WATCHES.inc()
        try:
            if self.watcher.backlog:
                yield _framed(self.frame, list(self.watcher.backlog))
                self.watcher.backlog.clear()
            deadline = loop.time() + self.timeout
            while (left := deadline - loop.time()) > 0:
                if self.watcher.ended and self.watcher.queue.empty():
                    return  # everything queued was sent; the client resumes after the last of it
                events = await self._next(min(left, self.bookmark_seconds))
                if events:
                    yield _framed(self.frame, events)
                elif self.bookmark is not None and loop.time() < deadline:
                    position = self.feed.position
                    yield self.frame(self.bookmark(position), position)
        finally:
            self.feed.unwatch(self.watcher)
            WATCHES.dec()

    async def _next(self, wait: float) -> list[Event]:
        """The events queued now, or the first to come within ``wait`` (and any queued with it)."""
        queue = self.watcher.queue
        if queue.empty():
            try:
                async with asyncio.timeout(wait):  # not ``wait_for``: on 3.11 it can swallow a cancellation
                    found = [await queue.get()]
            except TimeoutError:
                return []
        else:
            found = []
        while not queue.empty():
            found.append(queue.get_nowait())
        return [event for event in found if event is not None]


async def watch_response(
    request: Request, context: GatewayContext, wanted: ObjectFilter, options: WatchOptions
) -> StreamingResponse:
    """The stream of ``wanted``'s changes, in the form the request accepts."""
    sse = EVENT_STREAM in request.headers.get("accept", "")
    frame = framer(sse)
    media_type = EVENT_STREAM if sse else NDJSON
    # A browser's EventSource reconnects with the id of the last event it got.
    since_text = options.resource_version or request.headers.get("last-event-id")
    objects = await context.caches.objects(clusters=wanted.clusters)
    feed = objects.feed
    try:
        watcher = feed.watch(wanted, _since(since_text), objects.revisions)
    except Expired as expired:
        return StreamingResponse(iter([frame(_expired(str(expired)), None)]), media_type=media_type)
    kind = _bookmark_kind(wanted)
    settings = context.gateway.settings
    stream = Stream(
        feed,
        watcher,
        frame,
        (lambda position: _bookmark(kind, position)) if sse or options.allow_watch_bookmarks else None,
        settings.watch_bookmark_seconds,
        float(options.timeout_seconds or settings.watch_timeout_seconds),
    )
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(stream.chunks(), media_type=media_type, headers=headers)


CLUSTERS = ("clusters", "cluster")


def _kinds(text: str | None) -> tuple[list[Resource], bool]:
    """The kinds ``?resources=`` names (every one by default), and whether member clusters are among them."""
    if not text:
        return list(RESOURCES), True
    names = [name.strip() for name in text.split(",")]
    try:
        return [lookup(name) for name in names if name not in CLUSTERS], any(name in CLUSTERS for name in names)
    except KeyError as exc:
        raise status_error(400, str(exc.args[0])) from None


router = APIRouter(tags=["watch"], responses={code: {"model": KubeStatus} for code in (400, 401, 403)})


@router.get("/watch", operation_id="watchObjects")
async def watch_several(
    request: Request,
    context: Context,
    options: Options,
    resources: Annotated[
        str | None,
        Query(description="kinds to follow, comma-separated (mcm,mongodb,configmaps,clusters); all by default"),
    ] = None,
    namespace: Annotated[str | None, Query(description="one namespace; all by default")] = None,
    label_selector: Annotated[str | None, Query(alias="labelSelector")] = None,
    field_selector: Annotated[str | None, Query(alias="fieldSelector")] = None,
) -> StreamingResponse:
    """Several kinds over one connection (a page follows all its lists on one): each event's object names
    its kind; positions and resumption are those of a single list's watch."""
    kinds, clusters = _kinds(resources)
    wanted = object_filter(kinds, namespace, label_selector, field_selector, clusters)
    return await watch_response(request, context, wanted, options)
