#!/bin/sh
# make bench: fieldsync's speeds and costs, each printed beside a baseline
# measured in the same run (see tests/bench/bench.py and docs/PERFORMANCE.md).
# Never part of `make check`: timings on shared machines are noisy.
# Usage: tests/bench/run.sh BUILD_DIR [--quick] [--only PARTS]  (PARTS: sync drain reads
# during write growth cost fleet)
#
# The bench runs in a network namespace of its own when the kernel lets us
# make one (root, or an unprivileged user namespace): its loopback then
# carries only the daemon's and the sim's traffic, so the wire bytes of a
# sync can be counted, and nobody else's test traffic shares it.
set -eu
BUILD=${1:-build}
shift || true
here=$(dirname "$0")
bench="$here/bench.py"
json="$BUILD/bench/results.json"

for tool in curl redis-server redis-benchmark python3; do
    command -v "$tool" >/dev/null || { echo "bench: $tool is missing (packaging/deps.sh bench)" >&2; exit 1; }
done
for prog in fieldsyncd fieldsync-sim bench/httpload bench/benchtool; do
    [ -x "$BUILD/$prog" ] || { echo "bench: $BUILD/$prog is missing (make all)" >&2; exit 1; }
done

if [ -z "${FIELDSYNC_BENCH_NETNS:-}" ]; then
    for how in "-n" "-rn"; do
        if unshare $how true 2>/dev/null; then
            FIELDSYNC_BENCH_NETNS=1 exec unshare $how python3 "$bench" "$BUILD" --json "$json" "$@"
        fi
    done
fi
exec python3 "$bench" "$BUILD" --json "$json" "$@"
