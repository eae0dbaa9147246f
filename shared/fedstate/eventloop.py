"""The services' event loop: an address that is already an IP is not sent to a thread to be resolved.

asyncio's ``getaddrinfo`` always runs ``socket.getaddrinfo`` in the default executor, and pymongo asks it for every
connection it opens, aiohttp for every new connection to a Kubernetes API. Members are reached at ``VIP:NodePort``
and API servers mostly at an IP, so each of those hops resolved nothing: it handed the call to a worker thread,
woke the loop through its self-pipe when the answer came, and made the two threads take turns at the GIL (up to
the 5 ms switch interval while the loop was busy). At 1,000 instances that was 2-3 % of an agent's samples in
``ThreadPoolExecutor.submit`` alone, and it sat on the way of every login of a new set. A numeric host is
answered here, on the loop: with ``AI_NUMERICHOST`` the C library parses the address and never asks a resolver.
Names still go to the executor, as before.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from socket import _GetAddrInfoResult


def is_ip_address(host: bytes | str | None) -> bool:
    if host is None:
        return False
    text = host.decode("idna") if isinstance(host, bytes) else host
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


class ServiceLoop(asyncio.SelectorEventLoop):
    async def getaddrinfo(
        self,
        host: bytes | str | None,
        port: bytes | str | int | None,
        *,
        family: int = 0,
        type: int = 0,
        proto: int = 0,
        flags: int = 0,
    ) -> _GetAddrInfoResult:
        if is_ip_address(host):
            return socket.getaddrinfo(host, port, family, type, proto, flags | socket.AI_NUMERICHOST)
        return await super().getaddrinfo(host, port, family=family, type=type, proto=proto, flags=flags)
