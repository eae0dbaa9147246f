"""Server side of SCRAM-SHA-256 (RFC 5802 / RFC 7677) and SCRAM-SHA-1, as mongod speaks them.

``make_credentials`` runs the salted PBKDF2 once, when a user is created; the
stored key and server key are all authentication needs, so ``saslStart`` /
``saslContinue`` cost a few HMACs. As in mongod, every createUser and password
change draws a new salt and pays for PBKDF2 again (no cache: a client holding
keys for the old salt must derive again). Passwords are SASLprep'd with pymongo's
``saslprep``; SCRAM-SHA-1 uses MongoDB's ``md5(user:mongo:password)`` digest.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from dataclasses import dataclass
from typing import Any

from bson import Binary
from pymongo.saslprep import saslprep

from fedstate_sim.mongo.errors import Code, CommandError

SCRAM_SHA_256 = "SCRAM-SHA-256"
SCRAM_SHA_1 = "SCRAM-SHA-1"
ITERATIONS = {SCRAM_SHA_256: 15_000, SCRAM_SHA_1: 10_000}  # mongod's defaults
_HASH = {SCRAM_SHA_256: "sha256", SCRAM_SHA_1: "sha1"}
_SALT_BYTES = {SCRAM_SHA_256: 28, SCRAM_SHA_1: 16}


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _hmac(mechanism: str, key: bytes, message: bytes) -> bytes:
    return hmac.new(key, message, _HASH[mechanism]).digest()


def _digest(mechanism: str, data: bytes) -> bytes:
    return hashlib.new(_HASH[mechanism], data).digest()


def _prepared_password(mechanism: str, user: str, password: str) -> bytes:
    if mechanism == SCRAM_SHA_1:
        return hashlib.md5(f"{user}:mongo:{password}".encode()).hexdigest().encode()
    return saslprep(password).encode()


def make_credentials(mechanism: str, user: str, password: str) -> dict[str, Any]:
    """The ``credentials.<mechanism>`` sub-document mongod stores in admin.system.users: a fresh salt each time,
    so a user created again, or given the same password again, has new keys (a client's cached keys no longer fit)."""
    salt = os.urandom(_SALT_BYTES[mechanism])
    iterations = ITERATIONS[mechanism]
    salted = hashlib.pbkdf2_hmac(_HASH[mechanism], _prepared_password(mechanism, user, password), salt, iterations)
    client_key = _hmac(mechanism, salted, b"Client Key")
    return {
        "iterationCount": iterations,
        "salt": _b64(salt),
        "storedKey": _b64(_digest(mechanism, client_key)),
        "serverKey": _b64(_hmac(mechanism, salted, b"Server Key")),
    }


def _auth_failed() -> CommandError:
    return CommandError(Code.AuthenticationFailed, "Authentication failed.")


def _fields(message: str) -> dict[str, str]:
    return {part[0]: part[2:] for part in message.split(",") if len(part) > 1 and part[1] == "="}


def _unescape(name: str) -> str:
    return name.replace("=2C", ",").replace("=3D", "=")


@dataclass
class ScramConversation:
    """One in-flight SCRAM exchange on a connection."""

    mechanism: str
    user: str
    db: str
    client_first_bare: str = ""
    server_first: str = ""
    nonce: str = ""
    done: bool = False
    skip_empty_exchange: bool = False

    def start(self, payload: bytes, credential: dict[str, Any] | None) -> bytes:
        """Answer client-first ``n,,n=user,r=cnonce`` with ``r=nonce,s=salt,i=iterations``."""
        message = payload.decode()
        if not message.startswith(("n,,", "y,,")):
            raise CommandError(Code.BadValue, "SCRAM channel binding is not supported")
        self.client_first_bare = message[3:]
        client_nonce = _fields(self.client_first_bare).get("r", "")
        if credential is None or not client_nonce:
            raise _auth_failed()
        self.nonce = client_nonce + _b64(os.urandom(24))
        self.server_first = f"r={self.nonce},s={credential['salt']},i={credential['iterationCount']}"
        return self.server_first.encode()

    def finish(self, payload: bytes, credential: dict[str, Any]) -> bytes:
        """Check the client proof; answer with the server signature ``v=...``."""
        client_final = payload.decode()
        fields = _fields(client_final)
        if fields.get("r") != self.nonce or "p" not in fields:
            raise _auth_failed()
        without_proof = client_final[: client_final.rindex(",p=")]
        auth_message = f"{self.client_first_bare},{self.server_first},{without_proof}".encode()
        stored_key = base64.b64decode(credential["storedKey"])
        signature = _hmac(self.mechanism, stored_key, auth_message)
        client_key = bytes(a ^ b for a, b in zip(base64.b64decode(fields["p"]), signature, strict=False))
        if not hmac.compare_digest(_digest(self.mechanism, client_key), stored_key):
            raise _auth_failed()
        server_signature = _hmac(self.mechanism, base64.b64decode(credential["serverKey"]), auth_message)
        self.done = True
        return f"v={_b64(server_signature)}".encode()


def user_from_payload(payload: bytes) -> str:
    """The SCRAM user name in a client-first message."""
    bare = payload.decode()[3:]
    return _unescape(_fields(bare).get("n", ""))


def as_bytes(payload: Any) -> bytes:
    if isinstance(payload, bytes | bytearray):
        return bytes(payload)
    if isinstance(payload, str):
        return payload.encode()
    raise CommandError(Code.BadValue, "SASL payload must be binary data")


def binary(data: bytes) -> Binary:
    return Binary(data)
