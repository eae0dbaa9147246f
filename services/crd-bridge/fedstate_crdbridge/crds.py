"""The CustomResourceDefinitions of the bridged kinds, made from the pydantic models: ``python -m
fedstate_crdbridge.crds [FILE]`` (``make crds``) writes deploy/k8s/crds.yaml, and a test fails if it drifts.

pydantic's JSON Schema becomes a structural ``openAPIV3Schema``: references inlined, ``X | None`` as
``nullable``, a union of unlike types as ``x-kubernetes-preserve-unknown-fields``, and every object keeps
unknown fields for the intake to refuse by name. Defaults stay out: the API server would write them into every
object, and the intake fills them anyway. Full validation (quantities, modes, cross-field rules) stays the
intake's; the schema types every field so ``kubectl explain`` shows them and gross errors stop at the API.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from fedstate.api.resources import MONGODB, MULTICLOUD_MONGODB, Resource
from fedstate.models.mongodb import MongoDB
from fedstate.models.multicloud import MultiCloudMongoDB

from .bridged import STATUS_MODELS

Schema = dict[str, Any]
DEFAULT_FILE = Path("deploy/k8s/crds.yaml")
HEADER = (
    "# Generated from the pydantic models by `make crds` (python -m fedstate_crdbridge.crds): do not edit.\n"
    "# The user-facing kinds, served by a control-plane cluster (the crd-bridge) and by member clusters (the agent's\n"
    "# single-cluster MongoDB objects). Full validation happens at intake; the schema types every field.\n"
)
MODELS: dict[str, type[BaseModel]] = {MULTICLOUD_MONGODB.kind: MultiCloudMongoDB, MONGODB.kind: MongoDB}
_KEPT = (
    "type", "description", "enum", "format", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
    "minLength", "maxLength", "pattern", "minItems", "maxItems", "required",
)  # fmt: skip
PRINTER_COLUMNS = [
    {"name": "STATE", "type": "string", "jsonPath": ".status.state"},
    {"name": "PRIMARY", "type": "string", "jsonPath": ".status.primary"},
    {"name": "AGE", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
]


def structural(node: Schema, defs: dict[str, Schema]) -> Schema:
    """One node of pydantic's JSON Schema as a structural schema node."""
    if "$ref" in node:
        return structural(defs[node["$ref"].rpartition("/")[2]], defs)
    if "anyOf" in node:
        return _union(node, defs)
    out: Schema = {key: node[key] for key in _KEPT if key in node}
    if "const" in node:
        out["enum"] = [node["const"]]
    if "properties" in node:
        out["properties"] = {name: structural(child, defs) for name, child in node["properties"].items()}
    extra = node.get("additionalProperties")
    if isinstance(extra, dict):
        out["additionalProperties"] = structural(extra, defs)
    if "items" in node:
        out["items"] = structural(node["items"], defs)
    # Unknown fields are kept, not pruned: the intake names each one in its refusal ("unknown fields are errors,
    # not silence"), where pruning would drop a misspelt field without a word.
    if out.get("type") in ("object", None):
        out["x-kubernetes-preserve-unknown-fields"] = True
    return out


def _union(node: Schema, defs: dict[str, Schema]) -> Schema:
    options = [option for option in node["anyOf"] if option.get("type") != "null"]
    if len(options) == 1:
        out = structural(options[0], defs)
    else:
        types = {structural(option, defs).get("type") for option in options}
        out = {"x-kubernetes-int-or-string": True} if types == {"integer", "string"} else {}
        out = out or {"x-kubernetes-preserve-unknown-fields": True}
    if len(options) < len(node["anyOf"]):
        out["nullable"] = True
    if "description" in node:
        out["description"] = node["description"]
    return out


def _model_schema(model: type[BaseModel]) -> Schema:
    raw = model.model_json_schema(by_alias=True)
    return structural(raw, raw.get("$defs", {}))


def open_api_schema(resource: Resource) -> Schema:
    """The object's schema: the model's top-level fields, its status the bridged status model's."""
    schema = _model_schema(MODELS[resource.kind])
    properties = schema["properties"]
    properties["apiVersion"] = {"type": "string"}
    properties["kind"] = {"type": "string"}
    properties["metadata"] = {"type": "object"}
    properties["status"] = _model_schema(STATUS_MODELS[resource.kind])
    schema.pop("required", None)  # apiVersion/kind/metadata are the API server's to check
    return schema


def definition(resource: Resource) -> Schema:
    group, _, version = resource.api_version.rpartition("/")
    names: dict[str, Any] = {"plural": resource.plural, "singular": resource.singular, "kind": resource.kind}
    if resource.short_names:
        names["shortNames"] = list(resource.short_names)
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": resource.qualified_plural},
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": names,
            "versions": [
                {
                    "name": version,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": PRINTER_COLUMNS,
                    "schema": {"openAPIV3Schema": open_api_schema(resource)},
                }
            ],
        },
    }


def render() -> str:
    documents = [definition(resource) for resource in (MULTICLOUD_MONGODB, MONGODB)]
    return HEADER + yaml.safe_dump_all(documents, sort_keys=False, width=120)


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_FILE
    target.write_text(render())
    print(target)
