"""Run fieldsyncd against fieldsync-sim from integration tests.

    from agentutil import AgentEnv

    with AgentEnv() as env:              # a sim and a daemon in a private dir
        r = env.agent.request("GET", "/api/v1/work-orders")
        r.status, r.json()
        env.sim.set_faults(offline=True)
        env.agent.curl("-X", "POST", "http://localhost/agent/sync?wait=true")

Every daemon gets its own HOME and XDG directories, database, socket and
key file (mode 0600) under one temporary directory.  Waits are on
conditions with timeouts, never bare sleeps.  Standard library only.
"""
import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from simutil import Sim, read_text, stop_process, wait_for  # noqa: E402

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
START_TIMEOUT = 30.0


def build_dir():
    return os.environ.get("FIELDSYNC_BUILD") or os.path.join(TOP, "build")


def daemon_binary():
    return os.path.join(build_dir(), "fieldsyncd")


class UnixHTTPConnection(http.client.HTTPConnection):
    """http.client over AF_UNIX: one connection, reusable (keep-alive)."""

    def __init__(self, path, timeout=30.0):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.settimeout(self.timeout)
            s.connect(self.unix_path)
        except OSError:
            s.close()
            raise
        self.sock = s


class Reply:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    def __repr__(self):
        return "<Reply %d %r>" % (self.status, self.body[:300])


