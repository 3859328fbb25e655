#!/usr/bin/env python3
"""gen.py - deterministic benchmark inputs for airi (stdlib only).

Writes into --out (default bench/data):

  big.json            one realistic large manifest (>= 100 MB), pretty-printed
                      with indent=2: thousands of chat messages with
                      multi-paragraph content (newlines, quotes, backslashes,
                      tabs, accented Latin, CJK, emoji incl. ZWJ sequences and
                      flags), a retrieval section with many documents (id,
                      digest, score like 0.8731, a few KB of text), tool
                      definitions with JSON schemas and a trajectory of tool
                      calls.
  small.json          a typical ~4 KB manifest, pretty-printed.
  runs-N.jsonl        N small (~1-2 KB) distinct manifests, one per line, with
                      realistic sharing: a handful of system prompts,
                      model/params combos, tool sets and environments reused
                      across runs; inputs, outputs and meta distinct.

The same --seed gives byte-identical files (Python 3.8+). Files are written
to a temporary name and renamed, so a file that exists is complete.

usage: gen.py [--out DIR] [--n N] [--seed S] [--only big,small,jsonl]
"""
import argparse
import hashlib
import json
import os
import random
import sys
import time

# ---- vocabulary ---------------------------------------------------------

WORDS = """
the of and to in is that for it as was with be by on not he this are or his
from at which but have an they you were her she there been one all we their
has would when if so no what up out about who them then more could time into
only some other than its these two may first any new like our over such
after most also did many before must through back where much your way well
down should because each just those people how too little state good very
make world still own see men work long get here between both life being under
never day same another know while last might us great old year off come since
against go came right used take three system data model request response
latency token tokens context window retrieval index query document score
embedding vector cache shard replica cluster node pipeline batch stream
parser schema manifest digest identity canonical hash record store commit
transaction rollback durable snapshot checkpoint evaluation benchmark metric
accuracy precision recall baseline regression prompt template variable
function argument result error timeout retry backoff deadline budget quota
invoice customer account refund policy contract clause warranty shipment
order ticket escalation priority severity incident outage postmortem deploy
release version upgrade migration compatibility configuration environment
kernel driver library dependency container image registry artifact build
""".split()

ACCENTED = """café naïve résumé façade Zürich São_Paulo Ångström über jalapeño
coöperate Dvořák Łódź smörgåsbord crème_brûlée El_Niño Malmö Kraków déjà_vu
piñata Ærøskøbing Île-de-France Düsseldorf Besançon Reykjavík Čeština
Ελληνικά Привет_мир""".split()
ACCENTED = [w.replace("_", " ") for w in ACCENTED]

CJK = [
    "这是一个测试。", "请用中文回答。", "数据检索结果如下：", "我们需要更多的上下文。",
    "日本語のテキストも含まれています。", "東京の天気は晴れです。", "ご確認ください。",
    "한국어 문장도 있습니다.", "결과를 요약해 주세요.", "模型的输出应当可以复现。",
    "「引用符」と『二重かぎ括弧』", "全角スペース　を含む",
]

EMOJI = ["🙂", "🚀", "✅", "⚠️", "🔥", "👍🏽", "🇫🇷", "👩‍💻", "🤖", "📄", "🧪",
         "❤️", "🎉", "😅", "🇯🇵", "👨‍👩‍👧‍👦"]

CODE = [
    'def add(a, b):\n\t"""Add two numbers."""\n\treturn a + b\n',
    'for (int i = 0; i < n; i++) {\n\tprintf("%d\\n", i);\n}\n',
    'SELECT id, "name" FROM users WHERE email LIKE \'%@example.com\';\n',
    '{"key": "value", "nested": {"list": [1, 2.5, -3e-7, true, null]}}\n',
    'path = r"C:\\Users\\alice\\Documents\\report.pdf"\n',
    'echo "$HOME" | sed -e \'s/\\//\\\\/g\'\n',
]


