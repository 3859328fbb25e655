#!/bin/sh
# startdown.sh - a proxy started while its PostgreSQL store is down: it
# serves anyway (every call 200 with an identity, the runs spooled on
# disk), health says it is reconnecting, lookups answer 503 in a JSON
# error body; when the database comes up the proxy creates the store,
# delivers the spool and records directly again. A proxy killed with
# kill -9 while spooling, before the database was ever up, is restarted
# (still without the database), spools behind what is there, and delivers
# all of it once the database is back. Afterwards every identity a client
# received is in the store exactly once, in the order acknowledged, and
# fsck is clean. The proxy's OTLP receiver (--otel-listen) answers 503,
# OTLP's retryable status, until the store is there, then records. Configuration
# errors (a SQLite store that cannot be opened, a malformed PostgreSQL
# location) still stop the proxy at start.
# Run by run.sh: tests/pg/run.sh startdown AIRI
. "$(dirname "$0")/lib.sh"

command -v node >/dev/null 2>&1 || { echo "FAIL: node is needed for the fake upstream"; exit 1; }
# an empty database: the proxy creates the store when it first connects
PG=$(newdb startdown)

. "$(dirname "$0")/as_server.sh"
. "$(dirname "$0")/proxylib.sh"
stop_db() {
	as_server "$PGBIN/pg_ctl" -D "$PGDATA" -m fast -w stop >/dev/null 2>&1 ||
		fail "the server did not stop"
	echo "stopped the database"
}
start_db() {
	sh "$(dirname "$0")/restart.sh" || fail "the server did not restart"
	echo "started the database"
}

PORT_BASE=47000 PROXY_OTEL=1
start_upstream



# health PORT: "SPOOLSTATE RUNS STORESTATE"
health() {
	node -e '
const http = require("http");
http.get({host: "127.0.0.1", port: process.argv[1], path: "/airi/v1/health"}, (res) => {
	let b = ""; res.on("data", (d) => b += d);
	res.on("end", () => { const h = JSON.parse(b), s = h.spool || {}, st = h.store || {};
		console.log(s.state + " " + s.runs + " " + st.state); });
}).on("error", () => console.log("down"));' "$1"
}

# health_error PORT: the store's last error in health, or "-"
health_error() {
	node -e '
const http = require("http");
http.get({host: "127.0.0.1", port: process.argv[1], path: "/airi/v1/health"}, (res) => {
	let b = ""; res.on("data", (d) => b += d);
	res.on("end", () => console.log((JSON.parse(b).store || {}).error || "-"));
}).on("error", () => console.log("down"));' "$1"
}

# lookup PORT ID: "STATUS" and, for an error, its type and whether the
# body is JSON
lookup() {
	node -e '
const http = require("http");
http.get({host: "127.0.0.1", port: process.argv[1], path: "/airi/v1/runs/" + process.argv[2]}, (res) => {
	let b = ""; res.on("data", (d) => b += d);
	res.on("end", () => { let t = "";
		try { const j = JSON.parse(b); if (j.error) t = " " + j.error.type; } catch (e) { t = " not-json"; }
		console.log(res.statusCode + t); });
}).on("error", () => console.log("down"));' "$1" "$2"
}

# wait_health PORT PREFIX: until health starts with PREFIX (30 s at most)
wait_health() {
	i=0
	while :; do
		case $(health "$1") in "$2"*) return 0 ;; esac
		[ $i -lt 300 ] || return 1
		sleep 0.1
		i=$((i + 1))
	done
}



stop_db

# -- configuration errors stop the proxy at start, whatever the database
: >afile
expect 2 timeout 30 "$airi" proxy --upstream "http://127.0.0.1:$uport" --listen 127.0.0.1:1 \
	--store "$PWD/afile/airi.db" --spool "$PWD/sp0"
contains err "airi: "
expect 2 timeout 30 "$airi" proxy --upstream "http://127.0.0.1:$uport" --listen 127.0.0.1:1 \
	--store "postgresql://%zz/x" --spool "$PWD/sp0"
contains err "invalid PostgreSQL location"
expect 2 timeout 30 "$airi" proxy --upstream "http://127.0.0.1:$uport" --listen 127.0.0.1:1 \
	--store "$PG&sslmode=bogus" --spool "$PWD/sp0"
