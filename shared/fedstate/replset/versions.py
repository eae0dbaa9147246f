"""MongoDB versions from image references, and which image changes MongoDB allows.

MongoDB upgrades one major release at a time (3.6 → 4.0 → 4.2 → 4.4 → 5.0 → 6.0 → 7.0 → 8.0) and
raises ``featureCompatibilityVersion`` once every member runs the new binary; a downgrade to an older
release needs the FCV lowered first and is refused here. Patch changes within a release are free.
"""

from __future__ import annotations

import re

RELEASES: tuple[tuple[int, int], ...] = ((3, 6), (4, 0), (4, 2), (4, 4), (5, 0), (6, 0), (7, 0), (8, 0))
# The oldest release the agents' driver connects to: pymongo's MIN_SUPPORTED_SERVER_VERSION (a test holds them equal).
OLDEST_SUPPORTED: tuple[int, int] = (4, 4)
_TAG = re.compile(r"^(\d+)(?:\.(\d+))?(?:\.(\d+))?")


class TransitionRefused(ValueError):
    """An image change MongoDB does not support in place."""


class ImageUnsupported(ValueError):
    """An image of a MongoDB release fedstate cannot manage."""


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


def check_image_supported(image: str) -> None:
    """Raise ``ImageUnsupported`` for a release older than ``OLDEST_SUPPORTED``; a tag naming no version passes
    (its server's wire version is checked when the agent connects)."""
    release = release_of(image)
    if release is None or release >= OLDEST_SUPPORTED:
        return
    oldest = "{}.{}".format(*OLDEST_SUPPORTED)
    raise ImageUnsupported(
        f"{image} runs MongoDB {release[0]}.{release[1]}, and fedstate manages MongoDB {oldest} and later: its "
        f"agents' driver (pymongo) does not connect to older servers; choose mongo:{oldest} or later "
        "(mongo:6.0 is the default)"
    )


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
