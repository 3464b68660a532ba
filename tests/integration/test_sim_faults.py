#!/usr/bin/env python3
"""fieldsync-sim's injected faults (/__sim/faults): each happens at about
the asked rate, drops after apply really apply, offline drops everything,
429 carries Retry-After, latency adds at least the asked delay, and the
method and path restrictions hold.  Rates are checked with wide bands and
delays with lower bounds only: machines are noisy."""
import http.client
import json
import os
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from simutil import Sim, SimTestCase, wait_for  # noqa: E402

DROPPED = "dropped"
N = 400


class FaultCase(SimTestCase):
    ARGS = ("--customers", "20", "--work-orders", "40")

    def setUp(self):
        self.sim.reset()   # also clears faults, stats and the log

    def send(self, method, path, body=None, headers=None, key=True):
        """One request on a fresh connection: a Response, or DROPPED when
        the connection was closed without an answer."""
        try:
            if key:
                return self.sim.api(method, path, body, headers)
            return self.sim.request(method, path, body, headers)
        except (http.client.HTTPException, ConnectionError, OSError):
            return DROPPED

    def outcomes(self, n, method="GET", path="/api/v1/work-orders/wo-00001", body=None):
        out = []
        for _ in range(n):
            r = self.send(method, path, body)
            out.append(r if r == DROPPED else r.status)
        return out

    def assert_rate(self, outcomes, what, lo, hi):
        rate = sum(o == what for o in outcomes) / len(outcomes)
        self.assertTrue(lo <= rate <= hi, "rate of %s was %.3f, not in [%.2f, %.2f]"
                        % (what, rate, lo, hi))
        return rate


class RatesTest(FaultCase):
    def test_error_rate(self):
        self.sim.set_faults(error_rate=0.25, error_status=503)
        out = self.outcomes(N)
        self.assert_rate(out, 503, 0.15, 0.35)
        self.assertEqual(set(out), {200, 503})
        r = next(r for r in (self.send("GET", "/api/v1/customers") for _ in range(100))
                 if r != DROPPED and r.status == 503)
        err = r.json()["error"]
        self.assertEqual(sorted(err), ["code", "message"])
        self.assertTrue(r.headers["Date"])

    def test_error_status_is_configurable(self):
        self.sim.set_faults(error_rate=1, error_status=500)
        self.assertEqual(set(self.outcomes(20)), {500})
        self.sim.set_faults(error_status=502)
        self.assertEqual(set(self.outcomes(20)), {502})

    def test_rate_429_carries_retry_after(self):
        self.sim.set_faults(rate_429=0.3, retry_after=7)
        seen = []
        for _ in range(N):
            r = self.send("GET", "/api/v1/customers/cust-001")
            seen.append(r.status)
            if r.status == 429:
                self.assertEqual(r.headers["Retry-After"], "7")
                self.assertEqual(r.json()["error"]["code"], "rate_limited")
            else:
                self.assertIsNone(r.headers.get("Retry-After"))
        self.assert_rate(seen, 429, 0.2, 0.4)

    def test_drop_rate(self):
        self.sim.set_faults(drop_rate=0.25)
        out = self.outcomes(N)
        rate = self.assert_rate(out, DROPPED, 0.15, 0.35)
        self.assertEqual(set(out), {200, DROPPED})
        log = self.sim.control("GET", "log")
        self.assertEqual(sum(e["dropped"] for e in log), round(rate * N))
        stats = self.sim.control("GET", "stats")
        self.assertEqual(stats["routes"]["GET /api/v1/work-orders/{id}"]["status"]["dropped"],
                         round(rate * N))

    def test_bad_body_rate(self):
        self.sim.set_faults(bad_body_rate=0.25)
        bad = 0
        for _ in range(N):
            r = self.send("GET", "/api/v1/work-orders?per_page=5")
            self.assertEqual(r.status, 200)
            try:
                r.json()
            except ValueError:
                bad += 1
        self.assertTrue(0.15 <= bad / N <= 0.35, bad / N)
        self.sim.set_faults(bad_body_rate=1)
        for method, path, body in (("GET", "/api/v1/customers/cust-001", None),
                                   ("POST", "/api/v1/work-orders", {"customer_id": "cust-001"}),
                                   ("DELETE", "/api/v1/work-orders/wo-00002", None)):
            r = self.send(method, path, body)
            self.assertEqual(r.status, 200, path)
            self.assertRaises(ValueError, json.loads, r.body.decode())


