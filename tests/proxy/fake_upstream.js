#!/usr/bin/env node
// fake_upstream.js — a deterministic fake of the OpenAI and Anthropic HTTP APIs, for testing
// `airi proxy` with the real SDKs. node:http only, no dependencies.
//
//   node fake_upstream.js [PORT]      (PORT 0 or absent: any free port)
//
// Prints `listening PORT` on stdout once it accepts connections. Ends on SIGTERM/SIGINT.
//
// Every reply is a pure function of the request (method, path, body, and the x-fake-* headers):
// ids are derived from a hash of the body, `created` is fixed, the content is derived from the
// last user message and `seed`. Only the `x-request-id` / `request-id` response headers count
// requests, so that each call has its own request id, as real APIs do.
//
// Endpoints
//   POST /v1/chat/completions   JSON, or SSE with `stream: true` (OpenAI's chunk format)
//   POST /v1/completions        JSON, or SSE with `stream: true`
//   POST /v1/responses          JSON, or SSE with `stream: true` (Responses API events); plain
//                               JSON asks for a get_weather function_call when given tools
//                               and asked about the weather
//   POST /v1/embeddings         float or base64 embeddings (the openai SDK asks for base64)
//   POST /v1/messages           Anthropic Messages, JSON or SSE
//   GET  /v1/models             a pass-through path for the proxy (not captured)
//   GET  /_fake/requests        every request received so far (except /_fake/*), as JSON
//   POST /_fake/reset           forget the recorded requests and the 429-once memory
//   GET  /_fake/knobs           the knobs below, as JSON
//   POST /_fake/knobs           set knobs from a JSON object (members absent: unchanged)
//
// Knobs (for `airi reproduce` tests; the defaults give the behaviour described here):
//   model_suffix  (env FAKE_MODEL_SUFFIX, default "-2026-01-01") what is appended to the
//                 requested model to make the reply's `model`: another value models a provider
//                 that moved the alias to another model version
//   vary          (env FAKE_VARY=1, default false) append " #N" to every reply text, N a
//                 per-process counter: the same request gets a different answer each time
//   tool_city     (env FAKE_TOOL_CITY, default "Oslo") the city in the get_weather tool call
//
// Content rules (chat, messages, completions, responses):
//   - the reply text is  `Reply to "<last user text>" with seed <seed|none>: <8 hex>.`  where
//     the 8 hex digits are the start of sha256("<text>\n<seed>"), so a different seed or a
//     different question gives a different answer, and the same request always the same one;
//   - when the request offers tools and the last message is a user message containing
//     "weather", the model calls get_weather with {"city":"Oslo"};
//   - when the last message is a tool result (OpenAI role "tool", Anthropic a user message with
//     a tool_result block), the reply is "It is sunny.".
//   - the reply's `model` is the requested model with "-2026-01-01" appended; chat completions
//     carry system_fingerprint "fp_fake".
//
// Fault modes, chosen by the request header `x-fake-fault`:
//   500           a 500 error in the API's own error format
//   429-once      a 429 (with retry-after-ms: 10) the first time a given path+body is seen,
//                 then the normal reply: the SDKs retry with the same body
//   slow          wait 2 s before replying
//   stall         never reply (until the connection closes)
//   broken-stream for `stream: true`, send the headers and two events, then destroy the socket;
//                 for JSON, send half of the body and destroy the socket
//   gzip          gzip the JSON reply (Content-Encoding: gzip) when Accept-Encoding allows it
//   deflate, br   the same with deflate (zlib) or brotli
// Several faults can be combined with commas ("slow,gzip").
//
// Test aid `x-fake-airi-event` (to check which extra stream events the SDKs tolerate, without a
// proxy): on a streamed reply the fake itself appends what the proxy is meant to append:
//   on chat completions: `: airi run=... conditions=...` and an extra chunk with choices [] and
//     an `airi` member, before `data: [DONE]`;
//   on /v1/messages, value "named" (or "1"): `: airi ...` then `event: airi` /
//     `data: {"type":"airi",...}` after message_stop; value "nameless": the same data line
//     without an `event:` line; value "before-stop": the named event before message_stop.
'use strict';

const http = require('node:http');
const crypto = require('node:crypto');
const zlib = require('node:zlib');

const CREATED = 1767225600; // 2026-01-01T00:00:00Z, fixed so that replies are deterministic
const FAKE_RUN = 'sha256:' + '0'.repeat(63) + '1';
const FAKE_CONDITIONS = 'sha256:' + '0'.repeat(63) + '2';

