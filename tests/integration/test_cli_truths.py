#!/usr/bin/env python3
"""What `fieldsync` tells people, against the real fieldsyncd and
fieldsync-sim (issue 13): status that tells the truth (online during a
long sync, next sync never in the past, exit status 4 when a person is
needed), a sync --wait cut short that says so, a refused API key logged
as a warning, and the terminal: an 80-column table, colour only where it
belongs."""
import json
import os
import re
import signal
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from agentutil import AgentEnv, write_key  # noqa: E402
from ptyutil import ESC, PtyProcess, fieldsync_binary, run_in_pty  # noqa: E402
from simutil import wait_for  # noqa: E402
from test_cli_daemon import CliWithDaemon, missing_programs  # noqa: E402

FIELDSYNC = fieldsync_binary()

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def visible(line):
    """A line as it shows on the terminal: escape codes take no room."""
    return ANSI.sub("", line)


class Truths(CliWithDaemon):
    def argv(self, *args):
        return [FIELDSYNC, "--socket", self.agent.socket] + list(args)

    def env_with(self, **kw):
        env = dict(self.env.env, TZ="UTC")
        for k in ("NO_COLOR", "COLUMNS"):
            env.pop(k, None)
        env.update(kw)
        return env

    def test_status_exit_status_follows_rejected_edits(self):
        self.ok("sync", "--wait")
        rc, out, err = self.cli("status")
        self.assertEqual((rc, err), (0, ""), out)
        self.assertNotIn("ATTENTION", out)
        # An edit the remote rejects (an unknown technician) needs a person.
        wo = self.first_work_order()
        self.ok("work-orders", "update", wo["id"], "--technician", "tech-999")
        wait_for(lambda: self.cli("sync", "--wait")[0] == 4 and
                 self.agent.status()["outbox"]["rejected"] == 1, 30, 0.1, "the edit rejected")
        rc, out, err = self.cli("status")
        self.assertEqual(rc, 4, out + err)
        self.assertTrue(out.startswith("ATTENTION     1 edit rejected by the remote"), out)
        # On a terminal the rejected op is in colour; not under NO_COLOR, not in a pipe.
        rc, out, err = run_in_pty(self.argv("outbox"), self.env_with())
        self.assertEqual(rc, 0, err)
        self.assertIn(ESC + "[1;31mrejected" + ESC + "[0m", out)
        rc, out, err = run_in_pty(self.argv("outbox"), self.env_with(NO_COLOR="1"))
        self.assertEqual(rc, 0, err)
        self.assertIn("rejected", out)
        self.assertNotIn(ESC, out)
        rc, out, err = self.cli("outbox")
        self.assertIn("rejected", out)
        self.assertNotIn(ESC, out)
        # Discarded, nothing needs a person any more.
        op = json.loads(self.ok("outbox", "--json"))["data"][0]["op_id"]
        self.ok("outbox", "discard", op)
        rc, out, err = self.cli("status")
        self.assertEqual((rc, err), (0, ""), out)

    def test_work_orders_list_fits_80_columns(self):
        self.ok("sync", "--wait")
        rows = json.loads(self.ok("work-orders", "list", "--json"))["data"]
        self.assertGreater(len(rows), 3)
        rc, out, err = run_in_pty(self.argv("work-orders", "list"), self.env_with(), columns=80)
        self.assertEqual((rc, err), (0, ""))
        lines = out.splitlines()
        for line in lines:
            self.assertLessEqual(len(visible(line)), 80, repr(line))
        # Rows never wrap: a header, one line per row, maybe the page footer.
        self.assertIn(len(lines), (len(rows) + 1, len(rows) + 2))
        # The free-text column (the customer's name) gave way, not the others.
        self.assertRegex(lines[0], r"^ID +NUMBER +STATUS +PRIORITY +SCHEDULED +CUST\S* +SYNC$")
        # Sorted by scheduled time, shown whole in local time.
        times = re.findall(r"\b(\d{4}-\d\d-\d\d \d\d:\d\d)\b", out)
        self.assertEqual(len(times), sum(1 for r in rows if r.get("scheduled_date")))
        self.assertEqual(times, sorted(times))
        # Into a pipe: whole values, no escape codes.
        rc, out, err = self.cli("work-orders", "list")
        self.assertNotIn(ESC, out)
        self.assertNotIn("\u2026", out)

    def test_json_all_pages_and_errors(self):
        self.ok("sync", "--wait")
        first = json.loads(self.ok("work-orders", "list", "--per-page", "2", "--json"))
        self.assertEqual(first["meta"]["current_page"], 1)
        total = first["meta"]["total_count"]
        self.assertGreater(total, 2)
        every = json.loads(self.ok("work-orders", "list", "--per-page", "2", "--all", "--json"))
        self.assertEqual(len(every["data"]), total)
        self.assertEqual(len({r["id"] for r in every["data"]}), total)
        self.assertEqual(every["meta"]["total_count"], total)
        # With --json an error is the daemon's JSON error object, on stderr.
        rc, out, err = self.cli("work-orders", "show", "wo-nope", "--json")
        self.assertEqual((rc, out), (1, ""))
        self.assertEqual(json.loads(err)["error"]["code"], "not_found")
        rc, out, err = self.cli("work-orders", "list", "--from", "someday", "--json")
        self.assertEqual((rc, out), (2, ""))
        self.assertEqual(json.loads(err)["error"]["code"], "usage")

    def test_dates_as_typed(self):
        self.ok("sync", "--wait")
        rows = json.loads(self.ok("work-orders", "list", "--all", "--json"))["data"]
        days = sorted(r["scheduled_date"][:10] for r in rows if r.get("scheduled_date"))
        got = json.loads(self.ok("work-orders", "list", "--all", "--from", "today",
                                 "--to", "+7d", "--json"))["data"]
        import datetime
        today = datetime.date.today()
        week = today + datetime.timedelta(days=7)
        want = [d for d in days if today.isoformat() <= d <= week.isoformat()]
        self.assertEqual(sorted(r["scheduled_date"][:10] for r in got), want)

    def test_set_notes_is_a_string(self):
        self.ok("sync", "--wait")
        wo = self.first_work_order()
        out = json.loads(self.ok("work-orders", "update", wo["id"], "--set", "notes=1234",
                                 "--json"))
        self.assertEqual(out["notes"], "1234")
        out = json.loads(self.ok("work-orders", "update", wo["id"], "--set",
                                 "estimated_duration:=75", "--notes", "gate 4321", "--json"))
        self.assertEqual((out["estimated_duration"], out["notes"]), (75, "gate 4321"))

    def test_sync_wait_interrupted(self):
        """SIGTERM to `sync --wait`: 143 and a line that says so."""
        self.ok("sync", "--wait")
        self.sim.set_faults(latency_ms=3000)
        p = subprocess.Popen(self.argv("sync", "--wait"), env=self.env_with(),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        wait_for(lambda: self.agent.status()["syncing"], 20, 0.05, "the sync to start")
        p.send_signal(signal.SIGTERM)
        out, err = p.communicate(timeout=20)
        self.assertEqual(p.returncode, 143, out + err)
        self.assertIn("interrupted", err)
        self.assertNotIn("incomplete", out + err)


class DaemonStops(unittest.TestCase):
    """The daemon stopped (SIGTERM) while `sync --wait` waits."""

    @unittest.skipIf(missing_programs(), "not built: %s" % missing_programs())
    def test_cancelled_sync_is_not_incomplete(self):
        with AgentEnv(sim_args=("--seed", "7", "--work-orders", "400")) as env:
            env.sim.set_faults(latency_ms=400)
            # On a terminal the wait shows progress: once a progress line
            # is drawn, the wait request is with the daemon.
            p = PtyProcess([FIELDSYNC, "--socket", env.agent.socket, "sync", "--wait"],
                           dict(env.env, TZ="UTC"))
            p.read_until(lambda t: "% (pulled" in t or "starting" in t, 30)
            env.agent.stop()
            rc, out, err = p.finish(30)
            self.assertNotEqual(rc, 0, out + err)
            self.assertNotIn("incomplete", out + err)
            self.assertRegex(err, r"^fieldsync: (sync cancelled before it finished: .*stopping"
                                  r"|fieldsyncd stopped \(connection closed\))\n$")


class LongInitialSync(unittest.TestCase):
    """During a long first sync the remote is answering: status says online,
    and the next sync is now, not a time in the past."""

    @unittest.skipIf(missing_programs(), "not built: %s" % missing_programs())
    def test_online_and_running(self):
        with AgentEnv(sim_args=("--seed", "7", "--work-orders", "400"),
                      start_agent=False) as env:
            env.sim.set_faults(latency_ms=150)
            env.agent = env.new_agent().start()

            def counted():
                st = env.agent.status()
                return st["syncing"] and st["progress"]["records_total"] > 0
            wait_for(counted, 30, 0.05, "the first list page counted")
            p = subprocess.run([FIELDSYNC, "--socket", env.agent.socket, "status"],
                               env=env.env, capture_output=True, text=True, timeout=30)
            self.assertIn("online        yes\n", p.stdout)
            self.assertIn("next sync     now (running)\n", p.stdout)
            self.assertRegex(p.stdout, r"syncing       yes \(pull: \d+% ")
            env.sim.clear_faults()
            env.agent.stop()


class RefusedKey(unittest.TestCase):
    """A 401: status exits 4, and the daemon logs it as a warning."""

    @unittest.skipIf(missing_programs(), "not built: %s" % missing_programs())
    def test_auth_error(self):
        with AgentEnv(start_agent=False) as env:
            write_key(env.key_file, key="not-the-key")
            env.agent = env.new_agent().start()
            wait_for(lambda: env.agent.status()["auth_error"], 30, 0.05, "the 401")
            p = subprocess.run([FIELDSYNC, "--socket", env.agent.socket, "status"],
                               env=env.env, capture_output=True, text=True, timeout=30)
            self.assertEqual(p.returncode, 4, p.stdout + p.stderr)
            self.assertTrue(p.stdout.startswith("ATTENTION     the remote refused the API key"),
                            p.stdout)
            env.agent.stop()
            log = env.agent.stderr()
            lines_401 = [l for l in log.splitlines() if "401" in l]
            self.assertTrue(lines_401, log)
            for line in lines_401:
                self.assertNotRegex(line, r"\binfo\b", log)
            self.assertTrue(any(re.search(r"\b(warn|error)\b", l) for l in lines_401), log)


if __name__ == "__main__":
    unittest.main(verbosity=1)
