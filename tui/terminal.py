"""Running the workstation in a terminal that may vanish under it (SSH drops, closed windows).

When an SSH connection dies, sshd closes the pseudo-terminal: reads from it
return end-of-file, writes fail, and the kernel sends SIGHUP, unless the app
has no controlling terminal or SIGHUP is ignored (nohup, some multiplexers).
Left alone, each case goes wrong: Python's default SIGHUP kills the process
before the in-app dispatcher can hand back its lease, and Textual 8's Linux
driver reads end-of-file in a tight loop (one core at 100% for ever; see
Textualize/textual#6690).

`run_in_terminal` therefore watches the terminal itself. A thread sleeps in
poll() on the terminal's descriptors and wakes when the terminal hangs up;
SIGHUP wakes the same thread through a pipe. The thread then points the
output at /dev/null if the terminal is gone (so Textual's last writes, which
restore the screen, can neither fail nor block), asks the app to exit, and
ends the process itself if shutting down takes longer than
`HANGUP_GRACE_SECONDS`.
"""

from __future__ import annotations

import os
import select
import signal
import threading
from types import FrameType
from typing import Any, Final

from textual.app import App

EXIT_HANGUP: Final = 128 + signal.SIGHUP
"""Exit status after the terminal went away: the shell's convention for death by SIGHUP."""

HANGUP_GRACE_SECONDS: Final = 3.0
"""How long a clean exit may take once the terminal is gone before the process just ends.

A dispatcher lease left behind by the forced exit expires on its own.
"""

# Textual reads keys from standard input and draws on standard error.
_TERMINAL_FDS: Final = (0, 2)
_GONE: Final = select.POLLHUP | select.POLLERR | select.POLLNVAL
_WAKE_SIGHUP: Final = b"h"
_WAKE_STOP: Final = b"s"


class NoTerminal(Exception):
    """`aftercare run` was started without a terminal; `str()` says what to do."""


def run_in_terminal(app: App[Any], *, mouse: bool = True) -> int:
    """Run `app` full-screen in this process's terminal; returns the exit status.

    0 after a normal exit, EXIT_HANGUP when the terminal went away (the app
    is asked to exit and, failing that, the process ends within
    HANGUP_GRACE_SECONDS). `mouse=False` leaves mouse reporting off, so the
    terminal's own selection and copy keep working. Raises NoTerminal when
    standard input or standard error is not a terminal.
    """
    for fd, name in ((0, "standard input"), (2, "standard error")):
        if not os.isatty(fd):
            raise NoTerminal(
                f"`aftercare run` needs a terminal, and {name} is not one "
                "(over SSH with a command, use `ssh -t`)"
            )
    watch = _TerminalWatch(app)
    watch.start()
    try:
        app.run(mouse=mouse)
    finally:
        watch.stop()
    if watch.hung_up:
        return EXIT_HANGUP
    return app.return_code or 0


class _TerminalWatch:
    """The thread that notices the terminal going away, and the SIGHUP handler that wakes it."""

    def __init__(self, app: App[Any]) -> None:
        self.app = app
        self.hung_up = False
        """True once the terminal hung up or SIGHUP arrived."""
        self._wake_read, self._wake_write = os.pipe()
        self._thread = threading.Thread(target=self._watch, name="aftercare-tty-watch", daemon=True)
        self._previous_handler: Any = None

    def start(self) -> None:
        """Install the SIGHUP handler and start watching (call from the main thread)."""
        self._previous_handler = signal.signal(signal.SIGHUP, self._on_sighup)
        self._thread.start()

    def stop(self) -> None:
        """Stop watching and put the previous SIGHUP handler back."""
        previous = self._previous_handler
        # None: the old handler was not set from Python; the default is the best guess.
        signal.signal(signal.SIGHUP, signal.SIG_DFL if previous is None else previous)
        os.write(self._wake_write, _WAKE_STOP)
        self._thread.join(timeout=1.0)
        os.close(self._wake_read)
        os.close(self._wake_write)

    def _on_sighup(self, signum: int, frame: FrameType | None) -> None:
        # A hang-up sends SIGCONT right after SIGHUP, and Textual answers SIGCONT
        # by starting a new writer and reader on the dead terminal, which can
        # deadlock its shutdown. Python runs pending handlers in signal-number
        # order, so this lands before SIGCONT's; we are leaving, not resuming.
        signal.signal(signal.SIGCONT, signal.SIG_DFL)
        # Nothing else here: the main thread was interrupted at an arbitrary
        # point and may hold locks the real work would need.
        os.write(self._wake_write, _WAKE_SIGHUP)

    def _watch(self) -> None:
        poller = select.poll()
        poller.register(self._wake_read, select.POLLIN)
        for fd in _TERMINAL_FDS:
            # No events asked for: poll still reports hang-up and errors, which is all we want.
            poller.register(fd, 0)
        while True:
            events = dict(poller.poll())
            if events.get(self._wake_read):
                wake = os.read(self._wake_read, 1)
                if wake == _WAKE_STOP:
                    return
                self._hang_up(terminal_gone=_terminal_gone())
                return
            if any(events.get(fd, 0) & _GONE for fd in _TERMINAL_FDS):
                self._hang_up(terminal_gone=True)
                return

    def _hang_up(self, *, terminal_gone: bool) -> None:
        self.hung_up = True
        if terminal_gone:
            _silence_output()
        # Arm the deadline first: App.exit only posts a message, and a loop stuck
        # writing to a dead terminal would never read it.
        deadline = threading.Timer(HANGUP_GRACE_SECONDS, os._exit, args=(EXIT_HANGUP,))
        deadline.daemon = True
        deadline.start()
        self.app.exit(return_code=EXIT_HANGUP)


def _terminal_gone() -> bool:
    """Whether the terminal has hung up (SIGHUP alone may come from `kill`)."""
    poller = select.poll()
    for fd in _TERMINAL_FDS:
        poller.register(fd, 0)
    return any(mask & _GONE for _, mask in poller.poll(0))


def _silence_output() -> None:
    """Send standard output and error to /dev/null, so writes after the hang-up go nowhere.

    Writes to a hung-up terminal fail; Textual's writer thread would die on
    the first one and the app's later writes would then wait for ever.
    """
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        for fd in (1, 2):
            os.dup2(devnull, fd)
    finally:
        os.close(devnull)
