/*
 * group.c - agent runs: calls that carry the same W3C traceparent trace-id
 * (or, without one, the same Airi-Trace header) belong to one agent run.
 * Each model call is recorded as its own run as usual; the group collects
 * them into a trajectory - a model_call step per call (its run and
 * conditions IDs) and, between calls, a tool_call step for every tool the
 * model asked for whose result came back in the next request (arguments
 * from one response, result from the next request). When the group is
 * sealed (POST /airi/v1/groups/KEY/seal, an Airi-Seal: true header on a
 * call, --group-idle seconds without calls, or shutdown) it is recorded
 * as one grouped run: the first call's conditions, the trajectory, the
 * last call's output, and meta saying how and when it was sealed.
 *
 * The trajectory is built by the trajectory_* functions (proxy.h), which
 * `airi reproduce` uses too, so that the agent runs it records are built
 * exactly like the proxy's.
 */
#define _GNU_SOURCE
#include "proxy.h"

#include <event2/event.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

struct group {
	char key[136];
	struct groups *gs;
	struct trajectory t; /* t.start: the first call, t.end: the last */
	struct event *idle;
	struct group *next;
};

struct groups {
	struct event_base *base;
	struct writer *writer;
	int idle_s;
	struct group *list;
	void (*submit)(char *manifest, size_t len, void *reply, void *ctx);
	void *ctx;
};

static int64_t now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_REALTIME, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

struct groups *groups_new(struct event_base *base, int idle_s,
			  void (*submit)(char *, size_t, void *, void *),
			  void *ctx)
{
	struct groups *gs = calloc(1, sizeof(*gs));
	if (gs) {
		gs->base = base;
		gs->idle_s = idle_s;
		gs->submit = submit;
		gs->ctx = ctx;
	}
	return gs;
}

/* The group key of a request: the trace-id of a valid traceparent, else
 * Airi-Trace. Writes "" when the call belongs to no group. */
void group_key(const char *traceparent, const char *airi_trace, char out[136])
{
	out[0] = 0;
	if (traceparent && strlen(traceparent) >= 55 && traceparent[2] == '-' &&
	    traceparent[35] == '-') {
		int ok = 1;
		for (int i = 3; i < 35 && ok; i++)
			ok = (traceparent[i] >= '0' && traceparent[i] <= '9') ||
			     (traceparent[i] >= 'a' && traceparent[i] <= 'f');
		if (ok && strncmp(traceparent + 3,
				  "00000000000000000000000000000000", 32)) {
			snprintf(out, 136, "trace-%.32s", traceparent + 3);
			return;
		}
	}
	if (airi_trace && *airi_trace && strlen(airi_trace) <= 128) {
		for (const char *p = airi_trace; *p; p++)
			if (*p < 0x21 || *p > 0x7E)
				return;
		snprintf(out, 136, "%s", airi_trace);
	}
}

static void group_free(struct group *g)
{
	trajectory_release(&g->t);
	if (g->idle)
		event_free(g->idle);
	free(g);
}

/* ---- the trajectory (also airi reproduce's) ------------------------------ */

static void add_step(struct trajectory *t, airi__jw *w)
{
	size_t n;
	char *s = airi__jw_finish(w, &n);
	if (!s)
		return;
	if (t->nsteps++)
		airi__buf_addc(&t->steps, ',');
	airi__buf_add(&t->steps, s, n);
	free(s);
}

/* One tool call as {"arguments","id","name"}, null for what is missing. */
static void tool_call(airi__jw *w, const airi_value *args, const airi_value *id,
		      const airi_value *name)
{
	const airi_value *vals[3] = {args, id, name};
	static const char *const keys[3] = {"arguments", "id", "name"};
	airi__jw_obj(w);
	for (int k = 0; k < 3; k++) {
		airi__jw_key(w, keys[k]);
		if (vals[k])
			airi__jw_value(w, vals[k]);
		else
			airi__jw_null(w);
	}
	airi__jw_end_obj(w);
}

static int is_type(const airi_value *b, const char *type)
{
	size_t n;
	const char *t = airi_value_string(airi_value_get(b, "type"), &n);
	return t && n == strlen(type) && !memcmp(t, type, n);
}

