/*
 * export.c - the way out: a recorded run as one OpenTelemetry span
 * (OTLP/JSON) following the GenAI semantic conventions, for
 * `airi otel export` and `airi proxy --otlp` (docs/otel-mapping.md,
 * section 13).
 *
 * The span carries identities and digests, never contents: the system
 * prompt, the input messages, the output and the tool definitions are
 * referenced by the sha256 digest of their section (airi.content.*), which
 * resolves in the airi store. Nothing from a manifest's text is copied into
 * the span but the model names, the provider, numeric parameters, finish
 * reasons, token counts, the fingerprint, the endpoint path and the ids.
 */
#define _GNU_SOURCE
#include "otel.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const airi_value *get(const airi_value *o, const char *k)
{
	return o && airi_value_type(o) == AIRI_OBJECT ? airi_value_get(o, k)
						       : NULL;
}

static const char *str(const airi_value *v, size_t *n)
{
	if (!v || airi_value_type(v) != AIRI_STRING)
		return NULL;
	return airi_value_string(v, n);
}

/* a short, printable string (model names, finish reasons): no control
 * characters, at most 256 bytes */
static int plain(const char *s, size_t n)
{
	if (!s || !n || n > 256)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return 0;
	return 1;
}

static void kv_begin(airi__jw *w, const char *key)
{
	airi__jw_obj(w);
	airi__jw_key(w, "key");
	airi__jw_str(w, key);
	airi__jw_key(w, "value");
	airi__jw_obj(w);
}

static void kv_end(airi__jw *w)
{
	airi__jw_end_obj(w);
	airi__jw_end_obj(w);
}

static void kv_strn(airi__jw *w, const char *key, const char *s, size_t n)
{
	kv_begin(w, key);
	airi__jw_key(w, "stringValue");
	airi__jw_strn(w, s, n);
	kv_end(w);
}

static void kv_str(airi__jw *w, const char *key, const char *s)
{
	kv_strn(w, key, s, strlen(s));
}

static void kv_digest(airi__jw *w, const char *key, const airi_digest *d)
{
	char t[AIRI_DIGEST_STRLEN];
	airi_digest_format(d, t);
	kv_str(w, key, t);
}

/* a number: as_int: an intValue (a decimal string), written only when the
 * value is an integer in range; else a doubleValue */
static void kv_number(airi__jw *w, const char *key, const airi_value *v,
		      int as_int)
{
	if (!v || airi_value_type(v) != AIRI_NUMBER)
		return;
	double d = airi_value_number(v);
	if (!isfinite(d))
		return;
	if (as_int && d == floor(d) && fabs(d) < 9007199254740992.0) {
		char t[32];
		snprintf(t, sizeof(t), "%lld", (long long)d);
		kv_begin(w, key);
		airi__jw_key(w, "intValue");
		airi__jw_str(w, t);
		kv_end(w);
	} else if (!as_int) { /* the conventions type these as double */
		char t[40];
		for (int prec = 15; prec <= 17; prec++) {
			snprintf(t, sizeof(t), "%.*g", prec, d);
			if (strtod(t, NULL) == d)
				break;
		}
		kv_begin(w, key);
		airi__jw_key(w, "doubleValue");
		airi__jw_raw(w, t, strlen(t));
		kv_end(w);
	}
}

/* the section's digest, by name; NULL when absent */
static const airi_digest *section_digest(const airi_manifest *m,
					 const char *name)
{
	for (size_t i = 0; i < airi_manifest_section_count(m); i++)
		if (!strcmp(airi_manifest_section_name(m, i), name))
			return airi_manifest_section_digest(m, i);
	return NULL;
}

static int hex_ok(const char *s, size_t n, size_t want)
{
	if (!s || n != want)
		return 0;
	int nonzero = 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
		      (c >= 'A' && c <= 'F')))
			return 0;
		nonzero |= c != '0';
	}
	return nonzero;
}

