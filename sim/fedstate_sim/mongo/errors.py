"""MongoDB error codes the simulator answers with, and the exception commands raise.

Codes and code names are MongoDB's own (src/mongo/base/error_codes.yml), so
drivers classify them correctly: pymongo treats 10107/13435/13436/189/11602 as
"not primary" and retries writes on them. Every message ends with
``(fedstate simulator)`` so nobody mistakes a simulated failure for a real one.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any

SIM_SUFFIX = " (fedstate simulator)"


class Code(IntEnum):
    """The subset of MongoDB error codes the simulator produces."""

    InternalError = 1
    BadValue = 2
    NoSuchKey = 4
    FailedToParse = 9
    UserNotFound = 11
    Unauthorized = 13
    TypeMismatch = 14
    AuthenticationFailed = 18
    InvalidBSON = 22
    IllegalOperation = 20
    AlreadyInitialized = 23
    NamespaceNotFound = 26
    CursorNotFound = 43
    MaxTimeMSExpired = 50
    CommandNotFound = 59
    WriteConcernFailed = 64
    NodeNotFound = 74
    UnknownReplWriteConcern = 79
    UnsatisfiableWriteConcern = 100
    NamespaceExists = 48
    InvalidOptions = 72
    ShutdownInProgress = 91
    InvalidReplicaSetConfig = 93
    NotYetInitialized = 94
    NodeNotElectable = 99
    NewReplicaSetConfigurationIncompatible = 103
    ConfigurationInProgress = 109
    ConflictingOperationInProgress = 117
    LinearizableReadConcernError = 147
    CommandFailed = 125
    PrimarySteppedDown = 189
    ExceededTimeLimit = 262
    CurrentConfigNotCommittedYet = 308
    MechanismUnavailable = 334
    DuplicateKey = 11000
    InterruptedAtShutdown = 11600
    InterruptedDueToReplStateChange = 11602
    NotWritablePrimary = 10107
    NotPrimaryNoSecondaryOk = 13435
    NotPrimaryOrSecondary = 13436
    UserAlreadyExists = 51003


# mongod's NotPrimaryError and ShutdownError categories (error_codes.yml): a member's state changed under the
# command. Since 4.4 mongod answers them with its topologyVersion, so a driver can tell news from an error about
# a state it has already seen (SDAM: an error no newer than the server's description is ignored).
STATE_CHANGE_CODES = frozenset(
    {
        int(Code.NotWritablePrimary),
        int(Code.NotPrimaryNoSecondaryOk),
        int(Code.NotPrimaryOrSecondary),
        int(Code.InterruptedDueToReplStateChange),
        int(Code.PrimarySteppedDown),
        int(Code.ShutdownInProgress),
        int(Code.InterruptedAtShutdown),
    }
)


def sim_message(message: str) -> str:
    """``message`` with the simulator suffix, added once."""
    return message if message.endswith(SIM_SUFFIX) else message + SIM_SUFFIX


def code_name(code: int) -> str:
    """MongoDB's codeName for ``code`` (``Location<code>`` for codes without a name, like mongod)."""
    try:
        return Code(code).name
    except ValueError:
        return f"Location{code}"


class CommandError(Exception):
    """A command failed; becomes ``{ok: 0, errmsg, code, codeName}`` on the wire."""

    def __init__(self, code: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.code = int(code)
        self.message = sim_message(message)
        self.extra = extra

    def to_doc(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "ok": 0.0,
            "errmsg": self.message,
            "code": self.code,
            "codeName": code_name(self.code),
        }
        doc.update(self.extra)
        return doc


def error_doc(code: int, message: str) -> dict[str, Any]:
    """The ``{code, codeName, errmsg}`` triple used inside writeErrors and writeConcernError."""
    return {"code": int(code), "codeName": code_name(code), "errmsg": sim_message(message)}


def not_primary(state_str: str) -> CommandError:
    return CommandError(Code.NotWritablePrimary, f"not primary (this member is {state_str})")


def write_concern_error(code: int, message: str, write_concern: dict[str, Any], **info: Any) -> dict[str, Any]:
    """A ``writeConcernError`` sub-document as mongod reports it next to ``ok: 1``."""
    doc = error_doc(code, message)
    doc["errInfo"] = {"writeConcern": write_concern, **info}
    return doc
