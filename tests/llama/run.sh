#!/bin/sh
# run.sh — end-to-end test of `airi proxy` in front of a real inference engine.
#
#   sh tests/llama/run.sh AIRI_BIN
#
# Writes a tiny random-weight llama model (gen_gguf.js, the same bytes every time) into a
# fresh work folder, serves it with node-llama-cpp's prebuilt CPU binary behind a small
# OpenAI-compatible server (server.js), starts `AIRI_BIN proxy` in front of that with a fresh
# store, and runs check.js: the same seed through the proxy gives the same conditions ID and
# the same text, a different seed gives a different conditions ID whose every section but
# `params` is the same (asked of the store with `airi show --json` and `airi diff --json`).
# Stops the proxy with SIGTERM and requires exit status 0. Then `airi reproduce` (reproduce.js):
# the seeded calls reproduced against the same engine are identical (exit 0); the engine
# restarted on the same port with --prompt-cache (one slot kept across requests, as llama.cpp's
# cache_prompt) gives, for exactly the recorded request, another output: exit 1, "same
# conditions, output varied".
#
# Exit status: 0 passed, 1 a failure, 77 skipped (no node >= 20, node-llama-cpp not installed:
# `cd tests/llama && npm ci`, not linux-x64, or the binary has no `proxy` command).
# AIRI_LLAMA_KEEP=1 keeps the work folder (model, store, logs). Nothing is downloaded or
# compiled at test time.
dir=$(cd "$(dirname "$0")" && pwd)

skip() {
  echo "llama test: SKIP — $*"
  exit 77
}

if ! command -v node >/dev/null 2>&1; then
  skip "node not found (install Node.js 20 or newer, then: cd tests/llama && npm ci)"
fi
major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$major" -lt 20 ]; then
  skip "node $(node --version) is too old: Node.js 20 or newer is needed"
fi
plat=$(node -p 'process.platform + "-" + process.arch' 2>/dev/null)
if [ "$plat" != linux-x64 ]; then
  skip "node-llama-cpp's CPU binary is installed for linux-x64 only; this is $plat"
fi
if [ ! -d "$dir/node_modules" ] ||
   [ ! -f "$dir/node_modules/node-llama-cpp/package.json" ] ||
   [ ! -f "$dir/node_modules/@node-llama-cpp/linux-x64/package.json" ]; then
  skip "node-llama-cpp is not installed; install it with: (cd tests/llama && npm ci)"
fi

