"""Run fieldsync-sim from integration tests.

    from simutil import Sim

    with Sim("--seed", "7", workdir=tmp) as sim:      # --port 0 is added
        r = sim.api("GET", "/api/v1/work-orders?per_page=5")
        r.status, r.json()["meta"], r.headers["ETag"]
        sim.control("POST", "faults", {"offline": True})

The binary is $FIELDSYNC_BUILD/fieldsync-sim (tests/run_tests.py sets it),
else build/fieldsync-sim.  Standard library only.
"""
import gzip
import http.client
import json
import os
import select
import signal
import subprocess
import tempfile
import time
import unittest

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_KEY = "sim-key"
# Sanitizer builds start and answer slower; every wait is bounded anyway.
START_TIMEOUT = 30.0
STOP_TIMEOUT = 30.0


def sanitizer_trouble(text):
    """True when a sanitizer reported something in a program's stderr."""
    return any(s in text for s in ("AddressSanitizer", "LeakSanitizer", "runtime error:"))


def sim_binary():
    build = os.environ.get("FIELDSYNC_BUILD") or os.path.join(TOP, "build")
    return os.path.join(build, "fieldsync-sim")


def stop_process(proc, sig=signal.SIGTERM, timeout=STOP_TIMEOUT):
    """Sends sig to a program that is still running and waits for it to
    exit, killing it after timeout seconds; returns its exit code."""
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


def read_text(path):
    """A program's log file as text; "" when there is none (yet)."""
    try:
        with open(path, "rb") as f:
            return f.read().decode(errors="replace")
    except (OSError, TypeError):
        return ""


def wait_for(cond, timeout=10.0, interval=0.01, what="condition"):
    """Polls cond() until it returns something true; raises on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError("timed out after %.1f s waiting for %s" % (timeout, what))
        time.sleep(interval)


class Response:
    """One answer: status, headers, body (gunzipped when it was gzipped)."""

    def __init__(self, status, headers, raw):
        self.status = status
        self.headers = headers
        self.raw = raw
        if headers.get("Content-Encoding") == "gzip" and raw:
            self.body = gzip.decompress(raw)
        else:
            self.body = raw

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    def __repr__(self):
        return "<Response %d %r>" % (self.status, self.body[:200])


class Sim:
    """A running fieldsync-sim on a free port, in a private directory."""

    def __init__(self, *args, workdir=None, api_key=DEFAULT_KEY, binary=None):
        self.args = list(args)
        self.api_key = api_key
        self.binary = binary or sim_binary()
        self._tmp = None
        if workdir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="fieldsync-sim-")
            workdir = self._tmp.name
        self.workdir = workdir
        self.proc = None
        self.host = self.port = None
        self.first_line = None
        self.stderr_path = None

    # -- life cycle --------------------------------------------------------
    def start(self):
        """Starts the sim and waits for its first stdout line."""
        n = 0
        while True:
            self.stderr_path = os.path.join(self.workdir, "sim-%d.stderr" % n)
            if not os.path.exists(self.stderr_path):
                break
            n += 1
        # stderr goes to a file: a pipe nobody drains would block the sim
        with open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(
                [self.binary, "--port", "0"] + self.args,
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err,
                cwd=self.workdir)
        line = self._read_first_line(START_TIMEOUT)
        prefix = "listening on http://"
        if not line.startswith(prefix):
            self.stop()
            raise RuntimeError("unexpected first line %r; stderr: %s" % (line, self.stderr()))
        self.first_line = line
        hostport = line[len(prefix):]
        self.host, port = hostport.rsplit(":", 1)
        self.host = self.host.strip("[]")
        self.port = int(port)
        return self

    def _read_first_line(self, timeout):
        fd = self.proc.stdout.fileno()
        buf = b""
        deadline = time.monotonic() + timeout
        while b"\n" not in buf:
            left = deadline - time.monotonic()
            if left <= 0:
                self.proc.kill()
                self.proc.wait()
                raise TimeoutError("fieldsync-sim printed no first line; stderr: %s"
                                   % self.stderr())
            ready, _, _ = select.select([fd], [], [], left)
            if ready:
                chunk = os.read(fd, 4096)
                if not chunk:
                    self.proc.wait()
                    raise RuntimeError("fieldsync-sim exited with %s before its first "
                                       "line; stderr: %s" % (self.proc.returncode,
                                                             self.stderr()))
                buf += chunk
        return buf.split(b"\n", 1)[0].decode()

    def stop(self, sig=signal.SIGTERM):
        """Stops the sim with sig; returns its exit code."""
        if self.proc is None:
            return None
        code = stop_process(self.proc, sig)
        self.proc.stdout.close()
        self.proc = None
        return code

    def stderr(self):
        return read_text(self.stderr_path)

    def close(self):
        self.stop()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()

    # -- requests ----------------------------------------------------------
    @property
    def url(self):
        host = "[%s]" % self.host if ":" in self.host else self.host
        return "http://%s:%d" % (host, self.port)

    def connect(self, timeout=30.0):
        """A new http.client connection to the sim (reusable: keep-alive)."""
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def request(self, method, path, body=None, headers=None, conn=None, key=None):
        """Sends one request; body may be bytes, str or a JSON-able object.
        key: None → no Authorization header, else the Bearer key to send.
        Uses conn when given (kept open), else a fresh connection."""
        hdrs = dict(headers or {})
        if key is not None:
            hdrs.setdefault("Authorization", "Bearer " + key)
        if body is not None and not isinstance(body, (bytes, str)):
            body = json.dumps(body)
            hdrs.setdefault("Content-Type", "application/json")
        own = conn is None
        c = self.connect() if own else conn
        try:
            c.request(method, path, body=body, headers=hdrs)
            r = c.getresponse()
            raw = r.read()
            return Response(r.status, r.headers, raw)
        finally:
            if own:
                c.close()

    def api(self, method, path, body=None, headers=None, conn=None):
        """A request with the sim's API key."""
        return self.request(method, path, body, headers, conn, key=self.api_key)

    def control(self, method, name, body=None):
        """A /__sim/ control; returns the decoded JSON answer."""
        r = self.request(method, "/__sim/" + name, body)
        if r.status != 200:
            raise RuntimeError("/__sim/%s answered %d: %r" % (name, r.status, r.body))
        return r.json()

    def reset(self, **overrides):
        return self.control("POST", "reset", overrides or None)

    def set_faults(self, **faults):
        return self.control("POST", "faults", faults)

    def clear_faults(self):
        return self.control("DELETE", "faults")

    def state(self):
        return self.control("GET", "state")

    def stats(self):
        return self.control("GET", "stats")

    def changes(self, since=0):
        """The --churn edits after since (docs/SIM.md):
        {"data": [{"seq", "at", "kind", "entity", "id", "fields", ...}],
         "last_seq": N, "first_seq": N}."""
        return self.control("GET", "changes?since=%d" % since)

    def set_churn(self, **settings):
        """rate_per_hour=N (0 pauses), kinds=[...] or None; returns the
        churn's settings.  Once it answers, a pause makes no more edits."""
        return self.control("POST", "churn", settings)


