#!/bin/sh
# bench/otel.sh — how many spans per second `airi otel receive` ingests.
#
#   bench/otel.sh [AIRI_BIN]            (default build/airi)
#
# For each workload, a fresh store in bench/out/ and a fresh receiver; a load generator
# (Node.js, no packages) first builds every request in memory — distinct trace ids, span
# ids and message texts, so that every run is new to the store — then sends them over
# keep-alive connections, BENCH_OTEL_CONC requests at a time, and times from the first
# request to the last 200. A 200 means the request's runs are committed (durable), so the
# rate is end to end: HTTP, decoding, mapping, hashing and the SQLite group commit.
#
# Workloads (BENCH_OTEL_SPANS spans each, BENCH_OTEL_BATCH spans per request, the
# BatchSpanProcessor default of 512):
#   genai-json   every span a GenAI chat span with messages (one run each), OTLP/JSON
#   genai-pb     the same, OTLP/protobuf
#   agent-pb     agent traces of 10 spans: invoke_agent root, 3 chat spans, 2 execute_tool
#                spans, 4 HTTP client spans (3 runs and 1 grouped run per trace), protobuf
#   other-pb     non-GenAI spans only (HTTP, database): decoded, checked, not recorded
#
# Knobs: BENCH_OTEL_SPANS (default 100000), BENCH_OTEL_BATCH (512), BENCH_OTEL_CONC (10: the
# requests an OpenTelemetry Collector's OTLP exporter has in flight, exporterhelper num_consumers),
# BENCH_OTEL_ONLY (space-separated workloads). Prints a table; bench/out/otel.tsv keeps it.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
AIRI=${1:-$here/../build/airi}
SPANS=${BENCH_OTEL_SPANS:-100000}
BATCH=${BENCH_OTEL_BATCH:-512}
CONC=${BENCH_OTEL_CONC:-10}
ONLY=${BENCH_OTEL_ONLY:-genai-json genai-pb agent-pb other-pb}
out=$here/out
mkdir -p "$out"
command -v node >/dev/null || { echo "bench/otel.sh: node is needed"; exit 1; }
[ -x "$AIRI" ] || { echo "bench/otel.sh: $AIRI not found"; exit 1; }

cat >"$out/otel_load.js" <<'EOF'
'use strict';
// node otel_load.js URL WORKLOAD SPANS BATCH CONC  -> prints "spans seconds requests"
const http = require('node:http');
const crypto = require('node:crypto');
const [url, workload, SPANS, BATCH, CONC] = [process.argv[2], process.argv[3],
  +process.argv[4], +process.argv[5], +process.argv[6]];