static uint64_t time_ns(const airi_value *meta, const char *k)
{
	size_t n;
	const char *s = str(get(meta, k), &n);
	int64_t ms;
	if (!s || airi__rfc3339_parse(s, n, &ms) || ms <= 0)
		return 0;
	return (uint64_t)ms * 1000000u;
}

/* strings from a manifest are not NUL-terminated: compare with lengths */
static int is(const char *s, size_t n, const char *w)
{
	return s && n == strlen(w) && !memcmp(s, w, n);
}

static int has(const char *s, size_t n, const char *w)
{
	return s && memmem(s, n, w, strlen(w)) != NULL;
}

static const char *operation(const airi_value *meta)
{
	static const char *const ops[] = {"chat", "text_completion", "embeddings",
					  "generate_content"};
	size_t n, en;
	const char *op = str(get(meta, "operation"), &n);
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if (is(op, n, ops[i]))
			return ops[i];
	const char *ep = str(get(meta, "endpoint"), &en);
	if (has(ep, en, "embeddings"))
		return "embeddings";
	if (has(ep, en, "/completions") && !has(ep, en, "chat/completions"))
		return "text_completion";
	return "chat";
}

/* gen_ai.response.finish_reasons: output.finish_reasons (runs from
 * `airi otel receive`), choices[].finish_reason (OpenAI chat and
 * completions), stop_reason (Anthropic), status (Responses) */
static void finish_reasons(airi__jw *w, const airi_value *out)
{
	const airi_value *arr = get(out, "finish_reasons");
	const airi_value *choices = get(out, "choices");
	const char *one = NULL;
	size_t on = 0;
	int any = 0;
	if (!arr || airi_value_type(arr) != AIRI_ARRAY) {
		arr = NULL;
		one = str(get(out, "stop_reason"), &on);
		if (!one)
			one = str(get(out, "status"), &on);
	}
	if (!arr && !one &&
	    (!choices || airi_value_type(choices) != AIRI_ARRAY))
		return;
	for (int pass = 0; pass < 2; pass++) {
		size_t nv = arr ? airi_value_count(arr)
			    : one ? 1
				  : airi_value_count(choices);
		for (size_t i = 0; i < nv && i < 128; i++) {
			size_t n = on;
			const char *s = one;
			if (arr)
				s = str(airi_value_at(arr, i), &n);
			else if (!one)
				s = str(get(airi_value_at(choices, i), "finish_reason"),
					&n);
			if (!plain(s, n))
				continue;
			if (pass == 0) {
				any = 1;
				break;
			}
			airi__jw_obj(w);
			airi__jw_key(w, "stringValue");
			airi__jw_strn(w, s, n);
			airi__jw_end_obj(w);
		}
		if (!any)
			return;
		if (pass == 0) {
			kv_begin(w, "gen_ai.response.finish_reasons");
			airi__jw_key(w, "arrayValue");
			airi__jw_obj(w);
			airi__jw_key(w, "values");
			airi__jw_arr(w);
		}
	}
	airi__jw_end_arr(w);
	airi__jw_end_obj(w);
	kv_end(w);
}

static const airi_value *first_of(const airi_value *o, const char *a,
				  const char *b, const char *c)
{
	const airi_value *v = get(o, a);
	if (!v && b)
		v = get(o, b);
	if (!v && c)
		v = get(o, c);
	return v;
}

static int failed(const airi_value *meta, const airi_value *out,
		  const char **why)
{
	const airi_value *st = get(meta, "status");
	size_t n;
	const char *ended = str(get(meta, "ended"), &n);
	*why = NULL;
	if (st && airi_value_type(st) == AIRI_NUMBER &&
	    airi_value_number(st) >= 400) {
		*why = "upstream answered with an error status";
		return 1;
	}
	if (st && airi_value_type(st) == AIRI_STRING) {
		const char *s = airi_value_string(st, &n);
		if (s && n == 5 && !strncasecmp(s, "error", 5)) {
			*why = "the call failed";
			return 1;
		}
	}
	if (ended && !is(ended, n, "complete")) {
		/* one of a few fixed words (docs/proxy-mapping.md 10) */
		static const char *const words[] = {
			"client_disconnected", "upstream_timeout",
			"upstream_broken", "upstream_unreachable"};
		*why = "the call did not complete";
		for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
			if (is(ended, n, words[i]))
				*why = words[i];
		return 1;
	}
	if (get(out, "error")) {
		*why = "the response is an error";
		return 1;
	}
	return 0;
}

