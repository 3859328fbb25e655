'use strict';
// common.js — shared helpers for the airi oracle tests (numbers.js, jcs.js,
// identity.js). Nothing in here knows how airi computes anything; it only
// provides test plumbing:
//   * Rng: a small seeded PRNG (xoshiro128** seeded through splitmix32) so that
//     every run generates the same inputs for a given seed
//     (env AIRI_ORACLE_SEED overrides the default seed);
//   * f64 bit helpers (bits <-> double, nextUp / nextDown);
//   * numberLiteral(): writes a double as a JSON number literal in one of
//     several spellings that all parse back to the same double;
//   * randomValue() / emitJson(): random JSON documents and a serializer that
//     writes them in non-canonical form (shuffled keys, odd whitespace,
//     gratuitous \u escapes, non-shortest number spellings);
//   * airi process helpers (binary lookup via AIRI_BIN, sync/async runs) and
//     a failure collector that prints the first few mismatches.
// Exit-code convention of all scripts: 0 pass, 1 failure, 77 skipped.

const fs = require('fs');
const path = require('path');
const os = require('os');
const { spawn, spawnSync } = require('child_process');

const SKIP = 77;

// ---------------------------------------------------------------- PRNG
function rotl(x, k) { return (x << k) | (x >>> (32 - k)); }

