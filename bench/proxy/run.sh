#!/usr/bin/env bash
# bench/proxy/run.sh - the `airi proxy` benchmark, in one run so the numbers
# compare like with like (same machine, same minute, same upstream).
#
#   bench/proxy/run.sh [AIRI_BINARY]          (default: build/airi)
#
# Targets, all in front of one canned upstream (nginx `return 200` with a
# fixed ~0.9 KB chat.completion whose id is unique per reply):
#   direct  the upstream itself
#   nginx   nginx proxy_pass to it (1 worker, upstream keep-alive)
#   airi    airi proxy --upstream to it, fresh store on disk
#   airi-shm  (latency only) the same with the store on tmpfs, to tell the
#           proxy's own cost from the fsync of the group commit
#   airi-journal  airi proxy --journal FILE (on disk, beside the store):
#           replies wait for their own O_DSYNC write to the journal, not for
#           the store's commit
#   portkey the Portkey AI gateway (@portkey-ai/gateway, pinned in
#           package.json / package-lock.json, installed with npm ci into
#           bench/proxy/node_modules when missing), routed to the upstream
#           with its headers x-portkey-provider: openai and
#           x-portkey-custom-host; it records nothing durable, so no store
#           check: its figures are reported, never a failed check
# Measures:
#   1. saturation: wrk -t2 -c64 -d${SAT_SECS}s, POST of a ~1.1 KB chat request
#      (Portkey, on node, after 3 s of the same load to warm its JIT up)
#   2. latency at a fixed rate: ratecli (bench/proxy/ratecli.c, open loop,
#      no coordinated omission) at $RATE req/s for $RATE_SECS s after 1 s
#      of warm-up; p50/p99 and the added p50/p99 over direct (Portkey also
#      at $PK_RATE req/s, with direct at that rate, as it cannot keep up
#      with 2,000 req/s on this machine)
#   3. $STREAMS concurrent slow streams through airi: an SSE upstream
#      (streams.js) sending one chunk a second for $STREAM_CHUNKS s, one
#      connection per stream; all must complete and be recorded (then the
#      same through Portkey, reported only)
# and checks the stores (runs recorded = calls answered) and airi's RSS,
# sampled every second with ps.
#
# Environment (defaults): SAT_SECS=10 RATE=2000 RATE_SECS=8 RATE_CONNS=64
#   STREAMS=1000 STREAM_CHUNKS=20 RSS_BOUND=337920 (KiB, see below)
#   PK_RATE=200 (Portkey's second fixed rate; 0: none)
#   BENCH_SKIP= (comma list: sat,rate,streams,portkey)
# Needs wrk, nginx (Debian packages; installed with apt-get when missing),
# node, cc, curl, python3; npm for Portkey (without it Portkey is skipped,
# with a message). Stores, logs and results.md go to
# bench/out/proxy/ (gitignored); nginx runs from a temp dir as the invoking
# user (when that is root, its worker drops to nobody), never as a service.
set -euo pipefail
shopt -u patsub_replacement 2>/dev/null || true

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
AIRI=${1:-$ROOT/build/airi}
[[ $AIRI == /* ]] || AIRI=$PWD/$AIRI
if [[ ! -x $AIRI ]]; then
	echo "run.sh: no airi binary at $AIRI (build first: cmake -S . -B build && cmake --build build)" >&2
	exit 2
fi
SAT_SECS=${SAT_SECS:-10}
RATE=${RATE:-2000}
RATE_SECS=${RATE_SECS:-8}
RATE_CONNS=${RATE_CONNS:-64}
STREAMS=${STREAMS:-1000}
STREAM_CHUNKS=${STREAM_CHUNKS:-20}
PK_RATE=${PK_RATE:-200}
SKIP=",${BENCH_SKIP:-},"
OUT=$ROOT/bench/out/proxy
BODY=$HERE/request.json
T_BEGIN=$(date +%s)

say() { printf '\n== %s\n' "$*"; }
die() { echo "run.sh: $*" >&2; exit 1; }
load() { cut -d' ' -f1-3 /proc/loadavg; }
kv() { sed -n "s/.*\b$1=\([^ ]*\).*/\1/p" <<<"$2" | head -1; } # kv KEY LINE

# ---- tools ----------------------------------------------------------------------
missing=()
command -v wrk >/dev/null || missing+=(wrk)
command -v nginx >/dev/null || [[ -x /usr/sbin/nginx ]] || missing+=(nginx)
if ((${#missing[@]})); then
	echo "run.sh: ${missing[*]} missing: installing with apt-get install -y ${missing[*]}"
	SUDO=; ((EUID == 0)) || SUDO=sudo
	$SUDO apt-get install -y "${missing[@]}" >/dev/null ||
		{ $SUDO apt-get update >/dev/null && $SUDO apt-get install -y "${missing[@]}" >/dev/null; } ||
		die "cannot install ${missing[*]}"
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
for t in node curl python3; do command -v $t >/dev/null || die "needs $t"; done
CC=${CC:-$(command -v cc || command -v gcc)} || die "needs a C compiler"
# Portkey, the peer gateway (BENCH_SKIP=portkey leaves it out): npm ci from
# the lock file into bench/proxy/node_modules when it is not there yet;
# without npm, or when that fails, the run goes on without it.
PK_JS=$HERE/node_modules/@portkey-ai/gateway/build/start-server.js
PORTKEY=yes
if [[ $SKIP == *,portkey,* ]]; then
	PORTKEY=no
elif [[ ! -f $PK_JS ]]; then
	if ! command -v npm >/dev/null; then
		echo "run.sh: npm not found: skipping Portkey (BENCH_SKIP=portkey says so quietly)"
		PORTKEY=no
	else
		echo "run.sh: @portkey-ai/gateway missing: installing it with npm ci into $HERE/node_modules"
		if ! (cd "$HERE" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error); then
			echo "run.sh: npm ci failed: skipping Portkey"
			PORTKEY=no
		elif [[ ! -f $PK_JS ]]; then
			echo "run.sh: no $PK_JS after npm ci: skipping Portkey"
			PORTKEY=no
		fi
	fi
fi
# 1,000 streams need 2,000+ descriptors in airi, and as many in the client
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
(($(ulimit -n) >= 4 * STREAMS + 256)) || echo "run.sh: warning: ulimit -n is $(ulimit -n)"

mkdir -p "$OUT"
rm -f "$OUT"/*.db "$OUT"/*.db-wal "$OUT"/*.db-shm "$OUT"/*.log "$OUT"/*.rss "$OUT"/*.journal
WORK=$(mktemp -d /tmp/airi-proxy-bench.XXXXXX)
SHM=$(mktemp -d /dev/shm/airi-proxy-bench.XXXXXX)
chmod 755 "$WORK"
mkdir "$WORK/tmp"
PIDS=()
cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$WORK" "$SHM"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"$CC" -O2 -std=c11 -o "$WORK/ratecli" "$HERE/ratecli.c" || die "cannot build ratecli"
# a private copy, so that a rebuild during the run cannot change the binary
cp "$AIRI" "$WORK/airi"
AIRI_SRC=$AIRI
AIRI=$WORK/airi
read -r P_UP P_NGX P_AIRI P_AIRI2 P_SSE P_AIRI3 P_PK P_AIRI4 < <(python3 -c '
import socket
s = [socket.socket() for _ in range(8)]
for x in s: x.bind(("127.0.0.1", 0))
print(*[x.getsockname()[1] for x in s])')

# ---- the machine ----------------------------------------------------------------
CPU=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
say "machine"
echo "cpu:      $CPU ($(nproc) cores online)"
echo "kernel:   $(uname -r)"
echo "airi:     $AIRI_SRC ($(stat -c %y "$AIRI_SRC" | cut -d. -f1))"
echo "nginx:    $("$NGINX" -v 2>&1 | sed 's/.*: //')"
echo "wrk:      $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2)"
echo "node:     $(node --version)"
if [[ $PORTKEY == yes ]]; then
	PK_VERSION=$(node -p "require('$HERE/node_modules/@portkey-ai/gateway/package.json').version")
	PK_HONO=$(node -p "require('$HERE/node_modules/@hono/node-server/package.json').version" 2>/dev/null || echo '?')
	echo "portkey:  @portkey-ai/gateway $PK_VERSION (@hono/node-server $PK_HONO), node $PK_JS --port=PORT --headless"
fi
echo "store:    $OUT ($(df -T "$OUT" | awk 'NR==2{print $2}'))"
echo "date:     $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "load:     $(load)  (1/5/15 min before the run; the load generator shares the cores)"
LOAD0=$(load)

# ---- processes ------------------------------------------------------------------
USERLINE=
((EUID == 0)) && USERLINE="user nobody nogroup;"
fill() { # fill TEMPLATE OUTFILE PORT
	local c r
	c=$(<"$1")
	r=$(<"$HERE/reply.json")
	r=${r//REQUEST_ID/\$request_id}
	c=${c//@REPLY@/$r}
	c=${c//@DIR@/$WORK}
	c=${c//@PORT@/$3}
	c=${c//@UPPORT@/$P_UP}
	c=${c//@USER@/$USERLINE}
	printf '%s\n' "$c" >"$2"
}
wait_port() { # wait_port PORT PID
	local i
	for i in $(seq 100); do
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
		kill -0 "$2" 2>/dev/null || die "process $2 for port $1 exited"
		sleep 0.05
	done
	die "nothing listening on $1"
}
start_nginx() { # start_nginx NAME TEMPLATE PORT
	fill "$HERE/$2" "$WORK/$1.conf" "$3"
	"$NGINX" -p "$WORK" -c "$WORK/$1.conf" -e "$WORK/$1-stderr.log" -g 'daemon off;' &
	PIDS+=($!)
	wait_port "$3" $!
}
AIRI_PID=
start_airi() { # start_airi NAME PORT STORE UPSTREAM_PORT [PROXY OPTIONS...]
	"$AIRI" proxy --listen "127.0.0.1:$2" --upstream "http://127.0.0.1:$4" \
		--store "$3" "${@:5}" 2>"$OUT/$1.log" &
	AIRI_PID=$!
	PIDS+=($AIRI_PID)
	wait_port "$2" $AIRI_PID
}
stop_airi() { # stop_airi: SIGTERM, wait for the clean exit
	kill -TERM "$AIRI_PID"
	local rc=0
	wait "$AIRI_PID" || rc=$?
	((rc == 0)) || echo "   !! airi proxy exited with status $rc"
}
SAMPLER=
sample_rss() { # sample_rss PID FILE: ps -o rss every second, in the background
	(while kill -0 "$1" 2>/dev/null; do ps -o rss= -p "$1" >>"$2" || true; sleep 1; done) &
	SAMPLER=$!
}
stop_sampler() { kill "$SAMPLER" 2>/dev/null || true; wait "$SAMPLER" 2>/dev/null || true; }
peak() { sort -n "$1" | tail -1 | tr -d ' '; }
half() { sed -n "$((($(wc -l <"$1") + 1) / 2))p" "$1" | tr -d ' '; } # the middle sample
flat() { # flat FILE: OK when the last sample is within 10% of the middle one
	local h l
	h=$(half "$1") l=$(tail -1 "$1" | tr -d ' ')
	((l * 10 <= h * 11)) && echo OK || echo FAIL
}
# Under load the store's SQLite page cache fills (PRAGMA cache_size=-262144
# in lib/store_sqlite.c: up to 256 MiB for the writer's connection), so RSS
# climbs with every run written until that plateau (about 310 MiB with a
# 90 s wrk run); the check is that it stays under that bound.
RSS_BOUND=${RSS_BOUND:-$((330 * 1024))} # KiB
under() { (($(peak "$1") <= RSS_BOUND)) && echo OK || echo FAIL; }
growth() { # KiB/s between the second sample and the last
	local n a b
	n=$(wc -l <"$1") a=$(sed -n 2p "$1" | tr -d ' ') b=$(tail -1 "$1" | tr -d ' ')
	((n > 2)) && echo "grows $(((b - a) / (n - 2))) KiB/s" || echo "too few samples"
}
first() { head -1 "$1" | tr -d ' '; }
health() { curl -s "http://127.0.0.1:$1/airi/v1/health"; }
drain() { # drain PORT: until airi has no call in flight
	local i
	for i in $(seq 200); do
		[[ $(health "$1") == *'"inflight":0,'* ]] && return 0
		sleep 0.05
	done
	echo "   !! airi still has calls in flight: $(health "$1")"
}
runs() { "$AIRI" log --store "$1" --json | grep -c '"run"' || true; }
sanity() { # sanity NAME PORT: one call, must be 200 with a body (and airi's headers)
	local h
	h=$(curl -s -D - -o "$WORK/sanity.json" -H 'Content-Type: application/json' \
		--data-binary @"$BODY" "http://127.0.0.1:$2/v1/chat/completions")
	[[ $h == "HTTP/1.1 200"* ]] || die "$1: $h"
	if [[ $1 == airi* ]]; then
		[[ $h == *Airi-Run-Id:* ]] || die "$1: no Airi-Run-Id in $h"
		grep -q '"airi":{"run":"sha256:' "$WORK/sanity.json" || die "$1: body not stamped"
	fi
}

# Portkey routes by request headers: provider openai, base URL the given
# upstream (127.0.0.1 is on its default list of trusted custom hosts).
pk_headers() { # pk_headers UPSTREAM_PORT: the lines for $EXTRA_HEADERS
	printf 'x-portkey-provider: openai\nx-portkey-custom-host: http://127.0.0.1:%s/v1\n' "$1"
}
PK_PID=
NOTES=() # Portkey's results that are reported, not checked
note() {
	NOTES+=("$1")
	echo "   portkey: $1"
}
start_portkey() { # start_portkey: in the background on $P_PK; PORTKEY=no when it does not come up
	# --headless: no web UI (the only place its request log goes). Its
	# CLI has no listen address: it listens on all interfaces, on $P_PK.
	node "$PK_JS" --port="$P_PK" --headless >"$OUT/portkey.log" 2>&1 &
	PK_PID=$!
	PIDS+=($PK_PID)
	local i
	for i in $(seq 200); do
		(exec 3<>"/dev/tcp/127.0.0.1/$P_PK") 2>/dev/null && return 0
		kill -0 "$PK_PID" 2>/dev/null || break
		sleep 0.05
	done
	echo "run.sh: Portkey did not come up on :$P_PK (see $OUT/portkey.log): going on without it"
	kill "$PK_PID" 2>/dev/null || true
	PORTKEY=no
}

say "starting: upstream nginx :$P_UP, nginx proxy :$P_NGX, airi proxy :$P_AIRI$([[ $PORTKEY == yes ]] && echo ", portkey :$P_PK")"
start_nginx upstream nginx-upstream.conf "$P_UP"
start_nginx proxy nginx-proxy.conf "$P_NGX"
start_airi airi-sat "$P_AIRI" "$OUT/sat.db" "$P_UP"
A_SAT=$AIRI_PID
start_airi airi-jsat "$P_AIRI4" "$OUT/sat-journal.db" "$P_UP" --journal "$OUT/sat.journal"
A_JSAT=$AIRI_PID
AIRI_PID=$A_SAT
[[ $PORTKEY == yes ]] && start_portkey
sanity direct "$P_UP"
cp "$WORK/sanity.json" "$WORK/sanity-direct.json"
sanity nginx "$P_NGX"
sanity airi "$P_AIRI"
sanity airi-journal "$P_AIRI4"
echo "one call to each answered 200; airi's reply carries Airi-Run-Id and the airi member"
if [[ $PORTKEY == yes ]]; then
	# through Portkey the reply must be the upstream's, byte for byte but
	# for the id (the upstream makes every id unique)
	h=$(curl -s -D - -o "$WORK/sanity-portkey.json" -H 'Content-Type: application/json' \
		-H 'Authorization: Bearer sk-bench' -H 'x-portkey-provider: openai' \
		-H "x-portkey-custom-host: http://127.0.0.1:$P_UP/v1" \
		--data-binary @"$BODY" "http://127.0.0.1:$P_PK/v1/chat/completions" || true)
	noid() { sed 's/chatcmpl-[0-9a-f]*/chatcmpl-ID/' "$1"; }
	if [[ $h != "HTTP/1.1 200"* ]]; then
		echo "run.sh: Portkey's sanity call failed: going on without it: $(head -c 300 "$WORK/sanity-portkey.json") $(tail -5 "$OUT/portkey.log")"
		PORTKEY=no
		kill "$PK_PID" 2>/dev/null || true
	elif ! cmp -s <(noid "$WORK/sanity-direct.json") <(noid "$WORK/sanity-portkey.json"); then
		echo "run.sh: Portkey changed the reply: going on without it:"
		diff <(noid "$WORK/sanity-direct.json") <(noid "$WORK/sanity-portkey.json") | head -5 || true
		PORTKEY=no
		kill "$PK_PID" 2>/dev/null || true
	else
		echo "one call through Portkey answered 200 with the upstream's reply unchanged (but for its unique id)"
	fi
fi

declare -A R # results
CHECKS=()
check() { # check OK|FAIL TEXT
	CHECKS+=("$1: $2")
	echo "   $1: $2"
}

# ---- 1. saturation --------------------------------------------------------------
if [[ $SKIP != *,sat,* ]]; then
	say "1. saturation: wrk -t2 -c64 -d${SAT_SECS}s, POST ${BODY##*/} ($(stat -c %s "$BODY") B)"
	targets=(direct nginx airi airi-journal)
	[[ $PORTKEY == yes ]] && targets+=(portkey)
	for t in "${targets[@]}"; do
		xh=
		case $t in direct) p=$P_UP ;; nginx) p=$P_NGX ;; airi) p=$P_AIRI ;; airi-journal) p=$P_AIRI4 ;; portkey) p=$P_PK xh=$(pk_headers "$P_UP") ;; esac
		[[ $t == airi ]] && sample_rss "$AIRI_PID" "$OUT/sat.rss"
		[[ $t == airi-journal ]] && sample_rss "$A_JSAT" "$OUT/sat-journal.rss"
		if [[ $t == portkey ]]; then
			# node compiles its hot code while it runs: 3 s of the same load,
			# not counted, so that the figures are those of a warm gateway
			BODY_FILE=$BODY EXTRA_HEADERS=$xh wrk -t2 -c64 -d3s -s "$HERE/post.lua" \
				"http://127.0.0.1:$p/v1/chat/completions" >"$OUT/wrk-portkey-warmup.log" || true
			sample_rss "$PK_PID" "$OUT/sat-portkey.rss"
		fi
		line=$(BODY_FILE=$BODY EXTRA_HEADERS=$xh wrk -t2 -c64 -d"${SAT_SECS}s" -s "$HERE/post.lua" \
			"http://127.0.0.1:$p/v1/chat/completions" | tee "$OUT/wrk-$t.log" | grep '^requests=')
		[[ $t == airi || $t == airi-journal || $t == portkey ]] && stop_sampler
		R[sat_$t]=$(kv rps "$line")
		R[sat_${t}_p50]=$(kv p50_ms "$line")
		R[sat_${t}_p99]=$(kv p99_ms "$line")
		R[sat_${t}_ok]=$(kv ok2xx "$line")
		R[sat_${t}_req]=$(kv requests "$line")
		R[sat_${t}_err]=$(($(kv status_errors "$line") + $(kv socket_errors "$line")))
		printf '   %-12s %8s req/s  p50 %s ms  p99 %s ms  (%s requests, %s 2xx, %s errors)\n' \
			"$t" "${R[sat_$t]}" "${R[sat_${t}_p50]}" "${R[sat_${t}_p99]}" \
			"${R[sat_${t}_req]}" "${R[sat_${t}_ok]}" "${R[sat_${t}_err]}"
	done
	R[sat_ratio]=$(python3 -c "print(f'{${R[sat_airi]}/${R[sat_nginx]}:.2f}')")
	R[sat_jratio]=$(python3 -c "print(f'{${R[sat_airi-journal]}/${R[sat_nginx]}:.2f}')")
	echo "   airi/nginx: ${R[sat_ratio]}, airi-journal/nginx: ${R[sat_jratio]}"
	if [[ $PORTKEY == yes ]]; then
		R[sat_pk_ratio]=$(python3 -c "print(f'{${R[sat_portkey]}/${R[sat_nginx]}:.3f}')" 2>/dev/null || echo '?')
		R[sat_pk_rss_first]=$(first "$OUT/sat-portkey.rss")
		R[sat_pk_rss_peak]=$(peak "$OUT/sat-portkey.rss")
		echo "   portkey/nginx: ${R[sat_pk_ratio]}"
		note "saturation: ${R[sat_portkey]} req/s (${R[sat_pk_ratio]}x nginx), ${R[sat_portkey_ok]} 2xx of ${R[sat_portkey_req]}, ${R[sat_portkey_err]} errors; RSS ${R[sat_pk_rss_first]} -> ${R[sat_pk_rss_peak]} KiB"
	fi
	drain "$P_AIRI"
	h=$(health "$P_AIRI")
	n=$(runs "$OUT/sat.db")
	calls=$(sed 's/.*"calls":\([0-9]*\).*/\1/' <<<"$h")
	rec=$(sed 's/.*"recorded":\([0-9]*\).*/\1/' <<<"$h")
	R[sat_runs]=$n
	R[sat_rss_peak]=$(peak "$OUT/sat.rss")
	R[sat_rss_first]=$(first "$OUT/sat.rss")
	echo "   airi health: $h"
	check "$(under "$OUT/sat.rss")" "saturation: airi RSS $(tr '\n' ' ' <"$OUT/sat.rss" | sed 's/ *$//') KiB, once a second: $(growth "$OUT/sat.rss") (peak under $((RSS_BOUND / 1024)) MiB)"
	echo "   store: $n runs; wrk counted ${R[sat_airi_ok]} 2xx (+1 sanity call); airi RSS ${R[sat_rss_first]} -> ${R[sat_rss_peak]} KiB (first -> peak sample)"
	# wrk drops the calls in flight when its time is up without counting them;
	# airi records those too, so the store may hold up to 64 more than wrk saw
	extra=$((n - 1 - ${R[sat_airi_ok]}))
	if ((n == calls && n == rec && extra >= 0 && extra <= 64 && ${R[sat_airi_err]} == 0)); then
		check OK "saturation: every call recorded ($n runs = $calls calls = $rec recorded; $extra were in flight when wrk stopped)"
	else
		check FAIL "saturation: $n runs in the store, airi counted $calls calls / $rec recorded, wrk ${R[sat_airi_ok]} 2xx + 1 and ${R[sat_airi_err]} errors"
	fi
	# the journal's proxy: a clean stop records everything the journal holds
	drain "$P_AIRI4"
	h=$(health "$P_AIRI4")
	echo "   airi-journal health: $h"
	calls=$(sed 's/.*"calls":\([0-9]*\).*/\1/' <<<"$h")
	AIRI_PID=$A_JSAT
	stop_airi
	n=$(runs "$OUT/sat-journal.db")
	extra=$((n - 1 - ${R[sat_airi-journal_ok]}))
	check "$(under "$OUT/sat-journal.rss")" "saturation: airi-journal RSS $(first "$OUT/sat-journal.rss") -> $(peak "$OUT/sat-journal.rss") KiB (peak under $((RSS_BOUND / 1024)) MiB)"
	if ((n == calls && extra >= 0 && extra <= 64 && ${R[sat_airi-journal_err]} == 0)); then
		check OK "saturation (airi-journal): every call recorded ($n runs = $calls calls; $extra were in flight when wrk stopped)"
	else
		check FAIL "saturation (airi-journal): $n runs in the store, airi counted $calls calls, wrk ${R[sat_airi-journal_ok]} 2xx + 1 and ${R[sat_airi-journal_err]} errors"
	fi
	AIRI_PID=$A_SAT
