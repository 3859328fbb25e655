#!/bin/sh
# run.sh - `airi regress` end to end: calls recorded by `airi proxy` in front of the fake
# upstream (tests/proxy/fake_upstream.js), a cohort, then the same questions with one tool
# definition changed, then with the system prompt changed too. regress must name exactly the
# sections that changed (tools, then tools and system), with the changed fields, pair every
# question, and see the labels; `airi log` takes the same filter terms.
#   sh tests/regress/run.sh AIRI
# Exit 0 passed, 1 failed, 77 skipped (no node or curl).
airi=${1:-build/airi}
case $airi in /*) ;; *) airi=$(pwd)/$airi ;; esac
here=$(cd "$(dirname "$0")/.." && pwd)
command -v node >/dev/null 2>&1 || { echo "regress: SKIP - node not found"; exit 77; }
command -v curl >/dev/null 2>&1 || { echo "regress: SKIP - curl not found"; exit 77; }
w=$(mktemp -d "${TMPDIR:-/tmp}/airi-regress.XXXXXX")
fake=; proxy=
cleanup() {
	[ -n "$proxy" ] && kill "$proxy" 2>/dev/null
	[ -n "$fake" ] && kill "$fake" 2>/dev/null
	wait 2>/dev/null
	rm -rf "$w"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
failed=0
ok() { echo "ok $1"; }
no() { echo "FAIL $1"; failed=1; }
check() { # check NAME COMMAND...
	name=$1; shift
	if "$@"; then ok "$name"; else no "$name"; fi
}

node "$here/proxy/fake_upstream.js" 0 >"$w/fake.out" 2>"$w/fake.err" &
fake=$!
i=0
while ! grep -q '^listening ' "$w/fake.out" 2>/dev/null; do
	i=$((i + 1)); [ $i -gt 100 ] && { echo "regress: FAIL - fake upstream did not start"; exit 1; }
	sleep 0.1
done
up=$(sed -n 's/^listening //p' "$w/fake.out")
S=$w/s.db
for try in 1 2 3; do
	port=$(node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
	"$airi" proxy --listen "127.0.0.1:$port" --upstream "http://127.0.0.1:$up" --store "$S" 2>"$w/proxy.err" &
	proxy=$!
	i=0
	while [ $i -lt 100 ] && ! grep -q "listening on" "$w/proxy.err"; do
		kill -0 "$proxy" 2>/dev/null || break
		i=$((i + 1)); sleep 0.1
	done
	grep -q "listening on" "$w/proxy.err" && break
	proxy=
done
[ -n "$proxy" ] || { echo "regress: FAIL - proxy did not start"; cat "$w/proxy.err"; exit 1; }

call() { # call SYSTEM TOOL_DESCRIPTION QUESTION
	body=$(printf '{"model":"gpt-4o-mini","temperature":0,"seed":7,"messages":[{"role":"system","content":"%s"},{"role":"user","content":"%s"}],"tools":[{"type":"function","function":{"name":"lookup","description":"%s","parameters":{"type":"object","properties":{"q":{"type":"string"}}}}}]}' "$1" "$3" "$2")
	curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
		-H 'Authorization: Bearer sk-regress-secret' --data "$body" \
		"http://127.0.0.1:$port/v1/chat/completions"
}
cohort() { # cohort SYSTEM TOOL_DESCRIPTION
	for q in 1 2 3 4 5 6 7 8 9 10; do
		code=$(call "$1" "$2" "Question number $q")
		[ "$code" = 200 ] || no "call returned $code"
	done
}
stamp() { node -e 'console.log(new Date().toISOString())'; }

cohort "You are terse." "Look a thing up"
sleep 0.05; t1=$(stamp); sleep 0.05
cohort "You are terse." "Look a thing up in the handbook"
sleep 0.05; t2=$(stamp); sleep 0.05
cohort "You are verbose." "Look a thing up in the handbook"

check "30 runs recorded" [ "$("$airi" log --store "$S" --json | grep -c '"run"')" = 30 ]

# tools changed between the first two cohorts, nothing else
"$airi" regress --store "$S" --before "until=$t1" --after "since=$t1 until=$t2" --json >"$w/r1.json" ||
	no "regress exit status $?"
state() { # state FILE SECTION
	node -e 'const r=JSON.parse(require("fs").readFileSync(process.argv[1]));
		const s=r.sections.find(x=>x.name===process.argv[2]); console.log(s.state+"|"+s.summary)' "$1" "$2"
}
field() { node -e 'const r=JSON.parse(require("fs").readFileSync(process.argv[1])); console.log(eval("r."+process.argv[2]))' "$1" "$2"; }
case $(state "$w/r1.json" tools) in changed*description*) ok "tools changed, with the field" ;; *) no "tools: $(state "$w/r1.json" tools)" ;; esac
check "system unchanged" [ "$(state "$w/r1.json" system | cut -d'|' -f1)" = unchanged ]
check "model unchanged" [ "$(state "$w/r1.json" model | cut -d'|' -f1)" = unchanged ]
check "params unchanged" [ "$(state "$w/r1.json" params | cut -d'|' -f1)" = unchanged ]
check "input varies (10 questions)" [ "$(state "$w/r1.json" input | cut -d'|' -f1)" = varies ]
check "10 pairs" [ "$(field "$w/r1.json" paired.pairs)" = 10 ]
check "cohort sizes" [ "$(field "$w/r1.json" before.runs),$(field "$w/r1.json" after.runs)" = "10,10" ]

# tools and system changed between the first and the last cohort
"$airi" regress --store "$S" --before "until=$t1" --after "since=$t2" --json >"$w/r2.json"
check "tools changed (first -> last)" [ "$(state "$w/r2.json" tools | cut -d'|' -f1)" = changed ]
case $(state "$w/r2.json" system) in changed*) ok "system changed (first -> last)" ;; *) no "system: $(state "$w/r2.json" system)" ;; esac
check "model unchanged (first -> last)" [ "$(state "$w/r2.json" model | cut -d'|' -f1)" = unchanged ]

# labels and scores: filterable in log, compared in regress
ids=$("$airi" log --store "$S" --json "since=$t2" | sed -n 's/.*"run":"\(sha256:[0-9a-f]*\)".*/\1/p')
n=0
for id in $ids; do
	n=$((n + 1))
	"$airi" label --store "$S" "$id" verdict=ok quality=0.$n >/dev/null || no "label $id"
