"""Resource faults: the disk filling up under fieldsyncd (RLIMIT_FSIZE with
SIGXFSZ ignored, so a write fails with EFBIG; and a small tmpfs when this
runs as root and may mount one), a corrupt, foreign or newer database at
start, a read-only state directory.  Each is a clear error; nothing
already stored is damaged or lost."""
import hashlib
import os
import signal
import sqlite3
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from agentutil import AgentEnv, agent_env_for, run_daemon  # noqa: E402
from relutil import all_pages, agent_get, settle  # noqa: E402

NOTES = "x" * 9000


def digest(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def can_mount():
    if os.geteuid() != 0:
        return False
    d = "/tmp/fs-mount-probe-%d" % os.getpid()
    os.makedirs(d, exist_ok=True)
    try:
        ok = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", d],
                            capture_output=True).returncode == 0
        if ok:
            subprocess.run(["umount", d], capture_output=True)
        return ok
    finally:
        os.rmdir(d)


class DiskFullTest(unittest.TestCase):
    def setUp(self):
        self.env = agent_env_for(self, sim_args=("--seed", "9", "--customers", "15",
                                                 "--work-orders", "80"))
        settle(self.env)
        self.wos = [w["id"] for w in all_pages(lambda p: agent_get(self.env.agent, p),
                                                "/api/v1/work-orders")]
        self.env.agent.stop()
        self.env.agent = None
        # No sync may write while the disk fills: the remote is away.
        self.env.sim.set_faults(offline=True)

    def fill_until_refused(self, agent):
        """Local writes of big notes until one is refused; returns the
        accepted (id, notes) and the refused reply."""
        accepted = []
        for i in range(400):
            wid = self.wos[i % len(self.wos)]
            notes = "%d-%s" % (i, NOTES)
            r = agent.request("PUT", "/api/v1/work-orders/" + wid, {"notes": notes})
            if r.status != 200:
                return accepted, r
            accepted.append((wid, notes))
        self.fail("400 writes of 9 KB never filled the disk")

    def check_refusal_and_recovery(self, agent, accepted, refused, db):
        self.assertEqual(refused.status, 503, refused)
        self.assertIn("error", refused.json())
        # Still up, still answering reads with everything accepted so far.
        self.assertIsNone(agent.proc.poll())
        last = dict(accepted)
        for wid, notes in last.items():
            self.assertEqual(agent.get("/api/v1/work-orders/" + wid)["data"]["notes"], notes)
        self.assertEqual(agent.request("GET", "/agent/status").status, 200)
        agent.stop()
        # Restarted with room to write: every accepted edit is there, queued.
        self.env.sim.clear_faults()
        self.env.agent = self.env.new_agent(["--db", db]).start()
        for wid, notes in last.items():
            self.assertEqual(self.env.agent.get("/api/v1/work-orders/" + wid)["data"]["notes"],
                             notes)
        settle(self.env)
        for wid, notes in last.items():
            got = self.env.sim.api("GET", "/api/v1/work-orders/" + wid).json()["data"]["notes"]
            self.assertEqual(got, notes)

    def test_file_size_limit_refuses_writes_and_keeps_data(self):
        db = self.env.new_agent().db
        limit = max(os.path.getsize(p) for p in (db, db + "-wal") if os.path.exists(p)) + (96 << 10)
        # A wrapper sets the limit and ignores SIGXFSZ (Python's Popen would
        # restore its default, which kills instead of failing the write).
        from agentutil import daemon_binary
        wdir = os.path.join(self.env.root, "limited")
        os.makedirs(wdir)
        with open(os.path.join(wdir, "fieldsyncd"), "w") as f:
            f.write("#!/bin/sh\ntrap '' XFSZ\nulimit -f %d\nexec %s \"$@\"\n"
                    % (limit // 512, daemon_binary()))
        os.chmod(os.path.join(wdir, "fieldsyncd"), 0o755)
        agent = self.env.new_agent()
        saved = os.environ.get("FIELDSYNC_BUILD")
        os.environ["FIELDSYNC_BUILD"] = wdir
        try:
            agent.start(wait=False)
        finally:
            if saved is None:
                del os.environ["FIELDSYNC_BUILD"]
            else:
                os.environ["FIELDSYNC_BUILD"] = saved
        agent.wait_ready()
        accepted, refused = self.fill_until_refused(agent)
        self.assertGreater(len(accepted), 0)
        self.check_refusal_and_recovery(agent, accepted, refused, db)

    @unittest.skipUnless(can_mount(), "needs root and permission to mount a tmpfs "
                                      "(the RLIMIT_FSIZE test covers a full disk then)")
    def test_full_tmpfs_refuses_writes_and_keeps_data(self):
        src = self.env.new_agent().db
        mnt = os.path.join(self.env.root, "small")
        os.makedirs(mnt)
        size = os.path.getsize(src) + (512 << 10)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%d" % size, "tmpfs", mnt], check=True)
        self.addCleanup(subprocess.run, ["umount", "-l", mnt], capture_output=True)
        db = os.path.join(mnt, "replica.db")
        # A clean copy: open and checkpoint through SQLite, not by bytes.
        with sqlite3.connect(src) as a, sqlite3.connect(db) as b:
            a.backup(b)
        agent = self.env.new_agent(["--db", db]).start()
        accepted, refused = self.fill_until_refused(agent)
        self.assertGreater(len(accepted), 0)
        # Room again: the same tmpfs grown, so nothing is copied.
        subprocess.run(["mount", "-o", "remount,size=64m", mnt], check=True)
        self.check_refusal_and_recovery(agent, accepted, refused, db)


class BadDatabaseTest(unittest.TestCase):
    def setUp(self):
        self.env = agent_env_for(self, start_agent=False)
        self.db = os.path.join(self.env.root, "bad.db")

    def refused(self, expect):
        before = digest(self.db)
        code, out, err = run_daemon(self.env.agent_args() + ["--db", self.db], self.env.env)
        self.assertNotEqual(code, 0, err)
        self.assertIn(self.db, err)
        self.assertRegex(err, expect)
        self.assertEqual(len(err.strip().splitlines()), 1, err)
        self.assertEqual(digest(self.db), before, "the refused file was changed")
        self.assertFalse(os.path.exists(self.db + "-wal") and os.path.getsize(self.db + "-wal"))

    def test_garbage_file(self):
        with open(self.db, "wb") as f:
            f.write(os.urandom(8192))
        self.refused("(?i)not a SQLite database")

    def test_truncated_database(self):
        with sqlite3.connect(self.db) as c:
            c.execute("CREATE TABLE t(x)")
            c.executemany("INSERT INTO t VALUES (?)", [("y" * 500,)] * 200)
        with open(self.db, "r+b") as f:
            f.truncate(4096 + 100)
        self.refused("(?i)malformed|corrupt|damaged")

    def test_foreign_sqlite_database(self):
        with sqlite3.connect(self.db) as c:
            c.execute("CREATE TABLE moz_places(id INTEGER PRIMARY KEY, url TEXT)")
            c.execute("INSERT INTO moz_places(url) VALUES ('https://example.com')")
        self.refused("(?i)not fieldsync's")

    def test_database_from_a_newer_fieldsync(self):
        agent = self.env.new_agent(["--db", self.db]).start()
        self.assertEqual(agent.stop(), 0)
        c = sqlite3.connect(self.db)
        c.execute("PRAGMA user_version = 999")
        c.commit()
        c.close()
        self.refused("(?i)newer")


class ReadOnlyStateTest(unittest.TestCase):
    """As root, mode bits do not bind: a read-only bind mount does."""

    @unittest.skipUnless(can_mount(), "needs root and permission to bind-mount read-only")
    def test_read_only_state_directory(self):
        with AgentEnv(sim_args=("--seed", "9", "--customers", "10", "--work-orders", "40")) as env:
            settle(env)
            snap = agent_get(env.agent, "/api/v1/work-orders?per_page=100")
            env.agent.stop()
            env.agent = None
            state = os.path.dirname(env.new_agent().db)
            db = os.path.join(state, "replica.db")
            before = digest(db)
            subprocess.run(["mount", "--bind", state, state], check=True)
            try:
                subprocess.run(["mount", "-o", "remount,bind,ro", state], check=True)
                code, out, err = run_daemon(env.agent_args(), env.env)
            finally:
                subprocess.run(["umount", state], check=True)
            self.assertNotEqual(code, 0)
            self.assertIn(db, err)
            self.assertRegex(err, "(?i)read-only|readonly|permission|cannot")
            self.assertEqual(digest(db), before)
            env.agent = env.new_agent().start()
            self.assertEqual(agent_get(env.agent, "/api/v1/work-orders?per_page=100"), snap)


if __name__ == "__main__":
    unittest.main()
