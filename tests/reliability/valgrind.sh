#!/bin/sh
# Runs the whole test suite with every program under valgrind memcheck:
# fieldsyncd, fieldsync, fieldsync-sim and the C test programs (unit,
# system, and the fuzz targets replaying their corpora).
#
#   sh tests/reliability/valgrind.sh [BUILD]      (default build)
#
# No test helper changes: a tree of wrapper scripts (BUILD/valgrind/) that
# exec valgrind on the real programs stands in for BUILD, so the tests that
# start a program by its path under $FIELDSYNC_BUILD start it under
# valgrind.  Each process writes its own report to BUILD/valgrind/logs/.
# Packaging tests (they build packages from the tree) are left out.
# Ends with one line: "valgrind: N processes, E with errors, L with
# definite leaks, K killed before their summary" and exits 1 if E or L is
# not 0 or a test failed.
set -u
cd "$(dirname "$0")/../.."
BUILD=${1:-build}
REAL=$(cd "$BUILD" && pwd)
W=$REAL/valgrind
command -v valgrind >/dev/null || { echo "valgrind: not installed (apt-get install valgrind)" >&2; exit 2; }
rm -rf "$W"
mkdir -p "$W/tests" "$W/logs"
VG="valgrind --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite --show-leak-kinds=definite --track-fds=no --log-file=$W/logs/%q{VG_NAME}.%p.log"
wrap() {   # real-path wrapper-path name
    printf '#!/bin/sh\nVG_NAME=%s exec %s %s "$@"\n' "$3" "$VG" "$1" > "$2"
    chmod +x "$2"
}
for p in fieldsyncd fieldsync fieldsync-sim; do
    wrap "$REAL/$p" "$W/$p" "$p"
done
for t in "$REAL"/tests/test_* "$REAL"/tests/fuzz_*; do
    [ -x "$t" ] || continue
    n=$(basename "$t")
    wrap "$t" "$W/tests/$n" "$n"
done
export FIELDSYNC_BUILD="$W"
status=0
# The suites are named by their sources, as run_tests.py finds them (a
# program left in BUILD/tests by a deleted test is not one).
suites=$(ls tests/unit tests/system tests/fuzz | grep -E '^(test|fuzz)_.*\.c$' | sed 's/\.c$//';
         ls tests/integration | grep '^test_.*\.py$' | grep -v packaging)
# VALGRIND_ONLY=word: only the suites whose name holds it.
[ -n "${VALGRIND_ONLY:-}" ] && suites=$(echo "$suites" | grep -- "$VALGRIND_ONLY")
for s in $suites; do
    python3 tests/run_tests.py --build "$W" --only "$s" --timeout 3000 > "$W/logs/suite-$s.out" 2>&1 || status=1
    tail -1 "$W/logs/suite-$s.out" | sed "s/^/$s: /"
done
procs=$(ls "$W"/logs/*.log 2>/dev/null | wc -l)
errs=$(grep -l "ERROR SUMMARY: [1-9]" "$W"/logs/*.log 2>/dev/null | wc -l)
leaks=$(grep -l "definitely lost: [1-9]" "$W"/logs/*.log 2>/dev/null | wc -l)
# A process killed with SIGKILL (the crash tests do that) writes no summary.
killed=$(grep -L "ERROR SUMMARY" "$W"/logs/*.log 2>/dev/null | wc -l)
echo "valgrind: $procs processes, $errs with errors, $leaks with definite leaks, $killed killed before their summary"
[ "$errs" -eq 0 ] && [ "$leaks" -eq 0 ] || status=1
exit $status
