"""The operator of 500 laptops (issue 13): system-wide defaults from
$XDG_CONFIG_DIRS, unknown keys as warnings, the journal's priority
prefixes, RELOADING/READY/WATCHDOG on NOTIFY_SOCKET, a proxy and a private
CA for the remote.  The real daemon against fieldsync-sim."""
import http.client
import http.server
import os
import signal
import ssl
import subprocess
import sys
import threading
import time
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from agentutil import AgentEnv, daemon_binary, notify_listener, run_daemon, wait_for  # noqa: E402


def write(path, text, mode=0o644):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)
    return path


class ForwardHandler(http.server.BaseHTTPRequestHandler):
    """Forwards each request to the sim: as a forward proxy (absolute URI
    in the request line) or, with server.upstream set, as a TLS front."""
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def forward(self):
        srv = self.server
        if srv.upstream:
            host, port, path = srv.upstream[0], srv.upstream[1], self.path
        else:
            u = urllib.parse.urlsplit(self.path)
            host, port = u.hostname, u.port
            path = u.path + ("?" + u.query if u.query else "")
        with srv.lock:
            srv.seen.append(self.path)
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else None
        hdrs = {k: v for k, v in self.headers.items()
                if k.lower() not in ("proxy-connection", "connection", "host", "accept-encoding")}
        c = http.client.HTTPConnection(host, port, timeout=30)
        try:
            c.request(self.command, path, body=body, headers=hdrs)
            r = c.getresponse()
            data = r.read()
            self.send_response(r.status)
            for k, v in r.getheaders():
                if k.lower() not in ("connection", "content-length", "transfer-encoding"):
                    self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        finally:
            c.close()

    do_GET = do_POST = do_PUT = do_DELETE = forward


class Forwarder:
    """A threaded HTTP(S) server in the test process."""

    def __init__(self, upstream=None, tls=None):
        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), ForwardHandler)
        self.srv.daemon_threads = True
        self.srv.upstream = upstream
        self.srv.seen = []
        self.srv.lock = threading.Lock()
        if tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(*tls)
            self.srv.socket = ctx.wrap_socket(self.srv.socket, server_side=True)
        self.port = self.srv.server_address[1]
        self.thread = threading.Thread(target=self.srv.serve_forever, daemon=True)
        self.thread.start()

    def seen(self):
        with self.srv.lock:
            return list(self.srv.seen)

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()


def sim_hostport(sim):
    u = urllib.parse.urlsplit(sim.url)
    return u.hostname, u.port


