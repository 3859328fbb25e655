#!/usr/bin/env node
// check.js — the calls and assertions of the llama end-to-end test (started by run.sh).
//
// Environment: PROXY_URL (airi proxy in front of server.js), AIRI_BIN, AIRI_STORE (the proxy's
// store), FINGERPRINT (the system_fingerprint server.js reports for the model file), and
// MODEL_NAME (its general.name).
//
// Sends the same chat request through the proxy with seed 1 (calls A and B), seed 2 (C and D)
// and seed 1 streamed (E), all at temperature 0.8 so that the seed decides the text, and
// checks that
//   - the engine is deterministic: A and B give the same text, and so do C and D;
//   - A and B have the same conditions ID (header and the body's `airi` member), different
//     run IDs, and `airi diff` calls them "same_conditions" with equal outputs;
//   - C has a different conditions ID and a different text, and `airi show --json` and
//     `airi diff --json` agree that every condition section but `params` has the same digest,
//     and that the only change in params is /seed, 1 -> 2;
//   - the streamed call E has A's conditions ID and A's text;
//   - the recorded manifest names the model as the engine reported it (resolved name and
//     fingerprint) and the output is the engine's text.
// Prints one line per check; exits 1 on the first failure.
"use strict";

const { spawnSync } = require("child_process");

const PROXY_URL = process.env.PROXY_URL;
const AIRI_BIN = process.env.AIRI_BIN;
const AIRI_STORE = process.env.AIRI_STORE;
const FINGERPRINT = process.env.FINGERPRINT;
const MODEL_NAME = process.env.MODEL_NAME;
for (const [k, v] of Object.entries({ PROXY_URL, AIRI_BIN, AIRI_STORE, FINGERPRINT, MODEL_NAME })) {
  if (!v) {
    console.error(`check.js: ${k} is not set`);
    process.exit(2);
  }
}

let n = 0;
function ok(what) {
  n++;
  console.log(`ok ${n} - ${what}`);
}
function fail(what, detail) {
  n++;
  console.log(`not ok ${n} - ${what}`);
  if (detail !== undefined) console.log("  " + (typeof detail === "string" ? detail : JSON.stringify(detail)));
  process.exit(1);
}
function check(cond, what, detail) {
  if (cond) ok(what);
  else fail(what, typeof detail === "function" ? detail() : detail);
}

const ID_RE = /^sha256:[0-9a-f]{64}$/;

function request(seed, extra) {
  return {
    model: "tiny-random",
    messages: [
      { role: "system", content: "You are a terse assistant." },
      { role: "user", content: "Name the capital of France." },
    ],
    temperature: 0.8,
    top_k: 40,
    top_p: 0.95,
    max_tokens: 24,
    seed,
    ...extra,
  };
}

