#!/bin/sh
# run.sh — `airi otel export` and `airi proxy --otlp` against a real OTLP receiver.
#
#   sh tests/otel_out/run.sh AIRI_BIN
#
# Starts tests/proxy/fake_upstream.js (the deterministic fake OpenAI/Anthropic API),
# otlp_server.js (@elastic/mockotlpserver, pinned in package-lock.json, printing each trace
# request it decodes as a line of JSON) and `AIRI_BIN proxy --otlp <it>` with a fresh store.
# Then:
#  1. three calls through the proxy (OpenAI chat, OpenAI chat streamed, Anthropic messages),
#     each with a prompt text of its own; the spans must reach the receiver with airi.run.id =
#     the Airi-Run-Id response header, airi.content.* = the section digests of `airi show
#     --json`, and no prompt (or reply) text anywhere in what the receiver printed;
#     /airi/v1/health must count otlp_sent; SIGTERM must stop the proxy with status 0;
#  2. `airi otel export --to` the same runs: the same spans again (checks.js);
#  3. `airi otel export RUN` (stdout) posted to `airi otel receive` must be taken whole and
#     recorded (the shape round-trips); an unknown run must exit 2;
#  4. `airi otel receive --forward <the receiver>`: a JSON and a protobuf request posted to it
#     must reach the receiver with airi.run.id / airi.conditions.id on every GenAI span,
#     equal to the runs recorded from them (forward.js).
# The receiver's HTTP status codes are not trusted: only what it printed counts.
#
# Exit status: 0 all passed, 1 a failure, 77 skipped (node < 20, npm packages not installed,
# no curl). AIRI_OTEL_OUT_KEEP=1 keeps the work folder.
dir=$(cd "$(dirname "$0")" && pwd)

skip() {
  echo "otel_out tests: SKIP — $*"
  exit 77
}
fail() {
  echo "otel_out tests: FAIL — $*"
  failed=1
}

command -v node >/dev/null 2>&1 || skip "node not found (install Node.js 20 or newer, then: cd tests/otel_out && npm ci)"
major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
[ "$major" -ge 20 ] || skip "node $(node --version) is too old: Node.js 20 or newer is needed"
[ -f "$dir/node_modules/@elastic/mockotlpserver/package.json" ] ||
  skip "the npm packages are not installed; install them with: (cd tests/otel_out && npm ci)"