fi
stop_airi
if [[ $SKIP == *,sat,* ]]; then AIRI_PID=$A_JSAT; stop_airi; fi

# ---- 2. latency at a fixed rate ---------------------------------------------------
if [[ $SKIP != *,rate,* ]]; then
	say "2. latency at $RATE req/s for ${RATE_SECS}s (+1 s warm-up), $RATE_CONNS keep-alive connections, ratecli"
	start_airi airi-rate "$P_AIRI2" "$OUT/rate.db" "$P_UP"
	A_DISK=$AIRI_PID
	start_airi airi-shm "$P_AIRI3" "$SHM/rate.db" "$P_UP"
	A_SHM=$AIRI_PID
	start_airi airi-journal "$P_AIRI4" "$OUT/rate-journal.db" "$P_UP" --journal "$OUT/rate.journal"
	A_JRN=$AIRI_PID
	rtargets=(direct nginx airi airi-shm airi-journal)
	[[ $PORTKEY == yes ]] && rtargets+=(portkey)
	# Portkey again at $PK_RATE req/s, and direct at that rate to compare with
	[[ $PORTKEY == yes ]] && ((PK_RATE > 0)) && rtargets+=(direct@$PK_RATE portkey@$PK_RATE)
	for t in "${rtargets[@]}"; do
		xh= rate=$RATE
		[[ $t == *@* ]] && rate=$PK_RATE
		case $t in direct*) p=$P_UP ;; nginx) p=$P_NGX ;; airi) p=$P_AIRI2 ;; airi-shm) p=$P_AIRI3 ;; airi-journal) p=$P_AIRI4 ;; portkey*) p=$P_PK xh=$(pk_headers "$P_UP") ;; esac
		[[ $t == airi ]] && sample_rss "$A_DISK" "$OUT/rate.rss"
		[[ $t == portkey ]] && sample_rss "$PK_PID" "$OUT/rate-portkey.rss"
		line=$(EXTRA_HEADERS=$xh "$WORK/ratecli" 127.0.0.1 "$p" /v1/chat/completions "$BODY" "$rate" "$RATE_SECS" "$RATE_CONNS" 1 || true)
		[[ $t == airi || $t == portkey ]] && stop_sampler
		echo "$line" >"$OUT/ratecli-${t/@/-}.log"
		for k in p50_ms p99_ms p999_ms max_ms ok2xx errors lost late rate sent; do
			R[rate_${t}_$k]=$(kv $k "$line")
		done
		printf '   %-8s p50 %s ms  p99 %s ms  p99.9 %s ms  max %s ms  (%s sent, %s 2xx, %s errors, %s lost, %s sent >1 ms late)\n' \
			"$t" "${R[rate_${t}_p50_ms]}" "${R[rate_${t}_p99_ms]}" "${R[rate_${t}_p999_ms]}" "${R[rate_${t}_max_ms]}" \
			"${R[rate_${t}_sent]}" "${R[rate_${t}_ok2xx]}" "${R[rate_${t}_errors]}" "${R[rate_${t}_lost]}" "${R[rate_${t}_late]}"
	done
	for t in "${rtargets[@]:1}"; do
		[[ $t == direct* ]] && continue
		d=direct
		[[ $t == *@* ]] && d=direct@${t#*@}
		R[add_${t}_p50]=$(python3 -c "print(f'{${R[rate_${t}_p50_ms]}-${R[rate_${d}_p50_ms]}:.3f}')" 2>/dev/null || echo '?')
		R[add_${t}_p99]=$(python3 -c "print(f'{${R[rate_${t}_p99_ms]}-${R[rate_${d}_p99_ms]}:.3f}')" 2>/dev/null || echo '?')
		echo "   added over direct, $t: p50 ${R[add_${t}_p50]} ms, p99 ${R[add_${t}_p99]} ms"
	done
	for t in airi airi-shm airi-journal; do
		case $t in
		airi) AIRI_PID=$A_DISK p=$P_AIRI2 db=$OUT/rate.db ;;
		airi-shm) AIRI_PID=$A_SHM p=$P_AIRI3 db=$SHM/rate.db ;;
		*) AIRI_PID=$A_JRN p=$P_AIRI4 db=$OUT/rate-journal.db ;;
		esac
		drain "$p"
		stop_airi
		n=$(runs "$db")
		want=$((${R[rate_${t}_ok2xx]:-0} + 0))
		if ((n == want && ${R[rate_${t}_errors]:-1} == 0 && ${R[rate_${t}_lost]:-1} == 0)); then
			check OK "fixed rate ($t): store has exactly $n runs = $want 2xx replies"
		else
			check FAIL "fixed rate ($t): store has $n runs, ratecli counted $want 2xx, ${R[rate_${t}_errors]} errors, ${R[rate_${t}_lost]} lost"
		fi
	done
	check "$(under "$OUT/rate.rss")" "fixed rate: airi RSS $(first "$OUT/rate.rss") -> $(peak "$OUT/rate.rss") KiB: $(growth "$OUT/rate.rss") (peak under $((RSS_BOUND / 1024)) MiB)"
	R[rate_rss_peak]=$(peak "$OUT/rate.rss")
	R[rate_rss_first]=$(first "$OUT/rate.rss")
	echo "   airi RSS at $RATE req/s: ${R[rate_rss_first]} -> ${R[rate_rss_peak]} KiB"
	if [[ $PORTKEY == yes ]]; then
		R[rate_pk_rss_first]=$(first "$OUT/rate-portkey.rss")
		R[rate_pk_rss_peak]=$(peak "$OUT/rate-portkey.rss")
		note "$RATE req/s: achieved ${R[rate_portkey_rate]} req/s, ${R[rate_portkey_ok2xx]} 2xx of ${R[rate_portkey_sent]} sent, ${R[rate_portkey_errors]} errors, ${R[rate_portkey_lost]} lost, ${R[rate_portkey_late]} sent >1 ms late; added p50 ${R[add_portkey_p50]} ms, p99 ${R[add_portkey_p99]} ms; RSS ${R[rate_pk_rss_first]} -> ${R[rate_pk_rss_peak]} KiB"
		if ((PK_RATE > 0)); then
			t=portkey@$PK_RATE
			note "$PK_RATE req/s: achieved ${R[rate_${t}_rate]} req/s, ${R[rate_${t}_ok2xx]} 2xx of ${R[rate_${t}_sent]} sent, ${R[rate_${t}_errors]} errors, ${R[rate_${t}_lost]} lost; added p50 ${R[add_${t}_p50]} ms, p99 ${R[add_${t}_p99]} ms over direct at $PK_RATE req/s"
		fi
	fi
