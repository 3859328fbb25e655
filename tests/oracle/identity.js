'use strict';
// identity.js — an independent JavaScript implementation of the airi identity
// rules (format v1) and a conformance test of `airi id --json`.
//
// Rules implemented (digest(v) = "sha256:" + lowercase hex SHA-256 of the
// RFC 8785 canonical UTF-8 bytes of v, canonicalization from jcs.js):
//   manifest   = object with members only: conditions (required, non-empty
//                object of sections; names match ^[a-z][a-z0-9_]{0,63}$),
//                trajectory (optional array), output (optional, any value
//                including null), meta (optional object)
//   section    = digest(section value)
//   conditions = digest({"type":"airi.conditions/1","sections":{NAME: section}})
//   trajectory = digest({"type":"airi.trajectory/1","steps":[digest(step)...]})
//   run        = digest({"type":"airi.run/1","conditions":conditions,
//                        "trajectory":..,"output":digest(output),"meta":digest(meta)})
//                (the last three only when present in the manifest)
//   `airi id --json` prints canonical JSON of {"run","conditions","sections",
//   "trajectory","output","meta"} (last three only when present) + "\n".
//
// Module exports: digest(value), computeIds(manifest), idLine(manifest),
// validateManifest(manifest), SECTION_NAME_RE.
//
// Usage:
//   node identity.js --id FILE|-   print the line `airi id --json` would print
//                                  (exit 65 + one stderr line on bad input)
//   node identity.js               test mode: first cross-checks the oracle
//                                  against the worked examples in
//                                  docs/spec.md section 17 (when present); then
//                                  ~500 random manifests written in
//                                  scrambled form, plus manifests that must be
//                                  rejected, compared against `airi id --json`
//                                  (AIRI_BIN; exit 77 if the binary is missing)
// Exit: 0 pass, 1 failure, 77 skipped.

const crypto = require('crypto');
const fs = require('fs');
const path = require('path');
const { canonicalBytes, canonicalize, parseStrict } = require('./jcs');

const SECTION_NAME_RE = /^[a-z][a-z0-9_]{0,63}$/;
const has = (o, k) => Object.prototype.hasOwnProperty.call(o, k);
const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);

function digest(v) {
  return 'sha256:' + crypto.createHash('sha256').update(canonicalBytes(v)).digest('hex');
}

function validateManifest(m) {
  if (!isObject(m)) throw new Error('manifest must be a JSON object');
  for (const k of Object.keys(m)) {
    if (!['conditions', 'trajectory', 'output', 'meta'].includes(k)) throw new Error(`unknown manifest member ${JSON.stringify(k)}`);
  }
  if (!has(m, 'conditions')) throw new Error('missing conditions');
  if (!isObject(m.conditions)) throw new Error('conditions must be an object');
  const names = Object.keys(m.conditions);
  if (names.length === 0) throw new Error('conditions must not be empty');
  for (const n of names) if (!SECTION_NAME_RE.test(n)) throw new Error(`bad section name ${JSON.stringify(n)}`);
  if (has(m, 'trajectory') && !Array.isArray(m.trajectory)) throw new Error('trajectory must be an array');
  if (has(m, 'meta') && !isObject(m.meta)) throw new Error('meta must be an object');
}

function computeIds(m) {
  validateManifest(m);
  const sections = Object.create(null);
  for (const name of Object.keys(m.conditions)) sections[name] = digest(m.conditions[name]);
  const conditions = digest({ type: 'airi.conditions/1', sections });
  const run = { type: 'airi.run/1', conditions };
  const ids = { run: null, conditions, sections };
  if (has(m, 'trajectory')) {
    ids.trajectory = run.trajectory = digest({ type: 'airi.trajectory/1', steps: m.trajectory.map(digest) });
  }
  if (has(m, 'output')) ids.output = run.output = digest(m.output);
  if (has(m, 'meta')) ids.meta = run.meta = digest(m.meta);
  ids.run = digest(run);
  return ids;
}

function idLine(m) { return canonicalize(computeIds(m)) + '\n'; }

module.exports = { digest, computeIds, idLine, validateManifest, SECTION_NAME_RE };

// ---------------------------------------------------------------- CLI mode
function cliId(file) {
  let text;
  try { text = file === '-' ? fs.readFileSync(0) : fs.readFileSync(file); }
  catch (e) { process.stderr.write(`identity.js: cannot read ${file}: ${e.message}\n`); process.exit(66); }
  try { process.stdout.write(idLine(parseStrict(text))); }
  catch (e) { process.stderr.write(`identity.js: ${e.message}\n`); process.exit(65); }
}

