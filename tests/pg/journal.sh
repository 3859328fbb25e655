#!/bin/sh
# journal.sh - `airi proxy --journal` with a PostgreSQL store: kill9.js
# --journal against it (the proxy is killed under load while acknowledged
# runs are in its journal only; the restart records them in PostgreSQL),
# then the same store again without a journal, and fsck.
# Run by run.sh: tests/pg/run.sh journal AIRI
. "$(dirname "$0")/lib.sh"
command -v node >/dev/null 2>&1 || { echo "journal: SKIP (no node)"; exit 77; }

PG=$(newdb journaled)
expect 0 "$airi" store migrate --store "$PG"
AIRI_KILL9_STORE=$PG node "$srcdir/tests/proxy/kill9.js" "$airi" --journal ||
	fail "kill9.js --journal on PostgreSQL"
AIRI_KILL9_STORE=$PG node "$srcdir/tests/proxy/kill9.js" "$airi" ||
	fail "kill9.js on the same PostgreSQL store, no journal"
finish
