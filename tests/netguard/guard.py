"""Refuse every network connection that does not go to a loopback address.

Installed in the test process by conftest.py and in subprocesses by `sitecustomize.py` (this folder
is put on PYTHONPATH), so a hidden download in any library fails loudly instead of reaching out.
"""

from __future__ import annotations

import ipaddress
import socket

_original_connect = socket.socket.connect
_original_connect_ex = socket.socket.connect_ex
_original_getaddrinfo = socket.getaddrinfo

LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}
# Addresses that only ever appear in bind() look-ups, never as a connection target.
UNSPECIFIED = {"", "0.0.0.0", "::"}


class NetworkBlockedError(OSError):
    """Raised for a connection to a non-loopback address during tests."""


def _is_loopback(host: object) -> bool:
    if not isinstance(host, str):
        return False
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


def _check(sock: socket.socket, address: object) -> None:
    if sock.family == getattr(socket, "AF_UNIX", None):
        return
    host = address[0] if isinstance(address, tuple) else address
    if not _is_loopback(host):
        raise NetworkBlockedError(f"network access blocked in tests: {address!r}")


def _guarded_connect(self: socket.socket, address: object) -> None:
    _check(self, address)
    return _original_connect(self, address)


def _guarded_connect_ex(self: socket.socket, address: object) -> int:
    _check(self, address)
    return _original_connect_ex(self, address)


def _guarded_getaddrinfo(host, *args, **kwargs):
    name = host.decode() if isinstance(host, bytes) else host
    if name is not None and name not in UNSPECIFIED and not _is_loopback(name):
        raise NetworkBlockedError(f"name lookup blocked in tests: {host!r}")
    return _original_getaddrinfo(host, *args, **kwargs)


def install() -> None:
    """Patch socket connect, connect_ex and getaddrinfo for the whole process."""
    socket.socket.connect = _guarded_connect  # type: ignore[method-assign]
    socket.socket.connect_ex = _guarded_connect_ex  # type: ignore[method-assign]
    socket.getaddrinfo = _guarded_getaddrinfo  # type: ignore[assignment]
