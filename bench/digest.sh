#!/usr/bin/env bash
# bench/digest.sh - `airi digest model` next to sha256sum and openssl on
# multi-GB weight files, all in one run so the ratios compare like with like.
# Builds nothing (build airi first).
#
#   bench/digest.sh [AIRI_BINARY]          (default: build/airi)
#
# Measured, each the best of DIGEST_BENCH_RUNS runs after one untimed
# warm-up run, with the input in the page cache (it is read once with cat
# first, so this measures hashing, not the disk):
#   one file of DIGEST_BENCH_MB MiB:
#     sha256sum F | openssl dgst -sha256 F | airi digest model --no-cache F
#     airi digest model --cache C F, cache cold (C removed before each run)
#     airi digest model --cache C F, cache warm (the unchanged file again)
#   DIGEST_BENCH_FILES files of DIGEST_BENCH_FILE_MB MiB each:
#     sha256sum F1 F2 ... (one core) | the same with xargs -P CORES
#     openssl dgst -sha256 F1 F2 ...
#     airi digest model --no-cache F1 F2 ... (one argument per file)
#     airi digest model --no-cache DIR (a directory: its files are hashed
#       in parallel, one thread per core)
#     airi digest model --cache C DIR, warm
# Then, unless DIGEST_BENCH_COLD=0, one run each of sha256sum, openssl and
# airi --no-cache on the single file with its pages dropped from the page
# cache first (dd iflag=nocache, this file only), i.e. read from the disk.
#
# Every command's digests are checked against sha256sum's (the directory's
# against one computed from sha256sum's per-file digests, docs/spec.md
# appendix A); the script exits 1 if any disagree.
#
# Environment:
#   DIGEST_BENCH_MB=4096       size of the single file (MiB)
#   DIGEST_BENCH_FILES=4       number of files in the multi-file case
#   DIGEST_BENCH_FILE_MB=1024  size of each of those (MiB)
#   DIGEST_BENCH_RUNS=3        timed runs per command (the best is kept)
#   DIGEST_BENCH_COLD=1        also time reads from disk (0: skip)
#
# Inputs are generated once into bench/data/ (gitignored): AES-256-CTR
# keystream from `openssl enc` with a fixed key, so they are random-looking,
# incompressible and the same bytes on every machine. Scratch caches go to
# bench/out/.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
AIRI=${1:-$ROOT/build/airi}
[[ $AIRI == /* ]] || AIRI=$PWD/$AIRI
if [[ ! -x $AIRI ]]; then
	echo "digest.sh: no airi binary at $AIRI (build first: cmake -S . -B build && cmake --build build)" >&2
	exit 2
fi
MB=${DIGEST_BENCH_MB:-4096}
NF=${DIGEST_BENCH_FILES:-4}
FMB=${DIGEST_BENCH_FILE_MB:-1024}
RUNS=${DIGEST_BENCH_RUNS:-3}
COLD=${DIGEST_BENCH_COLD:-1}
DATA=$ROOT/bench/data
OUT=$ROOT/bench/out
BIG=$DATA/digest-${MB}M.bin
MULTI=$DATA/digest-${NF}x${FMB}M
CACHE=$OUT/digest-cache.db
RES=$OUT/digest-results.tsv
CORES=$(nproc)
mkdir -p "$DATA" "$OUT"
: >"$RES"

say() { printf '\n== %s\n' "$*"; }
now_ns() { date +%s%N; }
load() { cut -d' ' -f1-3 /proc/loadavg; }
secs() { awk -v n="$1" 'BEGIN { printf "%.3f", n / 1e9 }'; }
fail=0
bad() { echo "digest.sh: MISMATCH: $*" >&2; fail=1; }

# gen FILE MIB IV: MIB MiB of AES-256-CTR keystream (fixed key, IV per file)
gen() {
	local f=$1 mib=$2 iv=$3
	[[ -f $f && $(stat -c %s "$f") == $((mib * 1048576)) ]] && return 0
	echo "generating $f ($mib MiB)"
	openssl enc -aes-256-ctr -nosalt \
		-K 61697269206469676573742062656e6368206b65792c20333220627974657321 -iv "$iv" </dev/zero 2>/dev/null |
		head -c $((mib * 1048576)) >"$f.tmp" || true
	[[ $(stat -c %s "$f.tmp") == $((mib * 1048576)) ]] || {
		echo "digest.sh: could not generate $f" >&2
		exit 2
	}
	mv "$f.tmp" "$f"
	generated=1
}
generated=0

# ---- room ----------------------------------------------------------------------
need_mb=0
[[ -f $BIG ]] || need_mb=$((need_mb + MB))
[[ -d $MULTI ]] || need_mb=$((need_mb + NF * FMB))
avail_mb=$(($(df -Pk "$DATA" | awk 'NR==2{print $4}') / 1024))
if ((need_mb + 1024 > avail_mb)); then
	echo "digest.sh: need $need_mb MiB in $DATA, only $avail_mb MiB free (lower DIGEST_BENCH_MB / DIGEST_BENCH_FILE_MB)" >&2
	exit 2
fi
mem_mb=$(awk '/^MemAvailable:/{print int($2/1024)}' /proc/meminfo)
if ((MB > mem_mb / 2 || NF * FMB > mem_mb / 2)); then
	echo "warning: $mem_mb MiB of memory available; inputs over half of it may not stay in the page cache" >&2
fi

gen "$BIG" "$MB" 00000000000000000000000000000000
mkdir -p "$MULTI"
for ((i = 1; i <= NF; i++)); do
	gen "$MULTI/part-$i-of-$NF.bin" "$FMB" "$(printf '%032x' "$i")"
done
MFILES=("$MULTI"/part-*-of-"$NF".bin)
# airi caches no digest of a file whose timestamps are under 2 s old when
# its read starts (docs/spec.md appendix A): let fresh inputs age first
((generated)) && sleep 3

say "machine"
echo "cpu:      $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//') ($CORES cores online)"
echo "kernel:   $(uname -r)"
echo "airi:     $AIRI ($("$AIRI" --version 2>/dev/null || echo '?'))"
echo "openssl:  $(openssl version)"
echo "coreutils: $(sha256sum --version | head -1)"
echo "memory:   $(free -g | awk '/^Mem:/{print $2 " GiB total, " $7 " GiB available"}')"
echo "date:     $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "load:     $(load)"
echo "inputs:   $BIG ($MB MiB); $MULTI ($NF x $FMB MiB)"

# hex digests out of each tool's output -------------------------------------------
hex_sha256sum() { cut -c1-64; }
hex_openssl() { sed 's/.*= //'; }       # "SHA2-256(F)= HEX" (or "SHA256(F)= HEX")
hex_airi() { cut -c8-71; }              # "sha256:HEX  PATH"

# timed NAME CMD...: one untimed run, then RUNS timed ones; keeps the best
# wall time in $best_ns and the last stdout in $OUT/digest-last.out. A
# PREP function, when set, runs before every run (untimed).
PREP=
timed() {
	local name=$1 t0 t1 i
	shift
	best_ns=0
	[[ -n $PREP ]] && $PREP
	"$@" >"$OUT/digest-last.out"
	for ((i = 0; i < RUNS; i++)); do
		[[ -n $PREP ]] && $PREP
		t0=$(now_ns)
		"$@" >"$OUT/digest-last.out"
		t1=$(now_ns)
		((best_ns == 0 || t1 - t0 < best_ns)) && best_ns=$((t1 - t0))
	done
	printf '%-34s best of %d: %8.3f s\n' "$name" "$RUNS" "$(secs $best_ns)"
	printf '%s\t%s\n' "$name" "$best_ns" >>"$RES"
}
drop_cache_db() { rm -f "$CACHE" "$CACHE-wal" "$CACHE-shm"; }

# ---- one large file ----------------------------------------------------------------
say "one file, $MB MiB, page cache warm, load $(load)"
cat "$BIG" >/dev/null
timed sha256sum sha256sum "$BIG"
want=$(hex_sha256sum <"$OUT/digest-last.out")
echo "sha256sum: $want"
timed openssl openssl dgst -sha256 "$BIG"
[[ $(hex_openssl <"$OUT/digest-last.out") == "$want" ]] || bad "openssl dgst: $(cat "$OUT/digest-last.out")"
timed airi-no-cache "$AIRI" digest model --no-cache "$BIG"
[[ $(hex_airi <"$OUT/digest-last.out") == "$want" ]] || bad "airi --no-cache: $(cat "$OUT/digest-last.out")"
PREP=drop_cache_db
timed airi-cache-cold "$AIRI" digest model --cache "$CACHE" "$BIG"
PREP=
[[ $(hex_airi <"$OUT/digest-last.out") == "$want" ]] || bad "airi --cache (cold): $(cat "$OUT/digest-last.out")"
timed airi-cache-warm "$AIRI" digest model --cache "$CACHE" "$BIG"
[[ $(hex_airi <"$OUT/digest-last.out") == "$want" ]] || bad "airi --cache (warm): $(cat "$OUT/digest-last.out")"
nocache_ns=$(awk -F'\t' '$1 == "airi-no-cache" { print $2 }' "$RES")
((best_ns * 4 < nocache_ns)) || echo "warning: the warm run is not much faster than --no-cache: was the cache used?" >&2
single_want=$want

# ---- several files -------------------------------------------------------------------
say "$NF files of $FMB MiB, page cache warm, load $(load)"
cat "${MFILES[@]}" >/dev/null
timed multi-sha256sum sha256sum "${MFILES[@]}"
hex_sha256sum <"$OUT/digest-last.out" >"$OUT/digest-multi-want.txt"
xsha() { printf '%s\0' "${MFILES[@]}" | xargs -0 -n1 -P "$CORES" sha256sum | sort -k2; }
timed "multi-sha256sum-xargs-P$CORES" xsha
hex_sha256sum <"$OUT/digest-last.out" | cmp -s - "$OUT/digest-multi-want.txt" || bad "xargs sha256sum"
timed multi-openssl openssl dgst -sha256 "${MFILES[@]}"
hex_openssl <"$OUT/digest-last.out" | cmp -s - "$OUT/digest-multi-want.txt" || bad "openssl dgst (files)"
timed multi-airi-files "$AIRI" digest model --no-cache "${MFILES[@]}"
hex_airi <"$OUT/digest-last.out" | cmp -s - "$OUT/digest-multi-want.txt" || bad "airi (files): $(cat "$OUT/digest-last.out")"
# the directory's digest, from sha256sum's: docs/spec.md appendix A
list='{"files":['
sep=
while read -r h f; do
	list+="$sep{\"digest\":\"sha256:$h\",\"name\":\"${f##*/}\"}"
	sep=,
done < <(sha256sum "${MFILES[@]}" | sort -k2)
list+='],"type":"airi.modeldir/1"}'
dwant=$(printf '%s' "$list" | sha256sum | cut -c1-64)
timed multi-airi-dir "$AIRI" digest model --no-cache "$MULTI"
[[ $(hex_airi <"$OUT/digest-last.out") == "$dwant" ]] || bad "airi (directory): $(cat "$OUT/digest-last.out"), want $dwant"
"$AIRI" digest model --no-cache --json "$MULTI" | grep -o '"digest":"sha256:[0-9a-f]*"' | cut -c18-81 |
	cmp -s - "$OUT/digest-multi-want.txt" || bad "airi --json (directory): file digests differ from sha256sum"
drop_cache_db
"$AIRI" digest model --cache "$CACHE" "$MULTI" >/dev/null
timed multi-airi-dir-cache-warm "$AIRI" digest model --cache "$CACHE" "$MULTI"
[[ $(hex_airi <"$OUT/digest-last.out") == "$dwant" ]] || bad "airi --cache (directory, warm): $(cat "$OUT/digest-last.out")"
drop_cache_db

# ---- from the disk -------------------------------------------------------------------
# dd iflag=nocache count=0 asks the kernel to drop this file's cached pages
# (and nothing else); fincore, when present, shows what is left
evict() { dd if="$BIG" iflag=nocache count=0 status=none; }
resident() { command -v fincore >/dev/null && fincore -n -o RES -b "$BIG" 2>/dev/null | tr -d ' ' || echo '?'; }
if [[ $COLD != 0 ]]; then
	say "one file, $MB MiB, read from disk (its pages dropped before each command), load $(load)"
	for name in sha256sum openssl airi-no-cache; do
		case $name in
		sha256sum) cmd=(sha256sum "$BIG") ;;
		openssl) cmd=(openssl dgst -sha256 "$BIG") ;;
		airi-no-cache) cmd=("$AIRI" digest model --no-cache "$BIG") ;;
		esac
		sync
		evict
		r=$(resident)
		t0=$(now_ns)
		"${cmd[@]}" >"$OUT/digest-last.out"
		t1=$(now_ns)
		printf '%-34s one run:    %8.3f s   (%s bytes cached before)\n' "disk-$name" "$(secs $((t1 - t0)))" "$r"
		printf '%s\t%s\n' "disk-$name" "$((t1 - t0))" >>"$RES"
		case $name in
		sha256sum) got=$(hex_sha256sum <"$OUT/digest-last.out") ;;
		openssl) got=$(hex_openssl <"$OUT/digest-last.out") ;;
		*) got=$(hex_airi <"$OUT/digest-last.out") ;;
		esac
		[[ $got == "$single_want" ]] || bad "$name from disk: $got"
	done
