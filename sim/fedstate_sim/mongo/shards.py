"""Simulated mongods spread over several member processes, for fleets one process cannot hold.

One process may not keep more than ``RLIMIT_NOFILE`` files open (20,000 on the benchmark
machine, and it cannot raise its hard limit), and each simulated mongod holds about four: its
listener, and the agent's monitor and pool connections. A fleet of 1,000 replica sets has
about 5,000 members, so ``python -m fedstate_sim --member-processes K`` runs them in K child
processes, each a ``MongoFabric`` of its own.

The members of one replica set talk to each other in process (heartbeats, replication), so
a member goes to the process its ``--replSet`` name hashes to: a set is never split. Faults
(a cluster down, partitions) go to every process; a shell run goes to the process holding the
pod's member, with the files the script reads (``$readFile``) read here first, from the
Kubernetes side's store. The Kubernetes side calls this host exactly as it calls a
``MongoFabric``.

    python -m fedstate_sim.mongo.shards --channel-fd 5 --settings '{"electionTimeoutMillis": 2000}'
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import socket
import sys
import zlib
from dataclasses import asdict
from typing import Any

from fedstate_sim.config import SimSettings
from fedstate_sim.logs import setup_logging
from fedstate_sim.mongo.api import MemberLaunch, ShellRequest, ShellRun
from fedstate_sim.mongo.channel import Channel
from fedstate_sim.mongo.fabric import MongoFabric
from fedstate_sim.mongo.shell import files_read
from fedstate_sim.process import tune_process

log = logging.getLogger("fedstate_sim.mongo")


def shard_of(repl_set: str, shards: int) -> int:
    """The process a replica set's members run in: stable across restarts of the simulator."""
    return zlib.crc32(repl_set.encode()) % shards


class MemberProcess:
    """One child process and the channel to it."""

    def __init__(self, index: int, process: asyncio.subprocess.Process, channel: Channel) -> None:
        self.index = index
        self.process = process
        self.channel = channel
        self.serving = asyncio.ensure_future(channel.serve())

    @classmethod
    async def spawn(cls, index: int, settings: SimSettings) -> MemberProcess:
        parent, child = socket.socketpair()
        with child:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                __name__,
                "--channel-fd",
                str(child.fileno()),
                "--settings",
                settings.model_dump_json(by_alias=True),
                "--log-level",
                logging.getLevelName(logging.getLogger().getEffectiveLevel()),
                pass_fds=(child.fileno(),),
                stdin=asyncio.subprocess.DEVNULL,
            )
        channel = await Channel.over_socket(parent, {}, f"member-process-{index}")
        log.info("fedstate simulator: member process %d started (pid %d)", index, process.pid)
        return cls(index, process, channel)

    async def stop(self) -> None:
        try:
            await self.channel.call("close")
        except ConnectionError:
            pass  # already gone; its exit code says why
        await self.channel.aclose()
        code = await self.process.wait()
        if code:
            log.error("fedstate simulator: member process %d exited with code %d", self.index, code)


