#!/bin/sh
# Installs the Debian packages fieldsync needs to build, test and demo,
# but only those that are missing, and says which.  Uses sudo when not root.
# Usage: packaging/deps.sh [build|demo|test|bench|fuzz|deb]
set -eu

build_pkgs="gcc make pkg-config libsqlite3-dev libcurl4-openssl-dev libcjson-dev zlib1g-dev libmicrohttpd-dev"
# dpkg-dev and lintian: the packaging tests build the .deb and check it.
deb_pkgs="dpkg-dev"
test_pkgs="libcmocka-dev sqlite3 curl python3 $deb_pkgs lintian"
bench_pkgs="nghttp2-client redis-server redis-tools wrk"
fuzz_pkgs="clang libclang-rt-14-dev"

want="$build_pkgs"
case "${1:-test}" in
    build) ;;
    demo)  want="$want curl python3" ;;
    test)  want="$want $test_pkgs" ;;
    bench) want="$want $test_pkgs $bench_pkgs" ;;
    fuzz)  want="$want $test_pkgs $fuzz_pkgs" ;;
    deb)   want="$want $deb_pkgs" ;;
    *) echo "usage: $0 [build|demo|test|bench|fuzz|deb]" >&2; exit 2 ;;
esac

missing=""
for p in $want; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
        missing="$missing $p"
    fi
done
# node and npm: tests/integration/test_openapi.py installs Stoplight Prism
# with npm (into build/node/).  Checked by command, not by package: a
# node from elsewhere (e.g. NodeSource's nodejs, which bundles npm) will do.
case "${1:-test}" in
    test|bench|fuzz)
        command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 ||
            missing="$missing nodejs npm" ;;
esac
[ -z "$missing" ] && exit 0

echo "deps: installing missing Debian packages:$missing"
if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q >/dev/null
# shellcheck disable=SC2086
$sudo apt-get install -y -q --no-install-recommends $missing >/dev/null
echo "deps: done"
