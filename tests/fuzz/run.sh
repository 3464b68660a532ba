#!/bin/sh
# Builds the libFuzzer targets (tests/fuzz/fuzz_*.c) with clang against the
# product sources and runs each for a set time from its corpus.
#
#   sh tests/fuzz/run.sh [TARGET...]      (make fuzz runs them all)
#
# FUZZ_SECONDS   time per target (default 60)
# FUZZ_BUILD     build tree (default build/fuzz)
# FUZZ_JOBS      libFuzzer -fork jobs per target (default 1)
# FUZZ_MERGE=1   merge what was found back into the corpus in the tree
# FUZZ_BUILD_ONLY=1  build the targets, run nothing
# CLANG          the compiler (default: clang, else clang-14)
#
# Corpus: tests/fuzz/corpus/TARGET/ (in the tree, read only unless
# FUZZ_MERGE=1); new inputs go to FUZZ_BUILD/corpus/TARGET/.  A crash is
# written to FUZZ_BUILD/crashes/TARGET/ and the script exits 1 naming the
# file; replay with  FUZZ_BUILD/TARGET FILE.  Every crash becomes a
# regression test (see docs/RELIABILITY.md).  A summary line per target:
#   fuzz: TARGET: N execs in S s (R/s), cov C, ft F, corpus K, crashes 0
set -eu
cd "$(dirname "$0")/../.."

SECONDS_PER=${FUZZ_SECONDS:-60}
OUT=${FUZZ_BUILD:-build/fuzz}
JOBS=${FUZZ_JOBS:-1}
CLANG=${CLANG:-}
if [ -z "$CLANG" ]; then
    for c in clang clang-14 clang-15 clang-16; do
        if command -v "$c" >/dev/null 2>&1; then CLANG=$c; break; fi
    done
fi
[ -n "$CLANG" ] || { echo "fuzz: clang not found (make fuzz installs it)" >&2; exit 2; }

PKGS="sqlite3 libcurl libcjson zlib libmicrohttpd"
SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined"
CFLAGS="-std=c11 -D_GNU_SOURCE -DFIELDSYNC_VERSION=\"fuzz\" -I. -g -O1 $SAN \
 -fno-omit-frame-pointer $(pkg-config --cflags $PKGS)"
LIBS="$(pkg-config --libs $PKGS) -lpthread -lm"

STORE="$(ls store/*.c)"
SYNC="$(ls sync/*.c)"
# The agent files each target needs; libmicrohttpd, the sync controller and
# the event hub are stood in for by fuzz_local_api.c itself.
AGENT_API="agent/local_api.c agent/http_front.c agent/local_api_agent.c agent/api_request.c agent/routes.c agent/ctlsock.c"
AGENT_CONFIG="agent/config.c agent/paths.c"

# local_api.c answers reads through the read cache (since 67a7387).
AGENT_API="$AGENT_API agent/read_cache.c"
mkdir -p "$OUT/obj"
# Compiles a product source once (coverage-instrumented, sanitized) unless
# its object is newer than it and every header.
obj() {
    o=$OUT/obj/$(echo "$1" | tr / _ | sed 's/\.c$/.o/')
    if [ ! -f "$o" ] || [ -n "$(find "$1" store/*.h sync/*.h agent/*.h -newer "$o" 2>/dev/null | head -1)" ]; then
        # shellcheck disable=SC2086
        $CLANG $CFLAGS -fsanitize=fuzzer-no-link -c "$1" -o "$o" || exit 1
    fi
    echo "$o"
}
build() {   # name sources... ; libmicrohttpd is linked only where it is not stood in for
    name=$1; shift
    objs=
    for src in "$@"; do objs="$objs $(obj "$src")" || exit 1; done
    libs=$LIBS
    [ "$name" = fuzz_local_api ] && libs=$(echo "$LIBS" | sed 's/-lmicrohttpd//')
    echo "fuzz: building $OUT/$name"
    # shellcheck disable=SC2086
    $CLANG $CFLAGS -fsanitize=fuzzer -o "$OUT/$name" "tests/fuzz/$name.c" $objs $libs
}

TARGETS=${*:-"fuzz_local_api fuzz_remote_ingest fuzz_config"}
for t in $TARGETS; do
    case $t in
    fuzz_local_api) build $t $STORE $AGENT_API ;;
    fuzz_remote_ingest) build $t $STORE $SYNC ;;
    fuzz_config) build $t $AGENT_CONFIG $SYNC $STORE ;;
    *) echo "fuzz: unknown target $t" >&2; exit 2 ;;
    esac
done
[ "${FUZZ_BUILD_ONLY:-0}" = 1 ] && exit 0

status=0
for t in $TARGETS; do
    seed=tests/fuzz/corpus/$t
    work=$OUT/corpus/$t
    crashes=$OUT/crashes/$t
    mkdir -p "$work" "$crashes"
    log=$OUT/$t.log
    dict=
    [ -f "tests/fuzz/$t.dict" ] && dict="-dict=tests/fuzz/$t.dict"
    echo "fuzz: $t for ${SECONDS_PER}s (log $log)"
    start=$(date +%s)
    set +e
    if [ "$JOBS" -gt 1 ]; then
        "$OUT/$t" -max_total_time="$SECONDS_PER" -fork="$JOBS" -ignore_crashes=0 \
            -artifact_prefix="$crashes/" -print_final_stats=1 $dict "$work" "$seed" >"$log" 2>&1
    else
        "$OUT/$t" -max_total_time="$SECONDS_PER" -artifact_prefix="$crashes/" \
            -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 $dict "$work" "$seed" >"$log" 2>&1
    fi
    rc=$?
    set -e
    secs=$(( $(date +%s) - start ))
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
    ft=$(grep -o 'ft: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
    ncorp=$(ls "$work" | wc -l)
    ncrash=$(ls "$crashes" | wc -l)
    rate=0
    [ "$secs" -gt 0 ] && [ -n "$execs" ] && rate=$((execs / secs))
    echo "fuzz: $t: ${execs:-?} execs in ${secs} s (${rate}/s), cov ${cov:-?}, ft ${ft:-?}, corpus $ncorp, crashes $ncrash"
    if [ $rc -ne 0 ] || [ "$ncrash" -gt 0 ]; then
        echo "fuzz: $t FAILED (exit $rc); inputs in $crashes/:" >&2
        ls "$crashes" >&2
        grep -m1 -A20 'ERROR:\|==ERROR\|runtime error\|deadly signal' "$log" >&2 || tail -30 "$log" >&2
        status=1
    fi
    if [ "${FUZZ_MERGE:-0}" = 1 ]; then
        "$OUT/$t" -merge=1 "$seed" "$work" >>"$log" 2>&1 || true
    fi
done
exit $status
