#!/bin/sh
# stop.sh - stops the server tests/pg/start.sh started in DIR and removes DIR.
#
# Usage: tests/pg/stop.sh DIR
set -u
if [ $# -ne 1 ]; then
	echo "usage: $0 DIR" >&2
	exit 64
fi
dir=$1
[ -f "$dir/env" ] || { rm -rf "$dir"; exit 0; }
. "$dir/env"
. "$(dirname "$0")/as_server.sh"
as_server "$PGBIN/pg_ctl" -D "$PGDATA" -m immediate -w stop >/dev/null 2>&1 || true
rm -rf "$dir"
