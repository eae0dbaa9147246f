"""JSON over HTTP for the CLI (the gateway and the simulator's control API), on the standard library.

The CLI must start in under 0.2 s; httpx alone costs more than that to import, because its package
also imports its own command line (click, rich, pygments). The CLI's requests are few, sequential
and to local or known servers, which ``http.client`` serves well.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit


class Unreachable(Exception):
    """Nothing answered at that address (connection refused, unknown host, connection dropped)."""


class TimedOut(Exception):
    """The server took longer than the timeout to answer."""


@dataclass(frozen=True)
class Response:
    status_code: int
    headers: Mapping[str, str]  # names in lower case
    content: bytes

    def header(self, name: str, default: str = "") -> str:
        return self.headers.get(name.lower(), default)

    @property
    def is_error(self) -> bool:
        return self.status_code >= 400

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return json.loads(self.content)


def request(
    base_url: str,
    method: str,
    path: str,
    *,
    params: Mapping[str, str] | None = None,
    body: Any = None,
    timeout: float = 30.0,
    token: str | None = None,
) -> Response:
    """One request; ``body`` is sent as JSON, ``token`` as a bearer token. ``Unreachable`` or ``TimedOut`` when no
    answer comes."""
    import http.client  # with email and ssl, only for the commands that call a server

    url = urlsplit(base_url)
    connection_type = http.client.HTTPSConnection if url.scheme == "https" else http.client.HTTPConnection
    connection = connection_type(url.hostname or "localhost", url.port, timeout=timeout)
    target = url.path.rstrip("/") + path + (f"?{urlencode(params)}" if params else "")
    payload = None if body is None else json.dumps(body).encode()
    headers = {"Accept": "application/json", **({"Content-Type": "application/json"} if payload else {})}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        connection.request(method, target, body=payload, headers=headers)
        answer = connection.getresponse()
        return Response(answer.status, {k.lower(): v for k, v in answer.getheaders()}, answer.read())
    except TimeoutError:
        raise TimedOut(base_url) from None
    except OSError as exc:  # refused, reset, unknown host
        raise Unreachable(f"{base_url}: {exc}") from None
    finally:
        connection.close()