const recorded = [];
const seen429 = new Set();
let requestCounter = 0;

const knobs = {
  model_suffix: process.env.FAKE_MODEL_SUFFIX !== undefined ? process.env.FAKE_MODEL_SUFFIX : '-2026-01-01',
  vary: process.env.FAKE_VARY === '1',
  tool_city: process.env.FAKE_TOOL_CITY !== undefined ? process.env.FAKE_TOOL_CITY : 'Oslo',
};
let varyCounter = 0;

// The reply text, with the `vary` knob's counter when it is on.
function varied(text) {
  return knobs.vary ? text + ' #' + ++varyCounter : text;
}

function modelOf(body) {
  return String(body.model) + knobs.model_suffix;
}

function sha256hex(s) {
  return crypto.createHash('sha256').update(s).digest('hex');
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// ---- request interpretation ------------------------------------------------------------------

// The text of a message's content: a string, or the text parts of an array of parts/blocks.
function contentText(content) {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    return content
      .map((p) => (p && typeof p === 'object' && typeof p.text === 'string' ? p.text : ''))
      .join('');
  }
  return '';
}

function lastUserText(messages) {
  for (let i = messages.length - 1; i >= 0; i--) {
    if (messages[i] && messages[i].role === 'user') return contentText(messages[i].content);
  }
  return '';
}

function replyText(text, seed) {
  const s = seed === undefined || seed === null ? 'none' : String(seed);
  const h = sha256hex(text + '\n' + s).slice(0, 8);
  return `Reply to "${text}" with seed ${s}: ${h}.`;
}

// Splits a string into `n` pieces of nearly equal length (at least one character each when
// possible), so that streamed content arrives in several chunks.
function pieces(s, n) {
  const out = [];
  const size = Math.max(1, Math.ceil(s.length / n));
  for (let i = 0; i < s.length; i += size) out.push(s.slice(i, i + size));
  if (out.length === 0) out.push('');
  return out;
}

function tokenCount(s) {
  return s.split(/\s+/).filter(Boolean).length;
}

// What the model "does" for an OpenAI chat request: {kind: 'text', text} or {kind: 'tool'}.
function chatDecision(body) {
  const messages = Array.isArray(body.messages) ? body.messages : [];
  const last = messages[messages.length - 1];
  if (last && last.role === 'tool') return { kind: 'text', text: varied('It is sunny.') };
  const text = lastUserText(messages);
  const hasTools = Array.isArray(body.tools) && body.tools.length > 0;
  if (hasTools && last && last.role === 'user' && /weather/i.test(text)) return { kind: 'tool' };
  return { kind: 'text', text: varied(replyText(text, body.seed)) };
}

function anthropicDecision(body) {
  const messages = Array.isArray(body.messages) ? body.messages : [];
  const last = messages[messages.length - 1];
  if (last && last.role === 'user' && Array.isArray(last.content) &&
      last.content.some((b) => b && b.type === 'tool_result')) {
    return { kind: 'text', text: varied('It is sunny.') };
  }
  const text = lastUserText(messages);
  const hasTools = Array.isArray(body.tools) && body.tools.length > 0;
  if (hasTools && last && last.role === 'user' && /weather/i.test(text)) return { kind: 'tool' };
  return { kind: 'text', text: varied(replyText(text, body.seed)) };
}

const TOOL_CALL_ID = 'call_fake_weather_1';
const TOOL_USE_ID = 'toolu_fake_weather_1';
const TOOL_ARGS = '{"city":"Oslo"}';
// the arguments as sent, with the tool_city knob, and in the pieces a stream carries them in
function toolArgs() {
  return JSON.stringify({ city: knobs.tool_city });
}
function toolArgPieces() {
  return ['{"ci', 'ty":', JSON.stringify(knobs.tool_city).slice(0, -1), '"}'];
}

// ---- responses -------------------------------------------------------------------------------