AIRI_BIN=${1:-${AIRI_BIN:-$dir/../../build/airi}}
case $AIRI_BIN in /*) ;; *) AIRI_BIN=$(pwd)/$AIRI_BIN ;; esac
[ -x "$AIRI_BIN" ] || skip "airi binary not found or not executable: $AIRI_BIN"
"$AIRI_BIN" proxy --help >/dev/null 2>&1 || skip "$AIRI_BIN has no working 'proxy' command"

# never build llama.cpp or download anything, whatever node-llama-cpp would like to do
NODE_LLAMA_CPP_SKIP_DOWNLOAD=true
NODE_LLAMA_CPP_GPU=false
export NODE_LLAMA_CPP_SKIP_DOWNLOAD NODE_LLAMA_CPP_GPU

work=$(mktemp -d "${TMPDIR:-/tmp}/airi-llama-test.XXXXXX")
server_pid=
proxy_pid=
cleanup() {
  if [ -n "$proxy_pid" ] && kill -0 "$proxy_pid" 2>/dev/null; then kill -KILL "$proxy_pid" 2>/dev/null; fi
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill "$server_pid" 2>/dev/null
    n=0
    while kill -0 "$server_pid" 2>/dev/null && [ $n -lt 30 ]; do n=$((n + 1)); sleep 0.1; done
    kill -KILL "$server_pid" 2>/dev/null
  fi
  if [ "${AIRI_LLAMA_KEEP:-0}" = 1 ]; then
    echo "llama test: work folder kept: $work"
  else
    rm -rf "$work"
  fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

die() {
  echo "llama test: FAIL — $*"
  exit 1
}

# waits up to $3 tenths of a second for file $1 to contain the fixed string $2, while the
# process $4 lives
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

start=$(date +%s)

# --- the model -------------------------------------------------------------------------
node "$dir/gen_gguf.js" "$work/tiny.gguf" || die "gen_gguf.js failed"
FINGERPRINT=fp_$(node -e 'process.stdout.write(require("crypto").createHash("sha256").update(require("fs").readFileSync(process.argv[1])).digest("hex").slice(0,16))' "$work/tiny.gguf")
MODEL_NAME=airi-tiny-random
export FINGERPRINT MODEL_NAME

# --- the engine --------------------------------------------------------------------------
node "$dir/server.js" "$work/tiny.gguf" 0 >"$work/server.out" 2>"$work/server.err" &
server_pid=$!
if ! wait_for_line "$work/server.out" "listening " 300 "$server_pid"; then
  echo "--- server stderr:"; tail -n 40 "$work/server.err"
  die "server.js did not start within 30 s"
fi
up_port=$(sed -n 's/^listening \([0-9][0-9]*\)$/\1/p' "$work/server.out" | head -n 1)
UPSTREAM_URL=http://127.0.0.1:$up_port
export UPSTREAM_URL

# --- the proxy ---------------------------------------------------------------------------
AIRI_STORE=$work/x.db
export AIRI_BIN AIRI_STORE
tries=0
while :; do
  tries=$((tries + 1))
  port=$(free_port)
  "$AIRI_BIN" proxy --listen "127.0.0.1:$port" --upstream "$UPSTREAM_URL" --store "$AIRI_STORE" \
    >"$work/proxy.out" 2>"$work/proxy.err" &
  proxy_pid=$!
  wait_for_line "$work/proxy.err" "airi proxy: listening on 127.0.0.1:$port" 100 "$proxy_pid" && break
  kill -KILL "$proxy_pid" 2>/dev/null
  wait "$proxy_pid" 2>/dev/null
  proxy_pid=
  if [ $tries -ge 3 ]; then
    echo "--- proxy stderr:"; cat "$work/proxy.err"
    die "the proxy did not start within 10 s (3 tries)"
  fi
done
PROXY_URL=http://127.0.0.1:$port
RUNS_FILE=$work/runs.json
export PROXY_URL RUNS_FILE

# --- the calls and the checks ------------------------------------------------------------
failed=0
node "$dir/check.js" || failed=1

# --- graceful shutdown of the proxy --------------------------------------------------------
if kill -0 "$proxy_pid" 2>/dev/null; then
  kill -TERM "$proxy_pid"
  n=0
  while kill -0 "$proxy_pid" 2>/dev/null && [ $n -lt 100 ]; do n=$((n + 1)); sleep 0.1; done
  if kill -0 "$proxy_pid" 2>/dev/null; then
    echo "llama test: the proxy did not exit within 10 s of SIGTERM"
    failed=1
  else
    wait "$proxy_pid"
    prc=$?
    if [ $prc != 0 ]; then echo "llama test: the proxy exited with status $prc after SIGTERM (expected 0)"; failed=1; fi
    proxy_pid=
  fi
else
  wait "$proxy_pid"
  echo "llama test: the proxy died during the test (exit status $?)"
  failed=1
fi

# --- the API key must not be stored ----------------------------------------------------
# check.js sends `Authorization: Bearer sk-llama-test`; the proxy forwards it, never stores it
[ -f "$AIRI_STORE" ] || { echo "llama test: no store was written at $AIRI_STORE"; failed=1; }
for f in "$work"/x.db*; do
  [ -f "$f" ] || continue
  if grep -qaF sk-llama-test "$f"; then echo "llama test: the API key was found in store file $(basename "$f")"; failed=1; fi
done

# --- airi reproduce: the same engine, then the engine with its prompt cache on -------------
if [ $failed = 0 ] && "$AIRI_BIN" reproduce --help >/dev/null 2>&1; then
  node "$dir/reproduce.js" plain || failed=1
  if [ $failed = 0 ]; then
    # the same port, so that the recorded upstream URL (part of the conditions) is the same
    kill "$server_pid" 2>/dev/null
    n=0
    while kill -0 "$server_pid" 2>/dev/null && [ $n -lt 50 ]; do n=$((n + 1)); sleep 0.1; done
    kill -KILL "$server_pid" 2>/dev/null
    wait "$server_pid" 2>/dev/null
    node "$dir/server.js" "$work/tiny.gguf" "$up_port" --prompt-cache >"$work/server2.out" 2>"$work/server2.err" &
    server_pid=$!
    if wait_for_line "$work/server2.out" "listening $up_port" 300 "$server_pid"; then
      node "$dir/reproduce.js" cache || failed=1
    else
      echo "--- server (prompt cache) stderr:"; tail -n 20 "$work/server2.err"
      echo "llama test: server.js --prompt-cache did not start on port $up_port within 30 s"
      failed=1
    fi
  fi
elif [ $failed = 0 ]; then
  echo "llama test: $AIRI_BIN has no 'reproduce' command; reproduce checks skipped"
fi

if [ $failed = 1 ]; then
  echo "--- proxy stderr (last 40 lines):"; tail -n 40 "$work/proxy.err"
  echo "--- server stderr (last 40 lines):"; tail -n 40 "$work/server.err"
  echo "llama test: FAIL"
  exit 1
fi
echo "llama test: all passed in $(($(date +%s) - start)) s"
exit 0