const json = workload.endsWith('-json');
// protobuf wire format
const vint = (n) => { const o = []; let v = BigInt(n); do { let b = Number(v & 0x7fn); v >>= 7n; if (v) b |= 0x80; o.push(b); } while (v); return Buffer.from(o); };
const ld = (f, b) => Buffer.concat([vint((f << 3) | 2), vint(b.length), b]);
const str = (f, s) => ld(f, Buffer.from(s));
const f64 = (f, n) => { const b = Buffer.alloc(8); b.writeBigUInt64LE(BigInt(n)); return Buffer.concat([vint((f << 3) | 1), b]); };
const int = (f, n) => Buffer.concat([vint(f << 3), vint(n)]);
const any = (v) => typeof v === 'string' ? str(1, v) : Number.isInteger(v) ? int(3, v) : Buffer.concat([vint((4 << 3) | 1), (() => { const b = Buffer.alloc(8); b.writeDoubleLE(v); return b; })()]);
let t0 = 1764300000000000000n;
function span(s) {
  if (json) {
    const o = { traceId: s.trace, spanId: s.id, name: s.name, kind: s.kind, startTimeUnixNano: String(s.start),
      endTimeUnixNano: String(s.start + 1000000n), attributes: Object.entries(s.attrs).map(([k, v]) => ({ key: k,
        value: typeof v === 'string' ? { stringValue: v } : Number.isInteger(v) ? { intValue: v } : { doubleValue: v } })) };
    if (s.parent) o.parentSpanId = s.parent;
    return o;
  }
  return Buffer.concat([ld(1, Buffer.from(s.trace, 'hex')), ld(2, Buffer.from(s.id, 'hex')),
    s.parent ? ld(4, Buffer.from(s.parent, 'hex')) : Buffer.alloc(0), str(5, s.name), int(6, s.kind),
    f64(7, s.start), f64(8, s.start + 1000000n),
    ...Object.entries(s.attrs).map(([k, v]) => ld(9, Buffer.concat([str(1, k), ld(2, any(v))])))]);
}
function request(spans) {
  if (json)
    return Buffer.from(JSON.stringify({ resourceSpans: [{ resource: { attributes: [{ key: 'service.name',
      value: { stringValue: 'bench' } }] }, scopeSpans: [{ scope: { name: 'bench-instrumentation', version: '1.0' }, spans }] }] }));
  const scope = Buffer.concat([str(1, 'bench-instrumentation'), str(2, '1.0')]);
  const res = ld(1, Buffer.concat([str(1, 'service.name'), ld(2, str(1, 'bench'))]));
  return ld(1, Buffer.concat([ld(1, res), ld(2, Buffer.concat([ld(1, scope), ...spans.map((s) => ld(2, s))]))]));
}
const hex = (n) => crypto.randomBytes(n).toString('hex');
let seq = 0;
function chat(trace, parent) {
  const n = seq++;
  return { trace, id: hex(8), parent, name: 'chat gpt-4o-mini', kind: 3, start: t0 += 1000n, attrs: {
    'gen_ai.operation.name': 'chat', 'gen_ai.provider.name': 'openai', 'gen_ai.request.model': 'gpt-4o-mini',
    'gen_ai.response.model': 'gpt-4o-mini-2024-07-18', 'gen_ai.request.temperature': 0.5, 'gen_ai.request.max_tokens': 256,
    'gen_ai.input.messages': JSON.stringify([{ role: 'system', parts: [{ type: 'text', content: 'You are a helpful assistant.' }] },
      { role: 'user', parts: [{ type: 'text', content: 'Question number ' + n + ': what is the capital of France?' }] }]),
    'gen_ai.output.messages': JSON.stringify([{ role: 'assistant', parts: [{ type: 'text', content: 'Paris (' + n + ').' }], finish_reason: 'stop' }]),
    'gen_ai.usage.input_tokens': 20, 'gen_ai.usage.output_tokens': 4, 'gen_ai.response.id': 'chatcmpl-' + n } };
}
function other(trace, parent, i) {
  return { trace, id: hex(8), parent, name: i % 2 ? 'GET /api/items' : 'SELECT items', kind: 3, start: t0 += 1000n,
    attrs: i % 2 ? { 'http.request.method': 'GET', 'url.full': 'https://api.example.com/items/' + seq++, 'http.response.status_code': 200 }
      : { 'db.system': 'postgresql', 'db.query.text': 'SELECT * FROM items WHERE id = $1', 'db.namespace': 'shop' } };
}
function tool(trace, parent) {
  const n = seq++;
  return { trace, id: hex(8), parent, name: 'execute_tool get_weather', kind: 1, start: t0 += 1000n, attrs: {
    'gen_ai.operation.name': 'execute_tool', 'gen_ai.tool.name': 'get_weather', 'gen_ai.tool.call.id': 'call_' + n,
    'gen_ai.tool.call.arguments': '{"city":"Oslo"}', 'gen_ai.tool.call.result': '{"sky":"sunny","n":' + n + '}' } };
}
const spans = [];
while (spans.length < SPANS) {
  const trace = hex(16);
  if (workload.startsWith('genai')) spans.push(chat(trace, null));
  else if (workload.startsWith('other')) spans.push(other(trace, null, spans.length));
  else {
    const root = { trace, id: hex(8), name: 'invoke_agent weather', kind: 1, start: t0 += 1000n,
      attrs: { 'gen_ai.operation.name': 'invoke_agent', 'gen_ai.agent.name': 'weather' } };
    const kids = [chat(trace, root.id), other(trace, root.id, 1), tool(trace, root.id), other(trace, root.id, 0),
      chat(trace, root.id), tool(trace, root.id), other(trace, root.id, 1), chat(trace, root.id), other(trace, root.id, 0)];
    spans.push(...kids, root); // children end (and are exported) before the root
  }
}
const bodies = [];
for (let i = 0; i < spans.length; i += BATCH) bodies.push(request(spans.slice(i, i + BATCH).map(span)));
const agent = new http.Agent({ keepAlive: true, maxSockets: CONC });
const u = new URL(url);
function send(body) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: u.hostname, port: u.port, path: '/v1/traces', method: 'POST', agent,
      headers: { 'content-type': json ? 'application/json' : 'application/x-protobuf', 'content-length': body.length } },
    (res) => { res.resume(); res.on('end', () => res.statusCode === 200 ? resolve() : reject(new Error('HTTP ' + res.statusCode))); });
    req.on('error', reject);
    req.end(body);
  });
}
(async () => {
  let next = 0;
  const start = process.hrtime.bigint();
  await Promise.all(Array.from({ length: CONC }, async () => { while (next < bodies.length) await send(bodies[next++]); }));
  const secs = Number(process.hrtime.bigint() - start) / 1e9;
  console.log(spans.length + ' ' + secs.toFixed(3) + ' ' + bodies.length);
  agent.destroy();
})().catch((e) => { console.error(e.message); process.exit(1); });
EOF

