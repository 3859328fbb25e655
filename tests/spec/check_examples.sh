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
#   ```json corpus=NAME          JSON Lines fed to `airi digest corpus --json -`; the output
#   ```json corpus-state=NAME    must equal the one line of this block plus one line feed
# and, for the proofs (docs/spec.md section 17.4), blocks whose info string may carry
# attributes after the name (key=K names a `text verifier-key=K` block):
#   ```text signer-key=NAME      `airi key show --key FILE` must print the one line of the
#   ```text verifier-key=NAME    block verifier-key=NAME plus one line feed
#   ```text checkpoint=NAME key=K  `airi verify --consistency --key K CP CP` must succeed; the
#                                same checkpoint with its size line changed must fail, E-sig
#   ```json consistency-proof=NAME key=K old=A new=B   `airi verify --consistency --key K
#                                --proof FILE A B` (A, B checkpoint blocks) must succeed
#   ```json consistency-reject=NAME key=K old=A new=B  ... must fail with E-consistency
#   ```json bundle=NAME key=K    must be canonical, and `airi verify --json --key K` must
#   ```json verified=NAME        print the one line of this block plus one line feed
#   ```json bundle-reject=NAME key=K reason=CODE [pointer=P]   `airi verify --json --key K`
#                                must exit 1 with this reason code and pointer (default "")
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
		if ((kind == "canon-out" || kind == "id" || kind == "verified" ||
		     kind == "corpus-state" ||
		     kind ~ /-key$/) && lines != 1)
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
	/^```json (canon-in|canon-out|manifest|id|canon-reject|manifest-reject|bundle|verified|bundle-reject|consistency-proof|consistency-reject|corpus|corpus-state)=/ ||
	/^```text (signer-key|verifier-key|checkpoint)=/ {
		spec = substr($0, 9)
		nf = split(spec, word, " ")
		eq = index(word[1], "=")
		kind = substr(word[1], 1, eq - 1)
		name = substr(word[1], eq + 1)
		if (name !~ /^[A-Za-z0-9_.-]+$/ || name ~ /^\./) {
			fail("bad example name \"" name "\"")
			kind = "skip"
		}
		# attributes: key, old, new name other blocks; reason and pointer are values
		attrs = ""
		for (i = 2; i <= nf; i++) {
			eq = index(word[i], "=")
			a = substr(word[i], 1, eq - 1)
			v = substr(word[i], eq + 1)
			if (eq < 2 || a !~ /^(key|old|new|reason|pointer)$/ ||
			    (a ~ /^(key|old|new|reason)$/ && v !~ /^[A-Za-z0-9_.-]+$/)) {
				fail("bad attribute \"" word[i] "\" of " kind "=" name)
				continue
			}
			attrs = attrs a " " v "\n"
		}
		if ((kind ~ /^(checkpoint|bundle|bundle-reject|consistency-)/) &&
		    attrs !~ /(^|\n)key /)
			fail(kind "=" name " needs a key= attribute")
		if (kind ~ /^consistency-/ && (attrs !~ /(^|\n)old / || attrs !~ /(^|\n)new /))
			fail(kind "=" name " needs old= and new= attributes")
		if (kind == "bundle-reject" && attrs !~ /(^|\n)reason /)
			fail(kind "=" name " needs a reason= attribute")
		file = dir "/" kind "." name
		if (kind != "skip" && (kind SUBSEP name) in seen)
			fail("block " kind "=" name " appears twice")
		seen[kind, name] = 1
		if (kind == "skip") file = "/dev/null"
		printf "" > file
		if (kind != "skip") {
			printf "%s", attrs > (dir "/attr." kind "." name)
			close(dir "/attr." kind "." name)
		}
		if (kind ~ /^(canon-in|manifest|signer-key|checkpoint|bundle|corpus)$/ ||
		    kind ~ /-(reject|proof)$/)
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
	[ -s "$2" ] || printf '\n'
}

attr() {  # attr NAME: the value of attribute NAME of the current block, or nothing
	sed -n "s/^$1 //p" "$tmp/attr.$kind.$name"
}

# block KIND NAME: prints the file of a block that the current block refers to; prints a
# failure and returns 1 when there is no such block
block() {
	if [ -n "$2" ] && [ -f "$tmp/$1.$2" ]; then
		echo "$tmp/$1.$2"
		return 0
	fi
	echo "FAIL $name: $kind=$name refers to $1=$2, which is not in the spec"
	return 1
}

