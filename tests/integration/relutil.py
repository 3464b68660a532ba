"""Reliability drivers: the crash loop and the randomized histories.

Shared by tests/integration/test_reliability_*.py (a few short runs in
CI) and tests/reliability/soak.py (long runs, `make soak`).  Both drivers
are deterministic functions of their seed, apart from timing; a failure
raises ReliabilityError whose message starts with the seed and the
command that replays it.

The checks, after the remote is healed and the daemon has pushed all it
can ("settled"):

  * exactly once: every record the test created over the socket carries
    a unique marker ("rel-<seed>-<n>"); each appears on the sim exactly
    once, and no idempotency key was applied twice in the sim's log;
  * nothing lost: every value a local update set is on the sim, or kept
    in the conflict log as the local side (GET /agent/conflicts), or in
    a rejected op (GET /agent/outbox), or was overwritten later by a
    dispatcher's edit of that field (counted apart);
  * replica equals sim: for the technician's scope (the sim's own answer
    to the daemon's list query), the socket and the sim give the same
    JSON for every work order, customer, contact list and asset list
    (minus "_sync"), and the replica holds no work order or customer
    outside that scope.

Standard library only.
"""
import json
import os
import random
import signal
import sys
import time
from datetime import datetime, timedelta, timezone

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from agentutil import AgentEnv  # noqa: E402
from simutil import wait_for  # noqa: E402

TECH = "tech-001"
DAYS_BACK, DAYS_AHEAD = 7, 30


# The remote's profile: "sim" (ETags, millisecond updated_at: the sim's
# conveniences) or "documented" (the API exactly as its pages describe it:
# no ETag, second-resolution updated_at), which the agent must survive just
# as well.
PROFILES = {"sim": (), "documented": ("--etag", "off", "--timestamps", "s")}


class ReliabilityError(AssertionError):
    pass


def replay_hint(kind, seed, **kw):
    extra = "".join(" --%s %s" % (k.replace("_", "-"), v) for k, v in sorted(kw.items()))
    return "python3 tests/reliability/soak.py --%s-seed %d%s" % (kind, seed, extra)


# ---- the sim's log, collected as it goes ---------------------------------

class LogTail:
    """Keeps every /api/v1 request the sim logged (it holds only the last
    10,000, so long runs read it as they go)."""

    def __init__(self, sim):
        self.sim = sim
        self.seq = 0
        self.entries = []

    def poll(self):
        while True:
            r = self.sim.control("GET", "log?since=%d" % self.seq)
            items = r.get("data", r) if isinstance(r, dict) else r
            if isinstance(items, dict):
                items = items.get("entries") or items.get("log") or []
            if not items:
                return self.seq
            self.entries.extend(items)
            self.seq = items[-1]["seq"]

    def reset_for_new_sim(self):
        """A restarted sim numbers its log from 0 again."""
        self.poll_safely()
        self.seq = 0

    def poll_safely(self):
        try:
            self.poll()
        except Exception:
            pass

    def duplicate_keys(self):
        applied = {}
        for e in self.entries:
            k = e.get("idempotency_key")
            if k and e.get("applied") and e.get("method") == "POST":
                applied[k] = applied.get(k, 0) + 1
        return {k: n for k, n in applied.items() if n > 1}


# ---- talking to both sides ----------------------------------------------

def strip_sync(v):
    if isinstance(v, dict):
        return {k: strip_sync(x) for k, x in v.items() if k != "_sync"}
    if isinstance(v, list):
        return [strip_sync(x) for x in v]
    return v


def agent_get(agent, path):
    r = agent.request("GET", path)
    return r.status, (r.json() if r.body else None)


def sim_get(sim, path):
    r = sim.api("GET", path)
    return r.status, (r.json() if r.body else None)


def all_pages(get, path):
    """Every item of a list endpoint (get: agent_get or sim_get bound)."""
    out, page = [], 1
    sep = "&" if "?" in path else "?"
    while True:
        st, js = get("%s%spage=%d&per_page=100" % (path, sep, page))
        if st != 200:
            raise ReliabilityError("GET %s answered %s: %r" % (path, st, js))
        out += js["data"]
        if page >= js["meta"]["total_pages"]:
            return out
        page += 1