done
first=$(echo "$ids" | head -n 1)
"$airi" label --store "$S" "$first" verdict=bad >/dev/null
check "label shows" sh -c "'$airi' label --store '$S' '$first' | grep -qx 'verdict=bad'"
check "log label.verdict=bad" [ "$("$airi" log --store "$S" --json label.verdict=bad | grep -c '"run"')" = 1 ]
check "log --where label.verdict=ok" [ "$("$airi" log --store "$S" --json --where "label.verdict=ok" | grep -c '"run"')" = 9 ]
"$airi" regress --store "$S" --before "until=$t1" --after "since=$t2" --json >"$w/r3.json"
check "quality scores in the after cohort" [ "$(field "$w/r3.json" 'scores.quality.after.n')" = 10 ]
check "human report names the changes" sh -c "'$airi' regress --store '$S' --before 'until=$t1' --after 'since=$t2' | grep -q '^  tools: changed'"
# bad filters
"$airi" regress --store "$S" --before "when=now" --after "since=$t2" >/dev/null 2>"$w/err"
check "bad filter: status 64" [ $? = 64 ]
check "bad filter: named" grep -q 'filter term 1 "when=now"' "$w/err"
"$airi" label --store "$S" "$first" "bad key=1" 2>"$w/err"
check "bad label key: status 64" [ $? = 64 ]
# the provider moves the alias to another model: the same requests, a new resolved model
sleep 0.05; t3=$(stamp); sleep 0.05
curl -s -o /dev/null -H 'Content-Type: application/json' --data '{"model_suffix":"-2026-06-01"}' \
	"http://127.0.0.1:$up/_fake/knobs"
cohort "You are verbose." "Look a thing up in the handbook"
"$airi" regress --store "$S" --before "since=$t2 until=$t3" --after "since=$t3" --json >"$w/r4.json"
case $(state "$w/r4.json" model) in changed*/resolved*) ok "model changed: /resolved" ;; *) no "model: $(state "$w/r4.json" model)" ;; esac
for sec in params system tools; do
	check "$sec unchanged after the alias moved" [ "$(state "$w/r4.json" $sec | cut -d'|' -f1)" = unchanged ]
done
check "models before/after named" [ "$(field "$w/r4.json" 'models.before[0].name') -> $(field "$w/r4.json" 'models.after[0].name')" = "gpt-4o-mini-2026-01-01 -> gpt-4o-mini-2026-06-01" ]
check "summary names the model change" grep -q 'model: gpt-4o-mini-2026-01-01 in 100% before -> gpt-4o-mini-2026-06-01 in 100% after' "$w/r4.json"
# the proxy's health shows its commits: every recorded run in some transaction
h=$(curl -s "http://127.0.0.1:$port/airi/v1/health")
check "health: 40 runs committed" [ "$(echo "$h" | node -pe 'JSON.parse(require("fs").readFileSync(0)).commits.runs')" = 40 ]
check "health: batches and times" node -e 'const c=JSON.parse(process.argv[1]).commits;
	process.exit(c.batches >= 1 && c.batches <= 40 && c.p50_us > 0 && c.p99_us >= c.p50_us && c.max_us > 0 ? 0 : 1)' "$h"
# the secret never reached the store
kill "$proxy"; wait "$proxy" 2>/dev/null; proxy=
check "secret not stored" sh -c "! grep -qa 'sk-regress-secret' '$S' '$S-wal' 2>/dev/null"
[ $failed = 0 ] && echo "regress: all passed"
exit $failed
