"""Replica-set admin through pymongo's asyncio API: observe, initiate, create users.

Every command is idempotent: an initiated set is not initiated again, an existing user
is not created again. Clients are cached per address and closed when no longer needed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from fedstate.models.dataplane import Credentials, ReplsetMemberView
from fedstate.models.replicaset import RsConfig
from pymongo import AsyncMongoClient
from pymongo.errors import OperationFailure, PyMongoError

log = logging.getLogger(__name__)

NOT_YET_INITIALIZED = 94
ALREADY_INITIALIZED = 23
UNAUTHORIZED = 13
AUTHENTICATION_FAILED = 18
TIMEOUT_MS = 2000
ROOT_USER = "root"


@dataclass(frozen=True)
class MemberState:
    initiated: bool
    role: str
    users_ready: bool
    config: RsConfig | None
    view: list[ReplsetMemberView]


def _view(status: dict[str, Any]) -> list[ReplsetMemberView]:
    return [
        ReplsetMemberView(
            id=m["_id"],
            host=m["name"],
            state=m.get("state", 0),
            state_str=m.get("stateStr", "UNKNOWN"),
            health=int(m.get("health", 0)),
            sync_source_host=m.get("syncSourceHost", ""),
            optime_seconds=int(getattr((m.get("optime") or {}).get("ts"), "time", 0)),
        )
        for m in status.get("members", [])
    ]


def users_for(credentials: Credentials, with_monitor: bool) -> dict[str, tuple[str, list[dict[str, str]]]]:
    users = {
        ROOT_USER: (credentials.root_password, [{"role": "root", "db": "admin"}]),
        "clusterAdmin": (credentials.cluster_admin_password, [{"role": "clusterAdmin", "db": "admin"}]),
    }
    if with_monitor:
        users["clusterMonitor"] = (credentials.cluster_monitor_password, [{"role": "clusterMonitor", "db": "admin"}])
    return users


class MongoAdmin:
    def __init__(self) -> None:
        self._clients: dict[tuple[str, bool], AsyncMongoClient[dict[str, Any]]] = {}
        self._needs_auth: set[str] = set()  # members known to have users (localhost exception closed)

    def _client(self, hosts: str, credentials: Credentials | None, **options: Any) -> AsyncMongoClient[dict[str, Any]]:
        key = (hosts, credentials is not None)
        if key not in self._clients:
            auth: dict[str, Any] = {"username": ROOT_USER, "password": credentials.root_password} if credentials else {}
            self._clients[key] = AsyncMongoClient(
                f"mongodb://{hosts}/",
                serverSelectionTimeoutMS=TIMEOUT_MS,
                connectTimeoutMS=TIMEOUT_MS,
                appname="fedstate-agent",
                **auth,
                **options,
            )
        return self._clients[key]

    async def _admin_command(self, address: str, credentials: Credentials, command: dict[str, Any]) -> dict[str, Any]:
        """Run on one member: under the localhost exception until a user exists, authenticated as root after.

        The unauthenticated try comes first while it still works because a failed SCRAM handshake
        costs a whole server-selection timeout, while an Unauthorized reply comes back at once.
        """
        if address not in self._needs_auth:
            try:
                return await self._client(address, None, directConnection=True).admin.command(command)
            except OperationFailure as exc:
                if exc.code != UNAUTHORIZED:
                    raise
                self._needs_auth.add(address)
        return await self._client(address, credentials, directConnection=True).admin.command(command)

    async def observe(self, address: str, credentials: Credentials) -> MemberState:
        try:
            status = await self._admin_command(address, credentials, {"replSetGetStatus": 1})
        except OperationFailure as exc:
            if exc.code == NOT_YET_INITIALIZED:
                return MemberState(False, "STARTUP", False, None, [])
            raise
        config = await self._admin_command(address, credentials, {"replSetGetConfig": 1})
        me: dict[str, Any] = next((m for m in status.get("members", []) if m.get("self")), {})
        return MemberState(
            True,
            me.get("stateStr", "UNKNOWN"),
            address in self._needs_auth,
            RsConfig.from_mongo(config["config"]),
            _view(status),
        )

    async def initiate(self, address: str, config: RsConfig) -> bool:
        """replSetInitiate on an uninitiated member; False when it was initiated already."""
        try:
            await self._client(address, None, directConnection=True).admin.command(
                {"replSetInitiate": config.to_mongo()}
            )
        except OperationFailure as exc:
            if exc.code == ALREADY_INITIALIZED:
                return False
            raise
        return True

    async def ensure_users(self, primary: str, credentials: Credentials, monitor: bool) -> list[str]:
        """Create the missing users on the primary; root first, under the localhost exception."""
        created = []
        if await self._localhost_exception_open(primary):
            password, roles = users_for(credentials, monitor)[ROOT_USER]
            await self._client(primary, None, directConnection=True).admin.command(
                {"createUser": ROOT_USER, "pwd": password, "roles": roles}
            )
            self._needs_auth.add(primary)
            created.append(ROOT_USER)
        admin = self._client(primary, credentials, directConnection=True).admin
        for name, (password, roles) in users_for(credentials, monitor).items():
            if name != ROOT_USER and not (await admin.command({"usersInfo": name}))["users"]:
                await admin.command({"createUser": name, "pwd": password, "roles": roles})
                created.append(name)
        return created

    async def _localhost_exception_open(self, address: str) -> bool:
        """True while no user exists: an unauthenticated command is still allowed."""
        if address in self._needs_auth:
            return False
        try:
            await self._client(address, None, directConnection=True).admin.command({"usersInfo": ROOT_USER})
        except OperationFailure as exc:
            if exc.code == UNAUTHORIZED:
                self._needs_auth.add(address)
                return False
            raise
        return True

    async def forget(self, addresses: set[str]) -> None:
        for key in [k for k in self._clients if k[0] in addresses or any(a in k[0] for a in addresses)]:
            await self._clients.pop(key).close()

    async def close(self) -> None:
        for client in self._clients.values():
            await client.close()
        self._clients.clear()


__all__ = ["MemberState", "MongoAdmin", "PyMongoError"]