fi

# ---- the table -------------------------------------------------------------------------
say "results ($(date -u +%Y-%m-%d), $CORES cores, load at end $(load))"
awk -F'\t' -v mb="$MB" -v nf="$NF" -v fmb="$FMB" -v runs="$RUNS" '
	{ t[$1] = $2 / 1e9; order[++n] = $1 }
	function row(label, name, bytes, base1, base2,   s) {
		if (!(name in t)) return
		s = t[name]
		# a cache hit reads no bytes: no throughput to show
		printf "| %-56s | %9.3f | %8s | %9s | %9s |\n", label, s, name ~ /warm/ ? "-" : sprintf("%.2f", bytes / s / 1e9),
			(base1 in t) ? ratio(s / t[base1]) : "", (base2 in t) ? ratio(s / t[base2]) : ""
	}
	function ratio(r) { return sprintf(r < 0.1 ? "%.4fx" : "%.2fx", r) }
	END {
		b1 = mb * 1048576; b2 = nf * fmb * 1048576
		printf "| %-56s | %9s | %8s | %9s | %9s |\n", "command (best of " runs ", page cache warm)", "s", "GB/s", "/sha256sum", "/openssl"
		printf "|%s|%s|%s|%s|%s|\n", "----------------------------------------------------------", "----------:", "---------:", "----------:", "----------:"
		l = "one " mb " MiB file: "
		row(l "sha256sum", "sha256sum", b1, "sha256sum", "openssl")
		row(l "openssl dgst -sha256", "openssl", b1, "sha256sum", "openssl")
		row(l "airi digest model --no-cache", "airi-no-cache", b1, "sha256sum", "openssl")
		row(l "airi --cache, cold", "airi-cache-cold", b1, "sha256sum", "openssl")
		row(l "airi --cache, warm (unchanged file)", "airi-cache-warm", b1, "sha256sum", "openssl")
		l = nf " x " fmb " MiB: "
		row(l "sha256sum F...", "multi-sha256sum", b2, "multi-sha256sum", "multi-openssl")
		for (k in t) if (k ~ /^multi-sha256sum-xargs/) { sub(/^multi-sha256sum-xargs-P/, "", k); row(l "xargs -P" k " sha256sum", "multi-sha256sum-xargs-P" k, b2, "multi-sha256sum", "multi-openssl") }
		row(l "openssl dgst -sha256 F...", "multi-openssl", b2, "multi-sha256sum", "multi-openssl")
		row(l "airi --no-cache F... (one argument each)", "multi-airi-files", b2, "multi-sha256sum", "multi-openssl")
		row(l "airi --no-cache DIR", "multi-airi-dir", b2, "multi-sha256sum", "multi-openssl")
		row(l "airi --cache DIR, warm", "multi-airi-dir-cache-warm", b2, "multi-sha256sum", "multi-openssl")
		l = "from disk, one " mb " MiB file (one run): "
		row(l "sha256sum", "disk-sha256sum", b1, "disk-sha256sum", "disk-openssl")
		row(l "openssl", "disk-openssl", b1, "disk-sha256sum", "disk-openssl")
		row(l "airi --no-cache", "disk-airi-no-cache", b1, "disk-sha256sum", "disk-openssl")
	}' "$RES"
echo
echo "raw results (ns): $RES"
if ((fail)); then
	echo "digest.sh: some digests disagree (see above)" >&2
	exit 1
fi
echo "all digests agree with sha256sum"