def private_env(root):
    """An environment with HOME and XDG dirs under root, no FIELDSYNC_*."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("FIELDSYNC_") and not k.startswith("XDG_")
           and k != "NOTIFY_SOCKET"}
    env["FIELDSYNC_BUILD"] = build_dir()
    for sub in ("home", "config", "state", "run"):
        os.makedirs(os.path.join(root, sub), mode=0o700, exist_ok=True)
    env["HOME"] = os.path.join(root, "home")
    env["XDG_CONFIG_HOME"] = os.path.join(root, "config")
    env["XDG_STATE_HOME"] = os.path.join(root, "state")
    env["XDG_RUNTIME_DIR"] = os.path.join(root, "run")
    # Retries of the sync engine in tests: milliseconds, not seconds.
    env["FIELDSYNC_TEST_BACKOFF_SCALE"] = "0.01"
    return env


def write_key(path, key="sim-key", mode=0o600):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as f:
        f.write(key + "\n")
    os.chmod(path, mode)
    return path


def run_daemon(args, env, timeout=30.0):
    """Runs fieldsyncd to completion (--check-config, bad configs)."""
    p = subprocess.run([daemon_binary()] + list(args), env=env, stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")


class Agent:
    """A running fieldsyncd."""

    def __init__(self, root, env, args):
        self.root = root
        self.env = env
        self.args = list(args)
        self.socket = os.path.join(root, "run", "fieldsync.sock")
        self.db = os.path.join(root, "state", "fieldsync", "replica.db")
        self.proc = None
        self.stderr_path = None

    def start(self, wait=True):
        n = 0
        while os.path.exists(os.path.join(self.root, "agent-%d.stderr" % n)):
            n += 1
        self.stderr_path = os.path.join(self.root, "agent-%d.stderr" % n)
        with open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen([daemon_binary()] + self.args, env=self.env,
                                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                         stderr=err, cwd=self.root)
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout=START_TIMEOUT):
        def ready():
            if self.proc.poll() is not None:
                raise RuntimeError("fieldsyncd exited with %s: %s"
                                   % (self.proc.returncode, self.stderr()))
            try:
                return self.request("GET", "/agent/status").status == 200
            except OSError:
                return False
        wait_for(ready, timeout, 0.02, "fieldsyncd to answer on its socket")

    def stop(self, sig=signal.SIGTERM):
        if self.proc is None:
            return None
        code = stop_process(self.proc, sig)
        self.proc = None
        return code

    def stderr(self):
        return read_text(self.stderr_path)

    def connect(self, timeout=30.0):
        return UnixHTTPConnection(self.socket, timeout)

    def request(self, method, path, body=None, headers=None, conn=None, timeout=30.0):
        """One request; body may be bytes, str or a JSON-able object."""
        hdrs = dict(headers or {})
        if body is not None and not isinstance(body, (bytes, str)):
            body = json.dumps(body)
            hdrs.setdefault("Content-Type", "application/json")
        own = conn is None
        c = self.connect(timeout) if own else conn
        try:
            c.request(method, path, body=body, headers=hdrs)
            r = c.getresponse()
            return Reply(r.status, r.headers, r.read())
        finally:
            if own:
                c.close()

    def get(self, path):
        r = self.request("GET", path)
        if r.status != 200:
            raise AssertionError("GET %s answered %r" % (path, r))
        return r.json()

    def status(self):
        return self.get("/agent/status")["data"]

    def sync(self, timeout=60.0):
        """POST /agent/sync?wait=true; returns the summary."""
        r = self.request("POST", "/agent/sync?wait=true", timeout=timeout)
        if r.status != 200:
            raise AssertionError("sync answered %r" % r)
        return r.json()["data"]

    def curl(self, *args, timeout=30.0):
        """curl --unix-socket SOCK -s ARGS…; returns (status, body bytes)."""
        p = subprocess.run(["curl", "-s", "--unix-socket", self.socket,
                            "-o", "-", "-w", "\n%{http_code}"] + list(args),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
        out = p.stdout
        body, _, code = out.rpartition(b"\n")
        return int(code or b"0"), body


class AgentEnv:
    """A sim and a daemon configured against it, in one private directory.

    sim_args: extra fieldsync-sim arguments; agent_args: extra daemon flags;
    config: text of the config file (XDG default path)."""

    def __init__(self, sim_args=("--seed", "7"), agent_args=(), config=None,
                 technician="tech-001", start_agent=True):
        self._tmp = tempfile.TemporaryDirectory(prefix="fs-agent-")
        self.root = self._tmp.name
        os.chmod(self.root, 0o700)
        self.env = private_env(self.root)
        self.key_file = write_key(os.path.join(self.root, "api.key"))
        self.sim = Sim(*sim_args, workdir=self.root)
        self.config = config
        self.technician = technician
        self.extra = list(agent_args)
        self.start_agent = start_agent
        self.agent = None

    def write_config(self, text):
        d = os.path.join(self.root, "config", "fieldsync")
        os.makedirs(d, mode=0o700, exist_ok=True)
        with open(os.path.join(d, "config"), "w") as f:
            f.write(text)

    def agent_args(self):
        args = ["--api-url", self.sim.url + "/api/v1", "--api-key-file", self.key_file,
                "--interval", "300"]
        if self.technician:
            args += ["--technician-id", self.technician]
        return args + self.extra

    def new_agent(self, extra=()):
        return Agent(self.root, self.env, self.agent_args() + list(extra))

    def __enter__(self):
        try:
            self.sim.start()
            if self.config is not None:
                self.write_config(self.config)
            if self.start_agent:
                self.agent = self.new_agent().start()
        except Exception:
            self.close()
            raise
        return self

    def sanitizer_reports(self):
        """Sanitizer or UBSan reports in any daemon's stderr so far."""
        found = []
        for name in sorted(os.listdir(self.root)):
            if name.startswith("agent-") and name.endswith(".stderr"):
                with open(os.path.join(self.root, name), "rb") as f:
                    text = f.read().decode(errors="replace")
                if "Sanitizer" in text or "runtime error:" in text:
                    found.append("%s:\n%s" % (name, text[-4000:]))
        return found

    def close(self):
        """Stops everything; raises if the daemon did not exit 0 or a
        sanitizer reported anything, so a test's clean-up fails loudly."""
        problems = []
        try:
            if self.agent is not None:
                code = self.agent.stop()
                if code not in (0, None):
                    problems.append("fieldsyncd exited %s; stderr:\n%s" % (code, self.agent.stderr()[-4000:]))
                self.agent = None
            problems += self.sanitizer_reports()
        finally:
            self.sim.close()
            self._tmp.cleanup()
        if problems:
            raise AssertionError("\n".join(problems))

    def __exit__(self, *exc):
        self.close()


@contextlib.contextmanager
def notify_listener(env, timeout=30):
    """Yields a datagram socket standing in for systemd's NOTIFY_SOCKET;
    the daemons env starts from now on report to it (READY=1, ...)."""
    path = os.path.join(env.root, "notify.sock")
    ns = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        ns.bind(path)
        ns.settimeout(timeout)
        env.env["NOTIFY_SOCKET"] = path
        yield ns
    finally:
        ns.close()


def agent_env_for(test, **kw):
    """An AgentEnv (AgentEnv(**kw)) entered for a unittest test case and
    closed by its cleanup, so setUp needs no tearDown."""
    env = AgentEnv(**kw)
    env.__enter__()
    test.addCleanup(env.close)
    return env