def server_today(sim):
    """The sim's own date (its clock may be skewed)."""
    r = sim.api("GET", "/api/v1/customers?per_page=1")
    d = r.headers.get("Date")
    from email.utils import parsedate_to_datetime
    return parsedate_to_datetime(d).astimezone(timezone.utc).date()


def scope_query(sim):
    today = server_today(sim)
    return "/api/v1/work-orders?technician_id=%s&from_date=%s&to_date=%s" % (
        TECH, today - timedelta(days=DAYS_BACK), today + timedelta(days=DAYS_AHEAD))


def synced_ids(have, want, what, diffs):
    """The ids of the synced records among have (the replica's list); a
    line in diffs when they are not the wanted ids less the unsynced ones."""
    unsynced = {r["id"] for r in have if r.get("_sync", {}).get("state") != "synced"}
    synced = {r["id"] for r in have} - unsynced
    if want - unsynced != synced:
        diffs.append("%s: missing %s, extra %s"
                     % (what, sorted(want - unsynced - synced), sorted(synced - want)))
    return synced


def compare_replica(env, ledger_note=""):
    """Differences between the replica (socket) and the sim for the
    technician's scope; [] when they agree.  Records whose _sync state is
    not "synced" (rejected, held) are left to the accounting."""
    agent, sim = env.agent, env.sim
    diffs = []
    ag = lambda p: agent_get(agent, p)  # noqa: E731
    sg = lambda p: sim_get(sim, p)  # noqa: E731
    want_wo = {w["id"] for w in all_pages(sg, scope_query(sim))}
    have_wo = synced_ids(all_pages(ag, "/api/v1/work-orders"), want_wo, "work orders", diffs)
    custs = set()
    for wid in sorted(want_wo & have_wo):
        a, s = ag("/api/v1/work-orders/" + wid), sg("/api/v1/work-orders/" + wid)
        if a[0] != 200 or s[0] != 200 or strip_sync(a[1]) != s[1]:
            diffs.append("work order %s: replica %r\n    sim %r" % (wid, a, s))
        if s[0] == 200 and s[1]["data"].get("customer"):
            custs.add(s[1]["data"]["customer"]["id"])
    have_cust = synced_ids(all_pages(ag, "/api/v1/customers"), custs, "customers", diffs)
    for cid in sorted(custs & have_cust):
        for sub in ("", "/contacts", "/assets"):
            p = "/api/v1/customers/" + cid + sub
            if sub:
                a = [strip_sync(x) for x in all_pages(ag, p)]
                s = all_pages(sg, p)
                if any(x.get("_sync", {}).get("state") != "synced" for x in all_pages(ag, p)):
                    continue
            else:
                a, s = ag(p), sg(p)
                a = (a[0], strip_sync(a[1]))
            if a != s:
                diffs.append("%s: replica %r\n    sim %r" % (p, a, s))
    return diffs


def settle(env, timeout=120.0):
    """Syncs until nothing is pending and a cycle completed online; returns
    the last summary."""
    agent = env.agent
    last = {}

    def done():
        nonlocal last
        last = agent.sync(timeout=timeout)
        st = agent.status()
        return (last.get("online") and last.get("complete") and st["outbox"]["pending"] == 0
                and not last.get("retried"))
    wait_for(done, timeout, 0.05, "the daemon to push everything and pull a whole scope")
    return last


# ---- the ledger of what the test did ------------------------------------

class Ledger:
    """What the test asked of the daemon, to account for at the end."""

    def __init__(self, seed):
        self.seed = seed
        self.n = 0
        self.creates = []        # (entity, marker, parent)
        self.updates = {}        # (entity, id, field) -> (value, time)
        self.deletes = []        # (entity, id)
        self.disp = {}           # (entity, id, field) -> [(value, time)]
        self.disp_deleted = set()
        self.history = []        # every action, for a failure's report
        self.deleted_markers = set()
        self.local_deleted = set()
        self.counts = {"creates": 0, "updates": 0, "deletes": 0, "remote_edits": 0,
                       "remote_deletes": 0}

    def marker(self, kind):
        self.n += 1
        return "rel-%d-%s%d" % (self.seed, kind, self.n)


