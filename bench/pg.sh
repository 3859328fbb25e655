#!/bin/sh
# pg.sh - the PostgreSQL store: sustained ingest from 4 concurrent writers
# and `airi log` page latency on a large runs table (bench/README.md,
# "PostgreSQL").
#
# Usage: bench/pg.sh [AIRI]          (default build/airi)
#
# Starts a private server (tests/pg/start.sh) with durable settings
# (fsync on) unless BENCH_PG names one ("host=... user=..." of a role that
# may CREATE DATABASE). Knobs: BENCH_PG_N runs to ingest (default 100000,
# the first lines of bench/data/runs-1000000.jsonl), BENCH_PG_ROWS rows of
# the query table (default 10000000), BENCH_PG_SKIP=ingest,query.
# Prints a table and writes bench/out/pg-results.tsv.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/.." && pwd)
airi=${1:-$src/build/airi}
case $airi in /*) ;; *) airi=$(pwd)/$airi ;; esac
N=${BENCH_PG_N:-100000}
ROWS=${BENCH_PG_ROWS:-10000000}
SKIP=${BENCH_PG_SKIP:-}
out=$here/out
mkdir -p "$out"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/airi-pgbench.XXXXXX")
chmod 711 "$tmp"
server=""
cleanup() {
	[ -n "$server" ] && sh "$src/tests/pg/stop.sh" "$server"
	rm -rf "$tmp"
}
trap cleanup EXIT
if [ -n "${BENCH_PG:-}" ]; then
	base=$BENCH_PG
	PGBIN=$(dirname "$(command -v psql)")
else
	server=$tmp/server
	AIRI_PG_FSYNC=on sh "$src/tests/pg/start.sh" "$server" >/dev/null
	. "$server/env"
	base=$AIRI_TEST_PG
fi
psql() { "$PGBIN/psql" -X -q -t -A -v ON_ERROR_STOP=1 "$@"; }
# newdb NAME: a fresh database; prints its keyword/value location
newdb() {
	psql "$base" -c "DROP DATABASE IF EXISTS $1" >/dev/null 2>&1
	psql "$base" -c "CREATE DATABASE $1" >/dev/null
	echo "$base dbname=$1"
}
now() { date +%s.%N; }
rate() { awk -v n="$1" -v a="$2" -v b="$3" 'BEGIN { printf "%.0f", n / (b - a) }'; }
results=$out/pg-results.tsv
printf 'what\tvalue\tunit\n' >"$results"
row() {
	printf '%s\t%s\t%s\n' "$1" "$2" "$3" >>"$results"
	printf '%-58s %12s %s\n' "$1" "$2" "$3"
}
echo "PostgreSQL $("$PGBIN/postgres" --version 2>/dev/null | sed "s/^[^0-9]*\([0-9.]*\).*/\1/"), $(nproc) cores, $(uname -r)"

if ! echo "$SKIP" | grep -q ingest; then
	input=$src/bench/data/runs-1000000.jsonl
	if [ ! -f "$input" ]; then
		(cd "$src" && python3 bench/gen.py)
	fi
	head -n "$N" "$input" >"$tmp/in.jsonl"
	split -n l/4 -d "$tmp/in.jsonl" "$tmp/part."
	# baseline: the same runs into SQLite, one writer
	t0=$(now)
	"$airi" record --store "$tmp/base.db" --jsonl --batch 1000 "$tmp/in.jsonl" >/dev/null
	t1=$(now)
	row "ingest SQLite, 1 writer, --batch 1000" "$(rate "$N" "$t0" "$t1")" runs/s
	L=$(newdb bench1)
	"$airi" store migrate --store "$L" >/dev/null
	t0=$(now)
	"$airi" record --store "$L" --jsonl --batch 1000 "$tmp/in.jsonl" >/dev/null
	t1=$(now)
	row "ingest PostgreSQL, 1 writer, --batch 1000" "$(rate "$N" "$t0" "$t1")" runs/s
	L=$(newdb bench4)
	"$airi" store migrate --store "$L" >/dev/null
	t0=$(now)
	for i in 0 1 2 3; do
		"$airi" record --store "$L" --jsonl --batch 1000 "$tmp/part.0$i" >/dev/null &
	done
	wait
	t1=$(now)
	row "ingest PostgreSQL, 4 writers, --batch 1000" "$(rate "$N" "$t0" "$t1")" runs/s
	got=$(psql "$L" -c "SELECT count(*) = $N AND count(DISTINCT run) = $N AND max(idx) = $N - 1 FROM log_leaves")
	[ "$got" = t ] || { echo "pg.sh: the log is not 0..$((N - 1))" >&2; exit 1; }