fi

# ---- 3. slow streams -------------------------------------------------------------
if [[ $SKIP != *,streams,* ]]; then
	say "3. $STREAMS concurrent streams through airi, one SSE chunk a second for ${STREAM_CHUNKS}s"
	node "$HERE/streams.js" upstream "$P_SSE" "$STREAM_CHUNKS" 1000 >"$OUT/sse-upstream.log" 2>&1 &
	PIDS+=($!)
	wait_port "$P_SSE" $!
	start_airi airi-streams "$P_AIRI" "$OUT/streams.db" "$P_SSE"
	sleep 0.2
	R[st_rss_idle]=$(ps -o rss= -p "$AIRI_PID" | tr -d ' ')
	sample_rss "$AIRI_PID" "$OUT/streams.rss"
	line=$(node "$HERE/streams.js" client "http://127.0.0.1:$P_AIRI/v1/chat/completions" \
		"$STREAMS" "$STREAM_CHUNKS" "$BODY" $((STREAM_CHUNKS + 40)) || true)
	echo "$line" >"$OUT/streams-client.log"
	alive=yes
	kill -0 "$AIRI_PID" 2>/dev/null || alive=no
	[[ $alive == yes ]] && drain "$P_AIRI"
	stop_sampler
	R[st_rss_peak]=$(peak "$OUT/streams.rss")
	R[st_rss_end]=$(tail -1 "$OUT/streams.rss" | tr -d ' ')
	R[st_per]=$(((${R[st_rss_peak]:-0} - ${R[st_rss_idle]:-0}) / STREAMS))
	check "$(flat "$OUT/streams.rss")" "streams: airi RSS bounded: $(half "$OUT/streams.rss") KiB at half time, ${R[st_rss_end]} KiB at the end (peak ${R[st_rss_peak]}, about ${R[st_per]} KiB a stream)"
	echo "   client: $line"
	echo "   airi RSS: idle ${R[st_rss_idle]} KiB, peak ${R[st_rss_peak]} KiB, at the end ${R[st_rss_end]} KiB ($(wc -l <"$OUT/streams.rss") samples, $OUT/streams.rss)"
	echo "   airi health: $( [[ $alive == yes ]] && health "$P_AIRI" || echo 'airi is gone')"
	[[ $alive == yes ]] && stop_airi || echo "   !! airi proxy died: $(tail -3 "$OUT/airi-streams.log")"
	n=$(runs "$OUT/streams.db")
	ok=$(sed -n 's/.*"ok":\([0-9]*\).*/\1/p' <<<"$line")
	dr=$(sed -n 's/.*"distinct_runs":\([0-9]*\).*/\1/p' <<<"$line")
	R[st_ok]=${ok:-0}
	R[st_runs]=$n
	R[st_all_ms]=$(sed -n 's/.*"all_headers_ms":\([0-9a-z]*\).*/\1/p' <<<"$line")
	R[st_slowest]=$(sed -n 's/.*"slowest_ms":\([0-9]*\).*/\1/p' <<<"$line")
	if ((${R[st_ok]} == STREAMS && n == STREAMS && ${dr:-0} == STREAMS)); then
		check OK "streams: all $STREAMS complete with identity and [DONE]; store has $n runs"
	else
		check FAIL "streams: ${R[st_ok]} of $STREAMS complete, store has $n runs, ${dr:-0} distinct run ids in replies"
	fi
	if [[ $PORTKEY == yes ]]; then
		# the same streams through Portkey to the same SSE upstream; every
		# stream is checked as for airi but for airi's identity
		R[pk_st_rss_idle]=$(ps -o rss= -p "$PK_PID" | tr -d ' ' || true)
		sample_rss "$PK_PID" "$OUT/streams-portkey.rss"
		line=$(EXTRA_HEADERS=$(pk_headers "$P_SSE") STREAMS_IDENTITY=0 node "$HERE/streams.js" client \
			"http://127.0.0.1:$P_PK/v1/chat/completions" "$STREAMS" "$STREAM_CHUNKS" "$BODY" $((STREAM_CHUNKS + 40)) || true)
		stop_sampler
		echo "$line" >"$OUT/streams-portkey-client.log"
		R[pk_st_ok]=$(sed -n 's/.*"ok":\([0-9]*\).*/\1/p' <<<"$line")
		R[pk_st_all_ms]=$(sed -n 's/.*"all_headers_ms":\([0-9a-z]*\).*/\1/p' <<<"$line")
		R[pk_st_slowest]=$(sed -n 's/.*"slowest_ms":\([0-9]*\).*/\1/p' <<<"$line")
		R[pk_st_failures]=$(sed -n 's/.*"failures":\({[^}]*}\).*/\1/p' <<<"$line")
		R[pk_st_rss_peak]=$(peak "$OUT/streams-portkey.rss")
		echo "   portkey client: $line" | cut -c 1-1500
		kill -0 "$PK_PID" 2>/dev/null || echo "   !! portkey is gone: $(tail -3 "$OUT/portkey.log")"
		note "streams: ${R[pk_st_ok]:-0}/$STREAMS complete (failures ${R[pk_st_failures]:-?}), all response headers after ${R[pk_st_all_ms]} ms, slowest ${R[pk_st_slowest]} ms; RSS idle ${R[pk_st_rss_idle]} -> peak ${R[pk_st_rss_peak]} KiB"
	fi