function sendJSON(req, res, status, obj, extraHeaders, faults) {
  let bytes = Buffer.from(JSON.stringify(obj));
  const headers = {
    'content-type': 'application/json',
    ...extraHeaders,
  };
  const accepts = String(req.headers['accept-encoding'] || '');
  if (faults.has('gzip') && /\bgzip\b/.test(accepts)) {
    bytes = zlib.gzipSync(bytes);
    headers['content-encoding'] = 'gzip';
    headers['vary'] = 'Accept-Encoding';
  } else if (faults.has('deflate') && /\bdeflate\b/.test(accepts)) {
    bytes = zlib.deflateSync(bytes);
    headers['content-encoding'] = 'deflate';
    headers['vary'] = 'Accept-Encoding';
  } else if (faults.has('br') && /\bbr\b/.test(accepts)) {
    bytes = zlib.brotliCompressSync(bytes);
    headers['content-encoding'] = 'br';
    headers['vary'] = 'Accept-Encoding';
  }
  headers['content-length'] = String(bytes.length);
  if (faults.has('broken-stream')) {
    // Promise the whole body, send half of it, then drop the connection.
    res.writeHead(status, headers);
    res.write(bytes.subarray(0, Math.floor(bytes.length / 2)));
    setTimeout(() => res.socket && res.socket.destroy(), 20);
    return;
  }
  res.writeHead(status, headers);
  res.end(bytes);
}

// Writes SSE events one by one with a short pause, so that they cross the proxy in separate
// reads. `events` is an array of raw strings, each a complete SSE block ending in "\n\n".
async function sendSSE(res, status, events, extraHeaders, faults) {
  res.writeHead(status, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
    ...extraHeaders,
  });
  let sent = 0;
  for (const ev of events) {
    if (faults.has('broken-stream') && sent === 2) {
      await sleep(20);
      if (res.socket) res.socket.destroy();
      return;
    }
    res.write(ev);
    sent++;
    await sleep(3);
  }
  res.end();
}

function dataEvent(obj) {
  return 'data: ' + JSON.stringify(obj) + '\n\n';
}

function namedEvent(name, obj) {
  return 'event: ' + name + '\n' + 'data: ' + JSON.stringify(obj) + '\n\n';
}

function openaiError(status, message, type, code) {
  return { error: { message, type, param: null, code } };
}

function anthropicError(type, message) {
  return { type: 'error', error: { type, message } };
}

function requestIdHeaders(isAnthropic) {
  requestCounter++;
  const id = 'req_fake_' + String(requestCounter).padStart(6, '0');
  return isAnthropic ? { 'request-id': id } : { 'x-request-id': id, 'openai-processing-ms': '1' };
}

// ---- OpenAI chat completions -----------------------------------------------------------------

function chatCompletion(body, bodyHash) {
  const d = chatDecision(body);
  const model = modelOf(body);
  const promptTokens = tokenCount(JSON.stringify(body.messages || []));
  let message, finish, completionTokens;
  if (d.kind === 'tool') {
    message = {
      role: 'assistant',
      content: null,
      tool_calls: [{ id: TOOL_CALL_ID, type: 'function', function: { name: 'get_weather', arguments: toolArgs() } }],
      refusal: null,
      annotations: [],
    };
    finish = 'tool_calls';
    completionTokens = 7;
  } else {
    message = { role: 'assistant', content: d.text, refusal: null, annotations: [] };
    finish = 'stop';
    completionTokens = tokenCount(d.text);
  }
  return {
    id: 'chatcmpl-fake-' + bodyHash.slice(0, 16),
    object: 'chat.completion',
    created: CREATED,
    model,
    choices: [{ index: 0, message, logprobs: null, finish_reason: finish }],
    usage: { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens },
    service_tier: 'default',
    system_fingerprint: 'fp_fake',
  };
}

function chatChunks(body, bodyHash, airiEvent) {
  const full = chatCompletion(body, bodyHash);
  const includeUsage = !!(body.stream_options && body.stream_options.include_usage);
  const base = {
    id: full.id,
    object: 'chat.completion.chunk',
    created: CREATED,
    model: full.model,
    service_tier: 'default',
    system_fingerprint: 'fp_fake',
  };
  const chunk = (delta, finish) => {
    const c = { ...base, choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }] };
    if (includeUsage) c.usage = null; // OpenAI sends usage: null on every chunk but the last
    return dataEvent(c);
  };
  const msg = full.choices[0].message;
  const events = [chunk({ role: 'assistant', content: msg.content === null ? null : '', refusal: null }, null)];
  if (msg.tool_calls) {
    events.push(chunk({ tool_calls: [{ index: 0, id: TOOL_CALL_ID, type: 'function', function: { name: 'get_weather', arguments: '' } }] }, null));
    for (const p of toolArgPieces()) events.push(chunk({ tool_calls: [{ index: 0, function: { arguments: p } }] }, null));
  } else {
    for (const p of pieces(msg.content, 4)) events.push(chunk({ content: p }, null));
  }
  events.push(chunk({}, full.choices[0].finish_reason));
  if (includeUsage) events.push(dataEvent({ ...base, choices: [], usage: full.usage }));
  if (airiEvent) {
    // What the proxy is meant to add (simulated here, for the SDK-tolerance tests).
    events.push(`: airi run=${FAKE_RUN} conditions=${FAKE_CONDITIONS}\n\n`);
    events.push(dataEvent({ id: full.id, object: 'chat.completion.chunk', created: CREATED, model: full.model,
      system_fingerprint: 'fp_fake', choices: [], airi: { run: FAKE_RUN, conditions: FAKE_CONDITIONS } }));
  }
  events.push('data: [DONE]\n\n');
  return events;
}

