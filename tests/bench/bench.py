#!/usr/bin/env python3
"""make bench: fieldsync's three speeds and its costs, each beside the best
baseline that can run in the same run on the same machine.

    tests/bench/bench.py BUILD_DIR [--quick] [--only PARTS] [--json FILE]

Runs the real programs (fieldsync-sim, fieldsyncd) from BUILD_DIR, curl,
redis-server/redis-benchmark and the helpers built from tests/bench/*.c
(httpload, benchtool), then prints ONE table: what | result | baseline |
ratio | goal | met.  Every figure is a median over repeated runs.  Progress
goes to stderr; the table to stdout; every raw figure to the --json file.

PARTS (comma-separated, default all): sync, drain, reads, during, write,
growth, cost, fleet.  cost and fleet (the request budget, issue 12) are in
tests/bench/budget.py and start sims of their own.  --quick runs fewer
repetitions and smaller sizes (for trying the bench, not for quoting).

Scopes.  "2,000 work orders" is the sim seeded with --seed 7 --customers
500 --work-orders 2000 and a daemon with neither technician_id nor
branch_id (the whole account): 2,000 work orders, 500 customers and their
contacts and assets (4,299 records).  Growth uses the same shape (4 work
orders per customer) at about 1,000, 10,000 and 100,000 records.

Not a test: nothing in `make check` runs this, and no figure here fails the
build.  Standard library only.
"""
import argparse
import datetime
import fcntl
import http.client
import json
import math
import os
import re
import shutil
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(TOP, "tests", "integration"))

CONNS = 8                 # the daemon's default max_connections
SEED = 7
TECHS = 5
SCOPE = (500, 2000)       # customers, work orders: the "2,000 work orders" scope
LATENCY_MS = 20
EDITS = 10000
GROWTH = ((1000, 117, 470), (10000, 1170, 4700), (100000, 11700, 47000))
IDLE_S = 60


def log(msg):
    sys.stderr.write("bench: %s\n" % msg)
    sys.stderr.flush()


def median(xs):
    return statistics.median(xs) if xs else float("nan")


def ms_of(rfc3339):
    d = datetime.datetime.strptime(rfc3339, "%Y-%m-%dT%H:%M:%S.%fZ")
    return d.replace(tzinfo=datetime.timezone.utc).timestamp() * 1000.0


# ---- the machine and its loopback ------------------------------------------

def machine():
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem_kb = int(f.readline().split()[1])
    u = os.uname()
    return {"cores": os.cpu_count(), "cpu": model, "kernel": "%s %s" % (u.sysname, u.release),
            "memory_gib": round(mem_kb / 1048576.0, 1)}


def loopback_up():
    """In a fresh network namespace lo is down: bring it up (ioctl)."""
    siocgifflags, siocsifflags, iff_up = 0x8913, 0x8914, 0x1
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        ifr = struct.pack("16sh14x", b"lo", 0)
        flags = struct.unpack("16sh14x", fcntl.ioctl(s, siocgifflags, ifr))[1]
        if not flags & iff_up:
            fcntl.ioctl(s, siocsifflags, struct.pack("16sh14x", b"lo", flags | iff_up))
    finally:
        s.close()


def lo_bytes():
    """Bytes through lo so far (every packet once): the wire cost of
    HTTP between the daemon and the sim, headers included, when the bench
    runs alone in its own network namespace."""
    with open("/proc/net/dev") as f:
        for line in f:
            name, _, rest = line.partition(":")
            if name.strip() == "lo":
                return int(rest.split()[0])
    return 0


def proc_mem_kb(pid):
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM"):
                out[k] = int(v.split()[0])
    return out