# check_proof: checks the proof example $kind=$name; prints "ok ..." and returns 0 when it
# holds, prints what went wrong and returns 1 otherwise.
check_proof() {
	in=$tmp/$kind.$name
	got=$tmp/got.$kind.$name
	vk=
	if [ "$kind" != signer-key ]; then
		vk=$(block verifier-key "$(attr key)") || { echo "$vk"; return 1; }
	fi
	case $kind in
	signer-key)
		exp=$(block verifier-key "$name") || { echo "$exp"; return 1; }
		"$airi" key show --key "$in" > "$got" 2> "$got.err"
		rc=$?
		if [ "$rc" -eq 0 ] && cmp -s "$exp" "$got"; then
			echo "ok $name (signer key)"
			return 0
		fi
		echo "FAIL $name: airi key show (exit status $rc)"
		show expected "$exp"
		show got "$got"
		;;
	checkpoint)
		"$airi" verify --consistency --key "$vk" "$in" "$in" > "$got" 2> "$got.err"
		rc=$?
		if [ "$rc" -ne 0 ]; then
			echo "FAIL $name: the checkpoint does not verify (exit status $rc)"
		else
			# a changed size line must break the signature
			awk 'NR == 2 { $0 = $0 "0" } { print }' "$in" > "$got.changed"
			"$airi" verify --json --consistency --key "$vk" "$got.changed" \
				"$got.changed" > "$got" 2> "$got.err"
			rc=$?
			if [ "$rc" -eq 1 ] && grep -q '"reason":"E-sig"' "$got"; then
				echo "ok $name (checkpoint)"
				return 0
			fi
			echo "FAIL $name: a changed checkpoint gave exit status $rc, not 1 with E-sig"
			show got "$got"
		fi
		;;
	consistency-proof|consistency-reject)
		old=$(block checkpoint "$(attr old)") || { echo "$old"; return 1; }
		new=$(block checkpoint "$(attr new)") || { echo "$new"; return 1; }
		"$airi" verify --json --consistency --key "$vk" --proof "$in" "$old" "$new" \
			> "$got" 2> "$got.err"
		rc=$?
		if [ "$kind" = consistency-proof ] && [ "$rc" -eq 0 ]; then
			echo "ok $name (consistency proof)"
			return 0
		fi
		if [ "$kind" = consistency-reject ] && [ "$rc" -eq 1 ] &&
			grep -q '"reason":"E-consistency"' "$got"; then
			echo "ok $name (rewritten log detected)"
			return 0
		fi
		echo "FAIL $name: exit status $rc"
		show got "$got"
		;;
	bundle)
		exp=$(block verified "$name") || { echo "$exp"; return 1; }
		# a bundle is canonical JSON: the block is its one line plus a line feed
		"$airi" canon "$in" > "$got.canon" 2> "$got.err" && echo >> "$got.canon"
		if ! cmp -s "$in" "$got.canon"; then
			echo "FAIL $name: the bundle is not canonical JSON"
			return 1
		fi
		"$airi" verify --json --key "$vk" "$in" > "$got" 2> "$got.err"
		rc=$?
		if [ "$rc" -eq 0 ] && cmp -s "$exp" "$got"; then
			echo "ok $name (bundle)"
			return 0
		fi
		echo "FAIL $name: airi verify (exit status $rc)"
		show expected "$exp"
		show got "$got"
		;;
	bundle-reject)
		reason=$(attr reason)
		pointer=$(attr pointer)
		"$airi" verify --json --key "$vk" "$in" > "$got" 2> "$got.err"
		rc=$?
		if [ "$rc" -eq 1 ] && grep -qF "\"reason\":\"$reason\"" "$got" &&
			grep -qF "\"pointer\":\"$pointer\"" "$got"; then
			echo "ok $name (refused, $reason)"
			return 0
		fi
		echo "FAIL $name: expected exit status 1, $reason at \"$pointer\"; got status $rc"
		show got "$got"
		;;
	esac
	if [ -s "$got.err" ]; then
		printf '  stderr: '
		cat "$got.err"
	fi
	return 1
}

if [ -f "$tmp/list" ]; then
	while read -r kind name; do
		count=$((count + 1))
		in=$tmp/$kind.$name
		got=$tmp/got.$kind.$name
		case $kind in
		signer-key|checkpoint|consistency-*|bundle|bundle-reject)
			check_proof || fails=$((fails + 1))
			continue
			;;
		esac
		case $kind in
		canon-in)       exp=$tmp/canon-out.$name; cmd=canon ;;
		manifest)       exp=$tmp/id.$name;        cmd=id ;;
		canon-reject)   exp=;                     cmd=canon ;;
		manifest-reject) exp=;                    cmd=id ;;
		corpus)         exp=$tmp/corpus-state.$name; cmd=corpus ;;
		esac

		if [ "$cmd" = canon ]; then
			"$airi" canon - < "$in" > "$got" 2> "$got.err"
		elif [ "$cmd" = corpus ]; then
			"$airi" digest corpus --json - < "$in" > "$got" 2> "$got.err"
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
for f in "$tmp"/canon-out.* "$tmp"/id.* "$tmp"/verified.* "$tmp"/corpus-state.*; do
	[ -e "$f" ] || continue
	base=${f##*/}
	case $base in
	canon-out.*) src=canon-in.${base#canon-out.} ;;
	id.*)        src=manifest.${base#id.} ;;
	verified.*)  src=bundle.${base#verified.} ;;
	corpus-state.*) src=corpus.${base#corpus-state.} ;;
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
