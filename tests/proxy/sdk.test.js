// sdk.test.js — `airi proxy` seen through the real OpenAI and Anthropic SDKs.
//
// Run by run.sh, with:
//   UPSTREAM_URL  the fake upstream (fake_upstream.js), always
//   PROXY_URL     the proxy in front of it; absent in --direct mode, where the SDKs talk to the
//                 fake directly and every airi-specific assertion is left out (that mode checks
//                 that the fake itself is what the SDKs expect)
//   AIRI_BIN      the airi binary (for `airi show/log/diff` and for the extra proxies started
//                 here: unreachable upstream, --no-stamp, --max-body)
//   AIRI_STORE    the store the main proxy writes; the extra proxies write beside it
//
// The contract under test (from the proxy's brief):
//   - captured: POST /v1/chat/completions, /v1/completions, /v1/responses, /v1/embeddings,
//     /v1/messages; anything else passes through unrecorded;
//   - JSON replies get `Airi-Run-Id` / `Airi-Conditions-Id` headers and a top-level
//     `"airi": {"run", "conditions"}` member (not with --no-stamp, which keeps the headers);
//   - SSE replies get an `Airi-Run-Key` header and, after the upstream's last event, a comment
//     `: airi run=... conditions=...`; on chat completions also one extra chunk with
//     `choices: []` and an `airi` member before `data: [DONE]`; on /v1/messages an extra event
//     `event: airi` / `data: {"type":"airi","run":...,"conditions":...}` after message_stop
//     (the shape this harness found the Anthropic SDK tolerates: see the SDK-tolerance tests);
//   - each captured call (retries and failures too) is a run in the store, with
//     conditions.model {provider, name, resolved, fingerprint, upstream}, params, system, input,
//     tools, environment; output; meta {start, first_byte, end, status, request_id, attempt,
//     endpoint, stream};
//   - Authorization, x-api-key, api-key and cookie are forwarded but never stored;
//   - unreachable upstream: 502 with {"error":{"type":"airi_upstream_error",...}} (Anthropic
//     style {"type":"error","error":{...}} on /v1/messages), still recorded;
//   - request body over --max-body: 413 in the API's error format.
//
// Where the brief left a shape open (provider names, the system and tools sections, meta.ended,
// the output of a failed call), the expectation follows what the proxy does and its comment
// says so; each contract item is checked in one place, so that one gap fails one test.
//
// Note on the manifest: per docs/spec.md section 5, `output` and `meta` are top-level members
// of a manifest, beside `conditions` (meta inside conditions would make every conditions ID
// unique), so they are read as manifest.output and manifest.meta here.
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
const zlib = require('node:zlib');

const OpenAI = require('openai');
const Anthropic = require('@anthropic-ai/sdk');
const fake = require('./fake_upstream.js');

const UPSTREAM_URL = process.env.UPSTREAM_URL;
const PROXY_URL = process.env.PROXY_URL || '';
const AIRI_BIN = process.env.AIRI_BIN || '';
const AIRI_STORE = process.env.AIRI_STORE || '';
const DIRECT = !PROXY_URL;
const BASE = DIRECT ? UPSTREAM_URL : PROXY_URL;
if (!UPSTREAM_URL) throw new Error('UPSTREAM_URL is not set: run this through run.sh');
if (!DIRECT && (!AIRI_BIN || !AIRI_STORE)) throw new Error('PROXY_URL needs AIRI_BIN and AIRI_STORE');
const STORE_DIR = DIRECT ? null : path.dirname(AIRI_STORE);

// The fake secrets. run.sh greps every store file for each of them.
const OPENAI_KEY = 'sk-test-SECRET-123';
const ANTHROPIC_KEY = 'ak-test-SECRET-456';
const AZURE_KEY = 'az-test-SECRET-789';
const COOKIE = 'session=cookie-SECRET-000';
const SECRETS = [OPENAI_KEY, ANTHROPIC_KEY, AZURE_KEY, 'cookie-SECRET-000'];

const SHA = /^sha256:[0-9a-f]{64}$/;
const OPENAI_MODEL = 'gpt-4o-mini';
const ANTHROPIC_MODEL = 'claude-sonnet-5-5'; // one the SDK does not warn about as deprecated
const SYSTEM = 'You are a precise assistant. Answer in one sentence.';

// The retry delay the SDKs use when the server gives none is 0.5 s and up; the fake's 429
// carries retry-after-ms: 10 (forwarded by the proxy, or the SDK falls back to its backoff).
const openai = new OpenAI({ baseURL: BASE + '/v1', apiKey: OPENAI_KEY, maxRetries: 2, timeout: 30000 });
const anthropic = new Anthropic({ baseURL: BASE, apiKey: ANTHROPIC_KEY, maxRetries: 2, timeout: 30000 });

const WEATHER_SCHEMA = {
  type: 'object',
  properties: { city: { type: 'string', description: 'City name' } },
  required: ['city'],
  additionalProperties: false,
};
const OPENAI_WEATHER_TOOL = {
  type: 'function',
  function: { name: 'get_weather', description: 'Current weather in a city', parameters: WEATHER_SCHEMA },
};
const ANTHROPIC_WEATHER_TOOL = { name: 'get_weather', description: 'Current weather in a city', input_schema: WEATHER_SCHEMA };

// ---- helpers -----------------------------------------------------------------------------

// In direct mode the part of a test after `if (proxyOnly(t)) return;` is left out: the test
// still counts as passed for what it checked of the fake and the SDK.
function proxyOnly(t) {
  if (DIRECT) {
    t.diagnostic('direct mode: the airi assertions are left out');
    return true;
  }
  return false;
}

// For tests that need a proxy from the start.
function needsProxy(t) {
  if (DIRECT) {
    t.skip('direct mode: needs the proxy');
    return true;
  }
  return false;
}

function airi(args, okCodes = [0]) {
  const r = spawnSync(AIRI_BIN, args, { encoding: 'utf8', timeout: 20000 });
  if (!okCodes.includes(r.status)) {
    throw new Error(`airi ${args.join(' ')} exited ${r.status} (signal ${r.signal})\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  }
  return r;
}

function logRuns(store = AIRI_STORE) {
  if (!fs.existsSync(store)) return [];
  return JSON.parse(airi(['log', '--store', store, '--json']).stdout);
}

// `airi show --json ID`, with a check that no secret made it into what is stored.
function show(id, store = AIRI_STORE) {
  const out = airi(['show', '--store', store, '--json', id]).stdout;
  for (const s of SECRETS) assert.ok(!out.includes(s), `secret ${s} is in the stored run ${id}`);
  return JSON.parse(out);
}

function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

// The runs recorded since `beforeList` was taken. A streamed call is recorded when its stream
// ends, which can be a moment after the client saw the last byte: poll (up to 5 s) until at
// least `n` new runs are there, let it settle, and return exactly what is new, each with its
// `show` output, ordered by meta.attempt then meta.start.
async function newRuns(beforeList, n, store = AIRI_STORE) {
  const seen = new Set(beforeList.map((r) => r.run));
  let fresh = [];
  for (let i = 0; i < 50; i++) {
    fresh = logRuns(store).filter((r) => !seen.has(r.run));
    if (fresh.length >= n) break;
    await sleep(100);
  }
  await sleep(200);
  fresh = logRuns(store).filter((r) => !seen.has(r.run));
  const shown = fresh.map((r) => show(r.run, store));
  shown.sort((a, b) => {
    const ma = a.manifest.meta || {}, mb = b.manifest.meta || {};
    return (ma.attempt ?? 0) - (mb.attempt ?? 0) || String(ma.start).localeCompare(String(mb.start));
  });
  return shown;
}

async function fakeRequests() {
  const r = await fetch(UPSTREAM_URL + '/_fake/requests');
  return r.json();
}

async function fakeReset() {
  await fetch(UPSTREAM_URL + '/_fake/reset', { method: 'POST' });
}

// Requests the fake received for `p` whose JSON body has `marker` somewhere in it.
async function fakeRequestsFor(p, marker) {
  return (await fakeRequests()).filter((r) => r.path === p && (marker === undefined || r.body.includes(marker)));
}

// Is `needle` a string value somewhere inside `v`?
function containsString(v, needle) {
  if (typeof v === 'string') return v === needle;
  if (Array.isArray(v)) return v.some((x) => containsString(x, needle));
  if (v && typeof v === 'object') return Object.values(v).some((x) => containsString(x, needle));
  return false;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

const extraProxies = [];

// Starts another `airi proxy` with its own store beside AIRI_STORE; resolves once it printed
// its ready line (10 s at most).
async function startProxy(name, upstream, extraArgs = []) {
  const store = path.join(STORE_DIR, name + '.db');
  for (let attempt = 1; attempt <= 3; attempt++) {
    const port = await freePort();
    const args = ['proxy', '--listen', `127.0.0.1:${port}`, '--upstream', upstream, '--store', store, ...extraArgs];
    const proc = spawn(AIRI_BIN, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    const ready = await new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), 10000);
      proc.stderr.on('data', (d) => {
        stderr += d;
        // run.sh checks that the line is exactly this; here its start is enough
        const want = `airi proxy: listening on 127.0.0.1:${port}`;
        if (stderr.split('\n').some((l) => l === want || (l.startsWith(want) && !/[0-9]/.test(l[want.length])))) {
          clearTimeout(timer);
          resolve(true);
        }
      });
      proc.on('exit', () => {
        clearTimeout(timer);
        resolve(false);
      });
    });
    if (ready) {
      const p = {
        url: `http://127.0.0.1:${port}`,
        store,
        proc,
        stderr: () => stderr,
        stop: () => new Promise((resolve) => {
          if (proc.exitCode !== null || proc.signalCode !== null) return resolve(proc.exitCode);
          proc.on('exit', (code) => resolve(code));
          proc.kill('SIGTERM');
        }),
      };
      extraProxies.push(p);
      return p;
    }
    proc.kill('SIGKILL');
    if (attempt === 3) throw new Error(`airi ${args.join(' ')} did not become ready:\n${stderr}`);
  }
}

