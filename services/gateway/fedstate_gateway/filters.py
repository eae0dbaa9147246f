"""Which objects a list or a watch shows: its kinds, its namespace, and its label and field selectors.

Field selectors follow Kubernetes: equality only, over ``metadata.name`` and ``metadata.namespace`` of every
kind, and ``status.state`` of the kinds that have a status; any other field is a 400 naming it.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from fedstate.api import CONFIGMAP, Resource
from fedstate.api.selectors import FieldSelector, Selector, SelectorError, parse_field_selector, parse_selector

from .errors import status_error

OBJECT_FIELDS = ("metadata.name", "metadata.namespace")
STATUS_FIELDS = ("status.state",)


def supported_fields(resources: Collection[Resource]) -> tuple[str, ...]:
    """The fields every one of ``resources`` can be selected by."""
    with_status = all(r is not CONFIGMAP for r in resources)
    return OBJECT_FIELDS + (STATUS_FIELDS if with_status else ())


def fields_of(metadata: Mapping[str, Any], status: Mapping[str, Any] | None) -> dict[str, str]:
    """An object's selectable fields, as strings (an absent one is empty, as Kubernetes reads it)."""
    return {
        "metadata.name": str(metadata.get("name", "")),
        "metadata.namespace": str(metadata.get("namespace", "")),
        "status.state": str((status or {}).get("state") or ""),
    }


@dataclass(frozen=True)
class ObjectFilter:
    resources: frozenset[Resource]
    namespace: str | None = None
    labels: Selector = field(default_factory=Selector)
    fields: FieldSelector = field(default_factory=FieldSelector)
    clusters: bool = False  # member clusters too (watches only; selectors are for objects)

    def wants(self, resource: Resource, namespace: str) -> bool:
        """The kind and namespace: what is known before an object is rendered."""
        return resource in self.resources and self.namespace in (None, namespace)

    @property
    def by_kind_only(self) -> bool:
        """No selector: ``wants`` decides alone, and nothing needs rendering to be told."""
        return not self.labels.requirements and not self.fields.requirements

    def matches(self, metadata: Mapping[str, Any], status: Mapping[str, Any] | None) -> bool:
        return self.labels.matches(metadata.get("labels")) and self.fields.matches(fields_of(metadata, status))


def object_filter(
    resources: Collection[Resource],
    namespace: str | None = None,
    label_selector: str | None = None,
    field_selector: str | None = None,
    clusters: bool = False,
) -> ObjectFilter:
    """The filter of a request's ``?labelSelector=`` and ``?fieldSelector=``, or a Kubernetes 400 saying what is wrong."""
    try:
        labels = parse_selector(label_selector)
        fields = parse_field_selector(field_selector, supported_fields(resources))
    except SelectorError as exc:
        raise status_error(400, str(exc)) from None
    return ObjectFilter(frozenset(resources), namespace, labels, fields, clusters)
