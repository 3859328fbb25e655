'use strict';
// jcs.js — an independent, deliberately small RFC 8785 (JSON Canonicalization
// Scheme) oracle in JavaScript, plus a conformance test of `airi canon`.
//
// As a module it exports:
//   canonicalize(value) -> string   RFC 8785 canonical text of a JS value
//   canonicalBytes(value) -> Buffer its UTF-8 bytes
//   parseStrict(text|Buffer) -> value
//       strict RFC 8259 / I-JSON parser with airi's input rules: UTF-8 only,
//       no duplicate member names (compared after unescaping), no lone
//       surrogates, no number that overflows a double, and no integer literal
//       (no fraction, no exponent) whose magnitude exceeds 2^53, no byte
//       order mark, nesting depth at most 1000 (docs/spec.md section 2).
//       Objects come back with a null prototype so "__proto__" is a plain key.
//
// Canonicalization rules used (RFC 8785 §3.2): no whitespace; literals as is;
// numbers in ECMAScript Number::toString form (which JSON.stringify produces,
// -0 -> "0"); strings escaped exactly as ECMAScript JSON.stringify does (\b \f
// \n \r \t \" \\ short forms, other controls as \u00xx lowercase, everything
// else raw UTF-8); object members sorted by their names' UTF-16 code units
// (JavaScript's default string sort), recursively.
//
// Run directly (`node jcs.js`) it:
//   1. self-checks the oracle against the RFC 8785 vectors in
//      ../shared/testdata/jcs (skipped with a message when absent) and checks
//      the parser on a table of must-accept / must-reject texts;
//   2. (needs the airi binary, AIRI_BIN; exit 77 if missing) runs `airi canon`
//      on the vectors, the accept/reject table, ~2,000 random documents each
//      written twice (JSON.stringify(v, null, 2) style, and a scrambled form
//      with random key order, whitespace, escapes and number spellings), and
//      on documents containing duplicate keys (must exit 65).
// Exit: 0 pass, 1 failure, 77 skipped.

const fs = require('fs');
const path = require('path');

// ---------------------------------------------------------------- parser
const TWO53N = 2n ** 53n;
const NUM_RE = /-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/y;

function parseStrict(input) {
  let s;
  if (Buffer.isBuffer(input) || input instanceof Uint8Array) {
    try { s = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(input); }
    catch (e) { throw new SyntaxError('invalid UTF-8'); }
  } else s = String(input);
  let i = 0;
  const fail = (msg) => { throw new SyntaxError(`${msg} at offset ${i}`); };
  const ws = () => {
    for (;;) {
      const c = s.charCodeAt(i);
      if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) i++; else return;
    }
  };
  const str = () => {
    i++; // opening quote
    let out = '';
    for (;;) {
      if (i >= s.length) fail('unterminated string');
      const c = s.charCodeAt(i);
      if (c === 0x22) { i++; break; }
      if (c < 0x20) fail('raw control character in string');
      if (c !== 0x5c) { out += s[i++]; continue; }
      const e = s[i + 1];
      i += 2;
      switch (e) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          const h = s.slice(i, i + 4);
          if (!/^[0-9a-fA-F]{4}$/.test(h)) fail('bad \\u escape');
          out += String.fromCharCode(parseInt(h, 16));
          i += 4;
          break;
        }
        default: fail('bad escape');
      }
    }
    // Reject lone surrogates (escaped ones; raw ones cannot survive UTF-8 decoding).
    for (let k = 0; k < out.length; k++) {
      const c = out.charCodeAt(k);
      if (c >= 0xd800 && c <= 0xdbff) {
        const d = out.charCodeAt(k + 1);
        if (d >= 0xdc00 && d <= 0xdfff) { k++; continue; }
        fail('lone high surrogate');
      }
      if (c >= 0xdc00 && c <= 0xdfff) fail('lone low surrogate');
    }
    return out;
  };
  // depth = number of arrays/objects enclosing this value; a container opened
  // here is at nesting level depth + 1, and level 1001 is an error.
  const value = (depth) => {
    ws();
    const c = s[i];
    if ((c === '{' || c === '[') && depth + 1 > 1000) fail('nesting deeper than 1000');
    if (c === '{') {
      i++;
      const o = Object.create(null);
      const seen = new Set();
      ws();
      if (s[i] === '}') { i++; return o; }
      for (;;) {
        ws();
        if (s[i] !== '"') fail('expected member name');
        const k = str();
        if (seen.has(k)) fail(`duplicate member name ${JSON.stringify(k)}`);
        seen.add(k);
        ws();
        if (s[i] !== ':') fail('expected :');
        i++;
        o[k] = value(depth + 1);
        ws();
        if (s[i] === ',') { i++; continue; }
        if (s[i] === '}') { i++; return o; }
        fail('expected , or }');
      }
    }
    if (c === '[') {
      i++;
      const a = [];
      ws();
      if (s[i] === ']') { i++; return a; }
      for (;;) {
        a.push(value(depth + 1));
        ws();
        if (s[i] === ',') { i++; continue; }
        if (s[i] === ']') { i++; return a; }
        fail('expected , or ]');
      }
    }
    if (c === '"') return str();
    if (s.startsWith('true', i)) { i += 4; return true; }
    if (s.startsWith('false', i)) { i += 5; return false; }
    if (s.startsWith('null', i)) { i += 4; return null; }
    NUM_RE.lastIndex = i;
    const m = NUM_RE.exec(s);
    if (!m) fail('unexpected character');
    const lit = m[0];
    i += lit.length;
    if (m[1] === undefined && m[2] === undefined) {
      const b = BigInt(lit);
      if (b > TWO53N || b < -TWO53N) fail('integer literal beyond 2^53');
    }
    const x = Number(lit);
    if (!Number.isFinite(x)) fail('number out of double range');
    return x;
  };
  const v = value(0);
  ws();
  if (i !== s.length) fail('trailing characters');
  return v;
}

