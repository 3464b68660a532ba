"""The request-budget parts of make bench (issue 12): "cost" and "fleet".

Both run time-lapsed 60x (docs/SYNC.md, time scales): the daemons get
interval = 1 s, request_budget x 60 and max_age / 60, and the sim's churn
and rate limit are given in time-lapsed units too, so one real second here
stands for one minute of a technician's day and one minute for an hour.
Every figure is reported in real units (multiplied back by 60).

cost   three technicians of the bench scope (tech-001..003), budgets 60,
       300 and 1,200 an hour, against one sim in the documented profile
       (--etag off --timestamps s) with dispatcher churn, at once; then
       the old behaviour (every record every interval) on tech-001.
       Requests per technician-hour from each daemon's own count
       (GET /agent/status remote.requests_last_hour, which counts every
       request, budgeted or not), and staleness of every churn edit in a
       daemon's scope: from the edit's time in /__sim/changes to the first
       moment that daemon's socket shows it (an edited record with an
       updated_at at least the edit's, a record that left the scope gone).
       /agent/events says when to look; a slower poll of everything still
       unseen is the safety net.
fleet  100 daemons, one technician each (--technicians 100, small scopes),
       one API key with an account-wide --rate-limit, through a
       10-minute (10 s) outage of the sim (/__sim/faults offline).

Standard library only.
"""
import datetime
import http.client
import json
import os
import queue
import socket
import statistics
import sys
import threading
import time

LAPSE = 60                 # time-lapse factor
BUDGETS = (60, 300, 1200)  # requests per real hour
DEFAULT_BUDGET = 300
MAX_AGE = 86400            # the default, real seconds
DAYS_BACK, DAYS_AHEAD = 7, 30
HOT_STATUSES = ("in_progress", "on_hold")
# A busy dispatch office: 12 edits an hour for each of the 5 technicians
# (status moves of the day's jobs, reschedules, a new job, notes, contact
# details), account-wide, in real hours.
CHURN_PER_HOUR = 60

# fleet
FLEET = 100
FLEET_SCOPE = (300, 1500)  # customers, work orders for 100 technicians
# Account-wide limit in time-lapsed units: N/s here is N a minute of the
# real account.  The steady fleet (100 x <= 300/h = 500 a minute at most,
# measured ~ a third of that) fits under it with room for the catch-up.
FLEET_RATE_LIMIT = 600
FLEET_CHURN_PER_HOUR = 12 * FLEET
FLEET_CONNS = 2            # per daemon: 100 x 8 would pass the sim's 512
OUTAGE_S = 600


def log(msg):
    sys.stderr.write("bench: %s\n" % msg)
    sys.stderr.flush()


def parse_time(text):
    """RFC 3339 with or without fractional seconds, UTC 'Z': Unix seconds."""
    if not text:
        return None
    t = text.rstrip("Z")
    fmt = "%Y-%m-%dT%H:%M:%S.%f" if "." in t else "%Y-%m-%dT%H:%M:%S"
    d = datetime.datetime.strptime(t, fmt).replace(tzinfo=datetime.timezone.utc)
    return d.timestamp()


def date_of(text):
    return text[:10] if text else None


def quantiles(seen, censored):
    """p50, p95, max of latencies; censored: lower bounds of edits never
    seen before the end.  A figure a censored edit could still raise is
    returned as (value, True): "at least"."""
    allv = sorted(seen + censored)
    if not allv:
        return None
    out = []
    for p in (0.50, 0.95):
        v = allv[min(len(allv) - 1, int(round(p * (len(allv) - 1))))]
        # an unseen edit whose bound is at or below v could lie above it
        out.append((v, any(c <= v for c in censored)))
    out.append((allv[-1], bool(censored)))
    return out


def fmt_age(real_s):
    if real_s < 120:
        return "%.0f s" % real_s
    if real_s < 7200:
        return "%.1f min" % (real_s / 60.0)
    return "%.1f h" % (real_s / 3600.0)


