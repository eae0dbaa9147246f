"""Names that are DNS-1123 labels and names that are not, for the tests of every place a name comes in."""

from __future__ import annotations

import string

BAD_NAMES = [
    "bad.name",
    "bad_name",
    "trailing-",
    "-leading",
    "Upper",
    "with space",
    "trailing\n",
    "\nleading",
    "",
    "a" * 64,
    "ünïcode",
]
GOOD_NAMES = ["a", "0", "rs0", "a-b", "0-a", "a--b", "a" * 63]
_LABEL_CHARACTERS = set(string.ascii_lowercase + string.digits + "-")


def is_label(name: str) -> bool:
    """The rule written out without a regular expression, as the tests' oracle."""
    return 0 < len(name) <= 63 and set(name) <= _LABEL_CHARACTERS and name[0] != "-" and name[-1] != "-"
