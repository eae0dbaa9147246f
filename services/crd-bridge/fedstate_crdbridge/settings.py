"""Settings of the crd-bridge (``FEDSTATE_*`` or flags)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from fedstate.models.base import DnsLabel
from fedstate.settings import ServiceSettings


class BridgeSettings(ServiceSettings):
    kubeconfig: Path | None = Field(default=None, description="unset (with kube_context): the in-cluster account")
    kube_context: str | None = Field(default=None, description="the control-plane cluster's context")
    namespaces: list[DnsLabel] = Field(
        default_factory=list, description="namespaces whose custom resources are bridged; empty: all of them"
    )
    # Changes come by watches (the custom resources', the buses'): this look at a steady object is a safety net.
    resync_seconds: float = Field(300.0, gt=0, description="seconds between two looks at a steady object")