after(async () => {
  for (const p of extraProxies) {
    const code = await p.stop();
    assert.equal(code, 0, `extra proxy on ${p.url} should exit 0 on SIGTERM, got ${code}\n${p.stderr()}`);
  }
});

before(async () => {
  await fakeReset();
});

// The provider the proxy records: the API family, and "-compatible" when the upstream is not
// the vendor's own host (the fake is on 127.0.0.1). The proxy decides this by the --upstream
// URL: "openai" only for api.openai.com, "anthropic" only for *anthropic.com.
function expectedProvider(family) {
  if (family === 'openai') return UPSTREAM_URL.includes('api.openai.com') ? 'openai' : 'openai-compatible';
  return UPSTREAM_URL.includes('anthropic.com') ? 'anthropic' : 'anthropic-compatible';
}

// Checks common to every recorded OpenAI chat run. (meta.request_id has a test of its own, so
// that its absence shows up once rather than in every test.)
function checkChatRun(run, { status = 200, attempt = 1, stream = false } = {}) {
  const c = run.manifest.conditions;
  const want = { provider: expectedProvider('openai'), name: OPENAI_MODEL };
  if (status === 200) {
    // resolved and fingerprint are what the upstream's reply says; an error reply has neither
    want.resolved = OPENAI_MODEL + '-2026-01-01';
    want.fingerprint = 'fp_fake';
  }
  want.upstream = UPSTREAM_URL;
  assert.deepEqual(c.model, want,
    'conditions.model: provider by API and host, name as requested, resolved/fingerprint as the upstream replied, upstream as given to --upstream');
  const m = run.manifest.meta;
  assert.equal(m.status, status, 'meta.status is the upstream HTTP status');
  assert.equal(m.attempt, attempt, 'meta.attempt is X-Stainless-Retry-Count + 1');
  assert.equal(m.endpoint, '/v1/chat/completions', 'meta.endpoint is the request path');
  assert.equal(m.stream, stream, 'meta.stream is the request\'s stream flag');
  assert.equal(m.ended, 'complete', 'meta.ended: the exchange completed');
  for (const k of ['start', 'first_byte', 'end']) {
    assert.ok(!Number.isNaN(Date.parse(m[k])), `meta.${k} is an RFC 3339 time, got ${JSON.stringify(m[k])}`);
  }
  assert.ok(Date.parse(m.start) <= Date.parse(m.first_byte) && Date.parse(m.first_byte) <= Date.parse(m.end),
    `meta.start <= meta.first_byte <= meta.end, got ${m.start} ${m.first_byte} ${m.end}`);
}

// =============================================================================================
// OpenAI
// =============================================================================================

const CAPITAL_Q = 'What is the capital of Norway?';

test('openai: chat.completions.create, non-streaming: stamped body, headers, recorded run', async (t) => {
  const req = {
    model: OPENAI_MODEL,
    messages: [{ role: 'system', content: SYSTEM }, { role: 'user', content: CAPITAL_Q }],
    temperature: 0,
    seed: 42,
    max_tokens: 64,
  };
  const { data, response } = await openai.chat.completions.create(req).withResponse();
  // The fake's answer is a pure function of the last user message and the seed.
  assert.equal(data.choices[0].message.content, fake.replyText(CAPITAL_Q, 42));
  assert.equal(data.model, OPENAI_MODEL + '-2026-01-01');
  assert.equal(data.system_fingerprint, 'fp_fake');

  // The key went to the upstream unchanged (forwarded, not swallowed).
  const seen = await fakeRequestsFor('/v1/chat/completions', CAPITAL_Q);
  assert.equal(seen.length, 1, 'the upstream got exactly one request');
  assert.equal(seen[0].headers.authorization, 'Bearer ' + OPENAI_KEY, 'Authorization forwarded to the upstream');
  assert.deepEqual(JSON.parse(seen[0].body), req, 'the request body reaches the upstream unchanged (as JSON)');
  if (proxyOnly(t)) return;

  // Stamp: body member and headers agree.
  assert.equal(typeof data.airi, 'object', 'the JSON body has a top-level "airi" member');
  assert.match(data.airi.run, SHA);
  assert.match(data.airi.conditions, SHA);
  assert.deepEqual(Object.keys(data.airi).sort(), ['conditions', 'run'], '"airi" has exactly run and conditions');
  assert.equal(response.headers.get('airi-run-id'), data.airi.run, 'Airi-Run-Id header == body.airi.run');
  assert.equal(response.headers.get('airi-conditions-id'), data.airi.conditions, 'Airi-Conditions-Id header == body.airi.conditions');
  // The upstream's headers pass through.
  assert.match(response.headers.get('x-request-id'), /^req_fake_\d{6}$/);

  // The store has it, under that very ID.
  const run = show(data.airi.run);
  assert.equal(run.ids.run, data.airi.run);
  assert.equal(run.ids.conditions, data.airi.conditions);
  checkChatRun(run);
  assert.equal(run.manifest.meta.response_id, data.id, 'meta.response_id is the completion id');
  const c = run.manifest.conditions;
  assert.deepEqual(c.params, { temperature: 0, seed: 42, max_tokens: 64 },
    'params holds exactly the sampling fields of the request (no model/messages/tools)');
  // OpenAI: the system/developer messages, kept as messages (role included) (spec 8.3).
  assert.deepEqual(c.system, { messages: [{ role: 'system', content: SYSTEM }] }, 'system is {messages: [the system messages]}');
  assert.deepEqual(c.input, { messages: [{ role: 'user', content: CAPITAL_Q }] },
    'input.messages is the request\'s messages without the system message (spec 8.4)');
  assert.deepEqual(Object.keys(c).sort(), ['environment', 'input', 'model', 'params', 'system'],
    'sections of a chat call without tools');
  assert.equal(c.environment.proxy.name, 'airi', 'environment names the proxy');
  // Output: the upstream's choices and usage, decoded, without the airi stamp.
  assert.deepEqual(run.manifest.output.choices, data.choices, 'output.choices is what the upstream answered');
  assert.deepEqual(run.manifest.output.usage, data.usage, 'output.usage is what the upstream answered');
});