// ---- OpenAI legacy completions ---------------------------------------------------------------

function completion(body, bodyHash) {
  const prompt = Array.isArray(body.prompt) ? body.prompt.join('\n') : String(body.prompt ?? '');
  const text = varied(replyText(prompt, body.seed));
  const p = tokenCount(prompt), c = tokenCount(text);
  return {
    id: 'cmpl-fake-' + bodyHash.slice(0, 16),
    object: 'text_completion',
    created: CREATED,
    model: modelOf(body),
    system_fingerprint: 'fp_fake',
    choices: [{ text, index: 0, logprobs: null, finish_reason: 'stop' }],
    usage: { prompt_tokens: p, completion_tokens: c, total_tokens: p + c },
  };
}

function completionChunks(body, bodyHash) {
  const full = completion(body, bodyHash);
  const includeUsage = !!(body.stream_options && body.stream_options.include_usage);
  const base = { id: full.id, object: 'text_completion', created: CREATED, model: full.model, system_fingerprint: 'fp_fake' };
  const events = [];
  for (const p of pieces(full.choices[0].text, 3)) {
    events.push(dataEvent({ ...base, choices: [{ text: p, index: 0, logprobs: null, finish_reason: null }] }));
  }
  events.push(dataEvent({ ...base, choices: [{ text: '', index: 0, logprobs: null, finish_reason: 'stop' }] }));
  if (includeUsage) events.push(dataEvent({ ...base, choices: [], usage: full.usage }));
  events.push('data: [DONE]\n\n');
  return events;
}

// ---- OpenAI responses ------------------------------------------------------------------------

function responsesInputText(body) {
  if (typeof body.input === 'string') return body.input;
  if (Array.isArray(body.input)) return lastUserText(body.input);
  return '';
}

function responseObject(body, bodyHash, status, text) {
  const model = modelOf(body);
  const id = 'resp_fake_' + bodyHash.slice(0, 16);
  const output = text === null ? [] : [{
    id: 'msg_fake_' + bodyHash.slice(0, 16),
    type: 'message',
    status: 'completed',
    role: 'assistant',
    content: [{ type: 'output_text', text, annotations: [], logprobs: [] }],
  }];
  const i = tokenCount(responsesInputText(body)), o = text === null ? 0 : tokenCount(text);
  return {
    id,
    object: 'response',
    created_at: CREATED,
    status,
    error: null,
    incomplete_details: null,
    instructions: body.instructions ?? null,
    max_output_tokens: body.max_output_tokens ?? null,
    model,
    output,
    parallel_tool_calls: true,
    previous_response_id: null,
    temperature: body.temperature ?? 1,
    top_p: body.top_p ?? 1,
    tool_choice: 'auto',
    tools: [],
    text: { format: { type: 'text' } },
    truncation: 'disabled',
    usage: status === 'completed'
      ? { input_tokens: i, input_tokens_details: { cached_tokens: 0 }, output_tokens: o,
          output_tokens_details: { reasoning_tokens: 0 }, total_tokens: i + o }
      : null,
    metadata: {},
  };
}

// What the model "does" for a Responses request: with tools and a user item asking about the
// weather last, a function_call item (call_id TOOL_CALL_ID, the tool_city knob's arguments);
// after a function_call_output item, "It is sunny."; else the usual reply text.
function responsesDecision(body) {
  const items = Array.isArray(body.input) ? body.input : [];
  const last = items[items.length - 1];
  if (last && last.type === 'function_call_output') return { kind: 'text', text: varied('It is sunny.') };
  const hasTools = Array.isArray(body.tools) && body.tools.length > 0;
  if (hasTools && last && last.role === 'user' && /weather/i.test(responsesInputText(body))) return { kind: 'tool' };
  return { kind: 'text', text: varied(replyText(responsesInputText(body), body.seed)) };
}

