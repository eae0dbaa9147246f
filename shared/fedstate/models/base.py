"""Base pieces every model shares: camelCase aliases, Kubernetes quantities, conditions, metadata."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field
from pydantic.alias_generators import to_camel

from fedstate.labels import is_dns_label


def build_loaded_models() -> int:
    """Build every model of ours loaded so far whose validation waits for its first use (``defer_build``, which
    keeps the CLI quick to start). A service calls it as it starts: left to first use, each model of a create's way
    was built on the first create after a start (ours are about 50, 40 ms in all). Returns how many it built."""
    built = 0
    pending: list[type[BaseModel]] = [BaseModel]
    while pending:
        for model in pending.pop().__subclasses__():
            pending.append(model)
            if model.__module__.startswith("fedstate") and not model.__pydantic_complete__:
                built += bool(model.model_rebuild(raise_errors=False))
    return built


class WireModel(BaseModel):
    """camelCase on the wire, snake_case in Python; unknown fields are errors, not silence."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", validate_assignment=False, defer_build=True
    )

    def to_wire(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


def parse_quantity(quantity: str) -> Decimal:
    """The kubernetes client's parser, imported on first use: importing the whole client costs a CLI 0.3 s."""
    from kubernetes.utils.quantity import parse_quantity as parse

    return parse(quantity)


def _check_quantity(value: Any) -> str:
    text = str(value).strip()
    try:
        parse_quantity(text)
    except ValueError:
        raise ValueError(f"{value!r} is not a Kubernetes quantity") from None
    return text


Quantity = Annotated[str, BeforeValidator(_check_quantity)]
"""A Kubernetes resource quantity ("500m", "2", "512Mi"), kept as written and checked on input."""


def quantity_value(quantity: str | None) -> Decimal:
    return parse_quantity(quantity) if quantity else Decimal(0)


def check_dns_label(value: str) -> str:
    if not is_dns_label(value):
        # The value is shown cut: an error repeating a megabyte-long name would not fit in a NATS reply.
        shown = repr(value) if len(value) <= 80 else f"{value[:64]!r}... ({len(value)} characters)"
        raise ValueError(f"{shown} is not a DNS-1123 label (lowercase letters, digits and '-', at most 63, no dots)")
    return value


DnsLabel = Annotated[str, AfterValidator(check_dns_label)]


def utcnow() -> datetime:
    return datetime.now(UTC)


class ResourceList(WireModel):
    cpu: Quantity | None = None
    memory: Quantity | None = None


class ResourceRequirements(WireModel):
    limits: ResourceList | None = None
    requests: ResourceList | None = None

    def effective_requests(self) -> ResourceList:
        """Requests, falling back to limits per resource as Kubernetes does."""
        requests = self.requests or ResourceList()
        limits = self.limits or ResourceList()
        return ResourceList(cpu=requests.cpu or limits.cpu, memory=requests.memory or limits.memory)


class Condition(WireModel):
    type: str
    status: str  # "True" | "False" | "Unknown", as in Kubernetes
    reason: str = ""
    message: str = ""
    last_transition_time: datetime | None = None


class ObjectMeta(BaseModel):
    """The subset of Kubernetes ObjectMeta we keep; other metadata fields are dropped, not refused."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore", defer_build=True)

    name: DnsLabel
    namespace: DnsLabel = "default"
    uid: str | None = None
    generation: int = 0
    resource_version: str | None = None
    creation_timestamp: datetime | None = None
    deletion_timestamp: datetime | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    finalizers: list[str] = Field(default_factory=list)


def set_condition(conditions: list[Condition], new: Condition, now: datetime) -> list[Condition]:
    """Replace the condition of the same type; keep lastTransitionTime when the status did not change."""
    previous = next((c for c in conditions if c.type == new.type), None)
    if previous is not None and previous.status == new.status:
        stamped = new.model_copy(update={"last_transition_time": previous.last_transition_time})
    else:
        stamped = new.model_copy(update={"last_transition_time": now})
    return [*(c for c in conditions if c.type != new.type), stamped]