def conflicts_of(agent):
    return agent.get("/agent/conflicts")["data"]


def outbox_of(agent):
    return agent.get("/agent/outbox")["data"]


def sim_find_marker(state, entity, marker):
    coll = {"customer": "customers", "contact": "contacts", "work_order": "work_orders"}[entity]
    field = {"customer": "name", "contact": "name", "work_order": "description"}[entity]
    return [r for r in state[coll] if r.get(field) == marker]


def write_view(entity, rec, field):
    """A record's value of a write-shape field."""
    if field.endswith("_id") and field[:-3] in rec:
        ref = rec[field[:-3]]
        return ref["id"] if isinstance(ref, dict) else ref
    return rec.get(field)


def account(env, ledger, logtail):
    """Accounts for every local op; returns (problems, figures)."""
    agent = env.agent
    state = env.sim.state()
    logtail.poll()
    problems = []
    figures = {"applied": 0, "conflict_kept": 0, "rejected_kept": 0,
               "overwritten_later": 0, "deleted": 0, "duplicates": 0, "lost": 0}
    conflicts = conflicts_of(agent)
    outbox = outbox_of(agent)
    rejected = [o for o in outbox if o["state"] in ("rejected", "held")]
    trash = state.get("trash", {})

    def in_trash(entity, rid):
        coll = {"customer": "customers", "contact": "contacts", "work_order": "work_orders"}[entity]
        return rid in trash.get(coll, [])

    def sim_record(entity, rid):
        coll = {"customer": "customers", "contact": "contacts", "work_order": "work_orders"}[entity]
        for r in state[coll]:
            if r["id"] == rid:
                return r
        return None

    for entity, marker, _parent in ledger.creates:
        found = sim_find_marker(state, entity, marker)
        field = "description" if entity == "work_order" else "name"
        kept = [o for o in rejected if o["kind"] == "create"
                and (o.get("fields") or {}).get(field) == marker]
        if len(found) == 1:
            figures["applied"] += 1
        elif len(found) > 1:
            figures["duplicates"] += len(found) - 1
            problems.append("create %s appears %d times on the sim" % (marker, len(found)))
        elif kept:
            figures["rejected_kept"] += 1
        elif marker in ledger.deleted_markers:
            figures["deleted"] += 1
        else:
            figures["lost"] += 1
            problems.append("create %s (%s) is not on the sim, nor rejected" % (marker, entity))

    for (entity, rid, field), (value, t) in sorted(ledger.updates.items()):
        rec = sim_record(entity, rid)
        if rec is not None and write_view(entity, rec, field) == value:
            figures["applied"] += 1
            continue
        if any(c["record_id"] == rid and (c.get("local") or {}).get(field) == value
               for c in conflicts):
            figures["conflict_kept"] += 1
            continue
        if any(o["record_id"] == rid and (o.get("fields") or {}).get(field) == value
               for o in rejected):
            figures["rejected_kept"] += 1
            continue
        if (entity, rid) in ledger.local_deleted or (rec is None and in_trash(entity, rid)
                                                     and (entity, rid) in ledger.disp_deleted):
            # Deleted by us later, or by the dispatcher: the conflict log
            # keeps the values of a record deleted remotely when the edit
            # was still queued; if it had been pushed, the delete came after.
            figures["deleted"] += 1
            continue
        if any(tt > t for _v, tt in ledger.disp.get((entity, rid, field), [])):
            figures["overwritten_later"] += 1
            continue
        figures["lost"] += 1
        problems.append("update %s %s.%s = %r: sim has %r; no conflict or rejected op keeps it;"
                        " history: %r"
                        % (entity, rid, field, value,
                           None if rec is None else write_view(entity, rec, field),
                           [h for h in ledger.history if h[2] == rid]))

    for entity, rid in ledger.deletes:
        if sim_record(entity, rid) is None:
            figures["applied"] += 1
        elif any(o["record_id"] == rid and o["kind"] == "delete" for o in rejected):
            figures["rejected_kept"] += 1
        else:
            figures["lost"] += 1
            problems.append("delete of %s %s: still on the sim, no rejected op" % (entity, rid))

    dups = logtail.duplicate_keys()
    if dups:
        figures["duplicates"] += sum(n - 1 for n in dups.values())
        problems.append("idempotency keys applied more than once: %r" % dups)
    return problems, figures


