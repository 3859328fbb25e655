'use strict';
// numbers.js — number-formatting conformance test for `airi canon`.
//
// RFC 8785 requires numbers to be serialized exactly as ECMAScript's
// Number::toString does (shortest round-tripping digits, exponent rules at
// 1e21 and 1e-7, -0 -> "0").  Node's own JSON.stringify is that algorithm,
// so it is the oracle here.
//
// A deterministic (seeded, see common.js) set of doubles is generated:
//   * 200,000 random 64-bit patterns (NaN/Inf skipped), both signs;
//   * subnormals: min/max subnormal, min normal and neighbours, k*5e-324 for
//     small k, random subnormals;
//   * every power of ten 1e-324..1e308 and every power of two 2^-1074..2^1023,
//     each with its nextUp/nextDown neighbours;
//   * +-20 ulps around the formatting boundaries 1e21, 1e-7, 1e-6;
//   * integers around 2^53 and 2^54, small integers, -0, typical decimals;
//   * 20,000 "short decimal" values (few digits times a power of ten).
// Each value is written in three spellings and fed to `airi canon -` as JSON
// arrays of up to 50,000 numbers; every spelling must produce exactly
// "[" + values.map(JSON.stringify).join(",") + "]":
//   A. shortest form (JSON.stringify; -0 as "-0.0"; integers above 2^53 get
//      ".0" because airi rejects bare integer literals beyond 2^53);
//   B. x.toExponential(16) — 17 significant digits, so airi has to re-derive
//      the shortest form (exponent marker spelled e+, E+, e, E at random);
//   C. x.toExponential(p), 17 <= p <= 40 (long, over-precise inputs).
// Plus a parser stress set D: exact decimal midpoints between adjacent
// doubles (up to ~770 significant digits) and the midpoint +- a tiny
// amount, which checks round-half-to-even decimal->double conversion.
// Finally a table of single literals checks rejection (integer literal
// beyond 2^53, overflow to infinity: exit 65) and underflow (1e-400 -> 0).
// Every generated literal is first checked to parse back (Number()) to the
// intended double, so a failure here is airi's, not the generator's.
// Exit: 0 pass, 1 failure, 77 skipped (no airi binary).

const C = require('./common');

const CHUNK = 50000;
const F = new C.Failures('numbers');
const seed = C.seedFromEnv(0x6e756d73);
const rng = new C.Rng(seed);

// ---------------------------------------------------------------- values
function deterministicValues() {
  const v = [];
  const withNeighbours = (x, k = 1) => {
    v.push(x);
    let u = x, d = x;
    for (let i = 0; i < k; i++) {
      u = C.nextUp(u); d = C.nextDown(d);
      if (Number.isFinite(u)) v.push(u);
      if (Number.isFinite(d)) v.push(d);
    }
  };
  // subnormals
  withNeighbours(5e-324, 3);
  withNeighbours(C.fromBits(0x000fffffffffffffn), 3); // max subnormal
  withNeighbours(C.fromBits(0x0010000000000000n), 3); // min normal
  for (let k = 1n; k <= 1000n; k++) v.push(C.fromBits(k));
  for (let b = 0n; b < 52n; b++) { v.push(C.fromBits(1n << b)); v.push(C.fromBits((1n << (b + 1n)) - 1n)); }
  for (let i = 0; i < 5000; i++) v.push(C.fromHalves(rng.u32() & 0x000fffff, rng.u32()));
  // powers of ten and two, with neighbours
  for (let k = -324; k <= 308; k++) withNeighbours(Number(`1e${k}`), 2);
  for (let e = -1074; e <= 1023; e++) withNeighbours(2 ** e, 1);
  // formatting boundaries
  for (const b of [1e21, 1e-7, 1e-6, 1e20, 1e22, 1e-5]) withNeighbours(b, 20);
  // integers around 2^53 and 2^54
  for (let k = -200; k <= 200; k++) { v.push(C.TWO53 + k); v.push(2 ** 54 + 2 * k); }
  for (let k = -1000; k <= 1000; k++) v.push(k);
  v.push(-0, 0, C.TWO53 - 1, Number.MAX_SAFE_INTEGER, Number.MAX_VALUE, Number.MIN_VALUE, Number.EPSILON);
  // typical values
  v.push(...C.SPECIAL_NUMBERS, 0.1, 0.7, 1.5, 3.14159, 2.5, 0.5, 0.25, 0.125, 1e-3, 123.456, 99.99,
    1 / 7, Math.E, Math.SQRT2, Math.LN2, 1e100, 1.1, 2.675, 1.005, 5e-7, 4.94e-322, 8.41e21,
    1.2345678901234567, 12345678901234567890, 0.30000000000000004, 1e-9, 2 ** 31, 2 ** 32, 2 ** 63 + 2 ** 11);
  return v;
}

