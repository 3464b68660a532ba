#!/usr/bin/env bash
# make demo: a walk-through of fieldsync for a newcomer.
#
# Starts fieldsync-sim (the remote API's stand-in) with seeded data and
# fieldsyncd against it, in a private temporary directory, then shows:
# the initial sync, a query, an edit made offline, the reconnect that pushes
# it, and a conflict with the dispatcher.  Stops everything it started.
set -euo pipefail

BUILD=${1:-build}
BUILD=$(cd "$BUILD" && pwd)
SIM="$BUILD/fieldsync-sim"
DAEMON="$BUILD/fieldsyncd"
CLI="$BUILD/fieldsync"
for p in "$SIM" "$DAEMON" "$CLI"; do
    [ -x "$p" ] || { echo "demo: $p is missing; run 'make' first" >&2; exit 1; }
done

T=$(mktemp -d "${TMPDIR:-/tmp}/fieldsync-demo.XXXXXX")
sim_pid="" daemon_pid=""
cleanup() {
    [ -n "$daemon_pid" ] && kill -TERM "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null
    [ -n "$sim_pid" ] && kill -TERM "$sim_pid" 2>/dev/null && wait "$sim_pid" 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
say()  { printf '%s\n' "$*"; }
# Echoes a command the way it could be pasted into a shell, then runs it:
# words with shell metacharacters are single-quoted.
shq() {
    case $1 in
        *[!A-Za-z0-9_./:=@%+,-]*|'') printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")" ;;
        *) printf '%s' "$1" ;;
    esac
}
run()  { printf '$'; for w in "$@"; do printf ' '; shq "$w"; done; printf '\n'; "$@"; }

# Waits up to $1 seconds for the command after it to succeed.
wait_until() {
    local limit=$1; shift
    local end=$((SECONDS + limit))
    until "$@" >/dev/null 2>&1; do
        [ "$SECONDS" -ge "$end" ] && { echo "demo: timed out waiting for: $*" >&2; return 1; }
        sleep 0.1
    done
}

json_get() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1], {"d": d}))' "$1"; }

# --- the remote ----------------------------------------------------------
mkdir -p "$T/home" "$T/config/fieldsync" "$T/state" "$T/run"
chmod 700 "$T/run"
"$SIM" --port 0 --seed 7 --customers 40 --work-orders 300 --technicians 5 \
    >"$T/sim.out" 2>"$T/sim.log" &
sim_pid=$!
wait_until 10 grep -q '^listening on ' "$T/sim.out"
SIM_URL=$(head -n 1 "$T/sim.out" | sed 's/^listening on //')
KEY=sim-key
remote() { curl -sS -H "Authorization: Bearer $KEY" "$@"; }

step "1. Start the remote stand-in and the agent"
say "fieldsync-sim serves the remote API at $SIM_URL/api/v1 (seeded: 40 customers, 300 work orders)."

# --- the agent ------------------------------------------------------------
umask 077
printf '%s\n' "$KEY" >"$T/api.key"
cat >"$T/config/fieldsync/config" <<EOF
api_url = $SIM_URL/api/v1
api_key_file = $T/api.key
technician_id = tech-001
interval = 3600
conflict_policy = lww
EOF
export HOME="$T/home" XDG_CONFIG_HOME="$T/config" XDG_STATE_HOME="$T/state" XDG_RUNTIME_DIR="$T/run"
unset FIELDSYNC_API_URL FIELDSYNC_API_KEY FIELDSYNC_API_KEY_FILE FIELDSYNC_TECHNICIAN_ID FIELDSYNC_DB FIELDSYNC_SOCKET
SOCK="$T/run/fieldsync.sock"
"$DAEMON" --log-level warn 2>"$T/daemon.log" &
daemon_pid=$!
wait_until 15 test -S "$SOCK"
say "fieldsyncd runs for technician tech-001; its socket is $SOCK"
run "$DAEMON" --check-config

step "2. Initial sync: the technician's work orders, their customers, contacts and assets"
say "fieldsyncd syncs at start. 'sync --wait' runs a cycle now and prints what it did;"
say "a record the remote did not change answers 304 and counts as unchanged."
run "$CLI" sync --wait
run "$CLI" status