test('openai: chat.completions.create, streaming with include_usage: chunks, extra airi chunk, same text', async (t) => {
  const req = {
    model: OPENAI_MODEL,
    messages: [{ role: 'system', content: SYSTEM }, { role: 'user', content: CAPITAL_Q }],
    temperature: 0,
    seed: 42,
    max_tokens: 64,
    stream: true,
    stream_options: { include_usage: true },
  };
  const { data: stream, response } = await openai.chat.completions.create(req).withResponse();
  const chunks = [];
  for await (const chunk of stream) chunks.push(chunk);
  const text = chunks.map((c) => c.choices[0]?.delta?.content ?? '').join('');
  // The same seed and messages as the non-streamed test: the same text, assembled from pieces.
  assert.equal(text, fake.replyText(CAPITAL_Q, 42));
  const contentChunks = chunks.filter((c) => c.choices[0]?.delta?.content);
  assert.ok(contentChunks.length >= 3, `content arrives in several chunks (got ${contentChunks.length})`);
  const usageChunks = chunks.filter((c) => c.usage);
  assert.equal(usageChunks.length, 1, 'exactly one usage chunk (include_usage)');
  assert.deepEqual(usageChunks[0].choices, []);
  const finish = chunks.filter((c) => c.choices[0]?.finish_reason);
  assert.equal(finish.length, 1);
  assert.equal(finish[0].choices[0].finish_reason, 'stop');

  const airiChunks = chunks.filter((c) => c.airi !== undefined);
  if (DIRECT) {
    assert.equal(airiChunks.length, 0);
    return proxyOnly(t);
  }
  const key = response.headers.get('airi-run-key');
  assert.ok(key && key.length > 0, 'streaming replies carry an Airi-Run-Key header');
  assert.equal(airiChunks.length, 1, 'exactly one extra chunk with an "airi" member');
  const last = chunks[chunks.length - 1];
  assert.equal(last, airiChunks[0], 'the airi chunk is the last chunk the SDK yields (after usage, before [DONE])');
  assert.equal(last.object, 'chat.completion.chunk');
  assert.deepEqual(last.choices, [], 'the airi chunk has choices: []');
  assert.match(last.airi.run, SHA);
  assert.match(last.airi.conditions, SHA);

  const run = show(last.airi.run);
  assert.equal(run.ids.conditions, last.airi.conditions);
  checkChatRun(run, { stream: true });
  // The same answer as the non-streamed call, assembled into the same place.
  assert.deepEqual(run.manifest.output.choices.map((ch) => [ch.message.role, ch.message.content, ch.finish_reason]),
    [['assistant', text, 'stop']], 'output.choices: the assembled message');
  assert.deepEqual(run.manifest.output.usage, usageChunks[0].usage, 'output.usage from the usage chunk');

  // The envelope of the airi chunk. The chat.completions.stream() helper (ChatCompletionStream
  // #accumulateChatCompletion) does Object.assign(snapshot, chunk-minus-choices) for every chunk
  // that has an `id`, and finalChatCompletion() takes id, created, model and system_fingerprint
  // from that snapshot: an airi chunk with its own id/model/created replaces the upstream's in
  // the final completion, and one with "usage": null would erase the usage. So the airi chunk
  // must repeat the upstream's id, created, model and system_fingerprint, and carry no usage.
  const first = chunks[0];
  assert.deepEqual(
    { id: last.id, created: last.created, model: last.model, system_fingerprint: last.system_fingerprint },
    { id: first.id, created: first.created, model: first.model, system_fingerprint: first.system_fingerprint },
    'the airi chunk repeats the upstream\'s id, created, model and system_fingerprint');
  assert.ok(!('usage' in last), 'the airi chunk has no usage member');
});

test('openai: runTools (streaming) with get_weather: tool round trip, two runs', async (t) => {
  const before = DIRECT ? [] : logRuns();
  const calls = [];
  const runner = openai.chat.completions.runTools({
    model: OPENAI_MODEL,
    seed: 7,
    stream: true,
    messages: [{ role: 'user', content: 'What is the weather in Oslo? (runTools)' }],
    tools: [{
      type: 'function',
      function: {
        name: 'get_weather',
        description: 'Current weather in a city',
        parameters: WEATHER_SCHEMA,
        parse: JSON.parse,
        function: async (args) => {
          calls.push(args);
          return { city: args.city, sky: 'sunny' };
        },
      },
    }],
  });
  const content = await runner.finalContent();
  // Round 1: the model calls get_weather({"city":"Oslo"}) (arguments split over 4 chunks);
  // round 2 (last message a tool result): "It is sunny.".
  assert.deepEqual(calls, [{ city: 'Oslo' }]);
  assert.equal(content, 'It is sunny.');
  const msgs = runner.messages;
  assert.equal(msgs.filter((m) => m.role === 'tool').length, 1);
  if (proxyOnly(t)) return;

  const runs = await newRuns(before, 2);
  assert.equal(runs.length, 2, 'one run per model call: the tool call and the answer');
  for (const r of runs) {
    checkChatRun(r, { stream: true });
  }
  // tools: the request's tools array exactly as the SDK sent it.
  const sent = await fakeRequestsFor('/v1/chat/completions', '(runTools)');
  assert.equal(sent.length, 2);
  for (const r of runs) {
    assert.deepEqual(r.manifest.conditions.tools, { definitions: JSON.parse(sent[0].body).tools }, 'tools.definitions: the tools as sent');
  }
  const roles = runs.map((r) => r.manifest.conditions.input.messages.map((m) => m.role).join(','));
  assert.deepEqual(roles.sort(), ['user', 'user,assistant,tool'].sort(), 'input.messages of each round');
  assert.notEqual(runs[0].ids.conditions, runs[1].ids.conditions, 'the two rounds have different inputs');
});

test('openai: chat.completions.stream() helper with a tool: finalChatCompletion keeps usage, gains airi', async (t) => {
  const stream = openai.chat.completions.stream({
    model: OPENAI_MODEL,
    seed: 8,
    messages: [{ role: 'user', content: 'What is the weather in Oslo? (stream helper)' }],
    tools: [OPENAI_WEATHER_TOOL],
    stream_options: { include_usage: true },
  });
  const final = await stream.finalChatCompletion();
  const msg = final.choices[0].message;
  assert.equal(final.choices[0].finish_reason, 'tool_calls');
  assert.equal(msg.tool_calls.length, 1);
  assert.equal(msg.tool_calls[0].id, fake.TOOL_CALL_ID);
  assert.equal(msg.tool_calls[0].function.name, 'get_weather');
  assert.equal(msg.tool_calls[0].function.arguments, fake.TOOL_ARGS, 'arguments reassembled from 4 pieces');
  if (!DIRECT) {
    // The helper copies every member of a chunk that has an `id` onto the completion, so the
    // airi member of the extra chunk shows up on finalChatCompletion().
    assert.match(final.airi?.run ?? '', SHA, 'finalChatCompletion().airi.run (from the airi chunk)');
    const run = show(final.airi.run);
    checkChatRun(run, { stream: true });
    assert.deepEqual(run.manifest.output.choices[0].message.tool_calls,
      [{ id: fake.TOOL_CALL_ID, type: 'function', function: { name: 'get_weather', arguments: fake.TOOL_ARGS } }],
      'the recorded output has the tool call assembled as in a non-streamed message (no chunk index)');
    assert.equal(run.manifest.output.choices[0].finish_reason, 'tool_calls');
  }
  // What the user of the helper gets must be the upstream's completion: the extra chunk must
  // not replace its envelope (see the streaming test for why).
  assert.deepEqual(
    { id: final.id, created: final.created, model: final.model, system_fingerprint: final.system_fingerprint },
    { id: final.id.startsWith('chatcmpl-fake-') ? final.id : 'chatcmpl-fake-<16 hex> (the upstream\'s)',
      created: fake.CREATED, model: OPENAI_MODEL + '-2026-01-01', system_fingerprint: 'fp_fake' },
    'finalChatCompletion() keeps the upstream\'s id, created, model and system_fingerprint');
  assert.ok(final.usage && final.usage.total_tokens > 0, 'usage survives (the airi chunk must not carry usage: null)');
});