int otel_export_span(airi__jw *w, const airi_manifest *m)
{
	const airi_value *root = airi_manifest_root(m);
	const airi_value *cond = get(root, "conditions");
	const airi_value *model = get(cond, "model");
	const airi_value *params = get(cond, "params");
	const airi_value *meta = airi_manifest_meta(m);
	const airi_value *out = airi_manifest_output(m);
	const airi_digest *run = airi_manifest_run_id(m);
	char hex[65];
	size_t n;

	/* ids: the recorded trace id (runs from `airi otel receive`) or the
	 * run digest's first 16 bytes; the span id: bytes 16..23 of it */
	const char *tid = str(get(meta, "trace_id"), &n);
	airi__jw_obj(w);
	airi__jw_key(w, "traceId");
	if (hex_ok(tid, n, 32)) {
		char low[33];
		for (size_t i = 0; i < 32; i++)
			low[i] = (char)((tid[i] >= 'A' && tid[i] <= 'F')
						? tid[i] - 'A' + 'a'
						: tid[i]);
		airi__jw_strn(w, low, 32);
	} else {
		otel_hex(run->bytes, 16, hex);
		airi__jw_strn(w, hex, 32);
	}
	otel_hex(run->bytes + 16, 8, hex);
	airi__jw_key(w, "spanId");
	airi__jw_strn(w, hex, 16);

	const char *op = operation(meta);
	const char *req = str(get(model, "name"), &n);
	size_t reqn = n;
	if (!plain(req, reqn))
		req = NULL;
	char name[300];
	if (req)
		snprintf(name, sizeof(name), "%s %.*s", op, (int)reqn, req);
	else
		snprintf(name, sizeof(name), "%s", op);
	airi__jw_key(w, "name");
	airi__jw_str(w, name);
	airi__jw_key(w, "kind");
	airi__jw_int(w, 3); /* SPAN_KIND_CLIENT */
	uint64_t start = time_ns(meta, "start"), end = time_ns(meta, "end");
	if (end < start)
		end = start;
	char t[32];
	snprintf(t, sizeof(t), "%llu", (unsigned long long)start);
	airi__jw_key(w, "startTimeUnixNano");
	airi__jw_str(w, t);
	snprintf(t, sizeof(t), "%llu", (unsigned long long)end);
	airi__jw_key(w, "endTimeUnixNano");
	airi__jw_str(w, t);

	airi__jw_key(w, "attributes");
	airi__jw_arr(w);
	kv_str(w, "gen_ai.operation.name", op);
	const char *prov = str(get(model, "provider"), &n);
	if (plain(prov, n)) {
		kv_strn(w, "gen_ai.provider.name", prov, n);
		kv_strn(w, "gen_ai.system", prov, n);
	}
	if (req)
		kv_strn(w, "gen_ai.request.model", req, reqn);
	const char *res = str(get(model, "resolved"), &n);
	if (plain(res, n))
		kv_strn(w, "gen_ai.response.model", res, n);
	kv_number(w, "gen_ai.request.temperature", get(params, "temperature"), 0);
	kv_number(w, "gen_ai.request.top_p", get(params, "top_p"), 0);
	kv_number(w, "gen_ai.request.top_k", get(params, "top_k"), 0);
	kv_number(w, "gen_ai.request.max_tokens",
		  first_of(params, "max_tokens", "max_completion_tokens",
			   "max_output_tokens"), 1);
	kv_number(w, "gen_ai.request.seed", get(params, "seed"), 1);
	kv_number(w, "gen_ai.request.frequency_penalty",
		  get(params, "frequency_penalty"), 0);
	kv_number(w, "gen_ai.request.presence_penalty",
		  get(params, "presence_penalty"), 0);
	kv_number(w, "gen_ai.request.choice.count", get(params, "n"), 1);
	finish_reasons(w, out);
	const airi_value *usage = get(out, "usage");
	kv_number(w, "gen_ai.usage.input_tokens",
		  first_of(usage, "input_tokens", "prompt_tokens", NULL), 1);
	kv_number(w, "gen_ai.usage.output_tokens",
		  first_of(usage, "output_tokens", "completion_tokens", NULL), 1);
	const char *fp = str(get(model, "fingerprint"), &n);
	if (plain(fp, n))
		kv_strn(w, "openai.response.system_fingerprint", fp, n);
	const char *rid = str(get(meta, "response_id"), &n);
	if (plain(rid, n))
		kv_strn(w, "gen_ai.response.id", rid, n);
	kv_digest(w, "airi.run.id", run);
	kv_digest(w, "airi.conditions.id", airi_manifest_conditions_id(m));
	static const char *const refs[][2] = {
		{"system", "airi.content.system"},
		{"input", "airi.content.input"},
		{"tools", "airi.content.tools"},
	};
	for (size_t i = 0; i < sizeof(refs) / sizeof(refs[0]); i++) {
		const airi_digest *d = section_digest(m, refs[i][0]);
		if (d)
			kv_digest(w, refs[i][1], d);
	}
	if (airi_manifest_output_digest(m))
		kv_digest(w, "airi.content.output", airi_manifest_output_digest(m));
	if (airi_manifest_trajectory_digest(m))
		kv_digest(w, "airi.content.trajectory",
			  airi_manifest_trajectory_digest(m));
	airi__jw_end_arr(w);

	const char *why;
	if (failed(meta, out, &why)) {
		airi__jw_key(w, "status");
		airi__jw_obj(w);
		airi__jw_key(w, "code");
		airi__jw_int(w, 2); /* STATUS_CODE_ERROR */
		airi__jw_key(w, "message");
		airi__jw_str(w, why);
		airi__jw_end_obj(w);
	}
	airi__jw_end_obj(w);
	return 0;
}

