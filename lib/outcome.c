/*
 * outcome.c - the facts about a run that cohorts are compared by (airi
 * regress), read from its manifest at recording time and kept in the
 * run's row: the digests of the standard condition sections (so a cohort's
 * distribution of, say, system prompts is a scan of one table, not a
 * re-read of every run) and the outcome: HTTP status, whether it failed,
 * finish reason, output length, latency, tool calls and output tokens.
 *
 * The outcome is read from the shapes the proxy records (docs/
 * proxy-mapping.md: OpenAI chat/completions/responses, Anthropic messages)
 * and from the conventional members of hand-written manifests
 * (output.content, output.finish_reason, meta.start/end, meta.status,
 * trajectory steps of type tool_call). Unknown stays unknown (-1 / NULL).
 */
#include "internal.h"

#include <string.h>

const char *const airi__std_sections[AIRI__NSTD] = {
	"model", "params", "system", "input", "retrieval", "tools",
	"environment"};

static const airi_value *get(const airi_value *v, const char *k)
{
	return v && airi_value_type(v) == AIRI_OBJECT ? airi_value_get(v, k)
						      : NULL;
}

static int is_str(const airi_value *v, const char *s)
{
	size_t n;
	const char *p = v ? airi_value_string(v, &n) : NULL;
	return p && n == strlen(s) && !memcmp(p, s, n);
}

/* code points of a UTF-8 string */
static int64_t chars(const airi_value *v)
{
	size_t n;
	const char *p = v ? airi_value_string(v, &n) : NULL;
	int64_t c = 0;
	if (!p)
		return 0;
	for (size_t i = 0; i < n; i++)
		c += ((unsigned char)p[i] & 0xC0) != 0x80;
	return c;
}

static void set_finish(struct airi__facts *f, const airi_value *v)
{
	size_t n;
	const char *p = v ? airi_value_string(v, &n) : NULL;
	if (p && !f->finish[0] && n < sizeof(f->finish)) {
		memcpy(f->finish, p, n);
		f->finish[n] = 0;
		/* a NUL inside would cut it: harmless for grouping */
	}
}

static int64_t num(const airi_value *v)
{
	return v && airi_value_type(v) == AIRI_NUMBER ? (int64_t)airi_value_number(v)
						      : -1;
}

static void add_tokens(struct airi__facts *f, const airi_value *usage)
{
	int64_t t = num(get(usage, "completion_tokens"));
	if (t < 0)
		t = num(get(usage, "output_tokens"));
	if (t >= 0)
		f->out_tokens = t;
}