test('meta.request_id is the upstream\'s request id header (x-request-id / request-id)', async (t) => {
  const { data, response } = await openai.chat.completions
    .create({ model: OPENAI_MODEL, messages: [{ role: 'user', content: 'which request id?' }] }).withResponse();
  const { data: msg, response: aresp } = await anthropic.messages
    .create({ model: ANTHROPIC_MODEL, max_tokens: 16, messages: [{ role: 'user', content: 'which request id?' }] }).withResponse();
  // The fake numbers its requests: req_fake_NNNNNN, in x-request-id (OpenAI) / request-id (Anthropic).
  assert.match(response.headers.get('x-request-id'), /^req_fake_\d{6}$/, 'the upstream header reaches the client');
  assert.match(aresp.headers.get('request-id'), /^req_fake_\d{6}$/);
  if (proxyOnly(t)) return;
  assert.equal(show(data.airi.run).manifest.meta.request_id, response.headers.get('x-request-id'), 'OpenAI: meta.request_id == x-request-id');
  assert.equal(show(msg.airi.run).manifest.meta.request_id, aresp.headers.get('request-id'), 'Anthropic: meta.request_id == request-id');
});

test('openai: identical request twice: same conditions ID, different run IDs', async (t) => {
  const req = {
    model: OPENAI_MODEL,
    messages: [{ role: 'user', content: 'Identical twice?' }],
    temperature: 0.5,
    seed: 11,
  };
  const a = await openai.chat.completions.create(req);
  const b = await openai.chat.completions.create(req);
  assert.equal(a.choices[0].message.content, b.choices[0].message.content);
  if (proxyOnly(t)) return;
  // Same model, params, messages, tools, environment => same conditions; meta (times,
  // request id) differs => the run IDs differ.
  assert.equal(a.airi.conditions, b.airi.conditions, 'equal conditions give equal conditions IDs');
  assert.notEqual(a.airi.run, b.airi.run, 'meta differs (times, request_id), so the run IDs differ');
  const both = JSON.parse(airi(['log', '--store', AIRI_STORE, '--json', '--conditions', a.airi.conditions]).stdout);
  assert.deepEqual(both.map((r) => r.run).sort(), [a.airi.run, b.airi.run].sort(), 'airi log --conditions finds exactly the two');
  // `airi diff` of the two: same conditions.
  const d = JSON.parse(airi(['diff', '--store', AIRI_STORE, '--json', a.airi.run, b.airi.run], [0, 1]).stdout);
  assert.equal(d.same_conditions, true);
  assert.deepEqual(d.verdict.differing_sections, []);
});

test('openai: different seed: different conditions, airi diff says only params differ', async (t) => {
  const base = { model: OPENAI_MODEL, messages: [{ role: 'user', content: 'Which seed?' }], temperature: 1 };
  const a = await openai.chat.completions.create({ ...base, seed: 1 });
  const b = await openai.chat.completions.create({ ...base, seed: 2 });
  assert.equal(a.choices[0].message.content, fake.replyText('Which seed?', 1));
  assert.equal(b.choices[0].message.content, fake.replyText('Which seed?', 2));
  if (proxyOnly(t)) return;
  assert.notEqual(a.airi.conditions, b.airi.conditions);
  const r = airi(['diff', '--store', AIRI_STORE, '--json', a.airi.run, b.airi.run], [1]);
  const d = JSON.parse(r.stdout);
  assert.equal(d.same_conditions, false);
  assert.equal(d.verdict.kind, 'conditions_differ');
  assert.deepEqual(d.verdict.differing_sections, ['params'], 'only params differ');
  const params = d.sections.find((s) => s.name === 'params');
  assert.deepEqual(params.changes.map((ch) => [ch.op, ch.pointer, ch.a, ch.b]), [['changed', '/seed', 1, 2]]);
});

test('openai: 429 once then success: the SDK retries, two runs (attempt 1 status 429, attempt 2 status 200)', async (t) => {
  const before = DIRECT ? [] : logRuns();
  const marker = 'retry me please';
  const req = { model: OPENAI_MODEL, messages: [{ role: 'user', content: marker }], seed: 5 };
  const { data, response } = await openai.chat.completions
    .create(req, { headers: { 'x-fake-fault': '429-once' } })
    .withResponse();
  assert.equal(data.choices[0].message.content, fake.replyText(marker, 5));

  // What the SDK sent: the same body twice, X-Stainless-Retry-Count 0 then 1 (openai
  // client.js buildHeaders: 'X-Stainless-Retry-Count': String(retryCount)).
  const seen = await fakeRequestsFor('/v1/chat/completions', marker);
  assert.equal(seen.length, 2, 'the upstream saw the first try and one retry');
  assert.deepEqual(seen.map((r) => r.headers['x-stainless-retry-count']), ['0', '1']);
  assert.equal(seen[0].body, seen[1].body, 'the retry has the same body');
  if (proxyOnly(t)) return;

  const runs = await newRuns(before, 2);
  assert.equal(runs.length, 2, 'both attempts are recorded');
  assert.deepEqual(runs.map((r) => [r.manifest.meta.attempt, r.manifest.meta.status]), [[1, 429], [2, 200]]);
  checkChatRun(runs[1], { attempt: 2 });
  assert.equal(runs[1].ids.run, data.airi.run, 'the stamp names the successful attempt');
  assert.equal(response.headers.get('airi-run-id'), data.airi.run);
  // The 429 reply names no model, so the first attempt's model section lacks resolved and
  // fingerprint (they come from the reply): the two attempts differ in the model section only.
  assert.deepEqual(runs[0].manifest.conditions.model, { provider: expectedProvider('openai'), name: OPENAI_MODEL, upstream: UPSTREAM_URL });
  const d = JSON.parse(airi(['diff', '--store', AIRI_STORE, '--json', runs[0].ids.run, runs[1].ids.run], [1]).stdout);
  assert.deepEqual(d.verdict.differing_sections, ['model'], 'the attempts differ only in what the reply resolved');
  assert.deepEqual(runs[0].manifest.output, { error: { message: 'Rate limit reached (fake).', type: 'requests', param: null, code: 'rate_limit_exceeded' } },
    'the 429 attempt\'s output is the upstream\'s error body');
});

test('openai: upstream 500: APIError 500 after the SDK\'s retries, every attempt recorded', async (t) => {
  const before = DIRECT ? [] : logRuns();
  const marker = 'always fails 500';
  const client = new OpenAI({ baseURL: BASE + '/v1', apiKey: OPENAI_KEY, maxRetries: 1 });
  await assert.rejects(
    client.chat.completions.create({ model: OPENAI_MODEL, messages: [{ role: 'user', content: marker }] },
      { headers: { 'x-fake-fault': '500' } }),
    (err) => {
      assert.ok(err instanceof OpenAI.APIError, 'an APIError: ' + err);
      assert.equal(err.status, 500);
      assert.equal(err.type, 'server_error', 'the upstream\'s error body reaches the client');
      return true;
    });
  const seen = await fakeRequestsFor('/v1/chat/completions', marker);
  assert.deepEqual(seen.map((r) => r.headers['x-stainless-retry-count']), ['0', '1'], 'maxRetries 1: two attempts');
  if (proxyOnly(t)) return;
  const runs = await newRuns(before, 2);
  assert.deepEqual(runs.map((r) => [r.manifest.meta.attempt, r.manifest.meta.status]), [[1, 500], [2, 500]]);
});

