"""``apply -f`` reads files, directories and stdin as kubectl does, and refuses a bad file with one line and exit 1."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from fedstate.bus.limits import MAX_OBJECT_BYTES


def configmap(name: str, **data: str) -> str:
    return yaml.safe_dump({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data})


def mcm(name: str, **metadata: Any) -> dict[str, Any]:
    return {
        "apiVersion": "middleware.fedstate.io/v1alpha1",
        "kind": "MultiCloudMongoDB",
        "metadata": {"name": name, **metadata},
        "spec": {"replicaset": 3},
    }


def test_a_binary_file_is_one_line_not_a_traceback(cli: Callable[..., Any], tmp_path: Path) -> None:
    (tmp_path / "image.yaml").write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(4000))
    result = cli("apply", "-f", "image.yaml")
    assert 1 == result.exit_code
    assert "error: image.yaml: not a text file (byte 0 is not UTF-8); apply reads YAML or JSON manifests\n" == (
        result.stderr
    )
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_a_file_of_nul_bytes_is_not_a_text_file(cli: Callable[..., Any], tmp_path: Path) -> None:
    (tmp_path / "zeros.yaml").write_bytes(b"\x00" * 64)
    result = cli("apply", "-f", "zeros.yaml")
    assert (1, "error: zeros.yaml: not a text file (it contains NUL bytes); apply reads YAML or JSON manifests\n") == (
        result.exit_code,
        result.stderr,
    )


def test_broken_yaml_is_named_by_line_and_column_on_one_line(cli: Callable[..., Any], tmp_path: Path) -> None:
    (tmp_path / "tabs.yaml").write_text("kind: ConfigMap\nmetadata:\n\tname: x\n")
    result = cli("apply", "-f", "tabs.yaml")
    assert 1 == result.exit_code
    assert result.stderr.startswith("error: tabs.yaml: not valid YAML: line 3, column 1: found character")
    assert 1 == result.stderr.count("\n")


def test_an_object_over_the_limit_is_too_large_and_nothing_is_sent(
    cli: Callable[..., Any], tmp_path: Path, name: str
) -> None:
    (tmp_path / "big.yaml").write_text(configmap(name, blob="x" * (MAX_OBJECT_BYTES + 100_000)))
    result = cli("apply", "-f", "big.yaml")
    assert 1 == result.exit_code
    assert (
        f'error: big.yaml document 1: ConfigMap "{name}" is too large: 610 KiB as JSON, '
        "an object may be at most 512 KiB\n"
    ) == result.stderr
    assert 1 == cli("get", "configmap", name).exit_code


def test_a_ten_megabyte_document_is_too_large_without_being_parsed(
    cli: Callable[..., Any], tmp_path: Path, name: str
) -> None:
    many_keys = "".join(f"  key{i}: {'v' * 100}\n" for i in range(100_000))
    (tmp_path / "huge.yaml").write_text(configmap(name) + "---\n# the rest\n---\ndata:\n" + many_keys)
    result = cli("apply", "-f", "huge.yaml")
    assert 1 == result.exit_code
    assert (
        "error: huge.yaml document 2: its text is too large: 10.8 MiB of YAML, an object may be at most 512 KiB\n"
    ) == result.stderr
    assert 1 == cli("get", "configmap", name).exit_code


def test_an_object_just_under_the_limit_is_applied(cli: Callable[..., Any], tmp_path: Path, name: str) -> None:
    (tmp_path / "large.yaml").write_text(configmap(name, blob="x" * (MAX_OBJECT_BYTES - 200)))
    result = cli("apply", "-f", "large.yaml")
    assert (0, f"configmap/{name} created\n") == (result.exit_code, result.stdout), result.stderr


def test_an_empty_file_or_stdin_passes_no_objects(cli: Callable[..., Any], tmp_path: Path) -> None:
    (tmp_path / "empty.yaml").write_text("")
    (tmp_path / "comments.yaml").write_text("# nothing yet\n---\n")
    for result in (cli("apply", "-f", "empty.yaml"), cli("apply", "-f", "comments.yaml"), cli("apply", "-f", "-")):
        assert (1, "error: no objects passed to apply\n") == (result.exit_code, result.stderr)


def test_a_directory_applies_its_manifest_files_in_name_order(
    cli: Callable[..., Any], tmp_path: Path, name: str
) -> None:
    folder = tmp_path / "manifests"
    (folder / "nested").mkdir(parents=True)
    (folder / "b.yml").write_text(configmap(f"{name}-b"))
    (folder / "a.yaml").write_text(configmap(f"{name}-a"))
    (folder / "c.json").write_text(json.dumps(mcm(f"{name}-c")))
    (folder / "notes.txt").write_text("not a manifest")
    (folder / "nested" / "d.yaml").write_text(configmap(f"{name}-d"))
    result = cli("apply", "-f", "manifests")
    assert 0 == result.exit_code, result.stderr
    assert [
        f"configmap/{name}-a created",
        f"configmap/{name}-b created",
        f"multicloudmongodb.middleware.fedstate.io/{name}-c created",
    ] == result.stdout.splitlines()
    recursive = cli("apply", "-R", "-f", "manifests")
    assert f"configmap/{name}-d created" in recursive.stdout.splitlines()


def test_a_directory_without_manifests_passes_no_objects(cli: Callable[..., Any], tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "README.md").write_text("# hi\n")
    result = cli("apply", "-f", "docs")
    assert (1, "error: no objects passed to apply\n") == (result.exit_code, result.stderr)


def test_several_files_are_applied_in_the_order_given(cli: Callable[..., Any], tmp_path: Path, name: str) -> None:
    (tmp_path / "one.yaml").write_text(configmap(f"{name}-1"))
    (tmp_path / "two.yaml").write_text(configmap(f"{name}-2"))
    result = cli("apply", "-f", "two.yaml", "-f", "one.yaml")
    assert [f"configmap/{name}-2 created", f"configmap/{name}-1 created"] == result.stdout.splitlines()


def test_a_json_manifest_indented_with_tabs_is_read(cli: Callable[..., Any], tmp_path: Path, name: str) -> None:
    (tmp_path / "tabs.json").write_text(json.dumps(mcm(name), indent="\t"))
    result = cli("apply", "-f", "tabs.json")
    assert (0, f"multicloudmongodb.middleware.fedstate.io/{name} created\n") == (result.exit_code, result.stdout)


def test_a_stale_resource_version_is_a_conflict_printed_once(
    cli: Callable[..., Any], tmp_path: Path, name: str
) -> None:
    cli("apply", "-f", "-", input=yaml.safe_dump(mcm(name)))
    read = yaml.safe_load(cli("get", "mcm", name, "-o", "yaml").stdout)
    stale = read["metadata"]["resourceVersion"]
    read.pop("status", None)
    (tmp_path / "read.yaml").write_text(yaml.safe_dump(read))
    newer = {**read, "spec": {**read["spec"], "replicaset": 5}}
    (tmp_path / "newer.yaml").write_text(yaml.safe_dump(newer))
    assert 0 == cli("apply", "-f", "newer.yaml").exit_code
    current = yaml.safe_load(cli("get", "mcm", name, "-o", "yaml").stdout)["metadata"]["resourceVersion"]
    result = cli("apply", "-f", "read.yaml")
    assert 1 == result.exit_code
    assert (
        f'error: Operation cannot be fulfilled on MultiCloudMongoDB "{name}": the object has been modified '
        f"(metadata.resourceVersion is {stale}, the current version is {current}); "
        "apply your changes to the latest version and try again\n"
    ) == result.stderr
    assert 5 == yaml.safe_load(cli("get", "mcm", name, "-o", "yaml").stdout)["spec"]["replicaset"]


def test_a_quoted_number_is_refused_where_the_schema_says_integer(
    cli: Callable[..., Any], tmp_path: Path, name: str
) -> None:
    body = mcm(name)
    body["spec"]["replicaset"] = "3"
    (tmp_path / "quoted.yaml").write_text(yaml.safe_dump(body))
    result = cli("apply", "-f", "quoted.yaml")
    assert (
        1,
        f'error: The MultiCloudMongoDB "{name}" is invalid: spec.replicaset: expected an integer, got string "3"\n',
    ) == (
        result.exit_code,
        result.stderr,
    )
