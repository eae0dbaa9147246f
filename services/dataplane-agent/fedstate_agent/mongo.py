"""Replica-set admin: observe, initiate, reconfig, step down, users, FCV — authenticated, or from inside the pod.

Members run with a keyFile, so mongod answers the network only ``hello``/``buildInfo`` without
authentication (decision 0008). Over ``VIP:NodePort`` the agent therefore authenticates with SCRAM:
replica-set commands as ``clusterAdmin``, user administration as ``root``. The two steps that need
mongod's localhost exception — ``replSetInitiate`` and creating the first user, ``root`` — run in
the member's pod through ``pods/exec`` (``PodShell``). Until ``clusterAdmin`` can log in on a member
(before the first users, on arbiters, which hold none, during initial sync) all the agent knows of it
is what ``hello`` says.

Every command is idempotent: an initiated set is not initiated again, a config whose version the
primary already has is not sent again, an existing user is not created again. Clients are cached
per (address, user, password) and closed when no longer needed; the SCRAM keys their logins derive are
shared by the process (``scramkeys``). Passwords never reach a log line or an exec request: only user
names and error codes do.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import math
import time
import weakref
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from pymongo import AsyncMongoClient
from pymongo.errors import ConnectionFailure, OperationFailure, PyMongoError, ServerSelectionTimeoutError

from fedstate.models.base import utcnow
from fedstate.models.dataplane import Credentials, ReplsetMemberView
from fedstate.models.replicaset import OpTime, RsConfig
from fedstate.replset import HEALTHY
from fedstate.settings import AgentSettings

from .memberwatch import MemberWatch, Token, ask, token_of
from .metrics import MONGO_CLIENTS, MONGO_CLIENTS_OPENED
from .podshell import PodRef, PodShell, auth_file
from .scramkeys import SCRAM_KEYS, ScramKeys

log = logging.getLogger(__name__)

NOT_YET_INITIALIZED = 94
ALREADY_INITIALIZED = 23
INVALID_REPLICA_SET_CONFIG = 93
UNAUTHORIZED = 13
AUTHENTICATION_FAILED = 18
TIMEOUT_MS = 2000
# How long a pass waits for a member's watch to answer before asking the member itself: as long as it would wait
# for the member's own answer. A look given up costs two connections and a pass more; with half a second, 1,000 sets
# created at once settled in 124 s instead of 107 s (the control plane's CPU 161 against 140 CPU-s).
LOOK_SECONDS = TIMEOUT_MS / 1000
# Longer than a pass waits: a member slow to accept (a loaded host) is not dialled again and again.
CONNECT_TIMEOUT_MS = 10_000
# How often pymongo's own monitor asks while a client is open (during a change; a steady set holds none).
HEARTBEAT_MS = 30_000
RECONFIG_MAX_TIME_MS = 15_000
STEP_DOWN_SECONDS = 60
CATCH_UP_SECONDS = 10
ROOT_USER = "root"
CLUSTER_ADMIN_USER = "clusterAdmin"
MONITOR_USER = "clusterMonitor"
ROOT_ROLES = [{"role": "root", "db": "admin"}]
ROOT_PASSWORD_KEY = "root-password"  # its key in the <name>-auth Secret the mongod container mounts
# Users, featureCompatibilityVersion and a steady primary's state, once set or read, are trusted this long before
# the agent asks again (``FEDSTATE_MEMBER_RECHECK_SECONDS``): a steady set costs no command, and a change made
# by hand is still found. Each recheck logs in to the primary, so the fleet pays sets / period of them. A
# secondary's or an arbiter's steady state is not rechecked: all of it is in its hello (role, config, primary,
# term), so its watch's topologyVersion moves whenever any of it does; what is not (users, FCV) lives on the
# primary. Rechecking every member cost 18 ms of agent CPU each (a fresh client and a login): at 1,000 sets of 5
# members, 5 % of a core.
RECHECK_SECONDS: float = AgentSettings.model_fields["member_recheck_seconds"].default
# A steady set's clients are closed once unused this long: a set that turns busy again soon (a fleet being
# created: one member added after another) keeps its clients, and with them its logins.
CLIENT_IDLE_SECONDS = 30.0
T = TypeVar("T")
_MEMBER_FIELDS = ("host", "votes", "priority", "arbiterOnly")


@dataclass(frozen=True)
class MemberState:
    initiated: bool
    role: str
    users_ready: bool  # clusterAdmin logs in: the full view below is known
    config: RsConfig | None
    view: list[ReplsetMemberView]
    version: str = ""
    # Of ``view``: when it was read, and the election term it was read in.
    view_read_at: datetime | None = None
    term: int | None = None
    # How often the set's members heartbeat each other (replSetGetStatus): how far a primary's view of its
    # members may lag behind what they say themselves.
    heartbeat_seconds: float | None = None
    # Its own last applied write (replSetGetStatus, its own row): the freshest survivor after a lost majority.
    optime: OpTime | None = None
    # The primary its hello names: known before any login, so the initiator's agent finds a primary elsewhere
    # to create the set's users on (a view needs clusterAdmin, one of those users).
    hello_primary: str | None = None
    # The config version its hello names (setVersion), for a state known by its hello alone (``config`` is None).
    set_version: int | None = None

    @property
    def config_version(self) -> int:
        """The version of the config it holds, as its config or its hello says (0: none)."""
        return self.config.version if self.config is not None else (self.set_version or 0)


@dataclass
class Recent(Generic[T]):
    """What a member last answered, per address, until it is ``period`` seconds old."""

    period: float = RECHECK_SECONDS
    # The values this is true of last until forgotten: something else (a member's watch) vouches for them.
    lasting: Callable[[T], bool] = field(default=lambda _: False)
    _seen: dict[str, tuple[float, T]] = field(default_factory=dict)

    def get(self, address: str) -> T | None:
        at, value = self._seen.get(address, (0.0, None))
        if value is None:
            return None
        return value if self.lasting(value) or time.monotonic() - at < self.period else None

    def expires(self, address: str) -> float:
        """When ``get`` stops answering what it holds for ``address`` (monotonic clock): never while its value
        lasts or when it holds none (nothing to expire)."""
        at, value = self._seen.get(address, (0.0, None))
        return math.inf if value is None or self.lasting(value) else at + self.period

    def last(self, address: str) -> T | None:
        """What it last answered, however old."""
        return self._seen.get(address, (0.0, None))[1]

    def put(self, address: str, value: T) -> None:
        self._seen[address] = (time.monotonic(), value)

    def forget(self, addresses: set[str]) -> None:
        for address in addresses:
            self._seen.pop(address, None)


def _process_of(hello: dict[str, Any]) -> Any:
    """The processId a member's hello names (its topologyVersion), None if it names none."""
    token = token_of(hello)
    return token[0] if token is not None else None


