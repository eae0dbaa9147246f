"""Kubernetes label keys and values, checked by apimachinery's rules and worded as its errors are;
and the ``key=value,key=value`` form kubectl reads labels in.

Used for cluster labels (the collector's settings, ClusterProperty objects); a label that breaks
a rule here would be refused by any Kubernetes API server too.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

NAME_MAX = 63
PREFIX_MAX = 253
_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_NAME_RULE = (
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric "
    "character (e.g. 'MyName', or 'my.name', or '123-abc')"
)


def _name_errors(name: str, part: str) -> list[str]:
    if not name:
        return [f"{part} must be non-empty"]
    if len(name) > NAME_MAX:
        return [f"{part} must be no more than {NAME_MAX} characters"]
    return [] if _NAME.match(name) else [f"{part} {_NAME_RULE}"]


def _prefix_errors(prefix: str) -> list[str]:
    if not prefix:
        return ["prefix part must be non-empty"]
    if len(prefix) > PREFIX_MAX:
        return [f"prefix part must be no more than {PREFIX_MAX} characters"]
    if not _SUBDOMAIN.match(prefix):
        return ["prefix part must be a lowercase RFC 1123 subdomain (e.g. 'example.com')"]
    return []


def label_key_errors(key: str) -> list[str]:
    """What is wrong with a label key: an optional DNS subdomain prefix and '/', then a name of at most 63."""
    parts = key.split("/")
    if len(parts) > 2:
        return ["a label key is a name with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"]
    prefix_errors = _prefix_errors(parts[0]) if len(parts) == 2 else []
    return prefix_errors + _name_errors(parts[-1], "name part" if len(parts) == 2 else "a label key")


def label_value_errors(value: str) -> list[str]:
    """What is wrong with a label value: empty, or at most 63 characters of the name alphabet."""
    return _name_errors(value, "a label value") if value else []


def label_errors(key: str, value: str) -> list[str]:
    """Every problem of one label, each naming the key or value it is about."""
    return [f'invalid label key "{key}": {e}' for e in label_key_errors(key)] + [
        f'invalid label value "{value}" of {key}: {e}' for e in label_value_errors(value)
    ]


def check_labels(labels: Mapping[str, str]) -> dict[str, str]:
    """The labels, unchanged; ``ValueError`` listing every invalid key and value."""
    errors = [e for key, value in labels.items() for e in label_errors(key, value)]
    if errors:
        raise ValueError("; ".join(errors))
    return dict(labels)


def parse_labels(text: str) -> dict[str, str]:
    """``region=eu,provider=aws`` as kubectl writes labels (blanks around items ignored; a later key wins)."""
    labels: dict[str, str] = {}
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        key, equals, value = item.partition("=")
        if not equals:
            raise ValueError(f'"{item}" is not a label: expected key=value, as in region=eu,provider=aws')
        labels[key.strip()] = value.strip()
    return check_labels(labels)
