"""``delete`` waits, as kubectl does, until the object is gone; ``--wait=false`` returns at once,
``--ignore-not-found`` makes a missing object no error, ``-f FILE`` deletes the objects of a manifest."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from served_gateway import ServedGateway

from fedstate.bus.names import InstanceKey, Kind


def mcm(name: str) -> str:
    body = {"apiVersion": "middleware.fedstate.io/v1alpha1", "kind": "MultiCloudMongoDB", "metadata": {"name": name}}
    return yaml.safe_dump({**body, "spec": {"replicaset": 3}})


def configmap(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"k": "v"}}


def finalize_later(served: ServedGateway, name: str) -> threading.Event:
    """Play the federation service: once the instance is marked for deletion, remove it from fs-spec."""
    done = threading.Event()
    key = InstanceKey(served.tenant, "default", Kind.MULTICLOUD_MONGODB, name)

    def finalize() -> None:
        while not done.is_set():
            entry = served.run(served.bus.spec.get(key.spec_key))
            if entry is not None and entry.value.deleting:
                served.run(served.bus.spec.delete(key.spec_key))
                done.set()
            done.wait(0.2)

    threading.Thread(target=finalize, daemon=True).start()
    return done


def test_delete_returns_once_the_federation_has_removed_the_instance(
    cli: Callable[..., Any], served: ServedGateway, name: str
) -> None:
    cli("apply", "-f", "-", input=mcm(name))
    finalized = finalize_later(served, name)
    result = cli("delete", "mcm", name)
    assert (0, f'multicloudmongodb.middleware.fedstate.io "{name}" deleted\n') == (result.exit_code, result.stdout)
    assert finalized.is_set(), "delete returned before the instance was gone"
    assert 1 == cli("get", "mcm", name).exit_code


def test_delete_gives_up_after_its_timeout(cli: Callable[..., Any], name: str) -> None:
    cli("apply", "-f", "-", input=mcm(name))
    result = cli("delete", "mcm", name, "--timeout", "1s")
    assert 1 == result.exit_code
    assert "error: timed out after 1s waiting for delete (state is Deleting)\n" == result.stderr


def test_a_missing_object_is_not_found_unless_ignored(cli: Callable[..., Any], name: str) -> None:
    missing = cli("delete", "mcms", name)
    assert (1, "") == (missing.exit_code, missing.stdout)
    assert f'Error from server (NotFound): multicloudmongodbs.middleware.fedstate.io "{name}" not found\n' == (
        missing.stderr
    )
    ignored = cli("delete", "mcm", name, "--ignore-not-found")
    assert (0, "", "") == (ignored.exit_code, ignored.stdout, ignored.stderr)
    assert 0 == cli("delete", "mcm", name, "--ignore-not-found=true", "--wait=false").exit_code


def test_delete_f_removes_the_objects_of_a_manifest(cli: Callable[..., Any], name: str, tmp_path: Path) -> None:
    manifest = tmp_path / "objects.yaml"
    manifest.write_text(yaml.safe_dump_all([configmap(f"{name}-a"), configmap(f"{name}-b")]))
    assert 0 == cli("apply", "-f", str(manifest)).exit_code
    result = cli("delete", "-f", str(manifest))
    assert (0, f'configmap "{name}-a" deleted\nconfigmap "{name}-b" deleted\n') == (result.exit_code, result.stdout)
    assert [1, 1] == [cli("get", "cm", f"{name}-{x}").exit_code for x in "ab"]
    again = cli("delete", "-f", str(manifest), "--ignore-not-found")
    assert (0, "") == (again.exit_code, again.stdout)


def test_delete_needs_a_kind_and_a_name_or_a_file(cli: Callable[..., Any]) -> None:
    assert "you must name a kind and at least one object" in cli("delete", "mcm").stderr
    assert "when -f is given" in cli("delete", "mcm", "x", "-f", "objects.yaml").stderr
