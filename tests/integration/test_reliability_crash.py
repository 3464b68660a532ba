"""Crash loop: fieldsyncd killed with SIGKILL at random moments of its
pulls and pushes (the sim slowed down so kills land with requests in
flight), restarted on the same database each time; afterwards every
queued edit is on the sim exactly once and the replica equals the sim.

A short run here; `make soak` runs many more kills
(tests/reliability/soak.py).  A failure names its seed and the command
that replays it."""
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from relutil import crash_loop  # noqa: E402

SEEDS = [int(s) for s in os.environ.get("FIELDSYNC_CRASH_SEEDS", "11,12").split(",")]
KILLS = int(os.environ.get("FIELDSYNC_CRASH_KILLS", "12"))


class CrashLoopTest(unittest.TestCase):
    def test_sigkill_during_pull_and_push_loses_and_repeats_nothing(self):
        for seed in SEEDS:
            with self.subTest(seed=seed):
                f = crash_loop(seed, KILLS)
                self.assertEqual(f["kills"], KILLS)
                self.assertEqual(f["lost"], 0)
                self.assertEqual(f["duplicates"], 0)
                self.assertGreater(f["applied"], 0)
                print("crash seed %d: %r" % (seed, f), file=sys.stderr)

    def test_the_same_against_the_api_as_documented(self):
        """No ETag, second-resolution updated_at: nothing lost or doubled either."""
        seed = SEEDS[0] + 100
        f = crash_loop(seed, KILLS, profile="documented")
        self.assertEqual(f["kills"], KILLS)
        self.assertEqual(f["lost"], 0)
        self.assertEqual(f["duplicates"], 0)
        self.assertGreater(f["applied"], 0)
        print("crash seed %d, documented profile: %r" % (seed, f), file=sys.stderr)


if __name__ == "__main__":
    unittest.main()
