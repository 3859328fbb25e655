#!/bin/sh
# restart.sh - starts again the server of tests/pg/start.sh (after a
# crash: PostgreSQL recovers from its WAL). Needs PGBIN, PGDATA, PGPORT,
# PGRUNAS in the environment (run.sh exports them).
set -u
. "$(dirname "$0")/as_server.sh"
i=0
until as_server "$PGBIN/pg_ctl" -D "$PGDATA" -l "$PGDATA/../server.log" -w -t 30 \
	-o "-p $PGPORT" start >/dev/null 2>&1; do
	# the killed server's processes may take a moment to be gone
	i=$((i + 1))
	[ $i -lt 10 ] || exit 1
	sleep 0.5
done
