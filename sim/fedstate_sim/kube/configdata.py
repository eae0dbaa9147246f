"""Secret and ConfigMap payloads as kube-apiserver takes them.

Keys of ``data``/``binaryData`` must be config keys (``[-._a-zA-Z0-9]+``, 253 characters at most);
a Secret's ``data`` and a ConfigMap's ``binaryData`` must be base64 (the request cannot be decoded
otherwise: 400); a Secret's write-only ``stringData`` is folded into ``data`` and never stored; its
``type`` defaults to ``Opaque`` and never changes; a ``kubernetes.io/dockerconfigjson`` Secret needs a
JSON ``.dockerconfigjson``.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any

from fedstate_sim.kube import errors
from fedstate_sim.kube.admission import Admission
from fedstate_sim.kube.errors import INVALID, REQUIRED, FieldError
from fedstate_sim.kube.meta import Obj, meta
from fedstate_sim.kube.resources import ResourceType

_KEY_FMT = "[-._a-zA-Z0-9]+"
_KEY = re.compile(_KEY_FMT)
_KEY_MSG = (
    "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or "
    f"'KEY_NAME',  or 'key-name', regex used for validation is '{_KEY_FMT}')"
)
_BASE64 = re.compile(r"[A-Za-z0-9+/]*={0,2}")
DOCKER_CONFIG_JSON, DOCKER_CONFIG_KEY = "kubernetes.io/dockerconfigjson", ".dockerconfigjson"


class ConfigMapAdmission(Admission):
    def on_create(self, rtype: ResourceType, obj: Obj) -> None:
        _check(rtype, obj, encoded="binaryData")

    def on_update(self, rtype: ResourceType, old: Obj, new: Obj) -> None:
        _check(rtype, new, encoded="binaryData")


class SecretAdmission(Admission):
    def on_create(self, rtype: ResourceType, obj: Obj) -> None:
        _fold_string_data(obj)
        _check(rtype, obj, encoded="data")
        obj.setdefault("type", "Opaque")
        _refuse(rtype, obj, _type_errors(obj))

    def on_update(self, rtype: ResourceType, old: Obj, new: Obj) -> None:
        _fold_string_data(new)
        _check(rtype, new, encoded="data")
        new.setdefault("type", "Opaque")
        errs = _type_errors(new)
        if new["type"] != old.get("type", "Opaque"):
            errs.append(FieldError(INVALID, "type", "field is immutable", new["type"]))
        _refuse(rtype, new, errs)


def _fold_string_data(secret: Obj) -> None:
    """``stringData`` is written into ``data`` (winning over it) and dropped, as the API server does."""
    extra = secret.pop("stringData", None)
    if isinstance(extra, dict) and extra:
        encoded = {key: base64.b64encode(str(value).encode()).decode() for key, value in extra.items()}
        secret["data"] = {**(secret.get("data") or {}), **encoded}


def _check(rtype: ResourceType, obj: Obj, encoded: str) -> None:
    for value in (obj.get(encoded) or {}).values():
        offset = _base64_error(value)
        if offset is not None:
            why = f"illegal base64 data at input byte {offset}"
            raise errors.bad_request(
                f'{rtype.kind} in version "{rtype.version}" cannot be handled as a {rtype.kind}: {why}'
            )
    keys = [(field, key) for field in ("data", "binaryData") for key in obj.get(field) or {}]
    _refuse(rtype, obj, [error for field, key in keys for error in _key_errors(field, key)])


def _base64_error(value: Any) -> int | None:
    """Where standard, padded base64 (line breaks ignored, as Go's decoder does) goes wrong; None when it does not."""
    text = str(value).replace("\r", "").replace("\n", "")
    bad = _BASE64.match(text)
    end = bad.end() if bad else 0
    if end < len(text):
        return end
    try:
        base64.b64decode(text, validate=True)
    except binascii.Error:
        return max(len(text) - 1, 0)
    return None


def _key_errors(field: str, key: str) -> list[FieldError]:
    problems = [] if _KEY.fullmatch(key) else [_KEY_MSG]
    if len(key) > 253:
        problems.append("must be no more than 253 characters")
    return [FieldError(INVALID, f"{field}[{key}]", problem, key) for problem in problems]


def _type_errors(secret: Obj) -> list[FieldError]:
    if secret.get("type") != DOCKER_CONFIG_JSON:
        return []
    field = f"data[{DOCKER_CONFIG_KEY}]"
    raw = (secret.get("data") or {}).get(DOCKER_CONFIG_KEY)
    if raw is None:
        return [FieldError(REQUIRED, field)]
    try:
        json.loads(base64.b64decode(raw))
    except ValueError as exc:
        return [FieldError(INVALID, field, str(exc), "<secret contents redacted>")]
    return []


def _refuse(rtype: ResourceType, obj: Obj, errs: list[FieldError]) -> None:
    if errs:
        raise errors.invalid_object(rtype.kind, meta(obj).get("name", ""), errs)
