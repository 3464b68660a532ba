#!/usr/bin/env python3
"""Requests per technician-hour of fieldsyncd's schedule, time-lapsed 60x.

    python3 tests/bench/sync_cost.py [--budget 300] [--seconds 60] [--rate-limit 3/s]

Runs fieldsync-sim in the API's documented profile (--etag off
--timestamps s) on the bench scope (--seed 7 --customers 500 --work-orders
2000 --technicians 5) and a daemon for tech-001 with interval 1 s,
request_budget x 60 and max_age / 60 (docs/SYNC.md), so that one minute
stands for an hour.  Prints the initial sync's requests (and 429s), the
requests of the measured stretch (= per technician-hour), the status's
remote and freshness figures, and the cost of one explicit (full) sync,
which is what every cycle cost before the schedule.  Not a test: nothing
in `make check` runs it.  Standard library only; $FIELDSYNC_BUILD or
build/ for the programs.
"""
import argparse
import os
import sys
import time

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(TOP, "tests", "integration"))
from agentutil import AgentEnv  # noqa: E402
from simutil import wait_for  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--budget", type=int, default=300, help="requests per hour (not lapsed)")
    ap.add_argument("--seconds", type=float, default=60, help="measured stretch (60 = an hour)")
    ap.add_argument("--rate-limit", default=None, help="the sim's --rate-limit, e.g. 3/s")
    args = ap.parse_args()
    os.environ.setdefault("FIELDSYNC_BUILD", os.path.join(TOP, "build"))
    sim = ["--seed", "7", "--customers", "500", "--work-orders", "2000", "--technicians", "5",
           "--etag", "off", "--timestamps", "s"]
    if args.rate_limit:
        sim += ["--rate-limit", args.rate_limit]
    cfg = "request_budget = %d\nmax_age = %d\n" % (args.budget * 60, 86400 // 60)
    with AgentEnv(sim_args=sim, agent_args=("--interval", "1"), config=cfg) as env:
        a = env.agent
        t0 = time.monotonic()
        wait_for(lambda: a.status().get("last_success_at"), 900, 0.1, "the initial sync")
        st = env.sim.stats()
        print("initial sync: %.1f s, %d requests, %d answered 429; replica %s"
              % (time.monotonic() - t0, st["requests"], st.get("rate_limited", 0),
                 a.status()["replica"]))
        env.sim.control("DELETE", "stats")
        t1 = time.monotonic()
        wait_for(lambda: time.monotonic() - t1 >= args.seconds, args.seconds + 5, 0.2,
                 "the measured stretch")
        st = env.sim.stats()
        el = time.monotonic() - t1
        n, limited = st["requests"], st.get("rate_limited", 0)
        print("budget %d/h: %d requests in %.1f s = %.0f per technician-hour; %d answered 429"
              " (%.2f %%)" % (args.budget, n, el, n * 60.0 / el, limited,
                              100.0 * limited / max(1, n)))
        status = a.status()
        print("remote:", status["remote"])
        print("freshness:", status["freshness"])
        env.sim.control("DELETE", "stats")
        a.sync(timeout=900)
        full = env.sim.stats()["requests"]
        print("one explicit (full) sync: %d requests; a cycle every 60 s of those = %d an hour"
              % (full, full * 60))


if __name__ == "__main__":
    main()
