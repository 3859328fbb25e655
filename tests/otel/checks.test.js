// checks.test.js — what the instrumented clients of run.sh must have left in the store,
// read back with `airi log --json`, `airi show --json` and `airi check`, and what the
// --forward target received. Run by run.sh with node's test runner; environment:
//   AIRI_BIN, AIRI_STORE   the airi binary and the receiver's store
//   OTEL_CLIENTS           a file with one JSON line per client run (client.js output plus
//                          instr, exporter, content)
//   OTEL_SINK              the folder where sink.js saved the forwarded batches
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { execFileSync, spawnSync } = require('node:child_process');

const AIRI = process.env.AIRI_BIN;
const STORE = process.env.AIRI_STORE;
const clients = fs
  .readFileSync(process.env.OTEL_CLIENTS, 'utf8')
  .split('\n')
  .filter(Boolean)
  .map((l) => JSON.parse(l));

function airi(...args) {
  return execFileSync(AIRI, [...args, '--store', STORE], { encoding: 'utf8', maxBuffer: 1 << 28 });
}

// every run in the store, with its manifest and completeness
const runs = JSON.parse(airi('log', '--json')).map((r) => {
  const shown = JSON.parse(airi('show', '--json', r.run));
  return { id: r.run, log: r, manifest: shown.manifest, completeness: shown.completeness };
});

function runsOf(trace) {
  return runs.filter((r) => r.manifest.meta && r.manifest.meta.trace_id === trace);
}
function modelCalls(trace) {
  return runsOf(trace)
    .filter((r) => !r.manifest.trajectory)
    .sort((a, b) => (a.manifest.meta.start_time_unix_nano < b.manifest.meta.start_time_unix_nano ? -1 : 1));
}
function section(run, name) {
  return run.manifest.conditions[name];
}
// the text of a message, GenAI parts or OpenInference/OpenAI content
function text(msg) {
  if (typeof msg.content === 'string') return msg.content;
  if (Array.isArray(msg.parts)) return msg.parts.map((p) => p.content || '').join('');
  return '';
}

