"""No name resolution beyond this machine in the test suite (tests/conftest.py).

tests/conftest.py puts this folder on ``PYTHONPATH`` and names a log file in
``AGGREGATOR_TEST_NETLOG``, so every Python process of the suite (pytest itself, each
``python -m aggregator`` it starts, their parse processes) loads this module at start-up.
``socket.getaddrinfo`` then refuses any name that would need DNS: the lookup fails as an
unknown name and never leaves the machine, and the name is logged, so that a test which
tried is failed by the fixture that reads the log. Numeric addresses, ``localhost`` and
``*.invalid`` (reserved, never resolvable; a test may use it to provoke a DNS failure)
pass or fail as before without a query.
"""

from __future__ import annotations

import ipaddress
import os
import socket

LOG_ENV = "AGGREGATOR_TEST_NETLOG"


def _name(host: object) -> str | None:
    if isinstance(host, bytes):
        return host.decode("ascii", "replace")
    return host if isinstance(host, str) else None


def is_invalid(host: object) -> bool:
    """A name under ``.invalid``: reserved, never resolvable, answered here."""
    name = _name(host)
    return name is not None and name.endswith((".invalid", ".invalid."))


def needs_dns(host: object) -> bool:
    name = _name(host)
    if name is None or name in ("", "localhost") or name.endswith(".localhost"):
        return False
    if is_invalid(name):
        return False
    host = name
    try:
        socket.inet_aton(host)  # also the odd IPv4 forms: 2130706433, 0x7f.1, 127.1
        return False
    except (OSError, ValueError):
        pass
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
        return False
    except ValueError:
        return True


def install(log_path: str) -> None:
    real = socket.getaddrinfo
    if getattr(real, "_aggregator_guard", False):
        return

    def getaddrinfo(host, *args, **kwargs):  # type: ignore[no-untyped-def]
        if needs_dns(host):
            fd = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, f"{os.getpid()} {host!r}\n".encode())
            finally:
                os.close(fd)
            raise socket.gaierror(socket.EAI_NONAME, "name resolution is off in the test suite")
        if is_invalid(host):
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real(host, *args, **kwargs)

    getaddrinfo._aggregator_guard = True  # type: ignore[attr-defined]
    socket.getaddrinfo = getaddrinfo


if os.environ.get(LOG_ENV):
    install(os.environ[LOG_ENV])