class SystemConfigTest(unittest.TestCase):

    def test_system_defaults_then_user_file_with_sources(self):
        """XDG_CONFIG_DIRS' config, then config.d/*.conf in order, then the
        user's file; --check-config names each value's source; the daemon
        and the CLI both follow it."""
        with AgentEnv(start_agent=False, technician=None) as env:
            xdg = os.path.join(env.root, "xdg")
            env.env["XDG_CONFIG_DIRS"] = xdg
            sysconf = write(os.path.join(xdg, "fieldsync", "config"),
                            "api_url = %s/api/v1\ntechnician_id = tech-002\ninterval = 100\n"
                            "socket = %s/run/site.sock\n" % (env.sim.url, env.root))
            d20 = write(os.path.join(xdg, "fieldsync", "config.d", "20-site.conf"),
                        "interval = 200\nmax_age = 7200\nproxy = http://site:s3cret@127.0.0.1:9\n")
            write(os.path.join(xdg, "fieldsync", "config.d", "10-base.conf"),
                  "interval = 150\nrequest_budget = 120\n")
            write(os.path.join(xdg, "fieldsync", "config.d", "README"), "interval = 1\n")
            user = os.path.join(env.root, "config", "fieldsync", "config")
            write(user, "# mine\ntechnician_id = tech-001\n")
            env.env["FIELDSYNC_DB"] = os.path.join(env.root, "state", "other.db")
            code, out, err = run_daemon(["--check-config", "--api-key-file", env.key_file,
                                         "--log-level", "debug"], env.env)
            self.assertEqual(code, 0, err)
            lines = out.splitlines()
            self.assertEqual(lines[0], "system_config = %s  # read (XDG_CONFIG_DIRS)" % sysconf)
            self.assertIn("interval = 200  # %s:1" % d20, lines)
            self.assertIn("request_budget = 120  # %s:2" % os.path.join(
                xdg, "fieldsync", "config.d", "10-base.conf"), lines)
            self.assertIn("max_age = 7200  # %s:2" % d20, lines)
            self.assertIn("technician_id = tech-001  # %s:2" % user, lines)
            self.assertIn("api_url = %s/api/v1  # %s:1" % (env.sim.url, sysconf), lines)
            self.assertIn("db = %s  # env FIELDSYNC_DB" % env.env["FIELDSYNC_DB"], lines)
            self.assertIn("log_level = debug  # flag --log-level", lines)
            self.assertIn("days_ahead = 30  # default", lines)
            self.assertIn("ca_file = (not set)  # default", lines)
            self.assertIn("proxy = http://(redacted)@127.0.0.1:9  # %s:3" % d20, lines)
            self.assertNotIn("s3cret", out + err)

            # The daemon runs on the system file's api_url and socket, and
            # the CLI finds that socket with no option.
            write(d20, "interval = 200\nmax_age = 7200\n")
            env.extra = []
            a = env.new_agent()
            a.args = ["--api-key-file", env.key_file]
            a.socket = os.path.join(env.root, "run", "site.sock")
            env.agent = a.start()
            summary = a.sync()
            self.assertTrue(summary["online"], summary)
            cli = subprocess.run([os.path.join(os.path.dirname(daemon_binary()), "fieldsync"),
                                  "status", "--json"], env=env.env, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, timeout=30)
            self.assertEqual(cli.returncode, 0, cli.stderr)
            self.assertIn(b'"online"', cli.stdout)

    def test_unknown_key_warns_bad_value_fatal(self):
        with AgentEnv(start_agent=False) as env:
            xdg = os.path.join(env.root, "xdg")
            env.env["XDG_CONFIG_DIRS"] = xdg
            newer = write(os.path.join(xdg, "fieldsync", "config.d", "50-newer.conf"),
                          "intervall = 30\nmax-age = 600\nfuture_feature = on\n")
            env.agent = env.new_agent().start()
            wait_for(lambda: "future_feature" in env.agent.stderr(), 10, 0.02, "the warnings")
            err = env.agent.stderr()
            self.assertIn("warn: config: %s:1: unknown key 'intervall' ignored "
                          "(did you mean 'interval'?)" % newer, err)
            self.assertIn("%s:2: unknown key 'max-age' ignored (did you mean 'max_age'?)" % newer, err)
            self.assertIn("%s:3: unknown key 'future_feature' ignored\n" % newer, err)
            self.assertEqual(env.agent.status()["version"] != "", True)
            env.agent.stop()
            env.agent = None
            write(newer, "interval = often\n")
            code, _, err = run_daemon(env.agent_args(), env.env)
            self.assertEqual(code, 1)
            self.assertIn("%s:1: key 'interval': invalid value 'often'" % newer, err)


class JournalTest(unittest.TestCase):

    def test_priority_prefixes_when_stderr_is_the_journal(self):
        """JOURNAL_STREAM naming stderr's dev:ino: every line starts <N>."""
        with AgentEnv(start_agent=False) as env:
            env.write_config("intervall = 5\n")
            path = os.path.join(env.root, "journal.stderr")
            with open(path, "wb") as f:
                st = os.fstat(f.fileno())
                env.env["JOURNAL_STREAM"] = "%d:%d" % (st.st_dev, st.st_ino)
                proc = subprocess.Popen([daemon_binary()] + env.agent_args(), env=env.env,
                                        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                        stderr=f)

            def text():
                with open(path, "rb") as g:
                    return g.read().decode(errors="replace")
            try:
                wait_for(lambda: "listening on" in text(), 30, 0.02, "the daemon to listen")
                env.write_config("interval = often\n")
                proc.send_signal(signal.SIGHUP)
                wait_for(lambda: "reload failed" in text(), 30, 0.02, "the reload")
            finally:
                proc.send_signal(signal.SIGTERM)
                self.assertEqual(proc.wait(30), 0)
            lines = text().splitlines()
            self.assertTrue(lines)
            for line in lines:
                self.assertRegex(line, r"^<[3467]>(error|warn|info|debug): ")
            self.assertTrue(any(l.startswith("<4>warn: config: ") and "did you mean 'interval'" in l
                                for l in lines), lines)
            self.assertTrue(any(l.startswith("<6>info: fieldsyncd ") for l in lines), lines)
            self.assertTrue(any(l.startswith("<3>error: reload failed") for l in lines), lines)

    def test_no_prefixes_when_stderr_is_elsewhere(self):
        """A child that inherits JOURNAL_STREAM with stderr redirected
        writes plain timestamped lines."""
        with AgentEnv(start_agent=False) as env:
            env.env["JOURNAL_STREAM"] = "1:1"
            env.agent = env.new_agent().start()
            env.agent.stop()
            for line in env.agent.stderr().splitlines():
                self.assertRegex(line, r"^\d{4}-\d\d-\d\dT[0-9:.]+Z (error|warn|info|debug): ")
            env.agent = None


