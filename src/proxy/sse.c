/*
 * sse.c - assembling a streamed response back into one output, so that a
 * streamed call is recorded with the same shape of output as a plain one:
 *  - OpenAI chat completions: chunks carry choices[i].delta (role,
 *    content pieces, tool_calls[j] with id/name and argument pieces) and a
 *    finish_reason; an optional last chunk carries usage;
 *  - OpenAI completions: choices[i].text pieces;
 *  - Anthropic messages: message_start (id, model, usage), content blocks
 *    (text deltas, tool_use input_json deltas), message_delta (stop_reason,
 *    usage).
 * The result is JSON text with the envelope (id, model,
 * system_fingerprint) on top, which capture.c moves to model and meta.
 */
#define _GNU_SOURCE
#include "proxy.h"

#include <stdio.h>
#include <string.h>

#define MAX_CHOICES 16
#define MAX_TOOLS 64

struct tool {
	airi__buf id, name, args, type;
};

struct choice {
	int used;
	airi__buf role, content, finish, refusal;
	struct tool *tools; /* MAX_TOOLS, allocated on the first tool call */
	int ntools;
};

struct block { /* Anthropic content block */
	int used;
	airi__buf type, text, id, name, input, thinking, signature;
};

struct assembler {
	enum api api;
	airi__buf id, model, fingerprint, usage, stop_reason, stop_sequence;
	airi__buf anth_usage_in; /* message_start usage (canonical JSON) */
	/* allocated when first used: an assembler starts small (a proxy may
	 * hold a thousand streams) */
	struct choice *choices[MAX_CHOICES];
	struct block *blocks[MAX_CHOICES * 4];
	int nevents;
	int error;
	airi__buf error_body;
	airi__buf final;  /* responses API: the response.completed object */
	long long created;
};

struct assembler *asm_new(enum api api)
{
	struct assembler *a = calloc(1, sizeof(*a));
	if (a)
		a->api = api;
	return a;
}

static void rel(airi__buf *b)
{
	airi__buf_release(b);
}

void asm_free(struct assembler *a)
{
	if (!a)
		return;
	rel(&a->id);
	rel(&a->model);
	rel(&a->fingerprint);
	rel(&a->usage);
	rel(&a->stop_reason);
	rel(&a->stop_sequence);
	rel(&a->anth_usage_in);
	rel(&a->error_body);
	rel(&a->final);
	for (int i = 0; i < MAX_CHOICES; i++) {
		struct choice *c = a->choices[i];
		if (!c)
			continue;
		rel(&c->role);
		rel(&c->content);
		rel(&c->finish);
		rel(&c->refusal);
		for (int t = 0; c->tools && t < MAX_TOOLS; t++) {
			rel(&c->tools[t].id);
			rel(&c->tools[t].name);
			rel(&c->tools[t].args);
			rel(&c->tools[t].type);
		}
		free(c->tools);
		free(c);
	}
	for (int i = 0; i < MAX_CHOICES * 4; i++) {
		struct block *b = a->blocks[i];
		if (!b)
			continue;
		rel(&b->type);
		rel(&b->text);
		rel(&b->id);
		rel(&b->name);
		rel(&b->input);
		rel(&b->thinking);
		rel(&b->signature);
		free(b);
	}
	free(a);
}

/* Appends a string member's decoded bytes to b. */
static void app(airi__buf *b, const airi_value *v)
{
	size_t n;
	const char *s = airi_value_string(v, &n);
	if (s)
		airi__buf_add(b, s, n);
}

static void set(airi__buf *b, const airi_value *v)
{
	size_t n;
	const char *s = airi_value_string(v, &n);
	if (s) {
		b->n = 0;
		airi__buf_add(b, s, n);
	}
}

static void set_json(airi__buf *b, const airi_value *v)
{
	if (v && airi_value_type(v) != AIRI_NULL) {
		b->n = 0;
		airi__canon_to_buf(v, b);
	}
}

static int idx_of(const airi_value *o, int max)
{
	const airi_value *i = airi_value_get(o, "index");
	double d = airi_value_number(i);
	if (airi_value_type(i) != AIRI_NUMBER || d < 0 || d >= max)
		return -1;
	return (int)d;
}

