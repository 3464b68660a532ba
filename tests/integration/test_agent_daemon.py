"""fieldsyncd as a process: configuration, refusal, signals, notify."""
import os
import signal
import socket
import stat
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from agentutil import (Agent, AgentEnv, private_env, run_daemon, wait_for,  # noqa: E402
                       write_key)


class ConfigTest(unittest.TestCase):
    """Runs that exit at once: no sim needed."""

    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory(prefix="fs-agent-cfg-")
        self.root = self._tmp.name
        self.env = private_env(self.root)
        self.cfg_dir = os.path.join(self.root, "config", "fieldsync")
        os.makedirs(self.cfg_dir, exist_ok=True)
        self.cfg = os.path.join(self.cfg_dir, "config")

    def tearDown(self):
        self._tmp.cleanup()

    def write_cfg(self, text, path=None):
        with open(path or self.cfg, "w") as f:
            f.write(text)

    def test_help_version_and_bad_flags(self):
        code, out, _ = run_daemon(["--version"], self.env)
        self.assertEqual(code, 0)
        self.assertTrue(out.startswith("fieldsyncd "))
        code, out, _ = run_daemon(["--help"], self.env)
        self.assertEqual(code, 0)
        self.assertIn("--check-config", out)
        code, _, err = run_daemon(["--api-key", "secret-on-argv"], self.env)
        self.assertEqual(code, 2)
        self.assertNotIn("secret-on-argv", err)
        code, _, _ = run_daemon(["--no-such-flag"], self.env)
        self.assertEqual(code, 2)

    def test_check_config_redacts_and_shows_precedence(self):
        key = write_key(os.path.join(self.root, "k"), "very-secret-key-123")
        self.write_cfg("api_url = http://file.example/api/v1\n"
                       "technician_id = tech-file\nbranch_id = branch-9\ninterval = 90\n"
                       "api_key_file = %s\nconflict_policy = server_wins\n" % key)
        env = dict(self.env, FIELDSYNC_TECHNICIAN_ID="tech-env",
                   FIELDSYNC_API_URL="http://env.example/api/v1")
        code, out, err = run_daemon(["--check-config", "--api-url", "http://flag.example/api/v1"], env)
        self.assertEqual(code, 0, err)
        self.assertNotIn("very-secret-key-123", out + err)
        lines = out.splitlines()

        def line(k):
            m = [l for l in lines if l.startswith(k + " = ")]
            self.assertEqual(len(m), 1, (k, out))
            return m[0]
        self.assertIn("api_key = (set, redacted)", line("api_key"))
        self.assertIn("http://flag.example/api/v1", line("api_url"))
        self.assertIn("flag --api-url", line("api_url"))
        self.assertIn("tech-env", line("technician_id"))
        self.assertIn("env FIELDSYNC_TECHNICIAN_ID", line("technician_id"))
        self.assertIn("branch-9", line("branch_id"))
        self.assertIn("%s:3" % self.cfg, line("branch_id"))
        self.assertIn("interval = 90", line("interval"))
        self.assertIn("conflict_policy = server_wins", line("conflict_policy"))
        self.assertIn("days_back = 7", line("days_back"))
        self.assertIn("default", line("days_back"))
        self.assertIn(os.path.join(self.root, "state", "fieldsync", "replica.db"), line("db"))
        self.assertIn(os.path.join(self.root, "run", "fieldsync.sock"), line("socket"))
        for k in ("days_ahead", "socket_group", "max_connections", "log_level", "api_key_file"):
            line(k)
        # a key from the environment is just as hidden
        env = dict(self.env, FIELDSYNC_API_KEY="env-secret-456")
        os.unlink(self.cfg)
        code, out, err = run_daemon(["--check-config"], env)
        self.assertEqual(code, 0, err)
        self.assertNotIn("env-secret-456", out + err)
        self.assertIn("api_key = (set, redacted)", out)
        code, out, _ = run_daemon(["--check-config"], self.env)
        self.assertIn("api_key = (not set)", out)

    def test_bad_config_names_file_line_key(self):
        # An unknown key is a warning naming the closest key (issue 13):
        # a fleet with mixed versions must not stop over one key.
        self.write_cfg("# comment\ninterval = 60\n\nintervall = 5\n")
        code, out, err = run_daemon(["--check-config"], self.env)
        self.assertEqual(code, 0, err)
        self.assertIn("%s:4: unknown key 'intervall' ignored (did you mean 'interval'?)" % self.cfg, err)
        self.assertIn("interval = 60  # %s:2" % self.cfg, out)
        self.write_cfg("interval = often\n")
        code, _, err = run_daemon(["--api-url", "http://x/api/v1"], dict(self.env, FIELDSYNC_API_KEY="k"))
        self.assertEqual(code, 1)
        self.assertIn("%s:1: key 'interval'" % self.cfg, err)
        self.assertFalse(os.path.exists(os.path.join(self.root, "run", "fieldsync.sock")))
        code, _, err = run_daemon(["--config", os.path.join(self.root, "missing.conf"), "--check-config"], self.env)
        self.assertEqual(code, 1)
        self.assertIn("missing.conf", err)

    def test_key_file_mode_refused(self):
        key = write_key(os.path.join(self.root, "k644"), "leaky-key", 0o644)
        code, _, err = run_daemon(["--api-url", "http://127.0.0.1:9/api/v1", "--api-key-file", key], self.env)
        self.assertEqual(code, 1)
        self.assertIn("readable by group or others (mode 0644)", err)
        self.assertIn("chmod 600", err)
        self.assertNotIn("leaky-key", err)
        code, _, err = run_daemon(["--check-config", "--api-key-file", key], self.env)
        self.assertEqual(code, 1)
        code, _, err = run_daemon(["--api-url", "http://127.0.0.1:9/api/v1", "--api-key-file", self.root], self.env)
        self.assertEqual(code, 1)
        self.assertIn("not a regular file", err)

    def test_missing_url_or_key(self):
        code, _, err = run_daemon([], dict(self.env, FIELDSYNC_API_KEY="k"))
        self.assertEqual(code, 1)
        self.assertIn("API URL", err)
        code, _, err = run_daemon(["--api-url", "http://127.0.0.1:9/api/v1"], self.env)
        self.assertEqual(code, 1)
        self.assertIn("API key", err)


