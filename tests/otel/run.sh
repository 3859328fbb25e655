#!/bin/sh
# run.sh — end-to-end tests of `airi otel receive` with real instrumented clients.
#
#   sh tests/otel/run.sh AIRI_BIN
#
# Starts tests/proxy/fake_upstream.js (the deterministic fake OpenAI API), sink.js (a
# stand-in OTLP endpoint) and `AIRI_BIN otel receive --forward <sink>` with a fresh store.
# Then:
#  1. client.js — the `openai` SDK instrumented with @traceloop/instrumentation-openai or
#     @arizeai/openinference-instrumentation-openai, exporting with the official OTLP
#     exporters (@opentelemetry/exporter-trace-otlp-http: JSON; -proto: protobuf), gzip or
#     not, content capture on or off — six combinations, each a plain call and an agent run;
#  2. checks.test.js (node's test runner) reads the store back with airi log/show/check and
#     the forwarded batches;
#  3. hostile.js writes bad and extreme requests (truncated protobuf, wrong JSON types, huge
#     attribute values, 10,000 spans, cyclic parent links, a gzip bomb, ...); each is sent
#     with curl and must get its OTLP status, and the receiver must stay up;
#  4. SIGTERM must stop the receiver with exit status 0, and no store file may contain the
#     exporter's Authorization header value; the sink must have received the receiver's
#     --forward-header lines (and not the client's Authorization), and no store file or
#     output may hold them;
#  5. `airi proxy --otel-listen`: a client whose calls go through the proxy and whose spans
#     go to the proxy's receiver port; both kinds of run must be in the proxy's store.
#
# Exit status: 0 all passed, 1 a failure, 77 skipped (node < 20, npm packages not installed,
# no curl, or the binary has no `otel` command). AIRI_OTEL_KEEP=1 keeps the work folder.
dir=$(cd "$(dirname "$0")" && pwd)

skip() {
  echo "otel tests: SKIP — $*"
  exit 77
}
fail() {
  echo "otel tests: FAIL — $*"
  failed=1
}

command -v node >/dev/null 2>&1 || skip "node not found (install Node.js 20 or newer, then: cd tests/otel && npm ci)"
major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
[ "$major" -ge 20 ] || skip "node $(node --version) is too old: Node.js 20 or newer is needed"
[ -f "$dir/node_modules/openai/package.json" ] &&
  [ -f "$dir/node_modules/@traceloop/instrumentation-openai/package.json" ] &&
  [ -f "$dir/node_modules/@opentelemetry/exporter-trace-otlp-proto/package.json" ] ||
  skip "the npm packages are not installed; install them with: (cd tests/otel && npm ci)"
