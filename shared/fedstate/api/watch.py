"""Following a list of the gateway as it changes (``GET <list path>?watch=true``), on the standard library alone.

    from fedstate.api.watch import Watch

    listed = ...  # GET /apis/middleware.fedstate.io/v1alpha1/namespaces/default/multicloudmongodbs
    follow = Watch("http://127.0.0.1:8080", path, resource_version=listed["metadata"]["resourceVersion"], token=token)
    for event in follow:  # ADDED, MODIFIED, DELETED, as they happen
        print(event.type, event.object["metadata"]["name"], event.object.get("status", {}).get("state"))

``Watch`` asks for bookmarks and keeps the position of the last event or bookmark in ``resource_version``; when
the gateway ends a stream (its ``timeoutSeconds``, a restart behind a load balancer) it resumes from there, so
nothing is missed or seen twice. ``WatchExpired`` when the position is too old to resume: list again and watch
from the list's ``metadata.resourceVersion``. A program can keep ``resource_version`` to resume after its own
restart. ``token`` is an API token (``fedstate token create``), sent as ``Authorization: Bearer``. The CLI's
``fedstate get -w`` uses it; ``docs/platform-api.md`` shows the same with curl.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any, NamedTuple
from urllib.parse import urlencode, urlsplit

ADDED, MODIFIED, DELETED, BOOKMARK, ERROR = "ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR"
GONE = 410


class WatchEvent(NamedTuple):
    """One change: its type (ADDED, MODIFIED, DELETED) and the object after it (for DELETED, its last state)."""

    type: str
    object: dict[str, Any]

    @property
    def resource_version(self) -> str:
        return str((self.object.get("metadata") or {}).get("resourceVersion", ""))


class WatchRefused(Exception):
    """The gateway answered the watch with an error: its Kubernetes ``Status`` (a dict) and code."""

    def __init__(self, status: dict[str, Any], code: int) -> None:
        super().__init__(status.get("message") or f"HTTP {code}")
        self.status = status
        self.code = code


class WatchExpired(WatchRefused):
    """410: the position is older than what the gateway can replay; list again."""


class Watch:
    """The changes of one list, resumed across streams from the last position seen."""

    def __init__(
        self,
        server: str,
        path: str,
        *,
        resource_version: str | None = None,
        params: Mapping[str, str | None] | None = None,
        read_timeout: float = 120.0,
        token: str | None = None,
    ) -> None:
        self.server = server.rstrip("/")
        self.path = path
        self.resource_version = resource_version
        # labelSelector, fieldSelector; for GET /watch also resources and namespace (None: not sent)
        self.params = {key: value for key, value in (params or {}).items() if value}
        # Bookmarks come every few seconds: a stream silent for this long is a gateway gone.
        self.read_timeout = read_timeout
        self.headers = {"Accept": "application/json", **({"Authorization": f"Bearer {token}"} if token else {})}

    def __iter__(self) -> Iterator[WatchEvent]:
        while True:
            for event in self._stream():
                if event.type == ERROR:
                    code = int(event.object.get("code") or 500)
                    raise (WatchExpired if code == GONE else WatchRefused)(event.object, code)
                self.resource_version = event.resource_version or self.resource_version
                if event.type != BOOKMARK:
                    yield event

    def _query(self) -> str:
        query: dict[str, str] = {"watch": "true", "allowWatchBookmarks": "true", **self.params}
        if self.resource_version:
            query["resourceVersion"] = self.resource_version
        return urlencode(query)

    def _stream(self) -> Iterator[WatchEvent]:
        """One stream, until the gateway ends it. Connection failures (``OSError``) are the caller's."""
        import http.client  # only for the commands that watch (the CLI starts without it)

        url = urlsplit(self.server)
        connection_type = http.client.HTTPSConnection if url.scheme == "https" else http.client.HTTPConnection
        connection = connection_type(url.hostname or "localhost", url.port, timeout=self.read_timeout)
        try:
            connection.request("GET", f"{url.path}{self.path}?{self._query()}", headers=self.headers)
            response = connection.getresponse()
            if response.status != 200:
                raise _refusal(response.status, response.read())
            while line := response.readline():
                if line.strip():
                    found = json.loads(line)
                    yield WatchEvent(found["type"], found["object"])
        finally:
            connection.close()


def _refusal(code: int, body: bytes) -> WatchRefused:
    try:
        status = json.loads(body)
    except ValueError:
        status = {"kind": "Status", "code": code, "message": body.decode(errors="replace")[:300]}
    return (WatchExpired if code == GONE else WatchRefused)(status, code)
