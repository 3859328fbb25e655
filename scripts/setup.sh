#!/bin/sh
# Installs what airi needs to build and test on Debian 12, from Debian's
# own packages only. Safe to run again. Uses sudo when not root.
set -eu
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi
PKGS="build-essential cmake pkg-config libssl-dev libsqlite3-dev libcmocka-dev \
 libevent-dev libcurl4-openssl-dev clang nodejs npm sqlite3 groff-base \
 libpq-dev postgresql \
 protobuf-c-compiler libprotobuf-c-dev zlib1g-dev curl"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
# nodejs may come from elsewhere (a newer node already on PATH is fine)
if command -v node >/dev/null 2>&1; then
	missing=$(echo "$missing" | sed 's/ nodejs//')
fi
if command -v npm >/dev/null 2>&1; then
	missing=$(echo "$missing" | sed 's/ npm//')
fi
if [ -n "$missing" ]; then
	echo "setup: installing:$missing"
	$SUDO apt-get update -q
	# shellcheck disable=SC2086
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q $missing
else
	echo "setup: all packages present"
fi

# the proxy tests drive the real openai and @anthropic-ai/sdk clients
# (versions pinned in tests/proxy/package-lock.json)
here=$(cd "$(dirname "$0")/.." && pwd)
if [ -f "$here/tests/proxy/package-lock.json" ] && [ ! -d "$here/tests/proxy/node_modules" ]; then
	echo "setup: npm ci in tests/proxy"
	(cd "$here/tests/proxy" && npm ci --no-audit --no-fund --loglevel=error)
fi
# the llama test serves a tiny model with node-llama-cpp (version pinned in
# tests/llama/package-lock.json); only its prebuilt CPU binary for linux-x64 is installed
# (no CUDA/Vulkan packages, no install scripts, so nothing is downloaded or compiled later)
if [ -f "$here/tests/llama/package-lock.json" ] && [ ! -d "$here/tests/llama/node_modules" ] &&
	[ "$(uname -s)-$(uname -m)" = Linux-x86_64 ]; then
	echo "setup: npm ci in tests/llama"
	(cd "$here/tests/llama" && NODE_LLAMA_CPP_SKIP_DOWNLOAD=true \
		npm ci --omit=optional --ignore-scripts --no-audit --no-fund --loglevel=error)
fi
# the `airi otel receive` tests drive the openai SDK instrumented with OpenTelemetry GenAI
# instrumentations and the official OTLP exporters (versions pinned in
# tests/otel/package-lock.json)
if [ -f "$here/tests/otel/package-lock.json" ] && [ ! -d "$here/tests/otel/node_modules" ]; then
	echo "setup: npm ci in tests/otel"
	(cd "$here/tests/otel" && npm ci --no-audit --no-fund --loglevel=error)
fi
# `airi otel export` and `airi proxy --otlp` are checked against a real OTLP receiver,
# @elastic/mockotlpserver (version pinned in tests/otel_out/package-lock.json)
if [ -f "$here/tests/otel_out/package-lock.json" ] && [ ! -d "$here/tests/otel_out/node_modules" ]; then
	echo "setup: npm ci in tests/otel_out"
	(cd "$here/tests/otel_out" && npm ci --no-audit --no-fund --loglevel=error)
fi
