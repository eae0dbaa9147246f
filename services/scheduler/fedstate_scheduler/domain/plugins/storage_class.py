"""Filter: the member's data volume needs the requested storage class (or a default one)."""

from __future__ import annotations

from ..framework import Candidate, Context, Rejection, Scope

NAME = "StorageClass"


class StorageClass:
    name = NAME
    scope: Scope = "cluster"

    def filter(self, ctx: Context, candidate: Candidate) -> Candidate | Rejection:
        """spec.storage.storageClass must exist in the cluster; when empty, the cluster needs a default class."""
        wanted = ctx.spec.storage.storage_class
        snapshot = candidate.snapshot
        if wanted:
            if wanted in snapshot.storage_classes:
                return candidate
            return Rejection(NAME, "storage class missing", f"no storage class {wanted!r}")
        if snapshot.default_storage_class:
            return candidate
        return Rejection(NAME, "storage class missing", "no storageClass requested and no default class")