// ---------------------------------------------------------------- canonicalize
function canonicalize(v) {
  if (v === null) return 'null';
  switch (typeof v) {
    case 'boolean': return v ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(v)) throw new RangeError('non-finite number');
      return JSON.stringify(v); // ES Number::toString; -0 -> "0"
    case 'string':
      if (typeof v.isWellFormed === 'function' && !v.isWellFormed()) throw new RangeError('lone surrogate');
      return JSON.stringify(v);
    case 'object':
      if (Array.isArray(v)) return '[' + v.map(canonicalize).join(',') + ']';
      return '{' + Object.keys(v).sort().map(k => canonicalize(k) + ':' + canonicalize(v[k])).join(',') + '}';
    default:
      throw new TypeError(`not a JSON value: ${typeof v}`);
  }
}

function canonicalBytes(v) { return Buffer.from(canonicalize(v), 'utf8'); }

module.exports = { canonicalize, canonicalBytes, parseStrict };

// ---------------------------------------------------------------- test mode
// Texts that must canonicalize to the given output.
const ACCEPT = [
  ['  [ ]  ', '[]'], ['{ }', '{}'], ['\t\r\n{"a" : 1 }\n', '{"a":1}'],
  ['1', '1'], ['-0', '0'], ['-0.0', '0'], ['0e400', '0'], ['1E2', '100'],
  ['"x"', '"x"'], ['null', 'null'], [' true ', 'true'], ['false', 'false'],
  ['"\\u00e9"', '"\u00e9"'], ['"\\u00E9"', '"\u00e9"'], ['"\\u001F"', '"\\u001f"'],
  ['"\\/"', '"/"'], ['"\\b\\f\\n\\r\\t"', '"\\b\\f\\n\\r\\t"'], ['"\\u0000"', '"\\u0000"'],
  ['"\\u007f\\u2028\\u2029"', '"\u007f\u2028\u2029"'], ['"\\ud83d\\ude02"', '"\u{1F602}"'],
  ['"\\uD83D\\uDE02"', '"\u{1F602}"'], ['"\\uFFFF"', '"\uFFFF"'],
  ['{"\\u20ac":1,"\\r":2,"\\ufb33":3,"\\ud83d\\ude02":4,"\\ue000":5}',
    '{"\\r":2,"\u20ac":1,"\u{1F602}":4,"\uE000":5,"\uFB33":3}'],
  ['{"b":[{"d":1,"c":2}],"a":{"z":null,"y":[]}}', '{"a":{"y":[],"z":null},"b":[{"c":2,"d":1}]}'],
  ['{"":0,"__proto__":1}', '{"":0,"__proto__":1}'],
  ['9007199254740992', '9007199254740992'], ['-9007199254740992', '-9007199254740992'],
  ['9007199254740993.0', '9007199254740992'], ['1e-400', '0'],
  ['"A\\u030a"', '"A\u030a"'], // no Unicode normalization
  ['"\\uFFFE\\uFDD0\\udbff\\udfff"', '"\uFFFE\uFDD0\u{10FFFF}"'], // noncharacters are fine
  ['['.repeat(1000) + ']'.repeat(1000), '['.repeat(1000) + ']'.repeat(1000)], // depth 1000
  ['{"a":'.repeat(999) + '[7]' + '}'.repeat(999), '{"a":'.repeat(999) + '[7]' + '}'.repeat(999)],
];

