#!/bin/sh
# run.sh - the library as an application uses it: install the build into a
# temporary prefix, check that libairi.so has a SONAME and exports only
# airi_ symbols, compile examples/instrument.c with `pkg-config --cflags
# --libs airi`, run it, and check its run ID with the installed airi.
# Then compile examples/agent.c (a retrieval + tool-calling agent over HTTP)
# with `pkg-config --cflags --libs airi libcurl`, run it against the fake
# upstream tests/proxy/fake_upstream.js, directly and through the installed
# `airi proxy`, and check what it recorded (that part needs node).
#   sh tests/install/run.sh BUILD_DIR SOURCE_DIR
# AIRI_EXAMPLE_CFLAGS: extra flags for compiling the examples (the sanitizer
# build passes -fsanitize=address,undefined).
build=$1
src=$2
command -v pkg-config >/dev/null 2>&1 || { echo "install: SKIP (no pkg-config)"; exit 77; }
p=$(mktemp -d "${TMPDIR:-/tmp}/airi-install.XXXXXX")
pids=
cleanup() {
	for pid in $pids; do kill "$pid" 2>/dev/null; done
	for pid in $pids; do wait "$pid" 2>/dev/null; done
	rm -rf "$p"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
fail() { echo "install: FAIL - $*"; exit 1; }
cmake --install "$build" --prefix "$p" >/dev/null || fail "cmake --install"
lib=$(ls "$p"/lib*/libairi.so 2>/dev/null | head -1)
[ -n "$lib" ] || fail "no libairi.so installed"
so=$(objdump -p "$lib" 2>/dev/null | awk '/SONAME/ {print $2}')
[ "$so" = "libairi.so.0" ] && echo "ok SONAME $so" || fail "SONAME is '$so'"
bad=$(nm -D --defined-only "$lib" | awk '{print $3}' | grep -v '^airi_' | grep -v '^_' | head -5)
[ -z "$bad" ] && echo "ok only airi_ symbols exported" || fail "also exported: $bad"
[ -f "$p/include/airi.h" ] && echo "ok airi.h installed" || fail "airi.h"
pc=$(dirname "$lib")/pkgconfig
[ -f "$pc/airi.pc" ] || fail "airi.pc"
# shellcheck disable=SC2086
PKG_CONFIG_PATH=$pc cc -Wall -Wextra -Werror ${AIRI_EXAMPLE_CFLAGS:-} -o "$p/instrument" "$src/examples/instrument.c" \
	$(PKG_CONFIG_PATH=$pc pkg-config --cflags --libs airi) || fail "compile with pkg-config"
echo "ok compiled with pkg-config"
id=$(LD_LIBRARY_PATH=$(dirname "$lib") "$p/instrument" "$p/s.db") || fail "instrument failed"
case $id in sha256:*) ;; *) fail "no run ID: $id" ;; esac
man=$("$p/bin/airi" show --manifest --store "$p/s.db" "$id") || fail "the run is not in the store"
again=$(printf '%s' "$man" | "$p/bin/airi" id -)
[ "$again" = "$id" ] && echo "ok the recorded run rebuilds to the same ID" || fail "$again != $id"
"$p/bin/airi" check --store "$p/s.db" "$id" >/dev/null && echo "ok verdict pinned" || fail "not pinned"

# ---- examples/agent.c ------------------------------------------------------
# shellcheck disable=SC2046,SC2086
PKG_CONFIG_PATH=$pc cc -std=c11 -Wall -Wextra -Werror ${AIRI_EXAMPLE_CFLAGS:-} -o "$p/agent" "$src/examples/agent.c" \
	$(PKG_CONFIG_PATH=$pc pkg-config --cflags --libs airi libcurl) || fail "compile agent.c with pkg-config"
echo "ok compiled agent.c with pkg-config (airi libcurl)"
libdir=$(dirname "$lib")
airi=$p/bin/airi
agent() { LD_LIBRARY_PATH=$libdir "$p/agent" "$@"; }
# the documents the agent retrieves from, as JSON Lines, and their state
agent --dump-docs >"$p/docs.jsonl" || fail "agent --dump-docs"
want=$("$airi" digest corpus --json "$p/docs.jsonl" | grep -o '"state_digest":"sha256:[0-9a-f]*"') ||
	fail "airi digest corpus"
