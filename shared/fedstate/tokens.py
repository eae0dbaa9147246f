"""API tokens of the gateway: issued by ``fedstate token create``, stored hashed in one file, checked by the gateway.

A token reads ``fst_<id>_<secret>``: ``id`` names it (in lists, logs and ``fedstate token revoke``), ``secret`` is 32
random bytes. The file (mode 0600; in Kubernetes a Secret mounted into the gateway) keeps, per token, its id, name,
tenant, role and the SHA-256 of the whole token, never the token itself: a 256-bit random secret needs no slow
hash, and whoever reads the file cannot call the API with what is in it (docs/decisions/0015).

The gateway reads the file again whenever it changes (``TokenStore``), so a token created or revoked counts from
the next request, without a restart.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, Field

from fedstate.models.base import DnsLabel, utcnow

log = logging.getLogger(__name__)

TOKEN_PREFIX = "fst"
FILE_MODE = 0o600


class Role(StrEnum):
    """What a token may do: a viewer reads, lists and watches its tenant; an editor also writes there; an admin
    does everything, in every tenant."""

    VIEWER = "viewer"
    EDITOR = "editor"
    ADMIN = "admin"

    def may_write(self) -> bool:
        return self is not Role.VIEWER


class TokenRecord(BaseModel):
    """One token as stored: everything but the token itself."""

    id: str = Field(pattern=r"^[0-9a-f]{12}$")
    name: str = Field(min_length=1, max_length=253)
    tenant: DnsLabel
    role: Role
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    created: datetime = Field(default_factory=utcnow)


class TokenFile(BaseModel):
    tokens: list[TokenRecord] = Field(default_factory=list)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_id(token: str) -> str | None:
    """The id part of a token, or None when it is not shaped as one."""
    prefix, _, rest = token.partition("_")
    ident, _, secret = rest.partition("_")
    return ident if prefix == TOKEN_PREFIX and ident and secret else None


def read_tokens(path: Path) -> TokenFile:
    """The tokens of ``path``; none when it does not exist yet."""
    try:
        return TokenFile.model_validate_json(path.read_bytes())
    except FileNotFoundError:
        return TokenFile()


def write_tokens(path: Path, tokens: TokenFile) -> None:
    """Replace the file at once (a gateway reading it sees the old or the new one, never half), mode 0600."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    with os.fdopen(descriptor, "w") as out:
        out.write(tokens.model_dump_json(indent=2))
    temporary.replace(path)


def issue(path: Path, tenant: str, role: Role, name: str) -> tuple[TokenRecord, str]:
    """A new token of ``role`` in ``tenant``, added to the file: its record and the token, shown only now."""
    tokens = read_tokens(path)
    ident = secrets.token_hex(6)
    token = f"{TOKEN_PREFIX}_{ident}_{secrets.token_urlsafe(32)}"
    record = TokenRecord(id=ident, name=name, tenant=tenant, role=role, sha256=digest(token))
    tokens.tokens.append(record)
    write_tokens(path, tokens)
    return record, token


def revoke(path: Path, id_or_name: str) -> list[TokenRecord]:
    """Remove the tokens whose id or name is ``id_or_name``; the ones removed."""
    tokens = read_tokens(path)
    gone = [t for t in tokens.tokens if id_or_name in (t.id, t.name)]
    if gone:
        write_tokens(path, TokenFile(tokens=[t for t in tokens.tokens if t not in gone]))
    return gone


@dataclass
class TokenStore:
    """The gateway's view of the token file, read again when it is replaced or changes."""

    path: Path | None
    _seen: tuple[int, int, int] | None = None
    _by_id: dict[str, TokenRecord] | None = None

    def _current(self) -> dict[str, TokenRecord]:
        if self.path is None:
            return {}
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            self._seen, self._by_id = None, {}
            return {}
        seen = (stat.st_ino, stat.st_mtime_ns, stat.st_size)  # a write replaces the file: a new inode
        if self._by_id is None or seen != self._seen:
            try:
                self._by_id = {t.id: t for t in read_tokens(self.path).tokens}
            except ValueError as exc:  # pydantic's ValidationError is one: a file edited by hand, half copied
                log.error("the token file cannot be read: every token is refused", extra={"path": str(self.path)})
                log.debug("token file error", extra={"error": str(exc)})
                self._by_id = {}
            self._seen = seen
        return self._by_id

    def authenticate(self, token: str) -> TokenRecord | None:
        """The record of ``token``, or None when it is unknown, revoked or malformed."""
        ident = token_id(token)
        record = self._current().get(ident) if ident else None
        if record is None or not hmac.compare_digest(record.sha256, digest(token)):
            return None
        return record
