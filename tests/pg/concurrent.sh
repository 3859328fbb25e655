#!/bin/sh
# concurrent.sh - six writer processes record into one PostgreSQL store
# at once (bulk imports in small transactions, single records, with runs
# that several writers share; imports that repeat runs within a batch,
# and one whole-file import), while checkpoints are signed: afterwards
# the log holds each distinct run exactly once, at consecutive indexes
# 0..N-1, every run row points at its own leaf, fsck is clean and every
# checkpoint signed during the load is consistent with the final one.
# Run by run.sh: tests/pg/run.sh concurrent AIRI
. "$(dirname "$0")/lib.sh"

PG=$(newdb conc)
expect 0 "$airi" store migrate --store "$PG"
expect 0 "$airi" key generate --key k.key && vk=$(cat out)
# writer w imports lines [w*200, w*200+250): 50 shared with the next
# one; the fourth only the first 120 of its lines, one by one
jsonl 850 all.jsonl
for w in 0 1 2; do
	sed -n "$((w * 200 + 1)),$((w * 200 + 250))p" all.jsonl >"w$w.jsonl"
done
sed -n "601,720p" all.jsonl >w3.jsonl
# writer 4 imports lines 100..700 each twice in a row (duplicates within
# its batches and against the others'), writer 5 lines 300..720 backwards
# in one transaction (no --batch)
sed -n "100,700{p;p}" all.jsonl >w4.jsonl
sed -n "300,720p" all.jsonl | tac >w5.jsonl
start=$(date +%s)
for w in 0 1 2; do
	"$airi" record --store "$PG" --jsonl --batch $((3 + w * 4)) "w$w.jsonl" >"w$w.out" 2>&1 &
	eval "pid$w=\$!"
done
"$airi" record --store "$PG" --jsonl --batch 50 w4.jsonl >w4.out 2>&1 &
pid4=$!
"$airi" record --store "$PG" --jsonl w5.jsonl >w5.out 2>&1 &
pid5=$!
# the fourth records its runs one by one (a proxy's commits)
(
	while IFS= read -r line; do
		printf '%s\n' "$line" | "$airi" record --store "$PG" - || exit 1
	done <w3.jsonl
) >w3.out 2>&1 &
pid3=$!
# meanwhile, checkpoints
n=0
while kill -0 $pid3 2>/dev/null || kill -0 $pid0 2>/dev/null; do
	if "$airi" checkpoint --store "$PG" --key k.key >"cp$n.txt" 2>"cp$n.err"; then
		n=$((n + 1))
	else
		fail "checkpoint during the load: $(cat "cp$n.err")"
		break
	fi
	sleep 0.2
done
for w in 0 1 2 3 4 5; do
	eval "p=\$pid$w"
	wait "$p" || fail "writer $w: $(tail -3 "w$w.out")"
done
[ "$(grep -c '^sha256:' w4.out)" = 1202 ] && ok || fail "writer 4 printed $(grep -c '^sha256:' w4.out) IDs"
echo "6 writers, $n checkpoints signed during the load, $(($(date +%s) - start)) s"

# 720 distinct runs, each once, at 0..719
got=$(pgq conc "SELECT count(*) || ' ' || count(DISTINCT run) || ' ' || min(idx) || ' ' || max(idx) FROM log_leaves")
[ "$got" = "720 720 0 719" ] && ok || fail "log leaves (count, distinct, min, max): $got"
got=$(pgq conc "SELECT count(*) FROM runs r JOIN log_leaves l ON l.idx = r.log_idx AND l.run = r.id")
[ "$got" = 720 ] && ok || fail "runs pointing at their own leaf: $got"
expect 0 "$airi" log --store "$PG" && [ "$(wc -l <out)" = 720 ] && ok || fail "log lists $(wc -l <out) runs"
# every writer's IDs are there, and nothing else
cat w0.out w1.out w2.out w3.out w4.out w5.out | grep '^sha256:' | sort -u >ids.want
expect 0 "$airi" log --store "$PG" --json
sed -n 's/.*"run":"\(sha256:[0-9a-f]*\)".*/\1/p' out | sort >ids.got
same "the runs the writers recorded" ids.want ids.got
expect 0 "$airi" fsck --store "$PG" && contains out ", 0 problems"
# the final checkpoint, and every one signed during the load grew into it
expect 0 "$airi" checkpoint --store "$PG" --key k.key && cp out final.txt
[ "$(sed -n 2p final.txt)" = 720 ] && ok || fail "final checkpoint: $(cat final.txt)"
i=0
while [ "$i" -lt "$n" ]; do
	# (an empty tree has no consistency proof)
	if [ "$(sed -n 2p "cp$i.txt")" != 0 ]; then
		expect 0 "$airi" verify --key "$vk" --consistency "cp$i.txt" final.txt --store "$PG"
	fi
	i=$((i + 1))
done
finish
