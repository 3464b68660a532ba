#!/usr/bin/env python3
"""fieldsync's long-running commands against the fake fieldsyncd:
`watch` (the event stream) and `sync --wait` on a terminal (progress)."""
import json
import os
import pty
import queue
import re
import select
import signal
import subprocess
import threading
import unittest

from cliutil import FIELDSYNC, STATUS, SUMMARY, CliCase

EVENTS = [
    b": keep-alive\n\n",
    b"event: record_chan", b"ged\ndata: {\"entity\":\"work_order\",\"id\":\"wo-1\",",
    b"\"change\":\"updated\"}\n", b"\n",
    b"event: sync_started\r\ndata: {}\r\n\r\n",
    b"event: conflict\ndata: {\"id\":7,\ndata: \"record_id\":\"wo 1\"}\n\n",
    b"id: 5\nretry: 1000\nevent: sync_finished\ndata: {\"pushed\":2,\"online\":true}\n\n",
]


class Watch(CliCase):
    def stream(self, chunks, hold=True):
        """Serves /agent/events: the chunks, then (if hold) stays open until
        the returned event is set, then ends the stream."""
        release = threading.Event()
        self.addCleanup(release.set)

        def handler(h, req):
            h.send_response(200)
            h.send_header("Content-Type", "text/event-stream")
            h.send_header("Connection", "close")
            h.end_headers()
            for c in chunks:
                h.wfile.write(c)
                h.wfile.flush()
            if hold:
                release.wait(20)
            h.close_connection = True
        self.fake.routes[("GET", "/agent/events")] = handler
        return release

    def start(self, *args):
        p = subprocess.Popen([FIELDSYNC, "--socket", self.fake.path, "watch"] + list(args),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=self.env)
        self.addCleanup(p.stderr.close)
        self.addCleanup(lambda: (p.poll() is None and p.kill(), p.wait()))
        lines = queue.Queue()

        def pump():
            with p.stdout:
                for line in p.stdout:
                    lines.put(line.decode())
            lines.put(None)
        threading.Thread(target=pump, daemon=True).start()
        return p, lines

    def take(self, lines, n):
        return [lines.get(timeout=10) for _ in range(n)]

    def test_prints_one_line_per_event_until_interrupted(self):
        self.stream(EVENTS)
        p, lines = self.start()
        got = self.take(lines, 4)
        self.assertRegex(got[0], r"^\d\d:\d\d:\d\d record_changed entity=work_order id=wo-1 "
                                 r"change=updated\n$")
        self.assertRegex(got[1], r"^\d\d:\d\d:\d\d sync_started\n$")
        self.assertRegex(got[2], r'^\d\d:\d\d:\d\d conflict id=7 record_id="wo 1"\n$')
        self.assertRegex(got[3], r"^\d\d:\d\d:\d\d sync_finished pushed=2 online=yes\n$")
        p.send_signal(signal.SIGINT)
        # Ctrl-C: 130, as a shell reports a command it interrupted.
        self.assertEqual(p.wait(timeout=10), 130)
        p.wait()
        self.assertEqual(p.stderr.read(), b"")
        req = self.fake.requests[-1]
        self.assertEqual((req["method"], req["path"]), ("GET", "/agent/events"))
        self.assertEqual(req["headers"]["accept"], "text/event-stream")

    def test_json_lines(self):
        self.stream(EVENTS)
        p, lines = self.start("--json")
        got = [json.loads(line) for line in self.take(lines, 4)]
        self.assertEqual(got, [
            {"event": "record_changed",
             "data": {"entity": "work_order", "id": "wo-1", "change": "updated"}},
            {"event": "sync_started", "data": {}},
            {"event": "conflict", "data": {"id": 7, "record_id": "wo 1"}},
            {"event": "sync_finished", "data": {"pushed": 2, "online": True}},
        ])
        p.terminate()
        self.assertEqual(p.wait(timeout=10), 143)

    def test_stream_that_ends_is_an_error(self):
        self.stream(EVENTS[:6], hold=False)
        rc, out, err = self.cli("watch")
        self.assertEqual(rc, 3)
        self.assertEqual(len(out.splitlines()), 2)
        # A daemon that stops: one clear line, not a libcurl message.
        self.assertEqual(err, "fieldsync: fieldsyncd stopped (connection closed)\n")

    def test_error_answer(self):
        self.fake.route("GET", "/agent/events", 503,
                        {"error": {"code": "busy", "message": "Too many watchers"}})
        self.assertError(self.cli("watch"), 1, "too many watchers")

    def test_oversized_event(self):
        self.stream([b"data: " + b"x" * (1024 * 1024 + 10) + b"\n\n"])
        self.assertError(self.cli("watch"), 1, "fieldsyncd sent an event larger than 1024 KiB")

    def test_reader_going_away_ends_watch(self):
        more = threading.Event()

        def handler(h, req):
            h.send_response(200)
            h.send_header("Content-Type", "text/event-stream")
            h.send_header("Connection", "close")
            h.end_headers()
            h.wfile.write(b"event: sync_started\ndata: {}\n\n")
            more.wait(10)
            try:
                for _ in range(200):
                    h.wfile.write(b"event: sync_started\ndata: {}\n\n")
            except OSError:
                pass
            h.close_connection = True
        self.fake.routes[("GET", "/agent/events")] = handler
        p = subprocess.Popen([FIELDSYNC, "--socket", self.fake.path, "watch"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=self.env)
        self.assertIn(b"sync_started", p.stdout.readline())
        p.stdout.close()  # like `fieldsync watch | head -1`
        more.set()
        rc = p.wait(timeout=10)
        self.assertIn(rc, (0, -signal.SIGPIPE))
        p.stderr.close()


class SyncProgress(CliCase):
    PROGRESS = {"phase": "pull", "records_done": 120, "records_total": 450, "ops_done": 3,
                "ops_total": 5}

    def setUp(self):
        super().setUp()
        status = dict(STATUS["data"], syncing=True, progress=self.PROGRESS)
        self.fake.route("GET", "/agent/status", body={"data": status})

        def wait(h, req):  # the sync ends once the CLI has polled twice
            self.fake.wait_for(lambda reqs: sum(r["path"] == "/agent/status"
                                                for r in reqs) >= 2, timeout=10)
            return 200, {"data": SUMMARY}
        self.fake.routes[("POST", "/agent/sync")] = wait

    def on_tty(self, *args):
        master, slave = pty.openpty()
        p = subprocess.Popen([FIELDSYNC, "--socket", self.fake.path] + list(args),
                             stdout=slave, stderr=subprocess.PIPE, env=self.env)
        os.close(slave)
        out = b""
        try:
            while True:
                ready, _, _ = select.select([master], [], [], 10)
                if not ready:
                    break
                try:
                    chunk = os.read(master, 4096)
                except OSError:  # EIO: the child closed the terminal
                    break
                if not chunk:
                    break
                out += chunk
        finally:
            os.close(master)
        rc = p.wait(timeout=10)
        with p.stderr:
            return rc, out.decode(), p.stderr.read().decode()

    def test_progress_line_then_summary(self):
        rc, out, err = self.on_tty("sync", "--wait")
        self.assertEqual((rc, err), (0, ""))
        self.assertIn("\rpull: 27% (pulled 120 of 450 records, pushed 3 of 5 ops)\x1b[K", out)
        # The line is erased before the summary.
        self.assertIn("\r\x1b[Ksync finished in 1.5 s\r\n", out)
        self.assertGreaterEqual(sum(r["path"] == "/agent/status" for r in self.fake.requests), 2)

    def test_no_progress_with_json(self):
        self.fake.routes[("POST", "/agent/sync")] = (200, {"data": SUMMARY})
        rc, out, err = self.on_tty("--json", "sync", "--wait")
        self.assertEqual(rc, 0, err)
        self.assertNotIn("\x1b", out)
        self.assertEqual(json.loads(out), SUMMARY)

    def test_progress_has_rate_and_estimate(self):
        """The rate and the estimate come from the records counted between
        polls; the percentage never goes back when the total grows."""
        polls = []

        def status(h, req):
            n = len(polls)
            polls.append(n)
            total = 450 if n < 8 else 4500  # the daemon found more to fetch
            progress = dict(self.PROGRESS, records_done=60 * (n + 1), records_total=total,
                            ops_done=0, ops_total=0)
            return 200, {"data": dict(STATUS["data"], syncing=True, progress=progress)}
        self.fake.routes[("GET", "/agent/status")] = status

        def wait(h, req):
            self.fake.wait_for(lambda reqs: sum(r["path"] == "/agent/status"
                                                for r in reqs) >= 12, timeout=20)
            return 200, {"data": SUMMARY}
        self.fake.routes[("POST", "/agent/sync")] = wait
        rc, out, err = self.on_tty("sync", "--wait")
        self.assertEqual((rc, err), (0, ""))
        shown = re.findall(r"\rpull: (\d+)% \(pulled (\d+) of (\d+) records[^\r]*", out)
        self.assertGreaterEqual(len(shown), 10, out)
        pcts = [int(p) for p, _, _ in shown]
        self.assertEqual(pcts, sorted(pcts), "the percentage went back: %r" % pcts)
        self.assertRegex(out, r"records, pushed 0 of 0 ops\), \d+/s, about \d+ (s|min) left")


if __name__ == "__main__":
    unittest.main(verbosity=1)