class ShardedMemberHost:
    """``MemberHost`` over K member processes."""

    def __init__(self, settings: SimSettings, processes: int) -> None:
        if processes < 1:
            raise ValueError("member processes must be at least 1")
        self.settings = settings
        self.count = processes
        self.processes: list[MemberProcess] = []
        self._addresses: dict[str, MemberProcess] = {}  # host:port → the process running that member
        self._volumes: dict[str, MemberProcess] = {}  # data_key → the process holding its data

    async def start(self) -> None:
        self.processes = list(await asyncio.gather(*(MemberProcess.spawn(i, self.settings) for i in range(self.count))))

    # ---- MemberHost --------------------------------------------------------------------------
    async def start_member(self, launch: MemberLaunch) -> None:
        target = self.processes[shard_of(launch.repl_set, self.count)]
        holder = self._volumes.get(launch.data_key)
        if holder is not None and holder is not target:
            # The volume now belongs to another set's process: its data does not follow it there.
            log.warning(
                "fedstate simulator: volume %s moves from member process %d to %d (replica set %s); its data stays behind",
                launch.data_key,
                holder.index,
                target.index,
                launch.repl_set,
            )
            released = await holder.channel.call("release_volume", data_key=launch.data_key)
            if released is not None:
                self._addresses.pop(released, None)
        address = f"{launch.host}:{launch.port}"
        previous = self._addresses.get(address)
        if previous is not None and previous is not target:
            await previous.channel.call("stop_member", host=launch.host, port=launch.port)
        await target.channel.call("start_member", launch=asdict(launch))
        self._addresses[address] = target
        self._volumes[launch.data_key] = target

    async def stop_member(self, host: str, port: int, clean: bool = False) -> None:
        process = self._addresses.pop(f"{host}:{port}", None)
        if process is not None:
            await process.channel.call("stop_member", host=host, port=port, clean=clean)

    def forget_data(self, data_key: str) -> None:
        process = self._volumes.pop(data_key, None)
        if process is not None:
            process.channel.tell("forget_data", data_key=data_key)

    def set_cluster_down(self, cluster: str, down: bool) -> None:
        self._tell_all("set_cluster_down", cluster=cluster, down=down)

    def partition(self, side_a: set[str], side_b: set[str]) -> None:
        self._tell_all("partition", side_a=sorted(side_a), side_b=sorted(side_b))

    def heal(self) -> None:
        self._tell_all("heal")

    async def run_shell(self, request: ShellRequest) -> ShellRun:
        member = f"{request.member[0]}:{request.member[1]}" if request.member is not None else None
        process = self._addresses.get(member or "", self.processes[0])
        answer = await process.channel.call(
            "run_shell",
            argv=list(request.argv),
            image=request.image,
            member=list(request.member) if request.member is not None else None,
            files=files_read(request),
        )
        return ShellRun(**answer)

    async def access_refusals(self) -> list[dict[str, Any]]:
        answers = await asyncio.gather(*(p.channel.call("access_refusals") for p in self.processes))
        return sorted((refusal for answer in answers for refusal in answer), key=lambda r: str(r.get("at", "")))

    async def close(self) -> None:
        """Stop every member process; a member stopped after this is already stopped."""
        self._addresses.clear()
        self._volumes.clear()
        await asyncio.gather(*(p.stop() for p in self.processes))
        self.processes = []

    # ---- internals ---------------------------------------------------------------------------
    def _tell_all(self, op: str, **args: Any) -> None:
        for process in self.processes:
            process.channel.tell(op, **args)


# ---- the child process -----------------------------------------------------------------------
class MemberProcessHandlers:
    """What a member process does when the simulator asks: the fabric's own methods, JSON in and out."""

    def __init__(self, fabric: MongoFabric, done: asyncio.Event) -> None:
        self.fabric = fabric
        self.done = done

    def handlers(self) -> dict[str, Any]:
        fabric = self.fabric
        return {
            "start_member": lambda launch: fabric.start_member(MemberLaunch(**launch)),
            "stop_member": fabric.stop_member,
            "release_volume": fabric.release_volume,
            "forget_data": fabric.forget_data,
            "set_cluster_down": fabric.set_cluster_down,
            "partition": lambda side_a, side_b: fabric.partition(set(side_a), set(side_b)),
            "heal": fabric.heal,
            "run_shell": self.run_shell,
            "access_refusals": fabric.access_refusals,
            "close": self.close,
        }

    async def run_shell(
        self, argv: list[str], image: str | None, member: list[Any] | None, files: dict[str, str | None]
    ) -> dict[str, Any]:
        request = ShellRequest(
            argv=tuple(argv),
            image=image,
            member=(str(member[0]), int(member[1])) if member is not None else None,
            read_file=files.get,
        )
        return asdict(await self.fabric.run_shell(request))

    async def close(self) -> None:
        await self.fabric.close()
        self.done.set()


async def serve(channel_fd: int, settings: SimSettings) -> None:
    fabric = MongoFabric(settings)
    done = asyncio.Event()
    channel = await Channel.over_socket(
        socket.socket(fileno=channel_fd), MemberProcessHandlers(fabric, done).handlers(), f"simulator-{os.getpid()}"
    )
    serving = asyncio.ensure_future(channel.serve())
    await asyncio.wait([serving, asyncio.ensure_future(done.wait())], return_when=asyncio.FIRST_COMPLETED)
    if not done.is_set():  # the simulator went away without asking: stop the members all the same
        await fabric.close()
    await channel.aclose()  # after the reply to ``close`` went out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog=f"python -m {__name__}")
    parser.add_argument("--channel-fd", type=int, required=True)
    parser.add_argument("--settings", default="{}", help="SimSettings as JSON")
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    # A Ctrl-C or SIGTERM to the simulator's process group is the simulator's to handle: it stops the members
    # of every process in order; a member process ends when asked, or when the simulator's side of its
    # channel closes (even if the simulator was killed).
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)
    setup_logging(args.log_level)
    tune_process()
    asyncio.run(serve(args.channel_fd, SimSettings.model_validate_json(args.settings)))


if __name__ == "__main__":
    main()
