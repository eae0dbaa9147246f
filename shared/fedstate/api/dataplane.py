"""The gateway's view of one instance's data plane (``GET .../dataplane``): per member cluster, what was
asked and what was seen. Apart from ``wire`` because it loads the data-plane models, which no CLI command needs."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from fedstate.models.base import WireModel
from fedstate.models.dataplane import DataPlaneStatus


class DataPlaneView(WireModel):
    """One member cluster's part of an instance: what was asked (credentials removed) and what was seen."""

    cluster: str
    spec: dict[str, Any] | None = None
    status: DataPlaneStatus | None = None


class DataPlaneList(WireModel):
    items: list[DataPlaneView] = Field(default_factory=list)