# ---- local and remote actions ---------------------------------------------

def local_create(env, ledger, rng, entity, scope_customers):
    agent = env.agent
    marker = ledger.marker({"customer": "c", "contact": "p", "work_order": "w"}[entity])
    if entity == "customer":
        path, body, parent = "/api/v1/customers", {"name": marker, "notes": "reliability"}, None
    elif entity == "contact":
        parent = rng.choice(scope_customers)
        path, body = "/api/v1/customers/%s/contacts" % parent, {"name": marker}
    else:
        parent = rng.choice(scope_customers)
        day = datetime.now(timezone.utc).date() + timedelta(days=rng.randint(0, 5))
        path = "/api/v1/work-orders"
        body = {"customer_id": parent, "description": marker, "technician_id": TECH,
                "scheduled_date": "%sT09:00:00Z" % day}
    r = agent.request("POST", path, body)
    if parent and r.status in (404, 422) and agent.request(
            "GET", "/api/v1/customers/" + parent).status == 404:
        return None         # the customer left the replica (scope, deletes)
    if r.status != 201:
        raise ReliabilityError("POST %s answered %r" % (path, r))
    ledger.creates.append((entity, marker, parent))
    ledger.counts["creates"] += 1
    return r.json()["data"]["id"]


UPDATABLE = {
    "work_order": [("notes", None), ("description", None), ("priority", ["low", "medium", "high", "urgent"]),
                   ("estimated_duration", "int")],
    "customer": [("notes", None), ("phone", None), ("website", None)],
    "contact": [("title", None), ("email", None), ("phone", None), ("name", None)],
}


def new_value(ledger, rng, choices):
    if choices == "int":
        return rng.randint(1, 100000)
    if choices:
        return rng.choice(choices)
    return ledger.marker("v")


def local_update(env, ledger, rng, entity, rid):
    field, choices = rng.choice(UPDATABLE[entity])
    path = {"work_order": "/api/v1/work-orders/", "customer": "/api/v1/customers/",
            "contact": "/api/v1/contacts/"}[entity] + rid
    if isinstance(choices, list):
        # A value the record does not show already: an edit that changes
        # nothing queues nothing, and would leave nothing to account for.
        st, cur = agent_get(env.agent, path)
        if st == 200:
            choices = [c for c in choices if c != cur["data"].get(field)]
    value = new_value(ledger, rng, choices)
    t = time.time()
    r = env.agent.request("PUT", path, {field: value})
    if r.status == 404:
        return False        # gone from the replica (deleted, evicted)
    if r.status != 200:
        raise ReliabilityError("PUT %s answered %r" % (path, r))
    ledger.updates[(entity, rid, field)] = (value, t)
    ledger.history.append(("local update", entity, rid, field, value, t))
    ledger.counts["updates"] += 1
    return True


class dispatcher_through:
    """The dispatcher's own requests are not the daemon's network trouble:
    faults are lifted for the moment of one request, then put back."""

    def __init__(self, sim):
        self.sim = sim

    def __enter__(self):
        self.saved = self.sim.control("GET", "faults")
        self.sim.clear_faults()

    def __exit__(self, *exc):
        self.sim.control("POST", "faults", self.saved)


# A work order's detail embeds its contact's name and phone: editing them
# checks that the work order's copy follows (its ETag names its bytes, and
# a same-version body that differs is taken).
REMOTE_UPDATABLE = UPDATABLE


def remote_update(env, ledger, rng, entity, rid):
    field, choices = rng.choice(REMOTE_UPDATABLE[entity])
    value = new_value(ledger, rng, choices)
    path = {"work_order": "/api/v1/work-orders/", "customer": "/api/v1/customers/",
            "contact": "/api/v1/contacts/"}[entity] + rid
    with dispatcher_through(env.sim):
        r = env.sim.api("PUT", path, {field: value})
    if r.status == 200:
        ledger.disp.setdefault((entity, rid, field), []).append((value, time.time()))
        ledger.history.append(("remote update", entity, rid, field, value, time.time()))
        ledger.counts["remote_edits"] += 1
    return r.status