// ---------------------------------------------------------------- test mode
const WELL_KNOWN = ['model', 'params', 'system', 'input', 'retrieval', 'tools', 'environment'];

function randomSectionName(C, rng) {
  const first = 'abcdefghijklmnopqrstuvwxyz';
  const rest = first + '0123456789_';
  let n = first[rng.int(26)];
  const len = rng.chance(0.05) ? 63 : rng.int(12);
  for (let i = 0; i < len; i++) n += rest[rng.int(rest.length)];
  return n;
}

function randomManifest(C, rng) {
  const m = Object.create(null);
  const cond = Object.create(null);
  const names = rng.shuffle(WELL_KNOWN.slice()).slice(0, rng.int(WELL_KNOWN.length + 1));
  for (let k = rng.int(4); k > 0; k--) names.push(randomSectionName(C, rng));
  if (names.length === 0) names.push(rng.pick(WELL_KNOWN));
  for (const n of names) {
    cond[n] = rng.chance(0.7)
      ? (() => { let v; do v = C.randomValue(rng, 0, 6, { n: rng.range(1, 30) }); while (!isObject(v)); return v; })()
      : C.randomValue(rng, 1, 6, { n: rng.range(1, 20) });
  }
  m.conditions = cond;
  if (rng.chance(0.5)) {
    const steps = [];
    for (let k = rng.chance(0.1) ? 0 : rng.range(1, 8); k > 0; k--) {
      const s = Object.create(null);
      s.role = rng.pick(['user', 'assistant', 'tool', 'system']);
      s.content = C.randomString(rng, 8);
      if (rng.chance(0.3)) s.extra = C.randomValue(rng, 2, 6, { n: 10 });
      steps.push(rng.chance(0.9) ? s : C.randomValue(rng, 2, 6, { n: 5 }));
    }
    m.trajectory = steps;
  }
  if (rng.chance(0.5)) m.output = rng.chance(0.2) ? null : C.randomValue(rng, 1, 6, { n: rng.range(1, 20) });
  if (rng.chance(0.4)) {
    const meta = Object.create(null);
    for (let k = rng.int(4); k > 0; k--) meta[C.randomKey(rng)] = C.randomValue(rng, 2, 6, { n: 5 });
    m.meta = meta;
  }
  return m;
}

// Manifest texts that violate the rules: airi id must not succeed.
const BAD_MANIFESTS = [
  '[]', '"x"', 'null', '{}', '{"conditions":{}}', '{"conditions":[]}', '{"conditions":"x"}',
  '{"conditions":null}', '{"trajectory":[]}', '{"conditions":{"model":{}},"extra":1}',
  '{"conditions":{"Model":{}}}', '{"conditions":{"1abc":{}}}', '{"conditions":{"a-b":{}}}',
  '{"conditions":{"":{}}}', '{"conditions":{"_a":{}}}', '{"conditions":{"a b":{}}}',
  `{"conditions":{"a${'b'.repeat(64)}":{}}}`, '{"conditions":{"\u00e9":{}}}',
  '{"conditions":{"model":{}},"trajectory":{}}', '{"conditions":{"model":{}},"trajectory":null}',
  '{"conditions":{"model":{}},"meta":[]}', '{"conditions":{"model":{}},"meta":null}',
  '{"conditions":{"model":{}},"meta":"x"}', '{"conditions":{"model":{}},"conditions":{"params":{}}}',
  '{"conditions":{"model":{},"model":{}}}', '{"conditions":{"model":{"a":1,"a":2}}}',
  '{"conditions":{"model":9007199254740993}}', '{"conditions":{"model":1e400}}',
  '{"conditions":{"model":"\\ud800"}}', '{"conditions":{"model":{}}', '{"Conditions":{"model":{}}}',
];

// Hand-written manifests with fixed shapes (edge cases that random
// generation might miss).
const GOOD_MANIFESTS = [
  '{"conditions":{"model":{}}}',
  '{"conditions":{"model":null}}',
  '{"conditions":{"model":{"name":"x"}},"output":null}',
  '{"conditions":{"model":{"name":"x"}},"trajectory":[]}',
  '{"conditions":{"model":{"name":"x"}},"meta":{}}',
  '{"conditions":{"model":{"name":"x"}},"trajectory":[],"output":null,"meta":{}}',
  `{"conditions":{"a${'b'.repeat(63)}":1,"z":2,"a":3,"a_":4,"a0":5}}`,
  '{"meta":{"note":"meta first"},"output":[1,2],"trajectory":[null,true,{"b":-0.0,"a":1E2}],"conditions":{"tools":[],"params":{"temperature":0.7,"top_p":1.0}}}',
  '{"conditions":{"input":"\\u00e9\\ud83d\\ude02\\u2028","system":"\\u0000\\u001f"}}',
];

