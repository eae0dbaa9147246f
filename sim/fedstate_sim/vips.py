"""Claim a loopback VIP range (127.<octet>.x.y) that no other simulator on this machine is using.

Two simulators on one VIP octet would hand out the same NodePorts on the same addresses.
A simulator holds a listening socket on 127.<octet>.0.1:VIP_LOCK_PORT for its whole life;
the next one finds the port taken and moves on to the next octet.
"""

from __future__ import annotations

import socket

VIP_LOCK_PORT = 29_999  # below the NodePort range, so never a member's port
FIRST_OCTET = 0
LAST_OCTET = 254


def try_claim(octet: int) -> socket.socket | None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind((f"127.{octet}.0.1", VIP_LOCK_PORT))
        sock.listen(1)
    except OSError:
        sock.close()
        return None
    return sock


def claim_free_octet(preferred: int | None = None) -> tuple[int, socket.socket]:
    """The preferred octet if given (and free), else the first free one; the socket is the claim."""
    candidates = [preferred] if preferred is not None else range(FIRST_OCTET, LAST_OCTET + 1)
    for octet in candidates:
        claim = try_claim(octet)
        if claim is not None:
            return octet, claim
    which = f"VIP octet {preferred}" if preferred is not None else "any VIP octet"
    raise RuntimeError(f"fedstate simulator: {which} is in use by another simulator on this machine")
