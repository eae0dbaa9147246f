"""With TLS configured, a service reaches the bus only with the right authority and a client certificate."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import nats
import pytest
from nats.errors import NoServersError

from fedstate.bus.access import BusAccess
from fedstate.bus.connection import connect
from fedstate.bus.credentials import TlsFiles, write_server_config
from fedstate.bus.identities import Component, Identity, every_identity
from fedstate.natsserver import NatsServer, start_nats_server


def openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def signed(directory: Path, name: str, ca: TlsFiles, extension: str) -> TlsFiles:
    """A key and a certificate for ``name`` signed by ``ca``."""
    key, request, cert = directory / f"{name}.key", directory / f"{name}.csr", directory / f"{name}.pem"
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-subj", f"/CN={name}", "-out", str(request))
    extensions = directory / f"{name}.ext"
    extensions.write_text(extension)
    openssl(
        "x509", "-req", "-in", str(request), "-CA", str(ca.cert_file), "-CAkey", str(ca.key_file),
        "-CAcreateserial", "-days", "2", "-out", str(cert), "-extfile", str(extensions),
    )  # fmt: skip
    return TlsFiles(ca.cert_file, cert, key)


def authority(directory: Path, name: str) -> TlsFiles:
    key, cert = directory / f"{name}.key", directory / f"{name}.pem"
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
            "-days", "2", "-subj", f"/CN={name}")  # fmt: skip
    return TlsFiles(cert, cert, key)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, TlsFiles]:
    directory = tmp_path_factory.mktemp("pki")
    ca, stranger = authority(directory, "fedstate-ca"), authority(directory, "someone-else")
    return {
        "ca": ca,
        "server": signed(directory, "nats", ca, "subjectAltName=IP:127.0.0.1,DNS:localhost\n"),
        "client": signed(directory, "agent-member-1", ca, "extendedKeyUsage=clientAuth\n"),
        "stranger": signed(directory, "intruder", stranger, "extendedKeyUsage=clientAuth\n"),
    }


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory, pki: dict[str, TlsFiles]) -> Iterator[tuple[NatsServer, Path]]:
    root = tmp_path_factory.mktemp("tls-nats")
    write_server_config(root / "nats.conf", root / "credentials", every_identity(["member-1"]), pki["server"])
    server = start_nats_server(root / "jetstream", config=root / "nats.conf")
    yield server, root / "credentials"
    server.stop()


async def test_a_service_with_the_authority_and_its_certificate_connects(
    tls_server: tuple[NatsServer, Path], pki: dict[str, TlsFiles]
) -> None:
    server, credentials = tls_server
    client = pki["client"]
    access = BusAccess(credentials, client.ca_file, client.cert_file, client.key_file)
    admin = Identity(Component.ADMIN)
    bus = await connect(server.url, name="tls-admin", identity=admin, access=access, create_layout=True)
    try:
        assert bus.nc.is_connected and bus.nc.connected_url is not None
        assert 0 == await bus.spec.last_revision()
    finally:
        await bus.close()


@pytest.mark.parametrize("missing", ["client certificate", "authority"])
async def test_without_a_client_certificate_or_the_authority_the_connection_is_refused(
    tls_server: tuple[NatsServer, Path], pki: dict[str, TlsFiles], missing: str
) -> None:
    server, credentials = tls_server
    client = pki["client"]
    if missing == "client certificate":
        access = BusAccess(credentials, client.ca_file)
    else:  # a certificate from another authority, and that authority instead of ours
        stranger = pki["stranger"]
        access = BusAccess(credentials, stranger.ca_file, stranger.cert_file, stranger.key_file)
    # Once, not forever as a service would try: the handshake fails, so no server is left to try.
    options = access.options(Identity(Component.ADMIN))
    # TLS 1.3: the client may finish its side of the handshake before the server checks the certificate and
    # hangs up, so the refusal shows as an SSL error, a reset or a broken pipe (all OSErrors) — or no server left.
    with pytest.raises((NoServersError, OSError)):
        await nats.connect(server.url, allow_reconnect=False, max_reconnect_attempts=0, error_cb=_quiet, **options)


async def _quiet(_: Exception) -> None:
    """The refused handshake is the expected outcome, not news."""
