"""Server version and wire version a simulated member reports, derived from its container image.

``mongo:6.0`` reports version 6.0.0 and wire version 17, ``mongo:7.0.4`` 7.0.4 and
21; an image without a recognisable version (``mongo:latest``) reports 7.0.0.
"""

from __future__ import annotations

import functools
import re

DEFAULT_VERSION = (7, 0, 0)
MIN_WIRE_VERSION = 0
# mongod release -> maxWireVersion (pymongo 4.20 needs at least 7; 9 = MongoDB 4.4)
_WIRE = {(4, 4): 9, (5, 0): 13, (6, 0): 17, (7, 0): 21, (8, 0): 25}
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
    """The wire version of the newest release not newer than the image's (at least 9)."""
    major, minor, _ = version_tuple(image)
    known = [wire for release, wire in sorted(_WIRE.items()) if release <= (major, minor)]
    return known[-1] if known else 9