function responseJSON(body, bodyHash) {
  const d = responsesDecision(body);
  if (d.kind === 'text') return responseObject(body, bodyHash, 'completed', d.text);
  const r = responseObject(body, bodyHash, 'completed', null);
  r.output = [{ id: 'fc_fake_' + bodyHash.slice(0, 16), type: 'function_call', status: 'completed',
    call_id: TOOL_CALL_ID, name: 'get_weather', arguments: toolArgs() }];
  r.usage = { input_tokens: tokenCount(responsesInputText(body)), input_tokens_details: { cached_tokens: 0 },
    output_tokens: 5, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: tokenCount(responsesInputText(body)) + 5 };
  return r;
}

function responseEvents(body, bodyHash) {
  const text = varied(replyText(responsesInputText(body), body.seed));
  const done = responseObject(body, bodyHash, 'completed', text);
  const item = done.output[0];
  let seq = 0;
  const ev = (type, rest) => namedEvent(type, { type, sequence_number: seq++, ...rest });
  const events = [
    ev('response.created', { response: responseObject(body, bodyHash, 'in_progress', null) }),
    ev('response.in_progress', { response: responseObject(body, bodyHash, 'in_progress', null) }),
    ev('response.output_item.added', { output_index: 0, item: { ...item, status: 'in_progress', content: [] } }),
    ev('response.content_part.added', { item_id: item.id, output_index: 0, content_index: 0,
      part: { type: 'output_text', text: '', annotations: [], logprobs: [] } }),
  ];
  for (const p of pieces(text, 4)) {
    events.push(ev('response.output_text.delta', { item_id: item.id, output_index: 0, content_index: 0, delta: p, logprobs: [] }));
  }
  events.push(ev('response.output_text.done', { item_id: item.id, output_index: 0, content_index: 0, text, logprobs: [] }));
  events.push(ev('response.content_part.done', { item_id: item.id, output_index: 0, content_index: 0, part: item.content[0] }));
  events.push(ev('response.output_item.done', { output_index: 0, item }));
  events.push(ev('response.completed', { response: done }));
  return events;
}

// ---- OpenAI embeddings -----------------------------------------------------------------------

function embeddingVector(s) {
  const h = crypto.createHash('sha256').update(s).digest();
  const v = [];
  for (let i = 0; i < 8; i++) v.push((h[i] - 128) / 128); // exact in float32: k/128
  return v;
}

function embeddings(body) {
  const inputs = Array.isArray(body.input) ? body.input : [body.input];
  const base64 = body.encoding_format === 'base64';
  let tokens = 0;
  const data = inputs.map((inp, index) => {
    const s = typeof inp === 'string' ? inp : JSON.stringify(inp);
    tokens += tokenCount(s);
    const vec = embeddingVector(s);
    let embedding = vec;
    if (base64) embedding = Buffer.from(new Float32Array(vec).buffer).toString('base64');
    return { object: 'embedding', index, embedding };
  });
  return { object: 'list', data, model: modelOf(body), usage: { prompt_tokens: tokens, total_tokens: tokens } };
}

// ---- Anthropic messages ----------------------------------------------------------------------

function anthropicMessage(body, bodyHash) {
  const d = anthropicDecision(body);
  const inputTokens = tokenCount(JSON.stringify(body.messages || []) + (typeof body.system === 'string' ? body.system : JSON.stringify(body.system || '')));
  let content, stop, outTokens;
  if (d.kind === 'tool') {
    content = [
      { type: 'text', text: 'Let me check the weather.' },
      { type: 'tool_use', id: TOOL_USE_ID, name: 'get_weather', input: { city: knobs.tool_city } },
    ];
    stop = 'tool_use';
    outTokens = 12;
  } else {
    content = [{ type: 'text', text: d.text }];
    stop = 'end_turn';
    outTokens = tokenCount(d.text);
  }
  return {
    id: 'msg_fake_' + bodyHash.slice(0, 16),
    type: 'message',
    role: 'assistant',
    model: modelOf(body),
    content,
    stop_reason: stop,
    stop_sequence: null,
    usage: { input_tokens: inputTokens, cache_creation_input_tokens: 0, cache_read_input_tokens: 0,
      output_tokens: outTokens, service_tier: 'standard' },
  };
}