char *group_tool_calls(const airi_value *out, size_t *len)
{
	airi__jw w;
	airi__jw_init(&w);
	airi__jw_arr(&w);
	const airi_value *chs = airi_value_get(out, "choices");
	for (size_t i = 0; i < airi_value_count(chs); i++) {
		const airi_value *tcs = airi_value_get(
			airi_value_get(airi_value_at(chs, i), "message"),
			"tool_calls");
		for (size_t j = 0; j < airi_value_count(tcs); j++) {
			const airi_value *tc = airi_value_at(tcs, j);
			const airi_value *f = airi_value_get(tc, "function");
			tool_call(&w, airi_value_get(f, "arguments"),
				  airi_value_get(tc, "id"), airi_value_get(f, "name"));
		}
	}
	const airi_value *content = airi_value_get(out, "content");
	if (airi_value_type(content) == AIRI_ARRAY)
		for (size_t i = 0; i < airi_value_count(content); i++) {
			const airi_value *b = airi_value_at(content, i);
			if (is_type(b, "tool_use"))
				tool_call(&w, airi_value_get(b, "input"),
					  airi_value_get(b, "id"),
					  airi_value_get(b, "name"));
		}
	const airi_value *items = airi_value_get(out, "output");
	if (airi_value_type(items) == AIRI_ARRAY)
		for (size_t i = 0; i < airi_value_count(items); i++) {
			const airi_value *b = airi_value_at(items, i);
			if (is_type(b, "function_call"))
				tool_call(&w, airi_value_get(b, "arguments"),
					  airi_value_get(b, "call_id"),
					  airi_value_get(b, "name"));
		}
	airi__jw_end_arr(&w);
	return airi__jw_finish(&w, len);
}

static int same_string(const airi_value *a, const airi_value *b)
{
	size_t an, bn;
	const char *x = airi_value_string(a, &an), *y = airi_value_string(b, &bn);
	return x && y && an == bn && !memcmp(x, y, an);
}

/* tool results in a new request, paired with the calls they answer */
static void pair_tool_results(struct trajectory *t, const airi_value *input)
{
	airi_json *pend = NULL;
	if (!t->pending.n ||
	    airi_json_parse(t->pending.p, t->pending.n, &pend, NULL))
		return;
	const airi_value *calls = airi_json_root(pend);
	const airi_value *msgs = airi_value_get(input, "messages");
	/* the Responses API's input items: {"type":"function_call_output",
	 * "call_id":..,"output":..} answer a function_call */
	const airi_value *items = airi_value_get(input, "input");
	if (airi_value_type(items) != AIRI_ARRAY)
		items = NULL;
	for (size_t c = 0; c < airi_value_count(calls); c++) {
		const airi_value *call = airi_value_at(calls, c);
		const airi_value *result = NULL;
		for (size_t i = 0; i < airi_value_count(msgs) && !result; i++) {
			const airi_value *m = airi_value_at(msgs, i);
			if (same_string(airi_value_get(m, "tool_call_id"),
					airi_value_get(call, "id")))
				result = airi_value_get(m, "content");
			const airi_value *parts = airi_value_get(m, "content");
			for (size_t k = 0; !result && airi_value_type(parts) == AIRI_ARRAY &&
					   k < airi_value_count(parts);
			     k++) {
				const airi_value *p = airi_value_at(parts, k);
				if (same_string(airi_value_get(p, "tool_use_id"),
						airi_value_get(call, "id")))
					result = airi_value_get(p, "content");
			}
		}
		for (size_t i = 0; i < airi_value_count(items) && !result; i++) {
			const airi_value *it = airi_value_at(items, i);
			if (is_type(it, "function_call_output") &&
			    same_string(airi_value_get(it, "call_id"),
					airi_value_get(call, "id")))
				result = airi_value_get(it, "output");
		}
		airi__jw w;
		airi__jw_init(&w);
		airi__jw_obj(&w);
		airi__jw_key(&w, "arguments");
		airi__jw_value(&w, airi_value_get(call, "arguments"));
		airi__jw_key(&w, "id");
		airi__jw_value(&w, airi_value_get(call, "id"));
		airi__jw_key(&w, "name");
		airi__jw_value(&w, airi_value_get(call, "name"));
		airi__jw_key(&w, "result");
		if (result)
			airi__jw_value(&w, result);
		else
			airi__jw_null(&w);
		airi__jw_key(&w, "type");
		airi__jw_str(&w, "tool_call");
		airi__jw_end_obj(&w);
		add_step(t, &w);
	}
	airi_json_free(pend);
	t->pending.n = 0;
}

void trajectory_add_call(struct trajectory *t, const airi_value *manifest,
			 const airi_digest *run, const airi_digest *conditions)
{
	const airi_value *cond = airi_value_get(manifest, "conditions");
	const airi_value *output = airi_value_get(manifest, "output");
	if (!t->calls)
		airi__canon_to_buf(cond, &t->conditions);
	pair_tool_results(t, airi_value_get(cond, "input"));
	airi__jw w;
	airi__jw_init(&w);
	airi__jw_obj(&w);
	airi__jw_key(&w, "conditions");
	airi__jw_digest(&w, conditions);
	airi__jw_key(&w, "run");
	airi__jw_digest(&w, run);
	airi__jw_key(&w, "type");
	airi__jw_str(&w, "model_call");
	airi__jw_end_obj(&w);
	add_step(t, &w);
	t->output.n = 0;
	if (output)
		airi__canon_to_buf(output, &t->output);
	size_t n;
	char *s = group_tool_calls(output, &n);
	t->pending.n = 0;
	if (s)
		airi__buf_add(&t->pending, s, n);
	free(s);
	t->calls++;
}