// Texts (or byte arrays) that must be rejected with exit 65.
const REJECT = [
  '', ' ', '{', '}', '[', '[1,]', '[,1]', '{"a":1,}', '{,}', '01', '-01', '1.', '.5', '+1', '1e',
  '1e+', '-', '--1', '0x10', 'NaN', 'Infinity', '-Infinity', '[1 2]', '{"a" 1}', '{a:1}', "'a'",
  '{"a":1 "b":2}', '"\u0001"', '"\u0000"', '"a\nb"', '"\\x"', '"\\u12"', '"\\u12g4"', '"\\U0041"',
  '"\\ud800"', '"\\udc00"', '"\\ud800\\u0041"', '"\\ude02\\ud83d"', '"abc', '[1]x', '[1] [2]',
  'true false', 'tru', 'nul', 'True', '\f1', '\u00a01', '\u20281', '[1]\u0000',
  '9007199254740993', '-9007199254740993', '18014398509481984', '1e400', '-1e400', '1e309',
  '1.8e308', '{"a":1,"a":1}', '{"a":1,"\\u0061":2}', '[{"b":{"c":1,"c":2}}]',
  '{"\\ud83d\\ude02":1,"\u{1F602}":2}', '{"a":{},"b":[],"a":null}',
  Buffer.from([0x22, 0xff, 0x22]),                 // invalid byte
  Buffer.from([0x22, 0xc0, 0xaf, 0x22]),           // overlong "/"
  Buffer.from([0x22, 0xed, 0xa0, 0x80, 0x22]),     // UTF-8-encoded surrogate
  Buffer.from([0x22, 0xe6, 0x97, 0x22]),           // truncated sequence
  Buffer.from([0x22, 0xf4, 0x90, 0x80, 0x80, 0x22]), // > U+10FFFF
  Buffer.from([0x22, 0x80, 0x22]),                 // stray continuation byte
  Buffer.from([0xef, 0xbb, 0xbf, 0x7b, 0x7d]),     // byte order mark
  Buffer.from([0x5b, 0x22, 0xc3, 0x22, 0x5d]),     // sequence cut by a non-continuation byte
  Buffer.from([0x22, 0xf5, 0x80, 0x80, 0x80, 0x22]), // F5 lead byte
  Buffer.from([0x22, 0xe0, 0x80, 0x80, 0x22]),     // overlong 3-byte
  Buffer.from([0x22, 0xf0, 0x80, 0x80, 0x80, 0x22]), // overlong 4-byte
  Buffer.from([0x22, 0xe6, 0x97]),                 // cut by end of input
  '['.repeat(1001) + ']'.repeat(1001),             // depth 1001
  '{"a":'.repeat(1000) + '[]' + '}'.repeat(1000),
  '{} {}', '1', '[1,,2]', '{"a":1}}', '[1]]', '/* c */ 1', '1 // c',
];

function loadVectors() {
  const dir = path.resolve(__dirname, '../../../shared/testdata/jcs');
  const alt = '/work/shared/testdata/jcs';
  const base = fs.existsSync(path.join(dir, 'input')) ? dir : fs.existsSync(path.join(alt, 'input')) ? alt : null;
  if (!base) return null;
  return fs.readdirSync(path.join(base, 'input')).filter(f => f.endsWith('.json')).sort().map(f => ({
    name: f,
    inputPath: path.join(base, 'input', f),
    input: fs.readFileSync(path.join(base, 'input', f)),
    output: fs.readFileSync(path.join(base, 'output', f)),
  }));
}

