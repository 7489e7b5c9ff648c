"""Telling systemd the dispatcher is alive (sd_notify), without a dependency.

With `Type=notify` and `WatchdogSec=` in the unit, systemd hands the service a
datagram socket (NOTIFY_SOCKET) and a deadline (WATCHDOG_USEC): a service that
stops pinging within it is killed and restarted. The dispatcher pings only
while alerts can flow (its own lease renewed recently, or another dispatcher's
lease live), so a process that is up but stuck is restarted too.
"""

from __future__ import annotations

import os
import socket


def notify(state: str) -> bool:
    """Send one sd_notify message ("READY=1", "WATCHDOG=1", "STOPPING=1"); False
    when not started by systemd or the message could not be sent."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):  # an abstract socket
        address = "\0" + address[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.connect(address)
            sock.sendall(state.encode())
    except OSError:
        return False
    return True


def watchdog_seconds() -> float | None:
    """The watchdog deadline systemd set for this process, in seconds (None: no watchdog)."""
    usec = os.environ.get("WATCHDOG_USEC")
    pid = os.environ.get("WATCHDOG_PID")
    if not usec or (pid and pid != str(os.getpid())):
        return None
    try:
        seconds = int(usec) / 1_000_000
    except ValueError:
        return None
    return seconds if seconds > 0 else None
