"""MongoDB versions from image references, and which image changes MongoDB allows.

MongoDB upgrades one major release at a time (3.6 → 4.0 → 4.2 → 4.4 → 5.0 → 6.0 → 7.0 → 8.0) and
raises ``featureCompatibilityVersion`` once every member runs the new binary; a downgrade to an older
release needs the FCV lowered first and is refused here. Patch changes within a release are free.
"""

from __future__ import annotations

import re

RELEASES: tuple[tuple[int, int], ...] = ((3, 6), (4, 0), (4, 2), (4, 4), (5, 0), (6, 0), (7, 0), (8, 0))
_TAG = re.compile(r"^(\d+)(?:\.(\d+))?(?:\.(\d+))?")


class TransitionRefused(ValueError):
    """An image change MongoDB does not support in place."""


def mongo_version(image: str) -> tuple[int, int, int] | None:
    """(major, minor, patch) from ``registry/mongo:6.0.5-jammy``; None when the tag names no version."""
    tag = image.rsplit("/", 1)[-1].partition(":")[2].split("@")[0]
    match = _TAG.match(tag)
    if not match:
        return None
    major, minor, patch = (int(g) if g else 0 for g in match.groups())
    return (major, minor, patch)


def release_of(image: str) -> tuple[int, int] | None:
    version = mongo_version(image)
    return (version[0], version[1]) if version else None


def feature_compatibility_version(image: str) -> str | None:
    """The FCV a set running only this image should end up with: "6.0" for mongo:6.0.5."""
    release = release_of(image)
    return f"{release[0]}.{release[1]}" if release else None


def _series(release: tuple[int, int]) -> int:
    """Position in the major-release sequence; rapid releases (7.1, 7.2) count with their major."""
    known = [i for i, r in enumerate(RELEASES) if r <= release]
    return known[-1] if known else 0


def check_image_transition(old_image: str, new_image: str) -> None:
    """Raise ``TransitionRefused`` for a downgrade to an older release or an upgrade that skips one."""
    old, new = release_of(old_image), release_of(new_image)
    if old is None or new is None or old == new:
        return
    fmt = "{}.{}".format
    if new < old:
        raise TransitionRefused(
            f"downgrading from {old_image} (MongoDB {fmt(*old)}) to {new_image} (MongoDB {fmt(*new)}) crosses a "
            "major version: MongoDB needs featureCompatibilityVersion lowered before its binaries are downgraded, "
            "which fedstate does not do in place; restore a backup into a new instance instead"
        )
    if _series(new) - _series(old) > 1:
        path = " → ".join(fmt(*r) for r in RELEASES if old <= r <= new)
        raise TransitionRefused(
            f"upgrading from {old_image} (MongoDB {fmt(*old)}) to {new_image} (MongoDB {fmt(*new)}) skips a major "
            f"release; MongoDB upgrades one release at a time: {path}"
        )