function anthropicEvents(body, bodyHash, airiEvent) {
  const full = anthropicMessage(body, bodyHash);
  const start = { ...full, content: [], stop_reason: null, stop_sequence: null,
    usage: { ...full.usage, output_tokens: 1 } };
  const events = [namedEvent('message_start', { type: 'message_start', message: start })];
  full.content.forEach((block, index) => {
    if (block.type === 'text') {
      events.push(namedEvent('content_block_start', { type: 'content_block_start', index, content_block: { type: 'text', text: '' } }));
      if (index === 0) events.push(namedEvent('ping', { type: 'ping' }));
      for (const p of pieces(block.text, 4)) {
        events.push(namedEvent('content_block_delta', { type: 'content_block_delta', index, delta: { type: 'text_delta', text: p } }));
      }
    } else {
      events.push(namedEvent('content_block_start', { type: 'content_block_start', index,
        content_block: { type: 'tool_use', id: block.id, name: block.name, input: {} } }));
      events.push(namedEvent('content_block_delta', { type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json: '' } }));
      for (const p of toolArgPieces()) {
        events.push(namedEvent('content_block_delta', { type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json: p } }));
      }
    }
    events.push(namedEvent('content_block_stop', { type: 'content_block_stop', index }));
  });
  events.push(namedEvent('message_delta', { type: 'message_delta', delta: { stop_reason: full.stop_reason, stop_sequence: null },
    usage: { output_tokens: full.usage.output_tokens } }));
  const airi = { type: 'airi', run: FAKE_RUN, conditions: FAKE_CONDITIONS };
  if (airiEvent === 'before-stop') events.push(namedEvent('airi', airi));
  events.push(namedEvent('message_stop', { type: 'message_stop' }));
  if (airiEvent === 'named' || airiEvent === '1') {
    events.push(`: airi run=${FAKE_RUN} conditions=${FAKE_CONDITIONS}\n\n`);
    events.push(namedEvent('airi', airi));
  } else if (airiEvent === 'nameless') {
    events.push(`: airi run=${FAKE_RUN} conditions=${FAKE_CONDITIONS}\n\n`);
    events.push(dataEvent(airi));
  }
  return events;
}

// ---- dispatch --------------------------------------------------------------------------------

const CAPTURED = {
  '/v1/chat/completions': 'chat',
  '/v1/completions': 'completions',
  '/v1/responses': 'responses',
  '/v1/embeddings': 'embeddings',
  '/v1/messages': 'messages',
};