class NotifyTest(unittest.TestCase):

    def test_reloading_ready_and_watchdog(self):
        with AgentEnv(start_agent=False) as env, notify_listener(env) as ns:
            env.env["WATCHDOG_USEC"] = "400000"  # WATCHDOG=1 every 200 ms
            a = env.new_agent().start(wait=False)
            env.agent = a
            msgs = []

            def until(pred):
                while True:
                    m = ns.recv(4096).decode()
                    msgs.append(m)
                    if pred(m):
                        return m
            until(lambda m: "READY=1" in m)
            # Fed again and again, not once.
            until(lambda m: m == "WATCHDOG=1")
            until(lambda m: m == "WATCHDOG=1")
            before = time.monotonic()
            a.proc.send_signal(signal.SIGHUP)
            rel = until(lambda m: "RELOADING=1" in m)
            after = time.monotonic()
            fields = dict(l.split("=", 1) for l in rel.split("\n"))
            usec = int(fields["MONOTONIC_USEC"])
            self.assertLessEqual(before * 1e6 - 1e3, usec)
            self.assertLessEqual(usec, after * 1e6 + 1e3)
            until(lambda m: m == "READY=1")
            self.assertEqual(a.request("GET", "/agent/status").status, 200)

    def test_watchdog_for_another_pid_is_ignored(self):
        with AgentEnv(start_agent=False) as env:
            env.env["WATCHDOG_USEC"] = "400000"
            env.env["WATCHDOG_PID"] = "1"
            env.agent = env.new_agent().start()
            self.assertNotIn("watchdog:", env.agent.stderr())


