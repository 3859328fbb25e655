#!/bin/sh
# sync.sh - airi push / airi pull between SQLite and PostgreSQL: a round
# trip SQLite -> PostgreSQL -> SQLite copies every run, label and log
# entry (the logs are byte-identical: the same key signs the same
# checkpoint on all three), fsck is clean everywhere, a second push copies
# nothing, filters select what the same filters of airi log select, and
# pushes from two stores into one interleave without losing anything.
# Run by run.sh: tests/pg/run.sh sync AIRI
. "$(dirname "$0")/lib.sh"

PG=$(newdb sync)
A=$HOME/a.db
C=$HOME/c.db
ex=$srcdir/examples
expect 0 "$airi" record --store "$A" "$ex/helpful.json"
expect 0 "$airi" record --store "$A" "$ex/terse.json"
jsonl 200 runs.jsonl
expect 0 "$airi" record --store "$A" --jsonl runs.jsonl
run1=$(sed -n 1p runs.jsonl | "$airi" id | cut -c8-19)
expect 0 "$airi" label --store "$A" "$run1" verdict=good score=0.9

expect 0 "$airi" push --store "$A" "$PG" && contains out "pushed 202 runs (0 already there), 2 labels"
expect 0 "$airi" push --store "$A" "$PG" --json && contains out '{"copied":0,"labels":0,"present":202,"selected":202}'
expect 0 "$airi" pull --store "$C" "$PG" && contains out "pulled 202 runs (0 already there), 2 labels"
expect 0 "$airi" pull --store "$C" "$PG" && contains out "pulled 0 runs (202 already there), 0 labels"
for s in "$A" "$PG" "$C"; do
	expect 0 "$airi" fsck --store "$s" && contains out ", 0 problems"
done
expect 0 "$airi" key generate --key k.key
for tag in a pg c; do
	case $tag in a) s=$A ;; pg) s=$PG ;; c) s=$C ;; esac
	expect 0 "$airi" log --store "$s" --json && cp out "log.$tag"
	expect 0 "$airi" checkpoint --store "$s" --key k.key --json && cp out "cp.$tag"
	expect 0 "$airi" label --store "$s" --json "$run1" && cp out "lab.$tag"
done
same "log --json after push" log.a log.pg
same "log --json after pull" log.a log.c
same "the signed checkpoint after push" cp.a cp.pg
same "the signed checkpoint after pull" cp.a cp.c
same "labels after push" lab.a lab.pg
same "labels after pull" lab.a lab.c
contains cp.pg '"size":202'

# a label changed at the source travels; nothing else does
expect 0 "$airi" label --store "$A" "$run1" verdict=bad
expect 0 "$airi" push --store "$A" "$PG" && contains out "pushed 0 runs (202 already there), 1 label"
expect 0 "$airi" label --store "$PG" "$run1" && contains out "verdict=bad"

# filters: the runs airi log selects with the same filter
F=$HOME/f.db
expect 0 "$airi" pull --store "$F" "$PG" model=m1 since=2026-01-10T00:00:00Z --json
expect 0 "$airi" log --store "$PG" --where "model=m1 since=2026-01-10T00:00:00Z" && sort out >want
expect 0 "$airi" log --store "$F" && sort out >got
same "pull with a filter" want got
expect 0 "$airi" push --store "$A" "$F" --limit 5 --model m2 --json && contains out '"selected":5'
expect 0 "$airi" fsck --store "$F" && contains out ", 0 problems"
expect 64 "$airi" push --store "$A" "$F" notafilter
expect 64 "$airi" push --store "$A"
expect 2 "$airi" pull --store "$F" "postgresql:///nosuch?host=$PGSOCK&port=$PGPORT&user=airi"

# two sources pushing into one PostgreSQL store at once
B=$HOME/b.db
jsonl 300 more.jsonl
expect 0 "$airi" record --store "$B" --jsonl more.jsonl
P2=$(newdb sync2)
"$airi" push --store "$A" "$P2" >p1.out 2>&1 &
p1=$!
"$airi" push --store "$B" "$P2" >p2.out 2>&1 &
p2=$!
wait $p1 || fail "push A: $(cat p1.out)"
wait $p2 || fail "push B: $(cat p2.out)"
# the 300 of b.db include the 200 of runs.jsonl
n=$(pgq sync2 "SELECT count(*) || ' ' || count(DISTINCT run) || ' ' || min(idx) || ' ' || max(idx) FROM log_leaves")
[ "$n" = "302 302 0 301" ] && ok || fail "log after concurrent pushes: $n"
expect 0 "$airi" fsck --store "$P2" && contains out ", 0 problems"
finish