command -v curl >/dev/null 2>&1 || skip "curl not found"
AIRI_BIN=${1:-${AIRI_BIN:-$dir/../../build/airi}}
case $AIRI_BIN in /*) ;; *) AIRI_BIN=$(pwd)/$AIRI_BIN ;; esac
[ -x "$AIRI_BIN" ] || skip "airi binary not found or not executable: $AIRI_BIN"
"$AIRI_BIN" otel --help >/dev/null 2>&1 || skip "$AIRI_BIN has no 'otel' command"

work=$(mktemp -d "${TMPDIR:-/tmp}/airi-otel-test.XXXXXX")
fake_pid=
sink_pid=
rx_pid=
failed=0
cleanup() {
  for p in $rx_pid $sink_pid $fake_pid; do
    kill -0 "$p" 2>/dev/null && kill -KILL "$p" 2>/dev/null
  done
  if [ "${AIRI_OTEL_KEEP:-0}" = 1 ]; then echo "otel tests: work folder kept: $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# waits up to $3 tenths of a second for file $1 to contain the fixed string $2
wait_for_line() {
  n=0
  while [ $n -lt "$3" ]; do
    grep -qF "$2" "$1" 2>/dev/null && return 0
    n=$((n + 1))
    sleep 0.1
  done
  return 1
}
free_port() {
  node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

node "$dir/../proxy/fake_upstream.js" 0 >"$work/fake.out" 2>"$work/fake.err" &
fake_pid=$!
wait_for_line "$work/fake.out" "listening " 100 || { cat "$work/fake.err"; echo "otel tests: FAIL — fake upstream did not start"; exit 1; }
UPSTREAM=http://127.0.0.1:$(sed -n 's/^listening \([0-9]*\)$/\1/p' "$work/fake.out" | head -n 1)

mkdir "$work/sink"
node "$dir/sink.js" "$work/sink" "$work/sink.headers" >"$work/sink.out" 2>"$work/sink.err" &
sink_pid=$!
wait_for_line "$work/sink.out" "listening " 100 || { cat "$work/sink.err"; echo "otel tests: FAIL — sink did not start"; exit 1; }
SINK=http://127.0.0.1:$(sed -n 's/^listening \([0-9]*\)$/\1/p' "$work/sink.out" | head -n 1)/v1/traces

AIRI_STORE=$work/store.db
export AIRI_BIN AIRI_STORE
tries=0
while :; do
  tries=$((tries + 1))
  port=$(free_port)
  # --forward-header: two lines, a credential for the next hop among them
  "$AIRI_BIN" otel receive --listen "127.0.0.1:$port" --store "$AIRI_STORE" --forward "$SINK" \
    --forward-header "Authorization: Bearer fwd-secret-NEXT
X-Scope-OrgID: tenant-7" --group-idle 5 2>"$work/rx.err" >"$work/rx.out" &
  rx_pid=$!
  ready=0
  n=0
  while [ $n -lt 100 ]; do
    if grep -qx "airi otel: listening on 127.0.0.1:$port" "$work/rx.err"; then ready=1; break; fi
    kill -0 "$rx_pid" 2>/dev/null || break
    n=$((n + 1))
    sleep 0.1
  done
  [ $ready = 1 ] && break
  kill -KILL "$rx_pid" 2>/dev/null
  wait "$rx_pid" 2>/dev/null
  rx_pid=
  if [ $tries -ge 3 ]; then cat "$work/rx.err"; echo "otel tests: FAIL — the receiver did not start"; exit 1; fi
done
RX=http://127.0.0.1:$port

# --- 1. instrumented clients -------------------------------------------------------------
: >"$work/clients.jsonl"
n=0
for combo in "traceloop json content" "traceloop proto content gzip" "traceloop json nocontent" \
  "openinference proto content" "openinference json content gzip" "openinference proto nocontent"; do
  set -- $combo
  n=$((n + 1))
  extra=
  [ "$3" = nocontent ] && extra="--no-content"
  [ "${4:-}" = gzip ] && extra="$extra --gzip"
  if out=$(node "$dir/client.js" --instr "$1" --exporter "$2" --endpoint "$RX" --upstream "$UPSTREAM" \
    --tag "c$n-$1-$2-$3" $extra 2>"$work/client$n.err"); then
    echo "$out" | node -e '
      let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const o=JSON.parse(s);
      o.instr=process.argv[1];o.exporter=process.argv[2];o.content=process.argv[3]==="content";
      o.gzip=process.argv[4]==="gzip";console.log(JSON.stringify(o))})' "$1" "$2" "$3" "${4:-}" >>"$work/clients.jsonl"
    echo "otel tests: client $n ($combo) exported"
  else
    cat "$work/client$n.err"
    fail "client $n ($combo) failed"
  fi
done

# --- 2. what is in the store ---------------------------------------------------------------
# the forwarder sends after each commit: wait until every request so far (all accepted) has
# been passed on and saved
n=0
while [ $n -lt 100 ]; do
  h=$(curl -sS "$RX/airi/v1/health" | node -pe 'const h=JSON.parse(require("fs").readFileSync(0)); h.forwarded + " " + h.requests')
  fwd=${h% *}
  [ "$fwd" = "${h#* }" ] && [ "$(ls "$work/sink" | grep -vc tmp)" -ge "$fwd" ] && break
  n=$((n + 1))
  sleep 0.1
done
OTEL_CLIENTS=$work/clients.jsonl OTEL_SINK=$work/sink \
  node --test --test-reporter=spec "$dir/checks.test.js" || fail "checks.test.js failed"

# --- 3. hostile input ------------------------------------------------------------------------
mkdir "$work/hostile"
node "$dir/hostile.js" "$work/hostile" || fail "hostile.js could not write the requests"
hostile=0
while IFS="$(printf '\t')" read -r file ct enc method path status expect; do
  set -- -sS -o "$work/resp" -w '%{http_code} %{content_type}' -X "$method"
  [ "$ct" != - ] && set -- "$@" -H "Content-Type: $ct"
  [ "$ct" = - ] && set -- "$@" -H "Content-Type:"
  [ "$enc" != - ] && set -- "$@" -H "Content-Encoding: $enc"
  [ "$method" = POST ] && set -- "$@" --data-binary "@$work/hostile/$file"
  got=$(curl "$@" -H 'Authorization: Bearer otel-secret-TEST' "$RX$path" 2>"$work/curl.err")
  code=${got%% *}
  hostile=$((hostile + 1))
  if [ "$code" != "$status" ]; then
    fail "$file: HTTP $code, expected $status ($(head -c 300 "$work/resp"))"
  elif [ "$expect" != - ] && ! grep -qF -- "$expect" "$work/resp"; then
    fail "$file: the body does not say \"$expect\": $(head -c 300 "$work/resp")"
  fi
  # the error body is in the request's encoding (a google.rpc.Status)
  case "$ct:$code" in
    application/json:4*) node -e 'const s=JSON.parse(require("fs").readFileSync(process.argv[1]));
      if (typeof s.message!=="string"||typeof s.code!=="number") process.exit(1)' "$work/resp" ||
      fail "$file: the $code body is not a JSON Status" ;;
    application/x-protobuf:400) case "$got" in *application/x-protobuf*) ;; *) fail "$file: a protobuf 400 must be application/x-protobuf: $got" ;; esac ;;
  esac
  kill -0 "$rx_pid" 2>/dev/null || { fail "the receiver died on $file"; break; }
done <"$work/hostile/cases.tsv"
echo "otel tests: $hostile hostile requests sent"
health=$(curl -sS "$RX/airi/v1/health") || fail "health check after the hostile requests failed"
echo "otel tests: health $health"
# the 10,000-span batches and the huge attribute were recorded
for m in hostile-many-pb-3 hostile-many-json-2 hostile-huge hostile-numbers hostile-cycle-ok hostile-gzip; do
  [ -n "$("$AIRI_BIN" log --store "$AIRI_STORE" --model "$m" --limit 1)" ] || fail "no run for model $m"
done
nmany=$("$AIRI_BIN" log --store "$AIRI_STORE" --json | grep -c '"model":"hostile-many-')
[ "$nmany" = 20000 ] || fail "expected 20000 runs from the 10,000-span batches, got $nmany"
[ -z "$("$AIRI_BIN" log --store "$AIRI_STORE" --model hostile-cycle --limit 1)" ] || fail "a span on a cycle was recorded"

# --- 4. shutdown, secrets ----------------------------------------------------------------------
kill -TERM "$rx_pid"
n=0
while kill -0 "$rx_pid" 2>/dev/null && [ $n -lt 100 ]; do n=$((n + 1)); sleep 0.1; done
if kill -0 "$rx_pid" 2>/dev/null; then
  fail "the receiver did not exit within 10 s of SIGTERM"
else
  wait "$rx_pid"
  rc=$?
  [ $rc = 0 ] || fail "the receiver exited with status $rc after SIGTERM"
  rx_pid=
fi
grep -q "airi otel: stopped after" "$work/rx.err" || fail "no final summary line on stderr"
for f in "$work"/store.db*; do
  [ -f "$f" ] || continue
  if grep -q "otel-secret-TEST" "$f"; then fail "$(basename "$f") contains the Authorization header value"; fi
  if grep -q "fwd-secret-NEXT" "$f"; then fail "$(basename "$f") contains the --forward-header value"; fi
done
# --forward-header: every forwarded request carried both lines, the client's own
# Authorization never; the value is printed nowhere
nh=$(wc -l <"$work/sink.headers")
[ "$nh" -ge 1 ] || fail "the sink saw no forwarded request"
ng=$(grep -c '"authorization":"Bearer fwd-secret-NEXT","scope":"tenant-7"' "$work/sink.headers")
[ "$ng" = "$nh" ] || fail "only $ng of $nh forwarded requests carried the --forward-header lines: $(head -n 3 "$work/sink.headers")"
grep -q "otel-secret-TEST" "$work/sink.headers" && fail "the client's Authorization was forwarded"
grep -q "fwd-secret-NEXT" "$work/rx.err" "$work/rx.out" && fail "the --forward-header value was printed"
# bad --forward-header values are usage errors that do not print the value
"$AIRI_BIN" otel receive --store "$work/bad.db" --forward "$SINK" --forward-header "Authorization Bearer fwd-secret-BAD" \
  >"$work/badh.out" 2>"$work/badh.err"
st=$?
[ $st = 64 ] || fail "a --forward-header line without a colon exited $st, not 64"
grep -q "fwd-secret-BAD" "$work/badh.err" "$work/badh.out" && fail "a bad --forward-header value was printed"
"$AIRI_BIN" otel receive --store "$work/bad.db" --forward "$SINK" --forward-header "$(printf 'X-Ok: 1\nContent-Type: text/plain')" \
  >/dev/null 2>"$work/badh.err"
st=$?
[ $st = 64 ] || fail "a --forward-header Content-Type exited $st, not 64"
"$AIRI_BIN" otel receive --store "$work/bad.db" --forward-header "X-Ok: 1" >/dev/null 2>"$work/badh.err"
st=$?
[ $st = 64 ] || fail "--forward-header without --forward exited $st, not 64"
"$AIRI_BIN" fsck --store "$AIRI_STORE" >/dev/null || fail "airi fsck found problems in the store"

# --- 5. the receiver inside the proxy: airi proxy --otel-listen ------------------------------
# An instrumented client whose model calls go through `airi proxy` and whose spans go to the
# proxy's --otel-listen port: both kinds of run land in the proxy's one store.
PX_STORE=$work/proxy.db
tries=0
while :; do
  tries=$((tries + 1))
  pport=$(free_port)
  oport=$(free_port)
  "$AIRI_BIN" proxy --listen "127.0.0.1:$pport" --upstream "$UPSTREAM" --store "$PX_STORE" \
    --otel-listen "127.0.0.1:$oport" --spool "$work/spool" 2>"$work/px.err" >"$work/px.out" &
  rx_pid=$!
  ready=0
  n=0
  while [ $n -lt 100 ]; do
    if grep -qx "airi proxy:   OTLP/HTTP traces on 127.0.0.1:$oport" "$work/px.err"; then ready=1; break; fi
    kill -0 "$rx_pid" 2>/dev/null || break
    n=$((n + 1))
    sleep 0.1
  done
  [ $ready = 1 ] && break
  kill -KILL "$rx_pid" 2>/dev/null
  wait "$rx_pid" 2>/dev/null
  rx_pid=
  if [ $tries -ge 3 ]; then cat "$work/px.err"; fail "the proxy with --otel-listen did not start"; break; fi
done
if [ -n "$rx_pid" ]; then
  if node "$dir/client.js" --instr traceloop --exporter proto --endpoint "http://127.0.0.1:$oport" \
    --upstream "http://127.0.0.1:$pport" --tag "px-otel" >"$work/pxclient.out" 2>"$work/pxclient.err"; then
    echo "otel tests: client through the proxy exported to its --otel-listen port"
  else
    cat "$work/pxclient.err"
    fail "the client through the proxy failed"
  fi
  ph=$(curl -sS "http://127.0.0.1:$oport/airi/v1/health")
  echo "otel tests: --otel-listen health $ph"
  echo "$ph" | node -e 'const h=JSON.parse(require("fs").readFileSync(0));
    if (!(h.runs>=3 && h.agent_runs>=0 && h.status==="ok")) process.exit(1)' ||
    fail "the --otel-listen health does not count the runs: $ph"
  curl -sS "http://127.0.0.1:$pport/airi/v1/health" | grep -q '"recorded":3' ||
    fail "the proxy did not record its 3 calls: $(curl -sS "http://127.0.0.1:$pport/airi/v1/health")"
  kill -TERM "$rx_pid"
  n=0
  while kill -0 "$rx_pid" 2>/dev/null && [ $n -lt 100 ]; do n=$((n + 1)); sleep 0.1; done
  if kill -0 "$rx_pid" 2>/dev/null; then
    fail "the proxy did not exit within 10 s of SIGTERM"
  else
    wait "$rx_pid"
    rc=$?
    [ $rc = 0 ] || fail "the proxy exited with status $rc after SIGTERM"
    rx_pid=
  fi
  grep -q "airi proxy: OTLP receiver: stopped after" "$work/px.err" || fail "no receiver summary line from the proxy"
  # the runs of both ways, in the one store: meta.source otlp (spans), none (the proxy's)
  "$AIRI_BIN" log --store "$PX_STORE" --json >"$work/px.log" || fail "airi log on the proxy's store failed"
  srcs=$(node -e '
    const {execFileSync}=require("child_process");
    const ids=JSON.parse(require("fs").readFileSync(process.argv[1],"utf8")).map(r=>r.run||r.id);
    const c={};
    for (const id of ids) {
      const m=JSON.parse(execFileSync(process.argv[2],["show","--store",process.argv[3],"--json",id]));
      const s=(m.manifest.meta&&m.manifest.meta.source)||"proxied";
      c[s]=(c[s]||0)+1;
    }
    console.log(Object.keys(c).sort().map(k=>k+"="+c[k]).join(" "));' "$work/px.log" "$AIRI_BIN" "$PX_STORE") ||
    fail "could not read the proxy's store back"
  echo "otel tests: proxy store runs by source: $srcs"
  # spans: 3 model calls and the agent run; the proxy: the same 3 calls, as it saw them
  [ "$srcs" = "otlp=4 proxied=3" ] || fail "expected otlp=4 proxied=3 in the proxy's store, got: $srcs"
  for f in "$work"/proxy.db*; do
    [ -f "$f" ] || continue
    if grep -q "otel-secret-TEST" "$f"; then fail "$(basename "$f") contains the Authorization header value"; fi
  done
  "$AIRI_BIN" fsck --store "$PX_STORE" >/dev/null || fail "airi fsck found problems in the proxy's store"
fi

if [ $failed = 0 ]; then
  echo "otel tests: all passed"
  exit 0
fi
echo "--- receiver stderr:"
tail -n 20 "$work/rx.err"
exit 1
