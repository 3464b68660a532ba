#!/bin/sh
# make soak: the long reliability runs against the programs in BUILD.
#   sh tests/reliability/soak.sh [BUILD]
# SOAK_CRASH_SEEDS (4), SOAK_KILLS (300 per seed), SOAK_HISTORIES (200),
# SOAK_STEPS (60 per history) size the run; the figures go to
# BUILD/soak.json.  See docs/RELIABILITY.md.
set -eu
cd "$(dirname "$0")/../.."
BUILD=${1:-build}
exec python3 tests/reliability/soak.py --build "$BUILD" \
    --crash-seeds "${SOAK_CRASH_SEEDS:-4}" --kills "${SOAK_KILLS:-300}" \
    --histories "${SOAK_HISTORIES:-200}" --steps "${SOAK_STEPS:-60}" \
    --json "$BUILD/soak.json"
