#!/bin/sh
# tests/hostile/run.sh - hostile inputs to the airi command.
#
# usage: sh tests/hostile/run.sh PATH/TO/airi
#
# Every rejected input must give exit status 65, exactly one line on
# standard error starting with "airi: ", nothing on standard output, and
# finish within 60 seconds (each case runs under `timeout 60`). Inputs at
# the edge of a limit must be accepted. The exact error line is checked for
# two files in this directory (dup.json, run.json: the example of
# docs/spec.md section 7). A rejected manifest given to `airi record` must
# store nothing.
#
# Prints "ok NAME" or "FAIL NAME: why" per case; exits 1 if any case
# failed, 0 otherwise. Works from any directory; needs only POSIX sh, awk,
# head, tr, od and GNU timeout.

set -u

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
TMP=$(mktemp -d "${TMPDIR:-/tmp}/airi-hostile.XXXXXX") || exit 2
trap 'rm -rf "$TMP"' EXIT
trap 'exit 130' INT TERM
# no store from the caller's environment may be touched
AIRI_STORE=$TMP/default.db
export AIRI_STORE
LC_ALL=C
export LC_ALL

failures=0
cases=0

ok() {
	cases=$((cases + 1))
	echo "ok   $1"
}

fail() {
	cases=$((cases + 1))
	failures=$((failures + 1))
	echo "FAIL $1: $2"
}

# check_reject NAME RC: judges $TMP/out, $TMP/err and the exit status RC of
# a run that must have rejected its input.
check_reject() {
	name=$1
	rc=$2
	if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
		fail "$name" "did not finish within 60 s"
		return
	fi
	if [ "$rc" -ne 65 ]; then
		fail "$name" "exit status $rc, expected 65 (stderr: $(head -c 300 "$TMP/err"))"
		return
	fi
	lines=$(wc -l <"$TMP/err")
	first=$(head -n 1 "$TMP/err" | wc -c)
	all=$(wc -c <"$TMP/err")
	if [ "$lines" -ne 1 ] || [ "$first" -ne "$all" ]; then
		fail "$name" "expected exactly one line on stderr, got $lines line(s), $all bytes"
		return
	fi
	case $(head -n 1 "$TMP/err") in
	"airi: "*) ;;
	*)
		fail "$name" "stderr does not start with 'airi: ': $(head -c 200 "$TMP/err")"
		return
		;;
	esac
	# no raw control bytes (escape sequences, CR, NUL...) reach a terminal
	ctl=$(tr -d '\040-\176\n\200-\377' <"$TMP/err" | wc -c)
	if [ "$ctl" -ne 0 ]; then
		fail "$name" "stderr holds $ctl raw control byte(s)"
		return
	fi
	if [ -s "$TMP/out" ]; then
		fail "$name" "wrote $(wc -c <"$TMP/out") bytes to stdout"
		return
	fi
	ok "$name"
}

# reject NAME FILE [COMMAND]: FILE on standard input of `airi COMMAND -`
# (default: canon) must be rejected.
reject() {
	timeout 60 "$AIRI" "${3:-canon}" - <"$2" >"$TMP/out" 2>"$TMP/err"
	check_reject "$1" $?
}

# reject_bytes NAME PRINTF-FORMAT [COMMAND]: like reject, input written by
# printf.
reject_bytes() {
	printf "$2" >"$TMP/in"
	reject "$1" "$TMP/in" "${3:-canon}"
}

# accept NAME FILE: `airi canon -` must accept FILE and print EXPECT (a
# file) when given.
accept() {
	timeout 60 "$AIRI" canon - <"$2" >"$TMP/out" 2>"$TMP/err"
	rc=$?
	if [ "$rc" -ne 0 ]; then
		fail "$1" "exit status $rc, expected 0 (stderr: $(head -c 300 "$TMP/err"))"
	elif [ -s "$TMP/err" ]; then
		fail "$1" "accepted but wrote to stderr: $(head -c 200 "$TMP/err")"
	elif [ $# -ge 3 ] && ! cmp -s "$TMP/out" "$3"; then
		fail "$1" "canonical output differs from the expected bytes"
	else
		ok "$1"
	fi
}

# repeat N STRING: STRING written N times, no newline.
repeat() {
	awk -v n="$1" -v s="$2" 'BEGIN { for (i = 0; i < n; i++) printf "%s", s }'
}

# ---- size and shape ------------------------------------------------------

# 1 GiB of '[' from a pipe: rejected at depth 1001, in bounded time
head -c 1073741824 /dev/zero | tr '\0' '[' |
	timeout 60 "$AIRI" canon - >"$TMP/out" 2>"$TMP/err"
check_reject "1 GiB of '[' on a pipe" $?

: >"$TMP/in"
reject "empty input" "$TMP/in"
reject "empty input (id)" "$TMP/in" id
reject_bytes "only whitespace" ' \t\r\n\n   \t'

# 1 MiB of deterministic garbage (a 32-bit LCG), on stdin and as a file
# larger than 1 MiB (the command maps those instead of reading them)
awk 'BEGIN {
	x = 20240501
	for (i = 0; i < 1048577; i++) {
		x = (x * 69069 + 1) % 4294967296
		printf "%c", int(x / 16777216) % 255 + 1
	}
}' >"$TMP/garbage"
reject "1 MiB of binary garbage" "$TMP/garbage"
timeout 60 "$AIRI" canon "$TMP/garbage" >"$TMP/out" 2>"$TMP/err"
check_reject "1 MiB of binary garbage (mapped file)" $?
reject "1 MiB of binary garbage (id)" "$TMP/garbage" id