static void responses_event(struct assembler *a, const airi_value *r)
{
	size_t n;
	const char *type = airi_value_string(airi_value_get(r, "type"), &n);
	const airi_value *resp = airi_value_get(r, "response");
	if (!type || !resp)
		return;
	/* every event that carries the response updates the envelope; the
	 * completed (or failed/incomplete) one is the output */
	set(&a->id, airi_value_get(resp, "id"));
	set(&a->model, airi_value_get(resp, "model"));
	if ((n == 18 && !memcmp(type, "response.completed", 18)) ||
	    (n == 15 && !memcmp(type, "response.failed", 15)) ||
	    (n == 19 && !memcmp(type, "response.incomplete", 19)))
		set_json(&a->final, resp);
}

static void openai_chunk(struct assembler *a, const airi_value *r)
{
	const airi_value *cr = airi_value_get(r, "created");
	if (airi_value_type(cr) == AIRI_NUMBER)
		a->created = (long long)airi_value_number(cr);
	set(&a->id, airi_value_get(r, "id"));
	set(&a->model, airi_value_get(r, "model"));
	set(&a->fingerprint, airi_value_get(r, "system_fingerprint"));
	set_json(&a->usage, airi_value_get(r, "usage"));
	const airi_value *chs = airi_value_get(r, "choices");
	for (size_t i = 0; i < airi_value_count(chs); i++) {
		const airi_value *ch = airi_value_at(chs, i);
		int k = idx_of(ch, MAX_CHOICES);
		if (k < 0)
			continue;
		if (!a->choices[k] && !(a->choices[k] = calloc(1, sizeof(struct choice))))
			continue;
		struct choice *c = a->choices[k];
		c->used = 1;
		set(&c->finish, airi_value_get(ch, "finish_reason"));
		app(&c->content, airi_value_get(ch, "text")); /* completions */
		const airi_value *d = airi_value_get(ch, "delta");
		if (!d)
			continue;
		set(&c->role, airi_value_get(d, "role"));
		app(&c->content, airi_value_get(d, "content"));
		app(&c->refusal, airi_value_get(d, "refusal"));
		const airi_value *tcs = airi_value_get(d, "tool_calls");
		for (size_t j = 0; j < airi_value_count(tcs); j++) {
			const airi_value *tc = airi_value_at(tcs, j);
			int t = idx_of(tc, MAX_TOOLS);
			if (t < 0)
				continue;
			if (!c->tools &&
			    !(c->tools = calloc(MAX_TOOLS, sizeof(struct tool))))
				continue;
			struct tool *tl = &c->tools[t];
			if (t + 1 > c->ntools)
				c->ntools = t + 1;
			set(&tl->id, airi_value_get(tc, "id"));
			set(&tl->type, airi_value_get(tc, "type"));
			const airi_value *f = airi_value_get(tc, "function");
			set(&tl->name, airi_value_get(f, "name"));
			app(&tl->args, airi_value_get(f, "arguments"));
		}
	}
}

static void anthropic_event(struct assembler *a, const airi_value *r)
{
	size_t n;
	const char *type = airi_value_string(airi_value_get(r, "type"), &n);
	if (!type)
		return;
#define IS(s) (n == strlen(s) && !memcmp(type, s, n))
	if (IS("message_start")) {
		const airi_value *m = airi_value_get(r, "message");
		set(&a->id, airi_value_get(m, "id"));
		set(&a->model, airi_value_get(m, "model"));
		set_json(&a->anth_usage_in, airi_value_get(m, "usage"));
	} else if (IS("content_block_start") || IS("content_block_delta")) {
		int k = idx_of(r, MAX_CHOICES * 4);
		if (k < 0)
			return;
		if (!a->blocks[k] && !(a->blocks[k] = calloc(1, sizeof(struct block))))
			return;
		struct block *b = a->blocks[k];
		b->used = 1;
		const airi_value *cb = airi_value_get(r, "content_block");
		if (cb) {
			set(&b->type, airi_value_get(cb, "type"));
			set(&b->id, airi_value_get(cb, "id"));
			set(&b->name, airi_value_get(cb, "name"));
			app(&b->text, airi_value_get(cb, "text"));
		}
		const airi_value *d = airi_value_get(r, "delta");
		app(&b->text, airi_value_get(d, "text"));
		app(&b->input, airi_value_get(d, "partial_json"));
		app(&b->thinking, airi_value_get(d, "thinking"));
		app(&b->signature, airi_value_get(d, "signature"));
	} else if (IS("message_delta")) {
		const airi_value *d = airi_value_get(r, "delta");
		set(&a->stop_reason, airi_value_get(d, "stop_reason"));
		set(&a->stop_sequence, airi_value_get(d, "stop_sequence"));
		set_json(&a->usage, airi_value_get(r, "usage"));
	} else if (IS("error")) {
		a->error = 1;
		set_json(&a->error_body, r);
	}
#undef IS
}

