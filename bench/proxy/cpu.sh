#!/bin/bash
# cpu.sh AIRI [AIRI...]: CPU time airi proxy spends per recorded call, for each binary given,
# against the canned nginx upstream of run.sh (store on tmpfs; wrk -t1 -c16 -d5s). CPU per call
# is far less sensitive to a busy machine than throughput: compare builds with it. "loop" is the
# event loop thread's share (the main thread: HTTP, libcurl, replies); the rest is the writer
# thread's (manifests, the store). ROUNDS=N repeats the whole list N times (default 1), for A/B
# runs on a noisy machine.
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
trap 'kill $NGX 2>/dev/null; rm -rf "$W" /dev/shm/airi-cpu.db*' EXIT
sleep 0.5
export BODY_FILE=$HERE/request.json
tck=$(getconf CLK_TCK)
for round in $(seq "${ROUNDS:-1}"); do
for BIN in "$@"; do
	rm -f /dev/shm/airi-cpu.db*
	"$BIN" proxy --listen 127.0.0.1:$PORT --upstream http://127.0.0.1:$UP --store /dev/shm/airi-cpu.db 2>/dev/null &
	P=$!; sleep 0.5
	t0=$(awk '{print $14+$15}' /proc/$P/stat)
	l0=$(awk '{print $14+$15}' /proc/$P/task/$P/stat)
	wrk -t1 -c16 -d5s -s "$HERE/post.lua" http://127.0.0.1:$PORT/v1/chat/completions >"$W/wrk.txt" 2>&1
	t1=$(awk '{print $14+$15}' /proc/$P/stat)
	l1=$(awk '{print $14+$15}' /proc/$P/task/$P/stat)
	calls=$(curl -s http://127.0.0.1:$PORT/airi/v1/health | grep -o '"recorded":[0-9]*' | cut -d: -f2)
	kill $P; wait $P 2>/dev/null || true
	echo "$BIN: $calls calls recorded, $(( (t1 - t0) * 1000000 / tck / calls )) us CPU per call (loop $(( (l1 - l0) * 1000000 / tck / calls ))), $(grep -o 'rps=[0-9]*' "$W/wrk.txt")"
done
done
