#!/usr/bin/env python3
"""The CLI's commands, its help, the bash completion and the daemon's router
describe the same API: the completion is generated from the CLI's command
table (and the copy in the tree is current), every command and subcommand
the help lists is completed, and every endpoint a command calls is one the
real fieldsyncd routes (never a 404 for an unknown path, never a 405)."""
import json
import os
import re
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from agentutil import TOP, agent_env_for, build_dir, daemon_binary  # noqa: E402
from simutil import sim_binary  # noqa: E402

GEN = os.path.join(build_dir(), "gen-completion")
FIELDSYNC = os.path.join(build_dir(), "fieldsync")
SCRIPT = os.path.join(TOP, "packaging", "completion", "fieldsync.bash")


def missing_programs():
    return [p for p in (GEN, FIELDSYNC, daemon_binary(), sim_binary())
            if not os.access(p, os.X_OK)]


def out(*args):
    p = subprocess.run(list(args), capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        raise AssertionError("%s: %s" % (args, p.stderr))
    return p.stdout


def commands():
    """{(group, sub or None): (method, pattern)} from the CLI's own table."""
    table = {}
    for line in out(GEN, "--routes").splitlines():
        group, sub, method, pattern = line.split(" ")
        table[(group, None if sub == "-" else sub)] = (method, pattern)
    return table


def bash(*lines):
    script = 'source "$1"; ' + "; ".join(lines)
    return out("bash", "--norc", "--noprofile", "-c", script, "complete", SCRIPT).split()


@unittest.skipIf(missing_programs(), "not built: %s" % missing_programs())
class CommandsAgree(unittest.TestCase):
    def test_completion_in_the_tree_is_generated_from_the_cli(self):
        with open(SCRIPT) as f:
            self.assertEqual(out(GEN, SCRIPT), f.read(),
                             "packaging/completion/fieldsync.bash is stale: run make completion")

    def test_help_and_completion_list_the_cli_commands(self):
        table = commands()
        top = out(FIELDSYNC, "--help").split("Commands:")[1].split("\n\n")[0]
        groups = [g for g in re.findall(r"^  ([a-z][a-z-]*) ", top, re.M) if g != "help"]
        self.assertEqual(groups, list(dict.fromkeys(g for g, _ in table)))
        self.assertEqual(bash("_fieldsync_commands"), groups + ["help"])
        for g in groups:
            subs = [s for grp, s in table if grp == g and s]
            page = out(FIELDSYNC, "help", g)
            listed = []
            if "\nCommands:\n" in page:
                block = page.split("\nCommands:\n")[1].split("\n\n")[0]
                listed = re.findall(r"^  ([a-z][a-z-]*)\b", block, re.M)
            self.assertEqual(listed, subs, g)
            self.assertEqual(bash('_fieldsync_subcommands "%s"' % g), subs, g)

    def test_the_daemon_routes_every_endpoint_the_cli_calls(self):
        env = agent_env_for(self)
        for cmd, (method, pattern) in sorted(commands().items(), key=str):
            path = pattern.replace("{}", "no-such-id")
            conn = env.agent.connect(timeout=30)
            try:
                body = "{}" if method in ("POST", "PUT") else None
                conn.request(method, path, body=body,
                             headers={"Content-Type": "application/json"} if body else {})
                r = conn.getresponse()
                # The event stream never ends: its status line is enough.
                text = r.read().decode(errors="replace") if path != "/agent/events" else ""
            finally:
                conn.close()
            self.assertNotEqual(r.status, 405, (cmd, method, path))
            if r.status == 404:
                self.assertNotEqual(json.loads(text)["error"]["message"], "Not found",
                                    (cmd, method, path, "the router has no such route"))


if __name__ == "__main__":
    unittest.main(verbosity=1)
