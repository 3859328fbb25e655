#!/bin/sh
# start.sh - starts a private PostgreSQL server for the tests.
#
# Usage: tests/pg/start.sh DIR
#
# Finds Debian's PostgreSQL server binaries (/usr/lib/postgresql/*/bin, the
# newest version; $AIRI_PG_BIN overrides), runs initdb into DIR/data and
# starts the server listening on a private unix socket directory (DIR/sock)
# and on 127.0.0.1 at a free port, with trust authentication for the
# superuser "airi" (nothing but the socket's directory and localhost can
# reach it). PostgreSQL refuses to run as root: as root, the server runs
# as the unprivileged user "postgres" (the Debian package's), else a user
# "airi-pg" created with useradd, else "nobody", and DIR belongs to it.
#
# AIRI_PG_FSYNC=on keeps fsync and full_page_writes on (benchmarks);
# tests run with them off.
#
# Prints the libpq connection string (keyword/value form, database
# "postgres") on standard output and writes DIR/env (PGBIN, PGDATA, PGPORT,
# PGSOCK, PGRUNAS, AIRI_TEST_PG) for stop.sh and the test scripts.
# Exit status 77 (skip) when no server binaries are installed, 1 when the
# server cannot be started (its log is shown).
set -eu
if [ $# -ne 1 ]; then
	echo "usage: $0 DIR" >&2
	exit 64
fi
dir=$1
bin=${AIRI_PG_BIN:-}
if [ -z "$bin" ]; then
	for b in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k5 -n); do
		[ -x "$b/initdb" ] && [ -x "$b/pg_ctl" ] && bin=$b
	done
fi
if [ -z "$bin" ] || [ ! -x "$bin/initdb" ] || [ ! -x "$bin/pg_ctl" ]; then
	echo "start.sh: no PostgreSQL server binaries (/usr/lib/postgresql/*/bin; install the Debian package postgresql)" >&2
	exit 77
fi

mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
runas=""
if [ "$(id -u)" = 0 ]; then
	if id postgres >/dev/null 2>&1; then
		runas=postgres
	elif id airi-pg >/dev/null 2>&1 ||
		useradd --system --no-create-home --shell /usr/sbin/nologin airi-pg >/dev/null 2>&1; then
		runas=airi-pg
	else
		runas=nobody
	fi
	chown "$runas" "$dir"
	chmod 700 "$dir"
fi
PGRUNAS=$runas
. "$(dirname "$0")/as_server.sh"

as_server mkdir -p "$dir/sock"
as_server "$bin/initdb" -D "$dir/data" -U airi -A trust -E UTF8 --locale=C \
	--no-instructions >"$dir/initdb.log" 2>&1 || {
	cat "$dir/initdb.log" >&2
	exit 1
}
# tests: fsync off (a killed server keeps what it committed: the kernel
# still has it; only a machine crash could lose it); AIRI_PG_FSYNC=on (the
# benchmarks) keeps PostgreSQL's durable defaults
fsync=${AIRI_PG_FSYNC:-off}
cat >>"$dir/data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
unix_socket_directories = '$dir/sock'
fsync = $fsync
full_page_writes = $fsync
max_connections = 60
shared_buffers = 64MB
max_wal_size = 1GB
logging_collector = off
CONF

# a free port: try a few from a pseudo-random base
base=$(( ($$ % 2000) * 10 + 20000 ))
port=""
for i in 0 1 2 3 4 5 6 7 8 9 10 11; do
	p=$((base + i * 7))
	if as_server "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
		-o "-p $p" start >/dev/null 2>&1; then
		port=$p
		break
	fi
done
if [ -z "$port" ]; then
	echo "start.sh: the PostgreSQL server did not start:" >&2
	tail -20 "$dir/server.log" >&2 || true
	exit 1
fi
conn="host=$dir/sock port=$port user=airi dbname=postgres"
cat >"$dir/env" <<ENV
PGBIN='$bin'
PGDATA='$dir/data'
PGPORT='$port'
PGSOCK='$dir/sock'
PGRUNAS='$runas'
AIRI_TEST_PG='$conn'
ENV
echo "$conn"
