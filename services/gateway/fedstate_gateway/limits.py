"""The request body limit: a body over ``MAX_BODY_BYTES`` is answered 413 before it is read into memory.

Like kube-apiserver's 3 MiB limit on a request body. The object itself is held to the intake's
smaller ``MAX_OBJECT_BYTES`` once parsed (``writes.apply``), before anything reaches the bus.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import respond, status_error

MAX_BODY_BYTES = 3 * 1024 * 1024


class BodyLimit:
    """ASGI middleware: refuse a declared ``Content-Length`` over the limit, and a streamed body once it passes it."""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.limit = limit

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        status = status_error(413, f"Request entity too large: limit is {self.limit}", reason="RequestEntityTooLarge")
        await respond(status.status)(scope, receive, send)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._refuse(scope, receive, send)
            return
        chunks: list[Message] = []
        size = 0
        while True:
            message = await receive()
            chunks.append(message)
            size += len(message.get("body", b""))
            if size > self.limit:
                await self._refuse(scope, receive, send)
                return
            if message["type"] != "http.request" or not message.get("more_body"):
                break

        async def replay() -> Message:
            return chunks.pop(0) if chunks else await receive()

        await self.app(scope, replay, send)
