"""Packaging and the first hour: make demo, make install/uninstall, the
systemd user unit, man pages, bash completion, make deb and lintian.

The programs under test are $FIELDSYNC_BUILD's (tests/run_tests.py sets
it).  make install runs against them without rebuilding (-o); make deb
builds its own objects, in a private directory, as it always does.
Standard library only; every wait is on a condition with a timeout.
"""
import glob
import grp
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from agentutil import build_dir, private_env, write_key  # noqa: E402
from simutil import Sim, wait_for  # noqa: E402

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PROGRAMS = ("fieldsyncd", "fieldsync", "fieldsync-sim")
MAN_PAGES = {"fieldsyncd": "man8/fieldsyncd.8", "fieldsync": "man1/fieldsync.1",
             "fieldsync-sim": "man1/fieldsync-sim.1"}
# Every file make install puts under PREFIX=/usr, and its mode.
INSTALLED = {
    "usr/bin/fieldsyncd": 0o755,
    "usr/bin/fieldsync": 0o755,
    "usr/bin/fieldsync-sim": 0o755,
    "usr/share/man/man8/fieldsyncd.8": 0o644,
    "usr/share/man/man1/fieldsync.1": 0o644,
    "usr/share/man/man1/fieldsync-sim.1": 0o644,
    "usr/share/bash-completion/completions/fieldsync": 0o644,
    "usr/lib/systemd/user/fieldsyncd.service": 0o644,
    "usr/share/doc/fieldsync/README.md": 0o644,
    "usr/share/doc/fieldsync/SIM.md": 0o644,
    "usr/share/doc/fieldsync/examples/fieldsync.conf.example": 0o644,
}
RUNTIME_LIBS = ("libc6", "libcjson1", "libcurl4", "libmicrohttpd12", "libsqlite3-0", "zlib1g")


def makefile_version():
    with open(os.path.join(TOP, "Makefile")) as f:
        return re.search(r"^VERSION\s*:?=\s*(\S+)", f.read(), re.M).group(1)


def make(*args, timeout=300):
    """make in the top directory, without the MAKEFLAGS of a make above us
    (make check-asan passes SAN=1 and its BUILD down that way)."""
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    p = subprocess.run(["make", "--no-print-directory", "-C", TOP] + list(args), env=env,
                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=timeout)
    out = p.stdout.decode(errors="replace")
    if p.returncode != 0:
        raise AssertionError("make %s failed (%d):\n%s" % (" ".join(args), p.returncode, out[-4000:]))
    return out


def make_install(*args):
    """make install of the programs already built in $FIELDSYNC_BUILD."""
    build = build_dir()
    gen = tempfile.mkdtemp(prefix="fieldsync-gen.")
    try:
        keep = []
        for p in PROGRAMS:
            keep += ["-o", os.path.join(build, p)]
        return make("BUILD=" + build, "GEN=" + gen, *keep, *args)
    finally:
        shutil.rmtree(gen, ignore_errors=True)


def run(argv, env=None, timeout=60, check=True):
    p = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=timeout)
    out, err = p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")
    if check and p.returncode != 0:
        raise AssertionError("%s exited %d:\n%s%s" % (argv, p.returncode, out, err))
    return p.returncode, out, err


def read_text(path):
    with open(path, "rb") as f:
        return f.read().decode(errors="replace")


def files_under(root):
    found = {}
    for d, _, names in os.walk(root):
        for n in names:
            path = os.path.join(d, n)
            found[os.path.relpath(path, root)] = stat.S_IMODE(os.lstat(path).st_mode)
    return found


def roff_text(path):
    """A man page's source as plain text, enough to search for words."""
    with open(path, errors="replace") as f:
        text = f.read()
    text = re.sub(r"\\f[BIRP]", "", text).replace("\\-", "-").replace("\\(aq", "'")
    return text.replace('\\(dq', '"').replace("\\e", "\\")


