#!/usr/bin/env python3
"""fieldsync-sim's API profiles and load controls: --etag on|off,
--timestamps ms|s, --rate-limit and --churn, each checked over HTTP against
the real build/fieldsync-sim.  `--etag off --timestamps s` is the API as its
spec pages document it; the sync tests and the bench use it as their main
profile, so what it leaves out is asserted here."""
import datetime
import os
import re
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from simutil import (Sim, SimTestCase, parse_ratelimit, sanitizer_trouble,  # noqa: E402
                     sim_binary, wait_for)

SMALL = ("--customers", "10", "--work-orders", "30", "--technicians", "3")
WO = "/api/v1/work-orders/wo-00001"
# every kind of answer a client can get, reads and writes, details and lists
READS = (WO, "/api/v1/work-orders?per_page=5", "/api/v1/customers/cust-001",
         "/api/v1/customers?per_page=5", "/api/v1/customers/cust-001/contacts",
         "/api/v1/customers/cust-001/assets", "/api/v1/customers/cust-001/work-orders")


def run_sim(*args):
    return subprocess.run([sim_binary()] + list(args), stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=60)


class EtagOffTest(SimTestCase):
    ARGS = SMALL + ("--etag", "off")

    def test_no_etag_on_any_answer(self):
        for path in READS:
            with self.subTest(path=path):
                r = self.sim.api("GET", path)
                self.assertEqual(r.status, 200)
                self.assertIsNone(r.headers.get("ETag"))
        r = self.sim.api("PUT", WO, {"priority": "urgent"})
        self.assertEqual(r.status, 200)
        self.assertIsNone(r.headers.get("ETag"))
        r = self.sim.api("POST", "/api/v1/customers", {"name": "Etagless Ltd"})
        self.assertEqual(r.status, 201)
        self.assertIsNone(r.headers.get("ETag"))

    def test_if_none_match_is_ignored(self):
        for path in (WO, "/api/v1/work-orders?per_page=5"):
            with self.subTest(path=path):
                first = self.sim.api("GET", path)
                for inm in ('*', '"anything"', 'W/"x", *'):
                    r = self.sim.api("GET", path, headers={"If-None-Match": inm})
                    self.assertEqual(r.status, 200)
                    self.assertEqual(r.body, first.body)


class EtagOnTest(SimTestCase):
    """The default stays as it was: validators and 304 (the ETag path of
    the sync tests)."""
    ARGS = SMALL + ("--etag", "on")

    def test_etag_and_304(self):
        for path in (WO, "/api/v1/work-orders?per_page=5"):
            with self.subTest(path=path):
                r = self.sim.api("GET", path)
                tag = r.headers["ETag"]
                self.assertTrue(tag.startswith('"'), tag)
                r = self.sim.api("GET", path, headers={"If-None-Match": tag})
                self.assertEqual(r.status, 304)
                self.assertEqual(r.body, b"")


SECONDS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
MILLIS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def stamps(obj, found=None):
    """Every created_at/updated_at value anywhere in a JSON document."""
    found = [] if found is None else found
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k in ("created_at", "updated_at") and v is not None:
                found.append(v)
            else:
                stamps(v, found)
    elif isinstance(obj, list):
        for v in obj:
            stamps(v, found)
    return found


