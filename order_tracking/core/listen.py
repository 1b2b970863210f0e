"""Where a network server of ours listens, and who may talk to it.

Every server we ship (``track-order serve``, ``track-order backends serve``) binds before its
heavy start-up, so a busy port is one line and exit 2, and binds to loopback by default:
listening anywhere else needs API keys (``SERVICE_API_KEYS``, ``BACKEND_API_KEY``), or ``--insecure``, which says so loudly.
"""

from __future__ import annotations

import hmac
import ipaddress
import socket
from collections.abc import Sequence

__all__ = ["ListenError", "bind", "exposure_warning", "is_loopback", "known_key", "url"]


class ListenError(Exception):
    """The server cannot or must not listen there; the message says why."""


def known_key(given: bytes, keys: Sequence[bytes]) -> bool:
    """Whether ``given`` is one of ``keys``, compared in constant time (every key, every
    time: how long it takes says nothing about which key came close)."""
    known = False
    for key in keys:
        known |= hmac.compare_digest(given, key)
    return known


def is_loopback(host: str) -> bool:
    """Whether only this machine can reach ``host`` (``localhost``, 127.0.0.0/8, ::1)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a name: it may resolve to anything


def exposure_warning(
    host: str,
    port: int,
    keys: Sequence[str],
    insecure: bool,
    key_name: str = "SERVICE_API_KEYS",
    exposes: str = "read every order",
) -> str | None:
    """Refuse to serve beyond loopback without keys (``ListenError``), unless ``insecure``:
    then the warning to print. ``None`` when there is nothing to say."""
    if keys or is_loopback(host):
        return None
    if not insecure:
        raise ListenError(
            f"refusing to serve on {host}:{port} without authentication: set {key_name} "
            "(or pass --insecure to serve anyway)"
        )
    return (
        f"WARNING: serving on {host}:{port} WITHOUT AUTHENTICATION (--insecure): anyone who "
        f"can reach this port can {exposes}."
    )


def bind(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port`` (port 0: any free one), not yet listening."""
    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on sockets that say TCP, and an
        # accepted connection inherits it. Without it every response waits ~40 ms (Nagle
        # against delayed ACK).
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host.strip("[]"), port))
    except OSError as exc:
        raise ListenError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    return sock


def url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if sock.family == socket.AF_INET6 else f"http://{host}:{port}"
