"""fieldsyncd's local API on its Unix socket, against fieldsync-sim."""
import json
import os
import socket
import stat
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from agentutil import AgentEnv, wait_for  # noqa: E402


def raw_exchange(path, data, timeout=10.0, half_close=False):
    """Sends raw bytes on a new connection; returns all bytes until close.
    half_close: shut our side down after sending, as a client that has
    nothing more to say (the server then needs no idle timeout)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(path)
    out = b""
    try:
        s.sendall(data)
        if half_close:
            s.shutdown(socket.SHUT_WR)
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
            if b"\r\n\r\n" in out and len(out) > 12:
                # enough to read the status line; the server may keep the
                # connection open (keep-alive) after its answer
                head, _, rest = out.partition(b"\r\n\r\n")
                if b"content-length:" in head.lower():
                    n = int([l for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")][0].split(b":")[1])
                    if len(rest) >= n:
                        break
    except (ConnectionResetError, BrokenPipeError, socket.timeout):
        pass
    finally:
        s.close()
    return out


class LocalApiTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.env = AgentEnv().__enter__()
        cls.agent = cls.env.agent
        cls.sim = cls.env.sim
        cls.first = cls.agent.sync()

    @classmethod
    def tearDownClass(cls):
        cls.env.close()

    def assertError(self, reply, status, code):
        self.assertEqual(reply.status, status, reply)
        err = reply.json()["error"]
        self.assertEqual(err["code"], code, reply)
        self.assertIsInstance(err["message"], str)
        return err

    def snapshot(self):
        st = self.agent.status()
        return (st["replica"], st["outbox"], st["conflicts"])

    def a_work_order(self):
        wos = self.agent.get("/api/v1/work-orders?per_page=5")["data"]
        self.assertTrue(wos, "the replica holds work orders after the first sync")
        return wos[0]

    # -- reads ---------------------------------------------------------------
    def test_first_sync_summary(self):
        for k in ("started_at", "finished_at", "online", "auth_error", "complete", "pulled",
                  "unchanged", "evicted", "deleted_remotely", "pushed", "conflicts",
                  "rejected", "retried", "errors", "last_error"):
            self.assertIn(k, self.first)
        self.assertTrue(self.first["online"], self.first)
        self.assertGreater(self.first["pulled"] + self.first["unchanged"], 0)

    def test_status_shape(self):
        st = self.agent.status()
        for k in ("version", "online", "syncing", "auth_error", "last_sync_at",
                  "last_success_at", "next_sync_at", "outbox", "conflicts", "last_error",
                  "replica", "progress", "clock_offset_ms"):
            self.assertIn(k, st)
        self.assertEqual(set(st["outbox"]), {"pending", "rejected", "held"})
        self.assertIn("open", st["conflicts"])
        self.assertEqual(set(st["replica"]), {"customers", "contacts", "assets", "work_orders"})
        for k in ("phase", "records_done", "records_total", "ops_done", "ops_total"):
            self.assertIn(k, st["progress"])
        self.assertTrue(st["online"])
        self.assertGreater(st["replica"]["work_orders"], 0)
        self.assertIsNotNone(st["last_success_at"])

    def test_lists_and_details(self):
        wl = self.agent.get("/api/v1/work-orders?per_page=2&page=1")
        self.assertEqual(set(wl["meta"]), {"current_page", "total_pages", "total_count"})
        self.assertLessEqual(len(wl["data"]), 2)
        wo = wl["data"][0]
        self.assertIn("_sync", wo)
        d = self.agent.get("/api/v1/work-orders/" + wo["id"])["data"]
        self.assertEqual(d["id"], wo["id"])
        self.assertEqual(d["_sync"]["state"], "synced")
        self.assertIn("updated_at", d)
        cust = d["customer"]["id"]
        c = self.agent.get("/api/v1/customers/" + cust)["data"]
        self.assertEqual(c["id"], cust)
        for sub in ("contacts", "assets", "work-orders"):
            lst = self.agent.get("/api/v1/customers/%s/%s" % (cust, sub))
            self.assertIn("data", lst)
            self.assertIn("meta", lst)
        self.assertTrue(any(w["id"] == wo["id"] for w in
                            self.agent.get("/api/v1/customers/%s/work-orders?per_page=100" % cust)["data"]))
        contacts = self.agent.get("/api/v1/customers/%s/contacts" % cust)["data"]
        if contacts:
            one = self.agent.get("/api/v1/contacts/" + contacts[0]["id"])["data"]
            self.assertEqual(one["id"], contacts[0]["id"])
        cl = self.agent.get("/api/v1/customers?per_page=100")
        self.assertGreater(cl["meta"]["total_count"], 0)

    def test_curl(self):
        code, body = self.agent.curl("http://localhost/agent/status")
        self.assertEqual(code, 200)
        self.assertIn("replica", json.loads(body)["data"])
        code, body = self.agent.curl("http://localhost/api/v1/work-orders?per_page=1")
        self.assertEqual(code, 200)
        self.assertEqual(len(json.loads(body)["data"]), 1)
        code, body = self.agent.curl("http://localhost/nope")
        self.assertEqual(code, 404)
        self.assertEqual(json.loads(body)["error"]["code"], "not_found")

    def test_keep_alive(self):
        conn = self.agent.connect()
        try:
            r1 = self.agent.request("GET", "/agent/status", conn=conn)
            sock1 = conn.sock
            self.assertEqual(r1.status, 200)
            self.assertNotEqual((r1.headers.get("Connection") or "").lower(), "close")
            r2 = self.agent.request("GET", "/api/v1/work-orders?per_page=1", conn=conn)
            self.assertEqual(r2.status, 200)
            self.assertIs(conn.sock, sock1, "the second request reused the connection")
            # an error answer keeps the connection too
            r3 = self.agent.request("GET", "/api/v1/customers/no-such-id", conn=conn)
            self.assertEqual(r3.status, 404)
            r4 = self.agent.request("PUT", "/api/v1/work-orders/no-such", body="{}", conn=conn)
            self.assertEqual(r4.status, 404)
            r5 = self.agent.request("GET", "/agent/status", conn=conn)
            self.assertEqual(r5.status, 200)
            self.assertIs(conn.sock, sock1)
        finally:
            conn.close()

    def test_socket_mode(self):
        st = os.lstat(self.agent.socket)
        self.assertTrue(stat.S_ISSOCK(st.st_mode))
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o600)
        self.assertEqual(stat.S_IMODE(os.stat(os.path.dirname(self.agent.socket)).st_mode), 0o700)

    # -- bad input -----------------------------------------------------------
    def test_errors(self):
        before = self.snapshot()
        self.assertError(self.agent.request("GET", "/api/v1/nothing"), 404, "not_found")
        self.assertError(self.agent.request("GET", "/api/v1/customers/none"), 404, "not_found")
        self.assertError(self.agent.request("GET", "/api/v1/customers/none/contacts"), 404, "not_found")
        self.assertError(self.agent.request("GET", "/api/v1/work-orders/none"), 404, "not_found")
        self.assertError(self.agent.request("DELETE", "/api/v1/contacts/none"), 404, "not_found")
        r = self.agent.request("PATCH", "/api/v1/customers")
        self.assertError(r, 405, "method_not_allowed")
        self.assertEqual(r.headers["Allow"], "GET, POST")
        r = self.agent.request("GET", "/agent/sync")
        self.assertError(r, 405, "method_not_allowed")
        self.assertEqual(r.headers["Allow"], "POST")
        wo = self.a_work_order()
        path = "/api/v1/work-orders/" + wo["id"]
        detail = self.agent.get(path)["data"]
        self.assertError(self.agent.request("PUT", path, body="{not json"), 400, "bad_request")
        self.assertError(self.agent.request("PUT", path, body="[1,2]"), 400, "bad_request")
        self.assertError(self.agent.request("PUT", path, body=""), 400, "bad_request")
        self.assertError(self.agent.request("PUT", path, body='{"description":"a","description":"b"}'),
                         400, "bad_request")
        err = self.assertError(self.agent.request("GET", "/api/v1/work-orders?page=abc"), 400, "bad_request")
        self.assertEqual(err["details"][0]["field"], "page")
        self.assertError(self.agent.request("GET", "/api/v1/customers?per_page=-3"), 400, "bad_request")
        self.assertError(self.agent.request("GET", "/api/v1/work-orders?from_date=someday"), 400, "bad_request")
        self.assertError(self.agent.request("POST", "/agent/sync?wait=perhaps"), 400, "bad_request")
        self.assertError(self.agent.request("GET", "/agent/conflicts?state=weird"), 400, "bad_request")
        self.assertError(self.agent.request("POST", "/agent/conflicts/abc/resolve", body={"keep": "local"}),
                         404, "not_found")
        self.assertError(self.agent.request("POST", "/agent/outbox/nope/retry"), 404, "not_found")
        self.assertError(self.agent.request("DELETE", "/agent/outbox/nope"), 404, "not_found")
        # unknown parameters are ignored; the last of a repeated one wins
        r = self.agent.request("GET", "/api/v1/work-orders?per_page=1&per_page=2&bogus=1")
        self.assertEqual(r.status, 200)
        self.assertEqual(len(r.json()["data"]), min(2, r.json()["meta"]["total_count"]))
        self.assertEqual(self.snapshot(), before)
        self.assertEqual(self.agent.get(path)["data"], detail)

    def test_validation_error(self):
        before = self.snapshot()
        err = self.assertError(self.agent.request("POST", "/api/v1/work-orders", body={}),
                               422, "validation_error")
        self.assertIsInstance(err["details"], list)
        self.assertTrue(all("field" in d and "message" in d for d in err["details"]))
        self.assertEqual(self.snapshot(), before)

    def test_oversize(self):
        before = self.snapshot()
        wo = self.a_work_order()
        big = os.path.join(self.env.root, "big.json")
        with open(big, "wb") as f:
            f.write(b'{"description":"' + b"x" * (1024 * 1024 + 10) + b'"}')
        url = "http://localhost/api/v1/work-orders/" + wo["id"]
        # declared too large: answered before the body is read
        code, body = self.agent.curl("-X", "PUT", "--data-binary", "@" + big, url)
        self.assertEqual(code, 413)
        self.assertEqual(json.loads(body)["error"]["code"], "payload_too_large")
        # not declared (chunked): refused once it passes 1 MiB
        code, body = self.agent.curl("-X", "PUT", "-H", "Transfer-Encoding: chunked",
                                     "--data-binary", "@" + big, url)
        self.assertEqual(code, 413)
        self.assertEqual(json.loads(body)["error"]["code"], "payload_too_large")
        # a big header: the server refuses it (413 or 431) and lives on
        out = raw_exchange(self.agent.socket, b"GET /agent/status HTTP/1.1\r\nHost: x\r\nX-Big: "
                           + b"a" * (200 * 1024) + b"\r\n\r\n")
        self.assertRegex(out[:12], rb"HTTP/1\.[01] 4(13|31)")
        self.assertEqual(self.snapshot(), before)

    def test_garbage_and_injection(self):
        before = self.snapshot()
        out = raw_exchange(self.agent.socket, b"\x00\xff\x16\x03garbage\r\n\r\n", half_close=True)
        self.assertTrue(out == b"" or out.startswith(b"HTTP/1.1 400"), out[:100])
        out = raw_exchange(self.agent.socket, b"GET /agent/status HTTP/1.1\r\nHost: x\r\nContent-Length: zz\r\n\r\n")
        self.assertTrue(out == b"" or out.startswith(b"HTTP/1.1 400"), out[:100])
        r = self.agent.request("GET", "/api/v1/customers?search=%27%20OR%201%3D1%20--")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.json()["meta"]["total_count"], 0)
        r = self.agent.request("GET", "/api/v1/customers/%27%20OR%201%3D1%20--")
        self.assertError(r, 404, "not_found")
        r = self.agent.request("PUT", "/api/v1/work-orders/x%27%3B%20DROP%20TABLE%20ops%3B--", body={})
        self.assertError(r, 404, "not_found")
        self.assertEqual(self.snapshot(), before)
        self.assertEqual(self.agent.request("GET", "/agent/status").status, 200)


class WritesTest(unittest.TestCase):
    """Edits offline, their push, rejection and the outbox endpoints."""

    def setUp(self):
        self.env = AgentEnv().__enter__()
        self.agent = self.env.agent
        self.sim = self.env.sim
        self.agent.sync()

    def tearDown(self):
        self.env.close()

    def sim_record(self, kind, rid):
        st = self.sim.state()
        for key in (kind, kind.replace("-", "_")):
            if key in st:
                coll = st[key]
                if isinstance(coll, dict):
                    return coll.get(rid)
                for rec in coll:
                    if rec.get("id") == rid:
                        return rec
        r = self.sim.api("GET", "/api/v1/%s/%s" % (kind, rid))
        return r.json()["data"] if r.status == 200 else None

    def edit_offline(self, body):
        """Takes the sim offline and edits the first work order with body
        (accepted locally); returns the work order as it was."""
        wo = self.agent.get("/api/v1/work-orders?per_page=1")["data"][0]
        self.sim.set_faults(offline=True)
        r = self.agent.request("PUT", "/api/v1/work-orders/" + wo["id"], body=body)
        self.assertEqual(r.status, 200, r)
        return wo, r

    def test_offline_edit_then_push(self):
        wo, r = self.edit_offline({"description": "fixed while offline"})
        self.assertEqual(r.json()["data"]["description"], "fixed while offline")
        d = self.agent.get("/api/v1/work-orders/" + wo["id"])["data"]
        self.assertEqual(d["description"], "fixed while offline")
        self.assertEqual(d["_sync"]["state"], "pending")
        self.assertGreaterEqual(self.agent.status()["outbox"]["pending"], 1)
        summary = self.agent.sync()
        self.assertFalse(summary["online"], summary)
        self.assertFalse(self.agent.status()["online"])
        self.sim.clear_faults()
        wait_for(lambda: self.agent.sync()["pushed"] >= 1 or
                 self.agent.status()["outbox"]["pending"] == 0, 30, 0.1, "the edit to be pushed")
        self.assertEqual(self.sim.api("GET", "/api/v1/work-orders/" + wo["id"]).json()["data"]["description"],
                         "fixed while offline")
        self.assertEqual(self.agent.status()["outbox"]["pending"], 0)
        self.assertEqual(self.agent.get("/api/v1/work-orders/" + wo["id"])["data"]["_sync"]["state"], "synced")

    def test_create_and_delete(self):
        cust = self.agent.get("/api/v1/customers?per_page=1")["data"][0]
        r = self.agent.request("POST", "/api/v1/customers/%s/contacts" % cust["id"],
                               body={"name": "Jane Doe", "email": "jdoe@example.com"})
        self.assertEqual(r.status, 201, r)
        cid = r.json()["data"]["id"]
        self.assertTrue(cid.startswith("local-"))
        self.assertEqual(self.agent.get("/api/v1/contacts/" + cid)["data"]["name"], "Jane Doe")
        r = self.agent.request("DELETE", "/api/v1/contacts/" + cid)
        self.assertEqual(r.status, 204)
        self.assertEqual(r.body, b"")
        self.assertEqual(self.agent.request("GET", "/api/v1/contacts/" + cid).status, 404)

    def test_rejected_op_retry_and_discard(self):
        wo, _ = self.edit_offline({"technician_id": "tech-999"})
        ops = self.agent.get("/agent/outbox")["data"]
        self.assertEqual(len(ops), 1)
        op = ops[0]["op_id"]
        # only a rejected op can be retried or discarded
        r = self.agent.request("DELETE", "/agent/outbox/" + op)
        self.assertEqual(r.status, 409, r)
        self.assertEqual(r.json()["error"]["code"], "conflict")
        self.sim.clear_faults()
        wait_for(lambda: self.agent.sync()["rejected"] >= 1 or
                 self.agent.status()["outbox"]["rejected"] == 1, 30, 0.1, "the op to be rejected")
        ops = self.agent.get("/agent/outbox")["data"]
        self.assertEqual(ops[0]["state"], "rejected")
        self.assertIsNotNone(ops[0]["last_error"])
        self.assertEqual(self.agent.get("/api/v1/work-orders/" + wo["id"])["data"]["_sync"]["state"],
                         "rejected")
        r = self.agent.request("POST", "/agent/outbox/%s/retry" % op)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["data"], {"op_id": op, "state": "pending"})
        wait_for(lambda: self.agent.sync()["rejected"] >= 1 or
                 self.agent.status()["outbox"]["rejected"] == 1, 30, 0.1, "the op to be rejected again")
        r = self.agent.request("DELETE", "/agent/outbox/" + op)
        self.assertEqual(r.status, 204, r)
        self.assertEqual(self.agent.get("/agent/outbox")["data"], [])
        st = self.agent.status()
        self.assertEqual(st["outbox"]["rejected"], 0)
        self.assertEqual(self.agent.get("/api/v1/work-orders/" + wo["id"])["data"]["technician"]["id"],
                         wo.get("technician", {}).get("id",
                         self.sim.api("GET", "/api/v1/work-orders/" + wo["id"]).json()["data"]["technician"]["id"]))

    def test_reads_and_writes_during_a_slow_sync(self):
        # Local reads and writes never wait for the network: while a cycle is
        # held up by a slow remote, they are answered, and the cycle is
        # still running afterwards (so they did not wait for it to end).
        wo = self.agent.get("/api/v1/work-orders?per_page=1")["data"][0]
        self.sim.set_faults(latency_ms=2000)
        r = self.agent.request("POST", "/agent/sync")
        self.assertEqual(r.status, 202, r)
        wait_for(lambda: self.agent.status()["syncing"], 10, 0.02, "a running cycle")
        listing = self.agent.get("/api/v1/work-orders?per_page=5")
        self.assertGreaterEqual(len(listing["data"]), 1)
        detail = self.agent.get("/api/v1/work-orders/" + wo["id"])["data"]
        self.assertEqual(detail["id"], wo["id"])
        r = self.agent.request("PUT", "/api/v1/work-orders/" + wo["id"],
                               body={"notes": "written during a slow sync"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["data"]["_sync"]["state"], "pending")
        self.assertTrue(self.agent.status()["syncing"],
                        "the cycle ended before the local requests were answered")
        self.sim.clear_faults()

    def test_op_blocked_behind_rejected_does_not_spin(self):
        # A rejected edit blocks the later edits of its record until the user
        # acts; the daemon must then wait for its interval, not start a
        # cycle every second (a laptop hammering the remote for nothing).
        wo = self.agent.get("/api/v1/work-orders?per_page=1")["data"][0]
        r = self.agent.request("PUT", "/api/v1/work-orders/" + wo["id"],
                               body={"technician_id": "tech-999"})
        self.assertEqual(r.status, 200, r)
        wait_for(lambda: self.agent.sync()["rejected"] >= 1 or
                 self.agent.status()["outbox"]["rejected"] == 1, 30, 0.1, "the op to be rejected")
        r = self.agent.request("PUT", "/api/v1/work-orders/" + wo["id"],
                               body={"description": "queued behind the rejected edit"})
        self.assertEqual(r.status, 200, r)
        self.agent.sync()
        st = self.agent.status()
        self.assertEqual((st["outbox"]["pending"], st["outbox"]["rejected"]), (1, 1), st)
        # let the write's debounced cycle (2 s) come and go, then watch
        last = self.agent.status()["last_sync_at"]
        deadline = time.monotonic() + 12
        while time.monotonic() < deadline:
            time.sleep(0.2)
            now = self.agent.status()
            if now["last_sync_at"] != last and not now["syncing"]:
                break
        last = self.agent.status()["last_sync_at"]
        before = self.sim.control("GET", "stats")["requests"]
        end = time.monotonic() + 4
        while time.monotonic() < end:
            time.sleep(0.2)
            self.assertEqual(self.agent.status()["last_sync_at"], last,
                             "the daemon started a cycle with nothing it could push")
        self.assertEqual(self.sim.control("GET", "stats")["requests"], before)
        ops = self.agent.get("/agent/outbox")["data"]
        self.assertEqual([o["state"] for o in ops], ["rejected", "pending"])

    def test_events_stream(self):
        wo = self.agent.get("/api/v1/work-orders?per_page=1")["data"][0]
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(15)
        s.connect(self.agent.socket)
        s.sendall(b"GET /agent/events HTTP/1.1\r\nHost: localhost\r\n\r\n")
        buf = b""
        while b": connected" not in buf:
            chunk = s.recv(4096)
            self.assertTrue(chunk, "stream closed early")
            buf += chunk
        self.assertIn(b"text/event-stream", buf)
        # another client changes a record
        r = self.agent.request("PUT", "/api/v1/work-orders/" + wo["id"], body={"description": "seen?"})
        self.assertEqual(r.status, 200)
        want = ('"id":"%s"' % wo["id"]).encode()
        deadline = time.monotonic() + 15
        while not (b"event: record_changed" in buf and want in buf):
            self.assertLess(time.monotonic(), deadline, buf)
            chunk = s.recv(4096)
            self.assertTrue(chunk, "stream closed early")
            buf += chunk
        # and the sync it triggers is announced too
        self.agent.request("POST", "/agent/sync")
        deadline = time.monotonic() + 30
        while b"event: sync_finished" not in buf:
            self.assertLess(time.monotonic(), deadline, buf)
            chunk = s.recv(4096)
            self.assertTrue(chunk, "stream closed early")
            buf += chunk
        s.close()
        self.assertEqual(self.agent.request("GET", "/agent/status").status, 200)

    def test_sync_now_202(self):
        r = self.agent.request("POST", "/agent/sync")
        self.assertEqual(r.status, 202)
        self.assertEqual(r.json(), {"data": {"started": True}})


class ManualConflictTest(unittest.TestCase):
    def test_conflict_listed_and_resolved(self):
        with AgentEnv(config="conflict_policy = manual\n") as env:
            agent, sim = env.agent, env.sim
            agent.sync()
            wo = agent.get("/api/v1/work-orders?per_page=1")["data"][0]
            # the dispatcher edits first; the replica has not seen it
            r = sim.api("PUT", "/api/v1/work-orders/" + wo["id"], body={"description": "remote text"})
            self.assertEqual(r.status, 200, r)
            r = agent.request("PUT", "/api/v1/work-orders/" + wo["id"], body={"description": "local text"})
            self.assertEqual(r.status, 200, r)
            wait_for(lambda: agent.sync() and agent.status()["conflicts"]["open"] >= 1,
                     30, 0.1, "a conflict")
            conflicts = agent.get("/agent/conflicts?state=open")["data"]
            self.assertEqual(len(conflicts), 1)
            c = conflicts[0]
            for k in ("id", "entity", "record_id", "rule", "outcome", "state", "base", "local", "remote"):
                self.assertIn(k, c)
            self.assertEqual(c["record_id"], wo["id"])
            self.assertEqual(c["state"], "open")
            self.assertEqual(agent.get("/api/v1/work-orders/" + wo["id"])["data"]["_sync"]["state"], "conflict")
            self.assertEqual(agent.status()["outbox"]["held"], 1)
            path = "/agent/conflicts/%s/resolve" % c["id"]
            r = agent.request("POST", path, body={"keep": "sideways"})
            self.assertEqual(r.status, 422, r)
            self.assertEqual(r.json()["error"]["code"], "validation_error")
            r = agent.request("POST", path, body="nope")
            self.assertEqual(r.status, 400, r)
            r = agent.request("POST", path, body={"keep": "local"})
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.json()["data"]["id"], c["id"])
            self.assertEqual(r.json()["data"]["state"], "resolved")
            r = agent.request("POST", path, body={"keep": "remote"})
            self.assertEqual(r.status, 409, r)
            self.assertEqual(agent.get("/agent/conflicts?state=open")["data"], [])
            wait_for(lambda: agent.sync() and sim.api("GET", "/api/v1/work-orders/" + wo["id"])
                     .json()["data"]["description"] == "local text", 30, 0.1, "the local value pushed")


if __name__ == "__main__":
    unittest.main(verbosity=2)
