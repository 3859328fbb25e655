#!/bin/sh
# run.sh — end-to-end tests of `airi proxy` with the real OpenAI and Anthropic SDKs.
#
#   sh tests/proxy/run.sh AIRI_BIN     test the proxy of this airi binary
#   sh tests/proxy/run.sh --direct     test only the fake upstream, with the SDKs pointed
#                                      straight at it (no proxy, no airi)
#
# Starts tests/proxy/fake_upstream.js (a deterministic fake OpenAI + Anthropic API) and
# `AIRI_BIN proxy` in front of it with a fresh store, runs sdk.test.js with node's test runner
# (env PROXY_URL, UPSTREAM_URL, AIRI_BIN, AIRI_STORE), stops the proxy with SIGTERM and requires
# exit status 0, then scans every store file the tests wrote (store.db and its -wal/-shm, and
# the stores of the extra proxies the tests start) for the fake secrets the tests send: the
# proxy forwards them upstream but must never store them.
#
# Exit status: 0 all passed, 1 a failure, 77 skipped (node < 20, SDKs not installed, or the
# binary has no `proxy` command). AIRI_PROXY_KEEP=1 keeps the work folder (stores, logs).
dir=$(cd "$(dirname "$0")" && pwd)

skip() {
  echo "proxy tests: SKIP — $*"
  exit 77
}
fail() {
  echo "proxy tests: FAIL — $*"
  failed=1
}

if ! command -v node >/dev/null 2>&1; then
  skip "node not found (install Node.js 20 or newer, then: cd tests/proxy && npm ci)"
fi
major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$major" -lt 20 ]; then
  skip "node $(node --version) is too old: Node.js 20 or newer is needed (the SDKs' floor)"
fi
if [ ! -f "$dir/node_modules/openai/package.json" ] ||
   [ ! -f "$dir/node_modules/@anthropic-ai/sdk/package.json" ]; then
  skip "the SDKs are not installed; install them with: (cd tests/proxy && npm ci)"
fi

direct=0
if [ "${1:-}" = "--direct" ]; then
  direct=1
  AIRI_BIN=
