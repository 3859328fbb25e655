#!/usr/bin/env node
// hostile.js — writes the bad and the extreme OTLP requests of run.sh into DIR, and
// DIR/cases.tsv: one line per request with
//   FILE  CONTENT-TYPE  CONTENT-ENCODING  METHOD  PATH  EXPECTED-STATUS  EXPECTED-IN-BODY
// ("-" for none). run.sh sends each with curl and checks the status and the body, and
// that the receiver is still up afterwards. The protobuf is written with a small encoder
// of the wire format here (the receiver decodes with protobuf-c; an independent encoder
// is the point).
//
//   node hostile.js DIR
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const zlib = require('node:zlib');
const crypto = require('node:crypto');

const dir = process.argv[2];
const cases = [];
function add(name, body, ct, enc, method, urlPath, status, expect) {
  if (body !== null) fs.writeFileSync(path.join(dir, name), body);
  cases.push([name, ct || '-', enc || '-', method || 'POST', urlPath || '/v1/traces', status, expect || '-'].join('\t'));
}
const JSON_CT = 'application/json';
const PB_CT = 'application/x-protobuf';

// ---- protobuf wire format -------------------------------------------------------------
function varint(n) {
  const out = [];
  let v = BigInt(n);
  do {
    let b = Number(v & 0x7fn);
    v >>= 7n;
    if (v) b |= 0x80;
    out.push(b);
  } while (v);
  return Buffer.from(out);
}
const ld = (field, buf) => Buffer.concat([varint((field << 3) | 2), varint(buf.length), buf]);
const str = (field, s) => ld(field, Buffer.from(s, 'utf8'));
const fixed64 = (field, n) => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(n));
  return Buffer.concat([varint((field << 3) | 1), b]);
};
const vint = (field, n) => Buffer.concat([varint(field << 3), varint(n)]);
// AnyValue / KeyValue
const anyStr = (s) => str(1, s);
const kv = (k, valueBuf) => Buffer.concat([str(1, k), ld(2, valueBuf)]);
const kvStr = (k, s) => kv(k, anyStr(s));
function span({ trace, id, parent, name, attrs = [] }) {
  return Buffer.concat([
    ld(1, Buffer.from(trace, 'hex')),
    ld(2, Buffer.from(id, 'hex')),
    parent ? ld(4, Buffer.from(parent, 'hex')) : Buffer.alloc(0),
    str(5, name),
    vint(6, 3),
    fixed64(7, 1764300000000000000n),
    fixed64(8, 1764300001000000000n),
    ...attrs.map((a) => ld(9, a)),
  ]);
}
function request(spans) {
  const scope = Buffer.concat([str(1, 'hostile-test'), str(2, '1.0')]);
  const scopeSpans = Buffer.concat([ld(1, scope), ...spans.map((s) => ld(2, s))]);
  const resource = ld(1, kvStr('service.name', 'hostile'));
  const rs = Buffer.concat([ld(1, resource), ld(2, scopeSpans)]);
  return ld(1, rs);
}
const hex = (n) => crypto.randomBytes(n).toString('hex');
const genai = (model) => [
  kvStr('gen_ai.operation.name', 'chat'),
  kvStr('gen_ai.provider.name', 'openai'),
  kvStr('gen_ai.request.model', model),
];

// ---- OTLP/JSON --------------------------------------------------------------------------
function jspan({ trace, id, parent, name, attrs = {} }) {
  const a = Object.entries(attrs).map(([k, v]) => ({
    key: k,
    value: typeof v === 'object' ? v : typeof v === 'string' ? { stringValue: v } : { doubleValue: v },
  }));
  const s = { traceId: trace, spanId: id, name, kind: 3, startTimeUnixNano: '1764300000000000000',
    endTimeUnixNano: '1764300001000000000', attributes: a };
  if (parent) s.parentSpanId = parent;
  return s;
}
function jrequest(spans) {
  return JSON.stringify({ resourceSpans: [{ resource: { attributes: [{ key: 'service.name',
    value: { stringValue: 'hostile' } }] }, scopeSpans: [{ scope: { name: 'hostile-test' }, spans }] }] });
}
const chatAttrs = (model) => ({ 'gen_ai.operation.name': 'chat', 'gen_ai.provider.name': 'openai',
  'gen_ai.request.model': model });