def _process_of_client(client: AsyncMongoClient[dict[str, Any]]) -> Any:
    """The processId of the one mongod a direct client talks to, as its monitor last heard it (None: unknown)."""
    for server in client.topology_description.server_descriptions().values():
        if server.topology_version is not None:
            return server.topology_version.get("processId")
    return None


def _vouched_by_its_hello(seen: tuple[Token, MemberState]) -> bool:
    """A steady state its watch alone keeps true: everything but a primary's (its view of the set)."""
    return seen[1].role != "PRIMARY"


def users_fingerprint(credentials: Credentials, with_monitor: bool) -> str:
    """Which users, with which passwords, a primary was last given: a digest, so no password is kept twice."""
    material = credentials.model_dump_json() + str(with_monitor)
    return hashlib.sha256(material.encode()).hexdigest()


class NotAuthenticated(OperationFailure):
    """The member refused our credentials: wrong password, or no such user (yet). ``hello`` is the member's
    hello when that is how we learnt it (it has no such user)."""

    def __init__(self, message: str, hello: dict[str, Any] | None = None) -> None:
        super().__init__(message, AUTHENTICATION_FAILED)
        self.hello = hello


@dataclass(frozen=True)
class PrimaryView:
    """How the primary sees the set's members (_id → stateStr), and how often it hears from them."""

    states: dict[int, str]
    heartbeat_seconds: float | None


def primary_view(rows: list[ReplsetMemberView], heartbeat_seconds: float | None) -> PrimaryView:
    """A primary's replSetGetStatus rows as it sees each member: DOWN when it gets no heartbeat answer."""
    return PrimaryView({row.id: row.state_str if row.health else "DOWN" for row in rows}, heartbeat_seconds)


def _heartbeat_seconds(status: dict[str, Any]) -> float | None:
    millis = status.get("heartbeatIntervalMillis")
    return int(millis) / 1000 if millis else None


def hello_state(hello: dict[str, Any], version: str) -> MemberState:
    """What a member tells anyone: initiated (it names its set) and its role, nothing of its peers."""
    initiated = "setName" in hello
    role = (
        "PRIMARY"
        if hello.get("isWritablePrimary")
        else "SECONDARY"
        if hello.get("secondary")
        else "ARBITER"
        if hello.get("arbiterOnly")
        else ("UNKNOWN" if initiated else "STARTUP")
    )
    set_version = hello.get("setVersion")
    return MemberState(
        initiated,
        role,
        False,
        None,
        [],
        version,
        hello_primary=hello.get("primary"),
        set_version=int(set_version) if set_version is not None else None,
    )


def holds_the_set_s_data(hello: dict[str, Any] | None) -> bool:
    """A PRIMARY or a SECONDARY of an initiated set: it holds the set's data, its users included (a member still
    syncing, recovering or removed may not)."""
    return hello is not None and "setName" in hello and bool(hello.get("isWritablePrimary") or hello.get("secondary"))


