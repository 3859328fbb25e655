#!/bin/sh
# Run every worked example of docs/spec.md against an airi binary, so the spec cannot rot.
#
# Usage: tests/spec/check_examples.sh [AIRI [SPEC]]
#   AIRI  the airi binary (default build/airi)
#   SPEC  the spec to read (default docs/spec.md)
#
# The spec marks its examples with the info string of a fenced block:
#   ```json canon-in=NAME        fed to `airi canon -`; the output must equal, byte for byte,
#   ```json canon-out=NAME       the one line of this block, without a trailing newline
#   ```json manifest=NAME        fed to `airi id --json -`; the output must equal
#   ```json id=NAME              the one line of this block plus one line feed
#   ```json canon-reject=NAME    `airi canon -` must exit 65 and print nothing on stdout
#   ```json manifest-reject=NAME `airi id --json -` must exit 65 and print nothing on stdout
# An input block is passed as written, each line ending in a line feed; an empty block is
# empty input. Prints "ok NAME" or "FAIL NAME" per example; exits 1 if any failed or if no
# example was found, 0 otherwise.

airi=${1:-build/airi}
spec=${2:-docs/spec.md}

if [ ! -f "$spec" ]; then
	echo "check_examples: no spec at $spec" >&2
	exit 1
fi
if [ ! -x "$airi" ]; then
	echo "check_examples: no executable airi at $airi" >&2
	exit 1
fi

# Byte-exact work: no locale may reinterpret the UTF-8 in the examples.
LC_ALL=C
export LC_ALL

tmp=$(mktemp -d "${TMPDIR:-/tmp}/airi-spec.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'rm -rf "$tmp"; exit 130' INT TERM

# Split the spec into one file per block, named KIND.NAME, and list the examples in order of
# first appearance as "KIND NAME" lines in $tmp/list. Malformed markup is reported and counted
# as a failure in $tmp/bad.
awk -v dir="$tmp" '
	function fail(msg) { print "FAIL markup: " FILENAME ":" FNR ": " msg; bad++ }
	inblock && /^```[ \t]*$/ {
		close(file)
		if ((kind == "canon-out" || kind == "id") && lines != 1)
			fail(kind "=" name " must hold exactly one line, has " lines)
		inblock = 0
		next
	}
	inblock {
		lines++
		if (kind == "canon-out") printf "%s", $0 > file
		else print $0 > file
		next
	}
	/^```json (canon-in|canon-out|manifest|id|canon-reject|manifest-reject)=/ {
		spec = substr($0, 9)
		eq = index(spec, "=")
		kind = substr(spec, 1, eq - 1)
		name = substr(spec, eq + 1)
		if (name !~ /^[A-Za-z0-9_.-]+$/ || name ~ /^\./) {
			fail("bad example name \"" name "\"")
			kind = "skip"
		}
		file = dir "/" kind "." name
		if (kind != "skip" && (kind SUBSEP name) in seen)
			fail("block " kind "=" name " appears twice")
		seen[kind, name] = 1
		if (kind == "skip") file = "/dev/null"
		printf "" > file
		if (kind == "canon-in" || kind == "manifest" || kind ~ /-reject$/)
			print kind, name > (dir "/list")
		inblock = 1
		lines = 0
		next
	}
	END {
		if (inblock) fail("unterminated block " kind "=" name)
		if (bad) print bad > (dir "/bad")
	}
' "$spec"

fails=0
count=0
[ -f "$tmp/bad" ] && fails=$(cat "$tmp/bad")

show() {  # show LABEL FILE: print a file as one indented line, with its exact length
	printf '  %s (%s bytes): ' "$1" "$(wc -c < "$2" | tr -d ' ')"
	cat "$2"
	# make a missing final newline visible without changing what is shown
	[ -s "$2" ] && [ "$(tail -c 1 "$2" | od -An -c | tr -d ' ')" != '\n' ] && printf '\n'
}

if [ -f "$tmp/list" ]; then
	while read -r kind name; do
		count=$((count + 1))
		in=$tmp/$kind.$name
		got=$tmp/got.$kind.$name
		case $kind in
		canon-in)       exp=$tmp/canon-out.$name; cmd=canon ;;
		manifest)       exp=$tmp/id.$name;        cmd=id ;;
		canon-reject)   exp=;                     cmd=canon ;;
		manifest-reject) exp=;                    cmd=id ;;
		esac

		if [ "$cmd" = canon ]; then
			"$airi" canon - < "$in" > "$got" 2> "$got.err"
		else
			"$airi" id --json - < "$in" > "$got" 2> "$got.err"
		fi
		rc=$?

		if [ -z "$exp" ]; then
			if [ "$rc" -eq 65 ] && [ ! -s "$got" ]; then
				echo "ok $name (rejected)"
			else
				echo "FAIL $name: expected exit status 65 and no output, got status $rc"
				show got "$got"
				fails=$((fails + 1))
			fi
			continue
		fi

		if [ ! -f "$exp" ]; then
			echo "FAIL $name: no expected-output block for $kind=$name"
			fails=$((fails + 1))
			continue
		fi
		if [ "$rc" -eq 0 ] && cmp -s "$exp" "$got"; then
			echo "ok $name"
		else
			echo "FAIL $name (exit status $rc)"
			show expected "$exp"
			show got "$got"
			if [ -s "$got.err" ]; then
				printf '  stderr: '
				cat "$got.err"
			fi
			fails=$((fails + 1))
		fi
	done < "$tmp/list"
fi

# Expected blocks that no input block refers to are mistakes in the spec.
for f in "$tmp"/canon-out.* "$tmp"/id.*; do
	[ -e "$f" ] || continue
	base=${f##*/}
	case $base in
	canon-out.*) src=canon-in.${base#canon-out.} ;;
	id.*)        src=manifest.${base#id.} ;;
	esac
	if [ ! -e "$tmp/$src" ]; then
		echo "FAIL ${base#*.}: $base has no matching input block"
		fails=$((fails + 1))
	fi
done

if [ "$count" -eq 0 ]; then
	echo "FAIL: no examples found in $spec"
	exit 1
fi
echo "$count examples, $fails failed"
[ "$fails" -eq 0 ]
