"""``Sealed``: a secret in an authenticated box, as it travels on the bus (made and opened by ``fedstate.sealing``)."""

from __future__ import annotations

from pydantic import Field

from .base import WireModel


class Sealed(WireModel):
    """Who sealed it and to whom (base64 X25519 public keys), and the box: nonce and ciphertext, base64."""

    sender: str = Field(description="the sealer's public key")
    recipient: str = Field(description="the public key of the one party, besides the sender, that can open it")
    box: str = Field(description="nonce and ciphertext (XSalsa20-Poly1305), base64")
