#!/usr/bin/env node
// gen_gguf.js — writes a tiny llama-architecture model with random weights as a GGUF v3 file.
//
//   node gen_gguf.js OUT.gguf
//
// The file is the same byte for byte on every run and every machine: the weights come from a
// fixed-seed PRNG (mulberry32) and nothing else (no time, no paths) goes into it. It is small
// enough (about 0.5 MB: 2 layers, embedding 64, vocabulary 384) for llama.cpp to load and
// generate from in milliseconds on a CPU. The weights are random, so the text it writes is
// gibberish, but it is real llama.cpp inference: a real tokenizer, attention, sampling.
//
// The format is GGUF version 3 as specified in ggml's docs/gguf.md: little-endian; a header
// (magic "GGUF", uint32 version, uint64 tensor count, uint64 metadata count); the metadata
// key/value pairs; the tensor infos (name, dimension count, dimensions innermost first, ggml
// type, offset into the data section); padding to general.alignment; the tensor data, each
// tensor starting at a multiple of the alignment. All tensors here are F32 (ggml type 0).
"use strict";

const fs = require("fs");

// ---- model shape -----------------------------------------------------------------------
const N_EMBD = 64;
const N_HEAD = 4;
const N_HEAD_KV = 4;
const N_LAYER = 2;
const N_FF = 128;
const N_CTX = 1024;
const ALIGN = 32;
const SEED = 0x41495249; // "AIRI"