function randomValues() {
  const v = [];
  for (let i = 0; i < 200000; i++) v.push(C.randomDouble(rng));
  for (let i = 0; i < 20000; i++) {
    const digits = String(rng.range(1, 10 ** rng.range(1, 9)));
    v.push(Number(`${digits}e${rng.range(-340, 300)}`));
  }
  return v.filter(Number.isFinite);
}

// ---------------------------------------------------------------- midpoints
// Exact decimal text of the midpoint between x (finite, >= 0) and nextUp(x),
// plus texts just above and just below it.  Expected result by
// round-half-to-even: below -> x, above -> nextUp(x), midpoint -> the one whose
// significand is even.  nextUp(MAX_VALUE) is "infinity" (overflow: reject).
function sciText(N, exp10) { // value N * 10^exp10, N > 0 BigInt
  const D = N.toString();
  if (D.length > 1 && rng.chance(0.5)) return `${D[0]}.${D.slice(1)}e${exp10 + D.length - 1}`;
  return `${D}e${exp10}`;
}
function midpointCases(x) {
  const bits = C.toBits(x);
  const ef = Number((bits >> 52n) & 0x7ffn);
  const frac = bits & ((1n << 52n) - 1n);
  const m = ef === 0 ? frac : frac | (1n << 52n);
  const E = ef === 0 ? -1074 : ef - 1075;
  let N, exp10;
  if (E - 1 >= 0) { N = (2n * m + 1n) << BigInt(E - 1); exp10 = 0; }
  else { const k = 1 - E; N = (2n * m + 1n) * 5n ** BigInt(k); exp10 = -k; }
  const up = C.fromBits(bits + 1n); // Infinity for MAX_VALUE
  const even = (bits & 1n) === 0n ? x : up;
  return [
    { lit: sciText(N, exp10), want: even },
    { lit: sciText(N * 10n + 1n, exp10 - 1), want: up },
    { lit: sciText(N * 10n - 1n, exp10 - 1), want: x },
  ];
}

// ---------------------------------------------------------------- checks
function checkLiteralSelf(lit, want) {
  const back = Number(lit);
  const ok = Number.isFinite(want) ? Object.is(back, want) || (back === 0 && want === 0) : !Number.isFinite(back);
  if (!ok) F.add(`ORACLE self-check: literal ${lit} parses (Node) to ${back}, intended ${want}`);
  return ok;
}

// items: [{lit, want:string}] — runs airi on "[lits]" and compares; on trouble
// bisects to pinpoint the offending literal(s).
function checkChunk(label, items) {
  const input = '[' + items.map(t => t.lit).join(',') + ']';
  const want = '[' + items.map(t => t.want).join(',') + ']';
  const r = C.runSync(['canon', '-'], input);
  const got = r.stdout.toString('utf8');
  if (r.status === 0 && got === want) return;
  if (r.status === 0) {
    const parts = got.startsWith('[') && got.endsWith(']') ? got.slice(1, -1).split(',') : [];
    if (parts.length === items.length) {
      items.forEach((t, i) => {
        if (parts[i] !== t.want) F.add(`${label}: input ${t.lit}  expected ${t.want}  got ${parts[i]}`);
      });
      return;
    }
  }
  if (items.length === 1) {
    F.add(`${label}: input [${items[0].lit}]  expected ${want}  got exit ${r.status} stdout ${C.show(got)} stderr ${C.show(r.stderr)}`);
    return;
  }
  if (F.count > F.limit) return;
  const h = items.length >> 1;
  checkChunk(label, items.slice(0, h));
  checkChunk(label, items.slice(h));
}

