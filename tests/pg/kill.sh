#!/bin/sh
# kill.sh - the database is killed mid-load (every server process, with
# SIGKILL) and restarted: writers that retry until their store says yes
# lose nothing and duplicate nothing. Every run whose ID a writer printed
# is in the store, every run is there exactly once, the log's leaves are
# 0..N-1 with each run once, fsck is clean; a long-running process (the
# proxy, when node is there for the fake upstream) reconnects by itself.
# Run by run.sh: tests/pg/run.sh kill AIRI
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/proxylib.sh"

PG=$(newdb killed)
expect 0 "$airi" store migrate --store "$PG"
jsonl 1750 all.jsonl
sed -n '1,150p' all.jsonl >w0.jsonl
sed -n '101,250p' all.jsonl >w1.jsonl
sed -n '251,1750p' all.jsonl >w2.jsonl

# the proxy, a long-running process with its own connections
proxy=""
if command -v node >/dev/null 2>&1; then
	: >proxy.log
	start_upstream
	# a free port: try a few
	for k in 1 2 3 4 5 6; do
		pport=$(( ($$ * k % 3000) + 41000 ))
		"$airi" proxy --upstream "http://127.0.0.1:$uport" --listen "127.0.0.1:$pport" \
			--store "$PG" >proxy.log 2>&1 &
		proxy=$!
		i=0
		while ! grep -q "listening on" proxy.log && kill -0 $proxy 2>/dev/null && [ $i -lt 100 ]; do
			sleep 0.1
			i=$((i + 1))
		done
		grep -q "listening on" proxy.log && break
		kill $proxy 2>/dev/null
		wait $proxy 2>/dev/null
		proxy=""
	done
	[ -n "$proxy" ] || fail "the proxy did not start: $(cat proxy.log)"
fi
# call TEXT: one chat completion through the proxy; prints the status
call() {
	node -e '
const http = require("http");
const [port, text] = process.argv.slice(1);
const body = JSON.stringify({model: "gpt-x", messages: [{role: "user", content: text}]});
const r = http.request({host: "127.0.0.1", port, path: "/v1/chat/completions", method: "POST",
	headers: {"content-type": "application/json"}}, (res) => {
	res.resume();
	res.on("end", () => console.log(res.statusCode));
});
r.on("error", () => console.log(0));
r.end(body);' "$pport" "$1"
}
[ -n "$proxy" ] && call "before" >/dev/null

# one by one, each retried until recorded (a client of a flaky store)
one_by_one() {
	tries=0
	while IFS= read -r line; do
		until printf '%s\n' "$line" | "$airi" record --store "$PG" - 2>>"$1.err"; do
			tries=$((tries + 1))
			[ $tries -lt 300 ] || exit 1
			sleep 0.1
		done
	done
	echo "$tries retries" >"$1.tries"
}
one_by_one w0 <w0.jsonl >w0.out &
p0=$!
one_by_one w1 <w1.jsonl >w1.out &
p1=$!
# a bulk import in batches, from a pipe that delivers 100 lines every
# 50 ms (so that it is still going when the server dies), run again until
# it succeeds (idempotent)
(
	n=0
	until awk 'NR % 100 == 0 { system("sleep 0.05") } { print; fflush() }' w2.jsonl |
		"$airi" record --store "$PG" --jsonl --batch 2 - >w2.out 2>>w2.err; do
		n=$((n + 1))
		[ $n -lt 100 ] || exit 1
		sleep 0.2
	done
) &
p2=$!


# mid-load (some 100 runs in): kill every server process, then start
# it again
i=0
while [ "$(pgq killed "SELECT count(*) FROM runs" 2>/dev/null || echo 0)" -lt 100 ] && [ $i -lt 300 ]; do
	sleep 0.05
	i=$((i + 1))
done
# (the postmaster is stopped first so that it forks nothing more, then
# its processes and itself get SIGKILL: a crash, recovered from the WAL)
pm=$(head -1 "$PGDATA/postmaster.pid")
kill -STOP "$pm"
kids=""
for d in /proc/[0-9]*; do
	[ "$(awk '{print $4}' "$d/stat" 2>/dev/null)" = "$pm" ] && kids="$kids ${d#/proc/}"
done
kill -9 $kids "$pm" 2>/dev/null
echo "killed the server (postmaster $pm and $(echo $kids | wc -w) processes) after $((i * 50)) ms, $(cat w2.out | wc -l) runs imported"
sleep 1
[ -n "$proxy" ] && call "during" >/dev/null
sh "$(dirname "$0")/restart.sh" || fail "the server did not restart"

for p in $p0 $p1 $p2; do
	wait $p || fail "a writer gave up: $(tail -2 w0.err w1.err w2.err)"
done
echo "writers: $(cat w0.tries), $(cat w1.tries); $(grep -c . w0.err w1.err w2.err | tr '\n' ' ')error lines"
# the outage was seen
for w in w0 w1 w2; do
	grep -q "store postgresql:///killed" $w.err && ok || fail "writer $w did not see the outage"
done

# everything acknowledged is there, each once; the log is whole
cat w0.out w1.out w2.out | grep '^sha256:' | sort -u >ids.want
[ "$(wc -l <ids.want)" = 1750 ] && ok || fail "writers acknowledged $(wc -l <ids.want) runs, not 1750"
if [ -n "$proxy" ]; then
	code=$(call "after")
	[ "$code" = 200 ] && ok || fail "the proxy answered $code after the restart"
	kill "$proxy" "$up"
	wait "$proxy" "$up" 2>/dev/null
	# the calls before and after the outage are recorded by the same process
	expect 0 "$airi" log --store "$PG" --model gpt-x
	grep -q 'Reply to "after"' out && ok || fail "the proxy did not reconnect: $(cat proxy.log | tail -3)"
	grep -q 'Reply to "before"' out && ok || fail "the call before the outage is missing"
	grep -v -e 'Reply to "during"' out | sed -n 's/^\([0-9a-f]*\) .*/\1/p' >proxy.ids
	extra=$(wc -l <proxy.ids)
else
	extra=0
fi
expect 0 "$airi" log --store "$PG" --json
sed -n 's/.*"run":"\(sha256:[0-9a-f]*\)".*/\1/p' out | sort >ids.all
comm -23 ids.want ids.all >missing
[ ! -s missing ] && ok || fail "$(wc -l <missing) acknowledged runs are missing"
n=$(wc -l <ids.all)
[ "$n" -ge $((1750 + extra)) ] && [ "$n" -le $((1751 + extra)) ] && ok || fail "$n runs in the store"
got=$(pgq killed "SELECT count(*) = count(DISTINCT run) AND min(idx) = 0 AND max(idx) = count(*) - 1 AND count(*) = $n FROM log_leaves")
[ "$got" = t ] && ok || fail "the log is not 0..$((n - 1)) with each run once"
got=$(pgq killed "SELECT count(*) FROM runs r JOIN log_leaves l ON l.idx = r.log_idx AND l.run = r.id")
[ "$got" = "$n" ] && ok || fail "runs pointing at their own leaf: $got of $n"
expect 0 "$airi" fsck --store "$PG" && contains out ", 0 problems"
finish
