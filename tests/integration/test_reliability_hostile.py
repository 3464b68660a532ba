"""A hostile or broken remote: fieldsyncd, with a replica synced from the
sim and an edit queued, is pointed at a small server that answers with
invalid or truncated JSON, wrong types, a gigantic body, a slow drip that
never finishes, a redirect to another host, or TLS with a certificate
nobody vouches for.  Each time the cycle fails or skips cleanly: the
replica answers exactly as before, the edit stays queued, the daemon
stays up and says what went wrong in /agent/status, and the API key is
never sent anywhere but the configured server."""
import http.server
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from agentutil import Agent, AgentEnv  # noqa: E402
from relutil import all_pages, agent_get, settle  # noqa: E402
from simutil import wait_for  # noqa: E402

GIGANTIC = 200 << 20   # bytes offered; the daemon caps list bodies at 16 MiB


class Hostile(http.server.ThreadingHTTPServer):
    """A remote that misbehaves as told by .mode; records what it got."""
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, mode, good=None, redirect_to=None):
        super().__init__(("127.0.0.1", 0), Handler)
        self.mode = mode
        self.good = good or {}          # path -> a real body from the sim
        self.redirect_to = redirect_to
        self.requests = []              # (method, path, Authorization)
        self.sent = 0                   # most body bytes one answer got out
        self.stop_drip = threading.Event()
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def close(self):
        self.stop_drip.set()
        self.shutdown()
        self.server_close()

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.server_address[1]


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def reply(self, status, body, ctype="application/json", extra=()):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def handle_any(self):
        srv = self.server
        n = int(self.headers.get("Content-Length") or 0)
        if n:
            self.rfile.read(n)
        srv.requests.append((self.command, self.path, self.headers.get("Authorization")))
        mode = srv.mode
        path = self.path.split("?")[0]
        good = srv.good.get(path) or srv.good.get("list") or b'{"data":[],"meta":{}}'
        try:
            if mode == "invalid":
                self.reply(200, b"{this is not json")
            elif mode == "truncated":
                self.reply(200, good[:len(good) // 2])
            elif mode == "wrong_types":
                self.reply(200, json.dumps({
                    "data": [{"id": 12345, "customer": "cust-001", "updated_at": True,
                              "estimated_duration": "long"}],
                    "meta": {"current_page": "one", "total_pages": -3, "total_count": None}}
                ).encode())
            elif mode == "gigantic":
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(GIGANTIC))
                self.end_headers()
                chunk = b" " * (1 << 20)
                self.wfile.write(b'{"data":[')
                sent = 0
                try:
                    while sent < GIGANTIC - (2 << 20):
                        self.wfile.write(chunk)
                        sent += len(chunk)
                finally:
                    srv.sent = max(srv.sent, sent)
            elif mode == "drip":
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "1000000")
                self.end_headers()
                while not srv.stop_drip.wait(0.5):
                    self.wfile.write(b" ")
                    self.wfile.flush()
            elif mode == "redirect":
                self.reply(302, b"", extra=[("Location", srv.redirect_to + self.path)])
            else:
                self.reply(200, good)
        except (BrokenPipeError, ConnectionResetError):
            pass

    do_GET = do_PUT = do_POST = do_DELETE = handle_any


class HostileRemoteTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.env = AgentEnv(sim_args=("--seed", "7", "--customers", "20", "--work-orders", "120"))
        cls.env.__enter__()
        settle(cls.env)
        ag = lambda p: agent_get(cls.env.agent, p)  # noqa: E731
        wos = all_pages(ag, "/api/v1/work-orders")
        cls.wo = wos[0]["id"]
        # Real bodies for the hostile server to mangle.
        cls.good = {"list": cls.env.sim.api("GET", "/api/v1/work-orders?per_page=100").body}
        for w in wos[:5]:
            p = "/api/v1/work-orders/" + w["id"]
            cls.good[p] = cls.env.sim.api("GET", p).body
        cls.env.agent.stop()
        cls.env.agent = None

    @classmethod
    def tearDownClass(cls):
        cls.env.close()

    def snapshot(self, agent):
        ag = lambda p: agent_get(agent, p)  # noqa: E731
        snap = {"work_orders": all_pages(ag, "/api/v1/work-orders"),
                "customers": all_pages(ag, "/api/v1/customers")}
        for w in snap["work_orders"][:10]:
            snap[w["id"]] = ag("/api/v1/work-orders/" + w["id"])
        # Ops by id and content: their state flips to in flight and back
        # while a cycle tries them.
        snap["outbox"] = [(o["op_id"], o["fields"]) for o in agent.get("/agent/outbox")["data"]]
        return snap

    def start_agent(self, url, extra=()):
        args = ["--api-url", url + "/api/v1", "--api-key-file", self.env.key_file,
                "--interval", "300", "--technician-id", "tech-001"] + list(extra)
        return Agent(self.env.root, self.env.env, args).start()

    def run_against(self, srv, url=None, expect_error=None):
        """Starts the daemon against srv, queues an edit, syncs, and checks
        the replica did not move; returns the agent (stopped)."""
        agent = self.start_agent(url or srv.url)
        try:
            r = agent.request("PUT", "/api/v1/work-orders/" + self.wo,
                              {"notes": "hostile-%s-%f" % (srv.mode if srv else "tls", time.time())})
            self.assertEqual(r.status, 200)
            before = self.snapshot(agent)
            success_before = agent.status()["last_success_at"]
            summary = agent.sync(timeout=90)
            self.assertFalse(summary.get("complete"), summary)
            self.assertEqual(summary.get("pushed"), 0, summary)
            after = self.snapshot(agent)
            self.assertEqual(before, after, "the replica or the outbox changed")
            st = agent.status()
            self.assertTrue(st["last_error"], st)
            # a cycle that got garbage is no success, whatever answered it
            self.assertEqual(st["last_success_at"], success_before, st)
            if expect_error:
                self.assertRegex(st["last_error"], expect_error)
            self.assertEqual(st["outbox"]["pending"], len(before["outbox"]), st)
            self.assertEqual(st["outbox"]["rejected"], 0, st)
            self.assertEqual(agent.proc.poll(), None)
        finally:
            self.assertEqual(agent.stop(), 0, agent.stderr()[-2000:])
        return agent

    def hostile(self, mode, **kw):
        srv = Hostile(mode, good=self.good, **kw).start()
        self.addCleanup(srv.close)
        return srv

    def test_invalid_json(self):
        self.run_against(self.hostile("invalid"))

    def test_truncated_json(self):
        self.run_against(self.hostile("truncated"))

    def test_wrong_types(self):
        self.run_against(self.hostile("wrong_types"))

    def test_gigantic_body_is_cut_off(self):
        srv = self.hostile("gigantic")
        self.run_against(srv)
        # The daemon stopped reading each answer long before the end of what
        # was offered (16 MiB cap, plus what the socket buffers held).
        self.assertLess(srv.sent, GIGANTIC // 2)

    def test_redirect_to_another_host_carries_no_key(self):
        other = self.hostile("ok")
        srv = self.hostile("redirect", redirect_to="http://localhost:%d" % other.server_address[1])
        self.run_against(srv)
        self.assertTrue(srv.requests)
        self.assertTrue(all(a == "Bearer sim-key" for _, _, a in srv.requests))
        # Not followed at all, so no Authorization header went anywhere else.
        self.assertEqual([a for _, _, a in other.requests if a], [])

    def test_slow_drip_never_blocks_local_reads_and_stops_promptly(self):
        srv = self.hostile("drip")
        agent = self.start_agent(srv.url)
        try:
            before = self.snapshot(agent)
            agent.request("POST", "/agent/sync")
            wait_for(lambda: srv.requests, 10, 0.02, "the daemon to reach the dripping server")
            # Local reads do not wait on the network.
            t = time.monotonic()
            self.assertEqual(self.snapshot(agent), before)
            self.assertLess(time.monotonic() - t, 5.0)
            t = time.monotonic()
        finally:
            code = agent.stop()
        self.assertEqual(code, 0, agent.stderr()[-2000:])
        self.assertLess(time.monotonic() - t, 10.0, "SIGTERM during a drip took too long")

    def test_tls_with_an_untrusted_certificate_is_refused(self):
        d = tempfile.mkdtemp(prefix="fs-tls-", dir=self.env.root)
        cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj",
                        "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-days", "1",
                        "-keyout", key, "-out", cert], check=True, capture_output=True)
        srv = Hostile("ok", good=self.good)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
        srv.start()
        self.addCleanup(srv.close)
        self.run_against(srv, url="https://127.0.0.1:%d" % srv.server_address[1],
                         expect_error="(?i)certificate|SSL|TLS")
        # The handshake failed: no request (and so no key) was ever sent.
        self.assertEqual(srv.requests, [])


if __name__ == "__main__":
    unittest.main()
