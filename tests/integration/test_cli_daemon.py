#!/usr/bin/env python3
"""fieldsync against the real fieldsyncd and fieldsync-sim (agentutil's
AgentEnv: a private directory, sim, daemon, socket).  A few end-to-end
paths; the fake-daemon tests cover each command in detail."""
import json
import os
import signal
import subprocess
import sys
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from agentutil import AgentEnv, daemon_binary, run_daemon  # noqa: E402
from simutil import sim_binary, wait_for  # noqa: E402

from cliutil import FIELDSYNC  # noqa: E402


def missing_programs():
    return [p for p in (FIELDSYNC, daemon_binary(), sim_binary()) if not os.access(p, os.X_OK)]


@unittest.skipIf(missing_programs(), "not built: %s" % missing_programs())
class CliWithDaemon(unittest.TestCase):
    CONFIG = None

    def setUp(self):
        self.env = AgentEnv(config=self.CONFIG)
        self.env.__enter__()
        self.addCleanup(self.env.close)
        self.agent, self.sim = self.env.agent, self.env.sim

    def cli(self, *args, timeout=60):
        p = subprocess.run([FIELDSYNC, "--socket", self.agent.socket] + list(args),
                           capture_output=True, text=True, env=self.env.env, timeout=timeout)
        return p.returncode, p.stdout, p.stderr

    def ok(self, *args):
        rc, out, err = self.cli(*args)
        self.assertEqual((rc, err), (0, ""), (args, out))
        return out

    def first_work_order(self):
        return json.loads(self.ok("work-orders", "list", "--per-page", "1", "--json"))["data"][0]


