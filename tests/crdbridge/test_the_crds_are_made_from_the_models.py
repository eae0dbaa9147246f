"""deploy/k8s/crds.yaml is what the models make (``make crds``): a field added to a model and not to the file, or
an edit by hand, fails here."""

from __future__ import annotations

from pathlib import Path

from fedstate.api.resources import MONGODB, MULTICLOUD_MONGODB
from fedstate_crdbridge.crds import PRINTER_COLUMNS, definition, render

CRDS = Path(__file__).resolve().parents[2] / "deploy" / "k8s" / "crds.yaml"


def test_the_shipped_crds_are_the_generated_ones() -> None:
    assert render() == CRDS.read_text(), "deploy/k8s/crds.yaml drifted from the models: run `make crds`"


def test_every_spec_field_is_typed_with_its_bounds_and_the_status_has_the_columns_it_shows() -> None:
    [version] = definition(MULTICLOUD_MONGODB)["spec"]["versions"]
    schema = version["schema"]["openAPIV3Schema"]["properties"]
    assert {"type": "integer", "minimum": 1, "maximum": 50} == {
        k: v for k, v in schema["spec"]["properties"]["replicaset"].items() if k != "description"
    }
    assert {"status": {}} == version["subresources"]
    assert ["STATE", "PRIMARY", "AGE"] == [c["name"] for c in PRINTER_COLUMNS]
    for resource in (MULTICLOUD_MONGODB, MONGODB):
        [version] = definition(resource)["spec"]["versions"]
        status = version["schema"]["openAPIV3Schema"]["properties"]["status"]["properties"]
        assert {"state", "primary", "observedGeneration", "conditions"} <= set(status)