test('openai: gzip-compressed upstream reply: client gets the right body, store has decoded JSON', async (t) => {
  const marker = 'compress this';
  const req = { model: OPENAI_MODEL, messages: [{ role: 'user', content: marker }], seed: 9 };
  const { data, response } = await openai.chat.completions
    .create(req, { headers: { 'x-fake-fault': 'gzip' } })
    .withResponse();
  assert.equal(data.choices[0].message.content, fake.replyText(marker, 9));
  const seen = await fakeRequestsFor('/v1/chat/completions', marker);
  assert.equal(seen.length, 1);
  if (DIRECT) {
    // Node's fetch asks for gzip, so the fake did compress (the SDK saw it decoded).
    assert.match(seen[0].headers['accept-encoding'], /gzip/);
    assert.equal(response.headers.get('content-encoding'), 'gzip');
    return proxyOnly(t);
  }
  assert.match(data.airi.run, SHA, 'the stamp is there, so the proxy read the decoded JSON');
  const run = show(data.airi.run);
  assert.deepEqual(run.manifest.output.choices, data.choices, 'the recorded output is the decoded JSON');
  // Whether the proxy asked for gzip or not, what the client got must decode by its headers:
  // a raw request that accepts gzip must give a body that matches its Content-Encoding.
  const raw = await fetch(PROXY_URL + '/v1/chat/completions', {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer ' + OPENAI_KEY, 'x-fake-fault': 'gzip', 'accept-encoding': 'gzip' },
    body: JSON.stringify(req),
  });
  const body = await raw.json(); // undici decodes by Content-Encoding; a mismatch throws here
  assert.equal(body.choices[0].message.content, fake.replyText(marker, 9));
});

for (const enc of ['deflate', 'br']) {
  test(`openai: ${enc}-compressed upstream reply: client gets the right body, store has decoded JSON`, async (t) => {
    const marker = 'compress with ' + enc;
    const req = { model: OPENAI_MODEL, messages: [{ role: 'user', content: marker }], seed: 10 };
    const data = await openai.chat.completions.create(req, { headers: { 'x-fake-fault': enc } });
    assert.equal(data.choices[0].message.content, fake.replyText(marker, 10));
    const seen = await fakeRequestsFor('/v1/chat/completions', marker);
    assert.equal(seen.length, 1);
    if (proxyOnly(t)) return;
    // the proxy offers every encoding it decodes, so the fake compressed with this one
    assert.match(seen[0].headers['accept-encoding'] || '', new RegExp('\\b' + enc + '\\b'));
    assert.match(data.airi.run, SHA, 'the stamp is there, so the proxy read the decoded JSON');
    const run = show(data.airi.run);
    assert.deepEqual(run.manifest.output.choices, data.choices, 'the recorded output is the decoded JSON');
  });
}

test('openai: GET /v1/models passes through and is not recorded', async (t) => {
  const before = DIRECT ? [] : logRuns();
  const { data: page, response } = await openai.models.list().withResponse();
  assert.deepEqual(page.data.map((m) => m.id), ['gpt-4o-mini', 'text-embedding-3-small']);
  const seen = (await fakeRequests()).filter((r) => r.path === '/v1/models');
  assert.ok(seen.length >= 1);
  assert.equal(seen[seen.length - 1].headers.authorization, 'Bearer ' + OPENAI_KEY, 'Authorization forwarded on pass-through');
  if (proxyOnly(t)) return;
  assert.equal(response.headers.get('airi-run-id'), null, 'no stamp on a pass-through path');
  assert.equal(page.airi, undefined);
  await sleep(300);
  assert.equal(logRuns().length, before.length, 'the run count did not change');
});

test('openai: embeddings (the SDK asks for base64): decoded vectors, stamped, recorded', async (t) => {
  const res = await openai.embeddings.create({ model: 'text-embedding-3-small', input: ['alpha', 'beta'] });
  assert.equal(res.data.length, 2);
  assert.deepEqual(res.data[0].embedding, fake.embeddingVector('alpha'));
  assert.deepEqual(res.data[1].embedding, fake.embeddingVector('beta'));
  if (proxyOnly(t)) return;
  assert.match(res.airi?.run ?? '', SHA);
  const run = show(res.airi.run);
  assert.equal(run.manifest.conditions.model.resolved, 'text-embedding-3-small-2026-01-01');
  assert.equal(run.manifest.meta.endpoint, '/v1/embeddings');
  assert.deepEqual(run.manifest.conditions.input, { input: ['alpha', 'beta'] }, 'input.input as sent');
  assert.equal(run.manifest.meta.status, 200);
});

test('openai: legacy completions, JSON: stamped and recorded', async (t) => {
  const prompt = 'Say something legacy';
  const res = await openai.completions.create({ model: 'gpt-3.5-turbo-instruct', prompt, seed: 3, max_tokens: 16 });
  assert.equal(res.choices[0].text, fake.replyText(prompt, 3));
  if (proxyOnly(t)) return;
  assert.match(res.airi?.run ?? '', SHA);
  const run = show(res.airi.run);
  assert.equal(run.manifest.meta.endpoint, '/v1/completions');
  assert.deepEqual(run.manifest.conditions.input, { prompt }, 'input.prompt as sent');
  assert.deepEqual(run.manifest.conditions.params, { max_tokens: 16, seed: 3 });
  assert.deepEqual(run.manifest.output.choices, res.choices);
});

test('openai: legacy completions, streamed: the SDK sees only the upstream\'s chunks', async (t) => {
  const prompt = 'Say something legacy, streamed';
  const before = DIRECT ? [] : logRuns();
  const { data: stream, response } = await openai.completions
    .create({ model: 'gpt-3.5-turbo-instruct', prompt, seed: 3, max_tokens: 16, stream: true })
    .withResponse();
  const chunks = [];
  for await (const c of stream) chunks.push(c);
  const text = chunks.map((c) => c.choices[0]?.text ?? '').join('');
  assert.equal(text, fake.replyText(prompt, 3));
  if (proxyOnly(t)) return;
  assert.ok(response.headers.get('airi-run-key'), 'Airi-Run-Key on the streamed completion');
  const runs = await newRuns(before, 1);
  assert.equal(runs.length, 1);
  assert.equal(runs[0].manifest.meta.stream, true);
  assert.deepEqual(runs[0].manifest.output.choices.map((c) => c.text), [text], 'output: the assembled text');
  // Only chat completions get the extra chunk; other streams get only the SSE comment. An
  // extra chat.completion.chunk object in a text_completion stream is foreign to its readers.
  assert.deepEqual(chunks.filter((c) => c.airi !== undefined).map((c) => c.object), [],
    'no extra airi chunk on /v1/completions (the contract: chat completions only)');
  assert.ok(chunks.every((c) => c.object === 'text_completion'), 'every chunk is a text_completion');
});

test('openai: responses API, JSON: stamped and recorded', async (t) => {
  const input = 'Tell me about responses';
  const res = await openai.responses.create({ model: OPENAI_MODEL, input, temperature: 0.2 });
  assert.equal(res.output_text, fake.replyText(input, undefined));
  if (proxyOnly(t)) return;
  assert.match(res.airi?.run ?? '', SHA);
  const run = show(res.airi.run);
  assert.equal(run.manifest.meta.endpoint, '/v1/responses');
  assert.equal(run.manifest.conditions.model.resolved, OPENAI_MODEL + '-2026-01-01');
  assert.deepEqual(run.manifest.output.output, res.output, 'output.output is the response\'s output items');
});

test('openai: responses API, streamed (create stream:true): only the upstream\'s events reach the SDK', async (t) => {
  const input = 'Tell me about streamed responses';
  const { data: stream, response } = await openai.responses
    .create({ model: OPENAI_MODEL, input, temperature: 0.2, stream: true })
    .withResponse();
  const events = [];
  for await (const e of stream) events.push(e);
  assert.equal(events[0].type, 'response.created');
  assert.equal(events.filter((e) => e.type === 'response.output_text.delta').map((e) => e.delta).join(''),
    fake.replyText(input, undefined));
  if (!DIRECT) assert.ok(response.headers.get('airi-run-key'), 'Airi-Run-Key header');
  assert.deepEqual(events.filter((e) => typeof e.type !== 'string').map((e) => JSON.stringify(e)), [],
    'every event has a type (no chat.completion.chunk-style extra event on /v1/responses)');
  assert.equal(events[events.length - 1].type, 'response.completed', 'the last event is the upstream\'s last');
});

