#!/usr/bin/env node
// check.js — the calls and assertions of the `airi reproduce` tests (started by run.sh).
//
// Environment: AIRI_BIN, AIRI_STORE (the proxy's store), PROXY_URL (airi proxy in front of the
// fake), UPSTREAM_URL (the fake itself: its /_fake/knobs and /_fake/requests), WORK (a scratch
// folder).
//
// 1. a call of every API, plain and streamed, recorded through the proxy, reproduced: exit 0,
//    "identical" conditions and output, the new run in the store with meta.reproduces naming
//    the original and the same conditions ID, and the request the fake received the same JSON;
//    the API keys come from the environment and reach the fake;
// 2. the fake's resolved model changes (knob model_suffix): exit 3, "the model behind the
//    alias changed";
// 3. the fake's answer varies for the same request (knob vary): exit 1, "same conditions,
//    output varied" at the right character offset;
// 4. agent runs (OpenAI, Anthropic and the Responses API, grouped with Airi-Trace): hermetic
//    replay identical;
//    with the model asking for another tool call (knob tool_city) the replay stops at step 0
//    and says so;
// 5. --live-tools: a command that gives the recorded result (identical) and one that does not
//    (exit 3, input changed);
// 6. trouble: unknown run, a request recorded by digest only, an unreachable upstream, a
//    non-2xx reply, manifests that cannot be rebuilt, usage errors: documented exit statuses
//    and one-line errors.
// Prints one line per check; exits 1 on the first failure.
"use strict";

const { spawnSync } = require("child_process");
const fs = require("fs");
const path = require("path");
const assert = require("assert");

const { AIRI_BIN, AIRI_STORE, PROXY_URL, UPSTREAM_URL, WORK } = process.env;
for (const [k, v] of Object.entries({ AIRI_BIN, AIRI_STORE, PROXY_URL, UPSTREAM_URL, WORK })) {
  if (!v) {
    console.error(`check.js: ${k} is not set`);
    process.exit(2);
  }
}

const OPENAI_KEY = "sk-repro-SECRET-1";
const ANTHROPIC_KEY = "ak-repro-SECRET-2";

let n = 0;
function ok(what) {
  console.log(`ok ${++n} - ${what}`);
}
function fail(what, detail) {
  console.log(`not ok ${++n} - ${what}`);
  if (detail !== undefined) console.log("  " + (typeof detail === "string" ? detail : JSON.stringify(detail)).split("\n").join("\n  "));
  process.exit(1);
}
function check(cond, what, detail) {
  if (cond) ok(what);
  else fail(what, typeof detail === "function" ? detail() : detail);
}

function airi(args, env) {
  const r = spawnSync(AIRI_BIN, args, {
    encoding: "utf8",
    env: { ...process.env, AIRI_STORE, OPENAI_API_KEY: OPENAI_KEY, ANTHROPIC_API_KEY: ANTHROPIC_KEY, ...(env || {}) },
    timeout: 60000,
  });
  // under AddressSanitizer/UBSan (make asan), a report is a failure whatever the exit status
  if (/Sanitizer|runtime error:/.test(r.stderr || "")) fail(`airi ${args.join(" ")}: no sanitizer report`, r.stderr);
  return { status: r.status, stdout: r.stdout || "", stderr: r.stderr || "" };
}

function manifest(run) {
  const r = airi(["show", "--manifest", run]);
  if (r.status !== 0) fail(`airi show --manifest ${run}`, r.stderr);
  return JSON.parse(r.stdout);
}

function conditionsOf(run) {
  const r = airi(["show", "--json", run]);
  if (r.status !== 0) fail(`airi show --json ${run}`, r.stderr);
  return JSON.parse(r.stdout).ids.conditions;
}

async function knobs(k) {
  const res = await fetch(UPSTREAM_URL + "/_fake/knobs", { method: "POST", body: JSON.stringify(k) });
  if (res.status !== 200) fail("set fake knobs " + JSON.stringify(k), await res.text());
}

