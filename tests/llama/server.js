#!/usr/bin/env node
// server.js — a small OpenAI-compatible chat server in front of a real inference engine
// (node-llama-cpp, CPU only), for the end-to-end test of `airi proxy` (see run.sh).
//
//   node server.js MODEL.gguf [PORT] [--prompt-cache]
//
// Listens on 127.0.0.1:PORT (0, the default, picks a free port) and prints `listening PORT`
// on stdout once the model is loaded. Serves:
//
//   POST /v1/chat/completions   model, messages (system/developer/user/assistant; content a
//                               string or an array of text parts), temperature (default 1),
//                               top_k (default 40), top_p (default 1), seed, max_tokens or
//                               max_completion_tokens (default 32), stop (string or array),
//                               stream (SSE), stream_options.include_usage. Other members are
//                               accepted and ignored.
//   GET  /v1/models             the one model
//   GET  /health                {"status":"ok"}
//
// Every completion runs on a fresh llama.cpp context (unless --prompt-cache), one at a time, so its output depends
// only on the model file, the messages and the sampling parameters: the same seed gives the
// same text (temperature > 0 included). The response's `model` is the GGUF's general.name and
// its `system_fingerprint` is "fp_" + the first 16 hex digits of the file's SHA-256, so both are
// stable for a given model file.
//
// --prompt-cache (or LLAMA_PROMPT_CACHE=1) models llama.cpp's `cache_prompt` slot reuse: one
// context (the "slot") is kept for every request, so its KV cache still holds the previous
// conversation and the shared prefix of the next prompt is not evaluated again (the usage then
// counts only the prompt tokens actually evaluated), and the slot's sampler state carries over
// from one request to the next: the request's seed seeds a fresh slot only, later requests
// continue the slot's random stream (modelled as seed + the number of requests the slot has
// already served). So the same seeded request gives a different answer once the slot has
// served anything: the output depends on state the request does not carry. This is what
// `airi reproduce` is tested against (tests/llama/README.md).
//
// Never builds or downloads anything: getLlama() is told to use the prebuilt CPU binary
// (build "never", skipDownload, gpu false) and fails if it is not installed.
"use strict";

const fs = require("fs");
const http = require("http");
const crypto = require("crypto");
const path = require("path");

process.env.NODE_LLAMA_CPP_SKIP_DOWNLOAD = "true";

const args = process.argv.slice(2).filter((a) => a !== "--prompt-cache");
const promptCache = process.argv.includes("--prompt-cache") || process.env.LLAMA_PROMPT_CACHE === "1";
const modelPath = args[0];
const port = Number(args[1] || 0);
if (!modelPath) {
  process.stderr.write("usage: node server.js MODEL.gguf [PORT] [--prompt-cache]\n");
  process.exit(2);
}

const MAX_BODY = 1 << 20;