def known_by_hello(hello: dict[str, Any], users_known: bool) -> bool:
    """Does a member's hello tell all the agent needs of it? Until the set's users are known to exist
    (``users_known``: the federation says they were created, its volumes bring them, or this agent saw clusterAdmin
    in this mongod), everyone's, its PRIMARY's too: nothing more can be read without a login. Negotiated on every
    pass of the primary's cluster while its secondaries synced, that login cost a connection each time (4 % of an
    agent's CPU at 1,000 sets being created) to find what the federation's ``usersCreated`` says anyway.
    After, not a PRIMARY's: its view of the set is read. An ARBITER's (it never holds users) and a SECONDARY's that
    names its PRIMARY: the set's view, config and the members' health are read once, from that primary. A member in
    any other state (syncing, recovering, removed, or one that sees no primary) is read itself: its own view is
    what a lost majority is judged by."""
    if not users_known:
        return True
    if hello.get("isWritablePrimary"):
        return False
    return bool(hello.get("arbiterOnly") or (hello.get("secondary") and hello.get("primary")))


def settled(state: MemberState) -> bool:
    """Worth answering again while the member does not change: a PRIMARY's view only once it sees every member
    healthy (its optimes then give every SECONDARY's lag; a member still syncing, or down, is not a settled view)."""
    return state.role != "PRIMARY" or all(row.health and row.state_str in HEALTHY for row in state.view)


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
            election_date=_aware(m.get("electionDate")),
        )
        for m in status.get("members", [])
    ]


def own_optime(row: dict[str, Any]) -> OpTime | None:
    """A member's optime from its replSetGetStatus row: ``{ts: Timestamp, t: term}``."""
    optime = row.get("optime") or {}
    ts = optime.get("ts")
    if ts is None:
        return None
    return OpTime(ts=int(getattr(ts, "time", 0)), i=int(getattr(ts, "inc", 0)), t=int(optime.get("t", -1)))


def _aware(moment: datetime | None) -> datetime | None:
    """pymongo decodes BSON dates as naive UTC."""
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment


def users_for(credentials: Credentials, with_monitor: bool) -> dict[str, tuple[str, list[dict[str, str]]]]:
    users = {
        ROOT_USER: (credentials.root_password, ROOT_ROLES),
        CLUSTER_ADMIN_USER: (credentials.cluster_admin_password, [{"role": "clusterAdmin", "db": "admin"}]),
    }
    if with_monitor:
        users[MONITOR_USER] = (credentials.cluster_monitor_password, [{"role": "clusterMonitor", "db": "admin"}])
    return users


def first_user_command() -> dict[str, Any]:
    """createUser root, its password read in the pod from the mounted Secret: no secret in the exec request.

    Acknowledged by the primary alone (w:1), not by a majority: the set's other users are created next, as root,
    each waiting for a majority, and a majority that holds them holds root too (a secondary applies the oplog in
    order). Waiting for a majority here too made two waits for the secondaries' initial sync in a row, about 25 ms
    of a quiet create's own time. Root lost in a rollback before that is created again: the new primary has no
    user, so its localhost exception is open."""
    return {
        "createUser": ROOT_USER,
        "pwd": auth_file(ROOT_PASSWORD_KEY),
        "roles": ROOT_ROLES,
        "writeConcern": {"w": 1},
    }


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


_ADMINS: weakref.WeakSet[MongoAdmin] = weakref.WeakSet()  # one per member cluster this process serves
MONGO_CLIENTS.set_function(lambda: sum(len(admin._clients) for admin in _ADMINS))