def render_man(path):
    """man -l PATH as plain text; (text, warnings)."""
    env = dict(os.environ, MANWIDTH="100", MANPAGER="cat", PAGER="cat", LC_ALL="C.UTF-8")
    p = subprocess.run(["man", "--warnings", "-l", path], env=env, stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    return p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace"), p.returncode


def long_options(text):
    return set(re.findall(r"(?<![\w-])(--[a-z][a-z-]*[a-z])", text))


class Help:
    """What the programs' own help says: commands, subcommands, options."""

    def __init__(self, bindir):
        self.bindir = bindir
        self.cli_top = self.out("fieldsync", "--help")
        self.groups = re.findall(r"^  ([a-z][a-z-]*) ", self.cli_top.split("Commands:")[1]
                                 .split("\n\n")[0], re.M)
        self.subs = {}
        self.pages = {}
        for g in self.groups:
            if g == "help":
                continue
            page = self.out("fieldsync", "help", g)
            self.pages[(g,)] = page
            subs = []
            if "\nCommands:\n" in page:
                block = page.split("\nCommands:\n")[1].split("\n\n")[0]
                subs = re.findall(r"^  ([a-z][a-z-]*)\b", block, re.M)
            self.subs[g] = subs
            for s in subs:
                self.pages[(g, s)] = self.out("fieldsync", "help", g, s)

    def out(self, prog, *args):
        return run([os.path.join(self.bindir, prog)] + list(args))[1]

    def options(self, key):
        """The options one command's help lists, first on their lines."""
        page = self.pages[key]
        block = page.split("\nOptions:\n")[1].split("\n\n")[0]
        return set(re.findall(r"^  (?:-\w, )?(--[a-z][a-z-]*)", block, re.M))


# ---------------------------------------------------------------- make demo

class Demo(unittest.TestCase):
    def test_demo_walks_through_every_step_and_cleans_up(self):
        with open(os.path.join(TOP, "tests", "demo.sh")) as f:
            steps = re.findall(r'^step "([^"$]+)"', f.read(), re.M)
        # The walk-through the README promises, in order.
        for want in ("Start", "Initial sync", "Query", "offline", "Back online", "conflict", "Stop"):
            self.assertTrue(any(want in s for s in steps), (want, steps))
        # Run it exactly as 'make demo' does (after its deps and build steps).
        with open(os.path.join(TOP, "Makefile")) as f:
            recipe = re.search(r"^demo:.*\n((?:\t.*\n)+)", f.read(), re.M).group(1)
        command = [l.strip().lstrip("@") for l in recipe.splitlines() if "tests/demo.sh" in l]
        self.assertEqual(len(command), 1, recipe)
        command = command[0].replace("$(BUILD)", build_dir())
        start = time.monotonic()
        p = subprocess.run(["/bin/sh", "-c", command],
                           cwd=TOP, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=120)
        out = p.stdout.decode(errors="replace")
        self.assertEqual(p.returncode, 0, out[-3000:])
        pos = 0
        for s in steps:
            at = out.find("== " + s, pos)
            self.assertGreaterEqual(at, 0, "step %r not printed (in order):\n%s" % (s, out[-3000:]))
            pos = at
        self.assertIn("Demo finished.", out)
        self.assertIn("1 pushed", out)
        self.assertRegex(out, r"remote_won|local_won")
        # Everything it started is stopped and its directory is gone.
        tmp = re.search(r"(\S*fieldsync-demo\.\w+)", out).group(1)
        self.assertFalse(os.path.exists(tmp), tmp)
        self.assertLess(time.monotonic() - start, 60)


# --------------------------------------------------------- make install

class InstallIntoDestdir(unittest.TestCase):
    """make install DESTDIR=ROOT PREFIX=/usr, then the programs from ROOT."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="fieldsync-install.")
        cls.root = os.path.join(cls.tmp, "root")
        make_install("install", "DESTDIR=" + cls.root, "PREFIX=/usr")
        cls.bindir = os.path.join(cls.root, "usr", "bin")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_layout_and_modes(self):
        self.assertEqual(files_under(self.root), INSTALLED)

    def test_placeholders_filled_in(self):
        version = makefile_version()
        for rel in INSTALLED:
            if rel.startswith("usr/bin/"):
                continue
            with open(os.path.join(self.root, rel), errors="replace") as f:
                text = f.read()
            self.assertNotRegex(text, r"@[A-Z]+@", rel)
        for prog, page in MAN_PAGES.items():
            with open(os.path.join(self.root, "usr/share/man", page)) as f:
                self.assertIn('"fieldsync %s"' % version, f.read(), page)

    def test_unit(self):
        with open(os.path.join(self.root, "usr/lib/systemd/user/fieldsyncd.service")) as f:
            unit = f.read()
        lines = set(unit.splitlines())
        for want in ("Type=notify", "ExecStart=/usr/bin/fieldsyncd",
                     "ExecReload=/bin/kill -HUP $MAINPID", "Restart=on-failure",
                     # Enabled for every user: one without a configuration
                     # (exit 1) is not restarted every RestartSec.
                     "RestartPreventExitStatus=1",
                     "WantedBy=default.target", "NoNewPrivileges=yes", "PrivateUsers=yes",
                     "ProtectSystem=strict", "ProtectHome=read-only", "PrivateTmp=yes",
                     "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK",
                     "LockPersonality=yes", "MemoryDenyWriteExecute=yes",
                     "RestrictRealtime=yes", "SystemCallArchitectures=native",
                     "SystemCallFilter=@system-service",
                     # socket_group chowns the socket.
                     "SystemCallFilter=@chown"):
            self.assertIn(want, lines)
        # The daemon's XDG defaults are where the sandbox lets it write.
        self.assertIn("ReadWritePaths=%h/.local/state/fieldsync %t", lines)
        self.assertIn("ExecStartPre=+/bin/mkdir -p -m 0700 %h/.local/state/fieldsync", lines)

    def test_installed_programs_run(self):
        version = makefile_version()
        with tempfile.TemporaryDirectory(prefix="fieldsync-home.") as home:
            env = private_env(home)
            rc, out, _ = run([os.path.join(self.bindir, "fieldsyncd"), "--check-config"], env)
            self.assertIn("db = %s/state/fieldsync/replica.db  # default" % home, out)
            self.assertIn("socket = %s/run/fieldsync.sock  # default" % home, out)
            self.assertIn("config = %s/config/fieldsync/config  # not found" % home, out)
            rc, out, _ = run([os.path.join(self.bindir, "fieldsync"), "--help"], env)
            self.assertTrue(out.startswith("usage: fieldsync "), out)
            rc, out, _ = run([os.path.join(self.bindir, "fieldsync-sim"), "--help"], env)
            self.assertTrue(out.startswith("usage: fieldsync-sim "), out)
            for prog in ("fieldsyncd", "fieldsync"):
                rc, out, _ = run([os.path.join(self.bindir, prog), "--version"], env)
                self.assertEqual(out, "%s %s\n" % (prog, version))

    def test_example_config_has_every_key_and_parses(self):
        with tempfile.TemporaryDirectory(prefix="fieldsync-home.") as home:
            env = private_env(home)
            rc, out, _ = run([os.path.join(self.bindir, "fieldsyncd"), "--check-config"], env)
            keys = set(re.findall(r"^([a-z_]+) = ", out, re.M)) - {"config", "api_key"}
            example = os.path.join(self.root, "usr/share/doc/fieldsync/examples/fieldsync.conf.example")
            with open(example) as f:
                text = f.read()
            shown = set(re.findall(r"^#?([a-z_]+) = ", text, re.M))
            self.assertEqual(shown, keys)
            # Every line, uncommented, is a valid configuration.
            os.makedirs(os.path.join(home, "home", ".config", "fieldsync"))
            write_key(os.path.join(home, "home", ".config", "fieldsync", "api.key"))
            group = grp.getgrgid(os.getgid()).gr_name
            conf = re.sub(r"^#([a-z_]+ = )", r"\1", text, flags=re.M)
            conf = re.sub(r"^socket_group = .*$", "socket_group = " + group, conf, flags=re.M)
            path = os.path.join(home, "all.conf")
            with open(path, "w") as f:
                f.write(conf)
            rc, out, err = run([os.path.join(self.bindir, "fieldsyncd"), "--config", path,
                                "--check-config"], env)
            for key in keys:
                self.assertRegex(out, r"(?m)^%s = .*# %s:\d+$" % (key, re.escape(path)))
            self.assertIn("api_key = (set, redacted)", out)


class Uninstall(unittest.TestCase):
    def test_uninstall_removes_what_install_put(self):
        with tempfile.TemporaryDirectory(prefix="fieldsync-install.") as tmp:
            root = os.path.join(tmp, "root")
            # Something of someone else's in a shared directory stays.
            os.makedirs(os.path.join(root, "usr", "local", "bin"))
            other = os.path.join(root, "usr", "local", "bin", "other-tool")
            open(other, "w").close()
            make_install("install", "DESTDIR=" + root)
            installed = files_under(os.path.join(root, "usr", "local"))
            self.assertEqual(len(installed), len(INSTALLED) + 1)
            make_install("uninstall", "DESTDIR=" + root)
            self.assertEqual(files_under(root), {"usr/local/bin/other-tool": 0o644})
            self.assertFalse(os.path.exists(os.path.join(root, "usr/local/share/doc/fieldsync")))


class UnitVerifies(unittest.TestCase):
    """systemd-analyze verify on the unit installed with a PREFIX (no
    DESTDIR), so that its ExecStart= and man pages are really there."""

    def test_systemd_analyze_verify(self):
        analyze = shutil.which("systemd-analyze")
        if not analyze:
            self.skipTest("systemd-analyze is not installed")
        with tempfile.TemporaryDirectory(prefix="fieldsync-prefix.") as tmp:
            prefix = os.path.join(tmp, "usr")
            make_install("install", "PREFIX=" + prefix)
            unit = os.path.join(prefix, "lib/systemd/user/fieldsyncd.service")
            with open(unit) as f:
                self.assertIn("ExecStart=%s/bin/fieldsyncd\n" % prefix, f.read())
            run_dir = os.path.join(tmp, "run")
            os.mkdir(run_dir, 0o700)
            env = dict(os.environ, XDG_RUNTIME_DIR=run_dir,
                       MANPATH=os.path.join(prefix, "share", "man"))
            rc, out, err = run([analyze, "verify", "--user", unit], env, check=False)
            self.assertEqual((rc, out + err), (0, ""))


# ----------------------------------------------------- man pages, completion

class ManPages(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.help = Help(build_dir())
        cls.src = {p: os.path.join(TOP, "packaging", "man", os.path.basename(page))
                   for p, page in MAN_PAGES.items()}

    def test_render_without_warnings(self):
        if not shutil.which("man"):
            self.skipTest("man is not installed")
        for prog, path in self.src.items():
            text, warnings, rc = render_man(path)
            self.assertEqual((rc, warnings), (0, ""), path)
            for section in ("NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "SEE ALSO"):
                self.assertRegex(text, r"(?m)^%s$" % section, path)
            self.assertIn(prog + " - ", text)

    def test_every_option_of_the_help_is_documented(self):
        daemon = self.help.out("fieldsyncd", "--help")
        sim = self.help.out("fieldsync-sim", "--help")
        cli = "\n".join([self.help.cli_top] + list(self.help.pages.values()))
        for prog, helptext in (("fieldsyncd", daemon), ("fieldsync-sim", sim), ("fieldsync", cli)):
            doc = roff_text(self.src[prog])
            missing = sorted(o for o in long_options(helptext) if o not in doc)
            self.assertEqual(missing, [], prog)
            stale = sorted(o for o in long_options(doc) if o not in long_options(helptext)
                           and o not in ("--user", "--now", "--unix-socket"))
            self.assertEqual(stale, [], prog)

    def test_every_command_is_documented(self):
        doc = roff_text(self.src["fieldsync"])
        headings = re.findall(r'^\.SS "?([^"\n]*)', doc, re.M)
        for g, subs in self.help.subs.items():
            for s in subs or [None]:
                want = re.compile(r"^%s(?: \[?%s\]?)?(?: |$)" % (re.escape(g), s)
                                  if s else r"^%s(?: |$)" % re.escape(g))
                self.assertTrue(any(want.match(h) for h in headings), (g, s, headings))

    def test_config_keys_and_environment_documented(self):
        doc = roff_text(self.src["fieldsyncd"])
        with tempfile.TemporaryDirectory(prefix="fieldsync-home.") as home:
            rc, out, _ = run([os.path.join(build_dir(), "fieldsyncd"), "--check-config"],
                             private_env(home))
        for key in set(re.findall(r"^([a-z_]+) = ", out, re.M)) - {"config", "api_key"}:
            self.assertTrue(re.search(r"(?m)^\.BR? (.* )?%s\b" % key, doc), key)
        for var in re.findall(r"FIELDSYNC_[A-Z_]+", self.help.out("fieldsyncd", "--help")):
            self.assertTrue(re.search(r"(?m)^\.B %s$" % var, doc), var)


class BashCompletion(unittest.TestCase):
    """Sources packaging/completion/fieldsync.bash in bash and calls the
    completion function as bash would (COMP_WORDS, COMP_CWORD)."""

    SCRIPT = os.path.join(TOP, "packaging", "completion", "fieldsync.bash")

    @classmethod
    def setUpClass(cls):
        if not shutil.which("bash"):
            raise unittest.SkipTest("bash is not installed")
        cls.help = Help(build_dir())
        cls.tmp = tempfile.mkdtemp(prefix="fieldsync-complete.")
        for name in ("alpha.sock", "alpine"):
            open(os.path.join(cls.tmp, name), "w").close()

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def complete(self, *words):
        """The completions of the last word of `fieldsync WORDS...`."""
        script = ('source "$1"; shift; COMP_WORDS=(fieldsync "$@"); COMP_CWORD=$#; '
                  'COMPREPLY=(); _fieldsync; printf "%s\\n" "${COMPREPLY[@]}"; '
                  'complete -p fieldsync >&2')
        p = subprocess.run(["bash", "--norc", "--noprofile", "-c", script, "complete",
                            self.SCRIPT] + list(words), cwd=self.tmp, stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stderr.decode().strip(), "complete -F _fieldsync fieldsync")
        return [w for w in p.stdout.decode().split("\n") if w]

    def test_commands(self):
        self.assertEqual(self.complete(""), self.help.groups)
        self.assertEqual(self.complete("co"), ["contacts", "conflicts"])
        self.assertEqual(self.complete("--json", "--socket", "/x", "wo"), ["work-orders"])
        self.assertEqual(sorted(self.complete("-")), ["--help", "--json", "--socket", "--version"])

    def test_subcommands(self):
        for g, subs in self.help.subs.items():
            self.assertEqual(self.complete(g, ""), subs, g)
            if subs:
                self.assertEqual(self.complete("help", g, ""), subs, g)
        self.assertEqual(self.complete("help", ""), [g for g in self.help.groups if g != "help"])

    def test_options_match_each_commands_help(self):
        for key in self.help.pages:
            if len(key) == 1 and self.help.subs[key[0]]:
                continue
            args = list(key) + (["ID"] if len(key) == 2 and key[1] not in ("list",) else [])
            offered = set(self.complete(*args, "--"))
            self.assertEqual(offered, self.help.options(key), key)
        # With no subcommand, outbox and conflicts run 'list'.
        self.assertIn("--open", self.complete("conflicts", "--"))
        self.assertEqual(self.complete("work-orders", "list", "--json", "--st"), ["--status"])

    def test_option_values(self):
        statuses = re.search(r"--status S\s+only this status: ([a-z_, \n]+)",
                             self.help.pages[("work-orders", "list")]).group(1)
        statuses = [s for s in re.split(r"[,\s]+", statuses) if s]
        self.assertEqual(self.complete("work-orders", "list", "--status", ""), statuses)
        self.assertEqual(self.complete("work-orders", "update", "wo-1", "--status", "in"),
                         ["in_progress"])
        self.assertEqual(self.complete("customers", "update", "c-1", "--status", ""),
                         ["active", "inactive"])
        self.assertEqual(self.complete("work-orders", "create", "--priority", ""),
                         ["low", "medium", "high", "urgent"])
        self.assertEqual(self.complete("conflicts", "resolve", "3", "--keep", ""),
                         ["local", "remote"])
        self.assertEqual(self.complete("work-orders", "list", "--customer", ""), [])
        self.assertEqual(self.complete("work-orders", "show", ""), [])

    def test_socket_completes_files_in_both_forms(self):
        self.assertEqual(sorted(self.complete("--socket", "al")), ["alpha.sock", "alpine"])
        self.assertEqual(self.complete("status", "--socket", "alph"), ["alpha.sock"])
        self.assertEqual(self.complete("--socket", "=", "alph"), ["alpha.sock"])
        self.assertEqual(sorted(self.complete("--socket", "=")), ["alpha.sock", "alpine"])


# ---------------------------------------------------------------- make deb

# The binary packages make deb builds, and which installed files each holds:
# the simulator and its documentation apart (a fleet's laptops need no
# simulator), everything else in fieldsync.
PACKAGES = ("fieldsync", "fieldsync-sim")
SIM_FILES = {"usr/bin/fieldsync-sim": "usr/bin/fieldsync-sim",
             "usr/share/man/man1/fieldsync-sim.1": "usr/share/man/man1/fieldsync-sim.1",
             "usr/share/doc/fieldsync/SIM.md": "usr/share/doc/fieldsync-sim/SIM.md"}
MAINTAINER_SCRIPTS = ("postinst", "prerm", "postrm")


def packaged_files(pkg):
    """{path in the .deb: mode} of one package, from what make install puts."""
    expected = {}
    for path, mode in INSTALLED.items():
        if (path in SIM_FILES) != (pkg == "fieldsync-sim"):
            continue
        path = SIM_FILES.get(path, path)
        if "/man/" in path:
            path += ".gz"
        if path.endswith(".md"):
            path += ".gz"   # over 4 KiB: compressed, as Debian policy asks
        expected[path] = "-rwxr-xr-x" if mode == 0o755 else "-rw-r--r--"
    expected["usr/share/doc/%s/copyright" % pkg] = "-rw-r--r--"
    expected["usr/share/doc/%s/changelog.gz" % pkg] = "-rw-r--r--"
    return expected


class DebianPackage(unittest.TestCase):
    """make deb (its own build, in a private BUILD), then lintian, then each
    package unpacked into a root of its own and both into one root, whose
    programs are run from there."""

    @classmethod
    def setUpClass(cls):
        for tool in ("dpkg-deb", "dpkg-shlibdeps", "dpkg-gencontrol"):
            if not shutil.which(tool):
                raise unittest.SkipTest("%s is not installed (packaging/deps.sh deb)" % tool)
        cls.tmp = tempfile.mkdtemp(prefix="fieldsync-deb.")
        cls.version = makefile_version()
        cls.arch = subprocess.check_output(["dpkg", "--print-architecture"]).decode().strip()
        build = os.path.join(cls.tmp, "build")
        cls.make_out = make("-j2", "BUILD=" + build, "deb")
        cls.debs = {p: os.path.join(build, "%s_%s_%s.deb" % (p, cls.version, cls.arch))
                    for p in PACKAGES}
        cls.deb = cls.debs["fieldsync"]
        cls.roots = {}
        cls.root = os.path.join(cls.tmp, "root")
        for p, deb in cls.debs.items():
            cls.roots[p] = os.path.join(cls.tmp, "root-" + p)
            run(["dpkg-deb", "-x", deb, cls.roots[p]])
            run(["dpkg-deb", "-x", deb, cls.root])
        cls.bindir = os.path.join(cls.root, "usr", "bin")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def field(self, name, pkg="fieldsync"):
        return run(["dpkg-deb", "-f", self.debs[pkg], name])[1].strip()

    def depends(self, pkg):
        return {d.split()[0] for d in self.field("Depends", pkg).split(", ")}

    def control_dir(self, pkg):
        ctl = os.path.join(self.tmp, "control-" + pkg)
        if not os.path.isdir(ctl):
            run(["dpkg-deb", "-e", self.debs[pkg], ctl])
        return ctl

    def test_make_deb_prints_both_packages(self):
        printed = self.make_out.rstrip().splitlines()[-2:]
        self.assertEqual(printed, [self.debs[p] for p in PACKAGES], self.make_out[-500:])

    def test_control(self):
        for pkg in PACKAGES:
            self.assertEqual(self.field("Package", pkg), pkg)
            self.assertEqual(self.field("Version", pkg), self.version)
            self.assertEqual(self.field("Architecture", pkg), self.arch)
            self.assertRegex(self.field("Maintainer", pkg), r"^[^<>]+ <[^<>@]+@[^<>]+>$")
            self.assertGreater(int(self.field("Installed-Size", pkg)), 0)
            # dpkg-shlibdeps: only the libraries each package's programs link.
            self.assertIn("libc6", self.depends(pkg))
        # The daemon and the CLI link all of these; the maintainer scripts
        # use deb-systemd-invoke --user (init-system-helpers 1.61).
        self.assertEqual(self.depends("fieldsync") - set(RUNTIME_LIBS), {"init-system-helpers"})
        for lib in ("libcjson1", "libcurl4", "libmicrohttpd12", "libsqlite3-0"):
            self.assertIn(lib, self.depends("fieldsync"))
        self.assertRegex(self.field("Depends"), r"init-system-helpers \(>= 1\.6[1-9]~?\)")
        self.assertLessEqual(self.depends("fieldsync-sim"), set(RUNTIME_LIBS))
        self.assertIn("libmicrohttpd12", self.depends("fieldsync-sim"))
        self.assertEqual(self.field("Source", "fieldsync-sim"), "fieldsync")

    def test_contents(self):
        for pkg in PACKAGES:
            listing = run(["dpkg-deb", "-c", self.debs[pkg]])[1].splitlines()
            entries = {}
            for line in listing:
                mode, owner, _, _, _, path = line.split(None, 5)
                self.assertEqual(owner, "root/root", line)
                entries[path[2:]] = mode
            files = {p: m for p, m in entries.items() if not m.startswith("d")}
            self.assertEqual(files, packaged_files(pkg), pkg)
            self.assertTrue(all(m == "drwxr-xr-x" for p, m in entries.items()
                                if m.startswith("d")), pkg)

    def test_simulator_only_in_its_own_package(self):
        fieldsync = run(["dpkg-deb", "-c", self.deb])[1]
        self.assertNotRegex(fieldsync, r"fieldsync-sim|SIM\.md")
        self.assertFalse(os.path.exists(os.path.join(self.roots["fieldsync"], "usr/bin/fieldsync-sim")))
        sim = self.roots["fieldsync-sim"]
        self.assertEqual(os.listdir(os.path.join(sim, "usr/bin")), ["fieldsync-sim"])
        self.assertFalse(os.path.exists(os.path.join(sim, "usr/lib/systemd")))
        self.assertNotIn("fieldsync", self.field("Depends", "fieldsync-sim"))

    def test_md5sums_and_stripped_programs(self):
        for pkg in PACKAGES:
            ctl, root = self.control_dir(pkg), self.roots[pkg]
            with open(os.path.join(ctl, "md5sums")) as f:
                sums = dict(reversed(line.split("  ", 1)) for line in f.read().splitlines())
            self.assertEqual(set(sums), set(files_under(root)), pkg)
            check = subprocess.run(["md5sum", "--quiet", "-c", os.path.join(ctl, "md5sums")],
                                   cwd=root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            self.assertEqual(check.returncode, 0, check.stdout)
        for prog in PROGRAMS:
            sections = run(["readelf", "-S", "-W", os.path.join(self.bindir, prog)])[1]
            self.assertNotIn(".symtab", sections, prog)
            self.assertNotIn(".debug_info", sections, prog)
            dyn = run(["readelf", "-d", "-W", os.path.join(self.bindir, prog)])[1]
            self.assertRegex(dyn, r"BIND_NOW|FLAGS_1.*NOW", prog)   # hardening=+all

    def test_changelog_and_copyright_in_each(self):
        with open(os.path.join(TOP, "packaging", "debian", "copyright"), "rb") as f:
            copyright_text = f.read()
        for pkg in PACKAGES:
            doc = os.path.join(self.roots[pkg], "usr/share/doc", pkg)
            with open(os.path.join(doc, "copyright"), "rb") as f:
                self.assertEqual(f.read(), copyright_text, pkg)
            version = run(["sh", "-c", 'zcat "$1" | dpkg-parsechangelog -l- -SVersion', "sh",
                           os.path.join(doc, "changelog.gz")])[1]
            self.assertEqual(version.strip(), self.version, pkg)

    def test_maintainer_scripts_in_the_package(self):
        ctl = self.control_dir("fieldsync")
        for script in MAINTAINER_SCRIPTS:
            path = os.path.join(ctl, script)
            self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o755, script)
            with open(path, "rb") as f, \
                    open(os.path.join(TOP, "packaging", "debian", "fieldsync." + script), "rb") as src:
                self.assertEqual(f.read(), src.read(), script)
        self.assertFalse(set(os.listdir(self.control_dir("fieldsync-sim"))) & set(MAINTAINER_SCRIPTS))

    def test_lintian(self):
        lintian = shutil.which("lintian")
        if not lintian:
            self.skipTest("lintian is not installed (packaging/deps.sh test installs it)")
        for pkg in PACKAGES:
            p = subprocess.run([lintian, "--pedantic", "--display-info", self.debs[pkg]],
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, timeout=300)
            out = p.stdout.decode(errors="replace")
            sys.stderr.write("lintian %s: %s\n" % (pkg, out.strip() or "(no tags)"))
            tags = [l for l in out.splitlines() if re.match(r"^[EWIPX]: ", l)]
            self.assertEqual([t for t in tags if t[0] in "EW"], [], out)
            self.assertEqual(p.returncode, 0, out + p.stderr.decode(errors="replace"))

    def test_dpkg_installs_both_into_a_scratch_root(self):
        """dpkg --root into an empty root of its own database: both packages
        install, hold their files, and remove and purge cleanly, without
        touching this machine's dpkg database.  The scripts run outside the
        root (--force-script-chrootless: the root has no /bin/sh), so dpkg
        sets DPKG_ROOT and they leave the unit alone, as a bootstrap wants.
        The root's database knows this machine's copies of the packages the
        two depend on, so dpkg checks the Depends too."""
        root = os.path.join(self.tmp, "dpkg-root")
        admin = os.path.join(root, "var", "lib", "dpkg")
        for d in ("info", "updates", "triggers"):
            os.makedirs(os.path.join(admin, d))
        deps = sorted(self.depends("fieldsync") | self.depends("fieldsync-sim"))
        status = run(["dpkg-query", "-s"] + deps)[1]
        with open(os.path.join(admin, "status"), "w") as f:
            f.write(status)
        open(os.path.join(admin, "available"), "w").close()
        def on_this_machine():
            return [run(["dpkg-query", "-W", "-f=${Status} ${Version}", p], check=False)[1]
                    for p in PACKAGES]
        before = on_this_machine()

        dpkg = ["dpkg", "--root=" + root, "--log=" + os.path.join(root, "dpkg.log"),
                "--force-script-chrootless", "--force-not-root"]
        run(dpkg + ["-i", self.debs["fieldsync"], self.debs["fieldsync-sim"]])

        def owned(pkg):
            listing = run(dpkg + ["-L", pkg])[1].splitlines()
            return {p.lstrip("/") for p in listing if os.path.isfile(os.path.join(root, p.lstrip("/")))}

        for pkg in PACKAGES:
            self.assertEqual(owned(pkg), set(packaged_files(pkg)), pkg)
            state = run(dpkg + ["-s", pkg])[1]
            self.assertIn("Status: install ok installed", state)
        # DPKG_ROOT set: postinst enabled nothing, outside the root or in it.
        self.assertFalse(os.path.exists(os.path.join(root, "etc")))

        run(dpkg + ["-r", "fieldsync-sim"])
        self.assertFalse(os.path.exists(os.path.join(root, "usr/bin/fieldsync-sim")))
        self.assertTrue(os.path.exists(os.path.join(root, "usr/bin/fieldsyncd")))
        run(dpkg + ["-P", "fieldsync"])
        self.assertEqual([f for f in files_under(root) if f.startswith("usr/")], [])
        self.assertEqual(on_this_machine(), before)

    def test_man_pages_in_the_package(self):
        if not shutil.which("man"):
            self.skipTest("man is not installed")
        for prog, page in MAN_PAGES.items():
            text, warnings, rc = render_man(os.path.join(self.root, "usr/share/man", page + ".gz"))
            self.assertEqual((rc, warnings), (0, ""), page)
            self.assertIn("fieldsync %s" % self.version, text)

    def test_programs_from_the_unpacked_root(self):
        with tempfile.TemporaryDirectory(prefix="fieldsync-home.") as home:
            env = private_env(home)
            rc, out, _ = run([os.path.join(self.bindir, "fieldsyncd"), "--check-config"], env)
            self.assertIn("db = %s/state/fieldsync/replica.db  # default" % home, out)
            rc, out, _ = run([os.path.join(self.bindir, "fieldsync"), "--help"], env)
            self.assertTrue(out.startswith("usage: fieldsync "), out)

    def test_unpacked_daemon_follows_the_units_contract(self):
        """What fieldsyncd.service relies on, with the packaged programs:
        READY=1 on NOTIFY_SOCKET (Type=notify), SIGHUP reloads
        (ExecReload), SIGTERM stops cleanly with STOPPING=1."""
        with tempfile.TemporaryDirectory(prefix="fieldsync-unit.") as home, \
                Sim("--seed", "5", "--customers", "20", "--work-orders", "60",
                    binary=os.path.join(self.bindir, "fieldsync-sim"),
                    workdir=home) as sim:
            env = private_env(home)
            cfgdir = os.path.join(home, "config", "fieldsync")
            os.makedirs(cfgdir)
            key = write_key(os.path.join(home, "api.key"))
            with open(os.path.join(cfgdir, "config"), "w") as f:
                f.write("api_url = %s/api/v1\napi_key_file = %s\ntechnician_id = tech-001\n"
                        "interval = 3600\n" % (sim.url, key))
            notify_path = os.path.join(home, "notify")
            notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            notify.bind(notify_path)
            notify.settimeout(30)
            env["NOTIFY_SOCKET"] = notify_path
            messages = []

            def received(what):
                while not any(what in m for m in messages):
                    messages.append(notify.recv(4096).decode())
                return True

            err = open(os.path.join(home, "daemon.err"), "wb")
            daemon = subprocess.Popen([os.path.join(self.bindir, "fieldsyncd")], env=env,
                                      stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                      stderr=err)
            try:
                received("READY=1")
                sock = os.path.join(home, "run", "fieldsync.sock")
                self.assertTrue(stat.S_ISSOCK(os.stat(sock).st_mode))
                cli = [os.path.join(self.bindir, "fieldsync")]
                run(cli + ["sync", "--wait"], env)
                rc, out, _ = run(cli + ["status"], env)
                self.assertRegex(out, r"(?m)^online\s+yes$")
                received("STATUS=")
                daemon.send_signal(signal.SIGHUP)
                wait_for(lambda: "reload" in read_text(err.name), 30, 0.05,
                         "the daemon to log its reload")
                self.assertIsNone(daemon.poll())
                run(cli + ["status"], env)
                daemon.send_signal(signal.SIGTERM)
                self.assertEqual(daemon.wait(30), 0)
                received("STOPPING=1")
                self.assertFalse(os.path.exists(sock))
            finally:
                if daemon.poll() is None:
                    daemon.kill()
                    daemon.wait()
                err.close()
                notify.close()



# ------------------------------------------------------ maintainer scripts

SCRIPTS_DIR = os.path.join(TOP, "packaging", "debian")
UNIT = "fieldsyncd.service"
# A stand-in for deb-systemd-helper, deb-systemd-invoke and systemctl: it
# records each call ("NAME ARGS") in $STUB_LOG and answers what the scripts
# and Debian's helpers ask.  Calls that only edit unit links (--global) go
# to the real systemctl, which MaintainerScriptsWithDebianHelpers runs in a
# mount namespace of its own.
STUB = r"""#!/bin/sh
echo "${0##*/} $*" >>"$STUB_LOG"
case "${0##*/} $*" in
    "deb-systemd-helper --quiet --user was-enabled "*) exit "${STUB_WAS_ENABLED:-0}" ;;
    "systemctl "*--global*) exec %(systemctl)s "$@" ;;
    "systemctl --version"*) echo "systemd 252 (252.38-1~deb12u1)" ;;
    "systemctl "*list-units*) echo "user@1000.service loaded active running User Manager for UID 1000" ;;
    "systemctl "*is-enabled*) echo enabled ;;