class Rng {
  constructor(seed) {
    let s = seed >>> 0;
    const sm = () => { // splitmix32
      s = (s + 0x9e3779b9) >>> 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.a = sm() | 0; this.b = sm() | 0; this.c = sm() | 0; this.d = sm() | 0;
    if ((this.a | this.b | this.c | this.d) === 0) this.a = 1;
  }
  u32() { // xoshiro128**
    const r = Math.imul(rotl(Math.imul(this.b, 5), 7), 9) >>> 0;
    const t = this.b << 9;
    this.c ^= this.a; this.d ^= this.b; this.b ^= this.c; this.a ^= this.d;
    this.c ^= t; this.d = rotl(this.d, 11);
    return r;
  }
  float() { return (this.u32() * 2 ** 21 + (this.u32() >>> 11)) / 2 ** 53; } // [0,1)
  int(n) { return Math.floor(this.float() * n); }                            // [0,n)
  range(lo, hi) { return lo + this.int(hi - lo + 1); }                       // [lo,hi]
  chance(p) { return this.float() < p; }
  pick(arr) { return arr[this.int(arr.length)]; }
  shuffle(arr) {
    for (let i = arr.length - 1; i > 0; i--) {
      const j = this.int(i + 1); const t = arr[i]; arr[i] = arr[j]; arr[j] = t;
    }
    return arr;
  }
}

function seedFromEnv(dflt) {
  const s = process.env.AIRI_ORACLE_SEED;
  if (s === undefined || s === '') return dflt >>> 0;
  const n = Number(s);
  if (!Number.isInteger(n)) { console.error(`bad AIRI_ORACLE_SEED: ${s}`); process.exit(1); }
  return n >>> 0;
}

// ---------------------------------------------------------------- doubles
const dv = new DataView(new ArrayBuffer(8));
function fromHalves(hi, lo) { dv.setUint32(0, hi >>> 0); dv.setUint32(4, lo >>> 0); return dv.getFloat64(0); }
function fromBits(b) { dv.setBigUint64(0, BigInt.asUintN(64, b)); return dv.getFloat64(0); }
function toBits(x) { dv.setFloat64(0, x); return dv.getBigUint64(0); }
function toHex(x) { return toBits(x).toString(16).padStart(16, '0'); }
function nextUp(x) {
  if (Number.isNaN(x) || x === Infinity) return x;
  if (x === 0) return fromBits(1n);
  const b = toBits(x);
  return x > 0 ? fromBits(b + 1n) : fromBits(b - 1n);
}
function nextDown(x) { return -nextUp(-x); }
const TWO53 = 2 ** 53;

// Expected RFC 8785 serialization of a finite double: the ECMAScript
// Number::toString result (which JSON.stringify uses; -0 becomes "0").
function esNumber(x) { return JSON.stringify(x); }

// JSON literal for x that parses back to exactly x.  `form`:
//   'short' : the ES shortest form; integers above 2^53 written without
//             fraction/exponent would be rejected by airi, so they get ".0"
//             (and -0 is written "-0.0").
//   'exp16' : x.toExponential(16) (17 significant digits; always round-trips),
//             with the exponent marker varied (e+ / E+ / e / E).
//   'expN'  : x.toExponential(p) with 17 <= p <= 40 digits.
//   'mixed' : picks one of the above (plus a few integer spellings) at random.
function numberLiteral(x, form, rng) {
  if (form === 'mixed') {
    const r = rng.int(10);
    if (Number.isInteger(x) && Math.abs(x) <= TWO53 && r < 3) {
      if (Object.is(x, -0)) return rng.pick(['-0', '-0.0', '-0e5', '-0.000E-3']);
      return rng.pick([`${x}.0`, `${x}e0`, x === 0 ? '0.0e-2' : `${x}00e-2`, `${x}.000E+0`, String(x)]);
    }
    form = r < 6 ? 'short' : r < 9 ? 'exp16' : 'expN';
  }
  if (form === 'short') {
    if (Object.is(x, -0)) return '-0.0';
    const s = esNumber(x);
    if (Math.abs(x) > TWO53 && /^-?\d+$/.test(s)) return s + '.0';
    return s;
  }
  let s;
  if (form === 'exp16') s = x.toExponential(16);
  else if (form === 'expN') s = x.toExponential(rng ? rng.range(17, 40) : 25);
  else throw new Error('bad form ' + form);
  if (Object.is(x, -0)) s = '-' + s;
  if (rng) {
    const m = rng.int(4);
    if (m === 1) s = s.replace('e', 'E');
    else if (m === 2) s = s.replace('e+', 'e');
    else if (m === 3) s = s.replace('e+', 'E').replace('e-', 'E-');
  }
  return s;
}

// ---------------------------------------------------------------- random JSON
// Pieces used for keys and strings: non-ASCII, astral (UTF-16 order differs
// from code point order for U+1F602 vs U+E000/U+FB33), control characters,
// quote, backslash, DEL, line/paragraph separators, NUL.
const PIECES = [
  'a', 'b', 'z', 'A', 'Z', '_', '0', '1', '10', 'key', ' ', '/', '</script>',
  '\u00e9', '\u65e5\u672c', '\u{1F602}', '\uFB33', '\uE000', '\u0001', '\u001f',
  '"', '\\', '\u007f', '\u2028', '\u2029', '\u0000', '\u20ac', '\u00f6', '\u0080',
  '\n', '\t', '\r', '\b', '\f', '\uFFFF', '\uFFFE', '\uFDD0', '\u{1FFFF}', '\u{10FFFF}', '\u{10000}', 'A\u030a',
];

function randomString(rng, maxPieces) {
  const n = rng.int(maxPieces + 1);
  let s = '';
  for (let i = 0; i < n; i++) s += rng.pick(PIECES);
  return s;
}

function randomKey(rng) {
  if (rng.chance(0.02)) return '__proto__';
  if (rng.chance(0.03)) return '';
  return randomString(rng, 3) || rng.pick(PIECES);
}

const SPECIAL_NUMBERS = [
  0, -0, 1, -1, 0.1, 0.2, 0.3, 0.7, 1.5, 3.14159, 0.1 + 0.2, 1 / 3, 2 / 3, Math.PI,
  5e-324, -5e-324, 2.2250738585072014e-308, 2.225073858507201e-308,
  1.7976931348623157e308, -1.7976931348623157e308, 1e21, 999999999999999900000,
  1e-7, 1e-6, 9.999999999999999e-7, TWO53, -TWO53, TWO53 - 1, 2 ** 54, 2 ** 63,
  1e23, 123456789012345680000, 4.35, 333333333.3333333, 1e30, 1e-27, 100, 1e20,
];

function randomDouble(rng) {
  for (;;) {
    const hi = rng.u32(), lo = rng.u32();
    if (((hi >>> 20) & 0x7ff) === 0x7ff) continue; // NaN/Inf
    return fromHalves(hi, lo);
  }
}

function randomNumber(rng) {
  switch (rng.int(6)) {
    case 0: return rng.range(-100, 100);
    case 1: return (rng.chance(0.5) ? -1 : 1) * Math.floor(rng.float() * TWO53);
    case 2: return randomDouble(rng);
    case 3: { // few significant digits times a power of ten
      const digits = String(rng.range(1, 999999999));
      return Number(`${rng.chance(0.5) ? '-' : ''}${digits}e${rng.range(-332, 299)}`);
    }
    case 4: return rng.pick(SPECIAL_NUMBERS);
    default: return (rng.float() - 0.5) * 10 ** rng.range(-10, 25);
  }
}

// Random JSON value.  Objects are null-prototype so "__proto__" is an ordinary
// key.  `budget` is a shared node counter that keeps documents small.
function randomValue(rng, depth = 0, maxDepth = 8, budget = { n: 60 }) {
  budget.n--;
  const containerP = depth >= maxDepth || budget.n <= 0 ? 0 : depth === 0 ? 0.85 : 0.35;
  if (rng.chance(containerP)) {
    const n = rng.chance(0.1) ? 0 : rng.range(1, 6);
    if (rng.chance(0.5)) {
      const a = [];
      for (let i = 0; i < n; i++) a.push(randomValue(rng, depth + 1, maxDepth, budget));
      return a;
    }
    const o = Object.create(null);
    for (let i = 0; i < n; i++) o[randomKey(rng)] = randomValue(rng, depth + 1, maxDepth, budget);
    return o;
  }
  switch (rng.int(7)) {
    case 0: return null;
    case 1: return rng.chance(0.5);
    case 2: case 3: return randomString(rng, 6);
    default: return randomNumber(rng);
  }
}

// A value nested exactly `depth` levels deep (alternating arrays / objects).
function deepValue(rng, depth) {
  let v = randomValue(rng, 0, 0);
  for (let i = 0; i < depth; i++) {
    if (rng.chance(0.5)) v = [v];
    else { const o = Object.create(null); o[randomKey(rng)] = v; v = o; }
  }
  return v;
}

// ---------------------------------------------------------------- emitter
const SHORT_ESC = { '"': '\\"', '\\': '\\\\', '\b': '\\b', '\f': '\\f', '\n': '\\n', '\r': '\\r', '\t': '\\t' };
function hex4(u, upper) { const h = u.toString(16).padStart(4, '0'); return '\\u' + (upper ? h.toUpperCase() : h); }

function emitString(s, rng, randomEscapes) {
  if (!randomEscapes) return JSON.stringify(s);
  let out = '"';
  for (const ch of s) { // iterates by code point
    const cp = ch.codePointAt(0);
    const must = cp < 0x20 || ch === '"' || ch === '\\';
    if (must || rng.chance(0.12)) {
      if (SHORT_ESC[ch] && rng.chance(0.6)) out += SHORT_ESC[ch];
      else if (cp > 0xffff) out += hex4(ch.charCodeAt(0), rng.chance(0.5)) + hex4(ch.charCodeAt(1), rng.chance(0.5));
      else out += hex4(cp, rng.chance(0.5));
    } else if (ch === '/' && rng.chance(0.5)) out += '\\/';
    else out += ch;
  }
  return out + '"';
}

// Serialize v as JSON text.
//   opts.indent: null (compact) or number of spaces (like JSON.stringify(v, null, n))
//   opts.shuffle: emit object members in random order
//   opts.ws: random insignificant whitespace between tokens
//   opts.escapes: random \u / \/ escapes in strings
//   opts.numbers: 'short' | 'exp16' | 'expN' | 'mixed' (see numberLiteral)
function emitJson(v, rng, opts = {}) {
  const indent = opts.indent == null ? null : ' '.repeat(opts.indent);
  const numForm = opts.numbers || 'short';
  const W = () => {
    if (!opts.ws) return '';
    let s = '';
    while (rng.chance(0.3)) s += rng.pick([' ', '\t', '\n', '\r', '  ', '\r\n']);
    return s;
  };
  const rec = (x, lvl) => {
    if (x === null) return 'null';
    if (typeof x === 'boolean') return String(x);
    if (typeof x === 'number') return numberLiteral(x, numForm, rng);
    if (typeof x === 'string') return emitString(x, rng, opts.escapes);
    const nl = indent === null ? '' : '\n' + indent.repeat(lvl + 1);
    const end = indent === null ? '' : '\n' + indent.repeat(lvl);
    if (Array.isArray(x)) {
      if (x.length === 0) return '[' + W() + ']';
      return '[' + x.map(e => nl + W() + rec(e, lvl + 1) + W()).join(',') + end + ']';
    }
    const keys = Object.keys(x);
    if (opts.shuffle) rng.shuffle(keys);
    if (keys.length === 0) return '{' + W() + '}';
    const sep = indent === null ? ':' : ': ';
    return '{' + keys.map(k => nl + W() + emitString(k, rng, opts.escapes) + W() + sep + W() + rec(x[k], lvl + 1) + W()).join(',') + end + '}';
  };
  return W() + rec(v, 0) + W();
}

// ---------------------------------------------------------------- airi runs
function airiBin() { return process.env.AIRI_BIN || path.resolve(__dirname, '../../build/airi'); }

// Exit 77 unless the airi binary exists and is executable.
function requireAiri(scriptName) {
  const bin = airiBin();
  try { fs.accessSync(bin, fs.constants.X_OK); }
  catch (e) {
    console.log(`${scriptName}: SKIP — airi binary not found or not executable: ${bin} (set AIRI_BIN)`);
    process.exit(SKIP);
  }
  return bin;
}

function runSync(args, input) {
  const r = spawnSync(airiBin(), args, {
    input: input === undefined ? Buffer.alloc(0) : input,
    maxBuffer: 1 << 30,
  });
  if (r.error) throw r.error;
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr.toString('utf8') };
}

