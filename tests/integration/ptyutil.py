"""Running the CLI in a pseudo-terminal of a given size, as a technician
would: what it prints there (width, colour, progress) differs from what it
prints into a pipe."""
import fcntl
import os
import pty
import select
import signal
import struct
import subprocess
import termios
import time

ESC = "\x1b"
TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def fieldsync_binary():
    """The CLI under test: $FIELDSYNC_BUILD/fieldsync, else build/fieldsync."""
    return os.path.join(os.environ.get("FIELDSYNC_BUILD") or os.path.join(TOP, "build"),
                        "fieldsync")


def _winsize(fd, columns, rows):
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))


class PtyProcess:
    """A process whose stdout is a terminal of `columns`; stderr is a pipe."""

    def __init__(self, argv, env, columns=80, rows=24):
        self.master, slave = pty.openpty()
        _winsize(slave, columns, rows)
        self.proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=subprocess.PIPE,
                                     env=env, close_fds=True, start_new_session=True)
        os.close(slave)
        self.buf = b""

    def read_until(self, predicate, timeout=20.0):
        """Reads until predicate(text so far) holds, the process closes the
        terminal, or timeout; returns the text so far."""
        deadline = time.monotonic() + timeout
        while not predicate(self.text()):
            left = deadline - time.monotonic()
            if left <= 0:
                break
            ready, _, _ = select.select([self.master], [], [], min(left, 0.2))
            if not ready:
                continue
            try:
                data = os.read(self.master, 65536)
            except OSError:  # EIO: the other side is closed
                break
            if not data:
                break
            self.buf += data
        return self.text()

    def text(self):
        # The terminal turns "\n" into "\r\n" (onlcr); a line is a line.
        return self.buf.decode("utf-8", "replace").replace("\r\n", "\n")

    def signal(self, sig=signal.SIGINT):
        self.proc.send_signal(sig)

    def finish(self, timeout=20.0):
        """Reads to the end; returns (exit status, stdout text, stderr text)."""
        self.read_until(lambda _t: False, timeout)
        rc = self.proc.wait(timeout=timeout)
        err = self.proc.stderr.read().decode("utf-8", "replace")
        self.proc.stderr.close()
        os.close(self.master)
        return rc, self.text(), err


def run_in_pty(argv, env, columns=80, rows=24, timeout=20.0):
    """Runs argv to its end with stdout on a terminal; (rc, out, err)."""
    return PtyProcess(argv, env, columns, rows).finish(timeout)