// ---- the cases --------------------------------------------------------------------------
const valid = request([span({ trace: hex(16), id: hex(8), name: 'chat h-valid',
  attrs: [...genai('hostile-valid-pb'), kvStr('gen_ai.input.messages', '[{"role":"user","parts":[{"type":"text","content":"hi"}]}]')] })]);
add('valid.pb', valid, PB_CT, null, null, null, 200, '-');
add('empty.pb', Buffer.alloc(0), PB_CT, null, null, null, 200, '-');
// truncated protobuf: cut in the middle of a length-delimited field
add('trunc.pb', valid.subarray(0, Math.floor(valid.length / 2)), PB_CT, null, null, null, 400, 'malformed protobuf');
add('trunc1.pb', valid.subarray(0, valid.length - 1), PB_CT, null, null, null, 400, 'malformed protobuf');
add('garbage.pb', crypto.randomBytes(4096), PB_CT, null, null, null, 400, '-');
// a wire type the schema does not allow (a group)
add('wiretype.pb', Buffer.from([0x0b, 0x0c]), PB_CT, null, null, null, 400, 'malformed protobuf');
// AnyValue nested 100,000 deep (array_value -> values -> AnyValue ...)
{
  let v = anyStr('bottom');
  for (let i = 0; i < 100000; i++) v = ld(5, ld(1, v));
  add('deep.pb', request([span({ trace: hex(16), id: hex(8), name: 'deep', attrs: [kv('deep', v)] })]),
    PB_CT, null, null, null, 400, 'nested too deeply');
}
// invalid UTF-8 in a protobuf string
add('utf8.pb', request([span({ trace: hex(16), id: hex(8), name: 'x',
  attrs: [kv('bad', ld(1, Buffer.from([0x61, 0xc0, 0xaf])))] })]), PB_CT, null, null, null, 400, 'UTF-8');
// 10,000 spans in one protobuf batch: inference spans, each a run
{
  const spans = [];
  for (let i = 0; i < 10000; i++)
    spans.push(span({ trace: hex(16), id: hex(8), name: 'chat', attrs: genai('hostile-many-pb-' + (i % 7)) }));
  add('many.pb', request(spans), PB_CT, null, null, null, 200, '-');
}

// wrong JSON types, each a 400 naming the member
add('types-root.json', '[1,2,3]', JSON_CT, null, null, null, 400, 'ExportTraceServiceRequest');
add('types-rs.json', '{"resourceSpans":"x"}', JSON_CT, null, null, null, 400, 'resourceSpans');
add('types-traceid.json', '{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":5}]}]}]}', JSON_CT, null, null, null, 400, 'traceId');
add('types-hex.json', '{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"zz"}]}]}]}', JSON_CT, null, null, null, 400, 'hex');
add('types-int.json', jrequest([jspan({ trace: hex(16), id: hex(8), name: 'x', attrs: { n: { intValue: 'abc' } } })]),
  JSON_CT, null, null, null, 400, '64-bit integer');
add('types-time.json', '{"resourceSpans":[{"scopeSpans":[{"spans":[{"startTimeUnixNano":-1}]}]}]}', JSON_CT, null, null, null, 400, 'startTimeUnixNano');
add('types-span.json', '{"resourceSpans":[{"scopeSpans":[{"spans":["span"]}]}]}', JSON_CT, null, null, null, 400, 'span');
add('types-any.json', jrequest([jspan({ trace: hex(16), id: hex(8), name: 'x', attrs: { two: { stringValue: 'a', boolValue: true } } })]),
  JSON_CT, null, null, null, 400, 'more than one');
add('types-kind.json', '{"resourceSpans":[{"scopeSpans":[{"spans":[{"kind":"CLIENTISH"}]}]}]}', JSON_CT, null, null, null, 400, 'kind');
add('badjson.json', '{"resourceSpans": [', JSON_CT, null, null, null, 400, 'invalid JSON');
add('dupkey.json', '{"resourceSpans":[],"resourceSpans":[]}', JSON_CT, null, null, null, 400, 'invalid JSON');
add('utf8.json', Buffer.from('{"resourceSpans":[{"scopeSpans":[{"spans":[{"name":"\xc0\xaf"}]}]}]}', 'latin1'),
  JSON_CT, null, null, null, 400, 'invalid JSON');
