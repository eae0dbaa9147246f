"""Decoding request pieces: query flags, JSON/YAML bodies, delete options, list pagination tokens."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import yaml

from fedstate_sim.kube import errors
from fedstate_sim.kube.meta import Obj


def flag(query: Mapping[str, str], name: str) -> bool:
    return query.get(name, "").lower() in ("true", "1")


def optional_int(query: Mapping[str, str], name: str) -> int | None:
    raw = query.get(name)
    if raw in (None, ""):
        return None
    try:
        return int(str(raw))
    except ValueError as exc:
        raise errors.bad_request(f"{name} must be an integer, got {raw!r}") from exc


def watch_start(query: Mapping[str, str]) -> int | None:
    """None = start with synthetic ADDED events ("" or "0"), else the resourceVersion to resume after."""
    value = optional_int(query, "resourceVersion")
    return None if not value else value


EXACT, NOT_OLDER_THAN = "Exact", "NotOlderThan"


def list_version(query: Mapping[str, str]) -> tuple[int | None, str]:
    """``resourceVersion`` and ``resourceVersionMatch`` of a list, checked as ``ValidateListOptions`` checks them."""
    match, raw = query.get("resourceVersionMatch", ""), query.get("resourceVersion", "")
    problem = None
    if match not in ("", EXACT, NOT_OLDER_THAN):
        problem = errors.FieldError(
            errors.NOT_SUPPORTED, "resourceVersionMatch", f'supported values: "{EXACT}", "{NOT_OLDER_THAN}"', match
        )
    elif match and not raw:
        why = "resourceVersionMatch is forbidden unless resourceVersion is provided"
        problem = errors.FieldError(errors.FORBIDDEN, "resourceVersionMatch", why)
    elif match == EXACT and raw == "0":
        why = 'resourceVersionMatch "exact" is forbidden for resourceVersion "0"'
        problem = errors.FieldError(errors.FORBIDDEN, "resourceVersionMatch", why)
    if problem is not None:
        raise errors.invalid_object("ListOptions", "", [problem], "meta.k8s.io")
    return optional_int(query, "resourceVersion"), match


def decode_json(raw: bytes) -> Any:
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise errors.bad_request(f"invalid JSON in request body: {exc}") from exc


# libyaml's loader when PyYAML was built with it: the pure-Python one costs a loaded simulator most of its time.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def decode_yaml(raw: bytes) -> Any:
    """YAML (or JSON) as plain JSON values: timestamps YAML would turn into datetimes stay strings.

    Clients send apply patches as JSON (the official ones do) far more often than as YAML, and JSON
    is YAML: it is parsed as such first, which costs a twentieth of the YAML parse."""
    try:
        return json.loads(raw)
    except ValueError:
        pass
    try:
        return json.loads(json.dumps(yaml.load(raw, Loader=_YAML_LOADER), default=_plain))
    except yaml.YAMLError as exc:
        raise errors.bad_request(f"invalid YAML in request body: {exc}") from exc


def _plain(value: Any) -> str:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value.tzinfo else value.isoformat()
    return str(value)


def delete_options(query: Mapping[str, str], body: Any) -> Obj:
    options = dict(body) if isinstance(body, dict) else {}
    if query.get("propagationPolicy"):
        options["propagationPolicy"] = query["propagationPolicy"]
    if options.get("orphanDependents") is True and "propagationPolicy" not in options:
        options["propagationPolicy"] = "Orphan"
    if query.get("gracePeriodSeconds"):
        try:
            options["gracePeriodSeconds"] = int(query["gracePeriodSeconds"])
        except ValueError:
            raise errors.bad_request(f"gracePeriodSeconds: invalid value {query['gracePeriodSeconds']!r}") from None
    if "gracePeriodSeconds" in options and not isinstance(options["gracePeriodSeconds"], int):
        raise errors.bad_request("gracePeriodSeconds: must be an integer")
    return options


def encode_continue(offset: int, rv: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"offset": offset, "rv": rv}).encode()).decode()


def decode_continue(token: str | None) -> int:
    if not token:
        return 0
    try:
        return int(json.loads(base64.urlsafe_b64decode(token.encode()))["offset"])
    except (ValueError, KeyError, TypeError) as exc:
        raise errors.bad_request("invalid continue token") from exc
