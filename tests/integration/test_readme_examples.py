"""README's examples work as written (issue 13): a newcomer who follows
the simulator steps of "Running the agent" and then runs the local API
examples gets an answer from each, with ids their own replica holds.

The blocks are taken from README.md itself, so the test follows the text.
Only what a test cannot take as written is replaced: port 8080 by a free
one, build/ by the build directory under test.  Everything runs in a
private HOME and XDG_RUNTIME_DIR, in a process group of its own that the
test stops at the end."""
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from agentutil import build_dir  # noqa: E402

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def sh_blocks():
    with open(os.path.join(TOP, "README.md")) as f:
        return re.findall(r"```sh\n(.*?)```", f.read(), re.S)


def block_with(text):
    found = [b for b in sh_blocks() if text in b]
    assert len(found) == 1, "README has %d sh blocks with %r" % (len(found), text)
    return found[0]


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class ReadmeExamples(unittest.TestCase):

    def test_simulator_steps_then_local_api_examples(self):
        tmp = tempfile.TemporaryDirectory(prefix="fs-readme-")
        root = tmp.name
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("FIELDSYNC_", "XDG_")) and k != "NOTIFY_SOCKET"}
        env["HOME"] = os.path.join(root, "home")
        env["XDG_RUNTIME_DIR"] = os.path.join(root, "run")
        env["PATH"] = build_dir() + os.pathsep + env.get("PATH", "")
        for d in (env["HOME"], env["XDG_RUNTIME_DIR"]):
            os.makedirs(d, mode=0o700)
        port = str(free_port())
        steps = block_with("until build/fieldsync status")
        steps = steps.replace("8080", port).replace("build/", build_dir() + "/")
        examples = block_with("S=$XDG_RUNTIME_DIR/fieldsync.sock")
        # curl's status line goes to stderr (-w %{stderr}), so the
        # examples' own output, and the $(...) captures, stay as written.
        wrapper = ("curl() { command curl --max-time 5 -w '%{stderr}HTTP %{http_code}\\n' \"$@\"; }\n")
        self.addCleanup(tmp.cleanup)
        # Files, not pipes: the sim and the daemon the steps start in the
        # background keep them open after the script ends.
        out_path, err_path = os.path.join(root, "out"), os.path.join(root, "err")
        with open(out_path, "wb") as fo, open(err_path, "wb") as fe:
            proc = subprocess.Popen(["bash", "-c", steps + "\n" + wrapper + examples], env=env,
                                    cwd=root, stdin=subprocess.DEVNULL, stdout=fo, stderr=fe,
                                    start_new_session=True)
        try:
            proc.wait(timeout=120)
        finally:
            # The sim and the daemon, in the script's process group.
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        with open(out_path, "rb") as fo, open(err_path, "rb") as fe:
            out, err = fo.read().decode(errors="replace"), fe.read().decode(errors="replace")
        self.assertIn("OK   remote: reachable", out, out + err)
        self.assertNotIn("cannot reach", err)
        codes = re.findall(r"^HTTP (\d+)$", err, re.M)
        # Two captures, then every curl line of the block.
        self.assertEqual(len(codes), 2 + examples.count("\ncurl "), err)
        for c in codes:
            self.assertTrue(c.startswith("2"), "an example answered %s:\n%s\n%s" % (c, out, err))
        self.assertIn('"notes":"Gate code 1234"', out)        # the PUT took
        self.assertIn('"name":"Jane Doe"', out)               # the POST took
        self.assertIn(": connected", out)                     # the event stream answered


if __name__ == "__main__":
    unittest.main(verbosity=2)
