"""Which local stack a command means, found the way kubectl finds its kubeconfig.

Lookup order, first match wins:

1. ``--stack DIR`` (before the command: ``fedstate --stack DIR get mcm``), else ``$FEDSTATE_STACK``:
   the stack in ``DIR/.fedstate``, or ``DIR`` itself when it is a ``.fedstate`` directory;
2. ``./.fedstate`` of the current directory, when a stack runs from there;
3. the current context: the stack directory recorded by the last ``fedstate up``, in
   ``$FEDSTATE_HOME/current``, else ``$XDG_CONFIG_HOME/fedstate/current``, else ``~/.config/fedstate/current``.

A gateway URL given with ``--server`` or ``$FEDSTATE_SERVER`` wins over all of these for the
commands that only talk to the gateway (``fedstate.cli.client.find_server``).
"""

from __future__ import annotations

import os
from pathlib import Path

from .state import STATE_DIR, StackPaths

STACK_ENV = "FEDSTATE_STACK"
HOME_ENV = "FEDSTATE_HOME"
CURRENT_FILE = "current"


class _Invocation:
    """The global ``--stack`` of this invocation."""

    stack: str | None = None


def set_global_stack(stack: str | None) -> None:
    _Invocation.stack = stack


def config_home() -> Path:
    """``$FEDSTATE_HOME``, else ``$XDG_CONFIG_HOME/fedstate``, else ``~/.config/fedstate``."""
    if home := os.environ.get(HOME_ENV):
        return Path(home)
    xdg = os.environ.get("XDG_CONFIG_HOME")
    return (Path(xdg) if xdg else Path.home() / ".config") / "fedstate"


def current_file() -> Path:
    return config_home() / CURRENT_FILE


def stack_at(directory: str | Path) -> StackPaths:
    """The stack of ``DIR``: ``DIR/.fedstate``, or ``DIR`` when it is itself a stack directory."""
    path = Path(directory).expanduser().resolve()
    return StackPaths(path if path.name == STATE_DIR or (path / "state.json").exists() else path / STATE_DIR)


def named_stack() -> StackPaths | None:
    """The stack named by ``--stack`` or ``$FEDSTATE_STACK``, whether or not it runs."""
    named = _Invocation.stack or os.environ.get(STACK_ENV)
    return stack_at(named) if named else None


def current_stack() -> StackPaths | None:
    """The stack the current-context file records, if the file exists."""
    try:
        recorded = current_file().read_text().strip()
    except OSError:
        return None
    return StackPaths(Path(recorded)) if recorded else None


def find_stack() -> StackPaths | None:
    """The stack of this command (see the module's lookup order); None when nothing names a running one."""
    named = named_stack()
    if named is not None:
        return named
    for candidate in (StackPaths.here(), current_stack()):
        if candidate is not None and candidate.state_file.exists():
            return candidate
    return None


def where_looked() -> str:
    """For "no stack found" messages: the places the lookup tried."""
    named = named_stack()
    if named is not None:
        return str(named.root)
    return f"./{STATE_DIR} nor in the current context ({current_file()})"


def remember(paths: StackPaths) -> None:
    """Make ``paths`` the current context (``fedstate up`` does, so later commands work from anywhere)."""
    target = current_file()
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_suffix(".tmp")
    temporary.write_text(f"{paths.root.resolve()}\n")
    temporary.replace(target)


def forget(paths: StackPaths) -> None:
    """Clear the current context if it is ``paths`` (after ``fedstate down``)."""
    current = current_stack()
    if current is not None and current.root.resolve() == paths.root.resolve():
        current_file().unlink(missing_ok=True)
