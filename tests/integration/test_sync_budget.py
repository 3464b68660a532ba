"""fieldsyncd's revalidation schedule against fieldsync-sim in the API's
documented profile (--etag off --timestamps s), time-lapsed 60x (interval
1 s, request_budget x 60, max_age / 60; docs/SYNC.md): the configuration
keys reach the engine, the steady state stays within the budget, a work
order newly assigned for today shows within 2 cycles, GET /agent/status
and `fieldsync status` show the remote and freshness figures, records
carry _sync.checked_at, and an explicit sync still brings everything.

Cycles are counted from the agent's own status (last_sync_at), so no
assertion depends on how fast this machine is.
"""
import datetime
import os
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from agentutil import AgentEnv, build_dir  # noqa: E402
from simutil import wait_for  # noqa: E402

DOCUMENTED = ("--seed", "7", "--etag", "off", "--timestamps", "s")
BUDGET = 300 * 60
MAX_AGE = 86400 // 60
CONFIG = "request_budget = %d\nmax_age = %d\n" % (BUDGET, MAX_AGE)


class CycleCounter:
    """Counts the agent's finished cycles by watching last_sync_at."""

    def __init__(self, agent):
        self.agent = agent
        self.last = agent.status().get("last_sync_at")
        self.count = 0

    def poll(self):
        now = self.agent.status().get("last_sync_at")
        if now != self.last:
            self.last = now
            self.count += 1
        return self.count

    def wait(self, n, timeout=60.0):
        target = self.count + n
        wait_for(lambda: self.poll() >= target, timeout, 0.05, "%d cycles" % n)


def initial_sync_done(agent):
    st = agent.status()
    return st.get("last_success_at") is not None


class SyncBudgetTest(unittest.TestCase):
    def env(self, sim_args=DOCUMENTED):
        return AgentEnv(sim_args=sim_args, agent_args=("--interval", "1"), config=CONFIG)

    def test_steady_state_within_budget_and_status(self):
        with self.env() as env:
            a = env.agent
            wait_for(lambda: initial_sync_done(a), 60, 0.05, "the initial sync")
            env.sim.control("DELETE", "stats")
            t0 = time.monotonic()
            cycles = CycleCounter(a)
            cycles.wait(15)
            requests = env.sim.stats()["requests"]
            hours = (time.monotonic() - t0) / 3600.0
            # The bucket holds two intervals' worth at most.
            self.assertLessEqual(requests, BUDGET * hours + 2 * BUDGET / 3600.0 * 2)
            self.assertGreater(requests, 0)

            st = a.status()
            remote = st["remote"]
            self.assertEqual(remote["request_budget"], BUDGET)
            self.assertGreater(remote["requests_last_hour"], 0)
            self.assertIs(remote["rate_limited"], False)
            self.assertIs(remote["capabilities"]["etag"], False)
            self.assertIn("gzip", remote["capabilities"])
            self.assertIs(remote["capabilities"]["rate_limit_headers"], False)
            for part in ("hot", "all"):
                f = st["freshness"][part]
                for k in ("p50_s", "p95_s", "max_s"):
                    self.assertIn(k, f)
            self.assertLessEqual(st["freshness"]["all"]["max_s"], MAX_AGE)

            wo = a.get("/api/v1/work-orders?per_page=1")["data"][0]
            self.assertIn("checked_at", wo["_sync"])
            self.assertIsNotNone(wo["_sync"]["checked_at"])

            # For people: fieldsync status says what was spent and how old
            # the confirmations are.
            p = subprocess.run([os.path.join(build_dir(), "fieldsync"), "--socket", a.socket,
                                "status"], capture_output=True, text=True, env=env.env,
                               timeout=30)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertRegex(p.stdout, r"remote +\d+ requests in the last hour, budget %d"
                             % BUDGET)
            self.assertRegex(p.stdout, r"checked ago +hot p50 .*; all p50 ")

    def test_new_work_order_for_today_within_two_cycles(self):
        with self.env() as env:
            a = env.agent
            wait_for(lambda: initial_sync_done(a), 60, 0.05, "the initial sync")
            today = datetime.date.today().isoformat()
            r = env.sim.api("POST", "/api/v1/work-orders", {
                "customer_id": "cust-001", "priority": "urgent",
                "description": "gas smell", "technician_id": "tech-001",
                "scheduled_date": today + "T15:00:00Z"})
            self.assertEqual(r.status, 201)
            wid = r.json()["data"]["id"]
            cycles = CycleCounter(a)

            def there():
                cycles.poll()
                return a.request("GET", "/api/v1/work-orders/" + wid).status == 200
            wait_for(there, 30, 0.05, "the new work order on the socket")
            # The cycle running when it was created may have missed it.
            self.assertLessEqual(cycles.count, 2)

    def test_explicit_sync_brings_a_far_detail_change(self):
        with self.env() as env:
            a = env.agent
            wait_for(lambda: initial_sync_done(a), 60, 0.05, "the initial sync")
            wos = a.get("/api/v1/work-orders?per_page=100")["data"]
            far = max(wos, key=lambda w: w["scheduled_date"] or "")
            r = env.sim.api("PUT", "/api/v1/work-orders/" + far["id"],
                            {"description": "bring the long ladder"})
            self.assertEqual(r.status, 200)
            a.sync()
            got = a.get("/api/v1/work-orders/" + far["id"])["data"]
            self.assertEqual(got["description"], "bring the long ladder")


if __name__ == "__main__":
    unittest.main()