for (const c of clients) {
  const name = `${c.instr} + ${c.exporter}${c.gzip ? ' (gzip)' : ''}${c.content ? '' : ', content capture off'}`;
  test(`${name}: the plain call is one run with the right model and params`, () => {
    const calls = modelCalls(c.plain_trace);
    assert.equal(calls.length, 1, 'one run for the one chat span');
    const r = calls[0];
    const model = section(r, 'model');
    assert.equal(model.name, 'gpt-4o-mini');
    assert.equal(model.resolved, 'gpt-4o-mini-2026-01-01');
    assert.equal(model.provider, 'openai');
    assert.equal(r.log.resolved, 'gpt-4o-mini-2026-01-01', 'airi log shows the resolved model');
    const params = section(r, 'params');
    assert.equal(params.temperature, 0.3);
    assert.equal(params.max_tokens, 50);
    if (c.instr === 'openinference') assert.equal(params.seed, 7, 'OpenInference records every request parameter');
    else assert.equal(params.seed, undefined, 'the Traceloop instrumentation does not record the seed');
    const env = section(r, 'environment');
    assert.match(env.otel.scope.name, c.instr === 'traceloop' ? /traceloop/ : /openinference/);
    assert.equal(r.manifest.meta.source, 'otlp');
  });

  if (c.content) {
    test(`${name}: messages are recorded (system, input, output)`, () => {
      const r = modelCalls(c.plain_trace)[0];
      const sys = section(r, 'system');
      assert.ok(sys && Array.isArray(sys.messages), 'system messages');
      assert.equal(text(sys.messages[0]), 'You are terse. ' + c.tag);
      const input = section(r, 'input');
      assert.equal(input.messages.length, 1);
      assert.equal(input.messages[0].role, 'user');
      assert.equal(text(input.messages[0]), 'What is the capital of France? ' + c.tag);
      const out = r.manifest.output;
      assert.ok(out, 'output recorded');
      assert.match(text(out.messages[0]), /^Reply to "What is the capital of France\? /);
      assert.deepEqual(out.finish_reasons, ['stop']);
      assert.equal(out.usage.input_tokens > 0, true);
      // model pinned, everything present: only the (Traceloop) seed can be missing
      const verdict = spawnSync(AIRI, ['check', r.id, '--store', STORE], { encoding: 'utf8' });
      if (c.instr === 'openinference') assert.equal(verdict.status, 0, verdict.stdout);
      else assert.match(verdict.stdout, /verdict: (pinned|partial)/);
    });
  } else {
    test(`${name}: what the telemetry did not carry is missing, and said so`, () => {
      const r = modelCalls(c.plain_trace)[0];
      assert.equal(section(r, 'input'), undefined, 'no input section');
      assert.equal(section(r, 'system'), undefined, 'no system section');
      assert.equal(r.manifest.output, undefined, 'no output');
      const nc = r.manifest.meta.not_captured;
      assert.equal(nc.system, 'system prompt not captured by the instrumentation');
      assert.match(nc.input, /not captured/);
      assert.match(r.manifest.meta.capture, /^partial: /);
      assert.equal(r.completeness.verdict, 'partial');
      const sec = Object.fromEntries(r.completeness.sections.map((s) => [s.name, s.status]));
      assert.equal(sec.system, 'missing');
      assert.equal(sec.input, 'missing');
      assert.equal(sec.model, 'ok');
      const verdict = spawnSync(AIRI, ['check', r.id, '--store', STORE], { encoding: 'utf8' });
      assert.equal(verdict.status, 1, 'airi check: not pinned');
    });
  }

  test(`${name}: the agent trace is a grouped run whose trajectory follows the spans`, () => {
    const calls = modelCalls(c.agent_trace);
    assert.equal(calls.length, 2, 'two model calls in the agent trace');
    const grouped = runsOf(c.agent_trace).filter((r) => r.manifest.trajectory);
    assert.equal(grouped.length, 1, 'one grouped run for the trace');
    const g = grouped[0];
    const steps = g.manifest.trajectory;
    assert.deepEqual(steps.map((s) => s.type), ['model_call', 'tool_call', 'model_call']);
    assert.equal(steps[0].run, calls[0].id);
    assert.equal(steps[2].run, calls[1].id);
    assert.equal(steps[0].conditions, calls[0].log.conditions);
    assert.equal(steps[1].name, 'get_weather');
    assert.deepEqual(steps[1].arguments, { city: 'Oslo' });
    assert.deepEqual(steps[1].result, { city: 'Oslo', sky: 'sunny' });
    assert.equal(section(g, 'agent').name, 'weather-agent');
    assert.deepEqual(section(g, 'model'), section(calls[0], 'model'), 'conditions of the first call');
    assert.equal(g.manifest.meta.group, 'trace-' + c.agent_trace);
    assert.equal(g.manifest.meta.calls, 2);
    assert.equal(g.manifest.meta.sealed, 'root');
    if (c.content) {
      assert.ok(section(calls[0], 'tools').definitions.length === 1, 'tool definitions recorded');
      assert.equal(text(g.manifest.output.messages[0]), 'It is sunny.');
    }
    // airi diff works on grouped runs like on any other
    const d = spawnSync(AIRI, ['diff', g.id, g.id, '--store', STORE], { encoding: 'utf8' });
    assert.equal(d.status, 0, d.stderr);
  });

  if (c.instr === 'openinference') {
    test(`${name}: the embeddings call is a run too`, () => {
      const e = modelCalls(c.embed_trace)[0];
      assert.ok(e, 'an embeddings run');
      assert.equal(section(e, 'model').name, 'text-embedding-3-small');
      assert.equal(section(e, 'system'), null, 'no system prompt in an embeddings call');
      if (c.content) assert.deepEqual(section(e, 'input').input, ['hello ' + c.tag]);
    });
  }
}

test('the same request exported twice is recorded once (retries are idempotent)', () => {
  const ids = new Set(runs.map((r) => r.id));
  assert.equal(ids.size, runs.length);
});

test('--forward passed every batch on, with airi.run.id on the spans that became runs', () => {
  const dir = process.env.OTEL_SINK;
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.json') || f.endsWith('.pb'));
  assert.ok(files.some((f) => f.endsWith('.json')), 'JSON batches forwarded');
  assert.ok(files.some((f) => f.endsWith('.pb')), 'protobuf batches forwarded');
  const known = new Set(runs.map((r) => r.id));
  const conds = new Set(runs.map((r) => r.log.conditions));
  let seen = 0;
  for (const f of files) {
    const body = fs.readFileSync(path.join(dir, f));
    if (f.endsWith('.json')) {
      const req = JSON.parse(body.toString('utf8'));
      for (const rs of req.resourceSpans || [])
        for (const ss of rs.scopeSpans || [])
          for (const sp of ss.spans || []) {
            const a = Object.fromEntries((sp.attributes || []).map((kv) => [kv.key, kv.value]));
            if (!a['airi.run.id']) continue;
            seen++;
            assert.ok(known.has(a['airi.run.id'].stringValue), 'the forwarded run id is in the store');
            assert.ok(conds.has(a['airi.conditions.id'].stringValue));
            assert.equal(sp.traceId.length, 32, 'the rest of the span is as received');
          }
    } else {
      // protobuf: the ids appear as string values right after their keys
      const s = body.toString('latin1');
      const re = /airi\.run\.id[\s\S]{2,6}?(sha256:[0-9a-f]{64})/g;
      let m;
      while ((m = re.exec(s))) {
        seen++;
        assert.ok(known.has(m[1]), 'the forwarded run id is in the store');
      }
    }
  }
  const modelRuns = runs.filter((r) => !r.manifest.trajectory).length;
  assert.equal(seen, modelRuns, 'every span that became a run carries its id downstream');
});
