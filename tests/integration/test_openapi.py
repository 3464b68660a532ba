"""The socket's real answers, held against docs/openapi.yaml (issue 13).

Stoplight Prism runs as a validating proxy in front of a real fieldsyncd
(with fieldsync-sim as the remote); every documented operation is driven
through it — lists with each filter, gets, creates (offline ones with the
sim stopped), updates, deletes, the error answers and the /agent
endpoints — and every answer must come back with no violation.  Requests
the document calls invalid (the error cases) must be flagged as such by
Prism, and the daemon's answer to them must still be valid.

Prism is installed once with npm into build/node/ (see prismutil.py); if
node, npm or the install fails, every test here fails with the reason.

Known gaps (issue 13): what the agent does not do yet is checked in test
methods of its own, named test_known_gap_*, marked expectedFailure.  The
other tests pass over exactly the violations those gaps cause (KNOWN_GAPS
below), and only those.  When a gap is fixed, its test passes, unittest
reports an "unexpected success" and the suite fails: remove the
expectedFailure and the gap's entry in KNOWN_GAPS then.
"""
import http.server
import os
import re
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from agentutil import AgentEnv  # noqa: E402
from prismutil import Prism, UnixBridge, ensure_prism  # noqa: E402
from simutil import wait_for  # noqa: E402


# Violations the agent causes today, each with the test that checks it
# (none left: the last, _sync.checked_at and status's remote/freshness,
# came with issue 12's schedule).
KNOWN_GAPS = {}


