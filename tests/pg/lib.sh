# lib.sh - helpers for the PostgreSQL test scripts (sourced; run.sh has
# started the server and exported PGBIN, PGSOCK, PGPORT).
set -u
airi=$1
case $airi in /*) ;; *) airi=$(pwd)/$airi ;; esac
srcdir=$(cd "$(dirname "$0")/../.." && pwd)
HOME=$(pwd)
TZ=UTC
LC_ALL=C
export HOME TZ LC_ALL
unset AIRI_STORE AIRI_KEY XDG_DATA_HOME XDG_CONFIG_HOME PGPASSWORD PGDATABASE PGHOST PGUSER
fails=0
checks=0

fail() {
	echo "FAIL: $*"
	fails=$((fails + 1))
}

ok() {
	checks=$((checks + 1))
}

# pgq DB SQL: one query, unaligned tuples only
pgq() {
	"$PGBIN/psql" -X -q -t -A -v ON_ERROR_STOP=1 \
		"host=$PGSOCK port=$PGPORT user=airi dbname=$1" -c "$2"
}

# newdb NAME: a new database; prints its store location as a URI
newdb() {
	pgq postgres "DROP DATABASE IF EXISTS $1" >/dev/null 2>&1
	pgq postgres "CREATE DATABASE $1" >/dev/null || exit 1
	echo "postgresql:///$1?host=$PGSOCK&port=$PGPORT&user=airi"
}

# expect STATUS CMD...: runs CMD (output in out/err), checks its status
expect() {
	want=$1
	shift
	"$@" >out 2>err </dev/null
	got=$?
	if [ "$got" != "$want" ]; then
		fail "$* exited $got, not $want: $(head -c 400 err)"
		return 1
	fi
	ok
	return 0
}

# same WHAT FILE1 FILE2: the two outputs are byte-identical
same() {
	if cmp -s "$2" "$3"; then
		ok
	else
		fail "$1 differs between the backends:"
		diff "$2" "$3" | head -10
	fi
}

# contains FILE TEXT / lacks FILE TEXT
contains() {
	if grep -q -e "$2" "$1"; then ok; else fail "$1 lacks \"$2\": $(head -c 300 "$1")"; fi
}
lacks() {
	if grep -q -e "$2" "$1"; then fail "$1 has \"$2\": $(head -c 300 "$1")"; else ok; fi
}

finish() {
	echo "$checks checks, $fails failed"
	[ "$fails" = 0 ]
	exit $?
}

# jsonl N FILE: N manifests, three models, times spread over January
jsonl() {
	i=0
	: >"$2"
	while [ "$i" -lt "$1" ]; do
		printf '{"conditions":{"model":{"name":"m%d","resolved":"m%d-v1"},"input":{"messages":[{"role":"user","content":"q%d"}]},"system":{"text":"s%d"}},"output":{"choices":[{"finish_reason":"stop","message":{"role":"assistant","content":"a%d"}}]},"meta":{"start":"2026-01-%02dT10:%02d:00Z","end":"2026-01-%02dT10:%02d:01Z"}}\n' \
			$((i % 3)) $((i % 3)) "$i" $((i % 2)) "$i" $((i % 28 + 1)) $((i % 60)) $((i % 28 + 1)) $((i % 60)) >>"$2"
		i=$((i + 1))
	done
}