class DropsTest(FaultCase):
    def test_drop_after_apply_really_applied_the_write(self):
        self.sim.set_faults(drop_rate=1, drop_after_apply=1, methods=["POST"])
        h = {"Idempotency-Key": "op-dropped"}
        self.assertEqual(self.send("POST", "/api/v1/customers", {"name": "Saved Anyway"}, h),
                         DROPPED)
        # GETs are not restricted: they answer, and see the write
        found = self.send("GET", "/api/v1/customers?search=saved%20anyway")
        self.assertEqual([c["name"] for c in found.json()["data"]], ["Saved Anyway"])
        log = self.sim.control("GET", "log")
        self.assertEqual([(e["method"], e["status"], e["applied"], e["dropped"],
                           e["idempotency_key"]) for e in log][0],
                         ("POST", 201, True, True, "op-dropped"))
        # the client's retry with the same key gets the first answer, no copy
        self.sim.clear_faults()
        r = self.send("POST", "/api/v1/customers", {"name": "Saved Anyway"}, h)
        self.assertEqual(r.status, 201)
        self.assertEqual(r.json()["data"]["name"], "Saved Anyway")
        names = [c["name"] for c in self.sim.state()["customers"]]
        self.assertEqual(names.count("Saved Anyway"), 1)

    def test_drop_before_apply_applies_nothing(self):
        self.sim.set_faults(drop_rate=1, drop_after_apply=0)
        before = self.sim.state()
        self.assertEqual(self.send("POST", "/api/v1/customers", {"name": "Never Made"}),
                         DROPPED)
        self.assertEqual(self.send("PUT", "/api/v1/work-orders/wo-00001", {"notes": "no"}),
                         DROPPED)
        self.assertEqual(self.sim.state(), before)
        log = self.sim.control("GET", "log")
        self.assertEqual([(e["applied"], e["dropped"], e["status"]) for e in log],
                         [(False, True, None)] * 2)

    def test_drop_after_apply_fraction(self):
        self.sim.set_faults(drop_rate=1, drop_after_apply=0.5)
        for i in range(200):
            self.assertEqual(self.send("PUT", "/api/v1/work-orders/wo-00003",
                                       {"notes": "n%d" % i}), DROPPED)
        log = self.sim.control("GET", "log")
        applied = [e for e in log if e["applied"]]
        self.assertTrue(0.35 <= len(applied) / 200 <= 0.65, len(applied))
        self.assertTrue(all(e["dropped"] for e in log))
        # the last applied write is what the record holds
        last = [e for e in log if e["applied"]][-1]["seq"] - log[0]["seq"]
        self.sim.clear_faults()
        wo = self.send("GET", "/api/v1/work-orders/wo-00003").json()["data"]
        self.assertEqual(wo["notes"], "n%d" % last)

    def test_offline_drops_everything_but_the_controls(self):
        self.sim.set_faults(offline=True)
        for method, path, body, key in (
                ("GET", "/api/v1/work-orders", None, True),
                ("GET", "/api/v1/customers/cust-001", None, True),
                ("POST", "/api/v1/customers", {"name": "Offline"}, True),
                ("DELETE", "/api/v1/work-orders/wo-00001", None, True),
                ("GET", "/api/v1/no-such-route", None, True),
                ("GET", "/api/v1/customers", None, False)):
            with self.subTest(method=method, path=path):
                self.assertEqual(self.send(method, path, body, key=key), DROPPED)
        self.assertTrue(self.sim.control("GET", "faults")["offline"])
        self.assertEqual(len(self.sim.state()["customers"]), 20)
        self.assertEqual(len(self.sim.control("GET", "log")), 6)
        self.sim.set_faults(offline=False)
        self.assertEqual(self.send("GET", "/api/v1/work-orders").status, 200)
        self.assertEqual(self.send("GET", "/api/v1/work-orders/wo-00001").status, 200)