def await_requests(logtail, k, timeout, interval):
    """Waits until k more requests reached the sim, or timeout seconds went
    by; returns the log position it counted from."""
    start = logtail.poll()
    try:
        wait_for(lambda: logtail.poll() - start >= k, timeout, interval, "requests")
    except TimeoutError:
        pass
    return start


def unexpected_failure(env, seed, e, hint):
    """The ReliabilityError for an exception no check raised: the seed, the
    replay command and the daemon's last words."""
    return ReliabilityError("seed %d: %s: %s\nreplay: %s\ndaemon stderr tail:\n%s"
                            % (seed, type(e).__name__, e, hint,
                               env.agent.stderr()[-3000:] if env.agent else ""))


def fail_on_problems(env, name, ledger, seed, problems, hint):
    """Keeps the evidence under name and raises when the run found problems."""
    if problems:
        keep_evidence(env, name, ledger)
        raise ReliabilityError("seed %d: %d problems:\n  %s\nreplay: %s"
                               % (seed, len(problems), "\n  ".join(problems), hint))


def keep_evidence(env, name, ledger=None):
    """With FIELDSYNC_KEEP=DIR, copies the run's directory (logs, databases)
    there before it is removed."""
    dest = os.environ.get("FIELDSYNC_KEEP")
    if dest:
        import shutil
        target = os.path.join(dest, name)
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(env.root, target, ignore_dangling_symlinks=True,
                        ignore=shutil.ignore_patterns("*.sock"))
        if ledger is not None:
            with open(os.path.join(target, "ledger.json"), "w") as f:
                json.dump({"history": ledger.history,
                           "outbox_before_heal": getattr(ledger, "outbox_before_heal", None)},
                          f, indent=1)
        try:
            with open(os.path.join(target, "sim-log.json"), "w") as f:
                json.dump(env.sim.control("GET", "log"), f, indent=0)
        except Exception:
            pass


# ---- the crash loop ----------------------------------------------------------

def crash_loop(seed, kills, latency_ms=25, log=None, profile="sim"):
    """Kills the daemon with SIGKILL `kills` times at random moments of its
    pulls and pushes (the sim adds latency_ms to every request, so a kill
    lands with requests in flight) while the test keeps queuing edits,
    then heals and checks.  Returns the figures; raises ReliabilityError."""
    rng = random.Random(seed)
    ledger = Ledger(seed)
    hint = replay_hint("crash", seed, kills=kills, profile=profile)
    sim_args = ("--seed", str(seed), "--customers", "40", "--work-orders", "300") \
        + PROFILES[profile]
    agent_args = ["--log-level", os.environ.get("FIELDSYNC_REL_LOG_LEVEL", "info")]
    with AgentEnv(sim_args=sim_args, agent_args=agent_args) as env:
        logtail = LogTail(env.sim)
        try:
            settle(env)
            scope_wos = [w["id"] for w in all_pages(lambda p: agent_get(env.agent, p),
                                                    "/api/v1/work-orders")]
            scope_custs = sorted({w["customer"]["id"] for w in all_pages(
                lambda p: agent_get(env.agent, p), "/api/v1/work-orders")})
            if not scope_wos:
                raise ReliabilityError("seed %d: the technician has no work orders" % seed)
            env.sim.set_faults(latency_ms=latency_ms)
            survived = inflight = inflight_push = 0
            for i in range(kills):
                # Queue a few edits; the debounced push and a forced sync follow.
                for _ in range(rng.randint(1, 4)):
                    what = rng.random()
                    if what < 0.3:
                        local_create(env, ledger, rng, rng.choice(["work_order", "customer", "contact"]),
                                     scope_custs)
                    else:
                        local_update(env, ledger, rng, "work_order", rng.choice(scope_wos))
                env.agent.request("POST", "/agent/sync")
                # Kill once a random number of further requests reached the
                # sim (0: at once), or when the cycle went quiet.
                start = await_requests(logtail, rng.randint(0, 12), 3.0, 0.005)
                st = env.sim.control("GET", "stats")
                if st.get("delayed"):
                    inflight += 1      # requests were waiting out the latency
                    if any(e["method"] in ("POST", "PUT", "DELETE")
                           for e in logtail.entries[-(logtail.seq - start):] if logtail.seq > start):
                        inflight_push += 1
                env.agent.proc.send_signal(signal.SIGKILL)
                env.agent.proc.wait()
                env.agent.proc = None
                survived += 1
                env.agent = env.new_agent().start()
                if log:
                    log("crash seed %d: kill %d/%d survived" % (seed, survived, kills))
            env.sim.clear_faults()
            ledger.outbox_before_heal = outbox_of(env.agent)
            settle(env)
            problems, figures = account(env, ledger, logtail)
            if env.agent.get("/agent/conflicts")["data"]:
                problems.append("conflicts without a dispatcher: %r" % conflicts_of(env.agent))
            if any(o for o in outbox_of(env.agent)):
                problems.append("ops left in the outbox: %r" % outbox_of(env.agent))
            problems += compare_replica(env)
        except ReliabilityError as e:
            raise ReliabilityError("seed %d: %s\nreplay: %s" % (seed, e, hint))
        except Exception as e:
            raise unexpected_failure(env, seed, e, hint)
        fail_on_problems(env, "crash-%d" % seed, ledger, seed, problems, hint)
        figures["kills"] = survived
        figures["kills_in_flight"] = inflight
        figures["kills_in_flight_pushing"] = inflight_push
        figures.update(ledger.counts)
        figures["requests_logged"] = len(logtail.entries)
        return figures


