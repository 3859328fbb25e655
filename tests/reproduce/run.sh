#!/bin/sh
# run.sh — end-to-end tests of `airi reproduce` against the deterministic fake upstream.
#
#   sh tests/reproduce/run.sh AIRI_BIN
#
# Starts tests/proxy/fake_upstream.js and `AIRI_BIN proxy` in front of it with a fresh store,
# then runs check.js, which records calls through the proxy (chat, completions, responses,
# embeddings and Anthropic messages, plain and streamed; agent runs grouped with Airi-Trace)
# and reproduces them with `AIRI_BIN reproduce`, turning the fake's knobs (POST /_fake/knobs:
# model_suffix, vary, tool_city) to make the upstream change under it. Stops the proxy with
# SIGTERM (exit status 0 required) and checks that the API keys the reproductions send are in
# no store file.
#
# Exit status: 0 all passed, 1 a failure, 77 skipped (no node >= 20, tests/proxy/node_modules
# missing: `cd tests/proxy && npm ci`, or the binary has no `reproduce` command).
# AIRI_REPRODUCE_KEEP=1 keeps the work folder (store, logs).
dir=$(cd "$(dirname "$0")" && pwd)
proxydir=$(cd "$dir/../proxy" && pwd)

skip() {
  echo "reproduce tests: SKIP — $*"
  exit 77
}

if ! command -v node >/dev/null 2>&1; then
  skip "node not found (install Node.js 20 or newer, then: cd tests/proxy && npm ci)"
fi
major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$major" -lt 20 ]; then
  skip "node $(node --version) is too old: Node.js 20 or newer is needed"
fi
if [ ! -d "$proxydir/node_modules" ]; then
  skip "tests/proxy/node_modules is missing; install it with: (cd tests/proxy && npm ci)"
fi

AIRI_BIN=${1:-${AIRI_BIN:-$dir/../../build/airi}}
case $AIRI_BIN in /*) ;; *) AIRI_BIN=$(pwd)/$AIRI_BIN ;; esac
[ -x "$AIRI_BIN" ] || skip "airi binary not found or not executable: $AIRI_BIN"
"$AIRI_BIN" reproduce --help >/dev/null 2>&1 || skip "$AIRI_BIN has no working 'reproduce' command"

work=$(mktemp -d "${TMPDIR:-/tmp}/airi-reproduce-test.XXXXXX")
fake_pid=
proxy_pid=
cleanup() {
  if [ -n "$proxy_pid" ] && kill -0 "$proxy_pid" 2>/dev/null; then kill -KILL "$proxy_pid" 2>/dev/null; fi
  if [ -n "$fake_pid" ] && kill -0 "$fake_pid" 2>/dev/null; then kill "$fake_pid" 2>/dev/null; fi
  if [ "${AIRI_REPRODUCE_KEEP:-0}" = 1 ]; then
    echo "reproduce tests: work folder kept: $work"
  else
    rm -rf "$work"
  fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

die() {
  echo "reproduce tests: FAIL — $*"
  exit 1
}

# waits up to $3 tenths of a second for file $1 to contain the fixed string $2, while $4 lives
wait_for_line() {
  n=0
  while [ $n -lt "$3" ]; do
    grep -qF "$2" "$1" 2>/dev/null && return 0
    kill -0 "$4" 2>/dev/null || return 1
    n=$((n + 1))
    sleep 0.1
  done
  return 1
}

free_port() {
  node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

# --- the fake upstream -------------------------------------------------------------------
node "$proxydir/fake_upstream.js" 0 >"$work/fake.out" 2>"$work/fake.err" &
fake_pid=$!
if ! wait_for_line "$work/fake.out" "listening " 100 "$fake_pid"; then
  cat "$work/fake.err"
  die "fake_upstream.js did not start within 10 s"
fi
up_port=$(sed -n 's/^listening \([0-9][0-9]*\)$/\1/p' "$work/fake.out" | head -n 1)
UPSTREAM_URL=http://127.0.0.1:$up_port
export UPSTREAM_URL

# --- the proxy ---------------------------------------------------------------------------
AIRI_STORE=$work/store.db
export AIRI_BIN AIRI_STORE
tries=0
while :; do
  tries=$((tries + 1))
  port=$(free_port)
  "$AIRI_BIN" proxy --listen "127.0.0.1:$port" --upstream "$UPSTREAM_URL" --store "$AIRI_STORE" \
    --group-idle 600 >"$work/proxy.out" 2>"$work/proxy.err" &
  proxy_pid=$!
  wait_for_line "$work/proxy.err" "airi proxy: listening on 127.0.0.1:$port" 100 "$proxy_pid" && break
  kill -KILL "$proxy_pid" 2>/dev/null
  wait "$proxy_pid" 2>/dev/null
  proxy_pid=
  [ $tries -ge 3 ] && { cat "$work/proxy.err"; die "the proxy did not start within 10 s (3 tries)"; }
done
PROXY_URL=http://127.0.0.1:$port
WORK=$work
export PROXY_URL WORK

# --- the checks ----------------------------------------------------------------------------
failed=0
node "$dir/check.js" || failed=1

# --- graceful shutdown ---------------------------------------------------------------------
if kill -0 "$proxy_pid" 2>/dev/null; then
  kill -TERM "$proxy_pid"
  n=0
  while kill -0 "$proxy_pid" 2>/dev/null && [ $n -lt 100 ]; do n=$((n + 1)); sleep 0.1; done
  if kill -0 "$proxy_pid" 2>/dev/null; then
    echo "reproduce tests: the proxy did not exit within 10 s of SIGTERM"
    failed=1
  else
    wait "$proxy_pid"
    prc=$?
    [ $prc = 0 ] || { echo "reproduce tests: the proxy exited with status $prc after SIGTERM"; failed=1; }
    proxy_pid=
  fi
else
  echo "reproduce tests: the proxy died during the tests"
  failed=1
fi

# --- the API keys that reproduce sends must not be stored ------------------------------
for f in "$work"/*.db*; do
  [ -f "$f" ] || continue
  for secret in sk-repro-SECRET-1 ak-repro-SECRET-2; do
    if grep -qaF "$secret" "$f"; then echo "reproduce tests: secret $secret found in $(basename "$f")"; failed=1; fi
  done
done

if [ $failed = 1 ]; then
  echo "--- proxy stderr (last 20 lines):"; tail -n 20 "$work/proxy.err"
  echo "--- fake stderr (last 20 lines):"; tail -n 20 "$work/fake.err"
  echo "reproduce tests: FAIL"
  exit 1
fi
echo "reproduce tests: all passed"
exit 0