class Text:
    """Sentence pool based text generator (fast enough for 100 MB)."""

    def __init__(self, rng, pool=40000):
        self.rng = rng
        self.pool = [self._sentence() for _ in range(pool)]

    def _sentence(self):
        r = self.rng
        words = r.choices(WORDS, k=r.randint(6, 22))
        x = r.random()
        if x < 0.10:
            words.insert(r.randrange(len(words)), r.choice(ACCENTED))
        elif x < 0.14:
            words.insert(r.randrange(len(words)), r.choice(EMOJI))
        elif x < 0.20:
            i = r.randrange(len(words))
            words[i] = '"' + words[i] + '"'
        elif x < 0.23:
            i = r.randrange(len(words))
            words[i] = "'" + words[i] + "'"
        elif x < 0.25:
            i = r.randrange(len(words))
            words[i] = "`" + words[i] + "()`"
        s = " ".join(words)
        s = s[0].upper() + s[1:] + r.choice(".....?!:")
        if r.random() < 0.06:
            s = r.choice(CJK) + s if r.random() < 0.5 else s + " " + r.choice(CJK)
        return s

    def sentences(self, k):
        return " ".join(self.rng.choices(self.pool, k=k))

    def paragraph(self):
        r = self.rng
        x = r.random()
        if x < 0.08:
            lang = r.choice(["python", "c", "sql", "json", "bash", ""])
            return "```" + lang + "\n" + r.choice(CODE) + "```"
        if x < 0.18:
            return "\n".join("- " + s for s in r.choices(self.pool, k=r.randint(2, 6)))
        if x < 0.22:
            return "> " + self.sentences(r.randint(1, 3))
        return self.sentences(r.randint(2, 8))

    def doc(self, approx_bytes):
        """Multi-paragraph text of roughly approx_bytes bytes."""
        out, n = [], 0
        while n < approx_bytes:
            p = self.paragraph()
            if out and n + len(p) > approx_bytes * 1.15:
                p = self.sentences(1)
            out.append(p)
            n += len(p) + 2
        return "\n\n".join(out)


def hexdigest(s):
    return "sha256:" + hashlib.sha256(s.encode("utf-8")).hexdigest()


def score(rng):
    return round(rng.uniform(0.35, 0.99), 4)


def iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def write_atomic(path, data):
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


# ---- shared building blocks ---------------------------------------------

def json_schema(rng, text, name, depth=0):
    props = {}
    for j in range(rng.randint(2, 7)):
        pname = rng.choice(WORDS) + "_" + str(j)
        kind = rng.choice(["string", "integer", "number", "boolean", "enum",
                           "array", "object" if depth < 2 else "string"])
        desc = text.sentences(1)
        if kind == "enum":
            props[pname] = {"type": "string", "description": desc,
                            "enum": rng.sample(WORDS, rng.randint(2, 6))}
        elif kind == "array":
            props[pname] = {"type": "array", "description": desc,
                            "items": {"type": "string", "maxLength": 256},
                            "maxItems": rng.randint(1, 50)}
        elif kind == "object":
            props[pname] = json_schema(rng, text, name, depth + 1)
            props[pname]["description"] = desc
        elif kind == "number":
            props[pname] = {"type": "number", "description": desc,
                            "minimum": 0, "maximum": round(rng.uniform(1, 1000), 2)}
        elif kind == "integer":
            props[pname] = {"type": "integer", "description": desc,
                            "minimum": 0, "maximum": rng.randint(10, 1 << 31)}
        else:
            props[pname] = {"type": kind, "description": desc}
    req = sorted(rng.sample(sorted(props), rng.randint(1, len(props))))
    return {"type": "object", "properties": props, "required": req,
            "additionalProperties": False}


def tool_def(rng, text, i):
    name = "%s_%s_%d" % (rng.choice(WORDS), rng.choice(WORDS), i)
    return {"name": name, "version": "%d.%d" % (rng.randint(1, 5), rng.randint(0, 20)),
            "description": text.sentences(rng.randint(1, 3)),
            "schema": json_schema(rng, text, name)}


ENVIRONMENTS = [
    {"os": "Ubuntu 24.04", "kernel": "6.8.0-45-generic", "libc": "glibc 2.39",
     "cpu": "AMD EPYC 7763", "gpus": [{"name": "NVIDIA H100 80GB HBM3", "driver": "550.90.07"}],
     "engine": {"name": "vllm", "version": "0.6.1"},
     "libraries": {"torch": "2.4.0", "transformers": "4.44.2"},
     "app": {"name": "eval-harness", "version": "1.3.0"}},
    {"os": "Debian 12", "kernel": "6.1.0-25-amd64", "libc": "glibc 2.36",
     "cpu": "Intel Xeon Platinum 8480+", "gpus": [],
     "libraries": {"openai": "1.51.0", "httpx": "0.27.2"},
     "app": {"name": "support-bot", "version": "4.2.7"}},
    {"os": "macOS 14.6", "kernel": "Darwin 23.6.0", "cpu": "Apple M3 Max",
     "engine": {"name": "llama.cpp", "version": "b3821"},
     "libraries": {"llama-cpp-python": "0.3.1"},
     "app": {"name": "notebook", "version": "7.2.2"}},
]