def parse_ratelimit(headers):
    """The rate-limit headers of an answer as ints: {"limit", "remaining",
    "reset", "window"} from RateLimit and RateLimit-Policy, checked
    against X-RateLimit-*; None when the answer has none."""
    if "RateLimit" not in headers:
        return None
    d = {k.strip(): int(v) for k, v in
         (item.split("=", 1) for item in headers["RateLimit"].split(","))}
    policy = headers["RateLimit-Policy"]
    d["window"] = int(policy.split(";w=", 1)[1])
    if int(policy.split(";", 1)[0]) != d["limit"]:
        raise AssertionError("RateLimit-Policy %r disagrees with RateLimit %r"
                             % (policy, headers["RateLimit"]))
    x = (int(headers["X-RateLimit-Limit"]), int(headers["X-RateLimit-Remaining"]),
         int(headers["X-RateLimit-Reset"]))
    if x != (d["limit"], d["remaining"], d["reset"]):
        raise AssertionError("X-RateLimit-* %r disagree with RateLimit %r" % (x, d))
    return d


class SimTestCase(unittest.TestCase):
    """A test class sharing one sim (started with ARGS), which must stop
    cleanly: exit 0 and no sanitizer report."""
    ARGS = ()

    @classmethod
    def setUpClass(cls):
        cls.sim = Sim(*cls.ARGS).start()

    @classmethod
    def tearDownClass(cls):
        code = cls.sim.stop()
        err = cls.sim.stderr()
        cls.sim.close()
        if code != 0 or sanitizer_trouble(err):
            raise AssertionError("fieldsync-sim exited %s; stderr:\n%s" % (code, err))