class OpenAPITest(unittest.TestCase):
    """One Prism for the class; a sim and a daemon for each test."""
    prism = bridge = None
    setup_error = None
    seen = []         # (test, "METHOD path -> status", violation) for the summary

    @classmethod
    def setUpClass(cls):
        cls._tmp = tempfile.TemporaryDirectory(prefix="fs-openapi-")
        try:
            ensure_prism()
            # The bridge exists before any daemon; each test points it at its own.
            cls.bridge = UnixBridge(os.path.join(cls._tmp.name, "none.sock"))
            cls.prism = Prism(cls.bridge.url, cls._tmp.name).start()
        except Exception as e:  # a missing validator fails every test, never skips it
            cls.setup_error = e

    @classmethod
    def tearDownClass(cls):
        if cls.prism:
            cls.prism.stop()
        if cls.bridge:
            cls.bridge.close()
        cls._tmp.cleanup()
        answers = {}
        for test, what, v in cls.seen:
            if (v.get("location") or [""])[0] != "response":
                continue  # the error cases' requests are invalid on purpose
            loc = ".".join("N" if str(p).isdigit() else str(p) for p in v.get("location", []))
            msg = re.sub(r"\.\d+\.", ".N.", v.get("message", ""))
            answers.setdefault((v.get("severity"), loc, msg), []).append((test, what))
        if answers:
            print("\nviolations Prism found in the daemon's answers (severity location: "
                  "message [answers; tests]):")
            for (sev, loc, msg), seen in sorted(answers.items()):
                print("  %s %s: %s [%d, e.g. %s; %s]" % (sev, loc, msg, len(seen), seen[0][1],
                                                        ", ".join(sorted({t for t, _ in seen}))))

    def setUp(self):
        if self.setup_error is not None:
            self.fail("the OpenAPI validator (Stoplight Prism) is not available: %s"
                      % self.setup_error)

    # -- fixtures ------------------------------------------------------------
    def up(self, config=None, technician="tech-001"):
        """A sim and a daemon, synced once, behind the class's Prism.
        technician=None: the whole account is in scope, so that a record
        created here stays in the replica once pushed."""
        env = AgentEnv(config=config, technician=technician)
        env.__enter__()
        self.addCleanup(env.close)
        self.env, self.agent, self.sim = env, env.agent, env.sim
        self.bridge.unix_path = env.agent.socket
        self.agent.sync()
        return env

    def call(self, method, path, body=None, headers=None, status=None, valid_request=True):
        """One request through Prism; fails on any violation of the
        answer (other than a known gap) and, when valid_request, of the
        request; when False, Prism must call the request invalid; None: a
        body Prism cannot parse, which it does not judge."""
        a = self.prism.request(method, path, body, headers)
        name = self._testMethodName
        for v in a.violations:
            self.seen.append((name, "%s %s -> %d" % (method, path, a.status), v))
        bad = [v for v in a.of("response")
               if not any(gap != name and match(a, v) for gap, match in KNOWN_GAPS.items())]
        self.assertEqual(bad, [], "the answer breaks docs/openapi.yaml: " + a.describe("response"))
        if valid_request:
            self.assertEqual(a.of("request"), [], "the request breaks docs/openapi.yaml: "
                             + a.describe("request"))
        elif valid_request is not None:
            self.assertNotEqual(a.of("request"), [],
                                "Prism accepted a request the document calls invalid: "
                                + a.describe())
        if status is not None:
            self.assertEqual(a.status, status, a.describe())
        return a

    def data(self, path, **kw):
        return self.call("GET", path, status=200, **kw).json()["data"]

    def every_page(self, path):
        """GET path (a list) page by page, 20 a page (Prism lists at most
        8 KiB of violations an answer); returns every item."""
        items, page = [], 1
        sep = "&" if "?" in path else "?"
        while True:
            body = self.call("GET", "%s%spage=%d&per_page=20" % (path, sep, page), status=200).json()
            items += body["data"]
            if page >= body["meta"]["total_pages"]:
                return items
            page += 1

    def stop_sim(self):
        self.assertEqual(self.sim.stop(), 0)

    def wait_rejected(self):
        wait_for(lambda: self.agent.sync()["rejected"] >= 1 or
                 self.agent.status()["outbox"]["rejected"] >= 1, 30, 0.1, "an op to be rejected")

    def make_conflict(self):
        """A held conflict on a work order's description (conflict_policy manual)."""
        self.up(config="conflict_policy = manual\n")
        wo = self.agent.get("/api/v1/work-orders?per_page=1")["data"][0]
        r = self.sim.api("PUT", "/api/v1/work-orders/" + wo["id"], body={"description": "remote text"})
        self.assertEqual(r.status, 200, r)
        self.call("PUT", "/api/v1/work-orders/" + wo["id"], {"description": "local text"}, status=200)
        wait_for(lambda: self.agent.sync() and self.agent.status()["conflicts"]["open"] >= 1,
                 30, 0.1, "a conflict")
        conflicts = self.data("/agent/conflicts?state=open")
        self.assertEqual(len(conflicts), 1, conflicts)
        return wo, conflicts[0]

    # -- reads ---------------------------------------------------------------
    def test_customers_reads(self):
        self.up()
        customers = self.every_page("/api/v1/customers")
        self.assertGreater(len(customers), 5)
        c = customers[0]
        word = c["name"].split()[0]
        for query in ("", "?page=2&per_page=5", "?page=99", "?search=" + word,
                      "?search=" + c["customer_number"], "?status=active", "?status=inactive",
                      "?created_after=2024-01-01", "?created_after=2024-01-01T00:00:00Z",
                      "?per_page=500"):
            self.call("GET", "/api/v1/customers" + query, status=200)
        branches = set()
        contacts = []
        for c in customers:
            detail = self.data("/api/v1/customers/" + c["id"])
            if detail.get("branch"):
                branches.add(detail["branch"]["id"])
            contacts += self.data("/api/v1/customers/%s/contacts" % c["id"])
            self.call("GET", "/api/v1/customers/%s/assets" % c["id"], status=200)
            self.call("GET", "/api/v1/customers/%s/work-orders" % c["id"], status=200)
        self.assertTrue(branches)
        for b in sorted(branches):
            self.assertTrue(self.data("/api/v1/customers?branch_id=" + b))
        self.assertTrue(contacts)
        for ct in contacts:
            self.data("/api/v1/contacts/" + ct["id"])
        cid = customers[0]["id"]
        for query in ("?page=1&per_page=1", "?status=open", "?technician_id=tech-001",
                      "?from_date=2020-01-01&to_date=2030-12-31"):
            self.call("GET", "/api/v1/customers/%s/work-orders%s" % (cid, query), status=200)
        for sub in ("contacts", "assets"):
            self.call("GET", "/api/v1/customers/%s/%s?page=1&per_page=2" % (cid, sub), status=200)

    def test_work_orders_reads(self):
        self.up()
        orders = self.every_page("/api/v1/work-orders")
        self.assertGreater(len(orders), 5)
        today = time.strftime("%Y-%m-%d", time.gmtime())
        for query in ("", "?page=2&per_page=3", "?page=99", "?status=open", "?status=in_progress",
                      "?customer_id=" + orders[0]["customer"]["id"], "?technician_id=tech-001",
                      "?technician_id=tech-999", "?from_date=" + today, "?to_date=" + today,
                      "?from_date=2020-01-01&to_date=2030-12-31&status=assigned&per_page=2"):
            self.call("GET", "/api/v1/work-orders" + query, status=200)
        for wo in orders:
            self.data("/api/v1/work-orders/" + wo["id"])

    # -- writes --------------------------------------------------------------
    def test_customer_and_contact_writes(self):
        self.up(technician=None)
        name = "OpenAPI Check Co"
        created = self.call("POST", "/api/v1/customers", {
            "name": name, "customer_type": "commercial", "email": "info@openapi.example",
            "phone": "+1-555-999-8888",
            "address": {"street": "789 Business Blvd", "city": "Chicago", "state": "IL",
                        "postal_code": "60601", "country": "US"},
            "branch_id": "branch-002", "payment_terms": "net30"}, status=201).json()["data"]
        cid = created["id"]
        self.assertEqual(created["name"], name)
        upd = self.call("PUT", "/api/v1/customers/" + cid,
                        {"email": "new@openapi.example", "notes": "Updated contact information"},
                        status=200).json()["data"]
        self.assertEqual(upd["email"], "new@openapi.example")
        ct = self.call("POST", "/api/v1/customers/%s/contacts" % cid,
                       {"name": "Jane Doe", "title": "Operations Manager",
                        "email": "jdoe@openapi.example", "phone": "+1-555-222-3333",
                        "is_primary": False}, status=201).json()["data"]
        self.call("PUT", "/api/v1/contacts/" + ct["id"], {"title": "Director"}, status=200)
        self.data("/api/v1/contacts/" + ct["id"])
        self.call("GET", "/api/v1/customers/%s/contacts" % cid, status=200)
        # pushed: the server's id and number replace the local ones
        wait_for(lambda: self.agent.sync() and self.agent.status()["outbox"]["pending"] == 0,
                 30, 0.1, "the creates to be pushed")
        found = self.data("/api/v1/customers?search=" + name.replace(" ", "%20"))
        self.assertEqual(len(found), 1, found)
        self.assertFalse(found[0]["id"].startswith("local-"))
        self.assertIsInstance(found[0]["customer_number"], str)
        server_id = found[0]["id"]
        contacts = self.data("/api/v1/customers/%s/contacts" % server_id)
        self.assertEqual([c["name"] for c in contacts], ["Jane Doe"])
        self.call("DELETE", "/api/v1/contacts/" + contacts[0]["id"], status=204)
        self.call("DELETE", "/api/v1/customers/" + server_id, status=204)
        self.call("GET", "/api/v1/customers/" + server_id, status=404)

    def test_work_order_writes(self):
        self.up(technician=None)
        cust = self.agent.get("/api/v1/customers?per_page=100")["data"]
        contacts = []
        for c in cust:
            contacts = self.agent.get("/api/v1/customers/%s/contacts" % c["id"])["data"]
            if contacts:
                break
        self.assertTrue(contacts)
        body = {"customer_id": contacts[0]["customer_id"], "contact_id": contacts[0]["id"],
                "work_order_type": "service", "priority": "medium",
                "description": "Repair air conditioning unit",
                "scheduled_date": "2030-02-01T10:00:00Z", "estimated_duration": 90,
                "technician_id": "tech-001", "notes": "Customer requests morning appointment"}
        wo = self.call("POST", "/api/v1/work-orders", body, status=201).json()["data"]
        self.assertEqual(wo["customer"]["id"], body["customer_id"])
        upd = self.call("PUT", "/api/v1/work-orders/" + wo["id"],
                        {"status": "in_progress", "technician_id": "tech-002",
                         "scheduled_date": "2030-02-02T14:00:00Z"}, status=200).json()["data"]
        self.assertEqual(upd["status"], "in_progress")
        self.data("/api/v1/work-orders/" + wo["id"])
        wait_for(lambda: self.agent.sync() and self.agent.status()["outbox"]["pending"] == 0,
                 30, 0.1, "the create to be pushed")
        mine = [w for w in self.every_page("/api/v1/work-orders?technician_id=tech-002")
                if w["customer"]["id"] == body["customer_id"] and w["status"] == "in_progress"]
        self.assertTrue(mine)
        pushed = self.data("/api/v1/work-orders/" + mine[0]["id"])
        self.assertFalse(pushed["id"].startswith("local-"))
        self.assertIsInstance(pushed["work_order_number"], str)
        self.call("DELETE", "/api/v1/work-orders/" + pushed["id"], status=204)
        self.call("GET", "/api/v1/work-orders/" + pushed["id"], status=404)

    # -- errors --------------------------------------------------------------
    def test_error_answers(self):
        self.up()
        cust = self.agent.get("/api/v1/customers?per_page=1")["data"][0]["id"]
        for path in ("/api/v1/customers/nope", "/api/v1/work-orders/nope", "/api/v1/contacts/nope",
                     "/api/v1/customers/nope/contacts", "/api/v1/customers/nope/assets",
                     "/api/v1/customers/nope/work-orders"):
            a = self.call("GET", path, status=404)
            self.assertEqual(a.json()["error"]["code"], "not_found")
        for path in ("/api/v1/customers/nope", "/api/v1/work-orders/nope", "/api/v1/contacts/nope"):
            self.call("PUT", path, {"name": "x"} if "work" not in path else {"priority": "low"},
                      status=404)
            self.call("DELETE", path, status=404)
        self.call("POST", "/api/v1/customers/nope/contacts", {"name": "x"}, status=404)
        # 400: a body that is not JSON, a bad query parameter
        a = self.call("POST", "/api/v1/customers", "{not json",
                      {"Content-Type": "application/json"}, status=400, valid_request=None)
        self.assertTrue(a.json()["error"]["message"])
        self.call("GET", "/api/v1/work-orders?per_page=abc", status=400, valid_request=False)
        self.call("GET", "/api/v1/work-orders?page=0", status=400, valid_request=False)
        self.call("GET", "/api/v1/work-orders?from_date=yesterday", status=400, valid_request=False)
        # 422 with details naming the field
        a = self.call("POST", "/api/v1/customers", {"name": ""}, status=422, valid_request=False)
        self.assertEqual(a.json()["error"]["details"][0]["field"], "name")
        a = self.call("POST", "/api/v1/work-orders", {"customer_id": "cust-nope"}, status=422)
        self.assertEqual(a.json()["error"]["code"], "validation_error")
        self.call("PUT", "/api/v1/work-orders/" + self.agent.get("/api/v1/work-orders")["data"][0]["id"],
                  {"priority": "whenever"}, status=422, valid_request=False)
        self.call("POST", "/api/v1/customers/%s/contacts" % cust, {"title": "no name"},
                  status=422, valid_request=False)
        # 409: a customer with active work orders cannot be deleted
        busy = [w["customer"]["id"] for w in self.agent.get("/api/v1/work-orders?status=open")["data"]]
        self.assertTrue(busy)
        a = self.call("DELETE", "/api/v1/customers/" + busy[0], status=409)
        self.assertEqual(a.json()["error"]["code"], "conflict")
        # 413: over 1 MiB
        big = {"name": "Big", "notes": "x" * (1024 * 1024 + 10)}
        self.call("POST", "/api/v1/customers", big, status=413)
        # Not in the document, so Prism cannot route them: the remote's
        # error format is checked here.
        for method, path, code in (("GET", "/api/v1/nothing", 404), ("PATCH", "/api/v1/customers", 405),
                                   ("POST", "/api/v1/customers/%s" % cust, 405),
                                   ("DELETE", "/agent/status", 405)):
            a = self.prism.request(method, path)
            self.assertEqual(a.status, code, a.describe())
            err = a.json()["error"]
            self.assertEqual(set(err) - {"details"}, {"code", "message"}, a.describe())
            self.assertTrue(all(isinstance(err[k], str) and err[k] for k in ("code", "message")))
            if code == 405:
                self.assertTrue(a.headers.get("Allow"), a.describe())

    # -- the agent's endpoints ----------------------------------------------
    def test_agent_status_sync_and_outbox(self):
        self.up()
        self.call("GET", "/agent/status", status=200)
        self.call("POST", "/agent/sync", status=202)
        self.call("POST", "/agent/sync?wait=true", status=200)
        self.call("POST", "/agent/sync?wait=maybe", status=400, valid_request=False)
        self.call("GET", "/agent/outbox", status=200)
        for method, path in (("POST", "/agent/outbox/nope/retry"), ("DELETE", "/agent/outbox/nope")):
            self.call(method, path, status=404)
        wo = self.agent.get("/api/v1/work-orders?per_page=1")["data"][0]
        # pending ops, then one the remote rejects (an unknown technician)
        self.sim.set_faults(offline=True)
        self.call("PUT", "/api/v1/work-orders/" + wo["id"], {"technician_id": "tech-999"}, status=200)
        ops = self.data("/agent/outbox")
        self.assertEqual([o["state"] for o in ops], ["pending"])
        op = ops[0]["op_id"]
        self.call("POST", "/agent/outbox/%s/retry" % op, status=409)
        self.call("DELETE", "/agent/outbox/" + op, status=409)
        st = self.data("/agent/status")
        self.assertEqual(st["outbox"]["pending"], 1)
        self.sim.clear_faults()
        self.wait_rejected()
        ops = self.data("/agent/outbox")
        self.assertEqual(ops[0]["state"], "rejected")
        self.assertIsNotNone(ops[0]["last_error"])
        self.assertEqual(self.data("/api/v1/work-orders/" + wo["id"])["_sync"]["state"], "rejected")
        self.data("/agent/status")
        self.call("POST", "/agent/outbox/%s/retry" % op, status=200)
        self.wait_rejected()
        self.call("DELETE", "/agent/outbox/" + op, status=204)
        self.assertEqual(self.data("/agent/outbox"), [])

    def test_agent_conflicts(self):
        wo, c = self.make_conflict()
        self.assertEqual(self.data("/api/v1/work-orders/" + wo["id"])["_sync"]["state"], "conflict")
        for query in ("", "?state=resolved", "?state=all"):
            self.call("GET", "/agent/conflicts" + query, status=200)
        self.call("GET", "/agent/conflicts?state=bogus", status=400, valid_request=False)
        self.data("/agent/status")
        path = "/agent/conflicts/%s/resolve" % c["id"]
        self.call("POST", path, {"keep": "sideways"}, status=422, valid_request=False)
        self.call("POST", path, "nope", {"Content-Type": "application/json"}, status=400,
                  valid_request=None)
        self.call("POST", "/agent/conflicts/999999/resolve", {"keep": "local"}, status=404)
        done = self.call("POST", path, {"keep": "local"}, status=200).json()["data"]
        self.assertEqual(done["state"], "resolved")
        self.call("POST", path, {"keep": "remote"}, status=409)
        self.call("GET", "/agent/conflicts?state=resolved", status=200)

    def test_agent_events(self):
        # Prism checks a body once it has ended; the stream never ends, so
        # the bridge ends it after the event (see UnixBridge).
        self.up()
        wo = self.agent.get("/api/v1/work-orders?per_page=1")["data"][0]
        box = {}

        def ask():
            box["answer"] = self.prism.request("GET", "/agent/events")
        self.bridge.tail.clear()
        self.bridge.end_stream_after = wo["id"].encode()
        t = threading.Thread(target=ask)
        t.start()
        wait_for(lambda: b": connected" in self.bridge.tail, 30, 0.02, "the event stream to open")
        self.call("PUT", "/api/v1/work-orders/" + wo["id"], {"description": "evt"}, status=200)
        t.join(60)
        self.assertFalse(t.is_alive(), "no answer through Prism")
        a = box["answer"]
        self.assertEqual(a.violations, [], a.describe())
        self.assertEqual(a.status, 200, a.describe())
        self.assertTrue(a.headers.get("Content-Type", "").startswith("text/event-stream"))
        self.assertIn(b"event: record_changed", a.body)
        self.assertIn(wo["id"].encode(), a.body)

    # -- the validator itself ------------------------------------------------
    def test_prism_flags_drift_on_every_operation(self):
        # A document Prism cannot compile is not checked at all, silently:
        # a fake upstream answers every operation with a wrong shape, and
        # Prism must flag each answer.
        class Wrong(http.server.BaseHTTPRequestHandler):
            def answer(self):
                n = int(self.headers.get("Content-Length") or 0)
                if n:
                    self.rfile.read(n)
                code = {"POST": 201, "DELETE": 204}.get(self.command, 200)
                if self.path.startswith("/agent/sync"):
                    code = 202
                if self.command == "DELETE":
                    code = 200  # documented: 204 only
                body = b'{"data": {"id": 5, "_sync": {"state": "lost"}}, "meta": {}}'
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            do_GET = do_POST = do_PUT = do_DELETE = answer

            def log_message(self, *a):
                pass
        srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Wrong)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        self.addCleanup(srv.server_close)
        self.addCleanup(srv.shutdown)
        with tempfile.TemporaryDirectory(prefix="fs-prism-") as d, \
                Prism("http://127.0.0.1:%d" % srv.server_address[1], d) as p:
            cases = [("GET", "/api/v1/customers", None), ("GET", "/api/v1/customers/c1", None),
                     ("POST", "/api/v1/customers", {"name": "n"}),
                     ("PUT", "/api/v1/customers/c1", {"name": "n"}),
                     ("DELETE", "/api/v1/customers/c1", None),
                     ("GET", "/api/v1/customers/c1/contacts", None),
                     ("POST", "/api/v1/customers/c1/contacts", {"name": "n"}),
                     ("GET", "/api/v1/contacts/k1", None),
                     ("PUT", "/api/v1/contacts/k1", {"name": "n"}),
                     ("DELETE", "/api/v1/contacts/k1", None),
                     ("GET", "/api/v1/customers/c1/assets", None),
                     ("GET", "/api/v1/customers/c1/work-orders", None),
                     ("GET", "/api/v1/work-orders", None), ("GET", "/api/v1/work-orders/w1", None),
                     ("POST", "/api/v1/work-orders", {"customer_id": "c1"}),
                     ("PUT", "/api/v1/work-orders/w1", {"priority": "low"}),
                     ("DELETE", "/api/v1/work-orders/w1", None),
                     ("GET", "/agent/status", None), ("POST", "/agent/sync", None),
                     ("GET", "/agent/outbox", None), ("POST", "/agent/outbox/o1/retry", None),
                     ("DELETE", "/agent/outbox/o1", None), ("GET", "/agent/conflicts", None),
                     ("POST", "/agent/conflicts/1/resolve", {"keep": "local"}),
                     ("POST", "/agent/conflicts/1/ack", None)]
            for method, path, body in cases:
                a = p.request(method, path, body)
                self.assertEqual(a.of("request"), [], a.describe())
                self.assertNotEqual(a.of("response"), [], "Prism let a wrong answer pass: "
                                    + a.describe())

    # -- issue 13: offline creates, null, Idempotency-Key, duplicates, ack --------
    def test_offline_create_numbers(self):
        # A record created offline has the remote's type for its number: a
        # provisional string, flagged in _sync.
        self.up()
        cust = self.agent.get("/api/v1/customers?per_page=1")["data"][0]["id"]
        self.stop_sim()
        c = self.call("POST", "/api/v1/customers", {"name": "Offline Number Co"},
                        status=201).json()["data"]
        self.assertIsInstance(c["customer_number"], str)
        self.assertIs(c["_sync"].get("provisional_number"), True)
        w = self.call("POST", "/api/v1/work-orders", {"customer_id": cust, "description": "offline"},
                        status=201).json()["data"]
        self.assertIsInstance(w["work_order_number"], str)
        self.assertIs(w["_sync"].get("provisional_number"), True)
        self.call("POST", "/api/v1/customers/%s/contacts" % c["id"], {"name": "Off Line"}, status=201)
        self.call("GET", "/api/v1/customers/" + c["id"], status=200)
        self.call("GET", "/api/v1/work-orders/" + w["id"], status=200)
        self.call("GET", "/api/v1/customers?search=Offline%20Number", status=200)

    def test_put_null_clears_fax(self):
        # The documented shapes are nullable and the remote accepts null:
        # null clears the field.
        self.up()
        cust = self.agent.get("/api/v1/customers?per_page=1")["data"][0]["id"]
        c = self.call("PUT", "/api/v1/customers/" + cust, {"fax": None}, status=200).json()["data"]
        self.assertIsNone(c["fax"])

    def test_idempotency_key_repeat(self):
        self.up()
        key = {"Idempotency-Key": "openapi-check-0001"}
        first = self.call("POST", "/api/v1/customers", {"name": "Idem Co"}, key, status=201)
        again = self.call("POST", "/api/v1/customers", {"name": "Idem Co"}, key, status=201)
        self.assertEqual(again.json()["data"]["id"], first.json()["data"]["id"])
        creates = [o for o in self.data("/agent/outbox") if o["kind"] == "create"]
        self.assertEqual(len(creates), 1, creates)

    def test_offline_duplicate_customer_name(self):
        # The remote answers 409 (duplicate); the replica can tell.
        self.up()
        name = self.agent.get("/api/v1/customers?per_page=1")["data"][0]["name"]
        self.stop_sim()
        a = self.call("POST", "/api/v1/customers", {"name": name}, status=409)
        self.assertEqual(a.json()["error"]["code"], "conflict")

    def test_sync_checked_at(self):
        self.up()
        cust = self.call("GET", "/api/v1/customers?per_page=3", status=200).json()["data"][0]["id"]
        self.call("GET", "/api/v1/customers/" + cust, status=200)
        self.call("GET", "/api/v1/customers/%s/contacts" % cust, status=200)
        self.call("GET", "/api/v1/customers/%s/assets" % cust, status=200)
        wo = self.call("GET", "/api/v1/work-orders?per_page=3", status=200).json()["data"][0]["id"]
        d = self.call("GET", "/api/v1/work-orders/" + wo, status=200).json()["data"]
        self.assertIsNotNone(d["_sync"]["checked_at"])

    def test_status_remote_and_freshness(self):
        self.up()
        st = self.call("GET", "/agent/status", status=200).json()["data"]
        self.assertIn("remote", st)
        self.assertIn("freshness", st)

    def test_status_conflicts_unacknowledged(self):
        self.up()
        st = self.call("GET", "/agent/status", status=200).json()["data"]
        self.assertEqual(st["conflicts"], {"open": 0, "unacknowledged": 0})

    def test_conflict_ack(self):
        # A conflict whose outcome discarded the local value is
        # unacknowledged until the user acknowledges it.
        wo, c = self.make_conflict()
        self.call("POST", "/agent/conflicts/%s/resolve" % c["id"], {"keep": "remote"}, status=200)
        st = self.data("/agent/status")
        self.assertEqual(st["conflicts"].get("unacknowledged"), 1, st)
        acked = self.call("POST", "/agent/conflicts/%s/ack" % c["id"], status=200).json()["data"]
        self.assertEqual(acked["id"], c["id"])
        self.assertEqual(self.data("/agent/status")["conflicts"]["unacknowledged"], 0)
        self.call("POST", "/agent/conflicts/999999/ack", status=404)


if __name__ == "__main__":
    unittest.main(verbosity=2)