MODELS = [
    ({"provider": "openai", "name": "gpt-4o", "resolved": "gpt-4o-2024-08-06",
      "fingerprint": "fp_2f406b9113"},
     {"temperature": 0.7, "top_p": 0.95, "seed": 1234, "max_tokens": 1024, "stop": ["\n\n"]}),
    ({"provider": "openai", "name": "gpt-4o-mini", "resolved": "gpt-4o-mini-2024-07-18",
      "fingerprint": "fp_0ba0d124f1"},
     {"temperature": 0, "seed": 42, "max_tokens": 512, "response_format": {"type": "json_object"}}),
    ({"provider": "anthropic", "name": "claude-3-5-sonnet-latest",
      "resolved": "claude-3-5-sonnet-20241022"},
     {"temperature": 1.0, "max_tokens": 4096, "tool_choice": {"type": "auto"}}),
    ({"provider": "local", "name": "llama-3.1-8b-instruct",
      "weights_digest": "sha256:" + hashlib.sha256(b"llama-3.1-8b-instruct-Q4_K_M.gguf").hexdigest(),
      "quantization": "Q4_K_M",
      "tokenizer_digest": "sha256:" + hashlib.sha256(b"tokenizer.json").hexdigest(),
      "engine": {"name": "llama.cpp", "version": "b3821"}},
     {"temperature": 0.2, "top_k": 40, "top_p": 0.9, "min_p": 0.05, "seed": 7,
      "repetition_penalty": 1.1, "num_ctx": 8192}),
    ({"provider": "local", "name": "mistral-7b-instruct-v0.3",
      "weights_digest": "sha256:" + hashlib.sha256(b"mistral-7b-v0.3.safetensors").hexdigest(),
      "quantization": "fp8", "engine": {"name": "vllm", "version": "0.6.1"}},
     {"temperature": 0.8, "top_p": 0.9, "seed": 99, "max_tokens": 2048,
      "presence_penalty": 0.5, "frequency_penalty": 0.25}),
    ({"provider": "openai", "name": "gpt-4o", "resolved": "gpt-4o-2024-08-06",
      "fingerprint": "fp_2f406b9113"},
     {"temperature": 0.2, "top_p": 1, "seed": 1234, "max_tokens": 1024}),
]


LOOKUP_ORDER = {
    "name": "lookup_order", "version": "2",
    "description": "Look up an order by its ID and return its shipping status.",
    "schema": {"type": "object",
               "properties": {"order_id": {"type": "string", "pattern": "^[A-Z]-[0-9]{5}$"},
                              "include_items": {"type": "boolean", "default": False}},
               "required": ["order_id"], "additionalProperties": False}}

SEARCH_KB = {
    "name": "search_kb", "version": "1.4",
    "description": "Full-text search over the support knowledge base.",
    "schema": {"type": "object",
               "properties": {"query": {"type": "string", "maxLength": 512},
                              "top_k": {"type": "integer", "minimum": 1, "maximum": 50}},
               "required": ["query"]}}

CREATE_TICKET = {
    "name": "create_ticket", "version": "3",
    "description": "Open a support ticket; escalate when the customer asks for a refund.",
    "schema": {"type": "object",
               "properties": {"title": {"type": "string"},
                              "priority": {"type": "string", "enum": ["low", "normal", "high", "urgent"]},
                              "tags": {"type": "array", "items": {"type": "string"}}},
               "required": ["title", "priority"]}}


# ---- (a) the large manifest --------------------------------------------