async function post(body) {
  const res = await fetch(PROXY_URL + "/v1/chat/completions", {
    method: "POST",
    headers: { "Content-Type": "application/json", Authorization: "Bearer sk-llama-test" },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(30000),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text };
}

// a plain call: returns {run, conditions, text, body}
async function call(label, seed) {
  const r = await post(request(seed));
  if (r.status !== 200) fail(`${label}: status 200`, `status ${r.status}: ${r.text.slice(0, 500)}`);
  let body;
  try {
    body = JSON.parse(r.text);
  } catch (e) {
    fail(`${label}: the body is JSON`, r.text.slice(0, 500));
  }
  const hc = r.headers.get("airi-conditions-id");
  const hr = r.headers.get("airi-run-id");
  check(ID_RE.test(hc || "") && ID_RE.test(hr || ""), `${label} (seed ${seed}): Airi-Run-Id and Airi-Conditions-Id headers`, { hc, hr });
  check(body.airi && body.airi.conditions === hc && body.airi.run === hr, `${label}: the body's airi member matches the headers`, body.airi);
  const content = body.choices && body.choices[0] && body.choices[0].message && body.choices[0].message.content;
  check(typeof content === "string" && content.length > 0, `${label}: non-empty output text`, body);
  check(body.model === MODEL_NAME && body.system_fingerprint === FINGERPRINT, `${label}: model and fingerprint of the engine passed through`, { model: body.model, fp: body.system_fingerprint });
  return { run: hr, conditions: hc, text: content, body };
}

// a streamed call: returns {conditions, run, text}
async function streamed(label, seed) {
  const r = await post(request(seed, { stream: true }));
  if (r.status !== 200) fail(`${label}: status 200`, `status ${r.status}: ${r.text.slice(0, 500)}`);
  let text = "";
  let airi = null;
  let done = false;
  for (const block of r.text.split(/\r?\n\r?\n/)) {
    for (const line of block.split(/\r?\n/)) {
      if (!line.startsWith("data:")) continue;
      const data = line.slice(5).trim();
      if (data === "[DONE]") {
        done = true;
        continue;
      }
      const ev = JSON.parse(data);
      if (ev.airi) airi = ev.airi;
      for (const c of ev.choices || []) if (c.delta && typeof c.delta.content === "string") text += c.delta.content;
    }
  }
  check(done, `${label} (seed ${seed}, stream): the stream ends with [DONE]`);
  check(airi && ID_RE.test(airi.conditions || "") && ID_RE.test(airi.run || ""), `${label}: the stream carries the airi chunk`, r.text.slice(-600));
  return { run: airi.run, conditions: airi.conditions, text };
}

function airi(args) {
  const p = spawnSync(AIRI_BIN, [...args, "--store", AIRI_STORE], { encoding: "utf8", timeout: 20000 });
  return p;
}
function airiJson(args, okStatuses) {
  const p = airi(args);
  if (!okStatuses.includes(p.status)) fail(`airi ${args.join(" ")} exits ${okStatuses.join(" or ")}`, `status ${p.status}: ${p.stderr}`);
  try {
    return JSON.parse(p.stdout);
  } catch (e) {
    fail(`airi ${args.join(" ")} prints JSON`, p.stdout.slice(0, 500));
  }
}

async function main() {
  const A = await call("A", 1);
  const B = await call("B", 1);
  const C = await call("C", 2);
  const D = await call("D", 2);
  const E = await streamed("E", 1);

  // --- the engine is deterministic (else nothing below means anything) -------------------
  check(A.text === B.text, "engine determinism: seed 1 twice gives the same text", () =>
    `NOT DETERMINISTIC: A=${JSON.stringify(A.text)} B=${JSON.stringify(B.text)}`);
  check(C.text === D.text, "engine determinism: seed 2 twice gives the same text", () =>
    `NOT DETERMINISTIC: C=${JSON.stringify(C.text)} D=${JSON.stringify(D.text)}`);
  check(A.text !== C.text, "the seed matters: seed 2 gives a different text from seed 1", () =>
    `both ${JSON.stringify(A.text)}; change the seeds or the sampling parameters in check.js`);
  console.log(`# seed 1: ${JSON.stringify(A.text)}`);
  console.log(`# seed 2: ${JSON.stringify(C.text)}`);

  // --- identities returned by the proxy ---------------------------------------------------
  check(A.conditions === B.conditions, "same seed: same conditions ID", { A: A.conditions, B: B.conditions });
  check(A.run !== B.run, "same seed: two runs (different run IDs: the meta differs)");
  check(C.conditions === D.conditions, "seed 2 twice: same conditions ID");
  check(A.conditions !== C.conditions, "different seed: different conditions ID", A.conditions);
  check(E.conditions === A.conditions, "streamed call with seed 1: A's conditions ID", { A: A.conditions, E: E.conditions });
  check(E.text === A.text, "streamed call with seed 1: A's text", { A: A.text, E: E.text });

  // --- what the store says -----------------------------------------------------------------
  const sa = airiJson(["show", "--json", A.run], [0, 1]);
  const sb = airiJson(["show", "--json", B.run], [0, 1]);
  const sc = airiJson(["show", "--json", C.run], [0, 1]);
  check(sa.ids.run === A.run && sa.ids.conditions === A.conditions, "airi show A: the IDs the proxy returned", sa.ids);
  check(sc.ids.run === C.run && sc.ids.conditions === C.conditions, "airi show C: the IDs the proxy returned", sc.ids);
  const m = sa.manifest.conditions.model;
  check(m.resolved === MODEL_NAME && m.fingerprint === FINGERPRINT && m.name === "tiny-random" && m.upstream === process.env.UPSTREAM_URL,
    "airi show A: model section has the requested name, the engine's resolved name and fingerprint, the upstream", m);
  const pa = sa.manifest.conditions.params;
  const pc = sc.manifest.conditions.params;
  check(pa.seed === 1 && pc.seed === 2 && pa.temperature === 0.8 && pa.max_tokens === 24 && pa.top_k === 40 && pa.top_p === 0.95,
    "airi show: params hold the sampling parameters and the seeds", { A: pa, C: pc });
  const outA = JSON.stringify(sa.manifest.output);
  check(outA.includes(JSON.stringify(A.text)), "airi show A: the output holds the engine's text", sa.manifest.output);

  const secA = sa.ids.sections;
  const secB = sb.ids.sections;
  const secC = sc.ids.sections;
  const names = Object.keys(secA).sort();
  check(JSON.stringify(names) === JSON.stringify(Object.keys(secC).sort()), "A and C have the same condition sections", { A: names, C: Object.keys(secC) });
  for (const name of ["model", "params", "system", "input", "environment"]) {
    check(names.includes(name), `section ${name} is recorded`, names);
  }
  check(names.every((k) => secA[k] === secB[k]), "A and B: every section digest equal", { A: secA, B: secB });
  for (const k of names) {
    if (k === "params") check(secA[k] !== secC[k], "A and C: params digest differs", secA[k]);
    else check(secA[k] === secC[k], `A and C: ${k} digest equal`, { A: secA[k], C: secC[k] });
  }

  const dac = airiJson(["diff", "--json", A.run, C.run], [1]);
  check(dac.verdict.kind === "conditions_differ" && JSON.stringify(dac.verdict.differing_sections) === '["params"]',
    "airi diff A C: conditions differ in params only", dac.verdict);
  const notEqual = dac.sections.filter((s) => s.status !== "equal").map((s) => s.name);
  check(JSON.stringify(notEqual) === '["params"]', "airi diff A C: every section equal but params", dac.sections);
  const params = dac.sections.find((s) => s.name === "params");
  check(params.changes.length === 1 && params.changes[0].pointer === "/seed" && params.changes[0].a === 1 && params.changes[0].b === 2,
    "airi diff A C: the one change in params is /seed 1 -> 2", params.changes);
  check(dac.output.status === "changed", "airi diff A C: the output changed", dac.output.status);

  const dab = airiJson(["diff", "--json", A.run, B.run], [1]);
  check(dab.verdict.kind === "same_conditions" && dab.same_conditions === true && dab.same_run === false,
    "airi diff A B: same conditions, different runs", dab.verdict);
  check(dab.output.status === "equal", "airi diff A B: the same output", dab.output);

  const dae = airiJson(["diff", "--json", A.run, E.run], [1]);
  check(dae.verdict.kind === "same_conditions", "airi diff A E (plain vs streamed): same conditions", dae.verdict);

  // for the `airi reproduce` phase of run.sh (reproduce.js)
  if (process.env.RUNS_FILE) {
    require("fs").writeFileSync(process.env.RUNS_FILE, JSON.stringify({ A: A.run, C: C.run, E: E.run, textA: A.text }));
  }

  console.log(`1..${n}`);
}

main().catch((e) => {
  console.log(`not ok - unexpected error: ${e && e.stack ? e.stack : e}`);
  process.exit(1);
});
