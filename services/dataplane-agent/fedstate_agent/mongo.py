"""Replica-set admin through pymongo's asyncio API: observe, initiate, reconfig, step down, users, FCV.

Every command is idempotent: an initiated set is not initiated again, a config whose version the
primary already has is not sent again, an existing user is not created again. Clients are cached
per (address, password) and closed when no longer needed. Passwords never reach a log line: only
user names and error codes do.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from pymongo import AsyncMongoClient, monitoring
from pymongo.errors import OperationFailure, PyMongoError, ServerSelectionTimeoutError

from fedstate.models.dataplane import Credentials, ReplsetMemberView
from fedstate.models.replicaset import RsConfig

log = logging.getLogger(__name__)

NOT_YET_INITIALIZED = 94
ALREADY_INITIALIZED = 23
INVALID_REPLICA_SET_CONFIG = 93
UNAUTHORIZED = 13
AUTHENTICATION_FAILED = 18
TIMEOUT_MS = 2000
# Longer than a pass waits: a member slow to accept (a loaded host) is not dialled again and again.
CONNECT_TIMEOUT_MS = 10_000
# pymongo's monitor streams a member's state changes at once (awaitable hello); between changes it asks
# every heartbeat. 10 s (the default) made idle members most of an idle agent's CPU.
HEARTBEAT_MS = 30_000
RECONFIG_MAX_TIME_MS = 15_000
STEP_DOWN_SECONDS = 60
CATCH_UP_SECONDS = 10
ROOT_USER = "root"
MONITOR_USER = "clusterMonitor"
_MEMBER_FIELDS = ("host", "votes", "priority", "arbiterOnly")


@dataclass(frozen=True)
class MemberState:
    initiated: bool
    role: str
    users_ready: bool
    config: RsConfig | None
    view: list[ReplsetMemberView]
    version: str = ""


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
        users[MONITOR_USER] = (credentials.cluster_monitor_password, [{"role": "clusterMonitor", "db": "admin"}])
    return users


def reconfig_document(current: dict[str, Any], wanted: RsConfig) -> dict[str, Any]:
    """The primary's config document with our members and version: settings and member fields we do not
    manage (tags, hidden, ...) are kept as they are."""
    members_now = {m["_id"]: m for m in current.get("members", [])}
    members = []
    for member in wanted.members:
        doc = {k: v for k, v in members_now.get(member.id, {}).items() if k not in _MEMBER_FIELDS}
        members.append({**doc, **member.to_mongo()})
    document = {k: v for k, v in current.items() if k not in ("members", "version", "term")}
    return {**document, "_id": wanted.id, "version": wanted.version, "members": members}


def _authentication_failed(client: AsyncMongoClient[dict[str, Any]], exc: PyMongoError) -> bool:
    """A wrong password. pymongo authenticates in the connection handshake (speculative SCRAM), so a
    refusal there marks the server Unknown and surfaces as a server-selection timeout whose server
    description holds the AuthenticationFailed error."""
    if isinstance(exc, OperationFailure):
        return exc.code == AUTHENTICATION_FAILED
    errors = [server.error for server in client.topology_description.server_descriptions().values()]
    return any(isinstance(error, OperationFailure) and error.code == AUTHENTICATION_FAILED for error in errors)


class _RoleWatch(monitoring.ServerListener):
    """pymongo's monitor keeps an awaitable ``hello`` open on every member (``topologyVersion``): the
    member answers at once when its state changes. A change of server type (PRIMARY, SECONDARY, down...)
    calls back, so the agent looks again at once instead of polling."""

    def __init__(self, changed: Callable[[str], None]) -> None:
        self._changed = changed

    def opened(self, event: monitoring.ServerOpeningEvent) -> None:
        pass

    def closed(self, event: monitoring.ServerClosedEvent) -> None:
        pass

    def description_changed(self, event: monitoring.ServerDescriptionChangedEvent) -> None:
        if event.previous_description.server_type != event.new_description.server_type:
            host, port = event.server_address
            self._changed(f"{host}:{port}")


class MongoAdmin:
    def __init__(self) -> None:
        self._clients: dict[tuple[str, str | None], AsyncMongoClient[dict[str, Any]]] = {}
        # address → what to do when that member's state changes (enqueue the instances it belongs to)
        self._on_change: dict[str, Callable[[], None]] = {}
        self._listener = _RoleWatch(self._member_changed)
        self._needs_auth: set[str] = set()  # members known to have users (localhost exception closed)
        self._working: dict[str, str] = {}  # address → the root password that worked there last

    def _client(self, address: str, password: str | None) -> AsyncMongoClient[dict[str, Any]]:
        key = (address, password)
        if key not in self._clients:
            auth: dict[str, Any] = {"username": ROOT_USER, "password": password} if password is not None else {}
            self._clients[key] = AsyncMongoClient(
                f"mongodb://{address}/",
                serverSelectionTimeoutMS=TIMEOUT_MS,
                connectTimeoutMS=CONNECT_TIMEOUT_MS,
                heartbeatFrequencyMS=HEARTBEAT_MS,
                appname="fedstate-agent",
                directConnection=True,
                event_listeners=[self._listener] if password is None else [],
                **auth,
            )
        return self._clients[key]

    def on_change(self, address: str, callback: Callable[[], None]) -> None:
        """Call ``callback`` whenever the member at ``address`` changes state (it must be observed once)."""
        self._on_change[address] = callback

    def _member_changed(self, address: str) -> None:
        callback = self._on_change.get(address)
        if callback is not None:
            callback()

    def _passwords(self, address: str, credentials: Credentials) -> Iterator[str]:
        """The root passwords to try, the one that worked last first."""
        known = [credentials.root_password, *credentials.earlier_root_passwords()]
        tried: list[str] = []
        for password in (self._working.get(address), *known):
            if password and password not in tried and password in known:
                tried.append(password)
                yield password

    async def _as_root(self, address: str, credentials: Credentials, command: dict[str, Any]) -> dict[str, Any]:
        failure: PyMongoError | None = None
        for password in self._passwords(address, credentials):
            client = self._client(address, password)
            try:
                reply = await client.admin.command(command)
            except (OperationFailure, ServerSelectionTimeoutError) as exc:
                if not _authentication_failed(client, exc):
                    raise
                # A client refused once keeps failing with that password even after it becomes right
                # (a rotation): start afresh next time.
                await self._clients.pop((address, password)).close()
                failure = exc
                continue
            self._working[address] = password
            return reply
        assert failure is not None
        raise failure

    async def _admin_command(self, address: str, credentials: Credentials, command: dict[str, Any]) -> dict[str, Any]:
        """Run on one member: under the localhost exception until a user exists, authenticated as root after.

        The unauthenticated try comes first while it still works because it needs no user at all;
        once a member answers Unauthorized it is remembered and only root is used there.
        """
        if address not in self._needs_auth:
            try:
                return await self._client(address, None).admin.command(command)
            except OperationFailure as exc:
                if exc.code != UNAUTHORIZED:
                    raise
                self._needs_auth.add(address)
        return await self._as_root(address, credentials, command)

    async def observe(self, address: str, credentials: Credentials) -> MemberState:
        version = str((await self._client(address, None).admin.command({"buildInfo": 1})).get("version", ""))
        try:
            status = await self._admin_command(address, credentials, {"replSetGetStatus": 1})
        except OperationFailure as exc:
            if exc.code == NOT_YET_INITIALIZED:
                return MemberState(False, "STARTUP", False, None, [], version)
            if exc.code == INVALID_REPLICA_SET_CONFIG:  # its config does not name it: report that config
                config = await self._admin_command(address, credentials, {"replSetGetConfig": 1})
                held = RsConfig.from_mongo(config["config"])
                return MemberState(True, "REMOVED", address in self._needs_auth, held, [], version)
            raise
        config = await self._admin_command(address, credentials, {"replSetGetConfig": 1})
        me: dict[str, Any] = next((m for m in status.get("members", []) if m.get("self")), {})
        return MemberState(
            True,
            me.get("stateStr", "UNKNOWN"),
            address in self._needs_auth,
            RsConfig.from_mongo(config["config"]),
            _view(status),
            version,
        )

    async def seen_by(self, primary: str, credentials: Credentials) -> dict[int, str]:
        """_id → stateStr as the primary sees each member (DOWN when it gets no heartbeat answer)."""
        status = await self._admin_command(primary, credentials, {"replSetGetStatus": 1})
        return {
            int(m["_id"]): str(m.get("stateStr", "UNKNOWN")) if m.get("health", 0) else "DOWN"
            for m in status.get("members", [])
        }

    async def initiate(self, address: str, config: RsConfig) -> bool:
        """replSetInitiate on an uninitiated member; False when it was initiated already."""
        try:
            await self._client(address, None).admin.command({"replSetInitiate": config.to_mongo()})
        except OperationFailure as exc:
            if exc.code == ALREADY_INITIALIZED:
                return False
            raise
        return True

    async def reconfig(self, primary: str, credentials: Credentials, wanted: RsConfig) -> bool:
        """replSetReconfig on the primary with ``maxTimeMS``; False when its config is already this new."""
        current = (await self._admin_command(primary, credentials, {"replSetGetConfig": 1}))["config"]
        if int(current.get("version", 0)) >= wanted.version:
            return False
        document = reconfig_document(current, wanted)
        await self._admin_command(
            primary, credentials, {"replSetReconfig": document, "maxTimeMS": RECONFIG_MAX_TIME_MS}
        )
        return True

    async def force_reconfig(self, address: str, credentials: Credentials, wanted: RsConfig) -> None:
        """replSetReconfig with ``force`` on one member: it installs ``wanted`` at once (mongod raises the
        version by a large random amount) and heartbeats carry it to the members it names."""
        current = (await self._admin_command(address, credentials, {"replSetGetConfig": 1}))["config"]
        document = reconfig_document(current, wanted)
        await self._admin_command(address, credentials, {"replSetReconfig": document, "force": True})

    async def step_down(self, primary: str, credentials: Credentials) -> None:
        """Hand the primary role to a caught-up electable secondary; this member may not stand for 60 s."""
        await self._admin_command(
            primary,
            credentials,
            {"replSetStepDown": STEP_DOWN_SECONDS, "secondaryCatchUpPeriodSecs": CATCH_UP_SECONDS},
        )

    async def ensure_users(self, primary: str, credentials: Credentials, monitor: bool) -> list[str]:
        """Create the missing users on the primary (root first, under the localhost exception); rotate
        root's password when it changed; drop clusterMonitor when the exporter is off. Returns what it did."""
        done = []
        if await self._localhost_exception_open(primary):
            password, roles = users_for(credentials, monitor)[ROOT_USER]
            await self._client(primary, None).admin.command({"createUser": ROOT_USER, "pwd": password, "roles": roles})
            self._needs_auth.add(primary)
            done.append(f"created {ROOT_USER}")
        if await self._rotate_root(primary, credentials):
            done.append(f"rotated the password of {ROOT_USER}")
        wanted = users_for(credentials, monitor)
        for name, (password, roles) in wanted.items():
            if name != ROOT_USER and not await self._user_exists(primary, credentials, name):
                await self._as_root(primary, credentials, {"createUser": name, "pwd": password, "roles": roles})
                done.append(f"created {name}")
        if not monitor and await self._user_exists(primary, credentials, MONITOR_USER):
            await self._as_root(primary, credentials, {"dropUser": MONITOR_USER})
            done.append(f"dropped {MONITOR_USER}")
        return done

    async def _user_exists(self, primary: str, credentials: Credentials, name: str) -> bool:
        return bool((await self._as_root(primary, credentials, {"usersInfo": name}))["users"])

    async def _rotate_root(self, primary: str, credentials: Credentials) -> bool:
        """Log in with the new root password; if only the previous one works, change it to the new one."""
        await self._as_root(primary, credentials, {"ping": 1})
        if self._working.get(primary) == credentials.root_password:
            return False
        await self._as_root(primary, credentials, {"updateUser": ROOT_USER, "pwd": credentials.root_password})
        earlier = credentials.earlier_root_passwords()
        for password in earlier:
            await self._forget_password(password)
        self._working = {a: p for a, p in self._working.items() if p not in earlier}
        return True

    async def ensure_fcv(self, primary: str, credentials: Credentials, target: str) -> str:
        """Raise featureCompatibilityVersion to ``target`` on the primary if it is not there; returns the FCV."""
        if await self.feature_compatibility_version(primary, credentials) == target:
            return target
        command: dict[str, Any] = {"setFeatureCompatibilityVersion": target}
        if int(target.split(".")[0]) >= 7:
            command["confirm"] = True  # mongod 7.0+ asks for it explicitly
        await self._admin_command(primary, credentials, command)
        return target

    async def feature_compatibility_version(self, primary: str, credentials: Credentials) -> str | None:
        reply = await self._admin_command(primary, credentials, {"getParameter": 1, "featureCompatibilityVersion": 1})
        version = (reply.get("featureCompatibilityVersion") or {}).get("version")
        return str(version) if version else None

    async def _localhost_exception_open(self, address: str) -> bool:
        """True while no user exists: an unauthenticated command is still allowed."""
        if address in self._needs_auth:
            return False
        try:
            await self._client(address, None).admin.command({"usersInfo": ROOT_USER})
        except OperationFailure as exc:
            if exc.code == UNAUTHORIZED:
                self._needs_auth.add(address)
                return False
            raise
        return True

    async def _forget_password(self, password: str | None) -> None:
        for key in [k for k in self._clients if password is not None and k[1] == password]:
            await self._clients.pop(key).close()

    async def forget(self, addresses: set[str]) -> None:
        for key in [k for k in self._clients if k[0] in addresses]:
            await self._clients.pop(key).close()
        for address in addresses:
            self._on_change.pop(address, None)
        self._needs_auth -= addresses
        for address in addresses:
            self._working.pop(address, None)

    async def close(self) -> None:
        for client in self._clients.values():
            await client.close()
        self._clients.clear()


__all__ = ["MemberState", "MongoAdmin", "PyMongoError"]
