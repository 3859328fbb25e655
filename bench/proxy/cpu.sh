#!/bin/bash
# cpu.sh AIRI [AIRI...]: CPU time airi proxy spends per recorded call, for each binary given,
# against the canned nginx upstream of run.sh (store on tmpfs; wrk -t1 -c16 -d5s). CPU per call
# is far less sensitive to a busy machine than throughput: compare builds with it. "loop" is the
# event loop thread's share (the main thread: HTTP, libcurl, replies); the rest is the writer
# thread's (manifests, the store). ROUNDS=N repeats the whole list N times (default 1), for A/B
# runs on a noisy machine. AIRI_ARGS adds proxy options (e.g. AIRI_ARGS=--journal: a journal
# on tmpfs beside the store; then "store" is the writer thread alone, which only records runs in
# the store, and "journal" the threads that build, hash and journal them). The name "nginx"
# in the list measures nginx proxy_pass (nginx-proxy.conf, its one worker) the same way: the
# CPU budget a proxy has per call.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
W=$(mktemp -d /tmp/airi-cpu.XXXXXX)
mkdir -p "$W/tmp"
UP=19431 PORT=19432
c=$(<"$HERE/nginx-upstream.conf"); r=$(<"$HERE/reply.json"); r=${r//REQUEST_ID/\$request_id}
c=${c//@REPLY@/$r}; c=${c//@DIR@/$W}; c=${c//@PORT@/$UP}
if [ "$(id -u)" = 0 ]; then c=${c//@USER@/user nobody nogroup;}; else c=${c//@USER@/}; fi
printf '%s\n' "$c" >"$W/up.conf"
nginx -p "$W" -c "$W/up.conf" -e "$W/e.log" -g 'daemon off;' &
NGX=$!
trap 'kill $NGX 2>/dev/null; rm -rf "$W" /dev/shm/airi-cpu.db* /dev/shm/airi-cpu.journal' EXIT
sleep 0.5
export BODY_FILE=$HERE/request.json
tck=$(getconf CLK_TCK)
for round in $(seq "${ROUNDS:-1}"); do
for BIN in "$@"; do
	if [ "$BIN" = nginx ]; then
		c=$(<"$HERE/nginx-proxy.conf"); c=${c//@DIR@/$W}; c=${c//@PORT@/$PORT}; c=${c//@UPPORT@/$UP}
		if [ "$(id -u)" = 0 ]; then c=${c//@USER@/user nobody nogroup;}; else c=${c//@USER@/}; fi
		printf '%s\n' "$c" >"$W/px.conf"
		nginx -p "$W" -c "$W/px.conf" -e "$W/px.log" -g 'daemon off;' &
		NP=$!; sleep 0.5
		WK=$(pgrep -P $NP | head -1)
		t0=$(awk '{print $14+$15}' /proc/$WK/stat)
		wrk -t1 -c16 -d5s -s "$HERE/post.lua" http://127.0.0.1:$PORT/v1/chat/completions >"$W/wrk.txt" 2>&1
		t1=$(awk '{print $14+$15}' /proc/$WK/stat)
		calls=$(awk '/requests in/{print $1}' "$W/wrk.txt")
		kill $NP; wait $NP 2>/dev/null || true
		echo "nginx proxy_pass: $calls calls, $(( (t1 - t0) * 1000000 / tck / calls )) us CPU per call (its one worker), $(grep -o 'rps=[0-9]*' "$W/wrk.txt")"
		continue
	fi
	rm -f /dev/shm/airi-cpu.db* /dev/shm/airi-cpu.journal
	args=()
	[ "${AIRI_ARGS:-}" = --journal ] && args=(--journal /dev/shm/airi-cpu.journal)
	"$BIN" proxy --listen 127.0.0.1:$PORT --upstream http://127.0.0.1:$UP --store /dev/shm/airi-cpu.db "${args[@]}" 2>/dev/null &
	P=$!; sleep 0.5
	snap() { for t in /proc/$P/task/*; do echo "$(basename "$t") $(awk '{print $19, $14+$15}' "$t/stat")"; done | sort; }
	snap >"$W/thr0"
	t0=$(awk '{print $14+$15}' /proc/$P/stat)
	l0=$(awk '{print $14+$15}' /proc/$P/task/$P/stat)
	wrk -t1 -c16 -d5s -s "$HERE/post.lua" http://127.0.0.1:$PORT/v1/chat/completions >"$W/wrk.txt" 2>&1
	t1=$(awk '{print $14+$15}' /proc/$P/stat)
	l1=$(awk '{print $14+$15}' /proc/$P/task/$P/stat)
	snap >"$W/thr1"
	calls=$(curl -s http://127.0.0.1:$PORT/airi/v1/health | grep -o '"recorded":[0-9]*' | cut -d: -f2)
	kill $P; wait $P 2>/dev/null || true
	split=
	if [ ${#args[@]} -gt 0 ]; then
		# the writer runs at nice 10 with a journal; the others but the loop journal
		split=$(join "$W/thr0" "$W/thr1" | awk -v p=$P -v n="$calls" -v tck="$tck" '
			$1 != p { d = ($5 - $3) * 1000000 / tck / n; if ($4 == 10) st += d; else jr += d }
			END { printf ", store %d, journal %d", st, jr }')
	fi
	echo "$BIN${args[*]:+ ${args[*]%% *}}: $calls calls recorded, $(( (t1 - t0) * 1000000 / tck / calls )) us CPU per call (loop $(( (l1 - l0) * 1000000 / tck / calls ))$split), $(grep -o 'rps=[0-9]*' "$W/wrk.txt")"
done
done