char *otel_export_span_text(const airi_manifest *m, size_t *len)
{
	airi__jw *w = malloc(sizeof(*w));
	if (!w)
		return NULL;
	airi__jw_init(w);
	otel_export_span(w, m);
	char *t = airi__jw_finish(w, len);
	free(w);
	return t;
}

char *otel_export_request(char *const *spans, const size_t *lens, size_t n,
			  size_t *len)
{
	static const char head[] =
		"{\"resourceSpans\":[{\"resource\":{\"attributes\":["
		"{\"key\":\"service.name\",\"value\":{\"stringValue\":\"airi\"}},"
		"{\"key\":\"telemetry.sdk.name\",\"value\":{\"stringValue\":\"airi\"}},"
		"{\"key\":\"telemetry.sdk.language\",\"value\":{\"stringValue\":\"c\"}},"
		"{\"key\":\"telemetry.sdk.version\",\"value\":{\"stringValue\":\"" AIRI_VERSION "\"}}"
		"]},\"scopeSpans\":[{\"scope\":{\"name\":\"airi\",\"version\":\"" AIRI_VERSION "\"},"
		"\"spans\":[";
	static const char tail[] = "]}]}]}";
	size_t total = sizeof(head) - 1 + sizeof(tail) - 1 + 1;
	for (size_t i = 0; i < n; i++)
		total += lens[i] + 1;
	char *p = malloc(total);
	if (!p)
		return NULL;
	size_t o = 0;
	memcpy(p, head, sizeof(head) - 1);
	o += sizeof(head) - 1;
	for (size_t i = 0; i < n; i++) {
		if (i)
			p[o++] = ',';
		memcpy(p + o, spans[i], lens[i]);
		o += lens[i];
	}
	memcpy(p + o, tail, sizeof(tail) - 1);
	o += sizeof(tail) - 1;
	p[o] = 0;
	*len = o;
	return p;
}
