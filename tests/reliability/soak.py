#!/usr/bin/env python3
"""The long reliability runs (`make soak`): the crash loop and the
randomized histories of tests/integration/relutil.py, with many more kills
and seeds than CI runs, and one summary line each:

    soak: crash: 4 seeds, 1200 kills survived (1012 with requests in flight), ...
    soak: histories: 200 seeds checked, ...

Replay one failure with the command it printed, e.g.
    python3 tests/reliability/soak.py --crash-seed 13 --kills 150
    python3 tests/reliability/soak.py --history-seed 77 --steps 60
FIELDSYNC_BUILD (or --build) names the build tree.  Exits 1 on any failure.
"""
import argparse
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))


def run_seeds(seeds, run, describe, failures):
    """Runs run(seed) for each seed, printing describe(seed, figures) or the
    failure (added to failures); returns the figures summed, with the
    number of seeds and the seconds taken."""
    tot = {}
    t0 = time.monotonic()
    for seed in seeds:
        try:
            f = run(seed)
            for k, v in f.items():
                tot[k] = tot.get(k, 0) + v
            print("soak: " + describe(seed, f), flush=True)
        except AssertionError as e:
            failures.append(str(e))
            print("soak: FAILED %s" % e, flush=True)
    return dict(tot, seeds=len(seeds), seconds=round(time.monotonic() - t0))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.environ.get("FIELDSYNC_BUILD", "build"))
    ap.add_argument("--crash-seeds", type=int, default=4, help="crash loops to run")
    ap.add_argument("--kills", type=int, default=300, help="kills per crash loop")
    ap.add_argument("--crash-seed", type=int, help="replay one crash loop")
    ap.add_argument("--histories", type=int, default=200, help="random histories to run")
    ap.add_argument("--steps", type=int, default=60, help="steps per history")
    ap.add_argument("--history-seed", type=int, help="replay one history")
    ap.add_argument("--first-seed", type=int, default=1000)
    ap.add_argument("--profile", choices=("sim", "documented"), default="sim",
                    help="the remote as the sim offers it, or exactly as documented")
    ap.add_argument("--json", help="write the figures here")
    args = ap.parse_args()
    os.environ["FIELDSYNC_BUILD"] = os.path.abspath(args.build)
    import relutil  # after FIELDSYNC_BUILD is set

    failures = []
    out = {}
    one = args.crash_seed is not None or args.history_seed is not None
    crash_seeds = ([args.crash_seed] if args.crash_seed is not None else
                   [] if one else range(args.first_seed, args.first_seed + args.crash_seeds))
    hist_seeds = ([args.history_seed] if args.history_seed is not None else
                  [] if one else range(args.first_seed, args.first_seed + args.histories))

    if crash_seeds:
        tot = run_seeds(crash_seeds, lambda seed: relutil.crash_loop(seed, args.kills, profile=args.profile),
                        lambda seed, f: "crash seed %d: %d kills survived, %r"
                        % (seed, f["kills"], f), failures)
        out["crash"] = tot
        print("soak: crash: %d seeds, %d kills survived (%d with requests in flight, %d while "
              "pushing), %d creates + %d updates queued, lost %d, duplicates %d, %d s"
              % (len(crash_seeds), tot.get("kills", 0), tot.get("kills_in_flight", 0),
                 tot.get("kills_in_flight_pushing", 0), tot.get("creates", 0),
                 tot.get("updates", 0), tot.get("lost", 0), tot.get("duplicates", 0),
                 tot["seconds"]), flush=True)
    if hist_seeds:
        tot = run_seeds(hist_seeds, lambda seed: relutil.run_history(seed, args.steps, profile=args.profile),
                        lambda seed, f: "history seed %d: %r" % (seed, f), failures)
        out["histories"] = tot
        print("soak: histories: %d seeds checked, %d steps, %d local ops (%d applied, %d kept as "
              "conflict losers, %d kept rejected, %d overwritten later by the dispatcher, %d "
              "deleted), faults %d, daemon restarts %d, sim restarts %d, lost %d, duplicates %d, "
              "%d s"
              % (len(hist_seeds), tot.get("steps", 0), tot.get("local_ops", 0),
                 tot.get("applied", 0), tot.get("conflict_kept", 0), tot.get("rejected_kept", 0),
                 tot.get("overwritten_later", 0), tot.get("deleted", 0), tot.get("faults", 0),
                 tot.get("daemon_restarts", 0), tot.get("sim_restarts", 0), tot.get("lost", 0),
                 tot.get("duplicates", 0), tot["seconds"]), flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)
    if failures:
        print("soak: %d failures" % len(failures))
        return 1
    print("soak: 0 failures")
    return 0


if __name__ == "__main__":
    sys.exit(main())
