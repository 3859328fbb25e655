#!/bin/sh
# spool.sh - the proxy's outage spool: a proxy on PostgreSQL in front of
# the fake upstream keeps answering while the database is down (every call
# 200 with an identity, the runs spooled on disk), survives a kill -9
# while spooling, and delivers the spooled runs when the database is back:
# every run a client was given is in the store exactly once, in the order
# the calls were acknowledged, fsck is clean. A proxy whose spool is over
# --spool-max answers 503 airi_spool_full.
# Run by run.sh: tests/pg/run.sh spool AIRI
. "$(dirname "$0")/lib.sh"

command -v node >/dev/null 2>&1 || { echo "FAIL: node is needed for the fake upstream"; exit 1; }
PG=$(newdb spooled)
PG2=$(newdb spooled2)
expect 0 "$airi" store migrate --store "$PG"
expect 0 "$airi" store migrate --store "$PG2"

. "$(dirname "$0")/proxylib.sh"
start_upstream



health() {
	node -e '
const http = require("http");
http.get({host: "127.0.0.1", port: process.argv[1], path: "/airi/v1/health"}, (res) => {
	let b = ""; res.on("data", (d) => b += d);
	res.on("end", () => { const s = JSON.parse(b).spool || {}; console.log(s.state + " " + s.runs + " " + s.bytes); });
}).on("error", () => console.log("down"));' "$1"
}

kill_db() {
	pm=$(head -1 "$PGDATA/postmaster.pid")
	kill -STOP "$pm"
	kids=""
	for d in /proc/[0-9]*; do
		[ "$(awk '{print $4}' "$d/stat" 2>/dev/null)" = "$pm" ] && kids="$kids ${d#/proc/}"
	done
	kill -9 $kids "$pm" 2>/dev/null
	i=0
	while kill -0 "$pm" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
}


start_proxy proxy.log "$PWD/spool" "$PG"
p1=$proxy
port1=$pport
# (the proxy needs the store at startup; it may go away afterwards)
start_proxy proxy2.log "$PWD/spool2" "$PG2" --spool-max 1
p2=$proxy
port2=$pport
h=$(health $port1)
[ "$h" = "empty 0 0" ] && ok || fail "health before: $h"
calls $port1 before 5 >a.out
all_ok a.out 5

kill_db
echo "killed the database"
calls $port1 during 10 >b.out
all_ok b.out 10
h=$(health $port1)
case $h in "spooling 10 "*) ok ;; *) fail "health while the database is down: $h" ;; esac
[ "$(grep -c 'spooling' proxy.log)" = 1 ] && ok || fail "not one spooling line: $(cat proxy.log)"
[ -s spool/spool ] && ok || fail "no spool file"
grep -q 'sk-\|Authorization' spool/spool && fail "a secret in the spool" || ok

# a full spool: 503 in the API's error format
calls $port2 full 2 >full.out
kill $p2
wait $p2 2>/dev/null
[ "$(sed -n 1p full.out | cut -c1-3)" = 200 ] && ok || fail "the first call to a spool over its limit: $(cat full.out)"
[ "$(sed -n 2p full.out)" = "503 - airi_spool_full" ] && ok || fail "a spool over its limit: $(cat full.out)"

# kill -9 while spooling: the spool survives, and a new proxy delivers it
# when it starts
kill -9 $p1
wait $p1 2>/dev/null
sh "$(dirname "$0")/restart.sh" || fail "the server did not restart"
echo "restarted the database"
start_proxy proxy3.log "$PWD/spool" "$PG"
p1=$proxy
port1=$pport
contains proxy3.log "the spool holds 10 runs"
# the writer thread delivers it while the proxy starts listening: wait
i=0
while ! grep -q "spool drained" proxy3.log && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
contains proxy3.log "spool drained: 10 spooled runs delivered"
h=$(health $port1)
[ "$h" = "empty 0 0" ] && ok || fail "health after the restart: $h"
[ "$(pgq spooled "SELECT count(*) FROM runs")" = 15 ] && ok || fail "the spool was not delivered at startup"

# a second outage: delivered by the same process when the database is back
kill_db
echo "killed the database again"
calls $port1 again 5 >c.out
all_ok c.out 5
h=$(health $port1)
case $h in "spooling 5 "*) ok ;; *) fail "health in the second outage: $h" ;; esac
sh "$(dirname "$0")/restart.sh" || fail "the server did not restart"
echo "restarted the database"
i=0
while [ "$(health $port1 | cut -d' ' -f1-2)" != "empty 0" ] && [ $i -lt 300 ]; do
	sleep 0.1
	i=$((i + 1))
done
h=$(health $port1)
[ "$h" = "empty 0 0" ] && ok || fail "health after the database is back: $h"
# (health may say so a moment before the line is written)
i=0
while ! grep -q "spool drained: 5" proxy3.log && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
contains proxy3.log "spool drained: 5 spooled runs delivered"
[ "$(grep -c 'spooling' proxy3.log)" = 1 ] && ok || fail "not one spooling line: $(cat proxy3.log)"
calls $port1 after 5 >d.out
all_ok d.out 5
kill $p1
wait $p1 2>/dev/null

# every identity once, in the order acknowledged
cat a.out b.out c.out d.out | sed -n 's/^200 sha256:\([0-9a-f]*\)$/\1/p' >acked
[ "$(sort -u acked | wc -l)" = 25 ] && ok || fail "$(sort -u acked | wc -l) distinct identities, not 25"
pgq spooled "SELECT encode(run, 'hex') FROM log_leaves ORDER BY idx" >logged
cmp -s acked logged && ok || { fail "the log's order is not the order acknowledged"; diff acked logged | head; }
got=$(pgq spooled "SELECT count(*) = count(DISTINCT id) AND count(*) = 25 FROM runs")
[ "$got" = t ] && ok || fail "the runs are not 25 distinct ones"
expect 0 "$airi" log --store "$PG" --json
sed -n 's/.*"run":"sha256:\([0-9a-f]*\)".*/\1/p' out | sort >ids.all
sort acked | cmp -s - ids.all && ok || fail "airi log does not list exactly the acknowledged runs"
expect 0 "$airi" show --store "$PG" "sha256:$(sed -n 8p acked)"
expect 0 "$airi" fsck --store "$PG" && contains out ", 0 problems"
kill $up
wait $up 2>/dev/null
finish