class MongoAdmin:
    def __init__(self, shell: PodShell, recheck_seconds: float = RECHECK_SECONDS, keys: ScramKeys = SCRAM_KEYS) -> None:
        _ADMINS.add(self)
        self.shell = shell
        self._keys = keys  # SCRAM keys shared by the process's clients: a login derives once per user and password
        self._clients: dict[tuple[str, str, str], AsyncMongoClient[dict[str, Any]]] = {}
        # a client → the mongod process (its watch's processId) it last logged in to, when a watch told it
        self._logged_in_to: dict[tuple[str, str, str], Any] = {}
        # address → the mongod process that answered the last authenticated command there (None: not known)
        self._answered_by: dict[str, Any] = {}
        self._last_used: dict[tuple[str, str, str], float] = {}
        # address → what to do when that member's state changes (enqueue the instances it belongs to)
        self._on_change: dict[str, Callable[[], None]] = {}
        self._watches: dict[str, MemberWatch] = {}
        # address → a steady state and the member's topologyVersion when it was read: true while that holds
        self._steady: Recent[tuple[Token, MemberState]] = Recent(recheck_seconds, lasting=_vouched_by_its_hello)
        # address → the last state it answered and its topologyVersion then
        self._last_seen: dict[str, tuple[Token, MemberState]] = {}
        # address → (processId, version): a mongod's version changes only with a restart, which changes its id
        self._versions: dict[str, tuple[Any, str]] = {}
        # address → ((version, term), config): a replica-set config is named by its version and term
        self._configs: dict[str, tuple[tuple[Any, Any], RsConfig]] = {}
        self._working: dict[str, str] = {}  # address → the root password that worked there last
        # member → the mongod process (None: not known) in which the shell found the localhost exception closed
        self._users_exist: dict[str, Any] = {}
        # member → the mongod process (None: not watched here) and the users seen to exist in it (logged in as,
        # created, listed): a login as one of them needs no negotiation first
        self._users_seen: dict[str, tuple[Any, set[str]]] = {}
        # primary → (its mongod, users_fingerprint of what it holds)
        self._users_ensured: Recent[tuple[Any, str]] = Recent(recheck_seconds)
        self._fcv: Recent[str] = Recent(recheck_seconds)  # primary → its featureCompatibilityVersion
        # a steady set's client → how long unused before it is closed; the reaper closes it then
        self._closing: dict[tuple[str, str, str], float] = {}
        self._reaper: asyncio.Task[None] | None = None
        # What a quiet pass depends on (``AgentReconciler``'s memo): commands sent to members and changes their
        # watches told, in all and per member. A pass during which none happened read only what is held here.
        self.activity = 0
        self._touched: Counter[str] = Counter()

    def touched(self, addresses: Iterable[str]) -> tuple[int, ...]:
        """Per member, how many commands were sent to it and changes its watch told so far."""
        return tuple(self._touched[address] for address in addresses)

    def fresh_until(self, addresses: Iterable[str]) -> float:
        """When the first of the members' cached answers (state, users, FCV) is due to be asked again, on the
        monotonic clock: until then a look at them reads only memory."""
        return min(
            (memo.expires(address) for memo in (self._steady, self._users_ensured, self._fcv) for address in addresses),
            default=math.inf,
        )

    def _touch(self, address: str) -> None:
        self.activity += 1
        self._touched[address] += 1

    def _client(self, address: str, user: str, password: str) -> AsyncMongoClient[dict[str, Any]]:
        """A client per (member, user, password), open while the member's set is changing (``settle`` closes
        them). What a member tells anyone (hello, buildInfo) is asked without one (``_anonymous``)."""
        key = (address, user, password)
        self._last_used[key] = time.monotonic()
        self._closing.pop(key, None)  # busy again: closed only once its set is steady again
        if key not in self._clients:
            MONGO_CLIENTS_OPENED.labels(user).inc()
            self._clients[key] = AsyncMongoClient(
                f"mongodb://{address}/",
                serverSelectionTimeoutMS=TIMEOUT_MS,
                connectTimeoutMS=CONNECT_TIMEOUT_MS,
                heartbeatFrequencyMS=HEARTBEAT_MS,
                # One monitoring connection, not a streaming one plus an RTT one: with a direct connection to
                # one member there is nothing to select between, and the member's watch reports its changes.
                serverMonitoringMode="poll",
                appname="fedstate-agent",
                directConnection=True,
                username=user,
                password=password,
            )
        return self._clients[key]

    def on_change(self, address: str, callback: Callable[[], None]) -> None:
        """Call ``callback`` whenever the member at ``address`` changes state: its ``MemberWatch`` holds an
        awaitable hello open on it."""
        self._on_change[address] = callback
        self._watch(address)

    def _watch(self, address: str) -> MemberWatch:
        watch = self._watches.get(address)
        if watch is None:
            watch = self._watches[address] = MemberWatch(address, lambda: self._member_changed(address))
            watch.start()
        return watch

    def watching(self, address: str) -> bool:
        """Does the member's watch hold an answer from it (connected, answering)?"""
        watch = self._watches.get(address)
        return watch is not None and watch.token is not None

    def _process(self, address: str) -> Any:
        """The processId of the mongod at ``address`` as its watch last heard it; None when no watch tells."""
        watch = self._watches.get(address)
        return watch.token[0] if watch is not None and watch.token is not None else None

    def _member_changed(self, address: str) -> None:
        self._touch(address)
        callback = self._on_change.get(address)
        if callback is not None:
            callback()

    def _seen_user(self, address: str, user: str) -> None:
        # Its watch may have no answer yet (users created right after the member came up): then the mongod that
        # answered the command that saw the user.
        process = self._process(address)
        process = process if process is not None else self._answered_by.get(address)
        seen = self._users_seen.get(address)
        if seen is None or seen[0] != process:
            seen = self._users_seen[address] = (process, set())
        seen[1].add(user)

    def _user_known(self, address: str, user: str) -> bool:
        """Was ``user`` seen to exist in the mongod that answers at ``address`` now (as its watch names it; for an
        address no watch follows, a primary elsewhere, the one that last answered a command there)?"""
        seen = self._users_seen.get(address)
        return seen is not None and seen[0] == self._mongod(address) and user in seen[1]

    def _mongod(self, address: str) -> Any:
        """The mongod process that answers at ``address`` now, as its watch names it (for an address no watch
        follows, a primary elsewhere: the one that last answered a command there)."""
        return self._process(address) if address in self._watches else self._answered_by.get(address)

    async def _as(
        self, address: str, user: str, password: str, command: dict[str, Any], *, exists: bool = False
    ) -> dict[str, Any]:
        """``command`` on one member, authenticated; ``NotAuthenticated`` when the member refuses the login. With
        ``exists`` (the caller knows the set's users are on this member), or once the user was seen there, a
        first login is not negotiated first."""
        self._touch(address)
        key = (address, user, password)
        watched = address in self._watches
        process = self._process(address)
        hello: dict[str, Any] | None = None
        if key in self._logged_in_to:
            if process is None:  # its watch lost the member a moment ago: the member's hello names its mongod
                hello = await self._negotiate(address, user)
                process = _process_of(hello)
            if process != self._logged_in_to[key]:
                # Another mongod answers at this address now (a restart, or a new member given a freed
                # NodePort): it may not hold the user, and the client would try its old login unasked.
                await self._close(key)
        if key not in self._clients and not (exists or self._user_known(address, user)):
            # Asked the way drivers negotiate a login, not tried: a failed login is an "Authentication failed"
            # line in mongod's log for operators to chase, and costs a client (pymongo pauses its pool).
            hello = hello or await self._negotiate(address, user)
            if "saslSupportedMechs" not in hello:
                raise NotAuthenticated(f"no user {user} on {address} yet", hello)
            process = process if process is not None else _process_of(hello)
        client = self._client(address, user, password)
        try:
            await self._keys.ready(client)
            reply = await client.admin.command(command)
        except (OperationFailure, ServerSelectionTimeoutError) as exc:
            if not _authentication_failed(client, exc):
                raise
            # A client refused once keeps failing with that password even after it becomes right
            # (a rotation, a user created since): start afresh next time.
            await self._close((address, user, password))
            self._users_seen.pop(address, None)
            raise NotAuthenticated(f"{user} cannot log in on {address}") from None
        self._keys.keep(client)
        # The mongod that answered: as its watch named it, else (no answer from the watch yet, or no watch) as the
        # client's own monitor last heard it.
        process = process if process is not None else _process_of_client(client)
        self._answered_by[address] = process
        self._seen_user(address, user)
        if watched and process is not None:
            self._logged_in_to[key] = process
        return reply

    async def _negotiate(self, address: str, user: str) -> dict[str, Any]:
        """The member's hello as a driver asks it before a login: it names the user's mechanisms if the user exists."""
        return await self._anonymous(address, {"hello": 1, "saslSupportedMechs": f"admin.{user}"})

    async def _as_cluster_admin(
        self, address: str, credentials: Credentials, command: dict[str, Any], *, exists: bool = False
    ) -> dict[str, Any]:
        """Replica-set commands run as clusterAdmin, the role made for them; on a mongod where this agent holds a
        root login and none as clusterAdmin, and saw clusterAdmin (it has just created the set's users there), as
        root: a second login is a SCRAM derivation and three round trips more, on a new set's way to Health. Not
        before clusterAdmin is seen there: a login of its own is what tells it exists (``_user_known``)."""
        password = credentials.cluster_admin_password
        root = self._working.get(address)
        if (
            (address, CLUSTER_ADMIN_USER, password) not in self._clients
            and (address, ROOT_USER, root) in self._clients
            and self._user_known(address, CLUSTER_ADMIN_USER)
        ):
            assert root is not None
            with contextlib.suppress(NotAuthenticated):  # root's password changed meanwhile: clusterAdmin then
                return await self._as(address, ROOT_USER, root, command)
        return await self._as(address, CLUSTER_ADMIN_USER, password, command, exists=exists)

    def _passwords(self, address: str, credentials: Credentials) -> Iterator[str]:
        """The root passwords to try, the one that worked last first."""
        known = [credentials.root_password, *credentials.earlier_root_passwords()]
        tried: list[str] = []
        for password in (self._working.get(address), *known):
            if password and password not in tried and password in known:
                tried.append(password)
                yield password

    async def _as_root(self, address: str, credentials: Credentials, command: dict[str, Any]) -> dict[str, Any]:
        """User administration runs as root (clusterAdmin may not manage users), with any password it may hold."""
        failure: NotAuthenticated | None = None
        for password in self._passwords(address, credentials):
            try:
                reply = await self._as(address, ROOT_USER, password, command)
            except NotAuthenticated as exc:
                failure = exc
                continue
            self._working[address] = password
            return reply
        assert failure is not None
        raise failure

    async def observe(
        self,
        address: str,
        credentials: Credentials,
        reuse: bool = False,
        users_expected: bool = True,
        itself: bool = False,
    ) -> MemberState:
        """The member's own replica-set view as clusterAdmin sees it; only its hello before clusterAdmin logs in.
        With ``reuse``, a steady state read before is answered again, without asking, while the member's watch
        says its topologyVersion has not moved since (and for at most ``recheck_seconds``). A member whose hello
        tells all (``known_by_hello``; ``users_expected``: the set's users are created, or its volumes bring
        them) is known by the hello its watch holds, without a login; ``itself`` reads it all the same (its
        primary could not be read)."""
        watch = self._watch(address)
        if watch.token is None:
            # A member first looked at, or found again: its watch's answer (hello and buildInfo, on the connection
            # it keeps) tells what two connections of their own asked before.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(LOOK_SECONDS):
                    await watch.look()
            if watch.token is not None:
                self._touch(address)  # what the look told counts as what a command would have
        token = watch.token
        known = self._steady.get(address)
        if reuse and token is not None and known is not None and known[0] == token:
            return known[1]
        hello = watch.hello if token is not None else None
        users_known = users_expected or self._user_known(address, CLUSTER_ADMIN_USER)
        if hello is not None and not itself and known_by_hello(hello, users_known):
            return hello_state(hello, await self._version(address, None))
        try:
            state = await self._observe(address, credentials, users_expected and holds_the_set_s_data(hello))
        except ConnectionFailure:
            # Too slow to answer (a loaded host or agent), yet its watch says nothing changed since it last
            # answered: that answer still holds. Reporting it UNKNOWN would flap the instance for nothing.
            last = self._last_seen.get(address)
            if token is None or last is None or last[0] != token:
                raise
            log.info("member slow to answer; its watch says unchanged", extra={"member": address})
            return last[1]
        if token is not None:
            self._last_seen[address] = (token, state)
            if state.users_ready and state.role in HEALTHY and settled(state):
                self._steady.put(address, (token, state))
        return state

    async def _observe(self, address: str, credentials: Credentials, users_there: bool = False) -> MemberState:
        try:
            status = await self._as_cluster_admin(address, credentials, {"replSetGetStatus": 1}, exists=users_there)
        except NotAuthenticated as refused:  # no users yet (an arbiter never has any), or a password being rotated
            hello = refused.hello or await self._anonymous(address, {"hello": 1})
            return hello_state(hello, await self._version(address, None))
        except OperationFailure as exc:
            version = await self._version(address, credentials)
            if exc.code == NOT_YET_INITIALIZED:
                return MemberState(False, "STARTUP", True, None, [], version)
            if exc.code == INVALID_REPLICA_SET_CONFIG:  # its config does not name it: report that config
                config = await self._as_cluster_admin(address, credentials, {"replSetGetConfig": 1})
                return MemberState(True, "REMOVED", True, RsConfig.from_mongo(config["config"]), [], version)
            raise
        return await self._state(address, credentials, status, await self._version(address, credentials))

    async def _state(self, address: str, credentials: Credentials, status: dict[str, Any], version: str) -> MemberState:
        """A member's state from its replSetGetStatus (and its config, asked when its version moved)."""
        me: dict[str, Any] = next((m for m in status.get("members", []) if m.get("self")), {})
        return MemberState(
            True,
            me.get("stateStr", "UNKNOWN"),
            True,
            await self._config(address, credentials, (me.get("configVersion"), me.get("configTerm"))),
            _view(status),
            version,
            utcnow(),
            int(status["term"]) if "term" in status else None,
            heartbeat_seconds=_heartbeat_seconds(status),
            optime=own_optime(me),
        )

    async def _anonymous(self, address: str, command: dict[str, Any]) -> dict[str, Any]:
        """A command mongod answers before any login (hello, buildInfo), without a driver client."""
        self._touch(address)
        return await ask(address, command, TIMEOUT_MS / 1000)

    async def _version(self, address: str, credentials: Credentials | None) -> str:
        """The member's version (buildInfo, as clusterAdmin once it logs in) once per mongod process: its
        watch's topologyVersion names the process."""
        watch = self._watches.get(address)
        if watch is not None and watch.token is not None and watch.version is not None:
            return watch.version  # asked as its watch connected, of the mongod it watches now
        process = self._process(address)
        known = self._versions.get(address)
        if process is not None and known is not None and known[0] == process:
            return known[1]
        ask = {"buildInfo": 1}
        if credentials is None:
            reply = await self._anonymous(address, ask)
        else:
            reply = await self._as_cluster_admin(address, credentials, ask)
        version = str(reply.get("version", ""))
        if process is not None:
            self._versions[address] = (process, version)
        return version

    async def _config(self, address: str, credentials: Credentials, named: tuple[Any, Any]) -> RsConfig:
        """The member's replica-set config, asked only when its (version, term) in replSetGetStatus moved."""
        known = self._configs.get(address)
        if None not in named and known is not None and known[0] == named:
            return known[1]
        reply = await self._as_cluster_admin(address, credentials, {"replSetGetConfig": 1})
        config = RsConfig.from_mongo(reply["config"])
        if None not in named:
            self._configs[address] = (named, config)
        return config

    async def read_primary(self, primary: str, credentials: Credentials, users_created: bool = False) -> MemberState:
        """The set as a primary in another cluster sees it, as clusterAdmin: every member's state and health, its
        config, term and heartbeat interval. An agent reads this once, not each of its own SECONDARYs: their
        hellos tell the rest (``known_by_hello``). Its version is not asked: no pod of it is exec'd into here.
        ``users_created``: the set's users exist, so they are on its primary (no login negotiated first). Until then,
        or until this agent has seen them there (it created them), it is not tried: ``NotAuthenticated``. Tried,
        it cost each pass of every other cluster a negotiation while the users did not exist, and once they did,
        a login ahead of the flag that sent every cluster's agent to read the primary again anyway; in a quiet
        create that login (15 to 20 ms) was on the way to Health, which needs nothing of it."""
        if not (users_created or self._user_known(primary, CLUSTER_ADMIN_USER)):
            raise NotAuthenticated(f"the set's users are not known to be on {primary} yet")
        status = await self._as_cluster_admin(primary, credentials, {"replSetGetStatus": 1}, exists=users_created)
        return await self._state(primary, credentials, status, "")

    async def initiate(self, pod: PodRef, version: str, config: RsConfig) -> bool:
        """replSetInitiate from inside an uninitiated member's pod; False when it was initiated already
        (AlreadyInitialized, or Unauthorized: users exist, which only an initiated set can hold)."""
        command = {"replSetInitiate": config.to_mongo()}
        return await self._bootstrap(pod, version, command, done=(ALREADY_INITIALIZED, UNAUTHORIZED))

    async def create_first_user(self, address: str, pod: PodRef, version: str, credentials: Credentials) -> bool:
        """Create ``root`` on a PRIMARY from inside its pod, under the localhost exception, with the password
        the pod reads from its mounted Secret; False when root logs in already or some user exists."""
        process = self._process(address)
        if (address in self._users_exist and self._users_exist[address] == process) or await self._root_logs_in(
            address, credentials
        ):
            return False
        created = await self._bootstrap(pod, version, first_user_command(), done=(UNAUTHORIZED,))
        self._users_exist[address] = process
        if created:
            self._seen_user(address, ROOT_USER)
        return created

    async def _bootstrap(self, pod: PodRef, version: str, command: dict[str, Any], done: tuple[int, ...]) -> bool:
        """Run one command in the pod's shell: True when it did it, False when an error code in ``done`` says
        it had been done before; other failures raise ``OperationFailure``."""
        self.activity += 1
        result = (await self.shell.run(pod, version, [command]))[0]
        if result.get("ok"):
            return True
        if result.get("code") in done:
            return False
        raise OperationFailure(str(result.get("errmsg", "failed in the mongo shell")), result.get("code"), result)

    async def _root_logs_in(self, address: str, credentials: Credentials) -> bool:
        try:
            await self._as_root(address, credentials, {"ping": 1})
        except NotAuthenticated:
            return False
        return True

    async def reconfig(self, primary: str, credentials: Credentials, wanted: RsConfig) -> bool:
        """replSetReconfig on the primary with ``maxTimeMS``; False when its config is already this new."""
        current = (await self._as_cluster_admin(primary, credentials, {"replSetGetConfig": 1}))["config"]
        if int(current.get("version", 0)) >= wanted.version:
            return False
        document = reconfig_document(current, wanted)
        await self._as_cluster_admin(
            primary, credentials, {"replSetReconfig": document, "maxTimeMS": RECONFIG_MAX_TIME_MS}
        )
        return True

    async def force_reconfig(self, address: str, credentials: Credentials, wanted: RsConfig) -> None:
        """replSetReconfig with ``force`` on one member: it installs ``wanted`` at once (mongod raises the
        version by a large random amount) and heartbeats carry it to the members it names."""
        current = (await self._as_cluster_admin(address, credentials, {"replSetGetConfig": 1}))["config"]
        document = reconfig_document(current, wanted)
        await self._as_cluster_admin(address, credentials, {"replSetReconfig": document, "force": True})

    async def step_down(self, primary: str, credentials: Credentials) -> None:
        """Hand the primary role to a caught-up electable secondary; this member may not stand for 60 s."""
        await self._as_cluster_admin(
            primary,
            credentials,
            {"replSetStepDown": STEP_DOWN_SECONDS, "secondaryCatchUpPeriodSecs": CATCH_UP_SECONDS},
        )

    async def ensure_users(self, primary: str, credentials: Credentials, monitor: bool) -> list[str]:
        """As root (created in the primary's pod, ``create_first_user``): rotate root's password when it
        changed, create the missing users, drop clusterMonitor when the exporter is off. Returns what it did."""
        # Per mongod process: a restarted primary is asked again, and what it holds is then seen in it (``_users``),
        # so its view is read as clusterAdmin, not known by its hello alone.
        fingerprint = (self._mongod(primary), users_fingerprint(credentials, monitor))
        if self._users_ensured.get(primary) == fingerprint:
            return []
        if self._users_ensured.last(primary) == fingerprint and await self._users_in_place(
            primary, credentials, monitor
        ):
            self._users_ensured.put(primary, fingerprint)  # a recheck: the same users, none dropped by hand
            return []
        done = []
        if await self._rotate_root(primary, credentials):
            done.append(f"rotated the password of {ROOT_USER}")
        existing = await self._users(primary, credentials)
        wanted = users_for(credentials, monitor)
        missing = {name: wanted[name] for name in sorted(wanted.keys() - existing - {ROOT_USER})}
        # Together: each waits for a majority of the set to hold it, and those waits overlap rather than add up.
        await asyncio.gather(
            *(
                self._as_root(primary, credentials, {"createUser": name, "pwd": password, "roles": roles})
                for name, (password, roles) in missing.items()
            )
        )
        for name in missing:
            self._seen_user(primary, name)
        done.extend(f"created {name}" for name in missing)
        if not monitor and MONITOR_USER in existing:
            await self._as_root(primary, credentials, {"dropUser": MONITOR_USER})
            self._users_seen.get(primary, (None, set()))[1].discard(MONITOR_USER)
            done.append(f"dropped {MONITOR_USER}")
        self._users_ensured.put(primary, (self._mongod(primary), fingerprint[1]))
        return done

    async def _users_in_place(self, primary: str, credentials: Credentials, monitor: bool) -> bool:
        """Does the primary hold exactly the users it was given, asked the way drivers negotiate a login (a
        hello names a user's mechanisms only if it exists)? No login: a recheck of a steady set's users cost one
        as root, a fresh client each time."""
        names = [ROOT_USER, CLUSTER_ADMIN_USER, MONITOR_USER]
        hellos = await asyncio.gather(*(self._negotiate(primary, name) for name in names))
        exists = {name for name, hello in zip(names, hellos, strict=True) if "saslSupportedMechs" in hello}
        return exists == set(users_for(credentials, monitor))

    async def _users(self, primary: str, credentials: Credentials) -> set[str]:
        """The names of the admin database's users, in one ``usersInfo``."""
        reply = await self._as_root(primary, credentials, {"usersInfo": 1})
        names = {user["user"] for user in reply["users"]}
        for name in names:
            self._seen_user(primary, name)
        return names

    async def _rotate_root(self, primary: str, credentials: Credentials) -> bool:
        """Log in with the new root password; if only the previous one works, change it to the new one."""
        try:
            await self._as_root(primary, credentials, {"ping": 1})
        except NotAuthenticated:
            raise NotAuthenticated(
                f"{ROOT_USER} cannot log in on {primary} yet: the agent of the primary's cluster creates it "
                "through pods/exec"
            ) from None
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
        await self._as_cluster_admin(primary, credentials, command)
        self._fcv.put(primary, target)
        return target

    async def feature_compatibility_version(self, primary: str, credentials: Credentials) -> str | None:
        known = self._fcv.get(primary)
        if known is not None:
            return known
        reply = await self._as_cluster_admin(
            primary, credentials, {"getParameter": 1, "featureCompatibilityVersion": 1}
        )
        version = (reply.get("featureCompatibilityVersion") or {}).get("version")
        if not version:
            return None
        self._fcv.put(primary, str(version))
        return str(version)

    async def _forget_password(self, password: str | None) -> None:
        if password is not None:
            self._keys.forget(password)
        for key in [k for k in self._clients if password is not None and k[2] == password]:
            await self._close(key)

    async def settle(self, here: set[str], primary: str | None, idle_for: float = CLIENT_IDLE_SECONDS) -> None:
        """A steady set holds no client: its members' watches say when to look again. The clients of its
        members here, and any to a primary in another cluster (users, FCV), are closed once unused for
        ``idle_for`` seconds: at once if they have been, else by a timer — no other look at the set is needed
        to close them (a look would read the members again and report their newer optimes)."""
        for key in [k for k in self._clients if k[0] in here or k[0] == primary]:
            self._closing[key] = idle_for
        await self._close_idle()
        if self._closing and (self._reaper is None or self._reaper.done()):
            self._reaper = asyncio.create_task(self._reap(), name="close-idle-clients")

    async def _close_idle(self) -> float | None:
        """Close the clients of steady sets unused long enough; how long until the next one is, if any is left."""
        now = time.monotonic()
        for key in [k for k, idle in self._closing.items() if self._last_used[k] + idle <= now]:
            await self._close(key)
        return min((self._last_used[k] + idle - now for k, idle in self._closing.items()), default=None)

    async def _reap(self) -> None:
        try:
            while (wait := await self._close_idle()) is not None:  # noqa: ASYNC110 - until a deadline, not a flag
                await asyncio.sleep(wait)
        except PyMongoError as exc:  # closing a client to a member gone away: the next settle tries again
            log.info("idle clients not closed", extra={"error": repr(exc)})

    async def _close(self, key: tuple[str, str, str]) -> None:
        self._last_used.pop(key, None)
        self._closing.pop(key, None)
        self._logged_in_to.pop(key, None)
        client = self._clients.pop(key, None)
        if (
            client is not None
        ):  # the reaper and a pass's settle may both close it: whoever comes second has nothing to do
            await client.close()

    async def forget(self, addresses: set[str]) -> None:
        for key in [k for k in self._clients if k[0] in addresses]:
            await self._close(key)
        for address in addresses:
            self._touch(address)
            self._on_change.pop(address, None)
            self._working.pop(address, None)
            self._users_exist.pop(address, None)
            self._users_seen.pop(address, None)
            self._answered_by.pop(address, None)
            self._versions.pop(address, None)
            self._last_seen.pop(address, None)
            self._configs.pop(address, None)
            watch = self._watches.pop(address, None)
            if watch is not None:
                await watch.stop()
        for memo in (self._users_ensured, self._fcv, self._steady):
            memo.forget(addresses)

    async def close(self) -> None:
        if self._reaper is not None:
            self._reaper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reaper
        for key in list(self._clients):
            await self._close(key)
        for watch in self._watches.values():
            await watch.stop()
        self._watches.clear()
        await self.shell.close()


__all__ = ["MemberState", "MongoAdmin", "NotAuthenticated", "PodRef", "PyMongoError"]
