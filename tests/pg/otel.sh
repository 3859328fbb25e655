#!/bin/sh
# otel.sh - `airi otel receive` on PostgreSQL: the same OTLP batches (model
# call spans, an agent trace with tool spans, a span the receiver cannot
# map) sent to a receiver on SQLite and to one on PostgreSQL give the same
# runs, grouped runs and reports on both (times of recording aside), a
# clean fsck, and the same partial-success answer; a second delivery of a
# batch records nothing new.
# Run by run.sh: tests/pg/run.sh otel AIRI
. "$(dirname "$0")/lib.sh"

command -v node >/dev/null 2>&1 || { echo "skip: node is needed to build the batches"; exit 77; }
command -v curl >/dev/null 2>&1 || { echo "skip: curl is needed to send the batches"; exit 77; }

PG=$(newdb otel)
SQ=$HOME/o.db
expect 0 "$airi" store migrate --store "$PG"

# two OTLP/JSON batches, fixed ids: 7 chat spans and one the receiver
# rejects (it is its own parent), then an agent trace (root, 2 chat
# calls, 1 tool call)
node - <<'EOF' || exit 1
const fs = require('fs');
const t0 = 1767225600000000000n; // 2026-01-01T00:00:00Z
let n = 0;
const hex = (k, w) => k.toString(16).padStart(w, '0');
const attr = (k, v) => ({ key: k, value: typeof v === 'string' ? { stringValue: v }
  : Number.isInteger(v) ? { intValue: String(v) } : { doubleValue: v } });
function span(trace, id, parent, name, kind, attrs) {
  const s = { traceId: hex(trace, 32), spanId: hex(id, 16), name, kind,
    startTimeUnixNano: String(t0 + BigInt(++n) * 1000000n),
    endTimeUnixNano: String(t0 + BigInt(n) * 1000000n + 500000n),
    attributes: Object.entries(attrs).map(([k, v]) => attr(k, v)) };
  if (parent) s.parentSpanId = hex(parent, 16);
  return s;
}
const chat = (trace, id, parent, i, model) => span(trace, id, parent, 'chat ' + model, 3, {
  'gen_ai.operation.name': 'chat', 'gen_ai.provider.name': 'openai', 'gen_ai.request.model': model,
  'gen_ai.response.model': model + '-2025', 'gen_ai.request.temperature': 0.25, 'gen_ai.request.seed': 7,
  'gen_ai.input.messages': JSON.stringify([{ role: 'user', parts: [{ type: 'text', content: 'question ' + i }] }]),
  'gen_ai.output.messages': JSON.stringify([{ role: 'assistant', parts: [{ type: 'text', content: 'answer ' + i }], finish_reason: 'stop' }]),
  'gen_ai.usage.input_tokens': 10 + i, 'gen_ai.usage.output_tokens': 3 });
const batch = (spans) => JSON.stringify({ resourceSpans: [{ resource: { attributes: [attr('service.name', 'pg-test')] },
  scopeSpans: [{ scope: { name: 'test', version: '1' }, spans }] }] });
const a = [];
for (let i = 0; i < 6; i++) a.push(chat(100 + i, 1000 + i, null, i, i % 2 ? 'gpt-4o' : 'gpt-4o-mini'));
a.push(chat(200, 2000, null, 99, 'gpt-4o'));
a.push(chat(201, 2001, 2001, 98, 'gpt-4o'));
fs.writeFileSync('b1.json', batch(a));
const root = span(300, 3000, null, 'invoke_agent weather', 1, { 'gen_ai.operation.name': 'invoke_agent', 'gen_ai.agent.name': 'weather' });
const kids = [chat(300, 3001, 3000, 50, 'gpt-4o'),
  span(300, 3002, 3000, 'execute_tool get_weather', 1, { 'gen_ai.operation.name': 'execute_tool', 'gen_ai.tool.name': 'get_weather',
    'gen_ai.tool.call.id': 'call_1', 'gen_ai.tool.call.arguments': '{"city":"Oslo"}', 'gen_ai.tool.call.result': '{"sky":"clear"}' }),
  chat(300, 3003, 3000, 51, 'gpt-4o')];
fs.writeFileSync('b2.json', batch([...kids, root]));
EOF

port=$(node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
# receive STORE TAG: one receiver on STORE, both batches (the first twice),
# then SIGTERM; the answers in TAG.r1 TAG.r2 TAG.r3
receive() {
	"$airi" otel receive --listen "127.0.0.1:$port" --store "$1" 2>"$2.err" &
	rpid=$!
	k=0
	until grep -q listening "$2.err" 2>/dev/null; do
		k=$((k + 1))
		if [ $k -gt 100 ] || ! kill -0 $rpid 2>/dev/null; then
			fail "receiver on $2 did not start: $(cat "$2.err")"
			kill $rpid 2>/dev/null
			return 1
		fi
		sleep 0.1
	done
	for b in b1 b2 b1; do
		curl -s -o "$2.$b.$k" -w '%{http_code}\n' -H 'content-type: application/json' \
			--data-binary "@$b.json" "http://127.0.0.1:$port/v1/traces" >>"$2.codes"
		k=$((k + 1))
	done
	kill -TERM $rpid
	wait $rpid
	st=$?
	[ $st = 0 ] && ok || fail "receiver on $2 exited $st: $(tail -3 "$2.err")"
}
receive "$SQ" sq
receive "$PG" pg
same "HTTP statuses" sq.codes pg.codes
contains pg.codes 200
# the answers (partial success for the unmappable span) are the same
for f in sq.b*; do
	same "answer $f" "$f" "pg.${f#sq.}"
done
grep -l '"rejectedSpans":"*1' pg.b1.* >/dev/null 2>&1 && ok || fail "no partial success for the span on a cycle: $(cat pg.b1.*)"
contains pg.err "runs"

# the same runs, by ID, with the same reports
expect 0 "$airi" log --store "$SQ" --json && sed 's/"recorded":"[^"]*",//g' out >sq.log
expect 0 "$airi" log --store "$PG" --json && sed 's/"recorded":"[^"]*",//g' out >pg.log
same "log --json" sq.log pg.log
runs=$(grep -o '"run":"sha256:[0-9a-f]*"' pg.log | wc -l)
[ "$runs" = 10 ] && ok || fail "expected 10 runs (7 calls, 2 agent calls, 1 grouped run), not $runs: $(cat pg.log)"
grouped=0
for id in $(grep -o '"run":"sha256:[0-9a-f]*"' pg.log | cut -d'"' -f4); do
	expect 0 "$airi" show --store "$SQ" --json "$id" && mv out a.out
	expect 0 "$airi" show --store "$PG" --json "$id" && mv out b.out
	same "show $id" a.out b.out
	grep -q '"trajectory":\[' b.out && grouped=$((grouped + 1))
done
# the agent trace's grouped run
[ "$grouped" = 1 ] && ok || fail "expected 1 grouped run, not $grouped"
expect 0 "$airi" fsck --store "$PG" && contains out ", 0 problems"
expect 0 "$airi" regress --store "$PG" --before model=gpt-4o-mini --after model=gpt-4o --json && mv out b.out
expect 0 "$airi" regress --store "$SQ" --before model=gpt-4o-mini --after model=gpt-4o --json && mv out a.out
same "regress --json" a.out b.out
finish