# nesting: 1000 levels are accepted, 1001 rejected
{ repeat 1000 '['; repeat 1000 ']'; } >"$TMP/deep"
accept "1000 nested arrays accepted" "$TMP/deep" "$TMP/deep"
{ repeat 999 '{"a":'; printf '[1]'; repeat 999 '}'; } >"$TMP/deep"
accept "1000 nested objects accepted" "$TMP/deep" "$TMP/deep"
{ repeat 1001 '['; repeat 1001 ']'; } >"$TMP/deep"
reject "1001 nested arrays" "$TMP/deep"
{ repeat 1000 '{"a":'; printf '[1]'; repeat 1000 '}'; } >"$TMP/deep"
reject "1001 nested objects" "$TMP/deep"
{ printf '{"conditions":{"x":'; repeat 999 '['; repeat 999 ']'; printf '}}'; } >"$TMP/deep"
reject "manifest nested 1001 deep (id)" "$TMP/deep" id

# ---- encoding ------------------------------------------------------------

reject_bytes "UTF-8 BOM before {}" '\357\273\277{}'
reject_bytes "overlong C0 AF" '["\300\257"]'
reject_bytes "encoded surrogate ED A0 80" '["\355\240\200"]'
reject_bytes "F5 byte" '["\365\200\200\200"]'
reject_bytes "code point above U+10FFFF (F4 90 80 80)" '["\364\220\200\200"]'
reject_bytes "truncated E2 82" '["\342\202"]'
reject_bytes "truncated E2 82 at end of input" '["\342\202'
reject_bytes "stray continuation 80" '["\200"]'
reject_bytes "invalid UTF-8 outside a string" '[\300\257]'
reject_bytes "invalid UTF-8 in a key" '{"\355\240\200":1}'

# ---- strings -------------------------------------------------------------

reject_bytes "lone high surrogate escape (ud800)" '["\\ud800"]'
reject_bytes "lone low surrogate escape (udc00)" '["\\udc00"]'
reject_bytes "reversed surrogate pair (udc00 ud800)" '["\\udc00\\ud800"]'
reject_bytes "high surrogate then non-surrogate" '["\\ud800\\u0041"]'
reject_bytes "raw tab in a string" '["a\tb"]'
reject_bytes "raw NUL in a string" '["a\000b"]'
reject_bytes "raw line feed in a string" '["a\nb"]'
reject_bytes "invalid escape (backslash x)" '["\\x41"]'
reject_bytes "unterminated string" '["abc'

# ---- objects -------------------------------------------------------------

reject_bytes "duplicate key" '{"a":1,"a":2}'
reject_bytes "duplicate key after unescaping" '{"a":1,"\\u0061":2}'
reject_bytes "duplicate key, escaped surrogate pair vs raw" \
	'{"\360\235\204\236":1,"\\ud834\\udd1e":2}'
reject_bytes "duplicate key deep inside" '[{"x":[{"b":1,"c":2,"b":3}]}]'
# names with control characters end up in the error's JSON Pointer
reject_bytes "error pointer through a name with a line feed" '{"a\\nb":[1,]}'
reject_bytes "error pointer through a name with ESC" '{"\\u001b[2J":{"k":1,"k":2}}'
reject_bytes "error pointer through a name with CR and NUL" '{"\\r\\u0000":[tru]}'

# ---- numbers -------------------------------------------------------------

reject_bytes "1e400" '1e400'
reject_bytes "-1e400" '[-1e400]'
reject_bytes "1.7976931348623159e308 (rounds to infinity)" '[1.7976931348623159e308]'
reject_bytes "9007199254740993" '9007199254740993'
reject_bytes "-9007199254740993" '[-9007199254740993]'
reject_bytes "NaN" '[NaN]'
reject_bytes "Infinity" 'Infinity'
reject_bytes "-Infinity" '[-Infinity]'
reject_bytes "leading zero" '[01]'
reject_bytes "leading plus" '[+1]'
reject_bytes "bare fraction .5" '[.5]'
printf '[9007199254740992,-9007199254740992,1e-400,1.7976931348623157e308]' >"$TMP/in"
printf '[9007199254740992,-9007199254740992,0,1.7976931348623157e+308]' >"$TMP/want"
accept "numbers at the limits accepted" "$TMP/in" "$TMP/want"

