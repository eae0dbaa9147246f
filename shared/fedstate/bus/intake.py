"""The intake protocol: apply, delete and recover requests on ``fedstate.v1.intake.<tenant>`` (request/reply).

The gateway, the crd-bridge, the CLI and any platform talk to the single writer of
``fs-spec`` through this; a reply carries the stored object or an error with field paths.
The subject names the tenant; a body may repeat it (as a manifest may repeat kubectl's
``--namespace``), and one that names another tenant is refused.
"""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from fedstate.models.base import DnsLabel, WireModel
from fedstate.models.errors import FieldError

from .names import DEFAULT_TENANT, intake_subject, intake_subject_template

# Pauses between asks while no intake is subscribed: the federation restarting, or its replacement starting.
NO_RESPONDER_PAUSES = (0.05, 0.1, 0.2, 0.5, 1.0)

if TYPE_CHECKING:  # the CLI reads the limits here without loading a NATS client
    from nats.aio.client import Client


class IntakeRequest(WireModel):
    op: Literal["apply", "delete", "recover"]
    # Optional: the subject's tenant is the one used; a body naming another tenant is refused.
    tenant: str | None = None
    # apply: the whole object (apiVersion, kind, metadata, spec); delete: kind + namespace + name,
    # where kind is any name ``fedstate`` accepts for it (MultiCloudMongoDB, multicloudmongodbs, mcm ...).
    object: dict[str, Any] | None = None
    kind: str | None = None
    # DNS-1123 labels, checked here: they become parts of KV keys and subjects, and a name the server cannot take
    # in a subject (longer than its control line) would cost the intake its connection.
    namespace: DnsLabel | None = None
    name: DnsLabel | None = None
    target_cluster: DnsLabel | None = None
    # recover: a forced recovery of a MultiCloudMongoDB that lost its voting majority may lose writes, so
    # it must be asked for explicitly (``fedstate recover mcm NAME --force``).
    force: bool = False


class IntakeError(WireModel):
    code: int  # HTTP-like: 400 bad request, 404 not found, 409 conflict, 413 too large, 422 invalid
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


def sealed_request(req: IntakeRequest, tenant: str, federation_public_keys: Path | None) -> IntakeRequest:
    """``req`` with its object's secret fields sealed to the federation's current key; ``IntakeFailed`` (nothing
    published) when it holds one and no key is given."""
    if req.object is None:
        return req
    from fedstate import sealing  # here: the CLI reads the limits without loading PyNaCl

    try:
        sealed = sealing.seal_request_secrets(federation_public_keys, tenant, req.object)
    except sealing.SecretNotSealed as exc:
        cause = FieldError(field=exc.field, message=str(exc))
        raise IntakeFailed(IntakeError(code=400, reason="BadRequest", message=str(exc), causes=[cause])) from None
    return req if sealed is req.object else req.model_copy(update={"object": sealed})


async def request(
    nc: Client,
    req: IntakeRequest,
    *,
    tenant: str = DEFAULT_TENANT,
    timeout: float = 10.0,
    federation_public_keys: Path | None = None,
) -> IntakeReply:
    """Send one intake request for ``tenant``, its secrets sealed to the first key of ``federation_public_keys``
    (``federation.pub``); raise ``IntakeFailed`` with the service's error when it refuses."""
    body = (
        sealed_request(req, tenant, federation_public_keys).model_dump_json(by_alias=True, exclude_none=True).encode()
    )
    from nats.errors import NoRespondersError

    from fedstate import telemetry  # here: the CLI reads the limits without loading the tracing SDK either

    headers: dict[str, str] = {}
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    with telemetry.publishing(intake_subject_template(), headers, operation="request"):
        for attempt in itertools.count():
            try:
                msg = await nc.request(
                    intake_subject(tenant), body, timeout=max(deadline - loop.time(), 0.01), headers=headers or None
                )
                break
            except NoRespondersError:
                # Nobody received it, so asking again cannot apply it twice: wait for an intake until the timeout,
                # as a slow one would have been waited for.
                pause = NO_RESPONDER_PAUSES[min(attempt, len(NO_RESPONDER_PAUSES) - 1)]
                if loop.time() + pause >= deadline:
                    raise
                await asyncio.sleep(pause)
    reply = IntakeReply.model_validate_json(msg.data)
    if not reply.ok and reply.error is not None:
        raise IntakeFailed(reply.error)
    return reply