command -v curl >/dev/null 2>&1 || skip "curl not found"
AIRI_BIN=${1:-${AIRI_BIN:-$dir/../../build/airi}}
case $AIRI_BIN in /*) ;; *) AIRI_BIN=$(pwd)/$AIRI_BIN ;; esac
[ -x "$AIRI_BIN" ] || skip "airi binary not found or not executable: $AIRI_BIN"

work=$(mktemp -d "${TMPDIR:-/tmp}/airi-otel-out-test.XXXXXX")
fake_pid=
otlp_pid=
px_pid=
rx_pid=
fw_pid=
failed=0
cleanup() {
  for p in $fw_pid $rx_pid $px_pid $otlp_pid $fake_pid; do
    kill -0 "$p" 2>/dev/null && kill -KILL "$p" 2>/dev/null
  done
  if [ "${AIRI_OTEL_OUT_KEEP:-0}" = 1 ]; then echo "otel_out tests: work folder kept: $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

wait_for_line() { # FILE PATTERN TENTHS
  n=0
  while [ $n -lt "$3" ]; do
    grep -q "$2" "$1" 2>/dev/null && return 0
    n=$((n + 1))
    sleep 0.1
  done
  return 1
}
free_port() {
  node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}
# start_airi NAME READY-LINE-PREFIX ARGS...: starts AIRI_BIN ARGS --listen 127.0.0.1:PORT on a
# free port (three tries), sets PORT and the NAME_pid variable
start_airi() {
  name=$1 ready=$2
  shift 2
  tries=0
  while :; do
    tries=$((tries + 1))
    PORT=$(free_port)
    "$AIRI_BIN" "$@" --listen "127.0.0.1:$PORT" 2>"$work/$name.err" >"$work/$name.out" &
    pid=$!
    ok=0
    n=0
    while [ $n -lt 100 ]; do
      if grep -qx "$ready 127.0.0.1:$PORT" "$work/$name.err"; then ok=1; break; fi
      kill -0 "$pid" 2>/dev/null || break
      n=$((n + 1))
      sleep 0.1
    done
    [ $ok = 1 ] && break
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    if [ $tries -ge 3 ]; then cat "$work/$name.err"; echo "otel_out tests: FAIL — $name did not start"; exit 1; fi
  done
  eval "${name}_pid=$pid"
}

node "$dir/../proxy/fake_upstream.js" 0 >"$work/fake.out" 2>"$work/fake.err" &
fake_pid=$!
wait_for_line "$work/fake.out" "listening " 100 || { cat "$work/fake.err"; echo "otel_out tests: FAIL — fake upstream did not start"; exit 1; }
UPSTREAM=http://127.0.0.1:$(sed -n 's/^listening \([0-9]*\)$/\1/p' "$work/fake.out" | head -n 1)

node "$dir/otlp_server.js" "$work/otlp.url" >"$work/otlp.out" 2>"$work/otlp.err" &
otlp_pid=$!
n=0
while [ ! -s "$work/otlp.url" ] && [ $n -lt 100 ]; do n=$((n + 1)); sleep 0.1; done
[ -s "$work/otlp.url" ] || { cat "$work/otlp.err"; echo "otel_out tests: FAIL — mockotlpserver did not start"; exit 1; }
OTLP=$(cat "$work/otlp.url")

STORE=$work/store.db
export AIRI_BIN STORE
# the proxy gets the base URL: it adds /v1/traces
start_airi px "airi proxy: listening on" proxy --upstream "$UPSTREAM" --store "$STORE" --otlp "$OTLP"
PX=http://127.0.0.1:$PORT

# --- 1. calls through the proxy --------------------------------------------------------
tag=$(node -p 'require("crypto").randomBytes(6).toString("hex")')
: >"$work/calls.txt"
call() { # NAME PATH BODY
  curl -sS -D "$work/$1.hdr" -o "$work/$1.body" -H 'Content-Type: application/json' \
    -H 'Authorization: Bearer sk-otel-out-secret' -H 'x-api-key: sk-otel-out-secret' \
    -H 'anthropic-version: 2023-06-01' --data "$3" "$PX$2" || fail "$1: curl failed"
  run=$(tr -d '\r' <"$work/$1.hdr" | sed -n 's/^[Aa]iri-[Rr]un-[Ii]d: //p' | head -n 1)
  # streams: the identity comes in the last event's airi member (docs/proxy-mapping.md 11.2)
  [ -n "$run" ] || run=$(grep -o '"airi":{[^}]*}' "$work/$1.body" | tail -n 1 |
    sed -n 's/.*"run":"\(sha256:[0-9a-f]*\)".*/\1/p')
  [ -n "$run" ] || { fail "$1: no Airi-Run-Id header or airi member"; cat "$work/$1.hdr"; }
  echo "$1 $run" >>"$work/calls.txt"
}
call chat /v1/chat/completions "{\"model\":\"gpt-4o-mini\",\"temperature\":0.7,\"seed\":7,\"messages\":[{\"role\":\"system\",\"content\":\"sysprompt-$tag-a\"},{\"role\":\"user\",\"content\":\"userprompt-$tag-a\"}]}"
call stream /v1/chat/completions "{\"model\":\"gpt-4o-mini\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"userprompt-$tag-b\"}]}"
call messages /v1/messages "{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":64,\"system\":\"sysprompt-$tag-c\",\"messages\":[{\"role\":\"user\",\"content\":\"userprompt-$tag-c\"}]}"
echo "otel_out tests: 3 calls made through the proxy"

# the batcher sends within about a second
n=0
while [ "$(grep -c 'airi.run.id' "$work/otlp.out")" -lt 1 ] && [ $n -lt 100 ]; do n=$((n + 1)); sleep 0.1; done
sleep 1.5
curl -sS "$PX/airi/v1/health" >"$work/health.json" || fail "health: curl failed"
kill -TERM "$px_pid"
wait "$px_pid"
st=$?
px_pid=
[ $st = 0 ] || fail "the proxy exited with status $st after SIGTERM"
cp "$work/otlp.out" "$work/otlp.proxy.out"

# --- 2. airi otel export --to -------------------------------------------------------------
runs=$(awk '{print $2}' "$work/calls.txt")
# shellcheck disable=SC2086
"$AIRI_BIN" otel export --store "$STORE" --to "$OTLP/v1/traces" $runs >"$work/export.out" 2>"$work/export.err" ||
  { cat "$work/export.err"; fail "otel export --to failed"; }
grep -q "^sent 3 spans to $OTLP/v1/traces: HTTP 200" "$work/export.out" || fail "otel export --to did not report: $(cat "$work/export.out")"
# shellcheck disable=SC2086
"$AIRI_BIN" otel export --store "$STORE" --to "$OTLP/v1/traces" --json $runs >"$work/export.json" 2>&1 ||
  fail "otel export --to --json failed"
n=0
while [ "$(grep -c 'airi.run.id' "$work/otlp.out")" -lt "$(($(grep -c 'airi.run.id' "$work/otlp.proxy.out") + 2))" ] && [ $n -lt 100 ]; do
  n=$((n + 1))
  sleep 0.1
done
# for the checks: each run's identities as `airi show --json` gives them
for r in $runs; do "$AIRI_BIN" show --store "$STORE" --json "$r"; echo; done >"$work/show.jsonl"

