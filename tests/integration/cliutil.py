"""The fake fieldsyncd and the test case base of the CLI's tests.

FakeDaemon speaks HTTP/1.1 on a Unix socket with the local API's shapes
(DESIGN §6), answers what each test sets up and records every request;
CliCase gives each test a private HOME and XDG dirs, a fresh fake and the
`fieldsync` program to run against it.  Shared by test_cli_commands.py
and test_cli_stream.py.  Standard library only.
"""
import json
import os
import shutil
import socketserver
import subprocess
import sys
import tempfile
import threading
import unittest
import urllib.parse
from http.server import BaseHTTPRequestHandler

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
BUILD = os.environ.get("FIELDSYNC_BUILD", os.path.join(TOP, "build"))
FIELDSYNC = os.path.join(BUILD, "fieldsync")


def not_found(message="Not found"):
    return 404, {"error": {"code": "not_found", "message": message}}


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        # A client that hung up first (an aborted status poll) is not news.
        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-fieldsyncd"

    def log_message(self, fmt, *args):  # quiet; unix peers have no address
        pass

    def _any(self):
        fake = self.server.fake
        split = urllib.parse.urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        req = {
            "method": self.command,
            "path": split.path,  # as sent, still escaped
            "query": urllib.parse.parse_qs(split.query, keep_blank_values=True),
            "raw_query": split.query,
            "headers": {k.lower(): v for k, v in self.headers.items()},
            "body": json.loads(raw) if raw else None,
        }
        with fake.lock:
            fake.requests.append(req)
            fake.cond.notify_all()
        answer = fake.routes.get((self.command, split.path), not_found())
        if callable(answer):
            answer = answer(self, req)
            if answer is None:  # the callable wrote the response itself
                return
        status, body = answer[0], answer[1]
        ctype = answer[2] if len(answer) > 2 else "application/json"
        if isinstance(body, (dict, list)):
            data = json.dumps(body).encode()
        elif isinstance(body, str):
            data = body.encode()
        else:
            data = body or b""
        self.send_response(status)
        if status != 204:
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if status != 204:
            self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = _any


class FakeDaemon:
    """A stand-in for fieldsyncd's socket: routes[(METHOD, path)] is
    (status, body[, content type]) or a callable(handler, request)."""

    def __init__(self, path):
        self.path = path
        self.routes = {}
        self.requests = []
        self.lock = threading.Lock()
        self.cond = threading.Condition(self.lock)
        self.server = _Server(path, _Handler)
        self.server.fake = self
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,),
                                       daemon=True)
        self.thread.start()

    def route(self, method, path, status=200, body=None, ctype="application/json"):
        self.routes[(method, path)] = (status, body, ctype)

    def wait_for(self, pred, timeout=5):
        with self.cond:
            return self.cond.wait_for(lambda: pred(self.requests), timeout)

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


class CliCase(unittest.TestCase):
    """Each test gets a private HOME and XDG dirs and a fresh fake daemon."""

    def setUp(self):
        if not os.access(FIELDSYNC, os.X_OK):
            self.fail("%s is not built" % FIELDSYNC)
        # Short path: a socket path must fit in sun_path (108 bytes).
        self.dir = tempfile.mkdtemp(prefix="fscli")
        self.addCleanup(shutil.rmtree, self.dir, True)
        for d in ("home", "config", "runtime"):
            os.mkdir(os.path.join(self.dir, d), 0o700)
        self.fake = FakeDaemon(os.path.join(self.dir, "fs.sock"))
        self.addCleanup(self.fake.stop)
        self.env = {k: v for k, v in os.environ.items()
                    if not k.startswith(("FIELDSYNC_SOCKET", "XDG_"))}
        self.env.update(HOME=os.path.join(self.dir, "home"),
                        XDG_CONFIG_HOME=os.path.join(self.dir, "config"),
                        XDG_RUNTIME_DIR=os.path.join(self.dir, "runtime"),
                        LANG="C", LC_ALL="C")

    def cli(self, *args, socket=True, env=None, timeout=20):
        argv = [FIELDSYNC] + (["--socket", self.fake.path] if socket else []) + list(args)
        p = subprocess.run(argv, capture_output=True, timeout=timeout,
                           env=env if env is not None else self.env)
        return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")

    def assertError(self, result, code, message=None):
        rc, out, err = result
        self.assertEqual(rc, code, "stdout=%r stderr=%r" % (out, err))
        self.assertEqual(len(err.splitlines()), 1, "one line on stderr: %r" % err)
        self.assertTrue(err.startswith("fieldsync: "), err)
        if message is not None:
            self.assertEqual(err.rstrip("\n"), "fieldsync: " + message)

    def last(self):
        self.assertTrue(self.fake.requests, "no request reached the daemon")
        return self.fake.requests[-1]


# An /agent/status answer and a sync summary, as the daemon sends them.
STATUS = {"data": {
    "version": "0.1.0", "online": False, "syncing": False, "auth_error": False,
    "last_sync_at": "2024-01-27T10:00:00Z", "last_success_at": "2024-01-27T09:00:00Z",
    "next_sync_at": "2024-01-27T10:01:00Z", "outbox": {"pending": 3, "rejected": 1, "held": 0},
    "conflicts": {"open": 2}, "last_error": "connect to api.fentu.io: timed out",
    "replica": {"customers": 12, "contacts": 30, "assets": 4, "work_orders": 50},
    "progress": {"phase": "idle", "records_done": 0, "records_total": 0, "ops_done": 0,
                 "ops_total": 0},
    "clock_offset_ms": -42}}

SUMMARY = {"started_at": "2024-01-27T10:00:00Z", "finished_at": "2024-01-27T10:00:01.500Z",
           "online": True, "auth_error": False, "complete": True, "pulled": 10,
           "unchanged": 30, "evicted": 1, "deleted_remotely": 0, "pushed": 2, "conflicts": 0,
           "rejected": 0, "retried": 0, "errors": 0, "last_error": None}