function runAsync(args, input) {
  return new Promise((resolve, reject) => {
    const p = spawn(airiBin(), args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const out = [], err = [];
    p.stdout.on('data', d => out.push(d));
    p.stderr.on('data', d => err.push(d));
    p.on('error', reject);
    p.stdin.on('error', () => {}); // EPIPE if airi exits early; status tells the story
    p.on('close', (status, signal) => resolve({
      status, signal, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString('utf8'),
    }));
    p.stdin.end(input === undefined ? Buffer.alloc(0) : input);
  });
}

// Run async jobs (functions returning promises) with bounded concurrency.
async function pool(jobs, concurrency = Math.max(2, os.cpus().length * 2)) {
  let i = 0;
  const worker = async () => { while (i < jobs.length) { const j = i++; await jobs[j](); } };
  await Promise.all(Array.from({ length: Math.min(concurrency, jobs.length) }, worker));
}

// Check the "bad input" contract: exit 65, empty stdout, exactly one
// non-empty line on stderr.  Returns null if fine, else a description.
function rejectProblem(r) {
  if (r.status !== 65) return `exit ${r.status}${r.signal ? ' signal ' + r.signal : ''} (want 65)`;
  if (r.stdout.length) return `exit 65 but stdout not empty: ${show(r.stdout.toString('utf8'))}`;
  const e = r.stderr.replace(/\r?\n$/, '');
  if (e.length === 0 || e.includes('\n')) return `exit 65 but stderr is not exactly one line: ${show(r.stderr)}`;
  return null;
}

// ---------------------------------------------------------------- reporting
function show(s, max = 400) {
  if (Buffer.isBuffer(s)) s = s.toString('utf8');
  const j = JSON.stringify(s);
  return j.length > max ? j.slice(0, max) + `…(${j.length} chars)` : j;
}

class Failures {
  constructor(name, limit = Number(process.env.AIRI_ORACLE_MAXFAIL) || 10) { this.name = name; this.limit = limit; this.count = 0; }
  add(msg) {
    this.count++;
    if (this.count <= this.limit) console.log(`FAIL [${this.name}] ${msg}`);
    else if (this.count === this.limit + 1) console.log(`FAIL [${this.name}] … (further failures not printed)`);
  }
}

function makeTempDir() { return fs.mkdtempSync(path.join(os.tmpdir(), 'airi-oracle-')); }

module.exports = {
  SKIP, Rng, seedFromEnv,
  fromHalves, fromBits, toBits, toHex, nextUp, nextDown, TWO53, esNumber, numberLiteral,
  PIECES, randomString, randomKey, randomNumber, randomDouble, randomValue, deepValue, SPECIAL_NUMBERS,
  emitJson, emitString,
  airiBin, requireAiri, runSync, runAsync, pool, rejectProblem,
  show, Failures, makeTempDir,
};
