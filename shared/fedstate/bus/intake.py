"""The intake protocol: apply and delete requests on ``fedstate.v1.intake.<tenant>`` (request/reply).

The gateway, the crd-bridge, the CLI and any platform talk to the single writer of
``fs-spec`` through this; a reply carries the stored object or an error with field paths.
"""

from __future__ import annotations

from typing import Any, Literal

from nats.aio.client import Client
from pydantic import Field

from fedstate.models.base import WireModel
from fedstate.models.errors import FieldError

from .names import DEFAULT_TENANT, intake_subject


class IntakeRequest(WireModel):
    op: Literal["apply", "delete"]
    tenant: str = DEFAULT_TENANT
    # apply: the whole object (apiVersion, kind, metadata, spec); delete: kind + namespace + name.
    object: dict[str, Any] | None = None
    kind: str | None = None
    namespace: str | None = None
    name: str | None = None
    target_cluster: str | None = None


class IntakeError(WireModel):
    code: int  # HTTP-like: 400 bad request, 404 not found, 409 conflict, 422 invalid
    reason: str
    message: str
    causes: list[FieldError] = Field(default_factory=list)


class IntakeReply(WireModel):
    ok: bool
    outcome: str | None = None  # created | updated | unchanged | deleting
    object: dict[str, Any] | None = None
    error: IntakeError | None = None


class IntakeFailed(Exception):
    def __init__(self, error: IntakeError) -> None:
        super().__init__(error.message)
        self.error = error


async def request(nc: Client, req: IntakeRequest, timeout: float = 10.0) -> IntakeReply:
    """Send one intake request; raise ``IntakeFailed`` with the service's error when it refuses."""
    msg = await nc.request(intake_subject(req.tenant), req.model_dump_json(by_alias=True).encode(), timeout=timeout)
    reply = IntakeReply.model_validate_json(msg.data)
    if not reply.ok and reply.error is not None:
        raise IntakeFailed(reply.error)
    return reply