if ! command -v node >/dev/null 2>&1; then
	echo "install: agent runs SKIPPED (node not found: it runs tests/proxy/fake_upstream.js)"
	exit 0
fi

# waits up to 10 s for file $1 to have a line starting with $2 (a sed
# pattern) and prints the rest of that line; gives up early when process $3
# (if given) has ended
wait_line() {
	n=0
	while [ $n -lt 100 ]; do
		if grep -q "^$2" "$1" 2>/dev/null; then
			sed -n "s/^$2//p" "$1" | head -1
			return 0
		fi
		[ -z "${3:-}" ] || kill -0 "$3" 2>/dev/null || return 1
		n=$((n + 1))
		sleep 0.1
	done
	return 1
}
node "$src/tests/proxy/fake_upstream.js" 0 >"$p/fake.out" 2>"$p/fake.err" &
pids="$pids $!"
fport=$(wait_line "$p/fake.out" "listening ") || { cat "$p/fake.err"; fail "fake_upstream.js did not start"; }
up=http://127.0.0.1:$fport

ids() { # the identities of recorded run $2 in store $1, as `airi id --json`
	"$airi" show --manifest --store "$1" "$2" | "$airi" id --json - || fail "cannot rebuild $2"
}
member() { # the digest member $2 of identities $1
	printf '%s' "$1" | grep -o "^{.*\"$2\":\"sha256:[0-9a-f]*\"" | sed 's/.*"\(sha256:[0-9a-f]*\)"$/\1/'
}
check_run() { # store, run ID, label: the checks every agent run must pass
	case $2 in sha256:*) ;; *) fail "$3: no run ID: $2" ;; esac
	"$airi" show --store "$1" "$2" >/dev/null || fail "$3: the run is not in the store"
	man=$("$airi" show --manifest --store "$1" "$2")
	again=$(printf '%s' "$man" | "$airi" id -)
	[ "$again" = "$2" ] || fail "$3: the recorded run rebuilds to $again, not $2"
	for step in '"finish_reason":"tool_calls","model":"gpt-4o-mini-2026-01-01","response_id":"chatcmpl-fake-[0-9a-f]*","type":"model_call"' \
		'"arguments":{"city":"Oslo"},"id":"call_fake_weather_1","name":"get_weather","type":"tool_call"' \
		'"id":"call_fake_weather_1","name":"get_weather","result":{[^}]*},"type":"tool_result"' \
		'"finish_reason":"stop","model":"gpt-4o-mini-2026-01-01","response_id":"chatcmpl-fake-[0-9a-f]*","type":"model_call"'; do
		printf '%s' "$man" | grep -q "\"trajectory\":\[.*{$step}" || fail "$3: no trajectory step $step"
	done
	printf '%s' "$man" | grep -q '"fingerprint":"fp_fake","name":"gpt-4o-mini","provider":"openai-compatible","resolved":"gpt-4o-mini-2026-01-01"' ||
		fail "$3: model section"
	printf '%s' "$man" | grep -q '"output":{[^}]*"content":"It is sunny.","refusal":null,"role":"assistant"}' ||
		fail "$3: output"
	got=$(printf '%s' "$man" | grep -o '"state_digest":"sha256:[0-9a-f]*"')
	[ "$got" = "$want" ] || fail "$3: retrieval $got, airi digest corpus says $want"
	"$airi" check --store "$1" "$2" >/dev/null || fail "$3: not pinned"
}

# directly against the fake upstream, twice
id1=$(agent "$up/v1" "$p/agent.db") || fail "agent failed against $up"
check_run "$p/agent.db" "$id1" "agent"
echo "ok agent: recorded, rebuilds to its ID, tool call and result in the trajectory, pinned"
echo "ok agent: retrieval state_digest equals airi digest corpus of --dump-docs"
id2=$(agent "$up/v1" "$p/agent.db") || fail "agent failed against $up (second run)"
check_run "$p/agent.db" "$id2" "agent (second run)"
j1=$(ids "$p/agent.db" "$id1")
j2=$(ids "$p/agent.db" "$id2")
c1=$(member "$j1" conditions)
[ -n "$c1" ] && [ "$c1" = "$(member "$j2" conditions)" ] || fail "the two runs have different conditions IDs"
"$airi" show --json --store "$p/agent.db" "$id2" | grep -q "\"ids\":{\"conditions\":\"$c1\"" ||
	fail "airi show --json does not show conditions $c1"