async function fakeRequests() {
  const res = await fetch(UPSTREAM_URL + "/_fake/requests");
  return res.json();
}

async function post(p, body, headers) {
  const res = await fetch(PROXY_URL + p, {
    method: "POST",
    headers: { "content-type": "application/json", ...(headers || {}) },
    body: typeof body === "string" ? body : JSON.stringify(body),
    signal: AbortSignal.timeout(30000),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text };
}

// Records a call through the proxy; returns its run ID.
async function record(label, p, body, headers) {
  const r = await post(p, body, headers);
  let run = r.headers.get("airi-run-id");
  if (!run) {
    const m = /: airi run=(sha256:[0-9a-f]{64})/.exec(r.text);
    run = m && m[1];
  }
  if (!run) fail(`${label}: recorded (run ID from the proxy)`, `status ${r.status}: ${r.text.slice(0, 300)}`);
  return run;
}

function reproduce(run, extra, env) {
  return airi(["reproduce", ...(extra || []), run], env);
}

function reproduceJSON(run, extra, env) {
  const r = reproduce(run, ["--json", ...(extra || [])], env);
  let report = null;
  try {
    report = JSON.parse(r.stdout);
  } catch (e) {
    fail("reproduce --json prints JSON", r.stdout + r.stderr);
  }
  // canonical: airi canon gives back the same bytes
  const c = spawnSync(AIRI_BIN, ["canon", "-"], { input: r.stdout.replace(/\n$/, ""), encoding: "utf8" });
  if (c.stdout !== r.stdout.replace(/\n$/, "")) fail("the --json report is canonical JSON", r.stdout);
  return { ...r, report };
}

function oneLine(r) {
  return r.stderr.trim().split("\n").length === 1 && r.stderr.startsWith("airi: ");
}

const TOOLS_OPENAI = [{ type: "function", function: { name: "get_weather", description: "Weather in a city",
  parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] } } }];
const TOOLS_ANTHROPIC = [{ name: "get_weather", description: "Weather in a city",
  input_schema: { type: "object", properties: { city: { type: "string" } }, required: ["city"] } }];
const TOOLS_RESPONSES = [{ type: "function", name: "get_weather", description: "Weather in a city",
  parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] } }];