async function handle(req, res, raw) {
  const url = new URL(req.url, 'http://fake');
  const path = url.pathname;

  if (path === '/_fake/requests' && req.method === 'GET') {
    return sendJSON(req, res, 200, recorded, {}, new Set());
  }
  if (path === '/_fake/knobs' && req.method === 'GET') {
    return sendJSON(req, res, 200, knobs, {}, new Set());
  }
  if (path === '/_fake/knobs' && req.method === 'POST') {
    let set;
    try {
      set = JSON.parse(raw.toString('utf8'));
    } catch (e) {
      set = null;
    }
    if (!set || typeof set !== 'object' || Array.isArray(set)) {
      return sendJSON(req, res, 400, { error: 'a JSON object of knobs' }, {}, new Set());
    }
    for (const k of Object.keys(set)) {
      if (!(k in knobs) || typeof set[k] !== typeof knobs[k]) {
        return sendJSON(req, res, 400, { error: 'unknown knob or wrong type: ' + k }, {}, new Set());
      }
    }
    Object.assign(knobs, set);
    return sendJSON(req, res, 200, knobs, {}, new Set());
  }
  if (path === '/_fake/reset' && req.method === 'POST') {
    recorded.length = 0;
    seen429.clear();
    return sendJSON(req, res, 200, { ok: true }, {}, new Set());
  }

  recorded.push({ method: req.method, path: req.url, headers: req.headers, body: raw.toString('utf8') });

  const faults = new Set(String(req.headers['x-fake-fault'] || '').split(',').map((s) => s.trim()).filter(Boolean));
  const kind = CAPTURED[path];
  const isAnthropic = kind === 'messages';
  const reqIds = requestIdHeaders(isAnthropic);

  if (path === '/v1/models' && req.method === 'GET') {
    return sendJSON(req, res, 200, {
      object: 'list',
      data: [
        { id: 'gpt-4o-mini', object: 'model', created: CREATED, owned_by: 'fake' },
        { id: 'text-embedding-3-small', object: 'model', created: CREATED, owned_by: 'fake' },
      ],
    }, reqIds, faults);
  }

  if (!kind || req.method !== 'POST') {
    const err = isAnthropic ? anthropicError('not_found_error', 'Not found')
      : openaiError(404, `Unknown request URL: ${req.method} ${path}.`, 'invalid_request_error', 'unknown_url');
    return sendJSON(req, res, 404, err, reqIds, new Set());
  }

  let body;
  try {
    body = JSON.parse(raw.toString('utf8'));
    if (!body || typeof body !== 'object' || Array.isArray(body)) throw new Error('not an object');
  } catch (e) {
    const err = isAnthropic ? anthropicError('invalid_request_error', 'Invalid JSON body')
      : openaiError(400, 'We could not parse the JSON body of your request.', 'invalid_request_error', null);
    return sendJSON(req, res, 400, err, reqIds, new Set());
  }
  const bodyHash = sha256hex(raw);

  if (faults.has('slow')) await sleep(2000);
  if (faults.has('stall')) return; /* the socket closes when the client gives up */

  if (faults.has('500')) {
    const err = isAnthropic ? anthropicError('api_error', 'Internal server error (fake)')
      : openaiError(500, 'The server had an error while processing your request. (fake)', 'server_error', null);
    return sendJSON(req, res, 500, err, reqIds, new Set());
  }
  if (faults.has('429-once')) {
    const key = path + '\n' + bodyHash;
    if (!seen429.has(key)) {
      seen429.add(key);
      const err = isAnthropic ? anthropicError('rate_limit_error', 'Rate limited (fake)')
        : openaiError(429, 'Rate limit reached (fake).', 'requests', 'rate_limit_exceeded');
      return sendJSON(req, res, 429, err, { ...reqIds, 'retry-after-ms': '10', 'retry-after': '0' }, new Set());
    }
  }

  const airiEvent = req.headers['x-fake-airi-event'] ? String(req.headers['x-fake-airi-event']) : null;
  const stream = body.stream === true;
  switch (kind) {
    case 'chat':
      if (stream) return sendSSE(res, 200, chatChunks(body, bodyHash, airiEvent), reqIds, faults);
      return sendJSON(req, res, 200, chatCompletion(body, bodyHash), reqIds, faults);
    case 'completions':
      if (stream) return sendSSE(res, 200, completionChunks(body, bodyHash), reqIds, faults);
      return sendJSON(req, res, 200, completion(body, bodyHash), reqIds, faults);
    case 'responses':
      if (stream) return sendSSE(res, 200, responseEvents(body, bodyHash), reqIds, faults);
      return sendJSON(req, res, 200, responseJSON(body, bodyHash), reqIds, faults);
    case 'embeddings':
      return sendJSON(req, res, 200, embeddings(body), reqIds, faults);
    case 'messages':
      if (stream) return sendSSE(res, 200, anthropicEvents(body, bodyHash, airiEvent), reqIds, faults);
      return sendJSON(req, res, 200, anthropicMessage(body, bodyHash), reqIds, faults);
  }
}

function main() {
  const server = http.createServer((req, res) => {
    const parts = [];
    req.on('data', (c) => parts.push(c));
    req.on('end', () => {
      handle(req, res, Buffer.concat(parts)).catch((e) => {
        process.stderr.write('fake_upstream: ' + ((e && e.stack) || e) + '\n');
        if (!res.headersSent) {
          res.writeHead(500, { 'content-type': 'application/json' });
          res.end(JSON.stringify(openaiError(500, 'fake_upstream crashed: ' + e, 'server_error', null)));
        } else {
          res.destroy();
        }
      });
    });
  });
  server.keepAliveTimeout = 5000;

  const port = Number(process.argv[2] || 0);
  server.listen(port, '127.0.0.1', () => {
    process.stdout.write('listening ' + server.address().port + '\n');
  });

  const stop = () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
    setTimeout(() => process.exit(0), 1000).unref();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

if (require.main === module) main();

// For the tests: the exact texts the fake answers with.
module.exports = { replyText, embeddingVector, TOOL_ARGS, TOOL_CALL_ID, TOOL_USE_ID, CREATED };
