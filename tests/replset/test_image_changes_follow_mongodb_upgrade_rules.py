"""Image changes: one major release up at a time, no downgrade across releases, patches free."""

from __future__ import annotations

import pytest

from fedstate.replset import TransitionRefused, check_image_transition, feature_compatibility_version, mongo_version


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
