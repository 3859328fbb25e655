#!/bin/sh
# cli.sh - the airi command end to end on PostgreSQL: every command that
# uses a store gives the same output and exit status as on SQLite (times
# of recording aside); bad locations and unreachable servers give one
# clear line without the password; schema versions are enforced.
# Run by run.sh: tests/pg/run.sh cli AIRI
. "$(dirname "$0")/lib.sh"

PG=$(newdb cli)
SQ=$HOME/s.db
ex=$srcdir/examples

# no store yet: like a missing SQLite file
expect 2 "$airi" log --store "$PG" && contains err "no store at postgresql:///cli"
expect 2 "$airi" fsck --store "host=$PGSOCK port=$PGPORT user=airi dbname=cli"
# migrate creates it; a second time there is nothing to do
expect 0 "$airi" store migrate --store "$PG" && contains out "postgres store: created with schema version 2"
expect 0 "$airi" store migrate --store "$PG" --json && contains out '{"backend":"postgres","from":2,"to":2}'
expect 0 "$airi" store migrate --store "$SQ" && contains out "sqlite store: created with schema version 4"
expect 2 "$airi" store compact --store "$PG" && contains err "the postgres backend has no compact"
expect 64 "$airi" store --store "$PG"

# record, one by one and in bulk, on both
for tag in sq pg; do
	if [ $tag = sq ]; then s=$SQ; else s=$PG; fi
	expect 0 "$airi" record --store "$s" "$ex/helpful.json" && cp out "rec1.$tag"
	expect 0 "$airi" record --store "$s" "$ex/terse.json"
	expect 0 "$airi" record --store "$s" --json "$ex/terse.json" && cp out "rec2.$tag"
done
same "record" rec1.sq rec1.pg
same "record --json" rec2.sq rec2.pg
jsonl 60 runs.jsonl
expect 0 "$airi" record --store "$SQ" --jsonl runs.jsonl && cp out bulk.sq
expect 0 "$airi" record --store "$PG" --jsonl --batch 7 runs.jsonl && cp out bulk.pg
same "record --jsonl" bulk.sq bulk.pg
# all or nothing: a bad line stores nothing
{ head -3 runs.jsonl | sed 's/"q/"new q/'; echo '{"conditions":'; } >bad.jsonl
expect 65 "$airi" record --store "$PG" --jsonl bad.jsonl
expect 0 "$airi" log --store "$PG" && [ "$(wc -l <out)" = 62 ] && ok || fail "a rejected import left runs: $(wc -l <out)"

run1=$(head -1 rec1.pg | cut -c8-19)
# label both
for s in "$SQ" "$PG"; do
	expect 0 "$airi" label --store "$s" "$run1" team=blue score=0.75 note="with space é"
	expect 0 "$airi" label --store "$s" "$run1" --remove note
done

# the same output on both backends, command by command
i=0
while IFS= read -r line; do
	i=$((i + 1))
	# shellcheck disable=SC2086
	set -- $line
	want=$1
	shift
	expect "$want" "$airi" "$@" --store "$SQ"
	mv out sq.out
	expect "$want" "$airi" "$@" --store "$PG"
	# "recorded" is when each store recorded the run
	sed 's/"recorded":"[^"]*",//g' sq.out >a.out
	sed 's/"recorded":"[^"]*",//g' out >b.out
	same "airi $*" a.out b.out
done <<CMDS
0 log
0 log --json
0 log --model m1
0 log --model m2-v1 --limit 3
0 log --since 2026-01-05T00:00:00Z --until 2026-01-09T00:00:00Z
0 log --where model=m0,since=2026-01-20T00:00:00Z
0 log label.team=blue
0 log section.system=$(echo '{"text":"s1"}' | "$airi" canon | sha256sum | cut -c1-8)
0 log --conditions $(head -1 bulk.pg | cut -c8-15) --json
0 log --limit 1
0 show $run1
0 show --json $run1
0 show --manifest $run1
0 check $run1
1 check $(sed -n 3p bulk.pg | cut -c8-20)
1 diff $run1 $(sed -n 2p bulk.pg | cut -c8-20)
0 label $run1
0 label --json $run1
0 regress --before model=m0 --after model=m1 --json
0 regress --before label.team=blue --after model=m2
0 fsck
0 fsck --json
2 show 000000000000
64 show 12
CMDS

