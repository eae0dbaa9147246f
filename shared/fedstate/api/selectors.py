"""Label and field selectors as Kubernetes reads them in ``?labelSelector=``/``?fieldSelector=`` and ``kubectl get -l``.

Equality-based: ``tier=db``, ``tier==db``, ``tier!=db``; set-based: ``tier in (db,cache)``,
``tier notin (web)``, ``tier`` (has the label), ``!tier`` (has not). Requirements separated by
commas must all hold. ``!=`` and ``notin`` also match objects without the label, as in Kubernetes.
Keys and values are checked as Kubernetes checks label keys and values.

Field selectors are equality-based only, as in Kubernetes (``metadata.name=rs1``, ``status.state!=Health``),
over the fields a resource supports; any other field is refused with Kubernetes' words.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from enum import StrEnum

_NAME = r"[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?"
_KEY = re.compile(rf"^(?:[a-z0-9](?:[-a-z0-9.]{{0,251}}[a-z0-9])?/)?{_NAME}$")
_VALUE = re.compile(rf"^(?:{_NAME})?$")
_SET = re.compile(r"^(?P<key>\S+)\s+(?P<op>in|notin)\s*\((?P<values>[^()]*)\)$")
_EQUALITY = re.compile(r"^(?P<key>[^\s=!]+)\s*(?P<op>==|=|!=)\s*(?P<value>\S*)$")
_FIELD = re.compile(r"^(?P<field>[^\s=!]+)\s*(?P<op>==|=|!=)\s*(?P<value>[^\s=!]*)$")


class Operator(StrEnum):
    EQUALS = "="
    NOT_EQUALS = "!="
    IN = "in"
    NOT_IN = "notin"
    EXISTS = "exists"
    DOES_NOT_EXIST = "!"


class SelectorError(ValueError):
    """A selector that does not parse; the message says which requirement and why."""


@dataclass(frozen=True)
class Requirement:
    key: str
    operator: Operator
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        value = labels.get(self.key)
        match self.operator:
            case Operator.EQUALS | Operator.IN:
                return value is not None and value in self.values
            case Operator.NOT_EQUALS | Operator.NOT_IN:
                return value is None or value not in self.values
            case Operator.EXISTS:
                return value is not None
            case _:
                return value is None

    def __str__(self) -> str:
        match self.operator:
            case Operator.EXISTS:
                return self.key
            case Operator.DOES_NOT_EXIST:
                return f"!{self.key}"
            case Operator.IN | Operator.NOT_IN:
                return f"{self.key} {self.operator} ({','.join(self.values)})"
            case _:
                return f"{self.key}{self.operator}{self.values[0]}"


@dataclass(frozen=True)
class Selector:
    requirements: tuple[Requirement, ...] = ()

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        return all(r.matches(labels or {}) for r in self.requirements)

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)


def _parts(text: str) -> list[str]:
    """Split on the commas between requirements, not those inside ``( )``."""
    parts, depth, start = [], 0, 0
    for position, char in enumerate(text):
        depth += (char == "(") - (char == ")")
        if char == "," and depth == 0:
            parts.append(text[start:position])
            start = position + 1
    parts.append(text[start:])
    return [p.strip() for p in parts]


def _checked(requirement: Requirement, text: str) -> Requirement:
    if not _KEY.match(requirement.key):
        raise SelectorError(f"unable to parse requirement {text!r}: invalid label key {requirement.key!r}")
    for value in requirement.values:
        if not _VALUE.match(value):
            raise SelectorError(f"unable to parse requirement {text!r}: invalid label value {value!r}")
    return requirement


def _requirement(text: str) -> Requirement:
    if found := _SET.match(text):
        values = tuple(v.strip() for v in found["values"].split(","))
        return _checked(Requirement(found["key"], Operator(found["op"]), values), text)
    if found := _EQUALITY.match(text):
        operator = Operator.NOT_EQUALS if found["op"] == "!=" else Operator.EQUALS
        return _checked(Requirement(found["key"], operator, (found["value"],)), text)
    absent = text.startswith("!")
    key = text.removeprefix("!").strip()
    if key and not any(c in key for c in " =!(),"):
        return _checked(Requirement(key, Operator.DOES_NOT_EXIST if absent else Operator.EXISTS), text)
    raise SelectorError(f"unable to parse requirement {text!r}")


def parse_selector(text: str | None) -> Selector:
    """The selector of ``text``; an empty or missing text selects everything. ``SelectorError`` if it is not one."""
    if not text or not text.strip():
        return Selector()
    parts = _parts(text)
    if any(not p for p in parts):
        raise SelectorError(f"unable to parse selector {text!r}: an empty requirement")
    return Selector(tuple(_requirement(p) for p in parts))


@dataclass(frozen=True)
class FieldRequirement:
    field: str
    equal: bool
    value: str

    def matches(self, fields: Mapping[str, str]) -> bool:
        return (fields.get(self.field, "") == self.value) == self.equal

    def __str__(self) -> str:
        return f"{self.field}{'=' if self.equal else '!='}{self.value}"


@dataclass(frozen=True)
class FieldSelector:
    requirements: tuple[FieldRequirement, ...] = ()

    def matches(self, fields: Mapping[str, str]) -> bool:
        return all(r.matches(fields) for r in self.requirements)

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)


def _field_requirement(text: str, supported: Collection[str]) -> FieldRequirement:
    found = _FIELD.match(text)
    if found is None:
        raise SelectorError(f"invalid selector: {text!r}; can't understand {text!r}")
    if found["field"] not in supported:
        raise SelectorError(f"field label not supported: {found['field']}")
    return FieldRequirement(found["field"], found["op"] != "!=", found["value"])


def parse_field_selector(text: str | None, supported: Collection[str]) -> FieldSelector:
    """The field selector of ``text`` over the ``supported`` fields; ``SelectorError`` as kube-apiserver words it."""
    if not text or not text.strip():
        return FieldSelector()
    return FieldSelector(tuple(_field_requirement(part.strip(), supported) for part in text.split(",")))
