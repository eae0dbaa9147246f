"""Server version and wire version a simulated member reports, derived from its container image.

``mongo:6.0`` reports version 6.0.0 and wire version 17, ``mongo:7.0.4`` 7.0.4 and
21; an image without a recognisable version (``mongo:latest``) reports 7.0.0. Older releases report their own
wire version (``mongo:3.6`` 6), which pymongo 4.11 and later refuse, as they refuse a real 3.6 server; and they
lack what came after them (awaitable hello in 4.4, ``saslSupportedMechs`` and SCRAM-SHA-256 in 4.0).
"""

from __future__ import annotations

import functools
import re

DEFAULT_VERSION = (7, 0, 0)
MIN_WIRE_VERSION = 0
# mongod release -> maxWireVersion (pymongo 4.20 needs at least 9 = MongoDB 4.4)
_WIRE = {
    (3, 2): 4,
    (3, 4): 5,
    (3, 6): 6,
    (4, 0): 7,
    (4, 2): 8,
    (4, 4): 9,
    (5, 0): 13,
    (6, 0): 17,
    (7, 0): 21,
    (8, 0): 25,
}
AWAITABLE_HELLO_SINCE = (4, 4)  # topologyVersion, and a hello held until the topology changes
SCRAM_SHA_256_SINCE = (4, 0)  # and hello's saslSupportedMechs
_TAG = re.compile(r"(\d+)(?:\.(\d+))?(?:\.(\d+))?")


@functools.cache  # every hello asks; a fleet has a handful of images
def version_tuple(image: str) -> tuple[int, int, int]:
    """(major, minor, patch) from an image reference like ``registry/mongo:6.0.5-jammy``."""
    tag = image.rsplit("/", 1)[-1].partition(":")[2].split("@")[0]
    match = _TAG.match(tag)
    if not match:
        return DEFAULT_VERSION
    major, minor, patch = (int(g) if g else 0 for g in match.groups())
    return (major, minor, patch)


def version_string(image: str) -> str:
    return ".".join(str(part) for part in version_tuple(image))


@functools.cache
def max_wire_version(image: str) -> int:
    """The wire version of the newest release not newer than the image's (0 before 3.2)."""
    known = [wire for release, wire in sorted(_WIRE.items()) if release <= release_of(image)]
    return known[-1] if known else MIN_WIRE_VERSION


def release_of(image: str) -> tuple[int, int]:
    major, minor, _ = version_tuple(image)
    return (major, minor)


def has(image: str, since: tuple[int, int]) -> bool:
    """Does the image's release have what came in release ``since``?"""
    return release_of(image) >= since


def release_name(release: tuple[int, int]) -> str:
    return f"{release[0]}.{release[1]}"


def previous_release(release: tuple[int, int]) -> tuple[int, int] | None:
    """The release before ``release`` in MongoDB's upgrade path (6.0 for 7.0), None before the first known."""
    earlier = [known for known in sorted(_WIRE) if known < release]
    return earlier[-1] if earlier else None


def invalid_fcv(image: str, fcv: str) -> str | None:
    """mongod's words when ``fcv`` is not one its binary runs (its release's or the previous release's); None when
    it is."""
    release = release_of(image)
    allowed = [release_name(r) for r in (previous_release(release), release) if r is not None]
    if fcv in allowed:
        return None
    return f"Invalid feature compatibility version value '{fcv}'; expected " + " or ".join(f"'{v}'" for v in allowed)


def fcv_start_error(image: str, fcv: str) -> str | None:
    """mongod's refusal to start on data whose featureCompatibilityVersion its binary cannot run: nothing older
    (an upgrade that skipped setFeatureCompatibilityVersion) and nothing newer (a downgrade of the binary first)."""
    invalid = invalid_fcv(image, fcv)
    if invalid is None:
        return None
    release = release_of(image)
    return (
        "UPGRADE PROBLEM: Found an invalid featureCompatibilityVersion document (ERROR: Location4926900: Invalid "
        f'featureCompatibilityVersion document in admin.system.version: {{ _id: "featureCompatibilityVersion", '
        f'version: "{fcv}" }}. :: caused by :: {invalid}). If the current featureCompatibilityVersion is below '
        f"{release_name(previous_release(release) or release)}, see the documentation on upgrading to "
        f"{release_name(release)}"
    )