# ---- randomized histories ---------------------------------------------------

FAULT_SETS = [
    {"error_rate": 0.3, "error_status": 503},
    {"drop_rate": 0.3, "drop_after_apply": 0.5},
    {"rate_429": 0.3, "retry_after": 1},
    {"bad_body_rate": 0.2},
    {"latency_ms": 30},
    {"drop_rate": 0.2, "drop_after_apply": 1.0, "methods": ["POST", "PUT", "DELETE"]},
    {"error_rate": 0.2, "error_status": 500, "bad_body_rate": 0.1, "drop_rate": 0.1},
]


def restart_sim(env, logtail, skew, kill):
    logtail.poll_safely()
    port = env.sim.port
    env.sim.stop(signal.SIGKILL if kill else signal.SIGTERM)
    base = [a for a in env.sim.base_args]
    env.sim.args = base + ["--port", str(port), "--clock-skew", str(skew)]
    logtail.seq = 0
    env.sim.start()


def restart_agent(env, kill):
    if kill:
        env.agent.proc.send_signal(signal.SIGKILL)
        env.agent.proc.wait()
        env.agent.proc = None
    else:
        code = env.agent.stop()
        if code != 0:
            raise ReliabilityError("fieldsyncd exited %s on SIGTERM:\n%s"
                                   % (code, env.agent.stderr()[-3000:]))
    env.agent = env.new_agent().start()