else
  AIRI_BIN=${1:-${AIRI_BIN:-$dir/../../build/airi}}
  case $AIRI_BIN in /*) ;; *) AIRI_BIN=$(pwd)/$AIRI_BIN ;; esac
  [ -x "$AIRI_BIN" ] || skip "airi binary not found or not executable: $AIRI_BIN"
  "$AIRI_BIN" proxy --help >/dev/null 2>&1 || skip "$AIRI_BIN has no working 'proxy' command"
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/airi-proxy-test.XXXXXX")
fake_pid=
proxy_pid=
failed=0
cleanup() {
  if [ -n "$proxy_pid" ] && kill -0 "$proxy_pid" 2>/dev/null; then kill -KILL "$proxy_pid" 2>/dev/null; fi
  if [ -n "$fake_pid" ] && kill -0 "$fake_pid" 2>/dev/null; then kill "$fake_pid" 2>/dev/null; fi
  if [ "${AIRI_PROXY_KEEP:-0}" = 1 ]; then
    echo "proxy tests: work folder kept: $work"
  else
    rm -rf "$work"
  fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

free_port() {
  node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

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

# --- the fake upstream -------------------------------------------------------------------
node "$dir/fake_upstream.js" 0 >"$work/fake.out" 2>"$work/fake.err" &
fake_pid=$!
if ! wait_for_line "$work/fake.out" "listening " 100; then
  cat "$work/fake.err"
  echo "proxy tests: FAIL — fake_upstream.js did not start within 10 s"
  exit 1
fi
up_port=$(sed -n 's/^listening \([0-9][0-9]*\)$/\1/p' "$work/fake.out" | head -n 1)
UPSTREAM_URL=http://127.0.0.1:$up_port
export UPSTREAM_URL

# --- the proxy ---------------------------------------------------------------------------
if [ $direct = 0 ]; then
  AIRI_STORE=$work/store.db
  export AIRI_BIN AIRI_STORE
  tries=0
  while :; do
    tries=$((tries + 1))
    port=$(free_port)
    : >"$work/proxy.err"
    "$AIRI_BIN" proxy --listen "127.0.0.1:$port" --upstream "$UPSTREAM_URL" --store "$AIRI_STORE" \
      2>"$work/proxy.err" >"$work/proxy.out" &
    proxy_pid=$!
    # ready when it says so; give up after 10 s or when it has exited (port taken: try again)
    n=0
    ready=0
    while [ $n -lt 100 ]; do
      # the line must start with this (anything after the port is checked below)
      if grep -q "^airi proxy: listening on 127\.0\.0\.1:$port\([^0-9]\|\$\)" "$work/proxy.err"; then ready=1; break; fi
      kill -0 "$proxy_pid" 2>/dev/null || break
      n=$((n + 1))
      sleep 0.1
    done
    [ $ready = 1 ] && break
    kill -KILL "$proxy_pid" 2>/dev/null
    wait "$proxy_pid" 2>/dev/null
    proxy_pid=
    if [ $tries -ge 3 ]; then
      echo "--- proxy stderr:"; cat "$work/proxy.err"
      echo "proxy tests: FAIL — the proxy did not print 'airi proxy: listening on 127.0.0.1:$port' within 10 s (3 tries)"
      exit 1
    fi
  done
  PROXY_URL=http://127.0.0.1:$port
  export PROXY_URL
  # The contract's ready line is exactly `airi proxy: listening on 127.0.0.1:PORT`.
  if ! grep -qxF "airi proxy: listening on 127.0.0.1:$port" "$work/proxy.err"; then
    fail "ready line is not exactly 'airi proxy: listening on 127.0.0.1:$port'; got: $(grep '^airi proxy: listening' "$work/proxy.err" | head -n 1)"
  fi
else
  unset PROXY_URL AIRI_STORE
  AIRI_BIN=
  export AIRI_BIN
fi

# --- the SDK tests -----------------------------------------------------------------------
node --test --test-reporter=spec --test-timeout=60000 "$dir/sdk.test.js"
rc=$?
[ $rc = 0 ] || fail "sdk.test.js failed (exit $rc)"

# --- graceful shutdown --------------------------------------------------------------------
if [ -n "$proxy_pid" ]; then
  if kill -0 "$proxy_pid" 2>/dev/null; then
    kill -TERM "$proxy_pid"
    n=0
    while kill -0 "$proxy_pid" 2>/dev/null && [ $n -lt 100 ]; do n=$((n + 1)); sleep 0.1; done
    if kill -0 "$proxy_pid" 2>/dev/null; then
      fail "the proxy did not exit within 10 s of SIGTERM"
      kill -KILL "$proxy_pid" 2>/dev/null
      wait "$proxy_pid" 2>/dev/null
    else
      wait "$proxy_pid"
      prc=$?
      [ $prc = 0 ] || fail "the proxy exited with status $prc after SIGTERM (expected 0)"
    fi
  else
    wait "$proxy_pid"
    fail "the proxy died during the tests (exit status $?)"
  fi
  proxy_pid=
  if [ $failed = 1 ]; then
    echo "--- proxy stderr (last 40 lines):"
    tail -n 40 "$work/proxy.err"
  fi

  # --- secrets must not be stored ---------------------------------------------------------
  # The tests send these as Authorization / x-api-key / api-key / cookie headers (see
  # sdk.test.js); the fake upstream must have seen them (checked there), the stores must not.
  [ -f "$AIRI_STORE" ] || fail "no store was written at $AIRI_STORE"
  for f in "$work"/*.db*; do
    [ -f "$f" ] || continue
    for secret in sk-test-SECRET-123 ak-test-SECRET-456 az-test-SECRET-789 cookie-SECRET-000; do
      if grep -qaF "$secret" "$f"; then
        fail "secret '$secret' found in store file $(basename "$f")"
      fi
    done
  done
fi

if [ $failed = 0 ]; then
  echo "proxy tests: all passed"
  exit 0
fi
exit 1