// ---- deterministic PRNG (mulberry32) ---------------------------------------------------
function mulberry32(seed) {
  let a = seed >>> 0;
  return function next() {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const rand = mulberry32(SEED);
// uniform in [-a, a]
function uniform(n, a) {
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) v[i] = (rand() * 2 - 1) * a;
  return v;
}
function ones(n) {
  return new Float32Array(n).fill(1);
}

// ---- vocabulary (SentencePiece-style, tokenizer.ggml.model = "llama") ------------------
// token types (gguf.md / llama.cpp): 1 normal, 2 unknown, 3 control, 6 byte
const tokens = [];
const scores = [];
const types = [];
function add(text, score, type) {
  tokens.push(text);
  scores.push(score);
  types.push(type);
}
add("<unk>", 0, 2);
add("<s>", 0, 3);
add("</s>", 0, 3);
add("<|im_start|>", 0, 3);
add("<|im_end|>", 0, 3);
for (let b = 0; b < 256; b++) add("<0x" + b.toString(16).toUpperCase().padStart(2, "0") + ">", 0, 6);
// single characters: the SentencePiece space mark, then printable ASCII but the space
const singles = ["\u2581"];
for (let c = 0x21; c < 0x7f; c++) singles.push(String.fromCharCode(c));
for (const s of singles) add(s, -1000, 1);
// some word pieces; a higher score merges first
const words = [
  "the", "of", "and", "to", "in", "is", "it", "that", "was", "for", "on", "are", "with", "as",
  "be", "at", "by", "this", "had", "not", "but", "from", "or", "have", "an", "they", "which",
  "one", "you", "were", "all", "we", "her", "she", "there", "would", "their", "will", "when",
  "who", "him", "been", "has", "more", "if", "no", "out", "do", "so", "can", "what", "up",
  "said", "about", "other", "into", "than", "its", "time", "only",
];
// pieces needed to merge the words: every prefix of "▁word", so the BPE-like SPM merge
// always has a path from single characters to the whole word
const pieces = new Map();
for (const w of words) {
  const full = "\u2581" + w;
  for (let i = 2; i <= full.length; i++) {
    const p = full.slice(0, i);
    if (!pieces.has(p)) pieces.set(p, -p.length);
  }
}
for (const [p, s] of pieces) {
  if (tokens.length >= 384) break;
  add(p, s, 1);
}
while (tokens.length < 384) add("<unused" + tokens.length + ">", -1e9, 5);
const N_VOCAB = tokens.length;

const CHAT_TEMPLATE =
  "{% for message in messages %}" +
  "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}" +
  "{% endfor %}" +
  "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

// ---- metadata --------------------------------------------------------------------------
// value types (gguf.md)
const T = { U8: 0, I8: 1, U16: 2, I16: 3, U32: 4, I32: 5, F32: 6, BOOL: 7, STR: 8, ARR: 9, U64: 10, I64: 11, F64: 12 };
const kv = [
  ["general.architecture", T.STR, "llama"],
  ["general.name", T.STR, "airi-tiny-random"],
  ["general.alignment", T.U32, ALIGN],
  ["general.file_type", T.U32, 0], // all F32
  ["llama.context_length", T.U32, N_CTX],
  ["llama.embedding_length", T.U32, N_EMBD],
  ["llama.block_count", T.U32, N_LAYER],
  ["llama.feed_forward_length", T.U32, N_FF],
  ["llama.attention.head_count", T.U32, N_HEAD],
  ["llama.attention.head_count_kv", T.U32, N_HEAD_KV],
  ["llama.attention.layer_norm_rms_epsilon", T.F32, 1e-5],
  ["llama.rope.dimension_count", T.U32, N_EMBD / N_HEAD],
  ["llama.rope.freq_base", T.F32, 10000],
  ["llama.vocab_size", T.U32, N_VOCAB],
  ["tokenizer.ggml.model", T.STR, "llama"],
  ["tokenizer.ggml.tokens", T.ARR, [T.STR, tokens]],
  ["tokenizer.ggml.scores", T.ARR, [T.F32, scores]],
  ["tokenizer.ggml.token_type", T.ARR, [T.I32, types]],
  ["tokenizer.ggml.bos_token_id", T.U32, 1],
  ["tokenizer.ggml.eos_token_id", T.U32, 2],
  ["tokenizer.ggml.unknown_token_id", T.U32, 0],
  ["tokenizer.ggml.add_bos_token", T.BOOL, true],
  ["tokenizer.ggml.add_eos_token", T.BOOL, false],
  ["tokenizer.chat_template", T.STR, CHAT_TEMPLATE],
];

// ---- tensors ---------------------------------------------------------------------------
// dims are ggml's ne[]: innermost (row length) first. A weight W used as W·x with x of
// length IN and result of length OUT has dims [IN, OUT].
const tensors = [];
function tensor(name, dims, data) {
  if (data.length !== dims.reduce((a, b) => a * b, 1)) throw new Error("bad size for " + name);
  tensors.push({ name, dims, data });
}
const HEAD_DIM = N_EMBD / N_HEAD;
// Every embedding has a large constant first component, which the residual stream carries
// through the layers to the final norm; the first column of output.weight (below) turns it
// into a bias for the text tokens and against byte, control and unused tokens, so the output
// is mostly readable gibberish rather than stray bytes, and rarely stops early.
const embd = uniform(N_EMBD * N_VOCAB, 1.0);
for (let t = 0; t < N_VOCAB; t++) embd[t * N_EMBD] = 4.0;
tensor("token_embd.weight", [N_EMBD, N_VOCAB], embd);
for (let l = 0; l < N_LAYER; l++) {
  const p = "blk." + l + ".";
  const a = 1 / Math.sqrt(N_EMBD);
  tensor(p + "attn_norm.weight", [N_EMBD], ones(N_EMBD));
  tensor(p + "attn_q.weight", [N_EMBD, N_EMBD], uniform(N_EMBD * N_EMBD, a));
  tensor(p + "attn_k.weight", [N_EMBD, HEAD_DIM * N_HEAD_KV], uniform(N_EMBD * HEAD_DIM * N_HEAD_KV, a));
  tensor(p + "attn_v.weight", [N_EMBD, HEAD_DIM * N_HEAD_KV], uniform(N_EMBD * HEAD_DIM * N_HEAD_KV, a));
  tensor(p + "attn_output.weight", [N_EMBD, N_EMBD], uniform(N_EMBD * N_EMBD, a));
  tensor(p + "ffn_norm.weight", [N_EMBD], ones(N_EMBD));
  tensor(p + "ffn_gate.weight", [N_EMBD, N_FF], uniform(N_EMBD * N_FF, a));
  tensor(p + "ffn_up.weight", [N_EMBD, N_FF], uniform(N_EMBD * N_FF, a));
  tensor(p + "ffn_down.weight", [N_FF, N_EMBD], uniform(N_FF * N_EMBD, 1 / Math.sqrt(N_FF)));
}
tensor("output_norm.weight", [N_EMBD], ones(N_EMBD));
// logits of a few units: peaked enough that the text is not uniform noise, flat enough
// that the seed decides which token comes next at temperature 0.8
const outw = uniform(N_EMBD * N_VOCAB, 0.5);
for (let t = 0; t < N_VOCAB; t++) outw[t * N_EMBD] = types[t] === 1 ? 0.5 : -0.5;
tensor("output.weight", [N_EMBD, N_VOCAB], outw);

// ---- serialization ---------------------------------------------------------------------
const parts = [];
let size = 0;
function push(buf) {
  parts.push(buf);
  size += buf.length;
}
function u32(v) { const b = Buffer.alloc(4); b.writeUInt32LE(v); push(b); }
function i32(v) { const b = Buffer.alloc(4); b.writeInt32LE(v); push(b); }
function u64(v) { const b = Buffer.alloc(8); b.writeBigUInt64LE(BigInt(v)); push(b); }
function f32(v) { const b = Buffer.alloc(4); b.writeFloatLE(v); push(b); }
function str(s) { const b = Buffer.from(s, "utf8"); u64(b.length); push(b); }
function scalar(type, v) {
  switch (type) {
    case T.U32: return u32(v);
    case T.I32: return i32(v);
    case T.F32: return f32(v);
    case T.BOOL: return push(Buffer.from([v ? 1 : 0]));
    case T.STR: return str(v);
    default: throw new Error("unsupported type " + type);
  }
}

push(Buffer.from("GGUF", "ascii"));
u32(3); // version
u64(tensors.length);
u64(kv.length);
for (const [key, type, value] of kv) {
  str(key);
  u32(type);
  if (type === T.ARR) {
    const [et, arr] = value;
    u32(et);
    u64(arr.length);
    for (const x of arr) scalar(et, x);
  } else {
    scalar(type, value);
  }
}
let offset = 0;
const pad = (n) => (ALIGN - (n % ALIGN)) % ALIGN;
for (const t of tensors) {
  str(t.name);
  u32(t.dims.length);
  for (const d of t.dims) u64(d);
  u32(0); // GGML_TYPE_F32
  u64(offset);
  t.offset = offset;
  offset += t.data.byteLength;
  offset += pad(offset);
}
push(Buffer.alloc(pad(size)));
const dataStart = size;
for (const t of tensors) {
  if (size - dataStart !== t.offset) throw new Error("offset mismatch for " + t.name);
  push(Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  push(Buffer.alloc(pad(size - dataStart)));
}

const out = process.argv[2];
if (!out) {
  process.stderr.write("usage: node gen_gguf.js OUT.gguf\n");
  process.exit(2);
}
fs.writeFileSync(out, Buffer.concat(parts, size));