def run_history(seed, steps, profile="sim"):
    """One random history of `steps` steps from seed, then heal, settle
    and check.  Returns the figures; raises ReliabilityError naming the
    seed and the replay command."""
    rng = random.Random(seed)
    ledger = Ledger(seed)
    hint = replay_hint("history", seed, steps=steps, profile=profile)
    figures_extra = {"steps": steps, "faults": 0, "daemon_restarts": 0, "sim_restarts": 0,
                     "offline_periods": 0}
    sim_args = ["--seed", str(seed), "--customers", "30", "--work-orders", "200"] \
        + list(PROFILES[profile])
    agent_args = ["--log-level", os.environ.get("FIELDSYNC_REL_LOG_LEVEL", "info")]
    env = AgentEnv(sim_args=sim_args, agent_args=agent_args)
    skew = rng.choice([0, rng.randint(-120, 120)])
    env.sim.base_args = sim_args + ["--db", os.path.join(env.root, "sim.db")]
    env.sim.args = env.sim.base_args + ["--clock-skew", str(skew)]
    problems = []
    with env:
        logtail = LogTail(env.sim)
        try:
            settle(env)
            ag = lambda p: agent_get(env.agent, p)  # noqa: E731
            wos = [w["id"] for w in all_pages(ag, "/api/v1/work-orders")]
            custs = sorted({w["customer"]["id"] for w in all_pages(ag, "/api/v1/work-orders")})
            contacts = []
            for c in custs:
                contacts += [x["id"] for x in all_pages(ag, "/api/v1/customers/%s/contacts" % c)]
            if not wos:
                raise ReliabilityError("the technician has no work orders")
            for step in range(steps):
                r = rng.random()
                ent = rng.choice(["work_order"] * 3 + ["customer", "contact"])
                pool = {"work_order": wos, "customer": custs, "contact": contacts}[ent] or wos
                if ent != "work_order" and not pool:
                    ent, pool = "work_order", wos
                rid = rng.choice(pool)
                if r < 0.40:
                    local_update(env, ledger, rng, ent, rid)
                elif r < 0.50:
                    local_create(env, ledger, rng, rng.choice(["work_order", "customer", "contact"]),
                                 custs)
                elif r < 0.54:
                    dent = rng.choice(["work_order", "contact"])
                    dpool = wos if dent == "work_order" else contacts
                    if dpool:
                        did = rng.choice(dpool)
                        path = ("/api/v1/work-orders/" if dent == "work_order"
                                else "/api/v1/contacts/") + did
                        rr = env.agent.request("DELETE", path)
                        if rr.status == 204:
                            ledger.deletes.append((dent, did))
                            ledger.local_deleted.add((dent, did))
                            ledger.counts["deletes"] += 1
                            ledger.history.append(("local delete", dent, did, None, None, time.time()))
                        elif rr.status not in (404, 409):
                            raise ReliabilityError("DELETE %s answered %r" % (path, rr))
                elif r < 0.72:
                    remote_update(env, ledger, rng, ent, rid)
                elif r < 0.74:
                    did = rng.choice(wos)
                    with dispatcher_through(env.sim):
                        st = env.sim.api("DELETE", "/api/v1/work-orders/" + did).status
                    if st == 204:
                        ledger.disp_deleted.add(("work_order", did))
                        ledger.counts["remote_deletes"] += 1
                        ledger.history.append(("remote delete", "work_order", did, None, None,
                                               time.time()))
                elif r < 0.79:
                    if rng.random() < 0.5:
                        env.sim.set_faults(offline=True)
                        figures_extra["offline_periods"] += 1
                    else:
                        env.sim.clear_faults()
                elif r < 0.84:
                    env.sim.clear_faults()
                    env.sim.set_faults(**rng.choice(FAULT_SETS))
                    figures_extra["faults"] += 1
                elif r < 0.90:
                    env.agent.request("POST", "/agent/sync")
                elif r < 0.95:
                    restart_agent(env, kill=rng.random() < 0.7)
                    figures_extra["daemon_restarts"] += 1
                elif r < 0.98:
                    skew = rng.choice([0, rng.randint(-120, 120)])
                    restart_sim(env, logtail, skew, kill=rng.random() < 0.5)
                    figures_extra["sim_restarts"] += 1
                # Let the daemon get a few requests in, at most a moment.
                await_requests(logtail, rng.randint(0, 6), 0.3, 0.01)
            env.sim.clear_faults()
            ledger.outbox_before_heal = outbox_of(env.agent)
            settle(env)
            settle(env)
            problems, figures = account(env, ledger, logtail)
            problems += compare_replica(env)
        except ReliabilityError as e:
            keep_evidence(env, "history-%d" % seed, ledger)
            raise ReliabilityError("seed %d: %s\nreplay: %s" % (seed, e, hint))
        except Exception as e:
            keep_evidence(env, "history-%d" % seed, ledger)
            raise unexpected_failure(env, seed, e, hint)
        fail_on_problems(env, "history-%d" % seed, ledger, seed, problems, hint)
    figures.update(ledger.counts)
    figures.update(figures_extra)
    figures["local_ops"] = (ledger.counts["creates"] + ledger.counts["updates"]
                            + ledger.counts["deletes"])
    return figures