void asm_event(struct assembler *a, const char *event, const char *data,
	       size_t n)
{
	airi_json *doc = NULL;
	(void)event;
	if (!a || n == 0 || (n == 6 && !memcmp(data, "[DONE]", 6)))
		return;
	if (airi_json_parse(data, n, &doc, NULL))
		return;
	a->nevents++;
	if (a->api == API_MESSAGES)
		anthropic_event(a, airi_json_root(doc));
	else if (a->api == API_RESPONSES)
		responses_event(a, airi_json_root(doc));
	else
		openai_chunk(a, airi_json_root(doc));
	airi_json_free(doc);
}

static void kbuf(airi__jw *w, const char *k, const airi__buf *b)
{
	airi__jw_key(w, k);
	if (b->n)
		airi__jw_strn(w, b->p, b->n);
	else
		airi__jw_null(w);
}

static void kjson(airi__jw *w, const char *k, const airi__buf *b)
{
	airi__jw_key(w, k);
	if (b->n)
		airi__jw_raw(w, b->p, b->n);
	else
		airi__jw_null(w);
}

void asm_envelope(struct assembler *a, const char **id, const char **model,
		  const char **fingerprint, long long *created)
{
	airi__buf *b[3] = {&a->id, &a->model, &a->fingerprint};
	const char **o[3] = {id, model, fingerprint};
	for (int i = 0; i < 3; i++) {
		if (b[i]->n && !airi__buf_addc(b[i], 0))
			b[i]->n--; /* NUL-terminated, length unchanged */
		*o[i] = b[i]->n ? b[i]->p : NULL;
	}
	*created = a->created;
}