# ---- grammar -------------------------------------------------------------

reject_bytes "trailing garbage {} x" '{} x'
reject_bytes "two values" '{} {}'
reject_bytes "trailing comma" '[1,]'
reject_bytes "comment" '[1 /* c */]'
reject_bytes "single quotes" "{'a':1}"
reject_bytes "form feed as whitespace" '\f[]'
reject_bytes "truncated literal" '[tru'
reject_bytes "truncated object" '{"a":1'

# ---- manifests -----------------------------------------------------------

reject_bytes "manifest: not an object (id)" '[]' id
reject_bytes "manifest: empty conditions (id)" '{"conditions":{}}' id
reject_bytes "manifest: bad section name (id)" '{"conditions":{"Params":1}}' id
reject_bytes "manifest: 65-character section name (id)" \
	'{"conditions":{"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa":1}}' id
reject_bytes "manifest: unknown member (id)" '{"conditions":{"a":1},"labels":[]}' id
reject_bytes "manifest: trajectory not an array (id)" '{"conditions":{"a":1},"trajectory":{}}' id

# ---- exact error lines ---------------------------------------------------

# the file name shown is the one given; run from this directory so it is
# predictable
expect_line() {
	name=$1
	want=$2
	shift 2
	(cd "$HERE" && timeout 60 "$AIRI" "$@") >"$TMP/out" 2>"$TMP/err"
	rc=$?
	got=$(cat "$TMP/err")
	if [ "$rc" -ne 65 ]; then
		fail "$name" "exit status $rc, expected 65"
	elif [ "$got" != "$want" ] || [ "$(wc -l <"$TMP/err")" -ne 1 ]; then
		fail "$name" "stderr is '$got', expected '$want'"
	else
		ok "$name"
	fi
}
expect_line "error line: dup.json" \
	'airi: dup.json:1:35 (byte 34): duplicate key "seed" in /conditions/params' \
	id dup.json
expect_line "error line: run.json (docs/spec.md section 7)" \
	'airi: run.json:3:15 (byte 42): duplicate key "seed" in /conditions/params' \
	id run.json
expect_line "error line: run.json from stdin" \
	'airi: <stdin>:3:15 (byte 42): duplicate key "seed" in /conditions/params' \
	id - <"$HERE/run.json"

# ---- a rejected manifest stores nothing ---------------------------------

# no runs: either there is no store, or `airi log` lists nothing
no_runs() {
	name=$1
	db=$2
	timeout 60 "$AIRI" log --store "$db" >"$TMP/log" 2>"$TMP/logerr"
	rc=$?
	if [ ! -e "$db" ] && [ "$rc" -ne 0 ]; then
		ok "$name"
	elif [ "$rc" -eq 0 ] && [ ! -s "$TMP/log" ]; then
		ok "$name"
	else
		fail "$name" "store holds runs after a rejected record (log exit $rc: $(head -c 200 "$TMP/log"))"
	fi
}

(cd "$HERE" && timeout 60 "$AIRI" record --store "$TMP/x.db" dup.json) \
	>"$TMP/out" 2>"$TMP/err"
check_reject "record of a rejected manifest" $?
no_runs "record of a rejected manifest stores no run" "$TMP/x.db"

# a bulk import is all-or-nothing: a bad last line stores nothing (the
# command explains that on a second line, so only the status is checked)
{
	echo '{"conditions":{"model":"a"}}'
	echo '{"conditions":{"model":"b"}}'
	cat "$HERE/dup.json"
	echo
} >"$TMP/bulk.jsonl"
timeout 60 "$AIRI" record --jsonl --store "$TMP/y.db" "$TMP/bulk.jsonl" \
	>"$TMP/out" 2>"$TMP/err"
rc=$?
if [ "$rc" -eq 65 ] && [ ! -s "$TMP/out" ]; then
	ok "record --jsonl with a bad line exits 65, prints no ID"
else
	fail "record --jsonl with a bad line exits 65, prints no ID" \
		"exit status $rc, stdout $(wc -c <"$TMP/out") bytes"
fi
no_runs "record --jsonl with a bad line stores no run" "$TMP/y.db"

# ---- result --------------------------------------------------------------

if [ "$failures" -ne 0 ]; then
	echo "$failures of $cases hostile cases FAILED"
	exit 1
fi
echo "all $cases hostile cases passed"
exit 0