node "$dir/checks.js" "$work" "$tag" || fail "checks.js"

# --- 3. export to stdout, into airi otel receive; unknown runs -----------------------------
chat_run=$(sed -n 's/^chat //p' "$work/calls.txt")
"$AIRI_BIN" otel export --store "$STORE" "$chat_run" >"$work/export.stdout" || fail "otel export (stdout) failed"
node -e 'JSON.parse(require("fs").readFileSync(process.argv[1],"utf8"))' "$work/export.stdout" || fail "otel export printed no JSON"
start_airi rx "airi otel: listening on" otel receive --store "$work/rx.db"
code=$(curl -sS -o "$work/rx.body" -w '%{http_code}' -H 'Content-Type: application/json' \
  --data-binary @"$work/export.stdout" "http://127.0.0.1:$PORT/v1/traces")
[ "$code" = 200 ] && [ "$(cat "$work/rx.body")" = "{}" ] ||
  fail "airi otel receive did not take the exported request whole: $code $(cat "$work/rx.body")"
kill -TERM "$rx_pid"
wait "$rx_pid"
rx_pid=
"$AIRI_BIN" log --store "$work/rx.db" --json >"$work/rx.log" || fail "airi log on the received store failed"
node -e '
  const l=JSON.parse(require("fs").readFileSync(process.argv[1],"utf8"));
  if (l.length!==1) { console.error("expected 1 received run, got", l.length); process.exit(1); }
  const s=JSON.stringify(l[0]); if (!s.includes("gpt-4o-mini")) { console.error("model not received:", s); process.exit(1); }
' "$work/rx.log" || fail "the exported span did not become a run with its model"

"$AIRI_BIN" otel export --store "$STORE" sha256:0000000000000000000000000000000000000000000000000000000000000000 \
  >"$work/unknown.out" 2>"$work/unknown.err"
st=$?
[ $st = 2 ] || fail "otel export of an unknown run exited $st, not 2"
[ -s "$work/unknown.err" ] || fail "otel export of an unknown run said nothing"
[ -s "$work/unknown.out" ] && fail "otel export of an unknown run printed something"
"$AIRI_BIN" otel export --store "$STORE" >/dev/null 2>&1
[ $? = 64 ] || fail "otel export without runs is not a usage error"

# --- 4. airi otel receive --forward to the real receiver -----------------------------------
# a JSON and a protobuf request (two GenAI spans and a plain one each) into `airi otel receive
# --forward <mockotlpserver>`; what mockotlpserver printed must hold every span once, the
# GenAI ones with the airi.run.id / airi.conditions.id of the runs recorded from them
node "$dir/forward.js" write "$work" "$tag" || fail "forward.js could not write the requests"
start_airi fw "airi otel: listening on" otel receive --store "$work/fwd.db" --forward "$OTLP/v1/traces"
FW=http://127.0.0.1:$PORT
curl -sS -o /dev/null -H 'Content-Type: application/json' --data-binary @"$work/fwd.json" "$FW/v1/traces" ||
  fail "posting the JSON request to the forwarding receiver failed"
curl -sS -o /dev/null -H 'Content-Type: application/x-protobuf' --data-binary @"$work/fwd.pb" "$FW/v1/traces" ||
  fail "posting the protobuf request to the forwarding receiver failed"
n=0
while [ "$(grep -c "fwd-$tag" "$work/otlp.out")" -lt 2 ] && [ $n -lt 100 ]; do n=$((n + 1)); sleep 0.1; done
curl -sS "$FW/airi/v1/health" >"$work/fw.health" || fail "health of the forwarding receiver failed"
kill -TERM "$fw_pid"
wait "$fw_pid"
st=$?
fw_pid=
[ $st = 0 ] || fail "the forwarding receiver exited with status $st after SIGTERM"
"$AIRI_BIN" log --store "$work/fwd.db" --json >"$work/fwd.log" || fail "airi log on the forwarding receiver's store failed"
for r in $(node -e 'for (const r of JSON.parse(require("fs").readFileSync(process.argv[1],"utf8"))) console.log(r.run)' "$work/fwd.log"); do
  "$AIRI_BIN" show --store "$work/fwd.db" --json "$r"
  echo
done >"$work/fwd.show.jsonl"
node "$dir/forward.js" check "$work" "$tag" || fail "forward.js: the forwarded spans do not match the recorded runs (health: $(cat "$work/fw.health"))"

# no secret anywhere the receiver printed
grep -q 'sk-otel-out-secret' "$work/otlp.out" && fail "the API key reached the OTLP receiver"

if [ $failed = 0 ]; then
  echo "otel_out tests: all passed"
  exit 0
fi
AIRI_OTEL_OUT_KEEP=1
exit 1
