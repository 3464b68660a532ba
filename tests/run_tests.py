#!/usr/bin/env python3
"""Runs every fieldsync test and prints one summary line.

The suites are found from the sources, never from what happens to lie in
the build tree, so a test whose source was deleted cannot keep running
from an old binary, and a source whose program was not built fails:

  tests/unit/test_*.c     cmocka programs  -> BUILD/tests/test_*
  tests/system/test_*.c   cmocka programs that start other processes
                          (fieldsync-sim, crashing writers) -> BUILD/tests/test_*
  tests/fuzz/fuzz_*.c     fuzz targets with tests/fuzz/replay.c's main()
                          -> BUILD/tests/fuzz_*, each run on its corpus
                          tests/fuzz/corpus/fuzz_*/, one test case an input
  tests/integration/test_*.py   Python unittest modules that drive the
                          real programs in BUILD/

Suites run in parallel (-j, default the number of CPUs); each suite's
output is printed whole when it ends, then one line with its counts.  A
skipped test, or an expected failure (a known gap), is neither a pass nor
a failure: it is counted apart, as skipped.  The
last line is "check: N passed, M failed" (", K skipped" when K > 0),
counted in test cases; a suite that crashes, times out or exits non-zero
without a failed test case counts as one failure.
"""
import argparse
import concurrent.futures
import glob
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)

CMOCKA_PASSED = re.compile(r"^\[  PASSED  \] (\d+) test")
CMOCKA_FAILED = re.compile(r"^\[  FAILED  \] (\d+) test")
CMOCKA_SKIPPED = re.compile(r"^\[  SKIPPED \] (\d+) test")
UNITTEST_RAN = re.compile(r"^Ran (\d+) tests? in")
UNITTEST_END = re.compile(r"^(OK|FAILED)(?: \((.*)\))?$")


class Suite:
    def __init__(self, kind, name, cmd, missing=None):
        self.kind = kind        # "cmocka" or "unittest": how its output is counted
        self.name = name
        self.cmd = cmd
        self.missing = missing  # the program a source should have built, when absent


def find_suites(build):
    """Every suite the tree's sources define, in a stable order."""
    def c_program(src, *args):
        name = os.path.basename(src)[:-2]
        prog = os.path.join(build, "tests", name)
        return Suite("cmocka", name, [prog] + [a % name for a in args],
                     None if os.access(prog, os.X_OK) else prog)

    def sources(pattern):
        return sorted(glob.glob(os.path.join(HERE, pattern)))

    corpus = os.path.join(os.path.relpath(HERE, TOP), "fuzz", "corpus", "%s")
    return ([c_program(src) for src in sources("unit/test_*.c") + sources("system/test_*.c")] +
            [c_program(src, corpus) for src in sources("fuzz/fuzz_*.c")] +
            [Suite("unittest", os.path.basename(src), [sys.executable, src])
             for src in sources("integration/test_*.py")])


def count_cmocka(out):
    """(passed, failed, skipped) from cmocka's summary lines."""
    n = [0, 0, 0]
    for line in out.splitlines():
        for i, rx in enumerate((CMOCKA_PASSED, CMOCKA_FAILED, CMOCKA_SKIPPED)):
            m = rx.match(line)
            if m:
                n[i] += int(m.group(1))
    return tuple(n)


def count_unittest(out):
    """(passed, failed, skipped): "Ran N tests" counts the skipped too.
    An expected failure (a known gap marked in the test) is not a pass
    either: it is counted with the skipped."""
    ran = bad = skipped = 0
    for line in out.splitlines():
        m = UNITTEST_RAN.match(line)
        if m:
            ran += int(m.group(1))
        m = UNITTEST_END.match(line)
        for item in (m.group(2) or "").split(", ") if m else []:
            key, _, n = item.partition("=")
            if key in ("skipped", "expected failures"):
                skipped += int(n)
            elif key in ("failures", "errors", "unexpected successes"):
                bad += int(n)
    return max(ran - bad - skipped, 0), bad, skipped


# The suites running now, so that an interrupt can end them: each runs in a
# session of its own, which the terminal's ^C does not reach.
RUNNING = set()
RUNNING_LOCK = threading.Lock()
INTERRUPTED = threading.Event()