fi

if ! echo "$SKIP" | grep -q query; then
	# a runs table of ROWS synthetic rows (the listing reads only runs and
	# labels): 20 models, 100000 conditions, one run a second over the
	# period, a label on 1%
	L=$(newdb benchq)
	"$airi" store migrate --store "$L" >/dev/null
	t0=$(now)
	psql "$L" -c "INSERT INTO runs(id, conditions, recorded_ms, time_ms, model,
		resolved, summary, log_idx, s_system)
	SELECT sha256(int8send(i)), sha256(int8send(i % 100000)),
		1767225600000 + i * 1000, 1767225600000 + i * 1000,
		'model-' || (i % 20), 'model-' || (i % 20) || '-v1', 'summary ' || i,
		i - 1, sha256(int8send(i % 5))
	FROM generate_series(1::bigint, $ROWS) AS i"
	psql "$L" -c "INSERT INTO labels(seq, key, value, num, time_ms)
		SELECT seq, 'team', CASE WHEN seq % 2 = 0 THEN 'blue' ELSE 'red' END,
		NULL, 0 FROM runs WHERE seq % 100 = 0"
	psql "$L" -c "VACUUM ANALYZE runs" -c "VACUUM ANALYZE labels"
	t1=$(now)
	row "query table: $ROWS runs generated in" "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", b - a }')" s
	cond=$(psql "$L" -c "SELECT substr(encode(conditions, 'hex'), 1, 12) FROM runs WHERE seq = 4242")
	mid=$(psql "$L" -c "SELECT to_char(to_timestamp((1767225600000 + $ROWS * 500::bigint) / 1000) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')")
	sys=$(psql "$L" -c "SELECT substr(encode(sha256(int8send(3)), 'hex'), 1, 8)")
	# best of 5 wall times of one command, in ms (process start and
	# connection included)
	best() {
		b=""
		for k in 1 2 3 4 5; do
			t0=$(now)
			"$@" >/dev/null
			t1=$(now)
			ms=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", (b - a) * 1000 }')
			if [ -z "$b" ] || awk -v x="$ms" -v y="$b" 'BEGIN { exit !(x < y) }'; then b=$ms; fi
		done
		echo "$b"
	}
	row "airi version (process start, no store)" "$(best "$airi" version)" ms
	row "log --limit 50 (newest page)" "$(best "$airi" log --store "$L" --limit 50)" ms
	row "log --model model-7 --limit 50" "$(best "$airi" log --store "$L" --model model-7 --limit 50)" ms
	row "log --until MID --limit 50 (a page in the middle)" "$(best "$airi" log --store "$L" --until "$mid" --limit 50)" ms
	row "log --conditions PREFIX --limit 50" "$(best "$airi" log --store "$L" --conditions "$cond" --limit 50)" ms
	row "log label.team=blue --limit 50" "$(best "$airi" log --store "$L" label.team=blue --limit 50)" ms
	row "log model=model-3 section.system=PREFIX --limit 50" "$(best "$airi" log --store "$L" model=model-3 "section.system=$sys" --limit 50)" ms
	row "log --json --limit 1000" "$(best "$airi" log --store "$L" --json --limit 1000)" ms
fi