char *asm_output(struct assembler *a, size_t *len)
{
	airi__jw w;
	if (a->api == API_RESPONSES) {
		if (a->final.n) {
			char *p = malloc(a->final.n + 1);
			if (p) {
				memcpy(p, a->final.p, a->final.n);
				p[a->final.n] = 0;
				*len = a->final.n;
			}
			return p;
		}
		/* no completed event: what we know */
		airi__jw_init(&w);
		airi__jw_obj(&w);
		kbuf(&w, "id", &a->id);
		kbuf(&w, "model", &a->model);
		airi__jw_key(&w, "status");
		airi__jw_str(&w, "incomplete_stream");
		airi__jw_end_obj(&w);
		return airi__jw_finish(&w, len);
	}
	airi__jw_init(&w);
	airi__jw_obj(&w);
	if (a->api == API_MESSAGES) {
		airi__jw_key(&w, "content");
		airi__jw_arr(&w);
		for (int i = 0; i < MAX_CHOICES * 4; i++) {
			struct block *b = a->blocks[i];
			if (!b || !b->used)
				continue;
			airi__jw_obj(&w);
			if (b->id.n)
				kbuf(&w, "id", &b->id);
			if (b->input.n) {
				/* the tool input as JSON when it parses */
				airi_json *doc = NULL;
				airi__jw_key(&w, "input");
				if (!airi_json_parse(b->input.p, b->input.n, &doc,
						     NULL))
					airi__jw_value(&w, airi_json_root(doc));
				else
					airi__jw_strn(&w, b->input.p, b->input.n);
				airi_json_free(doc);
			} else if (b->type.n == 8 && !memcmp(b->type.p, "tool_use", 8)) {
				airi__jw_key(&w, "input");
				airi__jw_raw(&w, "{}", 2);
			}
			if (b->name.n)
				kbuf(&w, "name", &b->name);
			if (b->signature.n)
				kbuf(&w, "signature", &b->signature);
			if (b->thinking.n)
				kbuf(&w, "thinking", &b->thinking);
			if (b->text.n || (b->type.n == 4 && !memcmp(b->type.p, "text", 4)))
				kbuf(&w, "text", &b->text);
			kbuf(&w, "type", &b->type);
			airi__jw_end_obj(&w);
		}
		airi__jw_end_arr(&w);
		if (a->error)
			kjson(&w, "error", &a->error_body);
		kbuf(&w, "id", &a->id);
		kbuf(&w, "model", &a->model);
		airi__jw_key(&w, "role");
		airi__jw_str(&w, "assistant");
		kbuf(&w, "stop_reason", &a->stop_reason);
		kbuf(&w, "stop_sequence", &a->stop_sequence);
		airi__jw_key(&w, "usage");
		airi__jw_obj(&w);
		airi__jw_key(&w, "final");
		if (a->usage.n)
			airi__jw_raw(&w, a->usage.p, a->usage.n);
		else
			airi__jw_null(&w);
		airi__jw_key(&w, "start");
		if (a->anth_usage_in.n)
			airi__jw_raw(&w, a->anth_usage_in.p, a->anth_usage_in.n);
		else
			airi__jw_null(&w);
		airi__jw_end_obj(&w);
		airi__jw_end_obj(&w);
		return airi__jw_finish(&w, len);
	}
	airi__jw_key(&w, "choices");
	airi__jw_arr(&w);
	for (int i = 0; i < MAX_CHOICES; i++) {
		struct choice *c = a->choices[i];
		if (!c || !c->used)
			continue;
		airi__jw_obj(&w);
		kbuf(&w, "finish_reason", &c->finish);
		airi__jw_key(&w, "index");
		airi__jw_int(&w, i);
		if (a->api == API_COMPLETIONS) {
			kbuf(&w, "text", &c->content);
			airi__jw_end_obj(&w);
			continue;
		}
		airi__jw_key(&w, "message");
		airi__jw_obj(&w);
		kbuf(&w, "content", &c->content);
		if (c->refusal.n)
			kbuf(&w, "refusal", &c->refusal);
		kbuf(&w, "role", &c->role);
		if (c->ntools) {
			airi__jw_key(&w, "tool_calls");
			airi__jw_arr(&w);
			for (int t = 0; t < c->ntools; t++) {
				struct tool *tl = &c->tools[t];
				airi__jw_obj(&w);
				airi__jw_key(&w, "function");
				airi__jw_obj(&w);
				kbuf(&w, "arguments", &tl->args);
				kbuf(&w, "name", &tl->name);
				airi__jw_end_obj(&w);
				kbuf(&w, "id", &tl->id);
				if (tl->type.n)
					kbuf(&w, "type", &tl->type);
				else {
					airi__jw_key(&w, "type");
					airi__jw_str(&w, "function");
				}
				airi__jw_end_obj(&w);
			}
			airi__jw_end_arr(&w);
		}
		airi__jw_end_obj(&w);
		airi__jw_end_obj(&w);
	}
	airi__jw_end_arr(&w);
	kbuf(&w, "id", &a->id);
	kbuf(&w, "model", &a->model);
	if (a->fingerprint.n)
		kbuf(&w, "system_fingerprint", &a->fingerprint);
	kjson(&w, "usage", &a->usage);
	airi__jw_end_obj(&w);
	return airi__jw_finish(&w, len);
}

/* ---- splitting a stream into events ------------------------------------- */

size_t sse_split(airi__buf *buf, void (*fn)(void *ctx, const char *ev, size_t n),
		 void *ctx)
{
	size_t start = 0, events = 0;
	for (size_t i = 0; i + 1 < buf->n; i++) {
		size_t end = 0;
		if (buf->p[i] == '\n' && buf->p[i + 1] == '\n')
			end = i + 2;
		else if (i + 3 < buf->n && !memcmp(buf->p + i, "\r\n\r\n", 4))
			end = i + 4;
		if (end) {
			fn(ctx, buf->p + start, end - start);
			events++;
			start = end;
			i = end - 1;
		}
	}
	if (start) {
		memmove(buf->p, buf->p + start, buf->n - start);
		buf->n -= start;
	}
	return events;
}

int sse_data(const char *ev, size_t n, airi__buf *data)
{
	for (size_t i = 0; i < n;) {
		const char *nl = memchr(ev + i, '\n', n - i);
		size_t l = nl ? (size_t)(nl - (ev + i)) : n - i;
		const char *line = ev + i;
		size_t ll = l && line[l - 1] == '\r' ? l - 1 : l;
		if (ll >= 5 && !memcmp(line, "data:", 5)) {
			size_t off = ll > 5 && line[5] == ' ' ? 6 : 5;
			if (data->n)
				airi__buf_addc(data, '\n');
			airi__buf_add(data, line + off, ll - off);
		}
		i += l + 1;
	}
	return data->n == 6 && !memcmp(data->p, "[DONE]", 6);
}