def kill_group(proc):
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def run(cmd, env, timeout):
    """Runs one suite in its own process group (so a timeout also ends
    the programs it started); returns (output, exit status)."""
    proc = subprocess.Popen(cmd, env=env, cwd=TOP, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True)
    with RUNNING_LOCK:
        RUNNING.add(proc)
        if INTERRUPTED.is_set():
            kill_group(proc)  # started as the interrupt came
    try:
        out, _ = proc.communicate(timeout=timeout)
        code = proc.returncode
    except subprocess.TimeoutExpired:
        kill_group(proc)
        try:
            out, _ = proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            out = b""  # a grandchild outside the group keeps the pipe open
        out += b"\n*** timed out after %d s\n" % timeout
        code = -1
    finally:
        with RUNNING_LOCK:
            RUNNING.discard(proc)
    return out.decode(errors="replace"), code


def load_times(path):
    try:
        with open(path) as f:
            times = json.load(f)
        return times if isinstance(times, dict) else {}
    except (OSError, ValueError):
        return {}


def save_times(path, times):
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path + ".tmp", "w") as f:
            json.dump(times, f, indent=0, sort_keys=True)
        os.replace(path + ".tmp", path)
    except OSError:
        pass  # only the next run's order suffers


def run_suite(suite, env, timeout):
    """Returns (report text, passed, failed, skipped, seconds)."""
    start = time.monotonic()
    if suite.missing:
        out, code = "*** %s is not built\n" % suite.missing, -1
    else:
        out, code = run(suite.cmd, env, timeout)
    p, f, s = count_cmocka(out) if suite.kind == "cmocka" else count_unittest(out)
    if code != 0 and f == 0:
        # A crash, sanitizer report, timeout or missing program that no test
        # case counted.
        f = 1
    secs = time.monotonic() - start
    text = "=== %s\n%s%s=== %s: %s (%.1f s)\n" % (
        suite.name, out, "" if out.endswith("\n") or not out else "\n",
        suite.name, counts(p, f, s), secs)
    return text, p, f, s, secs


def counts(p, f, s):
    text = "%d passed, %d failed" % (p, f)
    return text + (", %d skipped" % s if s else "")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--only", default="", help="run only tests whose file name contains this")
    ap.add_argument("--timeout", type=int, default=900, help="seconds per suite")
    ap.add_argument("-j", "--jobs", type=int, default=os.cpu_count() or 1,
                    help="suites run at once (default: the number of CPUs)")
    args = ap.parse_args()

    build = os.path.abspath(os.path.join(TOP, args.build))
    env = dict(os.environ)
    env["FIELDSYNC_BUILD"] = build
    env.setdefault("ASAN_OPTIONS", "abort_on_error=0:detect_leaks=1")
    env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")

    suites = [s for s in find_suites(build) if args.only in s.name]
    if not suites:
        print("no tests match %r" % args.only)
        return 1

    # The longest suites start first (by the last run's times; new ones
    # before all), so that a long one does not start last and run alone.
    times_path = os.path.join(build, "tests", ".suite-times.json")
    times = load_times(times_path)
    suites.sort(key=lambda s: -times.get(s.name, float("inf")))

    total = [0, 0, 0]
    failed_suites = []
    lock = threading.Lock()

    def one(suite):
        text, p, f, s, secs = run_suite(suite, env, args.timeout)
        if INTERRUPTED.is_set():
            return  # killed by the interrupt: no verdict
        with lock:
            times[suite.name] = round(secs, 1)
            sys.stdout.write(text)
            sys.stdout.flush()
            total[0] += p
            total[1] += f
            total[2] += s
            if f:
                failed_suites.append(suite.name)

    pool = concurrent.futures.ThreadPoolExecutor(max_workers=max(args.jobs, 1))
    try:
        for fut in [pool.submit(one, s) for s in suites]:
            fut.result()
    except KeyboardInterrupt:
        pool.shutdown(wait=False, cancel_futures=True)
        with RUNNING_LOCK:
            INTERRUPTED.set()
            for proc in RUNNING:
                kill_group(proc)
        print("\ninterrupted")
        return 130
    pool.shutdown()
    save_times(times_path, times)

    if failed_suites:
        print("failing: %s" % ", ".join(sorted(failed_suites)))
    print("check: %s" % counts(*total))
    return 1 if total[1] else 0


if __name__ == "__main__":
    sys.exit(main())
