#!/usr/bin/env python3
"""A lost edit must not pass unnoticed (issue 13): the real fieldsyncd,
fieldsync and fieldsync-sim.  A technician's description loses to a later
dispatcher edit under lww; the agent says so in `fieldsync status` (first
line and JSON), prints both values whole in `conflicts show`, runs
notify_command, and is clean again after `fieldsync conflicts ack`."""
import json
import os
import socket
import stat
import subprocess
import sys
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from agentutil import AgentEnv, daemon_binary  # noqa: E402
from simutil import sim_binary, wait_for  # noqa: E402

from cliutil import FIELDSYNC  # noqa: E402

LOCAL_TEXT = ("Replace compressor (tech's finding: the start capacitor is swollen and the "
              "contactor pitted; the compressor itself draws normal amps, so replace the "
              "capacitor and contactor first, then retest before ordering a compressor) "
              "-- end of the technician's note")
REMOTE_TEXT = "Replace compressor (dispatcher: customer approved the full replacement)"


def missing_programs():
    return [p for p in (FIELDSYNC, daemon_binary(), sim_binary()) if not os.access(p, os.X_OK)]


@unittest.skipIf(missing_programs(), "not built: %s" % missing_programs())
class LostEdit(unittest.TestCase):
    def setUp(self):
        self.env = AgentEnv(start_agent=False)
        self.env.__enter__()
        self.addCleanup(self.env.close)
        self.notified = os.path.join(self.env.root, "notified.txt")
        script = os.path.join(self.env.root, "notify.sh")
        with open(script, "w") as f:
            # Each argument on its own line: the title, then the message.
            f.write("#!/bin/sh\nprintf '%%s\\n' \"$@\" >> '%s'\n" % self.notified)
        os.chmod(script, stat.S_IRWXU)
        self.env.write_config("conflict_policy = lww\nnotify_command = %s --urgency critical\n"
                              % script)
        self.agent = self.env.agent = self.env.new_agent().start()
        self.sim = self.env.sim

    def cli(self, *args, columns=None):
        env = dict(self.env.env)
        if columns:
            env["COLUMNS"] = str(columns)
        p = subprocess.run([FIELDSYNC, "--socket", self.agent.socket] + list(args),
                           capture_output=True, text=True, env=env, timeout=60)
        return p.returncode, p.stdout, p.stderr

    def ok(self, *args, **kw):
        rc, out, err = self.cli(*args, **kw)
        self.assertEqual((rc, err), (0, ""), (args, out))
        return out

    def lose_an_edit(self):
        """The technician edits first; the dispatcher's later edit wins under lww."""
        self.agent.sync()
        wo = self.agent.get("/api/v1/work-orders?per_page=1")["data"][0]
        # Reads fail for now, so the push cannot fetch the remote record and
        # the dispatcher's edit lands after the technician's.
        self.sim.set_faults(error_rate=1.0, error_status=503, methods=["GET"])
        self.ok("work-orders", "update", wo["id"], "--description", LOCAL_TEXT)
        wait_for(lambda: any(o["attempts"] >= 1 for o in self.agent.get("/agent/outbox")["data"]),
                 30, 0.1, "a first push attempt")
        r = self.sim.api("PUT", "/api/v1/work-orders/" + wo["id"], body={"description": REMOTE_TEXT})
        self.assertEqual(r.status, 200, r)
        self.sim.clear_faults()
        wait_for(lambda: self.agent.sync() is not None and
                 self.agent.status()["conflicts"].get("unacknowledged", 0) >= 1,
                 60, 0.2, "the lost edit to be recorded")
        return wo

    def follow_events(self):
        """Reads GET /agent/events in the background; returns the text so far."""
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(60)
        s.connect(self.agent.socket)
        self.addCleanup(s.close)
        s.sendall(b"GET /agent/events HTTP/1.1\r\nHost: localhost\r\n\r\n")
        got = []

        def read():
            try:
                while True:
                    chunk = s.recv(4096)
                    if not chunk:
                        return
                    got.append(chunk)
            except OSError:
                return
        threading.Thread(target=read, daemon=True).start()
        wait_for(lambda: b": connected" in b"".join(got), 15, 0.05, "the event stream")
        return lambda: b"".join(got).decode(errors="replace")

    def conflict_events(self, text):
        """The data of each `conflict` event in an event-stream text."""
        out = []
        for block in text.replace("\r\n", "\n").split("\n\n"):
            lines = block.split("\n")
            if "event: conflict" in lines:
                out.append(json.loads("".join(x[len("data: "):] for x in lines
                                              if x.startswith("data: "))))
        return out

    def test_lost_edit_from_conflict_to_ack(self):
        events = self.follow_events()
        wo = self.lose_an_edit()
        # The event stream named the record and the field.
        wait_for(lambda: self.conflict_events(events()), 15, 0.05, "a conflict event")
        ev = self.conflict_events(events())[0]
        self.assertEqual((ev["entity"], ev["id"], ev["fields"], ev["outcome"]),
                         ("work_order", wo["id"], ["description"], "remote_won"))
        remote = self.sim.api("GET", "/api/v1/work-orders/" + wo["id"]).json()["data"]
        self.assertEqual(remote["description"], REMOTE_TEXT)

        st = self.agent.status()
        self.assertEqual(st["conflicts"], {"open": 0, "unacknowledged": 1})
        rc, out, err = self.cli("status")
        self.assertEqual(err, "")
        self.assertEqual(out.splitlines()[0],
                         "1 local edit was overwritten \u2014 see 'fieldsync conflicts'")
        self.assertIn("conflicts     0 open, 1 unacknowledged\n", out)

        conflicts = json.loads(self.ok("conflicts", "--json"))["data"]
        self.assertEqual(len(conflicts), 1, conflicts)
        c = conflicts[0]
        self.assertEqual((c["record_id"], c["rule"], c["outcome"], c["lost_local"]),
                         (wo["id"], "lww", "remote_won", True))
        self.assertIsNone(c["acknowledged_at"])
        self.assertEqual(c["local"]["description"], LOCAL_TEXT)

        # Both values whole, wrapped to the terminal's width, never cut.
        shown = self.ok("conflicts", "show", str(c["id"]), columns=60)
        self.assertNotIn("\u2026", shown)
        lines = shown.splitlines()
        self.assertTrue(all(len(line) <= 60 for line in lines),
                        [line for line in lines if len(line) > 60])
        start = next(i for i, line in enumerate(lines) if line.startswith("  local "))
        block = [lines[start][10:]]
        for line in lines[start + 1:]:
            if not line.startswith(" " * 10):
                break
            block.append(line[10:])
        self.assertEqual(" ".join(block), LOCAL_TEXT)
        self.assertIn("  remote  " + REMOTE_TEXT[:40], shown)

        # notify_command ran with the title and a message naming the record.
        def notified():
            if not os.path.exists(self.notified):
                return False
            with open(self.notified) as f:
                return "overwritten" in f.read()
        wait_for(notified, 30, 0.1, "notify_command")
        with open(self.notified) as f:
            words = f.read().splitlines()
        self.assertEqual(words[:2], ["--urgency", "critical"])
        self.assertEqual(words[2], "fieldsync: a local edit was lost")
        self.assertIn(wo["id"], words[3])
        self.assertIn("description", words[3])

        self.assertEqual(self.ok("conflicts", "ack", str(c["id"])),
                         "acknowledged conflict %s\n" % c["id"])
        st = self.agent.status()
        self.assertEqual(st["conflicts"], {"open": 0, "unacknowledged": 0})
        rc, out, err = self.cli("status")
        self.assertEqual((rc, err), (0, ""))
        self.assertTrue(out.startswith("version"), out)
        acked = json.loads(self.ok("conflicts", "--json"))["data"][0]
        self.assertIsNotNone(acked["acknowledged_at"])

    def test_rejected_edit_runs_notify_command(self):
        self.agent.sync()
        wo = self.agent.get("/api/v1/work-orders?per_page=1")["data"][0]
        self.sim.set_faults(error_rate=1.0, error_status=422, methods=["PUT"])
        self.ok("work-orders", "update", wo["id"], "--description", "refused by the server")
        wait_for(lambda: self.agent.sync() is not None and
                 self.agent.status()["outbox"]["rejected"] >= 1, 60, 0.2, "a rejected edit")

        def notified():
            if not os.path.exists(self.notified):
                return False
            with open(self.notified) as f:
                return "fieldsync: edits rejected" in f.read()
        wait_for(notified, 30, 0.1, "notify_command for the rejection")
        with open(self.notified) as f:
            words = f.read().splitlines()
        at = words.index("fieldsync: edits rejected")
        self.assertIn("rejected 1 of your edits", words[at + 1])

    def test_ack_all_and_errors(self):
        self.lose_an_edit()
        self.ok("conflicts", "ack", "--all")
        self.assertEqual(self.agent.status()["conflicts"]["unacknowledged"], 0)
        rc, out, err = self.cli("conflicts", "ack", "999999")
        self.assertEqual((rc, err), (1, "fieldsync: conflict 999999 not found\n"))
        rc, out, err = self.cli("conflicts", "ack", "1", "--all")
        self.assertEqual(rc, 2, err)
        r = self.agent.request("POST", "/agent/conflicts/999999/ack")
        self.assertEqual(r.status, 404)
        self.assertEqual(r.json()["error"]["code"], "not_found")


if __name__ == "__main__":
    unittest.main(verbosity=2)