test('openai: responses API, streamed: the recorded run has the assembled response', async (t) => {
  if (needsProxy(t)) return;
  const input = 'Record my streamed response';
  const before = logRuns();
  const stream = await openai.responses.create({ model: OPENAI_MODEL, input, temperature: 0.2, stream: true });
  let completed = null;
  for await (const e of stream) if (e.type === 'response.completed') completed = e.response;
  const runs = await newRuns(before, 1);
  assert.equal(runs.length, 1);
  const run = runs[0];
  assert.equal(run.manifest.meta.stream, true);
  assert.equal(run.manifest.conditions.model.resolved, OPENAI_MODEL + '-2026-01-01',
    'model.resolved from the streamed response (response.created / response.completed carry it)');
  assert.ok(containsString(run.manifest.output, fake.replyText(input, undefined)),
    'the recorded output holds the text: ' + JSON.stringify(run.manifest.output));
  assert.deepEqual(run.manifest.output.output, completed.output, 'output.output is response.completed\'s output');
});

test('openai: responses.stream() helper: finalResponse()', async (t) => {
  const input = 'Tell me about the responses helper';
  const helper = openai.responses.stream({ model: OPENAI_MODEL, input, temperature: 0.2 });
  const final = await helper.finalResponse();
  assert.equal(final.output_text, fake.replyText(input, undefined));
  assert.equal(final.status, 'completed');
});

test('openai: upstream breaks the stream: recorded as broken, and the client sees an error, not a clean end', async (t) => {
  const before = DIRECT ? [] : logRuns();
  const marker = 'break the stream';
  const stream = await openai.chat.completions.create(
    { model: OPENAI_MODEL, messages: [{ role: 'user', content: marker }], seed: 1, stream: true },
    { headers: { 'x-fake-fault': 'broken-stream' } });
  const chunks = [];
  let error = null;
  try {
    for await (const c of stream) chunks.push(c);
  } catch (e) {
    error = e;
  }
  if (!DIRECT) {
    const runs = await newRuns(before, 1);
    assert.equal(runs.length, 1, 'the broken call is recorded');
    const m = runs[0].manifest.meta;
    assert.equal(m.ended, 'upstream_broken', 'meta.ended says why it ended');
    assert.equal(m.status, 200, 'the upstream had answered 200 before it broke');
    assert.equal(runs[0].manifest.output.choices[0].finish_reason, null, 'the partial output has no finish_reason');
  }
  // The upstream sent two chunks and died. A clean end of the client's stream would hand the
  // application a truncated answer as if it were whole (the openai SDK does not require
  // [DONE]); the proxy must abort the client's response instead, and must not stamp it.
  assert.ok(chunks.length <= 2, 'at most the two chunks the upstream sent, got ' + chunks.length);
  assert.deepEqual(chunks.filter((c) => c.airi !== undefined).map((c) => c.airi), [], 'no airi chunk on a broken stream');
  assert.ok(error !== null, 'iterating must throw: the proxy must abort the client\'s response, not end it cleanly');
});

test('openai: slow upstream (2 s): succeeds, meta times show the wait', async (t) => {
  const marker = 'take your time';
  const t0 = Date.now();
  const res = await openai.chat.completions.create(
    { model: OPENAI_MODEL, messages: [{ role: 'user', content: marker }] },
    { headers: { 'x-fake-fault': 'slow' } });
  assert.ok(Date.now() - t0 >= 1900);
  assert.equal(res.choices[0].message.content, fake.replyText(marker, undefined));
  if (proxyOnly(t)) return;
  const m = show(res.airi.run).manifest.meta;
  assert.ok(Date.parse(m.first_byte) - Date.parse(m.start) >= 1900, `first_byte - start >= 2 s: ${m.start} ${m.first_byte}`);
  assert.ok(Date.parse(m.end) - Date.parse(m.start) >= 1900, `end - start >= 2 s: ${m.start} ${m.end}`);
});

test('secrets: api-key, cookie and x-api-key headers are forwarded upstream (and, per run.sh, never stored)', async (t) => {
  const marker = 'azure style key';
  const r = await fetch(BASE + '/v1/chat/completions', {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'api-key': AZURE_KEY, cookie: COOKIE },
    body: JSON.stringify({ model: OPENAI_MODEL, messages: [{ role: 'user', content: marker }] }),
  });
  assert.equal(r.status, 200);
  const body = await r.json();
  const seen = await fakeRequestsFor('/v1/chat/completions', marker);
  assert.equal(seen.length, 1);
  assert.equal(seen[0].headers['api-key'], AZURE_KEY);
  assert.equal(seen[0].headers.cookie, COOKIE);

  // Anthropic's own header, x-api-key (what curl examples and the 0.x SDKs send).
  const q = 'x-api-key style';
  const xk = new Anthropic({ baseURL: BASE, apiKey: null, defaultHeaders: { 'x-api-key': ANTHROPIC_KEY } });
  const msg = await xk.messages.create({ model: ANTHROPIC_MODEL, max_tokens: 16, messages: [{ role: 'user', content: q }] });
  const seenA = await fakeRequestsFor('/v1/messages', q);
  assert.equal(seenA.length, 1);
  assert.equal(seenA[0].headers['x-api-key'], ANTHROPIC_KEY, 'x-api-key forwarded to the upstream');
  assert.equal(seenA[0].headers.authorization, undefined);
  if (proxyOnly(t)) return;
  show(body.airi.run); // asserts that no secret is in the stored run
  show(msg.airi.run);
});

// ---- extra proxies: unreachable upstream, --no-stamp, --max-body -----------------------------

test('unreachable upstream: 502 airi_upstream_error (OpenAI and Anthropic formats), still recorded', async (t) => {
  if (needsProxy(t)) return;
  const closed = await freePort(); // nothing listens there
  const p = await startProxy('unreachable', `http://127.0.0.1:${closed}`);
  const client = new OpenAI({ baseURL: p.url + '/v1', apiKey: OPENAI_KEY, maxRetries: 0 });
  await assert.rejects(
    client.chat.completions.create({ model: OPENAI_MODEL, messages: [{ role: 'user', content: 'anyone there?' }] }),
    (err) => {
      assert.ok(err instanceof OpenAI.APIError, String(err));
      assert.equal(err.status, 502);
      assert.equal(err.type, 'airi_upstream_error');
      assert.equal(typeof err.error.message, 'string');
      return true;
    });
  // Raw, to see the exact body shape.
  const r = await fetch(p.url + '/v1/chat/completions', {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer ' + OPENAI_KEY },
    body: JSON.stringify({ model: OPENAI_MODEL, messages: [{ role: 'user', content: 'raw' }] }),
  });
  assert.equal(r.status, 502);
  const body = await r.json();
  assert.equal(body.error.type, 'airi_upstream_error');
  assert.equal(typeof body.error.message, 'string');

  const ac = new Anthropic({ baseURL: p.url, apiKey: ANTHROPIC_KEY, maxRetries: 0 });
  await assert.rejects(
    ac.messages.create({ model: ANTHROPIC_MODEL, max_tokens: 16, messages: [{ role: 'user', content: 'hello?' }] }),
    (err) => {
      assert.ok(err instanceof Anthropic.APIError, String(err));
      assert.equal(err.status, 502);
      assert.equal(err.error.type, 'error', 'Anthropic error body: {"type":"error","error":{...}}');
      assert.equal(typeof err.error.error.message, 'string');
      return true;
    });

  const runs = await newRuns([], 3, p.store);
  assert.equal(runs.length, 3, 'each failed call is recorded');
  for (const r2 of runs) {
    // No upstream status exists; the run says why it ended instead.
    assert.equal(r2.manifest.meta.ended, 'upstream_unreachable', 'meta.ended');
    assert.equal(r2.manifest.meta.status, undefined, 'no meta.status: the upstream never answered');
    assert.equal(r2.manifest.meta.attempt, 1);
  }
  assert.deepEqual(runs.map((r2) => r2.manifest.meta.endpoint).sort(), ['/v1/chat/completions', '/v1/chat/completions', '/v1/messages']);
});