def gen_big(rng, target_mb):
    text = Text(rng)
    # fixed counts, sized so the file lands a little above target_mb
    n_msgs = int(5000 * target_mb / 110)
    n_docs = int(12000 * target_mb / 110)
    n_steps = int(3000 * target_mb / 110)
    n_tools = 250

    tools = [tool_def(rng, text, i) for i in range(n_tools)]
    roles = ["user", "assistant"]
    messages = []
    for i in range(n_msgs):
        role = roles[i % 2]
        content = text.doc(rng.randint(2000, 14000))
        if role == "user" and rng.random() < 0.1:
            content = [{"type": "text", "text": content},
                       {"type": "image_url", "image_url": {
                           "url": "https://img.example.com/%08x.png" % rng.getrandbits(32),
                           "detail": rng.choice(["low", "high", "auto"])}}]
        msg = {"role": role, "content": content}
        if role == "assistant" and rng.random() < 0.2:
            msg["tool_calls"] = [{"id": "call_%012x" % rng.getrandbits(48), "type": "function",
                                  "function": {"name": rng.choice(tools)["name"],
                                               "arguments": json.dumps({"q": text.sentences(1)},
                                                                       ensure_ascii=False)}}]
        messages.append(msg)

    items = []
    for i in range(n_docs):
        body = text.doc(rng.randint(1500, 6000))
        items.append({
            "id": "kb-%05d#%d" % (rng.randrange(100000), rng.randrange(40)),
            "digest": hexdigest(body),
            "score": score(rng),
            "text": body,
            "metadata": {"source": "https://docs.example.com/%s/%s" % (rng.choice(WORDS), rng.choice(WORDS)),
                         "title": text.sentences(1)[:80],
                         "updated_at": iso(1700000000 + rng.randrange(30000000)),
                         "chunk": {"start": rng.randrange(100000), "length": len(body)}},
        })
    items.sort(key=lambda d: -d["score"])

    traj = []
    t0 = 1736935200.0
    for i in range(n_steps):
        tool = rng.choice(tools)
        args = {}
        for pname, p in list(tool["schema"]["properties"].items())[:4]:
            ty = p.get("type")
            if ty == "integer":
                args[pname] = rng.randrange(1000)
            elif ty == "number":
                args[pname] = round(rng.uniform(0, 100), 3)
            elif ty == "boolean":
                args[pname] = rng.random() < 0.5
            elif ty == "array":
                args[pname] = rng.sample(WORDS, 3)
            elif ty == "object":
                args[pname] = {"note": text.sentences(1)}
            else:
                args[pname] = p["enum"][0] if "enum" in p else text.sentences(1)
        traj.append({
            "type": "tool_call",
            "id": "call_%012x" % rng.getrandbits(48),
            "tool": tool["name"],
            "arguments": args,
            "result": {"status": rng.choice(["ok", "ok", "ok", "error"]),
                       "content": text.doc(rng.randint(500, 5000))},
            "started_at": iso(t0 + i * 2),
            "latency_ms": rng.randint(3, 4000),
            "usage": {"prompt_tokens": rng.randint(100, 120000),
                      "completion_tokens": rng.randint(1, 4000)},
            "logprob": -round(rng.expovariate(5.0), 6),
            "entropy": rng.choice([1.5e-05, 2.25e-07, 0.125, 3.0e+21]),
        })

    manifest = {
        "conditions": {
            "model": MODELS[0][0],
            "params": MODELS[0][1],
            "system": {"text": text.doc(6000),
                       "template": {"id": "agent-v7", "digest": hexdigest("agent-v7")},
                       "variables": {"company": "Acme Société Générale", "language": "English",
                                     "greeting": "こんにちは 👋"}},
            "input": {"messages": messages},
            "retrieval": {"index": {"name": "handbook", "state_digest": hexdigest("handbook@v42")},
                          "embedding_model": "text-embedding-3-large",
                          "query": "refund policy for annual plans, 年度订阅的退款政策",
                          "top_k": n_docs,
                          "items": items},
            "tools": {"definitions": tools},
            "environment": ENVIRONMENTS[0],
        },
        "trajectory": traj,
        "output": {"role": "assistant", "content": text.doc(20000), "finish_reason": "stop"},
        "meta": {"start": "2025-01-15T10:00:00Z", "end": "2025-01-15T12:47:13Z",
                 "host": "lab-3", "operator": "José Müller"},
    }
    data = json.dumps(manifest, indent=2, ensure_ascii=False).encode("utf-8") + b"\n"
    if target_mb >= 100 and len(data) < 100 * 1000 * 1000:
        sys.exit("gen.py: big manifest came out at %d bytes, below 100 MB" % len(data))
    return data


# ---- (b) a typical ~4 KB manifest --------------------------------------

def gen_small(rng):
    text = Text(rng, pool=2000)
    model, params = MODELS[0]
    manifest = {
        "conditions": {
            "model": model,
            "params": params,
            "system": {"text": text.doc(500),
                       "template": {"id": "support-v3", "digest": hexdigest("support-v3")},
                       "variables": {"company": "Acme", "language": "English"}},
            "input": {"messages": [
                {"role": "user", "content": text.doc(500)},
                {"role": "assistant", "content": text.doc(300)},
                {"role": "user", "content": "Thanks! Can you also check order #A-10432? 🙏"}]},
            "tools": {"definitions": [LOOKUP_ORDER]},
            "environment": ENVIRONMENTS[1],
        },
        "trajectory": [{"type": "tool_call", "tool": "lookup_order",
                        "arguments": {"order_id": "A-10432"},
                        "result": {"status": "shipped", "eta": "2025-01-17", "carrier": "DHL"}}],
        "output": {"role": "assistant", "content": text.doc(400), "finish_reason": "stop",
                   "usage": {"prompt_tokens": 812, "completion_tokens": 143}},
        "meta": {"start": "2025-01-15T10:00:00Z", "end": "2025-01-15T10:00:03Z",
                 "host": "lab-3", "request_id": "req_8f2c1a"},
    }
    data = json.dumps(manifest, indent=2, ensure_ascii=False).encode("utf-8") + b"\n"
    return data