class RemoteTransportTest(unittest.TestCase):

    def test_proxy_carries_every_request(self):
        fwd = Forwarder()
        try:
            with AgentEnv(start_agent=False) as env:
                env.write_config("proxy = http://127.0.0.1:%d\n" % fwd.port)
                env.agent = env.new_agent().start()
                summary = env.agent.sync()
                self.assertTrue(summary["online"], summary)
                # The records came through it: in this sync, or in the one at
                # start if that ended before this one was asked for.
                self.assertGreater(summary["pulled"] + summary["unchanged"], 0, summary)
                seen = fwd.seen()
                self.assertTrue(seen)
                self.assertTrue(all(s.startswith(env.sim.url + "/api/v1/") for s in seen), seen[:3])
        finally:
            fwd.close()

    def test_private_ca_file(self):
        """https to a server whose certificate a private CA signed: refused
        without ca_file (verification stays on), accepted with it."""
        with AgentEnv(start_agent=False) as env:
            pki = os.path.join(env.root, "pki")
            os.makedirs(pki)

            def ossl(*args):
                subprocess.run(["openssl"] + list(args), cwd=pki, check=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
            ossl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key",
                 "-out", "ca.pem", "-days", "2", "-subj", "/CN=Customer Site CA")
            ossl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "srv.key", "-out", "srv.csr",
                 "-subj", "/CN=127.0.0.1")
            write(os.path.join(pki, "ext"), "subjectAltName=IP:127.0.0.1\n")
            ossl("x509", "-req", "-in", "srv.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                 "-CAcreateserial", "-out", "srv.pem", "-days", "2", "-extfile", "ext")
            front = Forwarder(upstream=sim_hostport(env.sim),
                              tls=(os.path.join(pki, "srv.pem"), os.path.join(pki, "srv.key")))
            try:
                url = "https://127.0.0.1:%d/api/v1" % front.port
                env.agent = env.new_agent(["--api-url", url]).start()
                summary = env.agent.sync()
                self.assertFalse(summary["online"], summary)
                self.assertRegex(env.agent.status()["last_error"].lower(), "certificate|ssl|tls")
                env.agent.stop()
                env.write_config("ca_file = %s\n" % os.path.join(pki, "ca.pem"))
                env.agent = env.new_agent(["--api-url", url]).start()
                summary = env.agent.sync()
                self.assertTrue(summary["online"], summary)
                # The records came through it: in this sync, or in the one at
                # start if that ended before this one was asked for.
                self.assertGreater(summary["pulled"] + summary["unchanged"], 0, summary)
            finally:
                front.close()


def fieldsync(env, *args):
    p = subprocess.run([os.path.join(os.path.dirname(daemon_binary()), "fieldsync")] + list(args),
                       env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=60)
    return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")


def checks(out):
    """{check name: (level, message)} from doctor's lines."""
    got = {}
    for line in out.splitlines():
        level, _, rest = line.partition(" ")
        name, _, msg = rest.strip().partition(": ")
        got[name] = (level, msg)
    return got


class DoctorTest(unittest.TestCase):
    NAMES = ["config", "socket", "key file", "remote", "api key", "clock", "rate limit", "tls",
             "disk", "encryption"]

    def configured(self, env, key_file=None):
        """The daemon as systemd starts it: everything from the config file."""
        env.write_config("api_url = %s/api/v1\napi_key_file = %s\ntechnician_id = tech-001\n"
                         % (env.sim.url, key_file or env.key_file))
        a = env.new_agent()
        a.args = ["--interval", "300"]
        return a

    def fake_sysfs(self, env, lvm_on_luks):
        """A /sys where the replica's device is dm-crypt (or LVM on it)."""
        state = os.path.join(env.root, "state", "fieldsync")
        st = os.stat(state)
        dev = os.path.join(env.root, "sys", "dev", "block",
                           "%d:%d" % (os.major(st.st_dev), os.minor(st.st_dev)))
        crypt = os.path.join(dev, "slaves", "dm-0") if lvm_on_luks else dev
        write(os.path.join(crypt, "dm", "uuid"), "CRYPT-LUKS2-0123456789abcdef-nvme0n1p3_crypt\n")
        write(os.path.join(crypt, "dm", "name"), "nvme0n1p3_crypt\n")
        if lvm_on_luks:
            write(os.path.join(dev, "dm", "uuid"), "LVM-abcdef\n")
        env.env["FIELDSYNC_TEST_SYSFS"] = os.path.join(env.root, "sys")

    def test_all_ok_on_luks(self):
        for lvm in (False, True):
            with AgentEnv(start_agent=False) as env:
                env.agent = self.configured(env).start()
                env.agent.sync()
                self.fake_sysfs(env, lvm)
                code, out, err = fieldsync(env.env, "doctor")
                self.assertEqual(code, 0, out + err)
                got = checks(out)
                self.assertEqual(list(got), self.NAMES, out)
                self.assertEqual({v[0] for v in got.values()}, {"OK"}, out)
                self.assertIn("nvme0n1p3_crypt", got["encryption"][1])
                self.assertIn("mode 0600", got["key file"][1])
                self.assertIn("mode 0600", got["socket"][1])
                code, out, _ = fieldsync(env.env, "doctor", "--json")
                self.assertEqual(code, 0)
                self.assertIn('"status":\t"OK"', out)

    def test_warn_and_fail_say_what_to_do(self):
        with AgentEnv(start_agent=False) as env:
            env.agent = self.configured(env).start()
            env.agent.sync()
            # No fake sysfs: the test's /tmp is not encrypted.
            os.chmod(env.key_file, 0o644)
            env.sim.set_faults(offline=True)
            env.agent.sync()
            code, out, err = fieldsync(env.env, "doctor")
            self.assertEqual(code, 4, out + err)
            self.assertEqual(err, "")
            got = checks(out)
            self.assertEqual(got["key file"][0], "FAIL")
            self.assertIn("chmod 600 %s" % env.key_file, got["key file"][1])
            self.assertEqual(got["remote"][0], "FAIL")
            self.assertEqual(got["encryption"][0], "WARN")
            self.assertIn("LUKS", got["encryption"][1])
            self.assertIn("fscrypt encrypt", got["encryption"][1])
            self.assertEqual(got["config"][0], "OK")
            env.sim.clear_faults()
            os.chmod(env.key_file, 0o600)
            env.agent.stop()
            env.agent = None
            code, out, _ = fieldsync(env.env, "doctor")
            self.assertEqual(code, 4)
            got = checks(out)
            self.assertEqual(got["socket"][0], "FAIL")
            self.assertEqual(got["remote"], ("FAIL", "cannot tell: fieldsyncd does not answer"))

    def test_refused_key(self):
        with AgentEnv(start_agent=False) as env:
            wrong = os.path.join(env.root, "wrong.key")
            with open(wrong, "w") as f:
                f.write("not-the-key\n")
            os.chmod(wrong, 0o600)
            env.agent = self.configured(env, wrong).start()
            env.agent.sync()
            code, out, _ = fieldsync(env.env, "doctor")
            self.assertEqual(code, 4)
            self.assertEqual(checks(out)["api key"][0], "FAIL")
            self.assertIn("refused by the remote", checks(out)["api key"][1])


if __name__ == "__main__":
    unittest.main(verbosity=2)