// values JSON cannot hold as numbers: kept as strings, the request is fine
add('numbers.json', jrequest([jspan({ trace: hex(16), id: hex(8), name: 'chat numbers', attrs: {
  ...chatAttrs('hostile-numbers'), 'gen_ai.request.temperature': { doubleValue: 'NaN' },
  'gen_ai.request.seed': { intValue: '9007199254740993' }, 'gen_ai.request.top_k': { doubleValue: 'Infinity' } } })]),
  JSON_CT, null, null, null, 200, '-');
// a huge attribute value: 8 MiB of message content on an inference span
add('huge.json', jrequest([jspan({ trace: hex(16), id: hex(8), name: 'chat huge', attrs: {
  ...chatAttrs('hostile-huge'), 'gen_ai.input.messages': JSON.stringify([{ role: 'user', parts: [{ type: 'text',
    content: 'x'.repeat(8 << 20) }] }]) } })]), JSON_CT, null, null, null, 200, '-');
// over --max-body (20 MiB by default)
add('toolarge.json', jrequest([jspan({ trace: hex(16), id: hex(8), name: 'big', attrs: { big: 'y'.repeat(21 << 20) } })]),
  JSON_CT, null, null, null, 413, 'larger than');
// a gzip bomb: 200 MiB of zeros in a ~200 KB body
add('bomb.json.gz', zlib.gzipSync(Buffer.alloc(200 << 20, 0x20), { level: 9 }), JSON_CT, 'gzip', null, null, 413, 'after gzip');
add('notgzip.json', jrequest([]), JSON_CT, 'gzip', null, null, 400, 'not valid gzip');
add('gzipped.json', zlib.gzipSync(Buffer.from(jrequest([jspan({ trace: hex(16), id: hex(8), name: 'chat gz',
  attrs: chatAttrs('hostile-gzip') })]))), JSON_CT, 'gzip', null, null, 200, '-');
add('brotli.json', jrequest([]), JSON_CT, 'br', null, null, 415, 'Content-Encoding');
// 10,000 spans in one JSON batch
{
  const spans = [];
  for (let i = 0; i < 10000; i++) spans.push(jspan({ trace: hex(16), id: hex(8), name: 'chat', attrs: chatAttrs('hostile-many-json-' + (i % 5)) }));
  add('many.json', jrequest(spans), JSON_CT, null, null, null, 200, '-');
}
// cyclic parent links: A <-> B, C its own parent, D under the cycle (not in it), E fine,
// F with a bad id: 4 rejected
{
  const t = hex(16), A = hex(8), B = hex(8), C = hex(8), D = hex(8), E = hex(8);
  add('cycle.json', jrequest([
    jspan({ trace: t, id: A, parent: B, name: 'chat a', attrs: chatAttrs('hostile-cycle') }),
    jspan({ trace: t, id: B, parent: A, name: 'chat b', attrs: chatAttrs('hostile-cycle') }),
    jspan({ trace: t, id: C, parent: C, name: 'c' }),
    jspan({ trace: t, id: D, parent: A, name: 'd' }),
    jspan({ trace: t, id: E, name: 'chat e', attrs: chatAttrs('hostile-cycle-ok') }),
    jspan({ trace: t, id: '0000000000000000', name: 'zero id' }),
  ]), JSON_CT, null, null, null, 200, '"rejectedSpans":"4"');
  // a long cycle, 5,000 spans in one ring
  const ids = [];
  for (let i = 0; i < 5000; i++) ids.push(hex(8));
  const t2 = hex(16);
  add('ring.json', jrequest(ids.map((id, i) => jspan({ trace: t2, id, parent: ids[(i + 1) % ids.length], name: 'r' }))),
    JSON_CT, null, null, null, 200, '"rejectedSpans":"5000"');
}
add('plain.txt', 'hello', 'text/plain', null, null, null, 415, 'Content-Type');
add('noct.json', '{}', null, null, null, null, 415, 'Content-Type');
add('get', null, JSON_CT, null, 'GET', '/v1/traces', 405, 'POST');
add('other.json', '{}', JSON_CT, null, null, '/v1/metrics', 404, 'traces');
add('empty.json', '{}', JSON_CT, null, null, null, 200, '{}');

fs.writeFileSync(path.join(dir, 'cases.tsv'), cases.join('\n') + '\n');