test('--no-stamp: body byte-identical to the upstream\'s, headers still there', async (t) => {
  if (needsProxy(t)) return;
  const p = await startProxy('nostamp', UPSTREAM_URL, ['--no-stamp']);
  const body = JSON.stringify({ model: OPENAI_MODEL, messages: [{ role: 'user', content: 'no stamp please' }], seed: 4 });
  const headers = { 'content-type': 'application/json', authorization: 'Bearer ' + OPENAI_KEY, 'accept-encoding': 'identity' };
  const viaProxy = await fetch(p.url + '/v1/chat/completions', { method: 'POST', headers, body });
  const direct = await fetch(UPSTREAM_URL + '/v1/chat/completions', { method: 'POST', headers, body });
  assert.equal(viaProxy.status, 200);
  const proxied = await viaProxy.text();
  // The fake's body depends only on the request body, so the two are the same bytes.
  assert.equal(proxied, await direct.text(), 'the body is untouched');
  assert.match(viaProxy.headers.get('airi-run-id') ?? '', SHA);
  assert.match(viaProxy.headers.get('airi-conditions-id') ?? '', SHA);
  const run = show(viaProxy.headers.get('airi-run-id'), p.store);
  assert.equal(run.ids.conditions, viaProxy.headers.get('airi-conditions-id'));
  // And the SDK is happy without the member.
  const client = new OpenAI({ baseURL: p.url + '/v1', apiKey: OPENAI_KEY });
  const res = await client.chat.completions.create(JSON.parse(body));
  assert.equal(res.airi, undefined);
});

test('--max-body: oversized request gets 413 in the API\'s format and never reaches the upstream', async (t) => {
  if (needsProxy(t)) return;
  const p = await startProxy('maxbody', UPSTREAM_URL, ['--max-body', '4096']);
  const big = 'x'.repeat(8192);
  const small = 'y'.repeat(1024);
  const client = new OpenAI({ baseURL: p.url + '/v1', apiKey: OPENAI_KEY, maxRetries: 0 });
  await assert.rejects(
    client.chat.completions.create({ model: OPENAI_MODEL, messages: [{ role: 'user', content: big }] }),
    (err) => {
      assert.ok(err instanceof OpenAI.APIError, String(err));
      assert.equal(err.status, 413);
      assert.equal(typeof err.error?.message, 'string', 'OpenAI format: {"error":{"message":...}}');
      return true;
    });
  const ac = new Anthropic({ baseURL: p.url, apiKey: ANTHROPIC_KEY, maxRetries: 0 });
  await assert.rejects(
    ac.messages.create({ model: ANTHROPIC_MODEL, max_tokens: 16, messages: [{ role: 'user', content: big }] }),
    (err) => {
      assert.ok(err instanceof Anthropic.APIError, String(err));
      assert.equal(err.status, 413);
      assert.equal(err.error?.type, 'error', 'Anthropic format: {"type":"error","error":{...}}');
      assert.equal(typeof err.error?.error?.message, 'string');
      return true;
    });
  const seen = (await fakeRequests()).filter((r) => r.body.includes(big));
  assert.equal(seen.length, 0, 'the oversized bodies never reached the upstream');
  // Under the limit passes.
  const ok = await client.chat.completions.create({ model: OPENAI_MODEL, messages: [{ role: 'user', content: small }] });
  assert.equal(ok.choices[0].message.content, fake.replyText(small, undefined));
});

// =============================================================================================
// Anthropic
// =============================================================================================

test('anthropic: messages.create non-streaming: stamped, recorded, key forwarded', async (t) => {
  const req = {
    model: ANTHROPIC_MODEL,
    max_tokens: 128,
    temperature: 0,
    system: SYSTEM,
    messages: [{ role: 'user', content: CAPITAL_Q + ' (anthropic)' }],
  };
  const { data: msg, response } = await anthropic.messages.create(req).withResponse();
  assert.equal(msg.type, 'message');
  assert.equal(msg.model, ANTHROPIC_MODEL + '-2026-01-01');
  assert.deepEqual(msg.content, [{ type: 'text', text: fake.replyText(CAPITAL_Q + ' (anthropic)', undefined) }]);
  assert.equal(msg.stop_reason, 'end_turn');
  const seen = await fakeRequestsFor('/v1/messages', '(anthropic)');
  assert.equal(seen.length, 1);
  // @anthropic-ai/sdk 1.x sends the key as `Authorization: Bearer KEY` (client.js apiKeyAuth);
  // the 0.x SDKs sent `x-api-key: KEY`. Either way it must reach the upstream as sent.
  assert.equal(seen[0].headers.authorization, 'Bearer ' + ANTHROPIC_KEY, 'the API key (Authorization) forwarded to the upstream');
  assert.ok(seen[0].headers['anthropic-version'], 'anthropic-version forwarded');
  assert.deepEqual(JSON.parse(seen[0].body), req);
  if (proxyOnly(t)) return;
  assert.match(msg.airi?.run ?? '', SHA, 'body.airi.run');
  assert.match(msg.airi.conditions, SHA);
  assert.equal(response.headers.get('airi-run-id'), msg.airi.run);
  assert.equal(response.headers.get('airi-conditions-id'), msg.airi.conditions);
  const run = show(msg.airi.run);
  const c = run.manifest.conditions;
  assert.deepEqual(c.model, { provider: expectedProvider('anthropic'), name: ANTHROPIC_MODEL,
    resolved: ANTHROPIC_MODEL + '-2026-01-01', upstream: UPSTREAM_URL });
  assert.deepEqual(c.params, { max_tokens: 128, temperature: 0 }, 'params: the sampling fields');
  assert.deepEqual(c.system, { text: SYSTEM }, 'system is {text} from the string system field');
  assert.deepEqual(c.input, { messages: req.messages }, 'input.messages as sent');
  assert.equal(c.environment.api_version, seen[0].headers['anthropic-version'], 'environment.api_version is the anthropic-version header');
  const m = run.manifest.meta;
  assert.equal(m.status, 200);
  assert.equal(m.attempt, 1);
  assert.equal(m.stream, false);
  assert.equal(m.ended, 'complete');
  assert.equal(m.endpoint, '/v1/messages');
  assert.equal(m.response_id, msg.id);
  assert.deepEqual(run.manifest.output.content, msg.content, 'output.content is the message content');
  assert.equal(run.manifest.output.stop_reason, 'end_turn');
});

test('anthropic: messages.create({stream: true}) iteration: text assembled, airi event last', async (t) => {
  const q = 'Stream me (anthropic)';
  const { data: stream, response } = await anthropic.messages
    .create({ model: ANTHROPIC_MODEL, max_tokens: 128, messages: [{ role: 'user', content: q }], stream: true })
    .withResponse();
  const events = [];
  for await (const e of stream) events.push(e);
  const text = events.filter((e) => e.type === 'content_block_delta').map((e) => e.delta.text).join('');
  assert.equal(text, fake.replyText(q, undefined));
  assert.equal(events[0].type, 'message_start');
  assert.ok(!events.some((e) => e.type === 'ping'), 'the SDK drops ping events');
  const stopAt = events.findIndex((e) => e.type === 'message_stop');
  assert.ok(stopAt > 0);
  if (DIRECT) {
    assert.equal(stopAt, events.length - 1);
    return proxyOnly(t);
  }
  assert.ok(response.headers.get('airi-run-key'), 'Airi-Run-Key header');
  // The shape recommended to the proxy: `event: airi` + data {"type":"airi",run,conditions}
  // after message_stop; this SDK version yields it as an ordinary event.
  const tail = events.slice(stopAt + 1);
  assert.equal(tail.length, 1, 'exactly one event after message_stop: ' + JSON.stringify(tail));
  assert.equal(tail[0].type, 'airi');
  assert.match(tail[0].run, SHA);
  assert.match(tail[0].conditions, SHA);
  const run = show(tail[0].run);
  assert.equal(run.ids.conditions, tail[0].conditions);
  assert.equal(run.manifest.meta.stream, true);
  assert.equal(run.manifest.meta.status, 200);
  assert.ok(containsString(run.manifest.output, text), 'the recorded output holds the assembled text: ' + JSON.stringify(run.manifest.output));
});