step "3. Query the replica (works offline; same paths and shapes as the remote API)"
run "$CLI" work-orders list --per-page 5
WO=$("$CLI" --json work-orders list --per-page 1 --status assigned | json_get 'd["data"][0]["id"]' 2>/dev/null \
     || "$CLI" --json work-orders list --per-page 1 | json_get 'd["data"][0]["id"]')
say ""
say "Scripts use the socket directly:"
printf '$ curl --unix-socket %s http://localhost/api/v1/work-orders/%s\n' "$SOCK" "$WO"
detail=$(curl -sS --unix-socket "$SOCK" "http://localhost/api/v1/work-orders/$WO" | python3 -m json.tool)
printf '%s\n' "$detail" | sed -n '1,16p'
say "    ..."

step "4. Go offline and edit: the edit is durable at once and queued"
remote -X POST "$SIM_URL/__sim/faults" -d '{"offline":true}' >/dev/null
say "(the simulator now drops every request: the laptop has no network)"
run "$CLI" work-orders update "$WO" --status in_progress --notes 'Arrived on site, starting work'
run "$CLI" work-orders show "$WO"
run "$CLI" outbox

step "5. Back online: the queued edit is pushed exactly once"
remote -X DELETE "$SIM_URL/__sim/faults" >/dev/null
say "(the simulator answers again)"
outbox_empty() { [ "$("$CLI" --json outbox | json_get 'len(d["data"])')" = 0 ]; }
drain() {
    local end=$((SECONDS + 60))
    until outbox_empty; do
        [ "$SECONDS" -ge "$end" ] && { echo "demo: the outbox did not drain" >&2; return 1; }
        "$CLI" sync --wait >/dev/null 2>&1 || sleep 0.5
    done
}
run "$CLI" sync --wait || true
drain
say "The remote's copy now:"
printf '$ curl -H "Authorization: Bearer ..." %s/api/v1/work-orders/%s\n' "$SIM_URL" "$WO"
remote "$SIM_URL/api/v1/work-orders/$WO" | json_get '"status: %s, notes: %s, updated_at: %s" % (d["data"]["status"], d["data"]["notes"], d["data"]["updated_at"])'
run "$CLI" outbox

step "6. A conflict: you and the dispatcher change the same field"
remote -X POST "$SIM_URL/__sim/faults" -d '{"drop_rate":1.0,"methods":["GET"]}' >/dev/null
say "(the agent cannot reach the remote for a while: the simulator drops its reads)"
run "$CLI" work-orders update "$WO" --description "Replace compressor (tech's finding)"
sleep 1.1   # the dispatcher's edit comes later than the technician's
say "Meanwhile the dispatcher edits the same work order on the server:"
printf '$ curl -X PUT ... %s/api/v1/work-orders/%s -d {"description": ...}\n' "$SIM_URL" "$WO"
remote -X PUT -H 'Content-Type: application/json' "$SIM_URL/api/v1/work-orders/$WO" \
    -d '{"description":"Customer reports noise - dispatcher note"}' >/dev/null
remote -X DELETE "$SIM_URL/__sim/faults" >/dev/null
say "(back online)"
drain
say "Under the default policy (lww) the later edit wins: the dispatcher's.  The losing value is kept:"
run "$CLI" conflicts
CID=$("$CLI" --json conflicts | json_get 'd["data"][0]["id"]')
run "$CLI" conflicts show "$CID"
say ""
say "You can reverse any outcome; keeping your value queues it again:"
run "$CLI" conflicts resolve "$CID" --keep local
drain
remote "$SIM_URL/api/v1/work-orders/$WO" | json_get '"remote description now: %s" % d["data"]["description"]'

step "7. Stop"
kill -TERM "$daemon_pid"; wait "$daemon_pid" || true; daemon_pid=""
kill -TERM "$sim_pid"; wait "$sim_pid" || true; sim_pid=""
say "Both stopped cleanly. Queued edits would have stayed queued in $T/state/fieldsync/replica.db."
say ""
say "Demo finished. Next: 'make check' runs every test; README.md explains configuration."