contains err "invalid sslmode"
# one OTLP/JSON chat span; otlp PORT: the HTTP status of sending it
cat >span.json <<'EOF2'
{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"startdown"}}]},"scopeSpans":[{"scope":{"name":"t"},"spans":[{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","name":"chat otel-startdown","kind":3,"startTimeUnixNano":"1767225600000000000","endTimeUnixNano":"1767225601000000000","attributes":[{"key":"gen_ai.operation.name","value":{"stringValue":"chat"}},{"key":"gen_ai.provider.name","value":{"stringValue":"openai"}},{"key":"gen_ai.request.model","value":{"stringValue":"otel-startdown"}}]}]}]}]}
EOF2
otlp() {
	curl -s -o otlp.out -w '%{http_code}' -H 'content-type: application/json' \
		--data-binary @span.json "http://127.0.0.1:$1/v1/traces"
}

# -- started with the database down
start_proxy p1.log "$PWD/spool" "$PG"
p1=$proxy
port1=$pport
contains p1.log "store unreachable (.*cannot connect.*): serving anyway, spooling runs and reconnecting"
h=$(health $port1)
[ "$h" = "spooling 0 reconnecting" ] && ok || fail "health at start: $h"
calls $port1 down 8 >a.out
all_ok a.out 8
h=$(health $port1)
[ "$h" = "spooling 8 reconnecting" ] && ok || fail "health with 8 runs spooled: $h"
case $(health_error $port1) in *"cannot connect"*) ok ;; *) fail "no reason in health: $(health_error $port1)" ;; esac
first=$(sed -n '1s/^200 //p' a.out)
[ "$(lookup $port1 "$first")" = "503 airi_store_unavailable" ] && ok ||
	fail "a lookup while the store is down: $(lookup $port1 "$first")"
[ "$(otlp $oport)" = 503 ] && ok || fail "OTLP while the store is down: $(cat otlp.out)"
otel1=$oport
[ -s spool/spool ] && ok || fail "no spool file"
grep -q 'sk-secret\|Bearer' spool/spool && fail "a secret in the spool" || ok

start_db
wait_health $port1 "empty 0 ok" && ok || fail "health after the database came up: $(health $port1)"
wait_log p1.log "store connected"
wait_log p1.log "spool drained: 8 spooled runs delivered"
[ "$(otlp $otel1)" = 200 ] && ok || fail "OTLP once the store is there: $(cat otlp.out)"
contains p1.log "OTLP receiver: store connected"
[ "$(health_error $port1)" = - ] && ok || fail "an error in health after delivery: $(health_error $port1)"
[ "$(lookup $port1 "$first")" = 200 ] && ok || fail "a lookup after delivery: $(lookup $port1 "$first")"
calls $port1 up 4 >b.out
all_ok b.out 4
[ "$(pgq startdown "SELECT count(*) FROM runs WHERE model IS DISTINCT FROM 'otel-startdown'")" = 12 ] && ok || fail "not 12 runs after delivery"
kill $p1
wait $p1 2>/dev/null

# -- kill -9 while spooling, the database never up in between
stop_db
start_proxy p2.log "$PWD/spool" "$PG"
p2=$proxy
calls $pport killed 5 >c.out
all_ok c.out 5
kill -9 $p2
wait $p2 2>/dev/null
start_proxy p3.log "$PWD/spool" "$PG"
p3=$proxy
port3=$pport
wait_log p3.log "the spool holds 5 runs: delivering them when the store is reachable"
calls $port3 again 3 >d.out
all_ok d.out 3
h=$(health $port3)
[ "$h" = "spooling 8 reconnecting" ] && ok || fail "health after the restart: $h"
start_db
wait_health $port3 "empty 0 ok" && ok || fail "health after the database came up again: $(health $port3)"
wait_log p3.log "spool drained: 8 spooled runs delivered"
calls $port3 after 2 >e.out
all_ok e.out 2
kill $p3
wait $p3 2>/dev/null

# -- every identity once, in the order acknowledged
cat a.out b.out c.out d.out e.out | sed -n 's/^200 sha256:\([0-9a-f]*\)$/\1/p' >acked
[ "$(sort -u acked | wc -l)" = 22 ] && ok || fail "$(sort -u acked | wc -l) distinct identities, not 22"
# (and the one run of the OTLP span, from the proxy's receiver)
otelrun=$(pgq startdown "SELECT encode(id, 'hex') FROM runs WHERE model = 'otel-startdown'")
[ -n "$otelrun" ] && ok || fail "the OTLP span's run is not in the store"
pgq startdown "SELECT encode(run, 'hex') FROM log_leaves ORDER BY idx" | grep -v "^$otelrun\$" >logged
cmp -s acked logged && ok || { fail "the log's order is not the order acknowledged"; diff acked logged | head; }
got=$(pgq startdown "SELECT count(*) = count(DISTINCT id) AND count(*) = 23 FROM runs")
[ "$got" = t ] && ok || fail "the runs are not 22 + 1 distinct ones"
expect 0 "$airi" log --store "$PG" --json
sed -n 's/.*"run":"sha256:\([0-9a-f]*\)".*/\1/p' out | grep -v "^$otelrun\$" | sort >ids.all
sort acked | cmp -s - ids.all && ok || fail "airi log does not list exactly the acknowledged runs"
expect 0 "$airi" fsck --store "$PG" && contains out ", 0 problems"
kill $up
wait $up 2>/dev/null
finish
