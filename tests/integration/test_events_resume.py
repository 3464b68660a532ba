"""GET /agent/events as a script uses it: every event has an id, a client
that comes back with Last-Event-ID gets what it missed (or a `reset` when
that is no longer kept), and a stopping daemon ends the stream cleanly."""
import os
import re
import socket
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from agentutil import AgentEnv, wait_for  # noqa: E402

BACKLOG = 1024  # EVENTS_BACKLOG in agent/events.h


class Stream:
    """An open /agent/events stream, read raw (chunked framing ignored:
    the events are matched in the bytes)."""

    def __init__(self, path, last_id=None):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(15)
        self.s.connect(path)
        extra = b"Last-Event-ID: %s\r\n" % last_id.encode() if last_id is not None else b""
        self.s.sendall(b"GET /agent/events HTTP/1.1\r\nHost: localhost\r\n" + extra + b"\r\n")
        self.buf = b""
        self.read_until(lambda: b": connected" in self.buf)

    def read_until(self, cond, timeout=15):
        deadline = time.monotonic() + timeout
        while not cond():
            if time.monotonic() > deadline:
                raise AssertionError("not seen in the stream: %r" % self.buf[-500:])
            chunk = self.s.recv(65536)
            if not chunk:
                raise AssertionError("stream closed early: %r" % self.buf[-500:])
            self.buf += chunk

    def events(self):
        """[(id or None, type, data)] of the whole events received so far."""
        text = self.buf.split(b": connected\n\n", 1)[1].decode()
        out = []
        for block in re.split(r"\n\n", text):
            m = re.search(r"(?m)^event: (\S+)$", block)
            if not m:
                continue
            i = re.search(r"(?m)^id: (\d+)$", block)
            data = "\n".join(re.findall(r"(?m)^data: (.*)$", block))
            out.append((int(i.group(1)) if i else None, m.group(1), data))
        return out

    def wait_events(self, pred, timeout=15):
        self.read_until(lambda: b"\n\n" in self.buf.split(b": connected\n\n", 1)[1]
                        and pred(self.events()), timeout)
        return self.events()

    def close(self):
        self.s.close()


class EventsResumeTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.env = AgentEnv().__enter__()
        cls.agent = cls.env.agent
        cls.agent.sync()
        cls.wo = cls.agent.get("/api/v1/work-orders?per_page=1")["data"][0]["id"]

    @classmethod
    def tearDownClass(cls):
        cls.env.close()

    def edit(self, text, conn=None):
        r = self.agent.request("PUT", "/api/v1/work-orders/" + self.wo,
                               body={"description": text}, conn=conn)
        self.assertEqual(r.status, 200)

    def changes(self, evs, n):
        return len([e for e in evs if e[1] == "record_changed"]) >= n

    def test_ids_and_resume(self):
        a = Stream(self.agent.socket)
        self.edit("one")
        self.edit("two")
        evs = a.wait_events(lambda e: self.changes(e, 2))
        a.close()
        self.assertTrue(all(e[0] is not None for e in evs), evs)
        ids = [e[0] for e in evs]
        self.assertEqual(ids, list(range(ids[0], ids[0] + len(ids))), "ids are not consecutive")
        first = [e for e in evs if e[1] == "record_changed"][0][0]
        # missed while away: the edit made with no stream open
        self.edit("three")
        b = Stream(self.agent.socket, last_id=str(first))
        evs2 = b.wait_events(lambda e: self.changes(e, 2))
        b.close()
        self.assertNotEqual(evs2[0][1], "reset", evs2)
        self.assertEqual(evs2[0][0], first + 1, "the replay does not start after Last-Event-ID")
        got = [e[0] for e in evs2]
        self.assertEqual(got, list(range(first + 1, first + 1 + len(got))))
        self.assertIn('"what"', [e for e in evs2 if e[1] == "record_changed"][-1][2])

    def test_unknown_id_gets_reset(self):
        a = Stream(self.agent.socket)
        self.edit("before")
        newest = a.wait_events(lambda e: self.changes(e, 1))[-1][0]
        a.close()
        for last in ("1", "not-a-number", str(newest + 10**6)):
            with self.subTest(last=last):
                s = Stream(self.agent.socket, last_id=last)
                evs = s.wait_events(lambda e: len(e) >= 1)
                s.close()
                self.assertEqual(evs[0][1], "reset", evs)
                self.assertIn('"gap"', evs[0][2])
                self.assertGreaterEqual(evs[0][0], newest)

    def test_backlog_is_bounded(self):
        a = Stream(self.agent.socket)
        self.edit("start")
        start = [e for e in a.wait_events(lambda e: self.changes(e, 1))
                 if e[1] == "record_changed"][0][0]
        a.close()
        conn = self.agent.connect()
        for i in range(BACKLOG + 10):
            self.edit("edit %d" % i, conn=conn)
        conn.close()
        s = Stream(self.agent.socket, last_id=str(start))
        evs = s.wait_events(lambda e: len(e) >= 1)
        s.close()
        self.assertEqual(evs[0][1], "reset", evs[:3])
        # the newest id is the reset's: coming back with it is no gap
        s = Stream(self.agent.socket, last_id=str(evs[0][0]))
        self.edit("after")
        evs = s.wait_events(lambda e: self.changes(e, 1))
        s.close()
        self.assertNotIn("reset", [e[1] for e in evs])