class ReadAndEdit(CliWithDaemon):
    def test_json_is_what_the_socket_says(self):
        self.assertIn("pulled", self.ok("sync", "--wait"))
        for args, path in [(["work-orders", "list", "--per-page", "3"],
                            "/api/v1/work-orders?per_page=3"),
                           (["customers", "list", "--page", "2", "--per-page", "2"],
                            "/api/v1/customers?page=2&per_page=2")]:
            # The list as the socket sends it: data and meta (page counts).
            self.assertEqual(json.loads(self.ok(*args, "--json")), self.agent.get(path))
        status = json.loads(self.ok("status", "--json"))
        self.assertTrue(status["online"])
        self.assertIn("online        yes\n", self.ok("status"))

    def test_edit_queues_then_syncs(self):
        self.ok("sync", "--wait")
        wo = self.first_work_order()
        out = self.ok("work-orders", "update", wo["id"], "--set", "estimated_duration:=47",
                      "--description", "from the CLI")
        self.assertIn("description         from the CLI\n", out)
        self.assertIn("sync                pending\n", out)
        outbox = self.ok("outbox")
        self.assertIn(wo["id"], outbox)
        self.assertIn("pending", outbox)
        wait_for(lambda: self.cli("sync", "--wait")[0] == 0 and
                 json.loads(self.ok("outbox", "--json"))["data"] == [], 30, 0.1,
                 "the edit pushed")
        remote = self.sim.api("GET", "/api/v1/work-orders/" + wo["id"]).json()["data"]
        self.assertEqual((remote["description"], remote["estimated_duration"]),
                         ("from the CLI", 47))

    def test_errors(self):
        rc, out, err = self.cli("work-orders", "show", "wo-nope")
        self.assertEqual((rc, err), (1, "fieldsync: work order wo-nope not found\n"))
        rc, out, err = self.cli("work-orders", "create", "--customer", "cust-nope")
        self.assertEqual((rc, err),
                         (1, "fieldsync: validation failed: customer_id: Customer not found\n"))
        self.ok("sync", "--wait")  # the start-up cycle, before the remote goes away
        self.sim.set_faults(offline=True)
        rc, out, err = self.cli("sync", "--wait")
        self.assertEqual(rc, 4, (out, err))
        self.assertTrue(err.startswith("fieldsync: sync finished, but the remote was "
                                       "unreachable"), err)

    def test_watch_sees_an_edit(self):
        self.ok("sync", "--wait")
        wo = self.first_work_order()
        p = subprocess.Popen([FIELDSYNC, "--socket", self.agent.socket, "watch", "--json"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env=self.env.env)
        self.addCleanup(lambda: (p.poll() is None and p.kill(), p.wait(), p.stdout.close(),
                                 p.stderr.close()))
        seen = []
        found = threading.Event()

        def read():
            for line in p.stdout:
                seen.append(json.loads(line))
                if seen[-1]["event"] == "record_changed" and \
                        seen[-1]["data"].get("id") == wo["id"]:
                    found.set()
        threading.Thread(target=read, daemon=True).start()
        # The stream may open after the first edit: edit until an event shows.
        wait_for(lambda: self.ok("work-orders", "update", wo["id"], "--priority", "low")
                 and found.wait(0.2), 20, 0, "a record_changed event")
        p.send_signal(signal.SIGINT)
        self.assertEqual(p.wait(timeout=10), 130)


class SocketFromConfig(unittest.TestCase):
    """The daemon and the client read the config file with the same code:
    `socket = ~/fs.sock` means the same socket to both (it once meant
    $HOME/fs.sock to fieldsyncd and a literal "~/fs.sock" to fieldsync)."""

    @unittest.skipIf(missing_programs(), "not built: %s" % missing_programs())
    def test_tilde_socket_reached_without_flags(self):
        env = AgentEnv(config="socket = ~/fs.sock\n", start_agent=False)
        env.__enter__()
        self.addCleanup(env.close)
        expected = os.path.join(env.env["HOME"], "fs.sock")
        rc, out, err = run_daemon(env.agent_args() + ["--check-config"], env.env)
        self.assertEqual(rc, 0, err)
        self.assertIn("socket = %s  #" % expected, out)
        env.agent = env.new_agent()
        env.agent.socket = expected
        env.agent.start()
        p = subprocess.run([FIELDSYNC, "status", "--json"], capture_output=True, text=True,
                           env=env.env, timeout=60)
        self.assertEqual((p.returncode, p.stderr), (0, ""))
        self.assertIn("online", json.loads(p.stdout))


class ManualConflict(CliWithDaemon):
    CONFIG = "conflict_policy = manual\n"

    def test_show_and_resolve(self):
        self.ok("sync", "--wait")
        wo = self.first_work_order()
        r = self.sim.api("PUT", "/api/v1/work-orders/" + wo["id"],
                         body={"description": "remote text"})
        self.assertEqual(r.status, 200, r)
        self.ok("work-orders", "update", wo["id"], "--description", "local text")
        wait_for(lambda: self.cli("sync", "--wait")[0] == 0 and
                 json.loads(self.ok("conflicts", "--open", "--json")), 30, 0.1, "a conflict")
        conflict = json.loads(self.ok("conflicts", "--open", "--json"))["data"][0]
        cid = str(conflict["id"])
        self.assertIn(wo["id"], self.ok("conflicts", "list", "--open"))
        shown = self.ok("conflicts", "show", cid)
        self.assertRegex(shown, r"\ndescription\n  base    \S.*\n  local   local text\n"
                                r"  remote  remote text\n")
        self.assertEqual(self.ok("conflicts", "resolve", cid, "--keep", "local"),
                         "resolved conflict %s\n" % cid)
        rc, out, err = self.cli("conflicts", "resolve", cid, "--keep", "remote")
        self.assertEqual(rc, 1)
        self.assertEqual(self.ok("conflicts", "--open"), "no conflicts\n")
        wait_for(lambda: self.cli("sync", "--wait")[0] == 0 and
                 self.sim.api("GET", "/api/v1/work-orders/" + wo["id"]).json()["data"]
                 ["description"] == "local text", 30, 0.1, "the local value pushed")


if __name__ == "__main__":
    unittest.main(verbosity=1)