test('anthropic: messages.stream() helper with tools: finalMessage, tool round trip', async (t) => {
  const before = DIRECT ? [] : logRuns();
  const q = 'What is the weather in Oslo? (anthropic helper)';
  const params = { model: ANTHROPIC_MODEL, max_tokens: 256, tools: [ANTHROPIC_WEATHER_TOOL], messages: [{ role: 'user', content: q }] };
  const s1 = anthropic.messages.stream(params);
  const airiSeen = [];
  s1.on('streamEvent', (e) => { if (e.type === 'airi') airiSeen.push(e); });
  const m1 = await s1.finalMessage();
  assert.equal(m1.stop_reason, 'tool_use');
  assert.equal(m1.content.length, 2);
  assert.deepEqual(m1.content[0], { type: 'text', text: 'Let me check the weather.' });
  assert.equal(m1.content[1].type, 'tool_use');
  assert.equal(m1.content[1].id, fake.TOOL_USE_ID);
  assert.deepEqual(m1.content[1].input, { city: 'Oslo' }, 'input reassembled from input_json_delta pieces');

  const s2 = anthropic.messages.stream({
    ...params,
    messages: [
      ...params.messages,
      { role: 'assistant', content: m1.content },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: m1.content[1].id, content: 'sunny, 21 C' }] },
    ],
  });
  assert.equal(await s2.finalText(), 'It is sunny.');
  if (proxyOnly(t)) return;
  assert.equal(airiSeen.length, 1, 'the helper passes the airi event to streamEvent listeners');
  const runs = await newRuns(before, 2);
  assert.equal(runs.length, 2);
  for (const r of runs) {
    assert.equal(r.manifest.conditions.model.provider, expectedProvider('anthropic'));
    assert.equal(r.manifest.meta.stream, true);
    assert.deepEqual(r.manifest.conditions.tools, { definitions: [ANTHROPIC_WEATHER_TOOL] }, 'tools.definitions: the tools as sent');
  }
  assert.ok(runs.some((r) => r.ids.run === airiSeen[0].run));
});

test('anthropic: 429 once: the SDK retries (X-Stainless-Retry-Count 0, 1), two runs', async (t) => {
  const before = DIRECT ? [] : logRuns();
  const q = 'retry anthropic';
  const msg = await anthropic.messages.create(
    { model: ANTHROPIC_MODEL, max_tokens: 32, messages: [{ role: 'user', content: q }] },
    { headers: { 'x-fake-fault': '429-once' } });
  assert.equal(msg.content[0].text, fake.replyText(q, undefined));
  const seen = await fakeRequestsFor('/v1/messages', q);
  assert.deepEqual(seen.map((r) => r.headers['x-stainless-retry-count']), ['0', '1']);
  if (proxyOnly(t)) return;
  const runs = await newRuns(before, 2);
  assert.deepEqual(runs.map((r) => [r.manifest.meta.attempt, r.manifest.meta.status]), [[1, 429], [2, 200]]);
  assert.equal(runs[1].ids.run, msg.airi.run);
});

// =============================================================================================
// SDK tolerance of the extra stream events (straight to the fake, which simulates them with
// x-fake-airi-event): evidence for the shapes the proxy should send. Run in both modes.
// =============================================================================================

test('tolerance: openai chat stream with a comment and an extra {choices: [], airi} chunk before [DONE]', async () => {
  const client = new OpenAI({ baseURL: UPSTREAM_URL + '/v1', apiKey: OPENAI_KEY, defaultHeaders: { 'x-fake-airi-event': '1' } });
  const q = 'tolerance chat';
  const stream = await client.chat.completions.create({
    model: OPENAI_MODEL, messages: [{ role: 'user', content: q }], seed: 2, stream: true, stream_options: { include_usage: true },
  });
  const chunks = [];
  for await (const c of stream) chunks.push(c);
  assert.equal(chunks[chunks.length - 1].airi.run, 'sha256:' + '0'.repeat(63) + '1', 'the extra chunk is yielded last');
  assert.equal(chunks.map((c) => c.choices[0]?.delta?.content ?? '').join(''), fake.replyText(q, 2));
  // The helper: final completion gains `airi`, keeps usage/model (the airi chunk has no usage).
  const final = await client.chat.completions.stream({
    model: OPENAI_MODEL, messages: [{ role: 'user', content: q }], seed: 2, stream_options: { include_usage: true },
  }).finalChatCompletion();
  assert.equal(final.choices[0].message.content, fake.replyText(q, 2));
  assert.equal(final.airi.run, 'sha256:' + '0'.repeat(63) + '1');
  assert.ok(final.usage.total_tokens > 0);
  // runTools copes too.
  const calls = [];
  const runner = client.chat.completions.runTools({
    model: OPENAI_MODEL, stream: true, messages: [{ role: 'user', content: 'weather in Oslo? (tolerance)' }],
    tools: [{ type: 'function', function: { name: 'get_weather', parameters: WEATHER_SCHEMA, parse: JSON.parse,
      function: async (a) => { calls.push(a); return 'sunny'; } } }],
  });
  assert.equal(await runner.finalContent(), 'It is sunny.');
  assert.deepEqual(calls, [{ city: 'Oslo' }]);
});

for (const shape of ['named', 'before-stop', 'nameless']) {
  test(`tolerance: anthropic stream with an extra airi event, shape "${shape}"`, async () => {
    const client = new Anthropic({ baseURL: UPSTREAM_URL, apiKey: ANTHROPIC_KEY, defaultHeaders: { 'x-fake-airi-event': shape } });
    const q = 'tolerance anthropic ' + shape;
    const stream = await client.messages.create({ model: ANTHROPIC_MODEL, max_tokens: 64, messages: [{ role: 'user', content: q }], stream: true });
    const events = [];
    for await (const e of stream) events.push(e);
    const types = events.map((e) => e.type);
    if (shape === 'named') {
      // `event: airi` after message_stop: yielded as-is (Stream.fromSSEResponse yields every
      // named event except ping and error).
      assert.equal(types[types.length - 1], 'airi');
      assert.equal(types[types.length - 2], 'message_stop');
    } else if (shape === 'before-stop') {
      assert.equal(types[types.length - 1], 'message_stop');
      assert.equal(types[types.length - 2], 'airi');
    } else {
      // A data line without `event:` is dropped by this SDK (sse.event === null: continue).
      assert.ok(!types.includes('airi'), 'nameless events are invisible to the SDK');
      assert.equal(types[types.length - 1], 'message_stop');
    }
    assert.equal(events.filter((e) => e.type === 'content_block_delta').map((e) => e.delta.text).join(''), fake.replyText(q, undefined));

    // The helper with tools: the unknown event neither breaks accumulation nor the final message.
    const s = client.messages.stream({ model: ANTHROPIC_MODEL, max_tokens: 64, tools: [ANTHROPIC_WEATHER_TOOL],
      messages: [{ role: 'user', content: 'weather in Oslo? ' + shape }] });
    const seenAiri = [];
    s.on('streamEvent', (e) => { if (e.type === 'airi') seenAiri.push(e); });
    const final = await s.finalMessage();
    assert.equal(final.stop_reason, 'tool_use');
    assert.deepEqual(final.content[1].input, { city: 'Oslo' });
    assert.deepEqual(final.content.map((b) => b.type), ['text', 'tool_use'], 'no extra content block from the airi event');
    assert.equal(seenAiri.length, shape === 'nameless' ? 0 : 1);
  });
}