// Worked examples of docs/spec.md section 17 (fenced blocks tagged
// canon-in / canon-out / canon-reject / manifest / id / manifest-reject).
// Returns null when the spec is not there.
function specExamples() {
  const f = path.resolve(__dirname, '../../docs/spec.md');
  if (!fs.existsSync(f)) return null;
  const text = fs.readFileSync(f, 'utf8');
  const re = /^```json ([a-z-]+)=([A-Za-z0-9_.-]+)\n([\s\S]*?)^```$/gm;
  const ex = { 'canon-in': {}, 'canon-out': {}, 'canon-reject': {}, manifest: {}, id: {}, 'manifest-reject': {} };
  let m;
  while ((m = re.exec(text)) !== null) if (ex[m[1]]) ex[m[1]][m[2]] = m[3];
  return ex;
}

// Check the oracle against the spec's worked examples; returns the count.
function checkSpecExamples(F) {
  const ex = specExamples();
  if (!ex) { console.log('identity: docs/spec.md not found; spec example cross-check skipped'); return 0; }
  let n = 0;
  const attempt = (fn) => { try { return fn(); } catch (e) { return 'threw ' + e.message; } };
  for (const [name, inp] of Object.entries(ex['canon-in'])) {
    n++;
    const want = (ex['canon-out'][name] || '').replace(/\n$/, '');
    const got = attempt(() => canonicalize(parseStrict(Buffer.from(inp, 'utf8'))));
    if (got !== want) F.add(`SPEC example canon ${name}: oracle gives ${JSON.stringify(got)}, spec says ${JSON.stringify(want)}`);
  }
  for (const [name, inp] of Object.entries(ex['canon-reject'])) {
    n++;
    let threw = false;
    try { parseStrict(Buffer.from(inp, 'utf8')); } catch (e) { threw = true; }
    if (!threw) F.add(`SPEC example canon-reject ${name}: oracle accepts ${JSON.stringify(inp)}`);
  }
  for (const [name, inp] of Object.entries(ex.manifest)) {
    n++;
    const want = ex.id[name];
    const got = attempt(() => idLine(parseStrict(Buffer.from(inp, 'utf8'))));
    if (got !== want) F.add(`SPEC example manifest ${name}: oracle gives ${JSON.stringify(got)}, spec says ${JSON.stringify(want)}`);
  }
  for (const [name, inp] of Object.entries(ex['manifest-reject'])) {
    n++;
    let threw = false;
    try { computeIds(parseStrict(Buffer.from(inp, 'utf8'))); } catch (e) { threw = true; }
    if (!threw) F.add(`SPEC example manifest-reject ${name}: oracle accepts ${JSON.stringify(inp)}`);
  }
  console.log(`identity: oracle agrees with ${n} worked examples of docs/spec.md`);
  return n;
}