// True if v contains a number whose JSON.stringify literal airi would reject
// (integer > 2^53 without fraction/exponent) or -0: emitJson spells those
// differently from JSON.stringify.
function hasSpecialNumber(v) {
  if (typeof v === 'number') return Object.is(v, -0) || (Math.abs(v) > 2 ** 53 && /^-?\d+$/.test(JSON.stringify(v)));
  if (v && typeof v === 'object') return Object.values(v).some(hasSpecialNumber);
  return false;
}

// A document whose text contains an object with a duplicated member name
// (possibly spelled with different escapes), buried at a random depth.
function duplicateKeyText(C, rng) {
  const o = C.randomValue(rng, 1, 3, { n: 8 });
  const obj = (o && typeof o === 'object' && !Array.isArray(o)) ? o : Object.create(null);
  const keys = Object.keys(obj);
  if (keys.length === 0) { obj[C.randomKey(rng)] = 1; keys.push(Object.keys(obj)[0]); }
  const members = keys.map(k => [C.emitString(k, rng, true), C.emitJson(obj[k], rng, { numbers: 'mixed' })]);
  const dupKey = rng.pick(keys);
  const dup = [C.emitString(dupKey, rng, true), C.emitJson(C.randomValue(rng, 2, 3, { n: 3 }), rng, {})];
  members.splice(rng.int(members.length + 1), 0, dup);
  let text = '{' + members.map(([k, v]) => k + ':' + v).join(',') + '}';
  for (let d = rng.int(5); d > 0; d--) {
    if (rng.chance(0.5)) text = '[' + C.emitJson(C.randomValue(rng, 7, 8), rng, {}) + ',' + text + ']';
    else text = '{' + C.emitString(C.randomKey(rng), rng, true) + ':' + text + '}';
  }
  return text;
}

