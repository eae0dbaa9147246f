"""MongoDB's built-in roles, as far as the commands the simulator serves need them: an authenticated user may
run a command only when one of its roles grants that command's action (manual/reference/built-in-roles/).
A user without the right role gets Unauthorized (13), ``not authorized on <db> to execute command ...``."""

from __future__ import annotations

from enum import StrEnum


class Action(StrEnum):
    """What a command needs, grouped as the built-in roles grant it."""

    ANY = "any"  # any authenticated user (connectionStatus, whatsmyuri, listDatabases of its own databases)
    CLUSTER_MANAGE = "clusterManage"  # replSetReconfig, replSetStepDown, setFeatureCompatibilityVersion, ...
    CLUSTER_MONITOR = "clusterMonitor"  # replSetGetStatus, replSetGetConfig, serverStatus, getParameter, ...
    USER_ADMIN = "userAdmin"  # createUser, updateUser, grantRolesToUser, dropUser, usersInfo
    READ = "read"  # find, count, aggregate, listCollections, ...
    WRITE = "write"  # insert, update, delete, create, drop, createIndexes
    DROP_DATABASE = "dropDatabase"


COMMAND_ACTIONS: dict[str, Action] = {
    **dict.fromkeys(
        ("replSetInitiate", "replSetReconfig", "replSetStepDown", "replSetFreeze", "replSetStepUp"),
        Action.CLUSTER_MANAGE,
    ),
    **dict.fromkeys(("setFeatureCompatibilityVersion", "setParameter"), Action.CLUSTER_MANAGE),
    **dict.fromkeys(
        ("replSetGetStatus", "replSetGetConfig", "serverStatus", "getParameter", "getCmdLineOpts", "hostInfo"),
        Action.CLUSTER_MONITOR,
    ),
    **dict.fromkeys(("getDefaultRWConcern", "dbStats", "collStats"), Action.CLUSTER_MONITOR),
    **dict.fromkeys(("createUser", "updateUser", "grantRolesToUser", "dropUser", "usersInfo"), Action.USER_ADMIN),
    **dict.fromkeys(
        ("find", "count", "distinct", "aggregate", "listCollections", "listIndexes", "getMore", "killCursors"),
        Action.READ,
    ),
    **dict.fromkeys(("insert", "update", "delete", "create", "drop", "createIndexes"), Action.WRITE),
    "dropDatabase": Action.DROP_DATABASE,
}

_MONITOR = {Action.CLUSTER_MONITOR}
_READ_WRITE = {Action.READ, Action.WRITE}
# Role → (actions, on every database or only the role's own)
ROLE_ACTIONS: dict[str, tuple[set[Action], bool]] = {
    "root": (set(Action), True),
    "__system": (set(Action), True),
    "clusterAdmin": ({Action.CLUSTER_MANAGE, Action.CLUSTER_MONITOR, Action.DROP_DATABASE}, True),
    "clusterManager": ({Action.CLUSTER_MANAGE, Action.CLUSTER_MONITOR}, True),
    "clusterMonitor": (_MONITOR, True),
    "userAdminAnyDatabase": ({Action.USER_ADMIN}, True),
    "readWriteAnyDatabase": (_READ_WRITE, True),
    "readAnyDatabase": ({Action.READ}, True),
    "dbAdminAnyDatabase": ({Action.DROP_DATABASE, Action.CLUSTER_MONITOR}, True),
    "userAdmin": ({Action.USER_ADMIN}, False),
    "dbOwner": ({*_READ_WRITE, Action.USER_ADMIN, Action.DROP_DATABASE}, False),
    "dbAdmin": ({Action.DROP_DATABASE}, False),
    "readWrite": (_READ_WRITE, False),
    "read": ({Action.READ}, False),
}


def allows(roles: list[dict[str, str]], command: str, db: str) -> bool:
    """Do ``roles`` (``{"role", "db"}`` documents) let their user run ``command`` on ``db``?"""
    action = COMMAND_ACTIONS.get(command, Action.ANY)
    if action is Action.ANY:
        return True
    for role in roles:
        actions, everywhere = ROLE_ACTIONS.get(role.get("role", ""), (set(), False))
        if action in actions and (everywhere or role.get("db") == db):
            return True
    return False