function sendJson(res, status, obj) {
  const body = JSON.stringify(obj);
  res.writeHead(status, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(body) });
  res.end(body);
}
function sendError(res, status, message, param, type) {
  sendJson(res, status, {
    error: { message, type: type || "invalid_request_error", param: param || null, code: null },
  });
}
class BadRequest extends Error {
  constructor(message, param) {
    super(message);
    this.param = param;
  }
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let n = 0;
    req.on("data", (c) => {
      n += c.length;
      if (n > MAX_BODY) {
        reject(new BadRequest("request body too large"));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

// content: a string, null, or an array of parts of which the text parts count
function contentText(content, i) {
  if (typeof content === "string") return content;
  if (content == null) return "";
  if (Array.isArray(content)) {
    return content
      .map((p) => {
        if (typeof p === "string") return p;
        if (p && p.type === "text" && typeof p.text === "string") return p.text;
        throw new BadRequest("only text content parts are supported", `messages[${i}].content`);
      })
      .join("");
  }
  throw new BadRequest("content must be a string or an array of parts", `messages[${i}].content`);
}

function toChatHistory(messages) {
  if (!Array.isArray(messages) || messages.length === 0) {
    throw new BadRequest("messages must be a non-empty array", "messages");
  }
  const history = [];
  messages.forEach((m, i) => {
    if (!m || typeof m !== "object") throw new BadRequest("each message must be an object", `messages[${i}]`);
    const text = contentText(m.content, i);
    switch (m.role) {
      case "system":
      case "developer":
        history.push({ type: "system", text });
        break;
      case "user":
        history.push({ type: "user", text });
        break;
      case "assistant":
        history.push({ type: "model", response: [text] });
        break;
      default:
        throw new BadRequest(`unsupported role ${JSON.stringify(m.role)}`, `messages[${i}].role`);
    }
  });
  history.push({ type: "model", response: [] });
  return history;
}

function num(body, name, def, min, max) {
  const v = body[name];
  if (v === undefined || v === null) return def;
  if (typeof v !== "number" || !Number.isFinite(v) || v < min || v > max) {
    throw new BadRequest(`${name} must be a number in [${min}, ${max}]`, name);
  }
  return v;
}

function parseRequest(body) {
  if (!body || typeof body !== "object" || Array.isArray(body)) throw new BadRequest("the body must be a JSON object");
  const history = toChatHistory(body.messages);
  const maxTokens = num(body, "max_completion_tokens", num(body, "max_tokens", 32, 1, 4096), 1, 4096);
  const opts = {
    maxTokens: Math.floor(maxTokens),
    temperature: num(body, "temperature", 1, 0, 2),
    topK: Math.floor(num(body, "top_k", 40, 0, 1e6)),
    topP: num(body, "top_p", 1, 0, 1),
  };
  if (body.seed !== undefined && body.seed !== null) {
    if (!Number.isInteger(body.seed) || body.seed < 0 || body.seed > 0xffffffff) {
      throw new BadRequest("seed must be an integer in [0, 4294967295]", "seed");
    }
    opts.seed = body.seed;
  }
  if (body.stop !== undefined && body.stop !== null) {
    const stops = Array.isArray(body.stop) ? body.stop : [body.stop];
    if (!stops.every((s) => typeof s === "string" && s.length > 0)) throw new BadRequest("stop must be a string or an array of strings", "stop");
    if (stops.length > 0) opts.customStopTriggers = stops;
  }
  return { history, opts, stream: body.stream === true, includeUsage: !!(body.stream_options && body.stream_options.include_usage) };
}

async function main() {
  const { getLlama, LlamaChat, LlamaLogLevel } = await import("node-llama-cpp");

  const fileBytes = fs.readFileSync(modelPath);
  const sha256 = crypto.createHash("sha256").update(fileBytes).digest("hex");
  const fingerprint = "fp_" + sha256.slice(0, 16);

  const llama = await getLlama({
    gpu: false,
    build: "never",
    skipDownload: true,
    usePrebuiltBinaries: true,
    progressLogs: false,
    logLevel: LlamaLogLevel.error,
    maxThreads: Number(process.env.LLAMA_TEST_THREADS || 1),
  });
  const model = await llama.loadModel({ modelPath });
  const modelName = (model.fileInfo.metadata.general && model.fileInfo.metadata.general.name) || path.basename(modelPath, ".gguf");
  const threads = Number(process.env.LLAMA_TEST_THREADS || 1);

  let seq = 0;
  // one completion at a time: each runs alone on its own fresh context
  let queue = Promise.resolve();
  function serialized(fn) {
    const p = queue.then(fn, fn);
    queue = p.catch(() => {});
    return p;
  }

  // --prompt-cache: the one slot, kept across requests, and how many it has served
  let slot = null;
  let served = 0;
  async function completeCached({ history, opts }, onTextChunk) {
    if (!slot) {
      const context = await model.createContext({ contextSize: 512, batchSize: 512, threads, sequences: 1 });
      const sequence = context.getSequence();
      slot = { context, sequence, chat: new LlamaChat({ contextSequence: sequence }) };
    }
    const meter = slot.sequence.tokenMeter;
    const inBefore = meter.usedInputTokens;
    const outBefore = meter.usedOutputTokens;
    const o = { ...opts };
    if (o.seed !== undefined) o.seed = (o.seed + served) % 0x100000000;
    served++;
    const r = await slot.chat.generateResponse(history, { ...o, onTextChunk });
    const usage = { prompt_tokens: meter.usedInputTokens - inBefore, completion_tokens: meter.usedOutputTokens - outBefore };
    usage.total_tokens = usage.prompt_tokens + usage.completion_tokens;
    const finish = r.metadata.stopReason === "maxTokens" ? "length" : "stop";
    return { text: r.response, finish, usage };
  }

  async function complete({ history, opts }, onTextChunk) {
    if (promptCache) return completeCached({ history, opts }, onTextChunk);
    const context = await model.createContext({ contextSize: 512, batchSize: 512, threads, sequences: 1 });
    try {
      const sequence = context.getSequence();
      const chat = new LlamaChat({ contextSequence: sequence });
      const r = await chat.generateResponse(history, { ...opts, onTextChunk });
      const usage = {
        prompt_tokens: sequence.tokenMeter.usedInputTokens,
        completion_tokens: sequence.tokenMeter.usedOutputTokens,
      };
      usage.total_tokens = usage.prompt_tokens + usage.completion_tokens;
      const finish = r.metadata.stopReason === "maxTokens" ? "length" : "stop";
      return { text: r.response, finish, usage };
    } finally {
      await context.dispose();
    }
  }

  async function chatCompletions(req, res) {
    const raw = await readBody(req);
    let body;
    try {
      body = JSON.parse(raw.toString("utf8"));
    } catch (e) {
      throw new BadRequest("the body is not valid JSON");
    }
    const parsed = parseRequest(body);
    const id = "chatcmpl-" + (++seq).toString().padStart(6, "0") + crypto.randomBytes(6).toString("hex");
    const created = Math.floor(Date.now() / 1000);
    const envelope = { id, created, model: modelName, system_fingerprint: fingerprint };

    if (!parsed.stream) {
      const r = await serialized(() => complete(parsed));
      sendJson(res, 200, {
        id,
        object: "chat.completion",
        created,
        model: modelName,
        system_fingerprint: fingerprint,
        choices: [{ index: 0, message: { role: "assistant", content: r.text, refusal: null }, logprobs: null, finish_reason: r.finish }],
        usage: r.usage,
      });
      return;
    }

    res.writeHead(200, { "Content-Type": "text/event-stream", "Cache-Control": "no-cache", Connection: "keep-alive" });
    const chunk = (choices, extra) =>
      res.write("data: " + JSON.stringify({ id, object: "chat.completion.chunk", created: envelope.created, model: modelName, system_fingerprint: fingerprint, choices, ...extra }) + "\n\n");
    chunk([{ index: 0, delta: { role: "assistant", content: "" }, logprobs: null, finish_reason: null }]);
    let r;
    try {
      r = await serialized(() =>
        complete(parsed, (text) => {
          if (text) chunk([{ index: 0, delta: { content: text }, logprobs: null, finish_reason: null }]);
        })
      );
    } catch (e) {
      res.write("data: " + JSON.stringify({ error: { message: String(e && e.message), type: "server_error" } }) + "\n\n");
      res.end();
      return;
    }
    chunk([{ index: 0, delta: {}, logprobs: null, finish_reason: r.finish }]);
    if (parsed.includeUsage) chunk([], { usage: r.usage });
    res.write("data: [DONE]\n\n");
    res.end();
  }

  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url, "http://localhost");
    try {
      if (req.method === "POST" && url.pathname === "/v1/chat/completions") {
        await chatCompletions(req, res);
      } else if (req.method === "GET" && url.pathname === "/v1/models") {
        sendJson(res, 200, { object: "list", data: [{ id: modelName, object: "model", created: 0, owned_by: "airi-test" }] });
      } else if (req.method === "GET" && url.pathname === "/health") {
        sendJson(res, 200, { status: "ok" });
      } else {
        sendError(res, 404, `no route for ${req.method} ${url.pathname}`, null, "not_found_error");
      }
    } catch (e) {
      if (res.headersSent) {
        res.end();
      } else if (e instanceof BadRequest) {
        sendError(res, 400, e.message, e.param);
      } else {
        process.stderr.write("server error: " + (e && e.stack ? e.stack : e) + "\n");
        sendError(res, 500, String(e && e.message), null, "server_error");
      }
    }
  });
  server.listen(port, "127.0.0.1", () => {
    if (promptCache) process.stderr.write("server.js: prompt cache on (one slot kept across requests)\n");
    process.stdout.write("listening " + server.address().port + "\n");
  });
  const stop = () => {
    server.close();
    (slot ? slot.context.dispose() : Promise.resolve())
      .then(() => model.dispose()).then(() => llama.dispose()).finally(() => process.exit(0));
    setTimeout(() => process.exit(0), 2000).unref();
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

main().catch((e) => {
  process.stderr.write("server.js: " + (e && e.stack ? e.stack : e) + "\n");
  process.exit(1);
});