class ProcessTest(unittest.TestCase):
    def test_sigterm_removes_socket_and_exits_0(self):
        with AgentEnv() as env:
            sock = env.agent.socket
            self.assertTrue(os.path.exists(sock))
            self.assertEqual(env.agent.stop(signal.SIGTERM), 0)
            self.assertFalse(os.path.exists(sock))
            # queued edits survive a restart
            a = env.new_agent().start()
            env.agent = a
            self.assertEqual(a.stop(signal.SIGINT), 0)
            env.agent = None

    def test_sigterm_during_a_cycle_keeps_the_queue(self):
        with AgentEnv() as env:
            a = env.agent
            a.sync()
            wo = a.get("/api/v1/work-orders?per_page=1")["data"][0]
            env.sim.set_faults(offline=True)
            r = a.request("PUT", "/api/v1/work-orders/" + wo["id"], body={"description": "queued"})
            self.assertEqual(r.status, 200)
            # a slow remote: the cycle is in the middle of a request
            env.sim.clear_faults()
            env.sim.set_faults(latency_ms=3000)
            self.assertEqual(a.request("POST", "/agent/sync").status, 202)
            wait_for(lambda: a.status()["syncing"], 10, 0.02, "a running cycle")
            t0 = time.monotonic()
            self.assertEqual(a.stop(signal.SIGTERM), 0)
            self.assertLess(time.monotonic() - t0, 10)
            env.sim.clear_faults()
            env.agent = a = env.new_agent().start()
            self.assertEqual(a.get("/api/v1/work-orders/" + wo["id"])["data"]["description"], "queued")
            # pushed before the stop or after the restart: never lost
            wait_for(lambda: a.sync() and env.sim.api("GET", "/api/v1/work-orders/" + wo["id"])
                     .json()["data"]["description"] == "queued", 30, 0.1, "the queued edit pushed")
            self.assertEqual(a.get("/agent/outbox")["data"], [])

    def test_second_daemon_refused_and_stale_socket_taken_over(self):
        with AgentEnv() as env:
            # same database (and socket): refused
            second = env.new_agent()
            second.start(wait=False)
            self.assertEqual(second.proc.wait(30), 1)
            self.assertIn("another fieldsyncd", second.stderr())
            # another database, the same live socket: refused
            third = env.new_agent(["--db", os.path.join(env.root, "other.db")])
            third.start(wait=False)
            self.assertEqual(third.proc.wait(30), 1)
            self.assertIn("already listening", third.stderr())
            self.assertEqual(env.agent.request("GET", "/agent/status").status, 200)
            # a crashed daemon leaves a stale socket: taken over
            self.assertEqual(env.agent.stop(signal.SIGKILL), -signal.SIGKILL)
            self.assertTrue(stat.S_ISSOCK(os.lstat(env.agent.socket).st_mode))
            env.agent = env.new_agent().start()
            self.assertEqual(env.agent.request("GET", "/agent/status").status, 200)

    def test_sighup_reload(self):
        with AgentEnv(config="log_level = info\n") as env:
            a = env.agent
            env.write_config("log_level = debug\nconflict_policy = client_wins\n")
            a.proc.send_signal(signal.SIGHUP)
            wait_for(lambda: "reload: configuration read" in a.stderr(), 15, 0.05, "the reload")
            env.write_config("log_level = loud\n")
            a.proc.send_signal(signal.SIGHUP)
            wait_for(lambda: "reload failed" in a.stderr(), 15, 0.05, "the failed reload")
            self.assertIn("log_level", [l for l in a.stderr().splitlines() if "reload failed" in l][0])
            self.assertEqual(a.request("GET", "/agent/status").status, 200)

    def test_idle_sleeps_and_stream_keepalive(self):
        with AgentEnv() as env:
            a = env.agent
            a.sync()

            def cpu_ticks():
                with open("/proc/%d/stat" % a.proc.pid) as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                return int(fields[11]) + int(fields[12])  # utime + stime
            # an event-stream client, silent: the first bytes, then only
            # the keepalive comment every 15 s
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(25)
            s.connect(a.socket)
            s.sendall(b"GET /agent/events HTTP/1.1\r\nHost: localhost\r\n\r\n")
            buf = b""
            while b": connected" not in buf:
                buf += s.recv(4096)
            before = cpu_ticks()
            while b": keepalive" not in buf:
                chunk = s.recv(4096)
                self.assertTrue(chunk)
                buf += chunk
            used = cpu_ticks() - before
            s.close()
            # ~15 s idle with one client: a busy loop would burn ~1500 ticks
            self.assertLess(used, 20, "idle daemon used %d clock ticks" % used)
            self.assertEqual(a.request("GET", "/agent/status").status, 200)

    def test_notify_socket(self):
        with AgentEnv(start_agent=False) as env:
            path = os.path.join(env.root, "notify.sock")
            ns = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            ns.bind(path)
            ns.settimeout(30)
            try:
                env.env["NOTIFY_SOCKET"] = path
                a = env.new_agent().start(wait=False)
                env.agent = a
                msg = ns.recv(4096).decode()
                self.assertIn("READY=1", msg)
                # READY comes after the socket listens
                self.assertEqual(a.request("GET", "/agent/status").status, 200)
                a.proc.send_signal(signal.SIGTERM)
                msgs = ""
                while "STOPPING=1" not in msgs:
                    msgs += ns.recv(4096).decode()
                self.assertEqual(a.proc.wait(30), 0)
            finally:
                ns.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
