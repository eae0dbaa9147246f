"""The DNS-1123 label rule every name on the bus follows (tenant, namespace, name, cluster), without pydantic:
the CLI checks its arguments with it before it asks anything (its reading commands load no pydantic)."""

from __future__ import annotations

import re

DNS1123_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
MAX_LABEL_LENGTH = 63


def is_dns_label(value: str) -> bool:
    # fullmatch: re.match's "$" also matches before a final newline, and "name\n" is no label.
    return len(value) <= MAX_LABEL_LENGTH and re.fullmatch(DNS1123_LABEL, value) is not None
