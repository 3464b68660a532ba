"""Validate the daemon's socket answers against docs/openapi.yaml with
Stoplight Prism, run as a validating proxy.

    from prismutil import Prism, UnixBridge

    bridge = UnixBridge(agent.socket)        # TCP on 127.0.0.1 -> the socket
    with Prism(bridge.url, workdir=tmp) as prism:
        r = prism.request("GET", "/api/v1/work-orders")
        r.status, r.json(), r.violations      # violations: Prism's list
    bridge.close()

Prism speaks TCP and the daemon a Unix socket, so a small forwarder
(UnixBridge) listens on 127.0.0.1 and copies bytes to the socket.  Prism
is installed once with npm into build/node/ (FIELDSYNC_NODE_DIR overrides)
and reused; when node, npm or the install fails, ensure_prism() raises
with the reason, so that a test fails rather than passes unchecked.

Prism runs without --errors: with it, a request the document calls
invalid is answered by Prism itself and never reaches the daemon, and the
error cases of the API are exactly such requests.  Without it Prism
forwards everything and lists what it found in an `sl-violations` header,
each violation with a location (["request", ...] or ["response", ...]),
a severity and a message.  Standard library only.
"""
import http.client
import json
import os
import select
import shutil
import socket
import subprocess
import threading
import time

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SPEC = os.path.join(TOP, "docs", "openapi.yaml")
PRISM_PACKAGE = "@stoplight/prism-cli@5.14.2"
INSTALL_TIMEOUT = 600.0
START_TIMEOUT = 60.0
TAIL_BYTES = 65536


def node_dir():
    return os.environ.get("FIELDSYNC_NODE_DIR") or os.path.join(TOP, "build", "node")


def prism_binary():
    return os.path.join(node_dir(), "node_modules", ".bin", "prism")


def ensure_prism():
    """The path of the prism program, installing it first when missing.
    Raises RuntimeError naming what is missing or what failed."""
    prism = prism_binary()
    if os.access(prism, os.X_OK):
        return prism
    for tool in ("node", "npm"):
        if not shutil.which(tool):
            raise RuntimeError("%s is not installed: the OpenAPI check needs node and npm "
                               "(packaging/deps.sh test installs them)" % tool)
    os.makedirs(node_dir(), exist_ok=True)
    cmd = ["npm", "install", "--prefix", node_dir(), "--no-audit", "--no-fund",
           "--loglevel=error", PRISM_PACKAGE]
    try:
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=INSTALL_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise RuntimeError("%s timed out after %d s" % (" ".join(cmd), INSTALL_TIMEOUT))
    if p.returncode != 0 or not os.access(prism, os.X_OK):
        raise RuntimeError("%s failed (exit %d):\n%s"
                           % (" ".join(cmd), p.returncode, p.stdout.decode(errors="replace")))
    return prism


class UnixBridge:
    """Listens on 127.0.0.1 (a free port) and copies each connection's
    bytes both ways to and from a Unix socket, one thread per connection.
    unix_path may be changed between connections (a new daemon)."""

    def __init__(self, unix_path):
        self.unix_path = unix_path
        self.server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(16)
        self.port = self.server.getsockname()[1]
        self.closing = False
        self.tail = bytearray()  # the last bytes that came from the socket
        # An event stream never ends while the daemon runs, and Prism
        # checks a body once it has ended: with end_stream_after set, a
        # chunked answer is ended (last chunk, close) once these bytes
        # have passed and an event is complete, as a client hanging up.
        self.end_stream_after = None
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while not self.closing:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            threading.Thread(target=self._pipe, args=(client,), daemon=True).start()

    def _pipe(self, client):
        up = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            up.connect(self.unix_path)
        except OSError:
            up.close()
            client.close()
            return
        # Half-closes pass through: the daemon answers an oversize body
        # (413) and closes without reading it; Prism, still sending, must
        # get that answer rather than a reset, so what it sends after the
        # daemon has gone is read and dropped.
        peers = {client: up, up: client}
        reading = [client, up]
        dead = set()
        answer = bytearray()  # the last bytes of this connection's answers
        try:
            while reading and not self.closing:
                ready, _, _ = select.select(reading, [], [], 1.0)
                for s in ready:
                    try:
                        data = s.recv(65536)
                    except OSError:
                        data = b""
                    to = peers[s]
                    if not data:
                        reading.remove(s)
                        if to not in dead:
                            try:
                                to.shutdown(socket.SHUT_WR)
                            except OSError:
                                dead.add(to)
                        continue
                    if s is up:
                        self.tail += data
                        del self.tail[:-TAIL_BYTES]
                        answer += data
                        del answer[:-TAIL_BYTES]
                    if to not in dead:
                        try:
                            to.sendall(data)
                        except OSError:
                            dead.add(to)
                    if s is up and self._stream_done(answer):
                        client.sendall(b"0\r\n\r\n")
                        return
        finally:
            client.close()
            up.close()

    def _stream_done(self, answer):
        """Whether answer is an event stream to end now: it carries the
        marker, is chunked, and its last chunk ends an event."""
        marker = self.end_stream_after
        if (marker and marker in answer and answer.endswith(b"\n\n\r\n")
                and b"transfer-encoding: chunked" in answer.lower()):
            self.end_stream_after = None
            return True
        return False

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def close(self):
        self.closing = True
        self.server.close()


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
    finally:
        s.close()