class TimestampsSecondsTest(SimTestCase):
    """--etag off --timestamps s: the API exactly as documented."""
    ARGS = SMALL + ("--etag", "off", "--timestamps", "s")

    def test_every_stamp_has_second_resolution(self):
        seen = []
        for path in READS:
            seen += stamps(self.sim.api("GET", path).json())
        r = self.sim.api("POST", "/api/v1/customers", {"name": "Second Co"})
        cust = r.json()["data"]
        seen += stamps(r.json())
        r = self.sim.api("POST", "/api/v1/customers/%s/contacts" % cust["id"],
                         {"name": "Ann Second", "phone": "+1-555-000-0001"})
        seen += stamps(r.json())
        seen += stamps(self.sim.api("PUT", WO, {"priority": "low"}).json())
        seen += stamps(self.sim.state())
        self.assertGreater(len(seen), 50)
        bad = [s for s in seen if not SECONDS.match(s)]
        self.assertEqual(bad, [])

    def test_writes_in_one_second_share_updated_at_but_stay_ordered(self):
        # Writes until two land in the same second (the first pair does,
        # unless a second boundary falls between them).
        def same_second_pair():
            a = self.sim.api("PUT", WO, {"description": "first"}).json()["data"]
            b = self.sim.api("PUT", WO, {"description": "second"}).json()["data"]
            return (a, b) if a["updated_at"] == b["updated_at"] else None
        a, b = wait_for(same_second_pair, timeout=10, what="two writes in one second")
        self.assertEqual(b["description"], "second")
        # the later write is the one the record keeps
        now = self.sim.api("GET", WO).json()["data"]
        self.assertEqual(now["description"], "second")
        self.assertEqual(now["updated_at"], b["updated_at"])

    def test_created_after_compares_what_a_client_sees(self):
        cust = self.sim.api("POST", "/api/v1/customers", {"name": "Just Made"}).json()["data"]
        seen = cust["created_at"]
        shown = datetime.datetime.strptime(seen, "%Y-%m-%dT%H:%M:%SZ")
        earlier = (shown - datetime.timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        for after, listed in ((seen, False), (earlier, True)):
            r = self.sim.api("GET", "/api/v1/customers?per_page=100&created_after=" + after)
            self.assertEqual(cust["id"] in [c["id"] for c in r.json()["data"]], listed, after)


class TimestampsDefaultTest(SimTestCase):
    ARGS = SMALL

    def test_default_is_milliseconds(self):
        r = self.sim.api("PUT", WO, {"priority": "high"})
        self.assertTrue(MILLIS.match(r.json()["data"]["updated_at"]), r.json())


RL_HEADERS = ("RateLimit-Policy", "RateLimit", "X-RateLimit-Limit", "X-RateLimit-Remaining",
              "X-RateLimit-Reset")


def ratelimit(r):
    return parse_ratelimit(r.headers)


class RateLimitTest(SimTestCase):
    """5 per hour: a token comes back every 720 s, so none does during a
    test; reset refills the bucket."""
    ARGS = SMALL + ("--rate-limit", "5/h")

    def setUp(self):
        self.sim.reset()

    def test_bucket_drains_then_429_with_retry_after(self):
        left = []
        for _ in range(5):
            r = self.sim.api("GET", WO)
            self.assertEqual(r.status, 200)
            self.assertEqual(r.headers["RateLimit-Policy"], "5;w=3600")
            self.assertEqual(ratelimit(r)["window"], 3600)
            left.append(ratelimit(r)["remaining"])
        self.assertEqual(left, [4, 3, 2, 1, 0])
        r = self.sim.api("GET", WO)
        self.assertEqual(r.status, 429)
        self.assertEqual(r.json()["error"]["code"], "rate_limited")
        self.assertTrue(r.json()["error"]["message"])
        retry = int(r.headers["Retry-After"])
        self.assertTrue(600 <= retry <= 720, retry)
        rl = ratelimit(r)
        self.assertEqual((rl["limit"], rl["remaining"]), (5, 0))
        # seconds until the bucket is full again: five tokens at 720 s each
        self.assertTrue(3000 <= rl["reset"] <= 3600, rl)
        # writes are refused alike, and change nothing
        before = self.sim.state()["work_orders"][0]
        r = self.sim.api("PUT", WO, {"priority": "urgent" if before["priority"] != "urgent"
                                     else "low"})
        self.assertEqual(r.status, 429)
        self.assertEqual(self.sim.state()["work_orders"][0], before)
        stats = self.sim.stats()
        self.assertEqual(stats["rate_limited"], 2)
        self.assertEqual(stats["routes"]["GET /api/v1/work-orders/{id}"]["status"]["429"], 1)
        self.assertEqual(stats["rate_limit"]["remaining"], 0)

    def test_headers_on_every_answer(self):
        answers = [self.sim.api("GET", "/api/v1/nowhere"),                     # 404
                   self.sim.api("PUT", WO, {"priority": "nope"}),              # 422
                   self.sim.request("GET", WO),                                # 401
                   self.sim.api("POST", "/api/v1/customers", {"name": "RL Inc"})]  # 201
        tag = self.sim.api("GET", WO).headers["ETag"]
        answers.append(self.sim.api("GET", WO, headers={"If-None-Match": tag}))  # 304
        self.assertEqual([r.status for r in answers], [404, 422, 401, 201, 304])
        for r in answers:
            for h in RL_HEADERS:
                self.assertIn(h, r.headers, (r.status, h))
        # the 401 took no token; the other four and the ETag GET did
        self.assertEqual(ratelimit(answers[-1])["remaining"], 0)
        self.assertEqual(ratelimit(answers[2])["remaining"], 3)

    def test_controls_are_not_limited(self):
        for _ in range(6):
            self.sim.api("GET", WO)
        for _ in range(20):
            r = self.sim.request("GET", "/__sim/faults")
            self.assertEqual(r.status, 200)
            self.assertNotIn("RateLimit", r.headers)
        self.sim.reset()
        self.assertEqual(ratelimit(self.sim.api("GET", WO))["remaining"], 4)
        self.assertEqual(self.sim.stats()["rate_limited"], 0)


class RateLimitRefillTest(SimTestCase):
    ARGS = SMALL + ("--rate-limit", "2/s")

    def test_tokens_come_back(self):
        statuses = [self.sim.api("GET", WO).status for _ in range(4)]
        self.assertIn(429, statuses)
        r = wait_for(lambda: (lambda x: x if x.status == 200 else None)(self.sim.api("GET", WO)),
                     timeout=10, interval=0.2, what="a token back")
        self.assertEqual(r.headers["RateLimit-Policy"], "2;w=1")


class NoRateLimitTest(SimTestCase):
    ARGS = SMALL

    def test_no_headers_and_no_429_without_the_flag(self):
        for _ in range(30):
            r = self.sim.api("GET", WO)
            self.assertEqual(r.status, 200)
        for h in RL_HEADERS:
            self.assertNotIn(h, r.headers)
        self.assertIsNone(self.sim.stats()["rate_limit"])


KINDS = {"status", "priority", "scheduled_date", "reassign", "new_work_order",
         "description", "contact_phone", "customer_email"}
IN_SUMMARY = {"status", "priority", "scheduled_date", "reassign", "new_work_order"}
FAST = 360000   # a hundred edits a second: a test sees many in little time


def changes(sim, since=0):
    return sim.changes(since)


def wait_changes(sim, n, since=0, timeout=60):
    """Waits until at least n edits after since are logged; returns them."""
    return wait_for(lambda: (lambda d: d if len(d["data"]) >= n else None)(changes(sim, since)),
                    timeout=timeout, interval=0.05, what="%d churn edits" % n)


def pause(sim):
    """Pauses the churn; returns the last edit's seq (none follows)."""
    return sim.set_churn(rate_per_hour=0)["last_seq"]


class ChurnTest(SimTestCase):
    ARGS = SMALL + ("--seed", "3", "--churn", "%d/h" % FAST, "--timestamps", "s")

    def setUp(self):
        self.sim.reset()   # the flag's rate, every kind, an empty log

    def test_log_shape_and_every_kind(self):
        log = wait_changes(self.sim, 200)
        last = pause(self.sim)
        data = changes(self.sim)["data"]
        self.assertGreaterEqual(len(data), 200)
        self.assertEqual(data[-1]["seq"], last)
        seqs = [c["seq"] for c in data]
        self.assertEqual(seqs, list(range(seqs[0], seqs[0] + len(seqs))))
        self.assertEqual({c["kind"] for c in data}, KINDS)
        self.assertGreaterEqual(log["first_seq"], 1)
        ats = [c["at"] for c in data]
        self.assertEqual(ats, sorted(ats))
        for c in data:
            self.assertTrue(MILLIS.match(c["at"]), c)
            self.assertTrue(SECONDS.match(c["updated_at"]), c)
            self.assertEqual(c["in_summary"], c["kind"] in IN_SUMMARY, c)
            want = {"contact_phone": "contact", "customer_email": "customer"}
            self.assertEqual(c["entity"], want.get(c["kind"], "work_order"), c)
            self.assertTrue(c["customer_id"].startswith("cust-"), c)
            if c["entity"] == "work_order":
                self.assertIsNotNone(c["scheduled_date"], c)
            else:
                self.assertIsNone(c["technician_id"], c)
            if c["kind"] == "new_work_order":
                self.assertEqual(c["fields"], [])
                self.assertTrue(c["technician_id"].startswith("tech-"), c)
            else:
                self.assertEqual(len(c["fields"]), 1, c)
                self.assertIsNotNone(c["value"], c)
                self.assertNotEqual(c["value"], c["previous"], c)
            if c["kind"] == "reassign":
                self.assertEqual(c["value"], c["technician_id"], c)
                self.assertEqual(c["previous"], c["previous_technician_id"], c)

    def test_edits_are_real_api_writes(self):
        wait_changes(self.sim, 150)
        pause(self.sim)
        data = changes(self.sim)["data"]
        today = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")
        latest = {}
        for c in data:
            latest[(c["entity"], c["id"], tuple(c["fields"]))] = c
        wo_last = {}
        for c in data:
            if c["entity"] == "work_order":
                wo_last[c["id"]] = c
        for (entity, rid, fields), c in latest.items():
            if entity == "work_order":
                d = self.sim.api("GET", "/api/v1/work-orders/" + rid).json()["data"]
                if fields == ("technician",):
                    self.assertEqual(d["technician"]["id"], c["value"], c)
                elif fields:
                    self.assertEqual(d[fields[0]], c["value"], c)
                if wo_last[rid] is c:
                    self.assertEqual(d["updated_at"], c["updated_at"], c)
                    self.assertEqual(d["scheduled_date"], c["scheduled_date"], c)
                    self.assertEqual((d["technician"] or {}).get("id"), c["technician_id"], c)
            elif entity == "customer":
                d = self.sim.api("GET", "/api/v1/customers/" + rid).json()["data"]
                self.assertEqual(d["email"], c["value"], c)
            else:
                r = self.sim.api("GET", "/api/v1/customers/%s/contacts?per_page=100"
                                 % c["customer_id"])
                phone = {k["id"]: k["phone"] for k in r.json()["data"]}[rid]
                self.assertEqual(phone, c["value"], c)
        # a new work order is in its technician's list for today
        new = [c for c in data if c["kind"] == "new_work_order"]
        self.assertTrue(new)
        for c in new:
            self.assertEqual(c["scheduled_date"][:10], today, c)
            self.assertEqual(c["value"], None)
            self.assertEqual(self.sim.api("GET", "/api/v1/work-orders/" + c["id"]).status, 200)
        for c in (c for c in new if wo_last[c["id"]] is c):   # not edited since
            r = self.sim.api("GET", "/api/v1/work-orders?per_page=100&technician_id=%s"
                             "&from_date=%s&to_date=%s" % (c["technician_id"], today, today))
            self.assertIn(c["id"], [w["id"] for w in r.json()["data"]])

    def test_since_kinds_pause_and_reset(self):
        wait_changes(self.sim, 20)
        last = pause(self.sim)
        self.assertEqual(changes(self.sim, last)["data"], [])
        for _ in range(50):   # time passes while paused: nothing changes
            self.sim.api("GET", WO)
        self.assertEqual(changes(self.sim)["last_seq"], last)
        got = self.sim.control("POST", "churn", {"rate_per_hour": FAST, "kinds": ["status"]})
        self.assertEqual(got["kinds"], ["status"])
        self.assertEqual(got["rate_per_hour"], FAST)
        wait_changes(self.sim, 30, since=last)
        newer = changes(self.sim, last)["data"]
        self.assertTrue(newer)
        self.assertEqual({c["kind"] for c in newer}, {"status"})
        self.assertTrue(all(c["seq"] > last for c in newer))
        # bad settings change nothing
        for bad in ({"rate_per_hour": -1}, {"kinds": ["nope"]}, {"bogus": 1},
                    {"rate_per_hour": "fast"}, {"kinds": "status"}):
            r = self.sim.request("POST", "/__sim/churn", bad)
            self.assertEqual(r.status, 400, bad)
        self.assertEqual(self.sim.control("GET", "churn")["kinds"], ["status"])
        r = self.sim.request("GET", "/__sim/changes?since=x")
        self.assertEqual(r.status, 400)
        # reset: the flag's rate and kinds again, an empty log, seq rising
        before = pause(self.sim)
        self.sim.reset()
        got = self.sim.control("GET", "churn")
        self.assertEqual((got["rate_per_hour"], sorted(got["kinds"])), (FAST, sorted(KINDS)))
        after = wait_changes(self.sim, 5, since=before)
        self.assertGreater(after["data"][0]["seq"], before)


class ChurnReproducibleTest(unittest.TestCase):
    def test_same_seed_same_edits(self):
        runs = []
        for _ in range(2):
            sim = Sim(*SMALL, "--seed", "11", "--churn", "%d/h" % FAST).start()
            try:
                wait_changes(sim, 60)
                pause(sim)
                runs.append([(c["kind"], c["id"], c["value"], c["previous"])
                             for c in changes(sim)["data"][:60]])
            finally:
                code, err = sim.stop(), sim.stderr()
                sim.close()
            self.assertEqual(code, 0, err)
            self.assertFalse(sanitizer_trouble(err), err)
        self.assertEqual(runs[0], runs[1])


class ChurnControlTest(SimTestCase):
    """Without --churn nothing changes until a test asks."""
    ARGS = SMALL

    def test_off_by_default_then_started_at_run_time(self):
        got = self.sim.control("GET", "churn")
        self.assertEqual((got["rate_per_hour"], got["changes"], got["last_seq"]), (0, 0, 0))
        self.assertEqual(changes(self.sim), {"data": [], "last_seq": 0, "first_seq": 1})
        self.sim.control("POST", "churn", {"rate_per_hour": FAST})
        wait_changes(self.sim, 5)
        last = pause(self.sim)
        self.assertGreaterEqual(last, 5)
        # millisecond stamps by default
        self.assertTrue(all(MILLIS.match(c["updated_at"]) for c in changes(self.sim)["data"]))


class FlagsTest(unittest.TestCase):
    def test_help_lists_the_profile_flags(self):
        p = run_sim("--help")
        self.assertEqual(p.returncode, 0)
        for word in ("--etag", "--timestamps", "--rate-limit", "RateLimit-Policy",
                     "X-RateLimit-Reset", "--churn", "/__sim/changes", "/__sim/churn"):
            self.assertIn(word, p.stdout)

    def test_bad_values_exit_2_with_one_line(self):
        for args in (["--etag", "maybe"], ["--etag"], ["--etag", "ON"],
                     ["--timestamps", "us"], ["--timestamps"], ["--timestamps", "S"],
                     ["--rate-limit", "0/s"], ["--rate-limit", "5/day"], ["--rate-limit", "5"],
                     ["--rate-limit", "-1/s"], ["--rate-limit", "5/m"], ["--rate-limit", "x/h"],
                     ["--rate-limit", "1000001/s"], ["--churn", "x"], ["--churn", "5/day"],
                     ["--churn", "-1/h"], ["--churn", "3600001/h"], ["--churn", "5"]):
            with self.subTest(args=args):
                p = run_sim(*args)
                self.assertEqual(p.returncode, 2)
                self.assertEqual(p.stdout, "")
                self.assertEqual(len(p.stderr.strip().splitlines()), 1, p.stderr)

    def test_default_is_etag_on(self):
        with Sim(*SMALL) as sim:
            self.assertIn("ETag", sim.api("GET", WO).headers)


if __name__ == "__main__":
    unittest.main()