class ShapingTest(FaultCase):
    def test_latency_adds_at_least_the_asked_delay(self):
        self.sim.set_faults(latency_ms=150)
        for method, path, body in (("GET", "/api/v1/work-orders/wo-00001", None),
                                   ("GET", "/api/v1/customers", None),
                                   ("PUT", "/api/v1/customers/cust-002", {"notes": "slow"})):
            t = time.monotonic()
            r = self.send(method, path, body)
            self.assertGreaterEqual(time.monotonic() - t, 0.15)
            self.assertEqual(r.status, 200)

    def test_latency_on_concurrent_clients(self):
        self.sim.set_faults(latency_ms=200)
        times, errors = [], []

        def client():
            try:
                t = time.monotonic()
                r = self.send("GET", "/api/v1/work-orders/wo-00005")
                times.append(time.monotonic() - t)
                if r == DROPPED or r.status != 200:
                    errors.append(r)
            except Exception as e:  # reported below, not lost in the thread
                errors.append(e)

        threads = [threading.Thread(target=client) for _ in range(8)]
        for th in threads:
            th.start()
        for th in threads:
            th.join(60)
        self.assertEqual(errors, [])
        self.assertEqual(len(times), 8)
        self.assertTrue(all(t >= 0.2 for t in times), times)

    def test_methods_restriction(self):
        self.sim.set_faults(error_rate=1, error_status=503, methods=["POST", "PUT"])
        self.assertEqual(set(self.outcomes(10)), {200})
        self.assertEqual(self.send("POST", "/api/v1/work-orders",
                                   {"customer_id": "cust-001"}).status, 503)
        self.assertEqual(self.send("PUT", "/api/v1/work-orders/wo-00001",
                                   {"notes": "x"}).status, 503)
        self.assertEqual(self.send("DELETE", "/api/v1/work-orders/wo-00001").status, 204)
        self.assertEqual(self.sim.control("GET", "faults")["methods"], ["POST", "PUT"])

    def test_path_prefix_restriction(self):
        self.sim.set_faults(drop_rate=1, path_prefix="/api/v1/customers")
        self.assertEqual(self.send("GET", "/api/v1/customers"), DROPPED)
        self.assertEqual(self.send("GET", "/api/v1/customers/cust-001/contacts"), DROPPED)
        self.assertEqual(self.send("GET", "/api/v1/work-orders").status, 200)
        self.sim.set_faults(path_prefix=None, latency_ms=0)
        self.assertEqual(self.send("GET", "/api/v1/work-orders"), DROPPED)

    def test_bad_settings_are_400_and_change_nothing(self):
        self.sim.set_faults(latency_ms=5, error_rate=0.1)
        before = self.sim.control("GET", "faults")
        for body in ({"latency": 5}, {"error_rate": "high"}, {"error_rate": 1.5},
                     {"drop_rate": -0.1}, {"latency_ms": -1}, {"latency_ms": 2.5},
                     {"error_status": 200}, {"retry_after": "soon"}, {"offline": 1},
                     {"methods": "POST"}, {"methods": ["PATCH"]}, {"methods": [1]},
                     {"path_prefix": 5}, {"error_rate": 0.5, "nonsense": True}, [1],
                     "not json"):
            with self.subTest(body=body):
                r = self.sim.request("POST", "/__sim/faults",
                                     body if isinstance(body, str) else json.dumps(body))
                self.assertEqual(r.status, 400, r.body)
                self.assertEqual(r.json()["error"]["code"], "bad_request")
        self.assertEqual(self.sim.control("GET", "faults"), before)
        cleared = self.sim.clear_faults()
        self.assertEqual((cleared["latency_ms"], cleared["error_rate"], cleared["offline"]),
                         (0, 0, False))

    def test_controls_are_never_faulted(self):
        self.sim.set_faults(error_rate=1, drop_rate=1, latency_ms=0, rate_429=1)
        for name in ("faults", "state", "stats", "log"):
            self.sim.control("GET", name)


class StopTest(unittest.TestCase):
    def test_stop_while_a_delayed_request_waits(self):
        sim = Sim("--customers", "2", "--work-orders", "2").start()
        try:
            sim.set_faults(latency_ms=60000)
            conn = sim.connect(timeout=60)
            conn.request("GET", "/api/v1/customers",
                         headers={"Authorization": "Bearer " + sim.api_key})
            wait_for(lambda: sim.control("GET", "stats")["delayed"] == 1, 30,
                     what="the request to be delayed")
            start = time.monotonic()
            self.assertEqual(sim.stop(), 0)
            self.assertLess(time.monotonic() - start, 30)
            conn.close()
            self.assertNotIn("Sanitizer", sim.stderr())
        finally:
            sim.close()


class ReproducibleTest(unittest.TestCase):
    def sequence(self, seed):
        with Sim("--seed", str(seed), "--customers", "5", "--work-orders", "5") as sim:
            sim.set_faults(error_rate=0.5, error_status=503)
            return [sim.api("GET", "/api/v1/customers/cust-001").status for _ in range(60)]

    def test_same_seed_same_faults(self):
        a = self.sequence(3)
        self.assertEqual(a, self.sequence(3))
        self.assertNotEqual(a, self.sequence(4))
        self.assertEqual(set(a), {200, 503})


if __name__ == "__main__":
    unittest.main(verbosity=1)
