#!/bin/sh
# make bench: benchmarks, each printed beside its baseline measured in the
# same run.  Never part of `make check`: timings on shared machines are noisy.
# Usage: tests/bench/run.sh BUILD_DIR [--quick]
set -eu
BUILD=${1:-build}
shift || true

echo "machine: $(uname -srm), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
echo
"$BUILD/bench/store_bench" "$@"
