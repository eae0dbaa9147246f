"""``?watch=true``: a chunked stream of newline-delimited JSON events.

Starts with synthetic ADDED events (no resourceVersion, or "0") or with the history after the
given resourceVersion; a version older than the kept history yields one ERROR event carrying a
410 Expired ``Status`` and the stream ends, as kube-apiserver does. Ends after timeoutSeconds.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from fedstate_sim.kube import errors, requests
from fedstate_sim.kube.history import BOOKMARK, Watcher, event_line
from fedstate_sim.kube.label_syntax import parse_label_selector
from fedstate_sim.kube.meta import dumps
from fedstate_sim.kube.paths import Target
from fedstate_sim.kube.selectors import parse_field_selector
from fedstate_sim.kube.store import ObjectStore

DEFAULT_TIMEOUT_SECONDS = 1800
BOOKMARK_SECONDS = 30.0


async def stream_watch(request: web.Request, store: ObjectStore, target: Target) -> web.StreamResponse:
    query = request.query
    labels = parse_label_selector(query.get("labelSelector"))
    fields = parse_field_selector(query.get("fieldSelector"), target.rtype.group, target.rtype.kind)
    timeout = requests.optional_int(query, "timeoutSeconds") or DEFAULT_TIMEOUT_SECONDS
    response = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
    response.enable_chunked_encoding()
    try:
        watcher = store.watch(target.rtype, target.namespace, requests.watch_start(query), labels, fields)
    except errors.ApiError as exc:
        if exc.code != 410:
            raise
        await response.prepare(request)
        await response.write(event_line("ERROR", dumps(exc.status())))
        return response
    await response.prepare(request)
    bookmarks = requests.flag(query, "allowWatchBookmarks")
    try:
        await _pump(response, watcher, store, target, timeout, bookmarks)
        await response.write_eof()
    except ConnectionResetError:
        pass  # the client went away
    finally:
        store.unwatch(watcher)
    return response


async def _pump(
    response: web.StreamResponse, watcher: Watcher, store: ObjectStore, target: Target, timeout: int, bookmarks: bool
) -> None:
    """Events as they come; with bookmarks, one every ``BOOKMARK_SECONDS`` whether events flow or not, as the
    watch cache sends them."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    next_bookmark = loop.time() + BOOKMARK_SECONDS if bookmarks else float("inf")
    while (remaining := deadline - loop.time()) > 0:
        if watcher.queue.empty():
            if loop.time() >= next_bookmark:  # every event up to the bookmark has been sent
                await response.write(_bookmark(store, target))
                next_bookmark = loop.time() + BOOKMARK_SECONDS
            try:
                async with asyncio.timeout(min(remaining, next_bookmark - loop.time())):  # not ``wait_for`` (3.11)
                    line = await watcher.queue.get()
            except TimeoutError:
                continue
        else:
            line = watcher.queue.get_nowait()
        if line is None:
            return
        await response.write(line + _drain(watcher))


def _drain(watcher: Watcher) -> bytes:
    """Lines already queued, sent in the same chunk."""
    lines = []
    while not watcher.queue.empty():
        line = watcher.queue.get_nowait()
        if line is None:
            watcher.queue.put_nowait(None)
            break
        lines.append(line)
    return b"".join(lines)


def _bookmark(store: ObjectStore, target: Target) -> bytes:
    rtype = target.rtype
    obj = {
        "kind": rtype.kind,
        "apiVersion": rtype.api_version,
        "metadata": {"resourceVersion": str(store.resource_version)},
    }
    return event_line(BOOKMARK, dumps(obj))