# ---- (c) many small manifests as JSON Lines ----------------------------

def gen_jsonl(rng, n, path):
    text = Text(rng, pool=30000)
    systems = [text.sentences(2) + "\n\n" + text.sentences(1) + "\n- " + text.sentences(1)
               for _ in range(5)]
    toolsets = [{"definitions": [LOOKUP_ORDER]}, {"definitions": [SEARCH_KB]},
                {"definitions": [SEARCH_KB, CREATE_TICKET]}]
    hosts = ["worker-%02d" % i for i in range(16)]
    pool = text.pool
    choices = rng.choices
    randint = rng.randint
    random_ = rng.random
    dumps = json.JSONEncoder(ensure_ascii=False).encode
    t = 1735689600  # 2025-01-01
    tmp = path + ".tmp"
    total = 0
    with open(tmp, "wb", buffering=1 << 22) as f:
        buf = []
        for i in range(n):
            mi = randint(0, len(MODELS) - 1)
            model, params = MODELS[mi]
            t += randint(0, 3)
            q = "[#%d] %s" % (i, " ".join(choices(pool, k=randint(1, 2))))
            a = " ".join(choices(pool, k=randint(1, 3)))
            cond = {
                "model": model,
                "params": params,
                "system": {"text": systems[randint(0, 4)]},
                "input": {"messages": [{"role": "user", "content": q}]},
                "environment": ENVIRONMENTS[mi % 3],
            }
            m = {"conditions": cond}
            x = random_()
            if x < 0.3:
                ts = toolsets[randint(0, 2)]
                cond["tools"] = ts
                name = ts["definitions"][0]["name"]
                m["trajectory"] = [{"type": "tool_call", "tool": name,
                                    "arguments": {"query": q[:60]},
                                    "result": {"status": "ok", "rows": randint(0, 500)}}]
            m["output"] = {"role": "assistant", "content": a,
                           "finish_reason": "stop" if x > 0.02 else "length",
                           "usage": {"prompt_tokens": randint(200, 4000),
                                     "completion_tokens": randint(10, 800)}}
            m["meta"] = {"start": iso(t), "host": hosts[i % 16],
                         "request_id": "req_%016x" % rng.getrandbits(64),
                         "latency_ms": randint(80, 20000)}
            line = dumps(m)
            buf.append(line)
            if len(buf) == 4096:
                s = ("\n".join(buf) + "\n").encode("utf-8")
                total += len(s)
                f.write(s)
                buf = []
        if buf:
            s = ("\n".join(buf) + "\n").encode("utf-8")
            total += len(s)
            f.write(s)
    os.replace(tmp, path)
    return total


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "data"))
    ap.add_argument("--n", type=int, default=1000000, help="lines in the JSONL file")
    ap.add_argument("--seed", type=int, default=20250115)
    ap.add_argument("--big-mb", type=int, default=110, help="approximate size of big.json in MB (>= 100)")
    ap.add_argument("--only", default="big,small,jsonl")
    args = ap.parse_args()
    what = set(args.only.split(","))
    os.makedirs(args.out, exist_ok=True)
    if "small" in what:
        d = gen_small(random.Random(args.seed + 2))
        write_atomic(os.path.join(args.out, "small.json"), d)
        print("small.json: %d bytes" % len(d))
    if "big" in what:
        t = time.time()
        d = gen_big(random.Random(args.seed + 1), args.big_mb)
        write_atomic(os.path.join(args.out, "big.json"), d)
        print("big.json: %d bytes (%.1fs)" % (len(d), time.time() - t))
    if "jsonl" in what:
        t = time.time()
        p = os.path.join(args.out, "runs-%d.jsonl" % args.n)
        total = gen_jsonl(random.Random(args.seed + 3), args.n, p)
        print("runs-%d.jsonl: %d bytes, %.0f bytes/line (%.1fs)"
              % (args.n, total, total / max(args.n, 1), time.time() - t))


if __name__ == "__main__":
    main()