async function main() {
  const C = require('./common');
  const seed = C.seedFromEnv(0x6a637321);
  const F = new C.Failures('jcs');
  let checked = 0;

  // --- 1. oracle self-checks -------------------------------------------------
  const vectors = loadVectors();
  if (!vectors) console.log('jcs: RFC 8785 vectors not found (../shared/testdata/jcs); oracle vector self-check skipped');
  else {
    for (const v of vectors) {
      const got = canonicalBytes(parseStrict(v.input));
      if (!got.equals(v.output)) F.add(`ORACLE self-check on vector ${v.name}: expected ${C.show(v.output)} got ${C.show(got)}`);
    }
    console.log(`jcs: oracle matches ${vectors.length} RFC 8785 vectors`);
  }
  for (const [inp, want] of ACCEPT) {
    let got;
    try { got = canonicalize(parseStrict(inp)); } catch (e) { got = 'threw ' + e.message; }
    if (got !== want) F.add(`ORACLE self-check accept ${C.show(inp)}: expected ${C.show(want)} got ${C.show(got)}`);
  }
  for (const inp of REJECT) {
    let ok = false;
    try { parseStrict(inp); } catch (e) { ok = true; }
    if (!ok) F.add(`ORACLE self-check: parser accepted ${C.show(inp)}`);
  }
  {
    const rng = new C.Rng(seed ^ 0x5555);
    for (let n = 0; n < 500; n++) {
      const v = C.randomValue(rng);
      const canon = canonicalize(v);
      const pretty = C.emitJson(v, rng, { indent: 2 });
      if (!hasSpecialNumber(v) && pretty !== JSON.stringify(v, null, 2)) F.add(`ORACLE self-check: emitter pretty form differs from JSON.stringify for ${C.show(canon)}`);
      const scrambled = C.emitJson(v, rng, { shuffle: true, ws: true, escapes: true, numbers: 'mixed' });
      for (const t of [pretty, scrambled]) {
        let back;
        try { back = canonicalize(parseStrict(t)); } catch (e) { back = 'threw ' + e.message; }
        if (back !== canon) { F.add(`ORACLE self-check: reparse of ${C.show(t)} gave ${C.show(back)} want ${C.show(canon)}`); break; }
      }
      const dt = duplicateKeyText(C, rng);
      let threw = false;
      try { parseStrict(dt); } catch (e) { threw = true; }
      if (!threw) F.add(`ORACLE self-check: duplicate-key text accepted: ${C.show(dt)}`);
    }
  }
  if (F.count) { console.log(`jcs: ORACLE SELF-CHECK FAILED (${F.count})`); process.exit(1); }
  console.log('jcs: oracle self-checks passed');

  // --- 2. airi canon ---------------------------------------------------------
  C.requireAiri('jcs');
  const tmp = C.makeTempDir();
  try {
    const expectOut = (label, input, r, want) => {
      checked++;
      if (r.status !== 0) { F.add(`${label}: exit ${r.status} stderr ${C.show(r.stderr)}\n  input:    ${C.show(input)}\n  expected: ${C.show(want)}`); return; }
      if (!r.stdout.equals(Buffer.from(want, 'utf8'))) F.add(`${label}:\n  input:    ${C.show(input)}\n  expected: ${C.show(want)}\n  got:      ${C.show(r.stdout)}`);
    };
    const expectReject = (label, input, r) => {
      checked++;
      const p = C.rejectProblem(r);
      if (p) F.add(`${label}: must be rejected; ${p}\n  input: ${C.show(input)}\n  stdout: ${C.show(r.stdout)}`);
    };

    if (vectors) for (const v of vectors) expectOut(`vector ${v.name} (file arg)`, v.input, C.runSync(['canon', v.inputPath]), v.output.toString('utf8'));
    // input conventions: FILE, '-', and no argument all work
    {
      const f = path.join(tmp, 'conv.json');
      fs.writeFileSync(f, '{"b":1,"a":[true]}');
      expectOut('canon FILE', '{"b":1,"a":[true]}', C.runSync(['canon', f]), '{"a":[true],"b":1}');
      expectOut('canon -', '{"b":1,"a":[true]}', C.runSync(['canon', '-'], '{"b":1,"a":[true]}'), '{"a":[true],"b":1}');
      expectOut('canon (stdin, no arg)', '{"b":1,"a":[true]}', C.runSync(['canon'], '{"b":1,"a":[true]}'), '{"a":[true],"b":1}');
    }
    for (const [inp, want] of ACCEPT) expectOut('accept table', inp, C.runSync(['canon', '-'], inp), want);
    for (const inp of REJECT) expectReject('reject table', inp, C.runSync(['canon', '-'], inp));

    // random documents
    const rng = new C.Rng(seed);
    const jobs = [];
    const NDOCS = Number(process.env.AIRI_ORACLE_DOCS || 2000);
    for (let n = 0; n < NDOCS; n++) {
      const v = n % 10 === 9 ? C.deepValue(rng, 8) : C.randomValue(rng, 0, 8, { n: rng.range(1, 120) });
      const want = canonicalize(v);
      const pretty = C.emitJson(v, rng, { indent: 2 });
      const scrambled = C.emitJson(v, rng, { shuffle: true, ws: rng.chance(0.7), escapes: true, numbers: 'mixed', indent: rng.chance(0.3) ? rng.range(1, 4) : null });
      jobs.push(async () => expectOut(`random doc #${n} pretty`, pretty, await C.runAsync(['canon', '-'], pretty), want));
      jobs.push(async () => expectOut(`random doc #${n} scrambled`, scrambled, await C.runAsync(['canon', '-'], scrambled), want));
    }
    let ndup = 0;
    for (let n = 0; n < 200; n++) {
      const t = duplicateKeyText(C, rng);
      ndup++;
      jobs.push(async () => expectReject(`duplicate-key doc #${n}`, t, await C.runAsync(['canon', '-'], t)));
    }
    const t0 = Date.now();
    await C.pool(jobs);
    console.log(`jcs: ${NDOCS} random documents x2 forms, ${ndup} duplicate-key documents, ${ACCEPT.length} accept + ${REJECT.length} reject table entries (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  if (F.count) { console.log(`jcs: FAILED ${F.count} of ${checked} checks (seed ${seed})`); process.exit(1); }
  console.log(`jcs: PASS ${checked} checks (seed ${seed})`);
}

if (require.main === module) {
  main().catch(e => { console.error(e); process.exit(1); });
}
