"""Randomized convergence: seeded histories of local edits, creates and
deletes over the socket, dispatcher edits and deletes through the sim's
API, the sim going offline and back, faults, restarts of the daemon
(SIGKILL or SIGTERM) and of the sim (on its --db, with a new clock skew);
then heal and sync, and check that every local op is accounted for and the
replica equals the sim (tests/integration/relutil.py says how).

Some seeds here; many in `make soak`.  A failure prints its seed and the
command that replays it."""
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from relutil import run_history  # noqa: E402

SEEDS = [int(s) for s in os.environ.get("FIELDSYNC_HISTORY_SEEDS", "1,2,3,4").split(",")]
STEPS = int(os.environ.get("FIELDSYNC_HISTORY_STEPS", "40"))


class HistoriesTest(unittest.TestCase):
    def test_random_histories_converge_and_lose_nothing(self):
        for seed in SEEDS:
            with self.subTest(seed=seed):
                f = run_history(seed, STEPS)
                self.assertEqual(f["lost"], 0)
                self.assertEqual(f["duplicates"], 0)
                print("history seed %d: %r" % (seed, f), file=sys.stderr)

    def test_the_same_against_the_api_as_documented(self):
        """No ETag, second-resolution updated_at: the histories converge too."""
        for seed in (SEEDS[0] + 100, SEEDS[-1] + 100):
            with self.subTest(seed=seed):
                f = run_history(seed, STEPS, profile="documented")
                self.assertEqual(f["lost"], 0)
                self.assertEqual(f["duplicates"], 0)
                print("history seed %d, documented profile: %r" % (seed, f), file=sys.stderr)


if __name__ == "__main__":
    unittest.main()
