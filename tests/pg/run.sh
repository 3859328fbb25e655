#!/bin/sh
# run.sh - the PostgreSQL tests: starts a private server (start.sh), runs
# one suite against it, stops it (stop.sh) whatever happens.
#
# Usage: tests/pg/run.sh units TESTDIR   the store unit tests (test_store,
#                                        test_log, test_corpus, test_regress
#                                        in TESTDIR) with AIRI_TEST_PG set
#        tests/pg/run.sh SCRIPT AIRI     tests/pg/SCRIPT.sh with the airi
#                                        binary (cli, sync, concurrent, kill)
#
# Exit status 0 when the suite passed, 1 when it failed, 77 (skip) only
# when the PostgreSQL server binaries are not installed.
set -u
if [ $# -ne 2 ]; then
	echo "usage: $0 units TESTDIR | SCRIPT AIRI" >&2
	exit 64
fi
what=$1
arg=$2
here=$(cd "$(dirname "$0")" && pwd)
case $arg in /*) ;; *) arg=$(pwd)/$arg ;; esac

tmp=$(mktemp -d "${TMPDIR:-/tmp}/airi-pg.XXXXXX") || exit 1
chmod 711 "$tmp"
cleanup() {
	sh "$here/stop.sh" "$tmp/server"
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

sh "$here/start.sh" "$tmp/server" >"$tmp/conn"
rc=$?
if [ $rc = 77 ]; then
	echo "skip: the PostgreSQL server binaries are not installed (Debian package postgresql; ./scripts/setup.sh installs it)"
	exit 77
fi
if [ $rc != 0 ]; then
	echo "FAIL: cannot start a PostgreSQL server"
	exit 1
fi
. "$tmp/server/env"
export PGBIN PGDATA PGPORT PGSOCK PGRUNAS
echo "PostgreSQL $("$PGBIN/postgres" --version | sed 's/^[^0-9]*\([0-9.]*\).*/\1/') on $PGSOCK, port $PGPORT"
mkdir "$tmp/work"
cd "$tmp/work" || exit 1

if [ "$what" = units ]; then
	"$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 "$AIRI_TEST_PG" \
		-c "CREATE DATABASE airi_test" || exit 1
	AIRI_TEST_PG="host=$PGSOCK port=$PGPORT user=airi dbname=airi_test"
	export AIRI_TEST_PG
	failed=""
	for t in store log corpus regress; do
		echo "== test_$t on PostgreSQL"
		"$arg/test_$t" || failed="$failed test_$t"
	done
	if [ -n "$failed" ]; then
		echo "FAIL:$failed"
		exit 1
	fi
	exit 0
fi
[ -f "$here/$what.sh" ] || { echo "no suite $what" >&2; exit 64; }
sh "$here/$what.sh" "$arg"