def fmt_q(q, n, censored):
    if q is None:
        return "no edits"
    parts = []
    for name, (v, atleast) in zip(("p50", "p95", "max"), q):
        parts.append("%s %s%s" % (name, "≥ " if atleast else "", fmt_age(v * LAPSE)))
    s = ", ".join(parts) + " (n %d" % n
    if censored:
        s += ", %d unseen at the end" % censored
    return s + ")"


# ---- daemons ------------------------------------------------------------------

def lapsed_agent(bench, sim, tech, budget, max_age=MAX_AGE, conns=None, name=None,
                 interval=1):
    """A daemon (not started) for one technician, time-lapsed: interval
    (seconds, as given), the budget x 60, max_age / 60, in its own
    directories."""
    from agentutil import Agent, private_env
    bench.nagents += 1
    root = os.path.join(bench.tmp, name or "agent-%d" % bench.nagents)
    os.mkdir(root, 0o700)
    env = private_env(root)
    # Real retry delays: the sim's Retry-After is already time-lapsed.
    env.pop("FIELDSYNC_TEST_BACKOFF_SCALE", None)
    cfgdir = os.path.join(root, "config", "fieldsync")
    os.makedirs(cfgdir, 0o700, exist_ok=True)
    with open(os.path.join(cfgdir, "config"), "w") as f:
        f.write("technician_id = %s\ninterval = %d\nrequest_budget = %d\nmax_age = %d\n"
                % (tech, interval, budget * LAPSE, max(1, max_age // LAPSE)))
        if conns:
            f.write("max_connections = %d\n" % conns)
    args = ["--api-url", sim.url + "/api/v1", "--api-key-file", bench.key,
            "--log-level", "warn"]
    return Agent(root, env, args)


def wait_first_sync(agents, timeout=600):
    """Until every daemon has finished a successful cycle."""
    deadline = time.monotonic() + timeout
    left = list(agents)
    while left:
        left = [a for a in left if not a.status().get("last_success_at")]
        if left and time.monotonic() > deadline:
            raise TimeoutError("%d daemons never finished a first sync" % len(left))
        if left:
            time.sleep(0.2)


def requests_so_far(a):
    """Every request the daemon made so far (less than a real hour old)."""
    return a.status()["remote"]["requests_last_hour"]


# ---- staleness -------------------------------------------------------------------

class Watched:
    """One daemon whose replica is compared with the churn log."""

    def __init__(self, label, agent, tech):
        self.label = label
        self.agent = agent
        self.tech = tech
        self.pending = {}          # record id -> [edit]
        self.seen = {"hot summary": [], "hot detail": [], "rest": []}
        self.superseded = 0
        self.events = 0
        self.log = []              # every edit followed: for the --json file
        self.conn = None

    def get(self, path):
        """(status, record or None) of the record at path on the socket."""
        for attempt in (0, 1):
            try:
                if self.conn is None:
                    self.conn = self.agent.connect(10.0)
                r = self.agent.request("GET", path, conn=self.conn)
                if r.status == 200:
                    return 200, r.json()["data"]
                return r.status, None
            except (OSError, http.client.HTTPException):
                if self.conn is not None:
                    self.conn.close()
                self.conn = None
                if attempt:
                    raise
        return None, None


PATHS = {"work_order": "/api/v1/work-orders/%s", "contact": "/api/v1/contacts/%s",
         "customer": "/api/v1/customers/%s"}


class Staleness:
    """Follows /__sim/changes and each watched daemon until the end."""

    def __init__(self, sim, watched):
        self.sim = sim
        self.watched = watched
        self.since = sim.changes()["last_seq"]
        self.q = queue.Queue()
        self.stop_ev = threading.Event()
        self.threads = []
        self.edits = 0
        self.out_of_scope = 0

    def start(self):
        for w in self.watched:
            t = threading.Thread(target=self.follow_events, args=(w,), daemon=True)
            t.start()
            self.threads.append(t)
        t = threading.Thread(target=self.run, daemon=True)
        t.start()
        self.threads.append(t)

    def stop(self):
        self.stop_ev.set()
        self.threads[-1].join(60)
        # what each daemon shows of the edits it never showed (for the json)
        for w in self.watched:
            for edits in w.pending.values():
                for e in edits:
                    status, rec = w.get(PATHS[e["entity"]] % e["id"])
                    e["at_end"] = [status, (rec or {}).get("updated_at"),
                                   ((rec or {}).get("_sync") or {}).get("checked_at")]

    # -- /agent/events: when to look ----------------------------------------------
    def follow_events(self, w):
        while not self.stop_ev.is_set():
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                s.settimeout(1.0)
                s.connect(w.agent.socket)
                s.sendall(b"GET /agent/events HTTP/1.1\r\nHost: localhost\r\n"
                          b"Accept: text/event-stream\r\n\r\n")
                buf = b""
                while not self.stop_ev.is_set():
                    try:
                        chunk = s.recv(65536)
                    except socket.timeout:
                        continue
                    if not chunk:
                        break
                    buf += chunk
                    while b"\n" in buf:
                        line, buf = buf.split(b"\n", 1)
                        if line.startswith(b"data:") and b'"id"' in line:
                            try:
                                d = json.loads(line[5:].decode())
                            except ValueError:
                                continue
                            if "id" in d:
                                self.q.put((w, d["id"], time.time()))
            except OSError:
                time.sleep(0.1)
            finally:
                s.close()

    # -- the edits ----------------------------------------------------------------
    def in_window(self, day):
        today = datetime.date.today()
        d = datetime.date.fromisoformat(day)
        return today - datetime.timedelta(days=DAYS_BACK) <= d <= \
            today + datetime.timedelta(days=DAYS_AHEAD)

    def classify(self, w, c):
        """The edit as w should come to show it, or None when it is outside
        w's scope: (class, "present"|"absent")."""
        ent = c["entity"]
        status, rec = w.get(PATHS[ent] % c["id"])
        if ent != "work_order":
            return ("rest", "present") if status == 200 else None
        tech_after = c.get("technician_id")
        sched_after = c.get("scheduled_date")
        expect = tech_after == w.tech and sched_after and self.in_window(date_of(sched_after))
        if status != 200 and not expect:
            return None
        today = datetime.date.today().isoformat()
        before = rec or {}
        status_after = c.get("value") if c["kind"] == "status" else before.get("status")
        if status_after is None and expect and c["kind"] != "new_work_order":
            r = self.sim.api("GET", PATHS[ent] % c["id"])
            status_after = r.json()["data"].get("status") if r.status == 200 else None
        if c["kind"] == "new_work_order":
            status_after = "assigned"
        hot = (date_of(sched_after) == today or date_of(before.get("scheduled_date")) == today or
               status_after in HOT_STATUSES or before.get("status") in HOT_STATUSES)
        if not hot:
            cls = "rest"
        else:
            cls = "hot summary" if c.get("in_summary") else "hot detail"
        return cls, "present" if expect else "absent"

    def new_edits(self):
        d = self.sim.changes(self.since)
        for c in d["data"]:
            self.since = max(self.since, c["seq"])
            self.edits += 1
            at = c["at"] if isinstance(c["at"], (int, float)) else parse_time(c["at"])
            if isinstance(at, (int, float)) and at > 1e11:
                at /= 1000.0
            relevant = False
            for w in self.watched:
                k = self.classify(w, c)
                if k is None:
                    continue
                relevant = True
                # a later edit of the record is what the earlier one is seen as
                old = w.pending.pop(c["id"], [])
                w.superseded += len(old)
                e = {"cls": k[0], "want": k[1], "at": at, "entity": c["entity"],
                     "updated_at": parse_time(c.get("updated_at")), "seq": c["seq"],
                     "kind": c["kind"], "id": c["id"], "seen_after": None}
                w.pending[c["id"]] = [e]
                w.log.append(e)
            if not relevant:
                self.out_of_scope += 1

    def check(self, w, rid, now):
        edits = w.pending.get(rid)
        if not edits:
            return
        e = edits[0]
        status, rec = w.get(PATHS[e["entity"]] % rid)
        if e["want"] == "absent":
            ok = status == 404
        else:
            ok = (status == 200 and e["updated_at"] is not None and
                  parse_time(rec.get("updated_at")) is not None and
                  parse_time(rec["updated_at"]) >= e["updated_at"])
        if ok:
            for e in edits:
                e["seen_after"] = max(0.0, now - e["at"])
                w.seen[e["cls"]].append(e["seen_after"])
            del w.pending[rid]

    def run(self):
        last_changes = last_hot = last_all = 0.0
        while not self.stop_ev.is_set():
            now = time.time()
            if now - last_changes >= 0.1:
                self.new_edits()
                last_changes = now
            try:
                while True:
                    w, rid, t = self.q.get_nowait()
                    w.events += 1
                    self.check(w, rid, t)
            except queue.Empty:
                pass
            # the safety net: hot edits often, the rest now and then
            hot_due = now - last_hot >= 0.1
            all_due = now - last_all >= 2.0
            if hot_due or all_due:
                for w in self.watched:
                    for rid in list(w.pending):
                        if all_due or w.pending[rid][0]["cls"] != "rest":
                            self.check(w, rid, time.time())
                last_hot = now
                if all_due:
                    last_all = now
            time.sleep(0.02)

    def figures(self, w, end):
        """{class: (quantiles, n, censored)} and all edits together."""
        cens = {"hot summary": [], "hot detail": [], "rest": []}
        for edits in w.pending.values():
            for e in edits:
                cens[e["cls"]].append(end - e["at"])
        out = {}
        for cls in cens:
            out[cls] = (quantiles(w.seen[cls], cens[cls]), len(w.seen[cls]) + len(cens[cls]),
                        len(cens[cls]))
        alls = sum(w.seen.values(), [])
        allc = sum(cens.values(), [])
        out["all"] = (quantiles(alls, allc), len(alls) + len(allc), len(allc))
        return out


# ---- cost and freshness ----------------------------------------------------------

def part_cost(bench, seed, scope, techs, quick):
    """Rows: requests per technician-hour and staleness at three budgets
    and in the old behaviour."""
    from simutil import Sim
    warm_s = 30 if quick else 60          # a time-lapsed half hour / hour
    churn_s = 120 if quick else 420       # 2 h / 7 h of edits
    tail_s = 30 if quick else 150         # watching after the last edit
    base_s = 20 if quick else 60          # the old behaviour: an hour
    sim = Sim("--seed", str(seed), "--customers", str(scope[0]), "--work-orders",
              str(scope[1]), "--technicians", str(techs), "--etag", "off",
              "--timestamps", "s", "--churn", "%d/h" % (CHURN_PER_HOUR * LAPSE),
              workdir=bench.tmp).start()
    out = {"churn_per_hour": CHURN_PER_HOUR, "lapse": LAPSE}
    started = []

    def start(a):
        started.append(a)
        return a.start()
    try:
        sim.set_churn(rate_per_hour=0)
        # The old behaviour's cost of one cycle: a full walk (POST /agent/sync,
        # the code path every cycle took before the schedule).
        full = lapsed_agent(bench, sim, "tech-001", DEFAULT_BUDGET, name="full-walk",
                            interval=3600)
        start(full)
        wait_first_sync([full])
        time.sleep(0.5)
        n0 = sim.stats()["requests"]
        full.sync(timeout=600)
        walk = sim.stats()["requests"] - n0
        records = sum(full.status()["replica"].values())
        full.stop()
        log("cost: a full walk of tech-001's %d records: %d requests" % (records, walk))
        out["full_walk_requests"] = walk

        agents = []
        for i, b in enumerate(BUDGETS):
            tech = "tech-%03d" % (i + 1)
            a = lapsed_agent(bench, sim, tech, b)
            start(a)
            agents.append((b, tech, a))
        wait_first_sync([a for _, _, a in agents])
        sizes = {tech: sum(a.status()["replica"].values()) for _, tech, a in agents}
        log("cost: scopes %s; warming up %d s" % (sizes, warm_s))
        sim.set_churn(rate_per_hour=CHURN_PER_HOUR * LAPSE)
        time.sleep(warm_s)
        watched = [Watched("budget %d" % b, a, tech) for b, tech, a in agents]
        st = Staleness(sim, watched)
        st.start()
        r0 = {tech: requests_so_far(a) for _, tech, a in agents}
        s0, t0 = sim.stats()["requests"], time.monotonic()
        time.sleep(churn_s)
        r1 = {tech: requests_so_far(a) for _, tech, a in agents}
        s1, t1 = sim.stats()["requests"], time.monotonic()
        sim.set_churn(rate_per_hour=0)
        log("cost: %d edits so far, %d outside the three scopes; watching %d s more"
            % (st.edits, st.out_of_scope, tail_s))
        time.sleep(tail_s)
        st.stop()
        end = time.time()
        fresh = {tech: a.status()["freshness"] for _, tech, a in agents}
        for _, _, a in agents:
            a.stop()
        per_hour = {tech: (r1[tech] - r0[tech]) * 60.0 / (t1 - t0) for tech in r0}
        log("cost: sim saw %d requests, the daemons counted %d"
            % (s1 - s0, sum(r1[t] - r0[t] for t in r0)))
        rows = []
        for (b, tech, a), w in zip(agents, watched):
            rows.append({"budget": b, "tech": tech, "records": sizes[tech], "edits": w.log,
                         "per_hour": per_hour[tech], "figures": st.figures(w, end),
                         "superseded": w.superseded, "freshness_at_end": fresh[tech]})

        # The old behaviour on tech-001: every record every interval.  A
        # budget too large to bind does not give it (details are revisited
        # at most every 10 intervals), so: a daemon whose own schedule never
        # comes (interval an hour) and a full walk (POST /agent/sync, the
        # cycle every interval ran before) started every time-lapsed minute.
        sim.set_churn(rate_per_hour=0)
        base = lapsed_agent(bench, sim, "tech-001", DEFAULT_BUDGET, name="every-record",
                            interval=3600)
        start(base)
        wait_first_sync([base])
        wb = Watched("old", base, "tech-001")
        sb = Staleness(sim, [wb])
        sb.start()
        sim.set_churn(rate_per_hour=CHURN_PER_HOUR * LAPSE)
        b0, u0 = sim.stats()["requests"], time.monotonic()
        walks = []
        tick = u0
        while time.monotonic() < u0 + base_s:
            w0 = time.monotonic()
            base.sync(timeout=600)
            walks.append(time.monotonic() - w0)
            tick += 1.0
            time.sleep(max(0.0, tick - time.monotonic()))
        b1, u1 = sim.stats()["requests"], time.monotonic()
        sim.set_churn(rate_per_hour=0)
        time.sleep(3)
        sb.stop()
        base_fig = sb.figures(wb, time.time())
        base.stop()
        log("cost: old behaviour: %d walks of %.2f s median" % (len(walks),
                                                              statistics.median(walks)))
        base_per_hour = (b1 - b0) * 60.0 / (u1 - u0)
        log("cost: old behaviour: %.0f requests per technician-hour (a full walk x 60: %d)"
            % (base_per_hour, walk * 60))
        out.update({"rows": rows, "baseline": {"per_hour": base_per_hour,
                                               "figures": base_fig,
                                               "records": sizes["tech-001"],
                                               "walks_s": walks, "edits": wb.log},
                    "edits": st.edits, "edits_outside": st.out_of_scope,
                    "churn_s": churn_s, "tail_s": tail_s, "warm_s": warm_s})
        cost_rows(bench, out, walk)
    finally:
        for a in started:
            a.stop()
        sim.close()
    bench.results["cost"] = out


def cost_rows(bench, out, walk):
    base = out["baseline"]
    hours = out["churn_s"] / 60.0
    for r in out["rows"]:
        b = r["budget"]
        ratio = base["per_hour"] / r["per_hour"] if r["per_hour"] else float("inf")
        default = b == DEFAULT_BUDGET
        bench.row("cost: requests per technician-hour, budget %d, %s (%d records), "
                  "churn %d/h, %.0f h time-lapsed" % (b, r["tech"], r["records"],
                                                     out["churn_per_hour"], hours),
                  "%.0f" % r["per_hour"],
                  "every record every interval (60 s): %.0f (full walk %d × 60)"
                  % (base["per_hour"], walk),
                  "%.0f× fewer" % ratio,
                  "≤ %d; ≥ 170× fewer" % b if default else "≤ %d" % b,
                  (r["per_hour"] <= b and ratio >= 170) if default else r["per_hour"] <= b)
        f, bf = r["figures"], base["figures"]
        for cls in ("hot summary", "hot detail", "rest", "all"):
            q, n, c = f[cls]
            bq, bn, bc = bf[cls]
            gtext, met = staleness_goal(cls, q) if default else ("—", None)
            bench.row("staleness, budget %d, %s changes" % (b, cls), fmt_q(q, n, c),
                      "old: " + fmt_q(bq, bn, bc), "—", gtext, met)


def bound_met(value, atleast, goal):
    """True/False, or None when an edit still unseen could decide it."""
    if value * LAPSE > goal:
        return False
    return None if atleast else True


def staleness_goal(cls, q):
    """(goal text, met) of issue 12's goals for one class of edits."""
    goals = {"hot summary": 75, "hot detail": 660, "all": 6 * 3600}
    if cls not in goals:
        return "—", None
    text = "p95 ≤ %s" % fmt_age(goals[cls])
    if cls == "all":
        text += ", max ≤ %s" % fmt_age(MAX_AGE)
    if q is None:
        return text, None
    verdicts = [bound_met(q[1][0], q[1][1], goals[cls])]
    if cls == "all":
        verdicts.append(bound_met(q[2][0], q[2][1], MAX_AGE))
    if False in verdicts:
        return text, False
    if None in verdicts:
        return text + " (unseen edits: undecided)", None
    return text, True


# ---- the fleet ------------------------------------------------------------------

class StatsSampler:
    """The sim's request and 429 counters, sampled every 0.25 s."""

    def __init__(self, sim):
        self.sim = sim
        self.samples = []
        self.stop_ev = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        while not self.stop_ev.is_set():
            st = self.sim.stats()
            self.samples.append((time.monotonic(), st["requests"], st.get("rate_limited", 0)))
            self.stop_ev.wait(0.25)

    def at(self, t):
        """The counters at the sample nearest t."""
        return min(self.samples, key=lambda s: abs(s[0] - t))

    def per_second(self, t0, t1):
        """Requests in each whole second from t0 to t1 (interpolated)."""
        out = []
        t = t0
        while t + 1.0 <= t1 + 1e-9:
            a, b = self.at(t), self.at(t + 1.0)
            out.append((b[1] - a[1]) / max(1e-3, b[0] - a[0]))
            t += 1.0
        return out


def cpu_of(pids):
    from bench import proc_cpu_s
    total = 0.0
    for p in pids:
        try:
            total += proc_cpu_s(p)
        except OSError:
            pass
    return total


def part_fleet(bench, seed, quick):
    from simutil import Sim
    n = 20 if quick else FLEET
    warm_s = 20 if quick else 30
    steady_s = 20 if quick else 60
    outage_s = OUTAGE_S / LAPSE
    after_s = 10 if quick else 20
    rate = FLEET_RATE_LIMIT * n // FLEET
    sim = Sim("--seed", str(seed), "--customers", str(FLEET_SCOPE[0] * n // FLEET),
              "--work-orders", str(FLEET_SCOPE[1] * n // FLEET), "--technicians", str(n),
              "--etag", "off", "--timestamps", "s", "--rate-limit", "%d/s" % rate,
              "--churn", "%d/h" % (FLEET_CHURN_PER_HOUR * n // FLEET * LAPSE),
              workdir=bench.tmp).start()
    agents = []
    out = {"agents": n, "rate_limit_per_s": rate}
    sampler = StatsSampler(sim)
    try:
        t_start = time.monotonic()
        for i in range(n):
            a = lapsed_agent(bench, sim, "tech-%03d" % (i + 1), DEFAULT_BUDGET,
                             conns=FLEET_CONNS, name="fleet-%03d" % (i + 1))
            a.start(wait=False)
            agents.append(a)
        for a in agents:
            a.wait_ready(60)
        sampler.thread.start()
        wait_first_sync(agents, 600)
        t_synced = time.monotonic()
        first = sim.stats()
        records = [sum(a.status()["replica"].values()) for a in agents]
        log("fleet: %d daemons synced in %.1f s (%d requests, %d 429s); %d records each "
            "(median, max %d); warming up %d s"
            % (n, t_synced - t_start, first["requests"], first.get("rate_limited", 0),
               statistics.median(records), max(records), warm_s))
        out["initial"] = {"seconds": t_synced - t_start, "requests": first["requests"],
                          "rate_limited": first.get("rate_limited", 0),
                          "records_median": statistics.median(records),
                          "records_max": max(records)}
        time.sleep(warm_s)
        pids = [a.proc.pid for a in agents]
        c0, cs0, ts0 = cpu_of(pids), cpu_of([sim.proc.pid]), time.monotonic()
        time.sleep(steady_s)
        c1, cs1, ts1 = cpu_of(pids), cpu_of([sim.proc.pid]), time.monotonic()
        steady = sampler.per_second(ts0, ts1)
        steady_rate = statistics.mean(steady)
        out["cpu"] = {"daemons_cores": (c1 - c0) / (ts1 - ts0),
                      "sim_cores": (cs1 - cs0) / (ts1 - ts0)}
        log("fleet: steady %.1f requests/s (time-lapsed); CPU: daemons %.2f cores, sim %.2f"
            % (steady_rate, out["cpu"]["daemons_cores"], out["cpu"]["sim_cores"]))
        sim.set_faults(offline=True)
        t_down = time.monotonic()
        time.sleep(outage_s)
        sim.clear_faults()
        t_up = time.monotonic()
        time.sleep(after_s)
        t_end = time.monotonic()
        time.sleep(0.5)
        sampler.stop_ev.set()
        sampler.thread.join(5)
        after = sampler.per_second(t_up, t_end)
        peak = max(after[:int(OUTAGE_S / LAPSE)])
        a0, a1 = sampler.at(ts0), sampler.at(t_end)
        d0, d1 = sampler.at(t_down), sampler.at(t_up)
        reqs = (a1[1] - a0[1]) - (d1[1] - d0[1])
        r429 = (a1[2] - a0[2]) - (d1[2] - d0[2])
        out.update({"steady_per_s": steady, "after_per_s": after,
                    "steady_rate": steady_rate, "peak": peak, "requests": reqs,
                    "rate_limited": r429, "outage_requests": d1[1] - d0[1]})
        log("fleet: after the outage: %s" % ", ".join("%.0f" % x for x in after))
        stuck = sum(1 for a in agents if a.status()["outbox"]["pending"])
        out["pending_outboxes"] = stuck
    finally:
        sampler.stop_ev.set()
        for a in agents:
            if a.proc is not None and a.proc.poll() is None:
                a.proc.terminate()
        for a in agents:
            a.stop()
        sim.close()
    bench.results["fleet"] = out
    per_h = 60.0   # requests per time-lapsed second (a real minute) -> per real hour
    bench.row("fleet: %d technicians (one daemon each, %d records median), account limit "
              "%d/min, steady requests" % (n, out["initial"]["records_median"], rate),
              "%.0f/h (%.0f per technician-hour)" % (out["steady_rate"] * per_h,
                                                    out["steady_rate"] * per_h / n),
              "limit %d/h" % (rate * per_h), "%.0f %% of it" % (100 * out["steady_rate"] / rate),
              "fits", out["steady_rate"] < rate)
    bench.row("fleet: CPU in steady state (2 cores)",
              "%d daemons: %.2f cores; sim: %.2f cores" % (n, out["cpu"]["daemons_cores"],
                                                        out["cpu"]["sim_cores"]),
              "—", "—", "—", None)
    ratio = out["peak"] / out["steady_rate"]
    bench.row("fleet: peak request rate in the 10 min after a 10 min outage (per minute)",
              "%.0f/min" % out["peak"], "steady %.0f/min" % out["steady_rate"],
              "%.2f×" % ratio, "≤ 2×", ratio <= 2)
    share = out["rate_limited"] / float(out["requests"]) if out["requests"] else 0.0
    bench.row("fleet: 429s from steady state through the outage and recovery",
              "%d of %d requests" % (out["rate_limited"], out["requests"]),
              "initial syncs: %d of %d" % (out["initial"]["rate_limited"],
                                           out["initial"]["requests"]),
              "%.3f %%" % (100 * share), "≤ 0.1 %", share <= 0.001)