async function main() {
  // ---- 1. every API, plain and streamed: identical ------------------------------------
  const calls = [
    ["chat", "/v1/chat/completions", {
      model: "gpt-4o-mini", temperature: 0.3, seed: 42, max_tokens: 40, tool_choice: "auto", tools: TOOLS_OPENAI,
      messages: [{ role: "system", content: "Answer in one sentence." }, { role: "user", content: "What is the capital of Norway?" }],
      user: "user-7", metadata: { ticket: "T-1" }, store: false,
    }, { "user-agent": "repro-test/1.0" }],
    ["chat streamed", "/v1/chat/completions", {
      model: "gpt-4o-mini", seed: 42, stream: true, stream_options: { include_usage: true },
      messages: [{ role: "developer", content: "Be terse." }, { role: "user", content: "Name a fjord." }],
    }],
    ["completions", "/v1/completions", { model: "gpt-3.5-turbo-instruct", prompt: "Say hi", seed: 3, max_tokens: 9 }],
    ["completions streamed", "/v1/completions", { model: "gpt-3.5-turbo-instruct", prompt: ["a", "b"], stream: true }],
    ["responses", "/v1/responses", { model: "gpt-4.1", instructions: "Be brief.", input: "Hello there", seed: 5, store: true }],
    ["responses streamed", "/v1/responses", { model: "gpt-4.1", input: [{ role: "user", content: "Hi" }], stream: true }],
    ["embeddings", "/v1/embeddings", { model: "text-embedding-3-small", input: ["one", "two"], encoding_format: "float" }],
    ["messages", "/v1/messages", {
      model: "claude-sonnet-4", max_tokens: 64, temperature: 0.2, system: "Answer in one word.",
      messages: [{ role: "user", content: "Capital of Sweden?" }], metadata: { user_id: "u-9" },
    }, { "anthropic-version": "2023-06-01" }],
    ["messages streamed", "/v1/messages", {
      model: "claude-sonnet-4", max_tokens: 64, stream: true,
      system: [{ type: "text", text: "Be brief.", cache_control: { type: "ephemeral" } }],
      messages: [{ role: "user", content: [{ type: "text", text: "Capital of Denmark?" }] }],
    }, { "anthropic-version": "2023-06-01" }],
  ];
  const runs = {};
  for (const [label, p, body, headers] of calls) runs[label] = await record(label, p, body, headers);
  ok(`${calls.length} calls recorded through the proxy`);

  for (const [label, p] of calls) {
    const orig = runs[label];
    const before = (await fakeRequests()).length;
    const r = reproduceJSON(orig);
    if (p === "/v1/responses") {
      // The Responses API puts per-call ids in its output items (msg_..., here derived by the
      // fake from the raw request bytes, random at OpenAI): the same answer with other ids is
      // another output digest, but the same answer: reproduce says identical and counts them.
      const strip = (o) => JSON.parse(JSON.stringify(o, (k, v) => (k === "id" ? undefined : v)));
      const mo = manifest(orig).output, mr = manifest(r.report.reproduced.run).output;
      check(JSON.stringify(mo.output.map((i) => i.id)) !== JSON.stringify(mr.output.map((i) => i.id)),
        `${label}: the reproduction's output items have other ids`, () => JSON.stringify([mo, mr]));
      check(r.status === 0 && r.report.result === "identical" && r.report.conditions.identical &&
        r.report.output.identical && r.report.output.ids_differ === mo.output.length && r.report.output.divergence === null,
      `${label}: same conditions, the same answer apart from ${mo.output.length} item id(s): exit 0`, () => r.stdout + r.stderr);
      try {
        assert.deepStrictEqual(strip(mr), strip(mo));
        ok(`${label}: the outputs are equal but for the item ids`);
      } catch (e) {
        fail(`${label}: the outputs are equal but for the item ids`, e.message);
      }
    } else {
      check(r.status === 0 && r.report.result === "identical" && r.report.exit === 0,
        `${label}: reproduce exits 0, "identical"`, () => r.stdout + r.stderr);
      check(r.report.conditions.identical && r.report.output.identical && r.report.output.divergence === null,
        `${label}: conditions and output identical`, r.report);
    }
    check(r.report.original.run === orig && r.report.reproduced.run !== orig, `${label}: the report names both runs`, r.report);
    const m = manifest(r.report.reproduced.run);
    check(m.meta.reproduces === orig, `${label}: the new run is in the store with meta.reproduces = the original`, m.meta);
    check(conditionsOf(r.report.reproduced.run) === conditionsOf(orig) && r.report.reproduced.conditions === r.report.original.conditions,
      `${label}: same conditions ID`);
    check(m.meta.stream === manifest(orig).meta.stream, `${label}: streamed as recorded (meta.stream ${m.meta.stream})`);
    check(/^req_fake_/.test(m.meta.request_id || "") && m.meta.attempt === 1 && m.meta.ended === "complete" && m.meta.status === 200 &&
      m.meta.endpoint === p && /^rk_[0-9a-f]{24}$/.test(m.meta.call || ""),
    `${label}: meta as the proxy writes it (request_id, attempt, ended, status, endpoint, call)`, m.meta);
    check(JSON.parse(airi(["show", "--json", m.meta.call]).stdout || "{}").ids.run === r.report.reproduced.run,
      `${label}: the call key is bound to the new run`);
    const reqs = await fakeRequests();
    const sent = reqs[reqs.length - 1];
    const first = reqs.find((q) => q.path === p && JSON.stringify(JSON.parse(q.body)) === JSON.stringify(calls.find((c) => c[0] === label)[2]));
    check(reqs.length === before + 1 && sent.path === p, `${label}: one request sent to ${p}`);
    assert.ok(first, "original request found");
    try {
      assert.deepStrictEqual(JSON.parse(sent.body), JSON.parse(first.body));
      ok(`${label}: the fake received the same request body (as JSON)`);
    } catch (e) {
      fail(`${label}: the fake received the same request body (as JSON)`, e.message);
    }
    if (p === "/v1/messages") {
      check(sent.headers["x-api-key"] === ANTHROPIC_KEY && sent.headers["anthropic-version"] === "2023-06-01",
        `${label}: x-api-key from ANTHROPIC_API_KEY and the recorded anthropic-version sent`, sent.headers);
    } else {
      check(sent.headers.authorization === "Bearer " + OPENAI_KEY, `${label}: Authorization from OPENAI_API_KEY`, sent.headers);
    }
    if (label === "chat") {
      check(sent.headers["user-agent"] === "repro-test/1.0", `${label}: the recorded User-Agent sent`, sent.headers);
    }
  }

  // the human report
  {
    const r = reproduce(runs.chat);
    check(r.status === 0 && /^conditions: identical$/m.test(r.stdout) && /^output: identical$/m.test(r.stdout) &&
      /^result: identical/m.test(r.stdout), "chat: the report for people says identical", r.stdout);
    check(r.stdout.split("\n").length < 25, "chat: the report fits on one screen");
  }
  // a manifest file as RUN
  {
    const file = path.join(WORK, "chat.json");
    fs.writeFileSync(file, airi(["show", "--manifest", runs.chat]).stdout);
    const r = reproduceJSON(file);
    check(r.status === 0 && r.report.original.run === runs.chat, "a manifest file as RUN: identical", r.stdout + r.stderr);
  }

  // ---- 2. the model behind the alias changed ----------------------------------------------
  await knobs({ model_suffix: "-2026-06-01" });
  {
    const r = reproduce(runs.chat);
    check(r.status === 3, "alias moved: exit 3", r.stdout + r.stderr);
    check(/the model behind the alias changed \(gpt-4o-mini resolved to gpt-4o-mini-2026-01-01, now gpt-4o-mini-2026-06-01\)/.test(r.stdout),
      "alias moved: the report says the model behind the alias changed", r.stdout);
    check(/model \/resolved: "gpt-4o-mini-2026-01-01" -> "gpt-4o-mini-2026-06-01"/.test(r.stdout), "alias moved: the field is shown", r.stdout);
    const j = reproduceJSON(runs["messages streamed"]);
    check(j.status === 3 && j.report.result === "conditions_differ" && j.report.conditions.causes.includes("model_alias_changed") &&
      j.report.conditions.differing_sections.join() === "model" &&
      j.report.conditions.changes.some((c) => c.pointer === "/model/resolved"),
    "alias moved (Anthropic, streamed): --json causes model_alias_changed, section model, /model/resolved", j.report);
  }
  await knobs({ model_suffix: "-2026-01-01" });

  {
    const t = reproduce(runs.responses);
    check(t.status === 0 && /output: the same answer; only 1 provider-assigned id differs \(\/output\/0\/id\)/.test(t.stdout) &&
      /apart from the ids the\s+provider assigns/.test(t.stdout),
    "responses: the report for people names the id that differs", t.stdout + t.stderr);
  }
  // ---- 3. the same request, another answer ------------------------------------------------
  await knobs({ vary: true });
  for (const label of ["chat", "chat streamed", "messages"]) {
    const orig = manifest(runs[label]);
    const text = label === "messages" ? orig.output.content[0].text : orig.output.choices[0].message.content;
    const r = reproduceJSON(runs[label]);
    const d = r.report.output.divergence;
    check(r.status === 1 && r.report.result === "output_varied" && r.report.conditions.identical && !r.report.output.identical,
      `${label}, varying upstream: exit 1, same conditions, output varied`, r.stdout + r.stderr);
    check(d && d.at_char === [...text].length &&
      d.pointer === (label === "messages" ? "/content/0/text" : "/choices/0/message/content"),
    `${label}: diverges at ${d && d.pointer}, character ${[...text].length}`, d);
    check(d.message === 0 && typeof d.a === "string" && typeof d.b === "string" && d.b.includes(" #"),
      `${label}: the divergence shows both sides`, d);
  }
  {
    // another answer *and* other item ids: the difference named is the text, not the id
    const orig = manifest(runs.responses);
    const text = orig.output.output[0].content[0].text;
    const r = reproduceJSON(runs.responses);
    const d = r.report.output.divergence;
    check(r.status === 1 && r.report.result === "output_varied" && !r.report.output.identical &&
      d && d.pointer === "/output/0/content/0/text" && d.at_char === [...text].length,
    `responses, varying upstream: exit 1, diverges at ${d && d.pointer} (not at the item id)`, r.stdout + r.stderr);
  }
  {
    const r = reproduce(runs.chat);
    const text = manifest(runs.chat).output.choices[0].message.content;
    check(r.status === 1 && /same conditions, output varied/.test(r.stdout) &&
      new RegExp(`output: diverges at choice 0, message text, character ${[...text].length}`).test(r.stdout),
    "varying upstream: the report for people says so, with the character offset", r.stdout);
  }
  await knobs({ vary: false });

  // ---- 4. agent runs ------------------------------------------------------------------------
  const agents = {};
  {
    const h = { "airi-trace": "agent-openai-1" };
    const q = { role: "user", content: "What is the weather in Oslo?" };
    await record("agent 1/2", "/v1/chat/completions", { model: "gpt-4o-mini", seed: 1, tools: TOOLS_OPENAI, messages: [q] }, h);
    const tc = { id: "call_fake_weather_1", type: "function", function: { name: "get_weather", arguments: '{"city":"Oslo"}' } };
    await record("agent 2/2", "/v1/chat/completions", {
      model: "gpt-4o-mini", seed: 1, tools: TOOLS_OPENAI,
      messages: [q, { role: "assistant", content: null, tool_calls: [tc] },
        { role: "tool", tool_call_id: "call_fake_weather_1", content: "Sunny, 21 C" }],
    }, h);
    const s = await fetch(PROXY_URL + "/airi/v1/groups/agent-openai-1/seal", { method: "POST" });
    agents.openai = (await s.json()).run;
    check(/^sha256:/.test(agents.openai || ""), "OpenAI agent run recorded (sealed)", agents.openai);
  }
  {
    const h = { "airi-trace": "agent-anthropic-1", "anthropic-version": "2023-06-01" };
    const q = { role: "user", content: "What is the weather in Oslo?" };
    const base = { model: "claude-sonnet-4", max_tokens: 100, tools: TOOLS_ANTHROPIC };
    await record("anthropic agent 1/2", "/v1/messages", { ...base, messages: [q], stream: true }, h);
    await record("anthropic agent 2/2", "/v1/messages", {
      ...base, stream: true,
      messages: [q,
        { role: "assistant", content: [{ type: "text", text: "Let me check the weather." },
          { type: "tool_use", id: "toolu_fake_weather_1", name: "get_weather", input: { city: "Oslo" } }] },
        { role: "user", content: [{ type: "tool_result", tool_use_id: "toolu_fake_weather_1", content: "Sunny, 21 C" }] }],
    }, h);
    const s = await fetch(PROXY_URL + "/airi/v1/groups/agent-anthropic-1/seal", { method: "POST" });
    agents.anthropic = (await s.json()).run;
    check(/^sha256:/.test(agents.anthropic || ""), "Anthropic agent run recorded (sealed, streamed calls)", agents.anthropic);
  }
  {
    // a Responses API agent: the function_call output item is a tool call, the next request's
    // function_call_output input item its result
    const h = { "airi-trace": "agent-responses-1" };
    const q = { role: "user", content: "What is the weather in Oslo?" };
    const base = { model: "gpt-4.1", tools: TOOLS_RESPONSES };
    const first = await record("responses agent 1/2", "/v1/responses", { ...base, input: [q] }, h);
    const fc = manifest(first).output.output[0];
    check(fc && fc.type === "function_call" && fc.call_id === "call_fake_weather_1", "Responses agent: the model asked for a function call", fc);
    await record("responses agent 2/2", "/v1/responses", {
      ...base, input: [q, fc, { type: "function_call_output", call_id: fc.call_id, output: "Sunny, 21 C" }],
    }, h);
    const s = await fetch(PROXY_URL + "/airi/v1/groups/agent-responses-1/seal", { method: "POST" });
    const run = (await s.json()).run;
    check(/^sha256:/.test(run || ""), "Responses agent run recorded (sealed)", run);
    const m = manifest(run);
    const t = m.trajectory;
    check(t.length === 3 && t[0].type === "model_call" && t[2].type === "model_call" && t[1].type === "tool_call" &&
      t[1].name === "get_weather" && t[1].id === "call_fake_weather_1" && t[1].arguments === '{"city":"Oslo"}' &&
      t[1].result === "Sunny, 21 C",
    "Responses agent run: model call, the tool call with its result, model call", t);
    const r = reproduceJSON(run);
    check(r.status === 0 && r.report.result === "identical" && r.report.steps.map((x) => x.type).join(",") === "model_call,tool_call,model_call" &&
      r.report.steps.every((x) => x.type !== "model_call" || (x.conditions_identical && x.tool_calls_as_recorded)),
    "Responses agent run, hermetic replay: exit 0, identical, the same steps", r.stdout + r.stderr);
    check(JSON.stringify(manifest(r.report.reproduced.run).trajectory[1]) === JSON.stringify(t[1]),
      "Responses agent run: the replay's tool step is the proxy's", manifest(r.report.reproduced.run).trajectory);
  }
  for (const [name, run] of Object.entries(agents)) {
    const r = reproduceJSON(run);
    check(r.status === 0 && r.report.result === "identical" && r.report.tools === "recorded" && r.report.stopped === null,
      `${name} agent run, hermetic replay: exit 0, identical`, r.stdout + r.stderr);
    const types = r.report.steps.map((s) => s.type).join(",");
    check(types === "model_call,tool_call,model_call" && r.report.steps.every((s) => s.type !== "model_call" ||
      (s.conditions_identical && s.output_identical && s.tool_calls_as_recorded)),
    `${name}: every step reported, each model call identical`, r.report.steps);
    const m = manifest(r.report.reproduced.run);
    const o = manifest(run);
    check(m.meta.reproduces === run && m.meta.tools === "recorded" && m.trajectory.length === 3 &&
      JSON.stringify(m.trajectory[1]) === JSON.stringify(o.trajectory[1]) &&
      m.trajectory.filter((s) => s.type === "model_call").every((s) => manifest(s.run).meta.call),
    `${name}: the new agent run is recorded like the proxy's (same tool step, model calls recorded)`, m);
    check(r.report.reproduced.conditions === r.report.original.conditions, `${name}: the agent run's conditions ID is the same`);
  }
  {
    const r = reproduce(agents.openai);
    check(r.status === 0 && /step 1 +tool call +get_weather/.test(r.stdout) && /recorded result fed back/.test(r.stdout),
      "agent run: the report for people lists the steps", r.stdout);
  }
  await knobs({ tool_city: "Bergen" });
  for (const [name, run] of Object.entries(agents)) {
    const before = (await fakeRequests()).length;
    const r = reproduceJSON(run);
    const after = (await fakeRequests()).length;
    check(r.status === 1 && r.report.stopped && r.report.stopped.step === 0 && r.report.result === "output_varied",
      `${name} agent run, model asks for another tool call: exit 1, stopped at step 0`, r.stdout + r.stderr);
    check(after === before + 1 && r.report.steps.length === 1, `${name}: the replay stopped (one call made)`);
    check(r.report.stopped.recorded[0].name === "get_weather" &&
      JSON.stringify(r.report.stopped.reproduced[0].arguments).includes("Bergen"),
    `${name}: the report shows the recorded and the new tool call`, r.report.stopped);
    check(r.report.output.divergence && r.report.output.divergence.tool_call &&
      r.report.output.divergence.tool_call.name === "get_weather",
    `${name}: the divergence names the tool call`, r.report.output.divergence);
  }
  {
    const r = reproduce(agents.openai);
    check(/stopped at step 0 \(model call 1 of 2\): the model asked for other tool calls than recorded/.test(r.stdout) &&
      /recorded: +get_weather "\{\\"city\\":\\"Oslo\\"\}"/.test(r.stdout) && /reproduced: +get_weather "\{\\"city\\":\\"Bergen\\"\}"/.test(r.stdout),
    "agent run: the report for people says where it stopped and why", r.stdout);
  }
  await knobs({ tool_city: "Oslo" });

  // ---- 5. --live-tools ----------------------------------------------------------------------
  for (const [name, run] of Object.entries(agents)) {
    const seen = path.join(WORK, `tool-in-${name}.json`);
    const r = reproduceJSON(run, ["--live-tools", `cat > '${seen}'; echo 'Sunny, 21 C'`]);
    check(r.status === 0 && r.report.tools === "live" && r.report.result === "identical",
      `${name}: --live-tools giving the recorded result: exit 0, identical (the rebuilt request is the recorded one)`,
      r.stdout + r.stderr);
    const input = JSON.parse(fs.readFileSync(seen, "utf8"));
    check(input.name === "get_weather" && JSON.stringify(input.arguments).includes("Oslo"),
      `${name}: the tool command got the call as JSON on stdin`, input);
    check(r.report.steps[1].type === "tool_call" && r.report.steps[1].result === "live", `${name}: the tool step is marked live`);
  }
  {
    const r = reproduceJSON(agents.openai, ["--live-tools", "printf 'Rain, 9 C'"]);
    check(r.status === 3 && r.report.conditions.causes.includes("input_changed") && r.report.conditions_step === 2 &&
      r.report.conditions.changes.some((c) => c.pointer === "/input/messages/2/content" && c.b === "Rain, 9 C"),
    "--live-tools with another result: exit 3, input changed at step 2", r.report);
    const reqs = await fakeRequests();
    check(JSON.parse(reqs[reqs.length - 1].body).messages[2].content === "Rain, 9 C",
      "--live-tools: the live result was sent in the next request");
  }
  {
    const r = reproduce(agents.openai, ["--live-tools", "exit 3"]);
    check(r.status === 2 && oneLine(r) && /exited with status 3/.test(r.stderr), "--live-tools command failing: exit 2, one line", r.stderr);
    const slow = reproduce(agents.openai, ["--timeout", "1", "--live-tools", "sleep 5"]);
    check(slow.status === 2 && oneLine(slow) && /did not finish within 1 s/.test(slow.stderr),
      "--live-tools command that hangs: stopped after --timeout, exit 2", slow.stderr);
    const u = reproduce(runs.chat, ["--live-tools", "cat"]);
    check(u.status === 64 && oneLine(u), "--live-tools on a single call: exit 64", u.stderr);
  }

  // ---- 6. trouble ---------------------------------------------------------------------------
  {
    const r = reproduce("abcdef123456");
    check(r.status === 2 && oneLine(r) && r.stdout === "", "unknown run: exit 2, one line", r.stderr);
    const bad = await post("/v1/chat/completions", "{not json");
    const dig = bad.headers.get("airi-run-id");
    const d = reproduce(dig);
    check(d.status === 2 && oneLine(d) && /recorded by digest only/.test(d.stderr) && /\/conditions\/request/.test(d.stderr),
      "a request recorded by digest only: exit 2, says so", d.stderr);
    const port = await new Promise((resolve) => {
      const s = require("net").createServer();
      s.listen(0, "127.0.0.1", () => { const p = s.address().port; s.close(() => resolve(p)); });
    });
    const before = airi(["log", "--json"]).stdout;
    const u = reproduce(runs.chat, ["--upstream", `http://127.0.0.1:${port}`]);
    check(u.status === 2 && oneLine(u) && /unreachable/.test(u.stderr) && /nothing was recorded/.test(u.stderr),
      "unreachable upstream: exit 2, one line, nothing recorded", u.stderr);
    check(airi(["log", "--json"]).stdout === before, "unreachable upstream: the store is unchanged");
    const t = reproduce(runs.chat, ["--timeout", "x"]);
    check(t.status === 64 && oneLine(t), "a bad --timeout: exit 64", t.stderr);
    const none = airi(["reproduce"]);
    check(none.status === 64 && oneLine(none), "no RUN: exit 64", none.stderr);
  }
  {
    // a reply that is not 2xx: recorded, reported, exit 2 (the fake answers 404 under a prefix)
    const m = manifest(runs.chat);
    m.meta.endpoint = "/nowhere/v1/chat/completions";
    const file = path.join(WORK, "prefixed.json");
    fs.writeFileSync(file, JSON.stringify(m));
    const r = reproduce(file);
    check(r.status === 2 && oneLine(r) && /answered 404/.test(r.stderr) && /recorded as sha256:/.test(r.stderr),
      "a 404 reply: exit 2, recorded and reported", r.stderr);
  }
  {
    const base = manifest(runs.chat);
    const cases = [
      ["a hand-written manifest (no meta)", (m) => { delete m.meta; }, /\/meta is missing/],
      ["params not an object", (m) => { m.conditions.params = [1]; }, /\/conditions\/params is not an object/],
      ["no input section", (m) => { delete m.conditions.input; }, /\/conditions\/input is missing/],
      ["a user message in system", (m) => { m.conditions.system.messages.push({ role: "user", content: "x" }); }, /\/conditions\/system: /],
      ["a non-param in params", (m) => { m.conditions.params.messages = []; }, /\/conditions\/params\/messages: /],
      ["an endpoint that is not a model call", (m) => { m.meta.endpoint = "/v1/models"; }, /\/meta\/endpoint/],
      ["an upstream that is not a URL", (m) => { m.conditions.model.upstream = "ftp://x"; }, /\/conditions\/model\/upstream/],
      ["system messages not an array", (m) => { m.conditions.system = { messages: "x" }; }, /\/conditions\/system\/messages is not an array/],
      ["a stream flag that is not a boolean", (m) => { m.meta.stream = "yes"; }, /\/meta\/stream/],
    ];
    for (const [what, edit, re] of cases) {
      const m = JSON.parse(JSON.stringify(base));
      edit(m);
      const file = path.join(WORK, "hostile.json");
      fs.writeFileSync(file, JSON.stringify(m));
      const r = reproduce(file);
      check(r.status === 2 && oneLine(r) && re.test(r.stderr), `${what}: exit 2, names the JSON Pointer`, r.stderr);
    }
    const agent = manifest(agents.openai);
    agent.trajectory[0].run = "sha256:" + "0".repeat(64);
    const file = path.join(WORK, "agent-missing.json");
    fs.writeFileSync(file, JSON.stringify(agent));
    const r = reproduce(file);
    check(r.status === 2 && oneLine(r) && /\/trajectory\/0\/run/.test(r.stderr), "an agent run whose call is not in the store: exit 2", r.stderr);
  }
  console.log(`reproduce checks: ${n} passed`);
}

main().catch((e) => fail("unexpected exception", (e && e.stack) || String(e)));