free_port() {
  node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}
printf 'workload\tspans\tseconds\tspans/s\truns\trequests\tcpu_us_per_span\n' >"$out/otel.tsv"
echo "airi otel receive ingest: $SPANS spans per workload, $BATCH per request, $CONC requests at a time, $(nproc) cores"
for w in $ONLY; do
  db=$out/otel-$w.db
  rm -f "$db" "$db-wal" "$db-shm"
  port=$(free_port)
  "$AIRI" otel receive --listen "127.0.0.1:$port" --store "$db" 2>"$out/otel-$w.err" &
  pid=$!
  n=0
  until grep -q "listening" "$out/otel-$w.err" 2>/dev/null; do
    n=$((n + 1)); [ $n -lt 100 ] || { cat "$out/otel-$w.err"; kill $pid; exit 1; }; sleep 0.1
  done
  set -- $(node "$out/otel_load.js" "http://127.0.0.1:$port" "$w" "$SPANS" "$BATCH" "$CONC")
  runs=$(curl -s "http://127.0.0.1:$port/airi/v1/health" | node -pe 'const h=JSON.parse(require("fs").readFileSync(0)); h.runs + "+" + h.agent_runs')
  # the receiver's CPU time (all its threads) per span: steadier than spans/s on a shared
  # machine; the receiver is idle while the load generator builds its requests
  cpu=$(awk -v t="$(getconf CLK_TCK)" -v s="$1" '{ printf "%d", ($14 + $15) * 1e6 / t / s }' /proc/$pid/stat)
  kill -TERM $pid
  wait $pid || true
  rate=$(awk -v s="$1" -v t="$2" 'BEGIN { printf "%d", s / t }')
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$w" "$1" "$2" "$rate" "$runs" "$3" "$cpu" >>"$out/otel.tsv"
  printf '  %-11s %7s spans in %7s s = %6s spans/s, %4s us CPU/span  (runs recorded: %s)\n' "$w" "$1" "$2" "$rate" "$cpu" "$runs"
  rm -f "$db" "$db-wal" "$db-shm"
done