CUT = "Too many violations! "


def parse_violations(raw):
    """Prism's sl-violations header.  Past 8 KiB Prism cuts the list and
    says so: the whole objects before the cut are kept, and one more
    violation says the list is incomplete, so that it can never pass."""
    if not raw:
        return []
    if not raw.startswith(CUT):
        return json.loads(raw)
    found, text, pos = [], raw[len(CUT):], 1
    dec = json.JSONDecoder()
    while True:
        try:
            v, pos = dec.raw_decode(text, pos)
        except ValueError:
            break
        found.append(v)
        pos += 1  # the comma
    found.append({"location": ["response"], "severity": "Error", "code": "cut",
                  "message": "Prism cut its list of violations at 8 KiB: more are not shown"})
    return found


class Answer:
    """One answer through Prism: status, headers, body, Prism's violations."""

    def __init__(self, method, path, status, headers, body):
        self.method = method
        self.path = path
        self.status = status
        self.headers = headers
        self.body = body
        self.violations = parse_violations(headers.get("sl-violations"))

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    def of(self, where):
        """The violations about the request or the response."""
        return [v for v in self.violations if (v.get("location") or [""])[0] == where]

    def describe(self, where=None):
        found = self.of(where) if where else self.violations
        return "%s %s -> %d: %s\n  body: %s" % (
            self.method, self.path, self.status,
            "; ".join("%s %s: %s" % (v.get("severity"), ".".join(map(str, v.get("location", []))),
                                     v.get("message")) for v in found) or "no violation",
            self.body[:600].decode(errors="replace"))

    def __repr__(self):
        return "<Answer %s>" % self.describe()


class Prism:
    """Prism as a validating proxy in front of upstream (an http:// URL)."""

    def __init__(self, upstream, workdir, spec=SPEC):
        self.upstream = upstream
        self.workdir = workdir
        self.spec = spec
        self.proc = None
        self.port = None
        self.log_path = os.path.join(workdir, "prism.log")

    def start(self):
        prism = ensure_prism()
        self.port = free_port()
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [prism, "proxy", self.spec, self.upstream,
                 "--host", "127.0.0.1", "--port", str(self.port)],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                cwd=self.workdir)
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError("prism exited with %s:\n%s" % (self.proc.returncode, self.log()))
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1.0):
                    return self
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("prism did not listen within %d s:\n%s"
                                   % (START_TIMEOUT, self.log()))
            time.sleep(0.05)

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode(errors="replace")[-6000:]
        except OSError:
            return ""

    def stop(self):
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.terminate()
                try:
                    self.proc.wait(10)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
            self.proc = None

    def __enter__(self):
        try:
            return self.start()
        except Exception:
            self.stop()
            raise

    def __exit__(self, *exc):
        self.stop()

    def request(self, method, path, body=None, headers=None, timeout=60.0):
        """One request through Prism; body may be bytes, str or JSON-able."""
        hdrs = dict(headers or {})
        if body is not None and not isinstance(body, (bytes, str)):
            body = json.dumps(body)
            hdrs.setdefault("Content-Type", "application/json")
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            c.request(method, path, body=body, headers=hdrs)
            r = c.getresponse()
            return Answer(method, path, r.status, r.headers, r.read())
        finally:
            c.close()
