"""Image changes: one major release up at a time, no downgrade across releases, patches free."""

from __future__ import annotations

import pymongo.common
import pytest

from fedstate.replset import (
    ImageUnsupported,
    TransitionRefused,
    check_image_supported,
    check_image_transition,
    feature_compatibility_version,
    mongo_version,
)
from fedstate.replset.versions import OLDEST_SUPPORTED


@pytest.mark.parametrize(
    ("old", "new"),
    [("mongo:6.0", "mongo:7.0"), ("mongo:6.0.5", "mongo:6.0.3"), ("mongo:4.4", "mongo:5.0"), ("mongo:7.0", "mongo:7.0.4"),
     ("registry/mongo:6.0-jammy", "registry/mongo:7.0-jammy"), ("mongo:latest", "mongo:6.0"), ("mongo:3.6", "mongo:4.0")],
)  # fmt: skip
def test_allowed_changes(old: str, new: str) -> None:
    check_image_transition(old, new)


def test_a_downgrade_across_major_versions_is_refused_with_the_reason() -> None:
    with pytest.raises(TransitionRefused, match=r"downgrading from mongo:7.0 \(MongoDB 7.0\) to mongo:6.0"):
        check_image_transition("mongo:7.0", "mongo:6.0")


def test_an_upgrade_that_skips_a_release_is_refused_with_the_path() -> None:
    with pytest.raises(TransitionRefused, match=r"4\.4 → 5\.0 → 6\.0"):
        check_image_transition("mongo:4.4", "mongo:6.0")


def test_versions_and_fcv_come_from_the_tag() -> None:
    assert (6, 0, 5) == mongo_version("docker.io/library/mongo:6.0.5-jammy@sha256:abc")
    assert "7.0" == feature_compatibility_version("mongo:7.0.4")
    assert mongo_version("mongo") is None


@pytest.mark.parametrize("image", ["mongo:3.6", "mongo:4.0.28", "registry.example/mongo:4.2-bionic"])
def test_a_release_the_driver_cannot_reach_is_refused_with_what_to_choose(image: str) -> None:
    with pytest.raises(ImageUnsupported, match=r"fedstate manages MongoDB 4\.4 and later.*choose mongo:4\.4 or later"):
        check_image_supported(image)


@pytest.mark.parametrize("image", ["mongo:4.4", "mongo:8.0.1-noble", "mongo:latest", "mongo"])
def test_releases_from_4_4_and_tags_without_a_version_are_accepted(image: str) -> None:
    check_image_supported(image)


def test_the_oldest_release_accepted_is_the_oldest_the_agents_driver_connects_to() -> None:
    """A pymongo upgrade that drops a release must move the admission rule with it."""
    assert pymongo.common.MIN_SUPPORTED_SERVER_VERSION == "{}.{}".format(*OLDEST_SUPPORTED)