def proc_cpu_s(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / float(ticks)


# ---- the bench ---------------------------------------------------------------

class Bench:
    def __init__(self, build, quick):
        self.build = os.path.abspath(build)
        self.quick = quick
        os.environ["FIELDSYNC_BUILD"] = self.build
        from simutil import Sim  # noqa: E402  (needs FIELDSYNC_BUILD)
        from agentutil import write_key
        self.tmp = tempfile.mkdtemp(prefix="fieldsync-bench-")
        os.chmod(self.tmp, 0o700)
        self.key = write_key(os.path.join(self.tmp, "api.key"))
        self.netns = os.environ.get("FIELDSYNC_BENCH_NETNS") == "1"
        if self.netns:
            loopback_up()
        self.sim = Sim("--seed", str(SEED), "--customers", str(SCOPE[0]),
                       "--work-orders", str(SCOPE[1]), "--technicians", str(TECHS),
                       workdir=self.tmp).start()
        self.scope = SCOPE
        self.httpload = os.path.join(self.build, "bench", "httpload")
        self.benchtool = os.path.join(self.build, "bench", "benchtool")
        self.results = {"machine": machine(), "netns": self.netns, "quick": quick}
        self.rows = []
        self.redis = None
        self.nagents = 0

    def close(self):
        if self.redis:
            self.redis.terminate()
            self.redis.wait()
        self.sim.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    # -- programs ------------------------------------------------------------
    def reseed(self, customers, work_orders):
        if self.scope != (customers, work_orders):
            self.sim.reset(seed=SEED, customers=customers, work_orders=work_orders,
                           technicians=TECHS)
            self.scope = (customers, work_orders)
        self.sim.clear_faults()

    def agent(self, log_level="warn"):
        """A daemon (not started) on the whole account, in its own dirs."""
        from agentutil import Agent, private_env
        self.nagents += 1
        root = os.path.join(self.tmp, "agent-%d" % self.nagents)
        os.mkdir(root, 0o700)
        env = private_env(root)
        env.pop("FIELDSYNC_TEST_BACKOFF_SCALE", None)   # real retry delays
        args = ["--api-url", self.sim.url + "/api/v1", "--api-key-file", self.key,
                "--interval", "3600", "--log-level", log_level]
        return Agent(root, env, args)

    def first_sync(self, a):
        """Starts a and returns the summary of its first full cycle.  The
        daemon syncs at start, sooner than a POST can join that cycle, so
        the remote is offline for it; the explicit sync then walks the
        whole scope from nothing (the sim's other faults stay as set)."""
        from simutil import wait_for
        self.sim.set_faults(offline=True)
        try:
            a.start()
            wait_for(lambda: a.status().get("last_sync_at"), 60, 0.01,
                     "the daemon's first (offline) cycle to end")
        finally:
            self.sim.set_faults(offline=False)
        s = a.sync(timeout=1800)
        if s["pulled"] == 0:
            raise RuntimeError("the first full sync pulled nothing: %r" % s)
        s["seconds"] = (ms_of(s["finished_at"]) - ms_of(s["started_at"])) / 1000.0
        return s

    def stats(self):
        return self.sim.control("GET", "stats")

    def zero_stats(self):
        self.sim.control("DELETE", "stats")

    def run_json(self, args, timeout=600):
        p = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=timeout, text=True)
        if p.returncode != 0:
            raise RuntimeError("%s failed (%d): %s" % (args[0], p.returncode, p.stderr))
        return json.loads(p.stdout.strip().splitlines()[-1])

    def load(self, a, paths_file, conns, seconds=None, count=None, rate=None,
             method=None, body=None, warmup=20):
        args = [self.httpload, "-s", a.socket, "-c", str(conns), "-f", paths_file,
                "-w", str(warmup)]
        args += ["-d", str(seconds)] if seconds else ["-n", str(count)]
        if rate:
            args += ["-r", str(rate)]
        if method:
            args += ["-m", method]
        if body:
            args += ["-b", body]
        r = self.run_json(args)
        if r["reconnects"]:
            log("warning: %d reconnects: keep-alive not kept" % r["reconnects"])
        return r

    def write_paths(self, name, paths):
        p = os.path.join(self.tmp, name)
        with open(p, "w") as f:
            f.write("\n".join(paths) + "\n")
        return p

    def row(self, what, result, baseline, ratio, goal, met):
        self.rows.append((what, result, baseline, ratio, goal,
                          "—" if met is None else "yes" if met else "NO"))

    def wait_idle(self, a, timeout=120):
        """Until the daemon has nothing queued and no cycle running."""
        from simutil import wait_for

        def idle():
            st = a.status()
            return not st["syncing"] and st["outbox"]["pending"] == 0
        wait_for(idle, timeout, 0.05, "the daemon to go idle")

    # -- initial sync and resync -----------------------------------------------
    def part_sync(self):
        reps0 = 2 if self.quick else 5
        reps20 = 1 if self.quick else 3
        self.reseed(*SCOPE)
        # The URLs the daemon fetches, from its debug log: the curl baseline
        # fetches exactly these, with the same connection count.
        a = self.agent(log_level="debug")
        s = self.first_sync(a)
        a.stop()
        urls = re.findall(r"debug: sync: GET (http://\S+)", a.stderr())
        records = s["pulled"]
        log("scope: %d records in %d GETs" % (records, len(urls)))
        cfg = os.path.join(self.tmp, "curl.cfg")
        with open(cfg, "w") as f:
            f.write("parallel\nparallel-max = %d\ncompressed\nno-progress-meter\n" % CONNS)
            f.write('header = "Authorization: Bearer sim-key"\n')
            for u in urls:
                f.write('url = "%s"\noutput = "/dev/null"\n' % u)

        def curl_once():
            t0 = time.monotonic()
            subprocess.run(["curl", "-sS", "-K", cfg], check=True, timeout=600)
            return time.monotonic() - t0

        out = {"records": records, "requests": len(urls)}
        for lat, reps in ((0, reps0), (LATENCY_MS, reps20)):
            self.sim.set_faults(latency_ms=lat) if lat else self.sim.clear_faults()
            agent_s, curl_s, init_b, re_b, init_w, re_w = [], [], [], [], [], []
            for r in range(reps):
                a = self.agent()
                self.zero_stats()
                w0 = lo_bytes()
                s = self.first_sync(a)
                w1 = lo_bytes()
                st = self.stats()
                agent_s.append(s["seconds"])
                init_b.append(st["bytes_out"])
                init_w.append(w1 - w0)
                if lat == 0:
                    self.zero_stats()
                    w0 = lo_bytes()
                    s2 = a.sync(timeout=600)
                    w1 = lo_bytes()
                    st = self.stats()
                    re_b.append(st["bytes_out"])
                    re_w.append(w1 - w0)
                    out["resync_requests"] = st["requests"]
                    out["resync_unchanged"] = s2["unchanged"]
                a.stop()
                curl_s.append(curl_once())
                log("initial sync %d ms, run %d/%d: agent %.2f s, curl %.2f s"
                    % (lat, r + 1, reps, agent_s[-1], curl_s[-1]))
            key = "sync_%dms" % lat
            out[key] = {"agent_s": agent_s, "curl_s": curl_s}
            ratio = median(agent_s) / median(curl_s)
            self.row("initial sync, 2,000 work orders (%d records), %d ms latency, %d conns"
                     % (records, lat, CONNS),
                     "%.2f s" % median(agent_s),
                     "curl --parallel: %.2f s" % median(curl_s),
                     "%.2f×" % ratio, "≤ 1.25×", ratio <= 1.25)
            if lat == 0:
                out["initial_body_bytes"], out["resync_body_bytes"] = init_b, re_b
                out["initial_wire_bytes"], out["resync_wire_bytes"] = init_w, re_w
                rb = median(re_b) / median(init_b)
                self.row("resync, no remote change: response body bytes (%d requests)"
                         % out["resync_requests"],
                         "%.0f KB" % (median(re_b) / 1000.0),
                         "initial: %.0f KB" % (median(init_b) / 1000.0),
                         "%.1f %%" % (100 * rb), "≤ 5 %", rb <= 0.05)
                if self.netns:
                    rw = median(re_w) / median(init_w)
                    self.row("resync, no remote change: wire bytes (headers too)",
                             "%.0f KB" % (median(re_w) / 1000.0),
                             "initial: %.0f KB" % (median(init_w) / 1000.0),
                             "%.1f %%" % (100 * rw), "(≤ 5 %)", rw <= 0.05)
        self.sim.clear_faults()
        self.results["sync"] = out

    # -- draining the outbox ---------------------------------------------------------
    def part_drain(self):
        reps = 1 if self.quick else 3
        self.reseed(*SCOPE)
        out = []
        for r in range(reps):
            self.sim.clear_faults()
            a = self.agent()
            self.first_sync(a)
            a.stop()
            db = os.path.join(a.root, "state", "fieldsync", "replica.db")
            q = self.run_json([self.benchtool, "queue-edits", db, str(EDITS),
                               "run %d at %.0f" % (r + 1, time.time())])
            self.sim.set_faults(latency_ms=LATENCY_MS)
            self.zero_stats()
            t0 = time.monotonic()
            a.start()
            while a.status()["outbox"]["pending"] > 0:
                time.sleep(0.02)
            t = time.monotonic() - t0
            a.stop()
            st = self.stats()
            gets = st["routes"].get("GET /api/v1/work-orders/{id}", {}).get("count", 0)
            puts = st["routes"].get("PUT /api/v1/work-orders/{id}", {}).get("count", 0)
            floor = 2.0 * q["ops"] / CONNS * LATENCY_MS / 1000.0
            out.append({"edits": q["edits"], "ops": q["ops"], "seconds": t, "gets": gets,
                        "puts": puts, "floor_s": floor})
            log("drain run %d/%d: %d edits as %d ops in %.2f s (floor %.2f s; %d GET, %d PUT)"
                % (r + 1, reps, q["edits"], q["ops"], t, floor, gets, puts))
        self.sim.clear_faults()
        t = median([o["seconds"] for o in out])
        floor = out[0]["floor_s"]
        ratio = floor / t
        self.row("drain %d queued edits on %d records (%d ops after coalescing), %d ms, %d conns"
                 % (EDITS, SCOPE[1], out[0]["ops"], LATENCY_MS, CONNS),
                 "%.0f edits/s (%.2f s)" % (EDITS / t, t),
                 "floor: %.0f edits/s (%d req ÷ %d × %d ms)"
                 % (EDITS / floor, 2 * out[0]["ops"], CONNS, LATENCY_MS),
                 "%.0f %%" % (100 * ratio), "≥ 70 %", ratio >= 0.70)
        self.results["drain"] = out

    # -- local reads, beside Redis ---------------------------------------------------
    def start_redis(self):
        if self.redis:
            return
        sock = os.path.join(self.tmp, "redis.sock")
        self.redis_sock = sock
        self.redis = subprocess.Popen(
            ["redis-server", "--port", "0", "--unixsocket", sock, "--unixsocketperm", "700",
             "--save", "", "--appendonly", "no", "--daemonize", "no", "--dir", self.tmp],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while not os.path.exists(sock):
            if time.monotonic() > deadline or self.redis.poll() is not None:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.05)

    def redis_get(self, size, conns, requests):
        """redis-benchmark GET of a size-byte value: rps, p50 and p99 (ms)."""
        p = subprocess.run(["redis-benchmark", "-s", self.redis_sock, "-t", "set,get",
                            "-d", str(size), "-c", str(conns), "-n", str(requests), "--csv"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           timeout=600, check=True)
        for line in p.stdout.splitlines():
            cols = [c.strip('"') for c in line.split(",")]
            if cols[0] == "GET":
                return {"rps": float(cols[1]), "p50_us": 1000 * float(cols[4]),
                        "p99_us": 1000 * float(cols[6])}
        raise RuntimeError("no GET line from redis-benchmark: %s" % p.stdout)

    def synced_agent(self):
        self.reseed(*SCOPE)
        a = self.agent()
        self.first_sync(a)
        return a

    def part_reads(self):
        reps = 1 if self.quick else 3
        secs = 1.0 if self.quick else 2.0
        self.start_redis()
        a = self.synced_agent()
        today = datetime.datetime.now(datetime.timezone.utc).date()
        week = today + datetime.timedelta(days=7)
        kinds = [
            ("GET by id", "/api/v1/work-orders/{id}",
             ["/api/v1/work-orders/wo-%05d" % i for i in range(1, SCOPE[1] + 1)]),
            ("list page", "/api/v1/work-orders?technician_id=…&from_date=…&to_date=…&per_page=25",
             ["/api/v1/work-orders?technician_id=tech-%03d&from_date=%s&to_date=%s&per_page=25"
              % (t, today, week) for t in range(1, TECHS + 1)]),
        ]
        out = {}
        for name, shown, paths in kinds:
            pf = self.write_paths("paths-%s" % name.replace(" ", "-"), paths)
            conn = a.connect()
            sizes = [len(a.request("GET", p, conn=conn).body) for p in paths[:50]]
            conn.close()
            size = int(statistics.mean(sizes))
            for c in (1, 16, 64):
                ours, theirs = [], []
                for _ in range(reps):
                    ours.append(self.load(a, pf, c, seconds=secs))
                    theirs.append(self.redis_get(size, c, 30000 if c == 1 else 150000))
                o = {k: median([x[k] for x in ours]) for k in ("rps", "p50_us", "p99_us")}
                t = {k: median([x[k] for x in theirs]) for k in ("rps", "p50_us", "p99_us")}
                out["%s c%d" % (name, c)] = {"agent": ours, "redis": theirs, "bytes": size}
                log("%s, %d clients: %.0f req/s p99 %.2f ms; redis %.0f req/s p99 %.2f ms"
                    % (name, c, o["rps"], o["p99_us"] / 1000, t["rps"], t["p99_us"] / 1000))
                ratio = o["rps"] / t["rps"]
                self.row("local %s %s, %d keep-alive client%s (%d B answers)"
                         % (name, shown, c, "" if c == 1 else "s", size),
                         "%.0f req/s, p50 %.2f ms, p99 %.2f ms"
                         % (o["rps"], o["p50_us"] / 1000, o["p99_us"] / 1000),
                         "Redis GET %d B: %.0f req/s, p50 %.2f ms, p99 %.2f ms"
                         % (size, t["rps"], t["p50_us"] / 1000, t["p99_us"] / 1000),
                         "%.2f×" % ratio, "≥ 1×; p99 ≤ 1 ms",
                         ratio >= 1.0 and o["p99_us"] <= 1000)
        a.stop()
        self.results["reads"] = out

    # -- a read while a large initial sync runs -----------------------------------
    def part_during(self):
        reps = 1 if self.quick else 2
        rate, window = 500, 4.0
        self.reseed(*SCOPE)
        paths = ["/api/v1/customers/cust-%03d" % i for i in range(1, 101)]
        pf = self.write_paths("paths-during", paths)
        busy, idle = [], []
        for r in range(reps):
            self.sim.set_faults(latency_ms=LATENCY_MS)
            a = self.agent()
            a.start()
            # The first list page's customers are committed first.
            deadline = time.monotonic() + 60
            while a.request("GET", paths[-1]).status != 200:
                if time.monotonic() > deadline:
                    raise RuntimeError("the first page never arrived")
                time.sleep(0.01)
            b = self.load(a, pf, 1, seconds=window, rate=rate)
            still = a.status()["syncing"]
            s = a.sync(timeout=600)
            i = self.load(a, pf, 1, seconds=window, rate=rate)
            a.stop()
            if not still:
                log("warning: the sync ended inside the measuring window")
            busy.append(b)
            idle.append(i)
            log("read during sync run %d/%d: p99 %.2f ms (idle %.2f ms); sync %.1f s"
                % (r + 1, reps, b["p99_us"] / 1000, i["p99_us"] / 1000,
                   (ms_of(s["finished_at"]) - ms_of(s["started_at"])) / 1000))
        self.sim.clear_faults()
        pb, pi = median([x["p99_us"] for x in busy]), median([x["p99_us"] for x in idle])
        self.row("local GET by id during the initial sync (2,000 work orders, %d ms), %d req/s"
                 % (LATENCY_MS, rate),
                 "p50 %.2f ms, p99 %.2f ms" % (median([x["p50_us"] for x in busy]) / 1000,
                                               pb / 1000),
                 "idle: p50 %.2f ms, p99 %.2f ms"
                 % (median([x["p50_us"] for x in idle]) / 1000, pi / 1000),
                 "%.2f×" % (pb / pi), "p99 ≤ 2×", pb <= 2 * pi)
        self.results["during"] = {"busy": busy, "idle": idle}

    # -- durable local writes --------------------------------------------------------
    def part_write(self):
        reps = 1 if self.quick else 3
        n = 200 if self.quick else 400
        a = self.synced_agent()
        paths = ["/api/v1/work-orders/wo-%05d" % i for i in range(1, SCOPE[1] + 1)]
        pf = self.write_paths("paths-write", paths)
        row_bytes = len(a.request("GET", paths[0]).body)
        ours, bare = [], []
        for r in range(reps):
            self.wait_idle(a)
            # Values new to this run: an edit that changes nothing is no write.
            ours.append(self.load(a, pf, 1, count=n, method="PUT", warmup=5,
                                  body='{"notes":"bench edit %%N, run %d at %.0f"}'
                                  % (r + 1, time.time())))
            bare.append(self.run_json([self.benchtool, "bare-commit",
                                       os.path.join(a.root, "bare.db"), str(n), str(row_bytes)]))
            log("durable write run %d/%d: p50 %.2f ms p99 %.2f ms; bare commit p50 %.2f ms "
                "p99 %.2f ms" % (r + 1, reps, ours[-1]["p50_us"] / 1000,
                                 ours[-1]["p99_us"] / 1000, bare[-1]["p50_us"] / 1000,
                                 bare[-1]["p99_us"] / 1000))
        a.stop()
        o50, o99 = median([x["p50_us"] for x in ours]), median([x["p99_us"] for x in ours])
        b50, b99 = median([x["p50_us"] for x in bare]), median([x["p99_us"] for x in bare])
        self.row("durable local write: PUT on the socket until answered (1 client)",
                 "p50 %.2f ms, p99 %.2f ms" % (o50 / 1000, o99 / 1000),
                 "bare SQLite FULL commit of a %d B row: p50 %.2f ms, p99 %.2f ms"
                 % (row_bytes, b50 / 1000, b99 / 1000),
                 "%.2f× / %.2f×" % (o50 / b50, o99 / b99), "≤ 2×",
                 o50 <= 2 * b50 and o99 <= 2 * b99)
        self.results["write"] = {"agent": ours, "bare": bare, "row_bytes": row_bytes}

    # -- growth, memory, idle ----------------------------------------------------
    def part_growth(self):
        sizes = GROWTH[:2] if self.quick else GROWTH
        reps = 1 if self.quick else 3
        out = []
        for target, customers, work_orders in sizes:
            self.reseed(customers, work_orders)
            runs = []
            for r in range(reps):
                a = self.agent()
                s = self.first_sync(a)
                mem = proc_mem_kb(a.proc.pid)
                recs = sum(a.status()["replica"].values())
                run = {"records": recs, "seconds": s["seconds"], "rss_kb": mem["VmRSS"],
                       "hwm_kb": mem["VmHWM"]}
                if target == sizes[-1][0] and r == reps - 1:
                    idle = 10 if self.quick else IDLE_S
                    time.sleep(1)
                    c0 = proc_cpu_s(a.proc.pid)
                    time.sleep(idle)
                    run["idle_s"] = idle
                    run["idle_cpu_s"] = proc_cpu_s(a.proc.pid) - c0
                    run["rss_after_idle_kb"] = proc_mem_kb(a.proc.pid)["VmRSS"]
                a.stop()
                runs.append(run)
                log("growth %d records, run %d/%d: %.2f s, RSS %.1f MiB, peak %.1f MiB"
                    % (recs, r + 1, reps, run["seconds"], run["rss_kb"] / 1024,
                       run["hwm_kb"] / 1024))
            out.append({"target": target, "records": runs[0]["records"], "runs": runs,
                        "seconds": median([x["seconds"] for x in runs]),
                        "rss_kb": median([x["rss_kb"] for x in runs]),
                        "hwm_kb": median([x["hwm_kb"] for x in runs])})
        self.sim.clear_faults()
        self.reseed(*SCOPE)
        big = out[-1]
        rss = big["rss_kb"] / 1024.0
        self.row("resident memory after replicating %d records" % big["records"],
                 "%.1f MiB (peak %.1f MiB)" % (rss, big["hwm_kb"] / 1024.0), "—", "—",
                 "≤ 32 MiB", rss <= 32)
        last = big["runs"][-1]
        self.row("CPU time of %d s idle (after that sync, no cycle due)" % last["idle_s"],
                 "%.2f s" % last["idle_cpu_s"], "—", "—", "≤ 0.1 s",
                 last["idle_cpu_s"] <= 0.1 * last["idle_s"] / IDLE_S)

        def slope(key, i, j):
            return (math.log(out[j][key] / out[i][key]) /
                    math.log(out[j]["records"] / float(out[i]["records"])))
        ts = ", ".join("%d: %.2f s" % (o["records"], o["seconds"]) for o in out)
        ms = ", ".join("%d: %.0f MiB" % (o["records"], o["hwm_kb"] / 1024.0) for o in out)
        st, sm = slope("seconds", -2, -1), slope("hwm_kb", -2, -1)
        self.row("growth: initial sync time (0 ms)", ts, "—",
                 "time ∝ n^%.2f (last step)" % st, "≤ linear", st <= 1.1)
        self.row("growth: peak memory of the daemon", ms, "—",
                 "memory ∝ n^%.2f (last step)" % sm, "≤ linear", sm <= 1.1)
        self.results["growth"] = out

    # -- the table ---------------------------------------------------------------------
    def print_table(self):
        m = self.results["machine"]
        print("fieldsync bench: %d cores, %s, %s, %.0f GiB%s%s"
              % (m["cores"], m["cpu"], m["kernel"], m["memory_gib"],
                 ", own network namespace" if self.netns else "",
                 " (--quick: not for quoting)" if self.quick else ""))
        head = ("what", "result", "baseline (same run)", "ratio", "goal", "met")
        print("| " + " | ".join(head) + " |")
        print("|" + "|".join("---" for _ in head) + "|")
        for r in self.rows:
            print("| " + " | ".join(r) + " |")
        sys.stdout.flush()


    # -- the request budget (issue 12): tests/bench/budget.py ------------------------
    def part_cost(self):
        import budget
        budget.part_cost(self, SEED, SCOPE, TECHS, self.quick)

    def part_fleet(self):
        import budget
        budget.part_fleet(self, SEED, self.quick)


PARTS = ("sync", "drain", "reads", "during", "write", "growth", "cost", "fleet")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only", default=",".join(PARTS))
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    parts = [p for p in args.only.split(",") if p]
    for p in parts:
        if p not in PARTS:
            ap.error("unknown part %r (have %s)" % (p, ", ".join(PARTS)))
    t0 = time.monotonic()
    b = Bench(args.build, args.quick)
    try:
        for p in PARTS:
            if p in parts:
                t = time.monotonic()
                getattr(b, "part_" + p)()
                log("%s: %.0f s" % (p, time.monotonic() - t))
    finally:
        b.close()
    b.results["rows"] = b.rows
    b.results["seconds"] = time.monotonic() - t0
    if args.json:
        with open(args.json, "w") as f:
            json.dump(b.results, f, indent=1)
    b.print_table()
    log("done in %.0f s" % (time.monotonic() - t0))


if __name__ == "__main__":
    main()
