'use strict';
// forward.js — `airi otel receive --forward` checked against mockotlpserver (run.sh, part 4).
//
//   node forward.js write DIR TAG   writes DIR/fwd.json and DIR/fwd.pb: one OTLP traces request
//                                   each (OTLP/JSON; protobuf encoded with protobufjs and
//                                   mockotlpserver's own .proto files), two GenAI chat spans
//                                   and one plain span, models fwd-json-TAG-N / fwd-pb-TAG-N
//   node forward.js check DIR TAG   reads what mockotlpserver printed (DIR/otlp.out) and the
//                                   runs the receiver recorded (DIR/fwd.show.jsonl, one
//                                   `airi show --json` per line): every GenAI span must have
//                                   arrived with airi.run.id and airi.conditions.id equal to
//                                   its recorded run's, the plain span without them
const fs = require('node:fs');
const path = require('node:path');
const crypto = require('node:crypto');
const [mode, dir, tag] = process.argv.slice(2);

function span(model, i, genai) {
  const attrs = genai
    ? [
        {key: 'gen_ai.provider.name', value: {stringValue: 'openai'}},
        {key: 'gen_ai.operation.name', value: {stringValue: 'chat'}},
        {key: 'gen_ai.request.model', value: {stringValue: model}},
        {key: 'gen_ai.request.temperature', value: {doubleValue: 0.5}},
        {key: 'gen_ai.usage.input_tokens', value: {intValue: 10 + i}},
      ]
    : [{key: 'http.route', value: {stringValue: '/plain-' + tag}}];
  return {
    traceId: crypto.randomBytes(16).toString('hex'),
    spanId: crypto.randomBytes(8).toString('hex'),
    name: genai ? 'chat ' + model : 'plain ' + tag,
    kind: 3,
    startTimeUnixNano: String(1764320691000000000n + BigInt(i) * 1000000n),
    endTimeUnixNano: String(1764320691012000000n + BigInt(i) * 1000000n),
    attributes: attrs,
  };
}
function request(kind) {
  return {
    resourceSpans: [{
      resource: {attributes: [{key: 'service.name', value: {stringValue: 'fwd-' + tag}}]},
      scopeSpans: [{
        scope: {name: 'airi-forward-test', version: '1.0.0'},
        spans: [span(`fwd-${kind}-${tag}-1`, 1, true), span(`fwd-${kind}-${tag}-2`, 2, true), span('', 3, false)],
      }],
    }],
  };
}

if (mode === 'write') {
  fs.writeFileSync(path.join(dir, 'fwd.json'), JSON.stringify(request('json')));
  const {getProtoRoot} = require(path.join(__dirname, 'node_modules/@elastic/mockotlpserver/lib/proto.js'));
  const T = getProtoRoot().lookupType('opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest');
  const r = request('pb');
  for (const rs of r.resourceSpans)
    for (const ss of rs.scopeSpans)
      for (const s of ss.spans) {
        s.traceId = Buffer.from(s.traceId, 'hex');
        s.spanId = Buffer.from(s.spanId, 'hex');
        for (const a of s.attributes)
          if (a.value.intValue !== undefined) a.value.intValue = Number(a.value.intValue);
      }
  const msg = T.fromObject(r);
  fs.writeFileSync(path.join(dir, 'fwd.pb'), T.encode(msg).finish());
  process.exit(0);
}

// check
let bad = 0;
const fail = (m) => { console.error('forward.js: ' + m); bad++; };
const runs = {}; // span id -> {run, conditions, model}
for (const line of fs.readFileSync(path.join(dir, 'fwd.show.jsonl'), 'utf8').split('\n')) {
  if (!line.trim()) continue;
  const s = JSON.parse(line);
  const m = s.manifest;
  if (!m.meta || !m.meta.span_id) continue;
  runs[m.meta.span_id] = {run: s.ids.run, conditions: s.ids.conditions, model: m.conditions.model.name};
}
const seen = {};
for (const line of fs.readFileSync(path.join(dir, 'otlp.out'), 'utf8').split('\n')) {
  if (!line.trim()) continue;
  const req = JSON.parse(line);
  for (const rs of req.resourceSpans || [])
    for (const ss of rs.scopeSpans || [])
      for (const s of ss.spans || []) {
        if (!rs.resource || rs.resource.attributes['service.name'] !== 'fwd-' + tag) continue;
        const a = s.attributes || {};
        const genai = a['gen_ai.request.model'];
        const kind = genai ? genai.split('-')[1] : (s.name === 'plain ' + tag ? 'plain' : null);
        if (!kind) continue;
        const key = (genai || 'plain') + (genai ? '' : ':' + s.spanId);
        seen[key] = (seen[key] || 0) + 1;
        if (!genai) {
          if ('airi.run.id' in a || 'airi.conditions.id' in a) fail(`the plain span ${s.spanId} got airi attributes`);
          continue;
        }
        const r = runs[s.spanId];
        if (!r) { fail(`no recorded run for the forwarded span ${s.spanId} (${genai})`); continue; }
        if (r.model !== genai) fail(`span ${s.spanId}: recorded model ${r.model}, forwarded ${genai}`);
        if (a['airi.run.id'] !== r.run) fail(`span ${s.spanId} (${genai}): airi.run.id ${a['airi.run.id']}, recorded ${r.run}`);
        if (a['airi.conditions.id'] !== r.conditions)
          fail(`span ${s.spanId} (${genai}): airi.conditions.id ${a['airi.conditions.id']}, recorded ${r.conditions}`);
        if (a['gen_ai.request.temperature'] !== 0.5) fail(`span ${s.spanId}: temperature not kept: ${a['gen_ai.request.temperature']}`);
      }
}
for (const k of ['json', 'pb'])
  for (const i of [1, 2]) {
    const model = `fwd-${k}-${tag}-${i}`;
    if (seen[model] !== 1) fail(`${model}: forwarded ${seen[model] || 0} times, expected once`);
  }
const plain = Object.keys(seen).filter((k) => k.startsWith('plain:')).length;
if (plain !== 2) fail(`expected the 2 plain spans forwarded, saw ${plain}`);
if (Object.keys(runs).length !== 4) fail(`expected 4 recorded runs, got ${Object.keys(runs).length}`);
if (bad) process.exit(1);
console.log('forward.js: 4 GenAI spans and 2 plain spans forwarded; ids match the recorded runs');