function main() {
  const t0 = Date.now();
  const det = deterministicValues();
  const detAll = det.concat(det.map(x => -x));
  const values = detAll.concat(randomValues());

  // Build every literal first and self-check it (no airi needed for this).
  const chunks = []; // [label, items]
  for (const form of ['short', 'exp16', 'expN']) {
    for (let i = 0; i < values.length; i += CHUNK) {
      chunks.push([`form ${form}`, values.slice(i, i + CHUNK).map(x => {
        const lit = C.numberLiteral(x, form, rng);
        checkLiteralSelf(lit, x);
        return { lit, want: C.esNumber(x) };
      })]);
    }
  }
  // D. midpoints (hard decimal -> double cases)
  const midX = [0, 5e-324, C.fromBits(0x000fffffffffffffn), 1, 0.1, 1e23, C.TWO53, 2 ** 54, 1e21, 1e-7];
  for (let e = -1074; e <= 1023; e += 7) midX.push(2 ** e, C.nextDown(2 ** e));
  for (let i = 0; i < 2000; i++) midX.push(Math.abs(C.randomDouble(rng)));
  midX.push(Number.MAX_VALUE);
  const mid = [], overflow = [];
  for (const x of midX) {
    for (const c of midpointCases(x)) {
      for (const sgn of [1, -1]) {
        const lit = (sgn < 0 ? '-' : '') + c.lit;
        const w = sgn * c.want;
        if (!checkLiteralSelf(lit, w)) continue;
        if (Number.isFinite(w)) mid.push({ lit, want: C.esNumber(w) }); else overflow.push(lit);
      }
    }
  }
  for (let i = 0; i < mid.length; i += 5000) chunks.push(['midpoint', mid.slice(i, i + 5000)]);
  if (F.count) { console.log(`numbers: ORACLE SELF-CHECK FAILED (${F.count})`); process.exit(1); }
  console.log(`numbers: ${values.length} values (${detAll.length} edge cases incl. negatives) + ${mid.length} midpoint literals generated and self-checked (seed ${seed})`);

  C.requireAiri('numbers');
  let literals = 0;
  for (const [label, items] of chunks) {
    if (F.count > F.limit) break;
    checkChunk(label, items);
    literals += items.length;
  }

  // E. single literals: accepted (with expected output) or rejected (exit 65)
  const singles = [
    '9007199254740992', '-9007199254740992', '9007199254740993', '-9007199254740993',
    '9007199254740993.0', '9007199254740995.0', '18014398509481984', '18014398509481984e0',
    '100000000000000000000000', '1e400', '-1e400', '1e309', '1.8e308', '1e-400', '-1e-400',
    '-0', '-0.0', '-0e-5', '0e400', '0.0e-400', '0.' + '0'.repeat(400) + '1e400',
    '1' + '0'.repeat(400) + 'e-400', '1' + '0'.repeat(400) + '.0', '7'.repeat(1000) + 'e-990',
    '0.' + '0'.repeat(340) + '1', '1.7976931348623158e308', '1.7976931348623159e308',
    '2.4703282292062327e-324', '2.4703282292062328e-324', '4.9406564584124654e-324',
    '2.2250738585072011e-308', '2.2250738585072012e-308', '1e23', '8.41e21', '5e-324',
    '1.00000000000000011102230246251565404236316680908203125',
    '1.00000000000000011102230246251565404236316680908203124',
    '1.00000000000000011102230246251565404236316680908203126',
    '1e0000000000000000000000000001', '1e-0000000000000000000000000001',
    '1e99999999999999999999', '1e-99999999999999999999', '123456789012345678901234567890e-10',
    '0.1e1', '1E+2', '1e+2', '1.5E-3', '-1.5e-0', '999999999999999999999.0', '0.000001', '0.0000001',
  ];
  let singlesChecked = 0;
  for (const lit of singles) {
    const intLit = /^-?\d+$/.test(lit);
    const x = Number(lit);
    const reject = !Number.isFinite(x) || (intLit && (BigInt(lit) > 2n ** 53n || BigInt(lit) < -(2n ** 53n)));
    const r = C.runSync(['canon', '-'], lit);
    singlesChecked++;
    if (reject) {
      const p = C.rejectProblem(r);
      if (p) F.add(`single literal ${lit.length > 80 ? lit.slice(0, 60) + '…' : lit}: must be rejected; ${p}; stdout ${C.show(r.stdout)}`);
    } else {
      const want = C.esNumber(x);
      const got = r.stdout.toString('utf8');
      if (r.status !== 0 || got !== want) F.add(`single literal ${lit.length > 80 ? lit.slice(0, 60) + '…(' + lit.length + ' chars)' : lit}: expected ${want} got exit ${r.status} ${C.show(got)} ${C.show(r.stderr)}`);
    }
  }
  for (const lit of overflow) {
    const r = C.runSync(['canon', '-'], lit);
    singlesChecked++;
    const p = C.rejectProblem(r);
    if (p) F.add(`overflowing midpoint literal ${C.show(lit, 100)}: must be rejected; ${p}; stdout ${C.show(r.stdout)}`);
  }

  const secs = ((Date.now() - t0) / 1000).toFixed(1);
  if (F.count) {
    console.log(`numbers: FAILED ${F.count} mismatches (checked ${literals} array literals + ${singlesChecked} single literals, ${secs} s, seed ${seed})`);
    process.exit(1);
  }
  console.log(`numbers: PASS ${literals} number literals in arrays (${values.length} values x 3 spellings + ${mid.length} midpoint cases) + ${singlesChecked} single literals, ${secs} s, seed ${seed}`);
}

main();