esac
exit 0
"""
HELPERS = ("deb-systemd-helper", "deb-systemd-invoke", "systemctl")
# Every way dpkg calls each script (Debian policy 6.5-6.6).
ACTIONS = {
    "postinst": [("configure", ""), ("configure", "0.0.9"), ("abort-upgrade", "0.0.9"),
                 ("abort-remove",), ("abort-deconfigure", "in-favour", "x", "1")],
    "prerm": [("remove",), ("upgrade", "0.2.0"), ("deconfigure", "in-favour", "x", "1"),
              ("failed-upgrade", "0.0.9")],
    "postrm": [("remove",), ("purge",), ("upgrade", "0.2.0"), ("disappear", "x", "1"),
               ("failed-upgrade", "0.0.9"), ("abort-install",), ("abort-upgrade", "0.0.9")],
}


def write_stubs(bindir, names, systemctl="/bin/false"):
    os.makedirs(bindir, exist_ok=True)
    for name in names:
        path = os.path.join(bindir, name)
        with open(path, "w") as f:
            f.write(STUB % {"systemctl": systemctl})
        os.chmod(path, 0o755)


class MaintainerScripts(unittest.TestCase):
    """packaging/debian/fieldsync.{postinst,prerm,postrm} run by /bin/sh
    with a PATH that holds only stubs of the helpers they call (or none):
    which calls each makes, for each way dpkg calls it."""

    SYSTEMD_RUNNING = os.path.isdir("/run/systemd/system")

    def run_script(self, script, *args, tools=HELPERS, env=None):
        """(exit status, stderr, [calls]) of one script run."""
        with tempfile.TemporaryDirectory(prefix="fieldsync-maint.") as tmp:
            bindir = os.path.join(tmp, "bin")
            write_stubs(bindir, tools)
            log = os.path.join(tmp, "calls")
            open(log, "w").close()
            full_env = {"PATH": bindir, "STUB_LOG": log}
            full_env.update(env or {})
            p = subprocess.run(["/bin/sh", os.path.join(SCRIPTS_DIR, "fieldsync." + script)]
                               + list(args), env=full_env, stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
            with open(log) as f:
                calls = f.read().splitlines()
        self.assertEqual(p.stdout, b"", (script, args))
        return p.returncode, p.stderr.decode(errors="replace"), calls

    def calls(self, script, *args, **kw):
        rc, err, calls = self.run_script(script, *args, **kw)
        self.assertEqual(rc, 0, (script, args, err))
        return calls

    def test_posix_sh(self):
        shells = [sh for sh in ("sh", "dash", "posh") if shutil.which(sh)]
        for script in MAINTAINER_SCRIPTS:
            path = os.path.join(SCRIPTS_DIR, "fieldsync." + script)
            with open(path) as f:
                text = f.read()
            self.assertTrue(text.startswith("#!/bin/sh\n"), script)
            self.assertRegex(text, r"(?m)^set -e$", script)
            for sh in shells:
                run([sh, "-n", path])
            if shutil.which("shellcheck"):
                run(["shellcheck", "--shell=sh", path])
        self.assertEqual(sorted(f for f in os.listdir(SCRIPTS_DIR) if f.startswith("fieldsync-sim.")),
                         [], "fieldsync-sim needs no maintainer scripts")

    def test_postinst_enables_the_unit_for_every_user(self):
        enable = ["deb-systemd-helper --user unmask " + UNIT,
                  "deb-systemd-helper --quiet --user was-enabled " + UNIT,
                  "deb-systemd-helper --user enable " + UNIT]
        self.assertEqual(self.calls("postinst", "configure", ""), enable)
        for action in ACTIONS["postinst"]:
            self.assertEqual(self.calls("postinst", *action)[:3], enable, action)

    def test_postinst_keeps_an_operators_global_disable(self):
        calls = self.calls("postinst", "configure", "0.0.9", env={"STUB_WAS_ENABLED": "1"})
        self.assertIn("deb-systemd-helper --user update-state " + UNIT, calls)
        self.assertNotIn("deb-systemd-helper --user enable " + UNIT, calls)

    def test_postinst_restarts_on_upgrade_only(self):
        restart = "deb-systemd-invoke --user restart " + UNIT
        # A first install starts nothing now: the unit starts at each login.
        self.assertNotIn(restart, self.calls("postinst", "configure", ""))
        self.assertNotIn(restart, self.calls("postinst", "abort-remove"))
        # An upgrade restarts the running daemons, when systemd runs at all
        # (MaintainerScriptsWithDebianHelpers has it run, in a namespace).
        for action in (("configure", "0.0.9"), ("abort-upgrade", "0.0.9")):
            self.assertEqual(restart in self.calls("postinst", *action), self.SYSTEMD_RUNNING, action)

    def test_prerm_stops_the_daemons_on_remove_only(self):
        stop = ["deb-systemd-invoke --user stop " + UNIT] if self.SYSTEMD_RUNNING else []
        self.assertEqual(self.calls("prerm", "remove"), stop)
        for action in ACTIONS["prerm"][1:]:
            self.assertEqual(self.calls("prerm", *action), [], action)

    def test_postrm_masks_on_remove_and_cleans_up_on_purge(self):
        self.assertEqual(self.calls("postrm", "remove"), ["deb-systemd-helper --user mask " + UNIT])
        self.assertEqual(self.calls("postrm", "purge"), ["deb-systemd-helper --user purge " + UNIT,
                                                         "deb-systemd-helper --user unmask " + UNIT])
        for action in ACTIONS["postrm"][2:]:
            self.assertEqual(self.calls("postrm", *action), [], action)
        # init-system-helpers gone (it is Essential, but postrm cannot rely
        # on its Depends): nothing to undo, and no failure.
        self.assertEqual(self.calls("postrm", "purge", tools=("systemctl",)), [])

    def test_dpkg_root_leaves_the_unit_alone(self):
        for script, actions in ACTIONS.items():
            for action in actions:
                self.assertEqual(self.calls(script, *action, env={"DPKG_ROOT": "/nonexistent"}),
                                 [], (script, action))

    def test_harmless_without_systemctl_or_any_helper(self):
        """A container or a chroot without systemd: every script, every
        action, exits 0 (what is missing is skipped, never an error)."""
        for tools in ((), ("deb-systemd-helper", "deb-systemd-invoke")):
            for script, actions in ACTIONS.items():
                for action in actions:
                    rc, err, calls = self.run_script(script, *action, tools=tools)
                    self.assertEqual(rc, 0, (tools, script, action, err))
                    self.assertFalse([c for c in calls if c.startswith("systemctl")])


class MaintainerScriptsWithDebianHelpers(unittest.TestCase):
    """The scripts with Debian's own deb-systemd-helper and
    deb-systemd-invoke and the real systemctl for the unit's links, in a
    private mount namespace (unshare, as root) whose /etc/systemd,
    /var/lib/systemd, /usr/lib/systemd/user and /run are empty tmpfs: what
    install, upgrade, an operator's disable, remove and purge do to the
    links, and which calls reach the users' service managers (user@1000,
    a stub systemctl)."""

    @classmethod
    def setUpClass(cls):
        needed = ("unshare", "deb-systemd-helper", "deb-systemd-invoke", "systemctl", "perl")
        missing = [t for t in needed if not shutil.which(t)]
        if missing:
            raise unittest.SkipTest("not installed: " + " ".join(missing))
        for d in ("/etc/systemd", "/var/lib/systemd", "/usr/lib/systemd/user", "/run"):
            if not os.path.isdir(d):
                raise unittest.SkipTest("no %s to mount over" % d)
        probe = subprocess.run(["unshare", "--mount", "--propagation", "private",
                                "mount", "-t", "tmpfs", "tmpfs", "/run"],
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
        if probe.returncode != 0:
            raise unittest.SkipTest("cannot make a private mount namespace (needs root)")

    def scenario(self, steps):
        """Runs STEPS (shell commands, $S the scripts' directory) in one
        namespace; for each, the calls it made and the links and records
        under /etc/systemd/user and /var/lib/systemd afterwards."""
        with tempfile.TemporaryDirectory(prefix="fieldsync-dsh.") as work:
            write_stubs(os.path.join(work, "bin"), ("systemctl",),
                        systemctl=os.path.realpath(shutil.which("systemctl")))
            with open(os.path.join(TOP, "packaging", "systemd", "fieldsyncd.service.in")) as f:
                unit = f.read().replace("@BINDIR@", "/usr/bin")
            with open(os.path.join(work, UNIT), "w") as f:
                f.write(unit)
            open(os.path.join(work, "no-policy"), "w").close()
            open(os.path.join(work, "calls"), "w").close()
            os.mkdir(os.path.join(work, "out"))
            prologue = r"""
set -e
W=$1 S=$2
[ -f /usr/lib/systemd/user/default.target ] && cp /usr/lib/systemd/user/default.target "$W/"
for d in /run /etc/systemd /var/lib/systemd /usr/lib/systemd/user; do
    mount -t tmpfs tmpfs "$d"
done
# Debian's presets (none: enable); a distribution's "disable *" would keep
# systemctl --global preset from enabling anything.
[ -d /usr/lib/systemd/user-preset ] && mount -t tmpfs tmpfs /usr/lib/systemd/user-preset
mkdir -p /run/systemd/system
cp "$W/fieldsyncd.service" /usr/lib/systemd/user/
[ -f "$W/default.target" ] && cp "$W/default.target" /usr/lib/systemd/user/
# This machine's policy-rc.d (a container's says 101, "start nothing")
# stays out of it: the test is what the scripts do where services run.
[ -e /usr/sbin/policy-rc.d ] && mount --bind "$W/no-policy" /usr/sbin/policy-rc.d
PATH="$W/bin:$PATH" STUB_LOG="$W/calls" DPKG_MAINTSCRIPT_PACKAGE=fieldsync
export PATH STUB_LOG DPKG_MAINTSCRIPT_PACKAGE
n=0
"""
            body = "".join(
                '%s\nn=$((n+1)); mv "$W/calls" "$W/out/$n.calls"; : >"$W/calls"\n'
                'find /etc/systemd/user /var/lib/systemd -mindepth 1 \\( -type l -printf "%%p -> %%l\\n" \\)'
                ' -o \\( -type f -printf "%%p\\n" \\) | LC_ALL=C sort >"$W/out/$n.tree"\n' % step
                for step in steps)
            p = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c",
                                prologue + body, "scenario", work, SCRIPTS_DIR],
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, timeout=120)
            self.assertEqual(p.returncode, 0, p.stdout.decode(errors="replace"))
            results = []
            for n in range(1, len(steps) + 1):
                with open(os.path.join(work, "out", "%d.calls" % n)) as f:
                    calls = f.read().splitlines()
                with open(os.path.join(work, "out", "%d.tree" % n)) as f:
                    tree = f.read().splitlines()
                results.append((calls, tree))
            return results

    def test_install_upgrade_disable_remove_purge(self):
        wants = ("/etc/systemd/user/default.target.wants/%s -> /usr/lib/systemd/user/%s"
                 % (UNIT, UNIT))
        masked = "/etc/systemd/user/%s -> /dev/null" % UNIT
        restart = "systemctl --quiet --user --machine 1000@ restart " + UNIT
        stop = "systemctl --quiet --user --machine 1000@ stop " + UNIT
        install, upgrade, disabled, remove, purge, no_systemd = self.scenario([
            'sh "$S/fieldsync.postinst" configure ""',
            'sh "$S/fieldsync.postinst" configure 0.0.9',
            'systemctl --global disable %s; sh "$S/fieldsync.postinst" configure 0.0.9' % UNIT,
            'sh "$S/fieldsync.prerm" remove; rm /usr/lib/systemd/user/%s;'
            ' sh "$S/fieldsync.postrm" remove' % UNIT,
            'sh "$S/fieldsync.postrm" purge',
            'rmdir /run/systemd/system; cp "$W/%s" /usr/lib/systemd/user/;'
            ' sh "$S/fieldsync.postinst" configure ""; sh "$S/fieldsync.postinst" configure 0.0.9'
            % UNIT,
        ])
        # Install: `systemctl --global` (preset, enable-only) made the link
        # that starts the unit at every user's login; nothing restarted.
        self.assertIn("systemctl --root=/ --global --preset-mode=enable-only preset " + UNIT,
                      install[0])
        self.assertIn(wants, install[1])
        self.assertFalse([c for c in install[0] if "--user" in c], install[0])
        # Upgrade: the daemon restarted in the running user manager.
        self.assertIn(restart, upgrade[0])
        self.assertIn(wants, upgrade[1])
        # The operator's `systemctl --global disable` survives an upgrade.
        self.assertNotIn(wants, disabled[1])
        # Remove: the running daemon stopped, the unit masked.
        self.assertIn(stop, remove[0])
        self.assertIn(masked, remove[1])
        # Purge: no link, mask or record of ours is left.
        self.assertEqual([l for l in purge[1] if UNIT in l], [])
        # Without a running systemd (a container, a chroot): the unit is
        # still enabled for later, and no user manager is called.
        self.assertIn(wants, no_systemd[1])
        self.assertFalse([c for c in no_systemd[0] if "--user" in c], no_systemd[0])

if __name__ == "__main__":
    unittest.main(verbosity=2)
