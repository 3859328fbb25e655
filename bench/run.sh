#!/usr/bin/env bash
# bench/run.sh - airi benchmarks, all in one run so the ratios compare like
# with like. Builds nothing of airi itself (build it first); compiles only
# the small bench/id_rate.c against the library next to the binary.
#
#   bench/run.sh [AIRI_BINARY]          (default: build/airi)
#
# Environment:
#   BENCH_N=1000000     lines in the JSON Lines file for the record benchmark
#   BENCH_PASSES=2      every benchmark runs this many times (passes); the
#                       table shows each pass and flags >10% differences
#   BENCH_SECS=3        seconds per loop in id_rate
#   BENCH_RUNS=5        timed runs per command for the large manifest
#   BENCH_SKIP=         comma list of benchmarks to skip: large,rate,record
#
# Inputs are generated into bench/data/ by bench/gen.py when missing
# (deterministic); scratch stores and logs go to bench/out/. Both are
# gitignored.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
AIRI=${1:-$ROOT/build/airi}
[[ $AIRI == /* ]] || AIRI=$PWD/$AIRI
if [[ ! -x $AIRI ]]; then
	echo "run.sh: no airi binary at $AIRI (build first: cmake -S . -B build && cmake --build build)" >&2
	exit 2
fi
LIBDIR=$(cd "$(dirname "$AIRI")" && pwd)
DATA=$ROOT/bench/data
OUT=$ROOT/bench/out
N=${BENCH_N:-1000000}
PASSES=${BENCH_PASSES:-2}
SECS=${BENCH_SECS:-3}
RUNS=${BENCH_RUNS:-5}
SKIP=",${BENCH_SKIP:-},"
BIG=$DATA/big.json
SMALL=$DATA/small.json
JSONL=$DATA/runs-$N.jsonl
RES=$OUT/results.tsv
mkdir -p "$DATA" "$OUT"
: >"$RES"

say() { printf '\n== %s\n' "$*"; }
note() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$RES"; } # name pass value unit
now_ns() { date +%s%N; }
fsize() { stat -c %s "$1"; }
load() { cut -d' ' -f1-3 /proc/loadavg; }

# ---- inputs ---------------------------------------------------------------
want=()
[[ -s $BIG ]] || want+=(big)
[[ -s $SMALL ]] || want+=(small)
[[ -s $JSONL ]] || want+=(jsonl)
if ((${#want[@]})); then
	say "generating ${want[*]} into $DATA (once)"
	only=$(IFS=,; echo "${want[*]}")
	python3 "$ROOT/bench/gen.py" --out "$DATA" --n "$N" --only "$only"
fi

# ---- the machine ------------------------------------------------------------
CPU=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
CORES=$(nproc)
say "machine"
echo "cpu:      $CPU ($CORES cores online)"
echo "kernel:   $(uname -r)"
echo "airi:     $AIRI ($("$AIRI" --version 2>/dev/null || echo '?'))"
echo "openssl:  $(openssl version)"
echo "sqlite:   $(sqlite3 --version 2>/dev/null | cut -d' ' -f1 || echo '?')"
echo "date:     $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "load:     $(load)"
echo "inputs:   big.json $(fsize "$BIG") B, small.json $(fsize "$SMALL") B, $(basename "$JSONL") $(fsize "$JSONL") B"
note cpu 0 "$CPU" ""
note cores 0 "$CORES" ""
note big_bytes 0 "$(fsize "$BIG")" B
note small_bytes 0 "$(fsize "$SMALL")" B
note jsonl_bytes 0 "$(fsize "$JSONL")" B
note n 0 "$N" lines

# ---- id_rate ------------------------------------------------------------------
IDRATE=$OUT/id_rate
if [[ $SKIP != *,rate,* ]]; then
	if [[ -e $LIBDIR/libairi.so ]]; then
		LINK=(-L "$LIBDIR" -lairi -lcrypto "-Wl,-rpath,$LIBDIR")
	elif [[ -e $LIBDIR/libairi.a ]]; then
		# the build makes a static library only: link its dependencies too
		LINK=("$LIBDIR/libairi.a" -lcrypto $(pkg-config --libs sqlite3 2>/dev/null || echo -lsqlite3) -lpthread -lm)
	else
		echo "run.sh: no libairi.so or libairi.a in $LIBDIR" >&2
		exit 2
	fi
	cc -O2 -std=c11 -I "$ROOT/include" "$ROOT/bench/id_rate.c" "${LINK[@]}" -o "$IDRATE"
	echo "id_rate:  cc -O2 -std=c11 -I include bench/id_rate.c ${LINK[*]}"
fi

# ---- the benchmarks, PASSES times ------------------------------------------------
large() {
	local p=$1
	say "pass $p: large manifest ($(fsize "$BIG") bytes), load $(load)"
	if command -v hyperfine >/dev/null; then
		hyperfine -N --warmup 2 --runs "$RUNS" --style basic \
			--export-json "$OUT/large-$p.json" \
			-n airi "$AIRI id $BIG" \
			-n openssl "openssl dgst -sha256 $BIG" \
			-n sha256sum "sha256sum $BIG"
		python3 - "$OUT/large-$p.json" "$p" >>"$RES" <<-'EOF'
			import json, sys
			r = json.load(open(sys.argv[1]))["results"]
			for x in r:
			    print("large_%s_min\t%s\t%.4f\ts" % (x["command"], sys.argv[2], x["min"]))
			    print("large_%s_mean\t%s\t%.4f\ts" % (x["command"], sys.argv[2], x["mean"]))
		EOF
	else
		local name cmd best t0 t1 i
		for name in airi openssl sha256sum; do
			case $name in
			airi) cmd=("$AIRI" id "$BIG") ;;
			openssl) cmd=(openssl dgst -sha256 "$BIG") ;;
			sha256sum) cmd=(sha256sum "$BIG") ;;
			esac
			"${cmd[@]}" >/dev/null # warm-up: page cache
			best=
			for ((i = 0; i < RUNS; i++)); do
				t0=$(now_ns)
				"${cmd[@]}" >/dev/null
				t1=$(now_ns)
				((best == 0 || t1 - t0 < best)) && best=$((t1 - t0))
			done
			printf '%-10s best of %d: %.4f s\n' "$name" "$RUNS" "$(echo "$best / 1000000000" | bc -l)"
			note "large_${name}_min" "$p" "$(echo "scale=4; $best / 1000000000" | bc -l)" s
		done
	fi
	if [[ -x /usr/bin/time ]]; then
		local rss
		rss=$(/usr/bin/time -f %M "$AIRI" id "$BIG" 2>&1 >/dev/null | tail -1)
		echo "airi id max RSS: $rss KiB"
		note large_airi_rss_kib "$p" "$rss" KiB
	fi
}

rate() {
	local p=$1
	say "pass $p: 4 KB manifest, one thread, ${SECS}s per loop, load $(load)"
	"$IDRATE" "$SMALL" "$SECS" | tee "$OUT/rate-$p.txt"
	awk -v p="$p" '$1=="parse"||$1=="borrow"||$1=="sha256"{sub("/s","",$2); printf "rate_%s\t%s\t%s\t/s\n",$1,p,$2}' \
		"$OUT/rate-$p.txt" >>"$RES"
}

record() {
	local p=$1 store=$OUT/store.db t0 t1 got sz obj bodies
	say "pass $p: airi record --jsonl, $N lines ($(fsize "$JSONL") bytes) into a fresh store, load $(load)"
	rm -f "$store" "$store-wal" "$store-shm"
	sync
	local timer=()
	[[ -x /usr/bin/time ]] && timer=(/usr/bin/time -f '%M %O %U %S' -o "$OUT/record-$p.time")
	t0=$(now_ns)
	"${timer[@]}" "$AIRI" record --store "$store" --jsonl "$JSONL" >"$OUT/ids.txt"
	t1=$(now_ns)
	if [[ -s $OUT/record-$p.time ]]; then
		local rss blk ut st
		read -r rss blk ut st <"$OUT/record-$p.time"
		echo "record: max RSS $((rss / 1024)) MiB, written $((blk * 512 / 1000000)) MB, CPU user $ut s + sys $st s"
		note record_rss_kib "$p" "$rss" KiB
		note record_written_bytes "$p" "$((blk * 512))" B
		note record_cpu_s "$p" "$(echo "$ut + $st" | bc -l)" s
	fi
	got=$(wc -l <"$OUT/ids.txt")
	[[ $got == "$N" ]] || { echo "run.sh: record printed $got IDs, expected $N" >&2; exit 1; }
	sz=0
	for f in "$store" "$store-wal" "$store-shm"; do [[ -e $f ]] && sz=$((sz + $(fsize "$f"))); done
	note record_s "$p" "$(echo "scale=3; ($t1 - $t0) / 1000000000" | bc -l)" s
	note record_rate "$p" "$(echo "scale=0; $N * 1000000000 / ($t1 - $t0)" | bc -l)" /s
	note store_bytes "$p" "$sz" B
	printf 'first record:  %.2f s, %d runs/s, store %d bytes (%.2f x input)\n' \
		"$(echo "($t1 - $t0) / 1000000000" | bc -l)" "$((N * 1000000000 / (t1 - t0)))" "$sz" \
		"$(echo "$sz / $(fsize "$JSONL")" | bc -l)"
	if command -v sqlite3 >/dev/null; then
		read -r obj bodies runs uniq_cond < <(sqlite3 -separator ' ' "$store" \
			"SELECT (SELECT count(*) FROM objects), (SELECT sum(length(body)) FROM objects),
			        (SELECT count(*) FROM runs), (SELECT count(DISTINCT conditions) FROM runs)")
		echo "store: $runs runs, $uniq_cond distinct conditions, $obj objects, $bodies bytes of canonical bodies"
		note store_objects "$p" "$obj" ""
		note store_body_bytes "$p" "$bodies" B
	fi
	# again: every line is already there
	t0=$(now_ns)
	"$AIRI" record --store "$store" --jsonl "$JSONL" >"$OUT/ids2.txt"
	t1=$(now_ns)
	cmp -s "$OUT/ids.txt" "$OUT/ids2.txt" || { echo "run.sh: re-record printed different IDs" >&2; exit 1; }
	note rerecord_s "$p" "$(echo "scale=3; ($t1 - $t0) / 1000000000" | bc -l)" s
	note rerecord_rate "$p" "$(echo "scale=0; $N * 1000000000 / ($t1 - $t0)" | bc -l)" /s
	printf 'second record (all duplicates): %.2f s, %d runs/s\n' \
		"$(echo "($t1 - $t0) / 1000000000" | bc -l)" "$((N * 1000000000 / (t1 - t0)))"
	rm -f "$store" "$store-wal" "$store-shm" "$OUT/ids2.txt"
}

for ((p = 1; p <= PASSES; p++)); do
	[[ $SKIP == *,large,* ]] || large "$p"
	[[ $SKIP == *,rate,* ]] || rate "$p"
	[[ $SKIP == *,record,* ]] || record "$p"
done
note load_end 0 "$(load)" ""

# ---- the table ------------------------------------------------------------------
say "results ($(date -u +%Y-%m-%d), $CPU, $CORES cores; load at end $(load))"
python3 - "$RES" "$PASSES" <<'EOF'
import sys
from collections import defaultdict
res, passes = sys.argv[1], int(sys.argv[2])
v = defaultdict(dict)
for line in open(res):
    name, p, val, unit = line.rstrip("\n").split("\t")
    v[name][int(p)] = val
def f(name, p):
    x = v.get(name, {}).get(p)
    return None if x is None else float(x)
rows = []  # (label, [per pass value], fmt, target)
def row(label, fn, fmt, target=""):
    vals = [fn(p) for p in range(1, passes + 1)]
    rows.append((label, vals, fmt, target))
def ratio(a, b):
    return lambda p: None if f(a, p) is None or f(b, p) is None else f(a, p) / f(b, p)
big = int(v["big_bytes"][0]) / 1e6
row("large %.0f MB: airi id (s, best)" % big, lambda p: f("large_airi_min", p), "%.3f")
row("large: openssl dgst -sha256 (s, best)", lambda p: f("large_openssl_min", p), "%.3f")
row("large: sha256sum (s, best)", lambda p: f("large_sha256sum_min", p), "%.3f")
row("large: airi / openssl", ratio("large_airi_min", "large_openssl_min"), "%.2fx", "<= 2x")
row("large: airi / sha256sum", ratio("large_airi_min", "large_sha256sum_min"), "%.2fx")
row("large: airi id MB/s", lambda p: None if f("large_airi_min", p) is None else big / f("large_airi_min", p), "%.0f")
row("large: airi id max RSS (MiB)", lambda p: None if f("large_airi_rss_kib", p) is None else f("large_airi_rss_kib", p) / 1024, "%.0f")
sb = int(v["small_bytes"][0])
row("4 KB (%d B): identities/s/core" % sb, lambda p: f("rate_parse", p), "%.0f", "report")
row("4 KB: identities/s/core, borrow", lambda p: f("rate_borrow", p), "%.0f")
row("4 KB: plain SHA-256/s/core (EVP)", lambda p: f("rate_sha256", p), "%.0f")
row("4 KB: SHA-256 rate / identity rate", ratio("rate_sha256", "rate_parse"), "%.1fx")
n = int(v["n"][0])
jb = int(v["jsonl_bytes"][0])
row("record %d lines, fresh store (s)" % n, lambda p: f("record_s", p), "%.1f")
row("record: runs/s", lambda p: f("record_rate", p), "%.0f", ">= 20000")
row("record: CPU s (user+sys)", lambda p: f("record_cpu_s", p), "%.1f")
row("record: max RSS (MiB)", lambda p: None if f("record_rss_kib", p) is None else f("record_rss_kib", p) / 1024, "%.0f")
row("record: written to disk (GB)", lambda p: None if f("record_written_bytes", p) is None else f("record_written_bytes", p) / 1e9, "%.1f")
row("record again, all duplicates: runs/s", lambda p: f("rerecord_rate", p), "%.0f")
row("store size / input size (%.0f MB)" % (jb / 1e6), lambda p: None if f("store_bytes", p) is None else f("store_bytes", p) / jb, "%.2f")
row("stored canonical bodies / input size", lambda p: None if f("store_body_bytes", p) is None else f("store_body_bytes", p) / jb, "%.2f")
w = max(len(r[0]) for r in rows)
hdr = "%-*s" % (w, "benchmark") + "".join("%14s" % ("pass %d" % p) for p in range(1, passes + 1)) + "  %-9s %s" % ("target", "note")
print(hdr)
print("-" * len(hdr))
for label, vals, fmt, target in rows:
    if all(x is None for x in vals):
        continue
    cells = "".join("%14s" % ("-" if x is None else fmt % x) for x in vals)
    xs = [x for x in vals if x is not None]
    noisy = len(xs) > 1 and max(xs) > 1.10 * min(xs)
    print("%-*s%s  %-9s %s" % (w, label, cells, target, "passes differ >10%" if noisy else ""))
EOF
echo
echo "raw results: $RES"
