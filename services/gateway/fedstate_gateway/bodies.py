"""Request bodies as kube-apiserver reads them: JSON or YAML objects, and the patch formats of ``PATCH``.

A create or replace takes ``application/json`` (the default) or ``application/yaml``; a patch is
``application/merge-patch+json`` (RFC 7386), ``application/json-patch+json`` (RFC 6902, applied by the
``jsonpatch`` library) or, for a ConfigMap only, ``application/strategic-merge-patch+json`` (a ConfigMap's
fields hold no lists, so it merges as a merge patch does; kube-apiserver refuses it for custom resources
too). Anything else is 415, a body that does not parse 400, a patch that does not apply 422.
YAML aliases are refused: expanded, a few bytes of them can make gigabytes of JSON.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import jsonpatch
import yaml
from fastapi import Request

from fedstate.api import CONFIGMAP, Resource
from fedstate.mergepatch import merge_patch

from .errors import ApiError, status_error

JSON = "application/json"
YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml")
MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"

OBJECT_TYPES = (JSON, *YAML_TYPES)
PATCH_TYPES = (MERGE_PATCH, JSON_PATCH, STRATEGIC_MERGE_PATCH)


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", JSON).split(";")[0].strip().lower() or JSON


def _unsupported(media_type: str, accepted: tuple[str, ...]) -> ApiError:
    message = (
        f"the body of the request was in an unknown format ({media_type}) - "
        f"accepted media types include: {', '.join(accepted)}"
    )
    return status_error(415, message, reason="UnsupportedMediaType")


def _yaml(raw: bytes) -> Any:
    try:
        if any(isinstance(event, yaml.AliasEvent) for event in yaml.parse(raw, Loader=yaml.SafeLoader)):
            raise status_error(400, "YAML aliases (*name) are not accepted in a request body")
        documents = list(yaml.safe_load_all(raw))
    except yaml.YAMLError as exc:
        raise status_error(400, f"the body of the request is not valid YAML: {exc}") from None
    if len(documents) != 1:
        raise status_error(400, f"the body of the request must hold one YAML document, not {len(documents)}")
    return documents[0]


def _parsed(raw: bytes, media_type: str) -> Any:
    """The document of a JSON or YAML body; a Kubernetes 400 when it does not parse."""
    if media_type in YAML_TYPES:
        return _yaml(raw)
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise status_error(400, f"the body of the request is not valid JSON: {exc}") from None


def _an_object(document: Any) -> dict[str, Any]:
    if not isinstance(document, dict):
        raise status_error(400, f"the body of the request must be an object, not {type(document).__name__}")
    return document


async def object_body(request: Request) -> dict[str, Any]:
    """A create or replace body: one object, as JSON or YAML."""
    media_type = _media_type(request)
    if media_type not in OBJECT_TYPES:
        raise _unsupported(media_type, OBJECT_TYPES)
    return _an_object(_parsed(await request.body(), media_type))


@dataclass(frozen=True)
class Patch:
    media_type: str
    document: Any

    def applied_to(self, current: dict[str, Any]) -> dict[str, Any]:
        """The object the patch makes of ``current``; a Kubernetes 422 when it does not apply."""
        if self.media_type == JSON_PATCH:
            try:
                patched = jsonpatch.apply_patch(current, self.document)
            except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException, TypeError, ValueError) as exc:
                raise status_error(422, f"the JSON patch does not apply: {exc}") from None
            return _an_object(patched)
        return _an_object(merge_patch(current, self.document))


async def patch_body(request: Request, resource: Resource) -> Patch:
    """A ``PATCH`` body in one of the formats this resource takes."""
    media_type = _media_type(request)
    accepted = PATCH_TYPES if resource is CONFIGMAP else (MERGE_PATCH, JSON_PATCH)
    if media_type not in accepted:
        raise _unsupported(media_type, accepted)
    document = _parsed(await request.body(), JSON)
    if media_type == JSON_PATCH and not isinstance(document, list):
        raise status_error(400, "a JSON patch (application/json-patch+json) must be a list of operations")
    return Patch(media_type, document)


def request_body(*media_types: str) -> dict[str, Any]:
    """The OpenAPI ``requestBody`` of a route that reads its body itself: an object in each media type."""
    schema = {"type": "object", "description": "the object, as in a Kubernetes manifest"}
    return {"requestBody": {"required": True, "content": {m: {"schema": schema} for m in media_types}}}