/* the output's text length, finish reason and tool calls, by API shape */
static void read_output(struct airi__facts *f, const airi_value *o)
{
	const airi_value *v;
	if (!o)
		return;
	if (airi_value_type(o) == AIRI_STRING) {
		f->out_chars = chars(o);
		return;
	}
	if (airi_value_type(o) != AIRI_OBJECT)
		return;
	if (get(o, "error"))
		f->failed = 1;
	add_tokens(f, get(o, "usage"));
	if ((v = get(o, "choices")) && airi_value_type(v) == AIRI_ARRAY) {
		/* chat completions and completions: the first choice */
		const airi_value *c = airi_value_at(v, 0);
		const airi_value *msg = get(c, "message");
		f->out_chars = 0;
		if (msg) {
			const airi_value *content = get(msg, "content");
			if (airi_value_type(content) == AIRI_STRING)
				f->out_chars = chars(content);
			const airi_value *tc = get(msg, "tool_calls");
			if (airi_value_type(tc) == AIRI_ARRAY)
				f->tool_calls += (int64_t)airi_value_count(tc);
		} else if (get(c, "text")) {
			f->out_chars = chars(get(c, "text"));
		}
		set_finish(f, get(c, "finish_reason"));
		return;
	}
	if ((v = get(o, "content")) && airi_value_type(v) == AIRI_ARRAY) {
		/* Anthropic messages: text and tool_use blocks */
		f->out_chars = 0;
		for (size_t i = 0; i < airi_value_count(v); i++) {
			const airi_value *b = airi_value_at(v, i);
			if (is_str(get(b, "type"), "text"))
				f->out_chars += chars(get(b, "text"));
			else if (is_str(get(b, "type"), "tool_use"))
				f->tool_calls++;
		}
		set_finish(f, get(o, "stop_reason"));
		return;
	}
	if ((v = get(o, "output")) && airi_value_type(v) == AIRI_ARRAY) {
		/* Responses API: message items with output_text parts */
		f->out_chars = 0;
		for (size_t i = 0; i < airi_value_count(v); i++) {
			const airi_value *it = airi_value_at(v, i);
			if (is_str(get(it, "type"), "function_call"))
				f->tool_calls++;
			const airi_value *parts = get(it, "content");
			for (size_t j = 0; j < airi_value_count(parts); j++)
				f->out_chars += chars(get(airi_value_at(parts, j), "text"));
		}
		set_finish(f, get(o, "status"));
		return;
	}
	/* a hand-written output: {content | text, finish_reason, tool_calls} */
	if ((v = get(o, "content")) && airi_value_type(v) == AIRI_STRING)
		f->out_chars = chars(v);
	else if ((v = get(o, "text")) && airi_value_type(v) == AIRI_STRING)
		f->out_chars = chars(v);
	set_finish(f, get(o, "finish_reason"));
	if ((v = get(o, "tool_calls")) && airi_value_type(v) == AIRI_ARRAY)
		f->tool_calls += (int64_t)airi_value_count(v);
}

static int64_t rfc_ms(const airi_value *v)
{
	size_t n;
	int64_t t;
	const char *p = v ? airi_value_string(v, &n) : NULL;
	return p && airi__rfc3339_parse(p, n, &t) == 0 ? t : INT64_MIN;
}

void airi__run_facts(const airi_manifest *m, struct airi__facts *f)
{
	memset(f, 0, sizeof(*f));
	f->status = -1;
	f->out_chars = -1;
	f->latency_ms = -1;
	f->out_tokens = -1;
	for (size_t i = 0; i < airi_manifest_section_count(m); i++) {
		const char *n = airi_manifest_section_name(m, i);
		for (int k = 0; k < AIRI__NSTD; k++)
			if (!strcmp(n, airi__std_sections[k])) {
				f->sec[k] = *airi_manifest_section_digest(m, i);
				f->has_sec[k] = 1;
			}
	}
	if (airi_manifest_output_digest(m)) {
		f->out = *airi_manifest_output_digest(m);
		f->has_out = 1;
	}
	const airi_value *meta = airi__unsalt(airi_manifest_meta(m));
	const airi_value *st = get(meta, "status");
	if (st && airi_value_type(st) == AIRI_NUMBER)
		f->status = (int64_t)airi_value_number(st);
	const airi_value *ended = get(meta, "ended");
	if (ended && !is_str(ended, "complete"))
		f->failed = 1;
	if (f->status >= 400)
		f->failed = 1;
	int64_t a = rfc_ms(get(meta, "start")), b = rfc_ms(get(meta, "end"));
	if (a == INT64_MIN)
		a = rfc_ms(get(meta, "started_at"));
	if (b == INT64_MIN)
		b = rfc_ms(get(meta, "ended_at"));
	if (a != INT64_MIN && b != INT64_MIN && b >= a)
		f->latency_ms = b - a;
	read_output(f, airi__unsalt(airi_manifest_output(m)));
	/* agent runs: tool calls along the trajectory */
	const airi_value *steps = airi_manifest_trajectory(m);
	for (size_t i = 0; i < airi_value_count(steps); i++) {
		const airi_value *sv = airi__unsalt(airi_value_at(steps, i));
		if (is_str(get(sv, "type"), "tool_call"))
			f->tool_calls++;
	}
}
