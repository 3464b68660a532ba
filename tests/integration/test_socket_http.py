"""The socket's HTTP, held to DESIGN §6: requests too malformed for the
HTTP library still get the remote's JSON error format — never an HTML
page — and well-formed ones keep their kept-alive connection."""
import json
import os
import random
import socket
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from agentutil import AgentEnv, wait_for  # noqa: E402


def read_answer(s):
    """Reads one HTTP answer off s: (status, headers dict, body bytes);
    the body by its Content-Length, or to the close without one."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            raise AssertionError("closed before an answer: %r" % buf[:200])
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    if "content-length" in headers:
        n = int(headers["content-length"])
        while len(rest) < n:
            chunk = s.recv(65536)
            if not chunk:
                break
            rest += chunk
        return status, headers, rest[:n], rest[n:]
    while True:
        try:
            chunk = s.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        rest += chunk
    return status, headers, rest, b""


STATUS = b"GET /agent/status HTTP/1.1\r\nHost: localhost\r\n\r\n"


def connect(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(15)
    s.connect(path)
    return s


def exchange(path, data):
    """Sends raw bytes on a new connection; returns the first answer."""
    s = connect(path)
    try:
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # answered and closed before all was sent: read the answer
        return read_answer(s)[:3]
    finally:
        s.close()


class AgentCase(unittest.TestCase):
    """One sim and daemon for the class."""

    @classmethod
    def setUpClass(cls):
        cls.env = AgentEnv().__enter__()
        cls.agent = cls.env.agent

    @classmethod
    def tearDownClass(cls):
        cls.env.close()


class MalformedTest(AgentCase):
    def assertJsonError(self, answer, status, code=None):
        st, headers, body = answer
        self.assertEqual(st, status, body[:300])
        self.assertEqual(headers.get("content-type"), "application/json", headers)
        self.assertNotIn(b"<html", body.lower())
        err = json.loads(body)["error"]
        self.assertIsInstance(err["message"], str)
        self.assertTrue(err["message"])
        if code:
            self.assertEqual(err["code"], code)
        return err

    def assertStillServes(self):
        self.assertEqual(self.agent.request("GET", "/agent/status").status, 200)

    # -- the three of issue 13, and the oversize headers -------------------------
    def test_content_length_not_a_number(self):
        out = exchange(self.agent.socket, b"GET /agent/status HTTP/1.1\r\nHost: localhost\r\n"
                       b"Content-Length: abc\r\n\r\n")
        err = self.assertJsonError(out, 400, "bad_request")
        self.assertIn("Content-Length", err["message"])
        self.assertStillServes()

    def test_request_line_of_100_kb(self):
        out = exchange(self.agent.socket, b"GET /api/v1/customers?search=" + b"a" * 100 * 1024
                       + b" HTTP/1.1\r\nHost: localhost\r\n\r\n")
        self.assertJsonError(out, 414, "uri_too_long")
        self.assertStillServes()

    def test_oversize_headers(self):
        out = exchange(self.agent.socket, b"GET /agent/status HTTP/1.1\r\nHost: localhost\r\n"
                       b"X-Big: " + b"a" * (200 * 1024) + b"\r\n\r\n")
        self.assertJsonError(out, 431, "request_header_fields_too_large")
        many = b"".join(b"X-H%d: v\r\n" % i for i in range(100))
        out = exchange(self.agent.socket, b"GET /agent/status HTTP/1.1\r\nHost: localhost\r\n"
                       + many + b"\r\n")
        self.assertJsonError(out, 431, "request_header_fields_too_large")
        self.assertStillServes()

    def test_random_bytes(self):
        rng = random.Random(13)
        for i in range(60):
            data = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 3000)))
            if b"\n" not in data:
                data += b"\r\n\r\n"  # a whole "head", so the answer cannot wait for more
            out = exchange(self.agent.socket, data)
            self.assertJsonError(out, 400, "bad_request")
        self.assertStillServes()

    # -- what else the HTTP library would have answered in HTML -------------------
    def test_other_malformed_heads(self):
        cases = [
            (b"GET /agent/status\r\nHost: x\r\n\r\n", 400),                     # no version
            (b"GET /agent/status HTTP/2.0\r\nHost: x\r\n\r\n", 505),
            (b"GET /agent/status HTTP/1.1\r\nHost x\r\n\r\n", 400),             # no colon
            (b"GET /agent/status HTTP/1.1\r\nHost: x\r\n fold\x01ed\r\n\r\n", 400),
            (b"GET /agent/status HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n"
             b"Content-Length: 2\r\n\r\n", 400),
            (b"POST /agent/sync HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 400),
            (b"PUT /api/v1/work-orders/x HTTP/1.1\r\nHost: x\r\n"
             b"Content-Length: 2000000\r\n\r\n", 413),
        ]
        for data, status in cases:
            with self.subTest(data=data[:60]):
                self.assertJsonError(exchange(self.agent.socket, data), status)
        self.assertStillServes()

    def test_head_cut_short(self):
        """A client that stops sending halfway through a head is answered
        at once, not left to the idle timeout."""
        s = connect(self.agent.socket)
        s.sendall(b"GET /agent/status HTTP/1.1\r\nHost: loc")
        s.shutdown(socket.SHUT_WR)
        try:
            self.assertJsonError(read_answer(s)[:3], 400, "bad_request")
        finally:
            s.close()

    def test_largest_head_accepted(self):
        """A head just inside the front's limits reaches the API: the
        front's limits are below the HTTP library's, not beside them."""
        line = b"GET /agent/status?pad=" + b"z" * 4000 + b" HTTP/1.1\r\n"
        hdrs = b"Host: localhost\r\n" + b"".join(b"X-H%02d: v\r\n" % i for i in range(62))
        pad = 8192 - len(line) - len(hdrs) - len(b"X-Pad: \r\n\r\n")
        data = line + hdrs + b"X-Pad: " + b"p" * (pad - 60) + b"\r\n\r\n"
        self.assertLessEqual(len(data), 8192)
        st, headers, body = exchange(self.agent.socket, data)
        self.assertEqual(st, 200, body[:300])
        self.assertIn("outbox", json.loads(body)["data"])


class ConnectionLimitTest(AgentCase):
    def test_one_past_the_limit_is_told(self):
        """Past the socket's 64 connections a client gets 503 in JSON,
        not a connection closed without a word; closing some frees room."""
        socks, statuses = [], []
        try:
            for _ in range(66):
                s = connect(self.agent.socket)
                s.sendall(STATUS)
                st, headers, body, _ = read_answer(s)
                statuses.append(st)
                if st == 503:
                    self.assertEqual(headers.get("content-type"), "application/json")
                    self.assertEqual(json.loads(body)["error"]["code"], "service_unavailable")
                    s.close()
                    break
                socks.append(s)  # kept alive, so it keeps its place
        finally:
            for s in socks:
                s.close()
        self.assertEqual(statuses[-1], 503, statuses)
        self.assertGreaterEqual(statuses.count(200), 60)
        wait_for(lambda: self.agent.request("GET", "/agent/status").status == 200, 15, 0.05,
                 "room on the socket again")


class OutOfDescriptorsTest(AgentCase):
    def test_accept_pauses_and_recovers(self):
        """With no file descriptor left, the daemon neither spins on its
        socket nor floods its log, and serves again once some are free."""
        import resource
        pid = self.agent.proc.pid
        limits = resource.prlimit(pid, resource.RLIMIT_NOFILE)
        used = len(os.listdir("/proc/%d/fd" % pid))
        resource.prlimit(pid, resource.RLIMIT_NOFILE, (used + 2, limits[1]))
        socks = []
        try:
            for _ in range(8):
                s = connect(self.agent.socket)
                s.sendall(STATUS)
                socks.append(s)
            wait_for(lambda: "pausing" in self.agent.stderr(), 15, 0.05, "the pause to be logged")
        finally:
            resource.prlimit(pid, resource.RLIMIT_NOFILE, limits)
        # every client waiting in the backlog is served once descriptors are free
        for s in socks:
            st, _, body, _ = read_answer(s)
            self.assertEqual(st, 200, body[:200])
            s.close()
        self.assertLess(self.agent.stderr().count("pausing"), 20)


class KeepAliveTest(AgentCase):
    """NOTES.md's trap: the front must not cost the kept-alive connection."""

    def test_requests_share_one_connection(self):
        conn = self.agent.connect()
        conn.connect()
        first = conn.sock
        for path in ("/agent/status", "/api/v1/customers?per_page=1", "/agent/outbox"):
            r = self.agent.request("GET", path, conn=conn)
            self.assertEqual(r.status, 200)
            self.assertNotEqual(r.headers.get("Connection", "").lower(), "close")
            self.assertIs(conn.sock, first, "the connection was not kept alive")
        # a body on a kept-alive connection, chunked, as a script may send it
        conn.request("POST", "/agent/sync", body=iter([]), encode_chunked=True,
                     headers={"Transfer-Encoding": "chunked"})
        r = conn.getresponse()
        r.read()
        self.assertEqual(r.status, 202)
        self.assertIs(conn.sock, first)
        conn.close()

    def test_pipelined_requests(self):
        s = connect(self.agent.socket)
        s.sendall(STATUS * 3)
        rest = b""
        for _ in range(3):
            # read_answer reads on from what the previous answer left over
            status, headers, body, rest = self._answer(s, rest)
            self.assertEqual(status, 200)
            self.assertIn("data", json.loads(body))
        s.close()

    @staticmethod
    def _answer(s, pending):
        class Buffered:
            def __init__(self, sock, data):
                self.sock, self.data = sock, data

            def recv(self, n):
                if self.data:
                    d, self.data = self.data, b""
                    return d
                return self.sock.recv(n)
        return read_answer(Buffered(s, pending))


if __name__ == "__main__":
    unittest.main()