async function main() {
  const C = require('./common');
  const seed = C.seedFromEnv(0x69647321);
  const F = new C.Failures('identity');
  const rng = new C.Rng(seed);

  // Oracle self-checks: SHA-256 wiring, a hand-computed example, the
  // validator on the bad/good tables.
  {
    const sha = (s) => crypto.createHash('sha256').update(s).digest('hex');
    if (digest({}) !== 'sha256:' + sha('{}')) F.add('ORACLE self-check: digest({})');
    if (sha('') !== 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855') F.add('ORACLE self-check: sha256("")');
    const m = { conditions: { model: { b: 1, a: 2 } }, output: null };
    const sec = 'sha256:' + sha('{"a":2,"b":1}');
    const cond = 'sha256:' + sha(`{"sections":{"model":"${sec}"},"type":"airi.conditions/1"}`);
    const out = 'sha256:' + sha('null');
    const run = 'sha256:' + sha(`{"conditions":"${cond}","output":"${out}","type":"airi.run/1"}`);
    const want = `{"conditions":"${cond}","output":"${out}","run":"${run}","sections":{"model":"${sec}"}}\n`;
    if (idLine(m) !== want) F.add(`ORACLE self-check: hand-computed example\n  want ${want}  got  ${idLine(m)}`);
    for (const t of BAD_MANIFESTS) {
      let ok = false;
      try { computeIds(parseStrict(t)); } catch (e) { ok = true; }
      if (!ok) F.add(`ORACLE self-check: bad manifest accepted: ${t}`);
    }
    for (const t of GOOD_MANIFESTS) {
      try { computeIds(parseStrict(t)); } catch (e) { F.add(`ORACLE self-check: good manifest rejected: ${t}: ${e.message}`); }
    }
    checkSpecExamples(F);
    for (let i = 0; i < 100; i++) {
      const m2 = randomManifest(C, rng);
      const t = C.emitJson(m2, rng, { shuffle: true, ws: true, escapes: true, numbers: 'mixed' });
      let a, b;
      try { a = idLine(m2); b = idLine(parseStrict(t)); } catch (e) { a = 'x'; b = e.message; }
      if (a !== b) F.add(`ORACLE self-check: scrambled manifest changes ids: ${C.show(t)}`);
    }
  }
  if (F.count) { console.log(`identity: ORACLE SELF-CHECK FAILED (${F.count})`); process.exit(1); }
  console.log('identity: oracle self-checks passed');

  C.requireAiri('identity');
  const tmp = C.makeTempDir();
  let checked = 0, notes = 0;
  try {
    const jobs = [];
    const compare = (label, text, r) => {
      checked++;
      const want = idLine(parseStrict(text));
      const got = r.stdout.toString('utf8');
      if (r.status !== 0 || got !== want) {
        F.add(`${label}:\n  manifest: ${C.show(text, 1500)}\n  expected: ${want.trimEnd()}\n  got:      exit ${r.status} ${C.show(got, 1500)} stderr ${C.show(r.stderr)}`);
      }
    };
    GOOD_MANIFESTS.forEach((t, i) => jobs.push(async () => compare(`fixed manifest #${i} (stdin)`, t, await C.runAsync(['id', '--json', '-'], t))));
    BAD_MANIFESTS.forEach((t) => jobs.push(async () => {
      const r = await C.runAsync(['id', '--json', '-'], t);
      checked++;
      if (r.status === 0) F.add(`invalid manifest accepted (exit 0): ${C.show(t)} -> ${C.show(r.stdout)}`);
      else if (r.status !== 65) { notes++; console.log(`note [identity]: invalid manifest ${C.show(t)} rejected with exit ${r.status} (not 65): ${C.show(r.stderr)}`); }
      else if (r.stdout.length) F.add(`invalid manifest ${C.show(t)}: exit 65 but stdout not empty: ${C.show(r.stdout)}`);
    }));
    const N = Number(process.env.AIRI_ORACLE_MANIFESTS || 500);
    for (let i = 0; i < N; i++) {
      const m = randomManifest(C, rng);
      const text = C.emitJson(m, rng, { shuffle: true, ws: rng.chance(0.5), escapes: rng.chance(0.5), numbers: 'mixed', indent: rng.chance(0.5) ? 2 : null });
      if (i % 2 === 0) {
        const f = path.join(tmp, `m${i}.json`);
        fs.writeFileSync(f, text);
        jobs.push(async () => compare(`random manifest #${i} (file)`, text, await C.runAsync(['id', '--json', f])));
      } else {
        jobs.push(async () => compare(`random manifest #${i} (stdin)`, text, await C.runAsync(['id', '--json', '-'], text)));
      }
    }
    const t0 = Date.now();
    await C.pool(jobs);
    console.log(`identity: ${N} random + ${GOOD_MANIFESTS.length} fixed manifests, ${BAD_MANIFESTS.length} invalid manifests (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  if (F.count) { console.log(`identity: FAILED ${F.count} of ${checked} checks (seed ${seed})`); process.exit(1); }
  console.log(`identity: PASS ${checked} checks${notes ? ` (${notes} notes)` : ''} (seed ${seed})`);
}

if (require.main === module) {
  const a = process.argv.slice(2);
  if (a[0] === '--id') {
    if (a.length !== 2) { process.stderr.write('usage: node identity.js --id FILE|-\n'); process.exit(64); }
    cliId(a[1]);
  } else if (a.length === 0) {
    main().catch(e => { console.error(e); process.exit(1); });
  } else {
    process.stderr.write('usage: node identity.js [--id FILE|-]\n');
    process.exit(64);
  }
}