class ConflictEventTest(unittest.TestCase):
    def test_conflict_event_has_an_id_and_is_replayed(self):
        """A conflict event, like any other, has an id and
        reaches a client that was away when it happened."""
        with AgentEnv(config="conflict_policy = manual\n") as env:
            agent, sim = env.agent, env.sim
            agent.sync()
            wo = agent.get("/api/v1/work-orders?per_page=1")["data"][0]["id"]
            # the dispatcher edits first; the replica has not seen it
            r = sim.api("PUT", "/api/v1/work-orders/" + wo, body={"description": "theirs"})
            self.assertEqual(r.status, 200, r)
            a = Stream(agent.socket)
            r = agent.request("PUT", "/api/v1/work-orders/" + wo, body={"description": "mine"})
            self.assertEqual(r.status, 200)
            mark = [e for e in a.wait_events(lambda e: len(e) >= 1)
                    if e[1] == "record_changed"][0][0]
            a.close()
            # the push meets the other edit while nobody listens
            wait_for(lambda: agent.sync() and agent.get("/agent/conflicts")["data"], 30, 0.1,
                     "a conflict")
            b = Stream(agent.socket, last_id=str(mark))
            evs = b.wait_events(lambda e: "conflict" in [x[1] for x in e])
            b.close()
            self.assertNotEqual(evs[0][1], "reset", evs)
            conflict = [e for e in evs if e[1] == "conflict"][0]
            self.assertGreater(conflict[0], mark)
            self.assertIn('"id":"%s"' % wo, conflict[2])
            self.assertIn('"description"', conflict[2])


class StopEndsStreamTest(unittest.TestCase):
    def test_sigterm_ends_the_stream_whole(self):
        """curl exits 0 (not 18, "transfer closed with outstanding read
        data") when the daemon stops under an open stream."""
        with AgentEnv(start_agent=False) as env:
            for _ in range(3):
                agent = env.new_agent().start()
                out = os.path.join(env.root, "events.out")
                with open(out, "wb") as f:
                    curl = subprocess.Popen(["curl", "-sS", "-N", "--unix-socket", agent.socket,
                                             "http://localhost/agent/events"],
                                            stdout=f, stderr=subprocess.PIPE)

                def connected():
                    with open(out, "rb") as f:
                        return b": connected" in f.read()
                wait_for(connected, 15, 0.02, "the stream to open")
                self.assertEqual(agent.stop(), 0, agent.stderr()[-2000:])
                try:
                    rc = curl.wait(15)
                finally:
                    if curl.poll() is None:
                        curl.kill()
                err = curl.stderr.read().decode(errors="replace")
                curl.stderr.close()
                self.assertEqual(rc, 0, err)


if __name__ == "__main__":
    unittest.main()
