"""apimachinery's syntax rules for names, label keys and values and annotations, with its messages.

``IsQualifiedName`` (a label or annotation key: an optional DNS-1123 subdomain prefix and ``/``, then
a name of at most 63 characters), ``IsValidLabelValue`` (at most 63 characters, same alphabet, or
empty) and ``ValidateAnnotations`` (qualified keys in any case, 256 KiB in all). Every object's
``metadata`` goes through :func:`metadata_errors` on create and update, as in ``ValidateObjectMeta``.
"""

from __future__ import annotations

import re
from typing import Any

from fedstate_sim.kube.errors import INVALID, TOO_LONG, FieldError

_QUALIFIED_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_QUALIFIED = re.compile(_QUALIFIED_FMT)
_QUALIFIED_MSG = (
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"
)
_LABEL_VALUE_FMT = f"({_QUALIFIED_FMT})?"
_LABEL_VALUE = re.compile(_LABEL_VALUE_FMT)
_LABEL_VALUE_MSG = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', "
    "and must start and end with an alphanumeric character"
)
_SUBDOMAIN_FMT = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"
_SUBDOMAIN = re.compile(_SUBDOMAIN_FMT)
_SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
    "and must start and end with an alphanumeric character"
)
NAME_MAX, SUBDOMAIN_MAX = 63, 253
ANNOTATIONS_MAX_BYTES = 256 * 1024


def _regex_error(message: str, fmt: str, *examples: str) -> str:
    """``RegexError``: the rule, examples and the regex, worded exactly as apimachinery words them."""
    shown = " or ".join(f"'{example}', " for example in examples)
    return f"{message} (e.g. {shown}regex used for validation is '{fmt}')"


def _max_len(limit: int) -> str:
    return f"must be no more than {limit} characters"


def dns1123_subdomain(value: str) -> list[str]:
    errs = [_max_len(SUBDOMAIN_MAX)] if len(value) > SUBDOMAIN_MAX else []
    if not _SUBDOMAIN.fullmatch(value):
        errs.append(_regex_error(_SUBDOMAIN_MSG, _SUBDOMAIN_FMT, "example.com"))
    return errs


def qualified_name(value: str) -> list[str]:
    """``IsQualifiedName``: the problems of a label (or annotation) key, none when it is valid."""
    parts = value.split("/")
    if len(parts) > 2:
        rule = _regex_error(_QUALIFIED_MSG, _QUALIFIED_FMT, "MyName", "my.name", "123-abc")
        return [f"a qualified name {rule} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"]
    errs: list[str] = []
    if len(parts) == 2:
        prefix = parts[0]
        errs += (
            ["prefix part must be non-empty"] if not prefix else [f"prefix part {e}" for e in dns1123_subdomain(prefix)]
        )
    name = parts[-1]
    if not name:
        errs.append("name part must be non-empty")
    elif len(name) > NAME_MAX:
        errs.append(f"name part {_max_len(NAME_MAX)}")
    if not _QUALIFIED.fullmatch(name):
        errs.append("name part " + _regex_error(_QUALIFIED_MSG, _QUALIFIED_FMT, "MyName", "my.name", "123-abc"))
    return errs


def label_value(value: str) -> list[str]:
    """``IsValidLabelValue``: the problems of a label value, none when it is valid."""
    errs = [_max_len(NAME_MAX)] if len(value) > NAME_MAX else []
    if not _LABEL_VALUE.fullmatch(value):
        errs.append(_regex_error(_LABEL_VALUE_MSG, _LABEL_VALUE_FMT, "MyValue", "my_value", "12345"))
    return errs


def label_errors(labels: Any, field: str) -> list[FieldError]:
    """``ValidateLabels``: one error per problem, each naming the whole map's path as kube-apiserver does."""
    if not isinstance(labels, dict):
        return [] if labels is None else [FieldError(INVALID, field, "must be a map of strings", labels)]
    errs: list[FieldError] = []
    for key, value in labels.items():
        errs += [FieldError(INVALID, field, msg, key) for msg in qualified_name(str(key))]
        if not isinstance(value, str):
            errs.append(FieldError(INVALID, field, "must be a string", value))
            continue
        errs += [FieldError(INVALID, field, msg, value) for msg in label_value(value)]
    return errs


def annotation_errors(annotations: Any, field: str) -> list[FieldError]:
    """``ValidateAnnotations``: keys are qualified names in any case; values are free, 256 KiB in all."""
    if not isinstance(annotations, dict):
        return [] if annotations is None else [FieldError(INVALID, field, "must be a map of strings", annotations)]
    errs: list[FieldError] = []
    size = 0
    for key, value in annotations.items():
        errs += [FieldError(INVALID, field, msg, key) for msg in qualified_name(str(key).lower())]
        size += len(str(key).encode()) + len(str(value).encode())
    if size > ANNOTATIONS_MAX_BYTES:
        errs.append(FieldError(TOO_LONG, field, f"must have at most {ANNOTATIONS_MAX_BYTES} bytes"))
    return errs


def metadata_errors(metadata: Any, path: str = "metadata") -> list[FieldError]:
    """The label and annotation problems of one ``ObjectMeta`` (or a template's) at ``path``."""
    if not isinstance(metadata, dict):
        return []
    return label_errors(metadata.get("labels"), f"{path}.labels") + annotation_errors(
        metadata.get("annotations"), f"{path}.annotations"
    )