fi

# ---- summary ---------------------------------------------------------------------
say "results (markdown, also in $OUT/results.md)"
{
	echo "Machine: $CPU, $(nproc) cores; load before $LOAD0, after $(load). $(date -u +%Y-%m-%d)."
	echo
	if [[ $SKIP != *,sat,* ]]; then
		echo "| saturation (wrk -t2 -c64 -d${SAT_SECS}s) | req/s | p50 ms | p99 ms |"
		echo "|---|---:|---:|---:|"
		for t in direct nginx airi airi-journal; do
			echo "| $t | ${R[sat_$t]} | ${R[sat_${t}_p50]} | ${R[sat_${t}_p99]} |"
		done
		[[ $PORTKEY == yes ]] && echo "| portkey | ${R[sat_portkey]} | ${R[sat_portkey_p50]} | ${R[sat_portkey_p99]} |"
		echo "| **airi / nginx** | **${R[sat_ratio]}** | | |"
		echo "| **airi-journal / nginx** | **${R[sat_jratio]}** | | |"
		[[ $PORTKEY == yes ]] && echo "| **portkey / nginx** | **${R[sat_pk_ratio]}** | | |"
		echo
	fi
	if [[ $SKIP != *,rate,* ]]; then
		echo "| $RATE req/s, ${RATE_SECS} s | p50 ms | p99 ms | p99.9 ms | max ms | added p50 ms | added p99 ms |"
		echo "|---|---:|---:|---:|---:|---:|---:|"
		echo "| direct | ${R[rate_direct_p50_ms]} | ${R[rate_direct_p99_ms]} | ${R[rate_direct_p999_ms]} | ${R[rate_direct_max_ms]} | | |"
		for t in "${rtargets[@]:1}"; do
			echo "| ${t/@/ at } | ${R[rate_${t}_p50_ms]} | ${R[rate_${t}_p99_ms]} | ${R[rate_${t}_p999_ms]} | ${R[rate_${t}_max_ms]} | ${R[add_${t}_p50]:-} | ${R[add_${t}_p99]:-} |"
		done
		echo
	fi
	echo "| RSS (ps, KiB) | first sample | peak |"
	echo "|---|---:|---:|"
	[[ $SKIP != *,sat,* ]] && echo "| airi, saturation | ${R[sat_rss_first]} | ${R[sat_rss_peak]} |"
	[[ $SKIP != *,rate,* ]] && echo "| airi, $RATE req/s | ${R[rate_rss_first]} | ${R[rate_rss_peak]} |"
	[[ $SKIP != *,streams,* ]] && echo "| airi, $STREAMS streams x ${STREAM_CHUNKS} s | ${R[st_rss_idle]} (idle) | ${R[st_rss_peak]} |"
	if [[ $PORTKEY == yes ]]; then
		[[ $SKIP != *,sat,* ]] && echo "| portkey, saturation | ${R[sat_pk_rss_first]} | ${R[sat_pk_rss_peak]} |"
		[[ $SKIP != *,rate,* ]] && echo "| portkey, $RATE req/s | ${R[rate_pk_rss_first]} | ${R[rate_pk_rss_peak]} |"
		[[ $SKIP != *,streams,* ]] && echo "| portkey, $STREAMS streams | ${R[pk_st_rss_idle]} (idle) | ${R[pk_st_rss_peak]} |"
	fi
	echo
	[[ $SKIP != *,streams,* ]] && echo "Streams: ${R[st_ok]}/$STREAMS complete, ${R[st_runs]} runs recorded, all response headers after ${R[st_all_ms]} ms, slowest stream ${R[st_slowest]} ms." && echo
	echo "Goals:"
	if [[ $SKIP != *,rate,* ]]; then
		for t in airi airi-shm airi-journal; do
			g=no; python3 -c "import sys; sys.exit(0 if ${R[add_${t}_p99]} <= 0.3 else 1)" && g=yes
			echo "- added p99 <= 0.3 ms at $RATE req/s ($t): ${R[add_${t}_p99]} ms -> met: $g"
		done
	fi
	if [[ $SKIP != *,sat,* ]]; then
		g=no; python3 -c "import sys; sys.exit(0 if ${R[sat_ratio]} >= 0.8 else 1)" && g=yes
		echo "- saturation >= 0.8x nginx: ${R[sat_ratio]}x -> met: $g"
		g=no; python3 -c "import sys; sys.exit(0 if ${R[sat_jratio]} >= 0.8 else 1)" && g=yes
		echo "- saturation >= 0.8x nginx (airi-journal): ${R[sat_jratio]}x -> met: $g"
	fi
	if [[ $SKIP != *,streams,* ]]; then
		g=no; [[ ${R[st_ok]} == "$STREAMS" && ${R[st_runs]} == "$STREAMS" && $(flat "$OUT/streams.rss") == OK ]] && g=yes
		echo "- $STREAMS slow streams, all complete and recorded, RSS flat: peak ${R[st_rss_peak]} KiB (~${R[st_per]} KiB a stream) -> met: $g"
	fi
	echo
	if [[ $PORTKEY == yes ]]; then
		echo "Portkey (@portkey-ai/gateway $PK_VERSION; reported, not checked: it stores nothing):"
		for c in "${NOTES[@]}"; do echo "- $c"; done
		echo
	fi
	echo "Checks:"
	for c in "${CHECKS[@]}"; do echo "- $c"; done
	echo
	echo "Run time: $(($(date +%s) - T_BEGIN)) s."
} | tee "$OUT/results.md"
for c in "${CHECKS[@]}"; do [[ $c == OK:* ]] || exit 1; done