# the upstream's request ids (meta) differ from call to call: so do the run
# IDs, and nothing else does
[ "$id1" != "$id2" ] || fail "two runs with different request ids have one run ID"
[ "$(member "$j1" meta)" != "$(member "$j2" meta)" ] || fail "the meta of the two runs is equal"
strip() { printf '%s' "$1" | sed 's/"meta":"[^"]*",//; s/"run":"[^"]*",//'; }
[ "$(strip "$j1")" = "$(strip "$j2")" ] || fail "the two runs differ beyond meta: $j1 / $j2"
echo "ok agent twice: same conditions ID, run IDs differ by meta (request ids) only"

# through airi proxy: the proxy records each model call as its own run
tries=0
while :; do
	tries=$((tries + 1))
	pport=$(node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
	: >"$p/proxy.err"
	"$airi" proxy --listen "127.0.0.1:$pport" --upstream "$up" --store "$p/proxy.db" 2>"$p/proxy.err" &
	proxy=$!
	pids="$pids $proxy"
	wait_line "$p/proxy.err" "airi proxy: listening on 127\.0\.0\.1:$pport\$" "$proxy" >/dev/null && break
	kill "$proxy" 2>/dev/null
	[ $tries -lt 3 ] || { cat "$p/proxy.err"; fail "airi proxy did not start"; }
done
id3=$(agent "http://127.0.0.1:$pport/v1" "$p/agent.db") || fail "agent failed through the proxy"
check_run "$p/agent.db" "$id3" "agent through the proxy"
j3=$(ids "$p/agent.db" "$id3")
[ "$(member "$j3" conditions)" = "$c1" ] || fail "through the proxy the conditions ID changed"
[ "$(member "$j3" trajectory)" = "$(member "$j1" trajectory)" ] || fail "through the proxy the trajectory changed"
n=$("$airi" log --store "$p/proxy.db" | wc -l)
[ "$n" -eq 2 ] || fail "the proxy's store has $n runs, not 2"
for r in $("$airi" show --manifest --store "$p/agent.db" "$id3" | grep -o '"proxy_runs":\[[^]]*\]' | grep -o 'sha256:[0-9a-f]*'); do
	"$airi" show --store "$p/proxy.db" "$r" >/dev/null || fail "proxy run $r (in the agent's meta) is not in the proxy's store"
	n=$((n - 1))
done
[ "$n" -eq 0 ] || fail "the agent's meta does not name the proxy's 2 runs"
echo "ok agent through airi proxy: same conditions and trajectory, the proxy recorded its 2 calls (named in the agent's meta)"
kill -TERM "$proxy"
wait "$proxy" || fail "the proxy exited with status $? on SIGTERM"

# failures: a clear message, status 1, nothing recorded
before=$("$airi" log --store "$p/agent.db" | wc -l)
agent "$up" "$p/agent.db" >"$p/out" 2>"$p/err"
rc=$?
[ $rc -eq 1 ] && grep -q 'HTTP status 404' "$p/err" && [ ! -s "$p/out" ] ||
	fail "agent on a 404: status $rc, stderr: $(cat "$p/err")"
node -e 'require("http").createServer((q,r)=>{q.resume();q.on("end",()=>{r.writeHead(200,{"content-type":"application/json"});r.end("{\"choices\":[")})}).listen(0,"127.0.0.1",function(){console.log("listening "+this.address().port)})' >"$p/bad.out" &
pids="$pids $!"
bport=$(wait_line "$p/bad.out" "listening ") || fail "the malformed server did not start"
agent "http://127.0.0.1:$bport/v1" "$p/agent.db" >"$p/out" 2>"$p/err"
rc=$?
[ $rc -eq 1 ] && grep -q 'malformed reply' "$p/err" && [ ! -s "$p/out" ] ||
	fail "agent on a malformed reply: status $rc, stderr: $(cat "$p/err")"
[ "$("$airi" log --store "$p/agent.db" | wc -l)" -eq "$before" ] || fail "a failed agent run was recorded"
echo "ok agent failures: HTTP 404 and a malformed reply exit 1 with a message, record nothing"
