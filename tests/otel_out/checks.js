'use strict';
// checks.js WORK TAG — what run.sh collected, checked: the lines mockotlpserver printed
// (otlp.proxy.out: while the proxy ran; otlp.out: everything), the calls' Airi-Run-Id headers
// (calls.txt), `airi show --json` of each run (show.jsonl), the proxy's health counters and
// `airi otel export --to --json`'s report.
const fs = require('node:fs');
const path = require('node:path');
const assert = require('node:assert/strict');

const [work, tag] = process.argv.slice(2);
const read = (f) => fs.readFileSync(path.join(work, f), 'utf8');

function spansOf(text) {
  const out = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    const req = JSON.parse(line);
    for (const rs of req.resourceSpans || [])
      for (const ss of rs.scopeSpans || [])
        for (const s of ss.spans || []) out.push({span: s, resource: rs.resource, scope: ss.scope});
  }
  return out;
}

const calls = read('calls.txt').trim().split('\n').map((l) => l.split(' '));
const shows = read('show.jsonl').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l));
const ids = Object.fromEntries(shows.map((s) => [s.ids.run, s]));
const proxySpans = spansOf(read('otlp.proxy.out'));
const allSpans = spansOf(read('otlp.out'));
let failures = 0;
function check(what, fn) {
  try {
    fn();
    console.log(`ok - ${what}`);
  } catch (e) {
    failures++;
    console.log(`not ok - ${what}\n  ${String(e.message).split('\n').join('\n  ')}`);
  }
}

function checkSpan(name, run, x) {
  const s = x.span;
  const a = s.attributes;
  const show = ids[run];
  assert.ok(show, `no airi show output for ${run}`);
  assert.equal(x.resource.attributes['service.name'], 'airi');
  assert.equal(x.scope.name, 'airi');
  assert.match(s.traceId, /^[0-9a-f]{32}$/);
  assert.match(s.spanId, /^[0-9a-f]{16}$/);
  assert.equal(s.kind, 'SPAN_KIND_CLIENT');
  assert.ok(BigInt(s.startTimeUnixNano) > 0n && BigInt(s.startTimeUnixNano) <= BigInt(s.endTimeUnixNano));
  assert.equal(a['gen_ai.operation.name'], 'chat');
  const model = show.manifest.conditions.model.name;
  assert.equal(s.name, `chat ${model}`);
  assert.equal(a['gen_ai.request.model'], model);
  assert.equal(a['gen_ai.response.model'], show.manifest.conditions.model.resolved);
  assert.equal(a['gen_ai.provider.name'], show.manifest.conditions.model.provider);
  assert.equal(a['airi.run.id'], run);
  assert.equal(a['airi.conditions.id'], show.ids.conditions);
  for (const sec of ['system', 'input', 'tools'])
    assert.equal(a[`airi.content.${sec}`], show.ids.sections[sec], `airi.content.${sec}`);
  assert.equal(a['airi.content.output'], show.ids.output);
  if (name !== 'stream') { // a stream without stream_options.include_usage has no usage
    assert.ok(Number(a['gen_ai.usage.input_tokens']) > 0, 'gen_ai.usage.input_tokens');
    assert.ok(Number(a['gen_ai.usage.output_tokens']) > 0, 'gen_ai.usage.output_tokens');
  }
  assert.ok(Array.isArray(a['gen_ai.response.finish_reasons']) && a['gen_ai.response.finish_reasons'].length > 0,
    'gen_ai.response.finish_reasons');
  assert.equal(!!(s.status && s.status.code === 'STATUS_CODE_ERROR'), false, `no error status: ${JSON.stringify(s.status)}`);
  if (name === 'chat') {
    assert.equal(a['gen_ai.request.temperature'], 0.7);
    assert.equal(Number(a['gen_ai.request.seed']), 7);
  }
  if (name === 'messages') assert.equal(Number(a['gen_ai.request.max_tokens']), 64);
}

for (const [name, run] of calls) {
  check(`proxy --otlp: one span for the ${name} call, airi.run.id = Airi-Run-Id, references = airi show`, () => {
    const m = proxySpans.filter((x) => x.span.attributes['airi.run.id'] === run);
    assert.equal(m.length, 1, `spans with airi.run.id ${run}: ${m.length}`);
    checkSpan(name, run, m[0]);
    // the content references resolve: they are the section digests of the stored run
    assert.ok(Object.values(ids[run].ids.sections).includes(m[0].span.attributes['airi.content.input']));
  });
  check(`otel export --to: the ${name} run again, the same span`, () => {
    const m = allSpans.filter((x) => x.span.attributes['airi.run.id'] === run);
    assert.equal(m.length, 3, `spans with airi.run.id ${run} in all (proxy, export, export --json): ${m.length}`);
    for (const x of m) checkSpan(name, run, x);
    // export is deterministic: the same ids and attributes every time
    assert.deepEqual(m[1].span, m[0].span);
    assert.deepEqual(m[2].span, m[0].span);
  });
}

check('no prompt or reply text in anything the receiver printed', () => {
  const all = read('otlp.out');
  for (const w of [`userprompt-${tag}`, `sysprompt-${tag}`, 'Reply to', tag])
    assert.ok(!all.includes(w), `found ${JSON.stringify(w)}`);
});

check('the proxy health counters count what was sent', () => {
  const h = JSON.parse(read('health.json'));
  assert.ok(h.otlp_sent >= 1, `otlp_sent ${h.otlp_sent}`);
  assert.equal(h.otlp_dropped, 0);
  assert.equal(h.otlp_failed, 0);
});

check('otel export --to --json reports the status', () => {
  const r = JSON.parse(read('export.json'));
  assert.equal(r.ok, true);
  assert.equal(r.status, 200);
  assert.equal(r.spans, 3);
});

process.exit(failures ? 1 : 0);
