#!/usr/bin/env node
// reproduce.js — `airi reproduce` against the real tiny-model engine (started by run.sh after
// check.js and the proxy have finished).
//
//   node reproduce.js plain   the engine as check.js used it (a fresh context per request):
//                             reproducing the seeded call A (plain) and E (streamed) gives
//                             exit 0, identical conditions and identical output
//   node reproduce.js cache   the engine restarted by run.sh with --prompt-cache on the same
//                             port (so the recorded upstream URL is the same): reproducing C
//                             first, on the fresh slot, is identical (exit 0); then A and E,
//                             whose requests are exactly the recorded ones, come back different
//                             (exit 1, "same conditions, output varied"): the slot's cache and
//                             sampler state are not in the request
//
// Environment: AIRI_BIN, AIRI_STORE, RUNS_FILE (written by check.js: {A, C, E, textA}).
// Prints one line per check; exits 1 on the first failure.
"use strict";

const { spawnSync } = require("child_process");
const fs = require("fs");

const { AIRI_BIN, AIRI_STORE, RUNS_FILE } = process.env;
const phase = process.argv[2];
if (!AIRI_BIN || !AIRI_STORE || !RUNS_FILE || !["plain", "cache"].includes(phase)) {
  console.error("usage: AIRI_BIN=.. AIRI_STORE=.. RUNS_FILE=.. node reproduce.js plain|cache");
  process.exit(2);
}
const runs = JSON.parse(fs.readFileSync(RUNS_FILE, "utf8"));

let n = 0;
function check(cond, what, detail) {
  n++;
  if (cond) {
    console.log(`ok ${n} - reproduce (${phase}): ${what}`);
    return;
  }
  console.log(`not ok ${n} - reproduce (${phase}): ${what}`);
  if (detail !== undefined) console.log("  " + (typeof detail === "string" ? detail : JSON.stringify(detail)));
  process.exit(1);
}

function reproduce(run, json) {
  const args = ["reproduce", "--store", AIRI_STORE, ...(json ? ["--json"] : []), run];
  const p = spawnSync(AIRI_BIN, args, { encoding: "utf8", timeout: 60000 });
  if (/Sanitizer|runtime error:/.test(p.stderr || "")) check(false, `airi ${args.join(" ")}: no sanitizer report`, p.stderr);
  let report = null;
  if (json) {
    try {
      report = JSON.parse(p.stdout);
    } catch (e) {
      check(false, `airi ${args.join(" ")} prints JSON`, p.stdout + p.stderr);
    }
  }
  return { status: p.status, stdout: p.stdout || "", stderr: p.stderr || "", report };
}

function manifest(run) {
  const p = spawnSync(AIRI_BIN, ["show", "--manifest", "--store", AIRI_STORE, run], { encoding: "utf8" });
  return JSON.parse(p.stdout);
}

if (phase === "plain") {
  for (const [label, run] of [["A (seed 1)", runs.A], ["E (seed 1, streamed)", runs.E]]) {
    const r = reproduce(run, true);
    check(r.status === 0 && r.report.result === "identical", `${label}: exit 0, identical`, r.stdout + r.stderr);
    check(r.report.conditions.identical && r.report.reproduced.conditions === r.report.original.conditions,
      `${label}: the same conditions ID`, r.report);
    check(r.report.output.identical, `${label}: the same output`, r.report.output);
    check(manifest(r.report.reproduced.run).meta.reproduces === run, `${label}: recorded with meta.reproduces`);
  }
  const h = reproduce(runs.A, false);
  check(h.status === 0 && /^conditions: identical$/m.test(h.stdout) && /^output: identical$/m.test(h.stdout),
    "the report for people says identical", h.stdout);
  console.log("# " + h.stdout.trim().split("\n").join("\n# "));
} else {
  const first = reproduce(runs.C, true);
  check(first.status === 0 && first.report.result === "identical",
    "C (seed 2) on the fresh slot: exit 0, identical", first.stdout + first.stderr);
  const r = reproduce(runs.A, true);
  check(r.status === 1 && r.report.result === "output_varied", "A (seed 1) after the slot served C: exit 1, output varied",
    r.stdout + r.stderr);
  check(r.report.conditions.identical && r.report.reproduced.conditions === r.report.original.conditions,
    "A: the same conditions ID (the request is the recorded one)", r.report.conditions);
  check(r.report.output.divergence && r.report.output.divergence.pointer.startsWith("/"),
    `A: the divergence is located (${r.report.output.divergence && r.report.output.divergence.where})`, r.report.output);
  const h = reproduce(runs.E, false);
  check(h.status === 1 && /same conditions, output varied/.test(h.stdout) && /^conditions: identical$/m.test(h.stdout) &&
    /^output: diverges at /m.test(h.stdout), "E (streamed): exit 1, the report says same conditions, output varied", h.stdout);
  console.log("# " + h.stdout.trim().split("\n").join("\n# "));
}
console.log(`# reproduce (${phase}): ${n} checks passed`);
