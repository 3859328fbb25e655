#!/bin/sh
# run.sh - checks `airi verify` against the bundle_fail corpus: the good
# bundles must verify (exit status 0) and every tampered one must fail with
# exit status 1 and the reason code and JSON Pointer of expected.txt, both
# on standard error and in the --json output; a crash (exit status 128 or
# more, e.g. a signal) is always a failure. The oversized cases are written
# here into a temporary directory rather than committed. Every *.airi file
# of the corpus must be listed in expected.txt.
#
# Usage: sh tests/vectors/bundle_fail/run.sh PATH/TO/airi
#
# Prints "ok FILE" or "FAIL FILE: why" per case, then a count; exits 1 if
# any case failed. Needs POSIX sh, awk, sed, grep, dd, wc (and uses GNU
# timeout when present).

set -u
set -f

if [ $# -ne 1 ]; then
	echo "usage: $0 PATH/TO/airi" >&2
	exit 2
fi
case $1 in
/*) AIRI=$1 ;;
*) AIRI=$(pwd)/$1 ;;
esac
if [ ! -x "$AIRI" ]; then
	echo "$0: $AIRI is not an executable" >&2
	exit 2
fi
HERE=$(cd "$(dirname "$0")" && pwd)
TMP=$(mktemp -d "${TMPDIR:-/tmp}/airi-bundle-fail.XXXXXX") || exit 2
trap 'rm -rf "$TMP"' EXIT
trap 'exit 130' INT TERM
LC_ALL=C
export LC_ALL
unset AIRI_KEY AIRI_STORE
KEY=$HERE/key.pub
GOOD=$HERE/good.airi
T=
if command -v timeout >/dev/null 2>&1; then
	T="timeout 60"
fi

# ---- the oversized cases -------------------------------------------------

# fill N CHAR: N bytes of CHAR
fill() {
	awk -v n="$1" -v c="$2" 'BEGIN {
		s = c
		while (length(s) < n)
			s = s s
		printf "%s", substr(s, 1, n)
	}'
}

# the model's value "model-3" replaced: before and after it
before=$(sed -e 's/^\(.*"model":{"digest":"[^"]*","value":\)"model-3".*$/\1/' "$GOOD")
after=$(sed -e 's/^.*"model":{"digest":"[^"]*","value":"model-3"\(.*\)$/\1/' "$GOOD")
# 100000 levels of nesting inside a disclosed value
{
	printf '%s' "$before"
	fill 100000 '['
	fill 100000 ']'
	printf '%s' "$after"
} >"$TMP/oversized-depth.airi"
# an 8 MiB disclosed value that does not match its digest
{
	printf '%s"' "$before"
	fill 8388608 'a'
	printf '"%s' "$after"
} >"$TMP/oversized-string.airi"
# a checkpoint note of more than 64 KiB
{
	printf '{"checkpoint":"'
	fill 70000 'a'
	sed -e 's/^{"checkpoint":"//' "$GOOD"
} >"$TMP/oversized-checkpoint.airi"
# 65 proof hashes (at most 64 can be needed)
h0=$(sed -e 's/.*"hashes":\["\([^"]*\)".*/\1/' "$GOOD")
many=
i=0
while [ $i -lt 65 ]; do
	many="$many\"$h0\","
	i=$((i + 1))
done
sed -e "s|\"hashes\":\[[^]]*\]|\"hashes\":[${many%,}]|" "$GOOD" \
	>"$TMP/oversized-proof.airi"
# a valid bundle after 1.5 MiB of blanks (read through mmap)
{
	fill 1572864 ' '
	cat "$GOOD"
} >"$TMP/oversized-padded.airi"
# exactly 2 MiB, blanks then the bundle without its last byte: the parser
# must stop at the end of the mapping
n=$(wc -c <"$GOOD")
{
	fill $((2097152 - n + 1)) ' '
	dd if="$GOOD" bs=$((n - 1)) count=1 2>/dev/null
} >"$TMP/oversized-truncated.airi"
for f in depth string checkpoint proof padded truncated; do
	if [ ! -s "$TMP/oversized-$f.airi" ]; then
		echo "run.sh: could not write oversized-$f.airi" >&2
		exit 2
	fi
done
if [ "$(wc -c <"$TMP/oversized-truncated.airi")" -ne 2097152 ]; then
	echo "run.sh: oversized-truncated.airi is not 2 MiB" >&2
	exit 2
fi

# ---- the cases -------------------------------------------------------------

cases=0
failures=0
listed=" "

ok() {
	cases=$((cases + 1))
	echo "ok   $1"
}

fail() {
	cases=$((cases + 1))
	failures=$((failures + 1))
	echo "FAIL $1: $2"
}

# the pointer as it appears inside a JSON string
json_escape() {
	printf '%s' "$1" | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g'
}

check() { # FILE REASON POINTER
	file=$1
	code=$2
	ptr=$3
	path=$HERE/$file
	[ -f "$path" ] || path=$TMP/$file
	if [ ! -f "$path" ]; then
		fail "$file" "no such file"
		return
	fi
	$T "$AIRI" verify --key "$KEY" "$path" >"$TMP/out" 2>"$TMP/err"
	rc=$?
	if [ $rc -ge 124 ]; then
		fail "$file" "exit status $rc (crash or timeout)"
		return
	fi
	if [ "$code" = ok ]; then
		if [ $rc -ne 0 ]; then
			fail "$file" "exit status $rc, expected 0: $(head -c 300 "$TMP/err")"
		elif ! grep -q '^verified ' "$TMP/out"; then
			fail "$file" "no \"verified\" line"
		else
			ok "$file"
		fi
		return
	fi
	if [ $rc -ne 1 ]; then
		fail "$file" "exit status $rc, expected 1"
		return
	fi
	if [ -s "$TMP/out" ]; then
		fail "$file" "output on stdout without --json"
		return
	fi
	if ! grep -q -F -e "$code" "$TMP/err"; then
		fail "$file" "no $code on stderr: $(head -c 300 "$TMP/err")"
		return
	fi
	if [ -n "$ptr" ] && ! grep -q -F -e "$ptr" "$TMP/err"; then
		fail "$file" "no pointer $ptr on stderr: $(head -c 300 "$TMP/err")"
		return
	fi
	$T "$AIRI" verify --json --key "$KEY" "$path" >"$TMP/out" 2>"$TMP/err"
	rc=$?
	if [ $rc -ne 1 ]; then
		fail "$file" "--json: exit status $rc, expected 1"
		return
	fi
	if ! grep -q -F -e "\"reason\":\"$code\"" "$TMP/out"; then
		fail "$file" "--json: no \"reason\":\"$code\": $(head -c 300 "$TMP/out")"
		return
	fi
	want="\"pointer\":\"$(json_escape "$ptr")\""
	if ! grep -q -F -e "$want" "$TMP/out"; then
		fail "$file" "--json: no $want: $(head -c 300 "$TMP/out")"
		return
	fi
	if [ "$(wc -l <"$TMP/out")" -ne 1 ] ||
		! grep -q '^{"message":".*"}$' "$TMP/out"; then
		fail "$file" "--json: not one JSON line: $(head -c 300 "$TMP/out")"
		return
	fi
	ok "$file"
}

while read -r file code rest; do
	case $file in
	'' | '#'*) continue ;;
	esac
	# a third field is the pointer unless it is a (comment)
	set -- $rest
	ptr=
	case ${1:-} in
	'(' | '('*) ;;
	*) ptr=${1:-} ;;
	esac
	listed="$listed$file "
	check "$file" "$code" "$ptr"
done <"$HERE/expected.txt"

set +f
for f in "$HERE"/*.airi; do
	f=${f##*/}
	case $listed in
	*" $f "*) ;;
	*) fail "$f" "not listed in expected.txt" ;;
	esac
done

echo "$((cases - failures)) passed, $failures failed"
[ $failures -eq 0 ] || exit 1
exit 0
