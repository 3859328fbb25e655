#!/bin/sh
# run.sh - runs the data-driven command-line cases in tests/cases/NAME/
# (curl's tests/data style; the format is described in README.md next to
# this file).
#
# Usage: tests/cases/run.sh AIRI [FILTER]
#   AIRI    the airi binary to test
#   FILTER  run only the cases whose name contains this text
#
# Each case runs in a fresh temporary directory with the files of its in/
# directory copied in, $AIRI set to the binary and AIRI_STORE=$PWD/store.db.
# Prints "ok NAME", "skip NAME (...)" or "FAIL NAME" with what differed;
# exits 1 if any case failed or none matched, 0 otherwise. Set
# AIRI_CASES_KEEP=1 to keep the temporary directories of failed cases.

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
	echo "usage: $0 AIRI [FILTER]" >&2
	exit 64
fi

case $1 in
/*) airi=$1 ;;
*) airi=$(pwd)/$1 ;;
esac
if [ ! -x "$airi" ] || [ -d "$airi" ]; then
	echo "run.sh: no executable airi at $airi" >&2
	exit 1
fi
filter=${2:-}

cases=$(cd "$(dirname "$0")" && pwd) || exit 1
srcdir=$(cd "$cases/../.." && pwd) || exit 1

# Byte-exact, reproducible surroundings for every case.
LC_ALL=C
TZ=UTC
export LC_ALL TZ
unset XDG_DATA_HOME XDG_CONFIG_HOME AIRI_STORE AIRI_KEY LANG LANGUAGE

passed=0
failed=0
skipped=0

tmproot=$(mktemp -d "${TMPDIR:-/tmp}/airi-cases.XXXXXX") || exit 1
cleanup() {
	if [ "${AIRI_CASES_KEEP:-0}" = 1 ] && [ "$failed" -gt 0 ]; then
		echo "kept the work directories of failed cases under $tmproot"
	else
		rm -rf "$tmproot"
	fi
}
trap 'cleanup' EXIT
trap 'exit 130' INT TERM

# show_diff WHAT EXPECTED_FILE ACTUAL_FILE
show_diff() {
	echo "  --- $1: expected (-) vs actual (+)"
	if command -v diff >/dev/null 2>&1; then
		diff -u "$2" "$3" | sed -e '1,2d' -e 's/^/  /'
	else
		echo "  expected:"
		sed 's/^/  | /' "$2"
		echo "  actual:"
		sed 's/^/  | /' "$3"
	fi
}

for dir in "$cases"/*/; do
	dir=${dir%/}
	name=${dir##*/}
	[ -f "$dir/cmd" ] || continue
	case $name in
	*"$filter"*) ;;
	*) continue ;;
	esac

	# needs: commands the case requires besides airi and POSIX tools
	missing=
	if [ -f "$dir/needs" ]; then
		for tool in $(cat "$dir/needs"); do
			command -v "$tool" >/dev/null 2>&1 || missing="$missing $tool"
		done
	fi
	if [ -n "$missing" ]; then
		echo "skip $name (needs$missing)"
		skipped=$((skipped + 1))
		continue
	fi

	tmp=$tmproot/$name
	work=$tmp/work
	mkdir -p "$work" "$tmp/home" || exit 1
	if [ -d "$dir/in" ]; then
		cp -R "$dir/in/." "$work/" || exit 1
	fi

	(
		cd "$work" || exit 99
		AIRI=$airi
		AIRI_STORE=$work/store.db
		HOME=$tmp/home
		SRCDIR=$srcdir
		CASEDIR=$dir
		export AIRI AIRI_STORE HOME SRCDIR CASEDIR
		exec sh "$dir/cmd"
	) >"$tmp/stdout" 2>"$tmp/stderr" </dev/null
	status=$?

	# AIRI_CASES_UPDATE=1 rewrites the expectations of this run from what
	# the binary did: review the resulting diff before committing it
	if [ -n "${AIRI_CASES_UPDATE:-}" ]; then
		cp "$tmp/stdout" "$dir/expected_stdout"
		if [ -s "$tmp/stderr" ]; then
			cp "$tmp/stderr" "$dir/expected_stderr"
		else
			rm -f "$dir/expected_stderr"
		fi
		if [ "$status" != 0 ]; then
			echo "$status" >"$dir/status"
		else
			rm -f "$dir/status"
		fi
	fi

	want_status=0
	if [ -f "$dir/status" ]; then
		want_status=$(tr -d ' \n' <"$dir/status")
	fi
	: >"$tmp/empty"
	want_stderr=$dir/expected_stderr
	[ -f "$want_stderr" ] || want_stderr=$tmp/empty
	want_stdout=$dir/expected_stdout
	[ -f "$want_stdout" ] || want_stdout=$tmp/empty

	ok=1
	[ "$status" = "$want_status" ] || ok=0
	cmp -s "$want_stdout" "$tmp/stdout" || ok=0
	cmp -s "$want_stderr" "$tmp/stderr" || ok=0

	if [ $ok = 1 ]; then
		echo "ok $name"
		passed=$((passed + 1))
		rm -rf "$tmp"
		continue
	fi
	echo "FAIL $name"
	failed=$((failed + 1))
	if [ "$status" != "$want_status" ]; then
		echo "  exit status $status, expected $want_status"
	fi
	cmp -s "$want_stdout" "$tmp/stdout" ||
		show_diff stdout "$want_stdout" "$tmp/stdout"
	cmp -s "$want_stderr" "$tmp/stderr" ||
		show_diff stderr "$want_stderr" "$tmp/stderr"
done

total=$((passed + failed + skipped))
echo "$passed passed, $failed failed, $skipped skipped"
if [ $total -eq 0 ]; then
	echo "run.sh: no case matches \"$filter\"" >&2
	exit 1
fi
[ $failed -eq 0 ] || exit 1
exit 0