void trajectory_manifest(const struct trajectory *t, const char *group,
			 airi__buf *b)
{
	char ts[32];
	airi__buf_adds(b, "{\"conditions\":");
	airi__buf_add(b, t->conditions.p, t->conditions.n);
	airi__buf_adds(b, ",\"trajectory\":[");
	airi__buf_add(b, t->steps.p ? t->steps.p : "", t->steps.n);
	airi__buf_addc(b, ']');
	if (t->output.n) {
		airi__buf_adds(b, ",\"output\":");
		airi__buf_add(b, t->output.p, t->output.n);
	}
	airi__buf_adds(b, ",\"meta\":{");
	if (group) {
		airi__buf_adds(b, "\"group\":");
		airi__canon_string(b, group, strlen(group));
		airi__buf_addc(b, ',');
	}
	airi__buf_printf(b, "\"calls\":%zu", t->calls);
	airi__rfc3339_format(t->start, ts);
	airi__buf_printf(b, ",\"start\":\"%s\"", ts);
	airi__rfc3339_format(t->end, ts);
	airi__buf_printf(b, ",\"end\":\"%s\"", ts);
}

void trajectory_release(struct trajectory *t)
{
	airi__buf_release(&t->conditions);
	airi__buf_release(&t->output);
	airi__buf_release(&t->steps);
	airi__buf_release(&t->pending);
}

/* ---- collecting calls, sealing ------------------------------------------- */

static void seal(struct group *g, const char *why, void *reply);

static void on_idle(evutil_socket_t fd, short what, void *arg)
{
	struct group *g = arg;
	(void)fd;
	(void)what;
	seal(g, "idle", NULL);
}

static struct group *find(struct groups *gs, const char *key, int create)
{
	for (struct group *g = gs->list; g; g = g->next)
		if (!strcmp(g->key, key))
			return g;
	if (!create)
		return NULL;
	struct group *g = calloc(1, sizeof(*g));
	if (!g)
		return NULL;
	snprintf(g->key, sizeof(g->key), "%s", key);
	g->gs = gs;
	g->t.start = now_ms();
	g->idle = evtimer_new(gs->base, on_idle, g);
	g->next = gs->list;
	gs->list = g;
	return g;
}

void groups_add_call(struct groups *gs, const char *key, const char *manifest,
		     size_t len, const airi_digest *run,
		     const airi_digest *conditions, int seal_now)
{
	airi_json *doc = NULL;
	if (!gs || !key[0])
		return;
	struct group *g = find(gs, key, 1);
	if (!g || airi_json_parse(manifest, len, &doc, NULL))
		goto out;
	trajectory_add_call(&g->t, airi_json_root(doc), run, conditions);
	g->t.end = now_ms();
	struct timeval tv = {gs->idle_s, 0};
	evtimer_add(g->idle, &tv);
out:
	airi_json_free(doc);
	if (g && seal_now)
		seal(g, "explicit", NULL);
}

/* Builds the grouped run and hands it to the writer; forgets the group. */
static void seal(struct group *g, const char *why, void *reply)
{
	struct groups *gs = g->gs;
	for (struct group **p = &gs->list; *p; p = &(*p)->next)
		if (*p == g) {
			*p = g->next;
			break;
		}
	if (!g->t.calls) {
		group_free(g);
		return;
	}
	airi__buf b;
	airi__buf_init(&b);
	trajectory_manifest(&g->t, g->key, &b);
	airi__buf_printf(&b, ",\"sealed\":\"%s\"}}", why);
	size_t n;
	char *text = airi__buf_detach(&b, &n);
	if (text)
		gs->submit(text, n, reply, gs->ctx);
	group_free(g);
}

int groups_seal(struct groups *gs, const char *key, void *reply)
{
	struct group *g = gs ? find(gs, key, 0) : NULL;
	if (!g || !g->t.calls)
		return -1;
	seal(g, "explicit", reply);
	return 0;
}

void groups_seal_all(struct groups *gs, const char *why)
{
	while (gs && gs->list)
		seal(gs->list, why, NULL);
}

void groups_free(struct groups *gs)
{
	if (!gs)
		return;
	while (gs->list) {
		struct group *g = gs->list;
		gs->list = g->next;
		group_free(g);
	}
	free(gs);
}
