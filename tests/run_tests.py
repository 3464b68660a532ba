#!/usr/bin/env python3
"""Runs every fieldsync test and prints one summary line.

Unit tests are cmocka programs under BUILD/tests/; integration tests are
Python unittest modules (tests/integration/test_*.py) that drive the real
programs in BUILD/.  Each program's own output is shown as it runs; the
last line is "check: N passed, M failed", counted in test cases.
"""
import argparse
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)

CMOCKA_PASSED = re.compile(r"^\[  PASSED  \] (\d+) test")
CMOCKA_FAILED = re.compile(r"^\[  FAILED  \] (\d+) test")
UNITTEST_RAN = re.compile(r"^Ran (\d+) tests? in")
UNITTEST_BAD = re.compile(r"(failures|errors)=(\d+)")


def run(cmd, env, timeout):
    start = time.monotonic()
    try:
        proc = subprocess.run(cmd, env=env, cwd=TOP, timeout=timeout,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True, errors="replace")
        out, code = proc.stdout, proc.returncode
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"").decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
        out += "\n*** timed out after %d s\n" % timeout
        code = -1
    sys.stdout.write(out)
    sys.stdout.flush()
    return out, code, time.monotonic() - start


def count_cmocka(out):
    passed = failed = 0
    for line in out.splitlines():
        m = CMOCKA_PASSED.match(line)
        if m:
            passed += int(m.group(1))
        m = CMOCKA_FAILED.match(line)
        if m:
            failed += int(m.group(1))
    return passed, failed


def count_unittest(out):
    ran = bad = 0
    for line in out.splitlines():
        m = UNITTEST_RAN.match(line)
        if m:
            ran += int(m.group(1))
        if line.startswith("FAILED ("):
            bad += sum(int(n) for _, n in UNITTEST_BAD.findall(line))
    return ran - bad, bad


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--only", default="", help="run only tests whose file name contains this")
    ap.add_argument("--timeout", type=int, default=900)
    args = ap.parse_args()

    build = os.path.abspath(os.path.join(TOP, args.build))
    env = dict(os.environ)
    env["FIELDSYNC_BUILD"] = build
    env.setdefault("ASAN_OPTIONS", "abort_on_error=0:detect_leaks=1")
    env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")

    suites = []
    tdir = os.path.join(build, "tests")
    if os.path.isdir(tdir):
        for name in sorted(os.listdir(tdir)):
            path = os.path.join(tdir, name)
            if name.startswith("test_") and os.access(path, os.X_OK):
                suites.append(("cmocka", name, [path]))
    idir = os.path.join(HERE, "integration")
    for name in sorted(os.listdir(idir)) if os.path.isdir(idir) else []:
        if name.startswith("test_") and name.endswith(".py"):
            suites.append(("unittest", name, [sys.executable, os.path.join(idir, name)]))
    suites = [s for s in suites if args.only in s[1]]

    total_pass = total_fail = 0
    failed_suites = []
    for kind, name, cmd in suites:
        print("=== %s" % name, flush=True)
        out, code, secs = run(cmd, env, args.timeout)
        p, f = count_cmocka(out) if kind == "cmocka" else count_unittest(out)
        if code != 0 and f == 0:
            # A crash, sanitizer report or timeout that no test case counted.
            f = 1
        if f:
            failed_suites.append(name)
        total_pass += p
        total_fail += f
        print("=== %s: %d passed, %d failed (%.1f s)" % (name, p, f, secs), flush=True)

    if not suites:
        print("no tests found under %s" % build)
        return 1
    if failed_suites:
        print("failing: %s" % ", ".join(failed_suites))
    print("check: %d passed, %d failed" % (total_pass, total_fail))
    return 1 if total_fail else 0


if __name__ == "__main__":
    sys.exit(main())