# checkpoints, bundles, consistency proofs
expect 0 "$airi" key generate --key k.key && vk=$(cat out)
expect 0 "$airi" checkpoint --store "$PG" --key k.key --json && cp out cp1.json
contains cp1.json '"size":62'
expect 0 "$airi" export --store "$PG" --key k.key --output b.json "$run1"
expect 0 "$airi" verify --key "$vk" b.json
jsonl 70 more.jsonl
expect 0 "$airi" record --store "$PG" --jsonl more.jsonl
expect 0 "$airi" checkpoint --store "$PG" --key k.key --json && cp out cp2.json
contains cp2.json '"size":72'
sed -n 's/.*"note":"\(.*\)","origin.*/\1/p' cp1.json | sed 's/\\n/\n/g' >old.note
sed -n 's/.*"note":"\(.*\)","origin.*/\1/p' cp2.json | sed 's/\\n/\n/g' >new.note
printf '%s' "$(cat old.note)" >old.txt && printf '\n' >>old.txt
printf '%s' "$(cat new.note)" >new.txt && printf '\n' >>new.txt
expect 0 "$airi" verify --key "$vk" --consistency old.txt new.txt --store "$PG"
expect 0 "$airi" consistency --store "$PG" 62 72
expect 0 "$airi" fsck --store "$PG" && contains out ", 0 problems"

# corpus trees kept in the store
mkdir -p docs && echo one >docs/a.txt && echo two >docs/b.txt
for tag in sq pg; do
	if [ $tag = sq ]; then s=$SQ; else s=$PG; fi
	expect 0 "$airi" digest corpus --store "$s" --name kb docs && cp out "c1.$tag"
	printf '{"id":"a.txt","text":"uno"}\n' >chg.jsonl
	expect 0 "$airi" digest corpus --store "$s" --name kb --update chg.jsonl && cp out "c2.$tag"
done
same "digest corpus" c1.sq c1.pg
same "digest corpus --update" c2.sq c2.pg
st1=$(sed -n 's/.*\(sha256:[0-9a-f]*\).*/\1/p' c1.pg | head -1)
st2=$(sed -n 's/.*\(sha256:[0-9a-f]*\).*/\1/p' c2.pg | head -1)
expect 1 "$airi" diff --store "$PG" "$st1" "$st2" && contains out "a.txt"

# bad locations and unreachable servers: one line, exit 2, no password
expect 2 "$airi" log --store "postgresql://airi:hunter2-secret@127.0.0.1:1/x?connect_timeout=3"
lacks err hunter2-secret && contains err 'postgresql://airi:\*\*\*@127.0.0.1:1/x' && contains err "cannot connect"
[ "$(wc -l <err)" = 1 ] && ok || fail "more than one line: $(cat err)"
expect 2 "$airi" log --store "host=127.0.0.1 port=1 password='hunter2 secret' connect_timeout=3"
lacks err "hunter2" && contains err "password=\*\*\*"
expect 2 "$airi" log --store "postgresql://airi:hunter2%zzsecret@h/x"
lacks err "hunter2" && contains err "invalid PostgreSQL location"
expect 2 "$airi" log --store "postgresql:///nosuchdb?host=$PGSOCK&port=$PGPORT&user=airi"
contains err 'database "nosuchdb" does not exist'
# a store newer than this airi is refused, before anything is touched
NEW=$(newdb newer)
expect 0 "$airi" record --store "$NEW" "$ex/helpful.json"
pgq newer "INSERT INTO airi_schema VALUES (99, 0)" >/dev/null
expect 2 "$airi" log --store "$NEW" && contains err "schema version 99; this airi understands up to 2 (upgrade airi)"
expect 2 "$airi" store migrate --store "$NEW" && contains err "schema version 99"
# an older one is refused until migrated (tests/unit/test_regress.c migrates one)
pgq newer "DELETE FROM airi_schema WHERE version > 1" >/dev/null
expect 2 "$airi" log --store "$NEW" && contains err "run airi store migrate"
# a schema of someone else's tables is not taken over
OTHER=$(newdb other)
pgq other "CREATE TABLE runs(x int)" >/dev/null
expect 2 "$airi" record --store "$OTHER" "$ex/helpful.json" && contains err 'relation "runs" already exists'
finish
