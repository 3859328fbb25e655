/*
 * batch.c - what happens between decoding a request and recording runs:
 *
 *  - obatch_check: every span gets its verdict (rejected with a reason, or
 *    its class): ids of the right length and not all zero, no span id twice
 *    in one trace of the request, no cycle in the parent links (a span that
 *    is its own ancestor). The walk over parent links marks what it has
 *    seen, so a cycle, however long, ends it: O(n log n) for n spans.
 *
 *  - agents: traces that contain agent, tool or retrieval spans become one
 *    grouped run each, across as many requests as the exporter splits the
 *    trace into. A trace's state is kept by trace id until it is sealed:
 *    when its local root span (no parent) has arrived and every model call
 *    of it is committed, after --group-idle seconds without a new span, when
 *    too many traces are open (the least recently active is sealed), or at
 *    shutdown. The grouped run has the conditions of the trace's first model
 *    call (by start time) plus an `agent` section, a trajectory of one step
 *    per span in start time order, the last model call's output, and meta
 *    naming the trace and why it was sealed.
 */
#define _GNU_SOURCE
#include "otel.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

/* ---- checks ------------------------------------------------------------------ */

static int zero(const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return 0;
	return 1;
}

static int by_trace_id(const void *a, const void *b, void *ctx)
{
	const struct ospan *sp = ctx;
	const struct ospan *x = &sp[*(const size_t *)a], *y = &sp[*(const size_t *)b];
	int c = memcmp(x->trace, y->trace, 16);
	if (!c)
		c = memcmp(x->id, y->id, 8);
	if (!c) /* the first in the request first */
		c = *(const size_t *)a < *(const size_t *)b ? -1 : 1;
	return c;
}

/* position in ix (sorted by trace, id) of the span with this trace and id */
static size_t find(const struct ospan *sp, const size_t *ix, size_t n,
		   const unsigned char *trace, const unsigned char *id)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct ospan *s = &sp[ix[mid]];
		int c = memcmp(s->trace, trace, 16);
		if (!c)
			c = memcmp(s->id, id, 8);
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < n && !memcmp(sp[ix[lo]].trace, trace, 16) &&
	    !memcmp(sp[ix[lo]].id, id, 8))
		return lo;
	return (size_t)-1;
}

size_t obatch_check(struct obatch *b)
{
	size_t rejected = 0, nv = 0;
	size_t *ix = malloc((b->n ? b->n : 1) * sizeof(*ix));
	size_t *parent = malloc((b->n ? b->n : 1) * sizeof(*parent));
	size_t *path = malloc((b->n ? b->n : 1) * sizeof(*path));
	unsigned char *state = calloc(b->n ? b->n : 1, 1);
	for (size_t i = 0; i < b->n; i++) {
		struct ospan *s = &b->spans[i];
		s->reject = NULL;
		if (s->trace_len != 16 || zero(s->trace, 16))
			s->reject = "invalid trace id (must be 16 bytes, not all zero)";
		else if (s->id_len != 8 || zero(s->id, 8))
			s->reject = "invalid span id (must be 8 bytes, not all zero)";
		else if (s->parent_len != 0 && s->parent_len != 8)
			s->reject = "invalid parent span id (must be empty or 8 bytes)";
		else if (s->parent_len == 8 && !memcmp(s->parent, s->id, 8))
			s->reject = "cyclic parent links (a span is its own parent)";
		if (s->parent_len == 8 && zero(s->parent, 8))
			s->parent_len = 0; /* all zero: no parent */
		s->root = !s->reject && s->parent_len == 0;
	}
	if (!ix || !parent || !path || !state) {
		/* no memory for the cycle check: refuse what it would vet */
		for (size_t i = 0; i < b->n; i++)
			if (!b->spans[i].reject && b->spans[i].parent_len)
				b->spans[i].reject = "not checked (out of memory)";
		goto out;
	}
	for (size_t i = 0; i < b->n; i++)
		if (!b->spans[i].reject)
			ix[nv++] = i;
	qsort_r(ix, nv, sizeof(*ix), by_trace_id, b->spans);
	/* duplicates: the first occurrence stays */
	for (size_t k = 1; k < nv; k++) {
		struct ospan *s = &b->spans[ix[k]], *p = &b->spans[ix[k - 1]];
		if (!memcmp(s->trace, p->trace, 16) && !memcmp(s->id, p->id, 8))
			s->reject = "duplicate span id in the request";
	}
	size_t m = 0;
	for (size_t k = 0; k < nv; k++)
		if (!b->spans[ix[k]].reject)
			ix[m++] = ix[k];
	nv = m;
	/* parent links within the request, by position in ix */
	for (size_t k = 0; k < nv; k++) {
		const struct ospan *s = &b->spans[ix[k]];
		parent[k] = s->parent_len ? find(b->spans, ix, nv, s->trace, s->parent)
					  : (size_t)-1;
	}
	/* state: 0 unseen, 1 on the current path, 2 done */
	for (size_t k = 0; k < nv; k++) {
		size_t np = 0, x = k;
		while (x != (size_t)-1 && state[x] == 0) {
			state[x] = 1;
			path[np++] = x;
			x = parent[x];
		}
		if (x != (size_t)-1 && state[x] == 1) {
			/* the path came back to itself: x and what follows it
			 * on the path form a cycle */
			int in = 0;
			for (size_t q = 0; q < np; q++) {
				if (path[q] == x)
					in = 1;
				if (in)
					b->spans[ix[path[q]]].reject =
						"cyclic parent links";
			}
		}
		for (size_t q = 0; q < np; q++)
			state[path[q]] = 2;
	}
out:
	for (size_t i = 0; i < b->n; i++) {
		struct ospan *s = &b->spans[i];
		if (s->reject) {
			rejected++;
			s->root = 0;
		} else {
			s->cls = otel_classify(s);
		}
	}
	free(ix);
	free(parent);
	free(path);
	free(state);
	return rejected;
}

/* ---- agent runs --------------------------------------------------------------- */

enum { IT_MODEL, IT_STEP, IT_AGENT };

struct item {
	uint64_t start, end;
	unsigned char id[8];
	int kind;
	char *step;    /* the trajectory step (JSON) */
	char *section; /* IT_AGENT: the agent section, or NULL */
};

struct trace {
	unsigned char id[16];
	struct trace *hnext;       /* hash chain */
	struct trace *prev, *next; /* by last activity, oldest first */
	int64_t last_ms;
	int root_seen, ready, pending;
	struct item *items;
	size_t n, cap, dropped;
	size_t calls, others; /* model calls; tool, retrieval, agent spans */
	uint64_t first_start, last_start, min_start, max_end;
	char *first, *last; /* manifests of the first and last model call */
	size_t first_len, last_len;
	struct trace *rnext; /* ready list */
};

struct agents {
	struct trace **tab;
	size_t nbuckets, count, max_open;
	struct trace *oldest, *newest, *ready;
	int idle_s;
	void (*submit)(char *manifest, size_t len, void *ctx);
	void *ctx;
};

#define MAX_ITEMS 100000 /* steps kept per trace */

static int64_t now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_REALTIME, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

struct agents *agents_new(int idle_s, size_t max_open,
			  void (*submit)(char *manifest, size_t len, void *ctx),
			  void *ctx)
{
	struct agents *as = calloc(1, sizeof(*as));
	if (!as)
		return NULL;
	as->nbuckets = 1024;
	as->tab = calloc(as->nbuckets, sizeof(*as->tab));
	if (!as->tab) {
		free(as);
		return NULL;
	}
	as->idle_s = idle_s;
	as->max_open = max_open;
	as->submit = submit;
	as->ctx = ctx;
	return as;
}

static size_t hash(const unsigned char *id, size_t nb)
{
	uint64_t h = 1469598103934665603ull;
	for (int i = 0; i < 16; i++)
		h = (h ^ id[i]) * 1099511628211ull;
	return (size_t)(h & (nb - 1));
}

static void lru_unlink(struct agents *as, struct trace *t)
{
	if (t->prev)
		t->prev->next = t->next;
	else
		as->oldest = t->next;
	if (t->next)
		t->next->prev = t->prev;
	else
		as->newest = t->prev;
	t->prev = t->next = NULL;
}

static void lru_append(struct agents *as, struct trace *t)
{
	t->prev = as->newest;
	t->next = NULL;
	if (as->newest)
		as->newest->next = t;
	else
		as->oldest = t;
	as->newest = t;
}

static void trace_free(struct trace *t)
{
	for (size_t i = 0; i < t->n; i++) {
		free(t->items[i].step);
		free(t->items[i].section);
	}
	free(t->items);
	free(t->first);
	free(t->last);
	free(t);
}

/* removes t from the table, the activity list and the ready list */
static void forget(struct agents *as, struct trace *t)
{
	for (struct trace **p = &as->tab[hash(t->id, as->nbuckets)]; *p; p = &(*p)->hnext)
		if (*p == t) {
			*p = t->hnext;
			break;
		}
	lru_unlink(as, t);
	if (t->ready)
		for (struct trace **p = &as->ready; *p; p = &(*p)->rnext)
			if (*p == t) {
				*p = t->rnext;
				break;
			}
	as->count--;
}

static void seal(struct agents *as, struct trace *t, const char *why);

static void grow(struct agents *as)
{
	size_t nb = as->nbuckets * 2;
	struct trace **tab = calloc(nb, sizeof(*tab));
	if (!tab)
		return;
	for (size_t i = 0; i < as->nbuckets; i++)
		for (struct trace *t = as->tab[i], *next; t; t = next) {
			next = t->hnext;
			size_t h = hash(t->id, nb);
			t->hnext = tab[h];
			tab[h] = t;
		}
	free(as->tab);
	as->tab = tab;
	as->nbuckets = nb;
}

static struct trace *lookup(struct agents *as, const unsigned char *id, int create)
{
	for (struct trace *t = as->tab[hash(id, as->nbuckets)]; t; t = t->hnext)
		if (!memcmp(t->id, id, 16))
			return t;
	if (!create)
		return NULL;
	/* too many open: the least recently active one is sealed first */
	while (as->count >= as->max_open && as->oldest)
		seal(as, as->oldest, "capacity");
	if (as->count >= as->nbuckets)
		grow(as);
	struct trace *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	memcpy(t->id, id, 16);
	t->first_start = t->min_start = UINT64_MAX;
	size_t h = hash(id, as->nbuckets);
	t->hnext = as->tab[h];
	as->tab[h] = t;
	lru_append(as, t);
	as->count++;
	return t;
}

static void touch(struct agents *as, struct trace *t, const struct ospan *s)
{
	t->last_ms = now_ms();
	lru_unlink(as, t);
	lru_append(as, t);
	if (s->start < t->min_start)
		t->min_start = s->start;
	if (s->end > t->max_end)
		t->max_end = s->end;
}

static void mark_ready(struct agents *as, struct trace *t)
{
	if (t->root_seen && !t->pending && !t->ready) {
		t->ready = 1;
		t->rnext = as->ready;
		as->ready = t;
	}
}

static void add_item(struct trace *t, const struct ospan *s, int kind,
		     char *step, char *section)
{
	if (!step || t->n >= MAX_ITEMS) {
		t->dropped++;
		free(step);
		free(section);
		return;
	}
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 8;
		struct item *it = realloc(t->items, cap * sizeof(*it));
		if (!it) {
			t->dropped++;
			free(step);
			free(section);
			return;
		}
		t->items = it;
		t->cap = cap;
	}
	struct item *it = &t->items[t->n++];
	it->start = s->start;
	it->end = s->end;
	memcpy(it->id, s->id, 8);
	it->kind = kind;
	it->step = step;
	it->section = section;
	if (kind == IT_MODEL)
		t->calls++;
	else
		t->others++;
}

void agents_add(struct agents *as, const struct ospan *s, int pending)
{
	if (!as)
		return;
	struct trace *t = lookup(as, s->trace, s->cls != SC_OTHER);
	if (!t)
		return;
	touch(as, t, s);
	size_t n;
	if (s->cls == SC_INFERENCE)
		t->pending += pending;
	else if (s->cls == SC_AGENT)
		add_item(t, s, IT_AGENT, otel_step(s, &n), otel_agent_section(s, &n));
	else if (s->cls != SC_OTHER)
		add_item(t, s, IT_STEP, otel_step(s, &n), NULL);
	if (s->root)
		t->root_seen = 1;
	mark_ready(as, t);
}

static char *copy(const char *p, size_t n)
{
	char *c = malloc(n + 1);
	if (c) {
		memcpy(c, p, n);
		c[n] = 0;
	}
	return c;
}

void agents_model_done(struct agents *as, const struct ospan *s,
		       const char *manifest, size_t len, int ok)
{
	struct trace *t = as ? lookup(as, s->trace, 0) : NULL;
	if (!t)
		return;
	if (t->pending > 0)
		t->pending--;
	if (ok) {
		airi__jw w;
		size_t n;
		airi__jw_init(&w);
		airi__jw_obj(&w);
		airi__jw_key(&w, "conditions");
		airi__jw_digest(&w, &s->conditions);
		airi__jw_key(&w, "run");
		airi__jw_digest(&w, &s->run);
		airi__jw_key(&w, "type");
		airi__jw_str(&w, "model_call");
		airi__jw_end_obj(&w);
		add_item(t, s, IT_MODEL, airi__jw_finish(&w, &n), NULL);
		if (s->start < t->first_start || !t->first) {
			char *c = copy(manifest, len);
			if (c) {
				free(t->first);
				t->first = c;
				t->first_len = len;
				t->first_start = s->start;
			}
		}
		if (s->start >= t->last_start || !t->last) {
			char *c = copy(manifest, len);
			if (c) {
				free(t->last);
				t->last = c;
				t->last_len = len;
				t->last_start = s->start;
			}
		}
	}
	mark_ready(as, t);
}

static int item_cmp(const void *a, const void *b)
{
	const struct item *x = a, *y = b;
	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	if (x->end != y->end)
		return x->end < y->end ? -1 : 1;
	return memcmp(x->id, y->id, 8);
}

static void seal(struct agents *as, struct trace *t, const char *why)
{
	forget(as, t);
	if (!t->calls || !t->others || !t->first) {
		trace_free(t); /* a plain model call, or no model call at all */
		return;
	}
	qsort(t->items, t->n, sizeof(*t->items), item_cmp);
	/* a span sent twice (an exporter's retry) is one step */
	size_t kept = 0;
	for (size_t i = 0; i < t->n; i++) {
		if (kept && t->items[kept - 1].kind == t->items[i].kind &&
		    !item_cmp(&t->items[kept - 1], &t->items[i])) {
			free(t->items[i].step);
			free(t->items[i].section);
			if (t->items[i].kind == IT_MODEL)
				t->calls--;
			continue;
		}
		t->items[kept++] = t->items[i];
	}
	t->n = kept;
	/* the outermost agent: the first agent span that names one */
	const char *agent = NULL;
	size_t agent_item = (size_t)-1;
	for (size_t i = 0; i < t->n; i++)
		if (t->items[i].kind == IT_AGENT && t->items[i].section) {
			agent = t->items[i].section;
			agent_item = i;
			break;
		}
	airi_json *first = NULL, *last = NULL;
	if (airi_json_parse(t->first, t->first_len, &first, NULL)) {
		trace_free(t);
		return;
	}
	if (t->last && airi_json_parse(t->last, t->last_len, &last, NULL))
		last = NULL;
	const airi_value *cond = airi_value_get(airi_json_root(first), "conditions");
	const airi_value *out = last ? airi_value_get(airi_json_root(last), "output") : NULL;
	airi__buf b;
	char h[33], tm[32];
	airi__buf_init(&b);
	airi__buf_adds(&b, "{\"conditions\":{");
	int nsec = 0;
	for (size_t i = 0; i < airi_value_count(cond); i++) {
		size_t kn;
		const char *k = airi_value_key_at(cond, i, &kn);
		if (kn == 5 && !memcmp(k, "agent", 5))
			continue;
		if (nsec++)
			airi__buf_addc(&b, ',');
		airi__canon_string(&b, k, kn);
		airi__buf_addc(&b, ':');
		airi__canon_to_buf(airi_value_at(cond, i), &b);
	}
	if (agent) {
		airi__buf_adds(&b, nsec ? ",\"agent\":" : "\"agent\":");
		airi__buf_adds(&b, agent);
	}
	airi__buf_adds(&b, "},\"trajectory\":[");
	int firststep = 1;
	for (size_t i = 0; i < t->n; i++) {
		if (i == agent_item)
			continue;
		if (!firststep)
			airi__buf_addc(&b, ',');
		airi__buf_adds(&b, t->items[i].step);
		firststep = 0;
	}
	airi__buf_addc(&b, ']');
	if (out) {
		airi__buf_adds(&b, ",\"output\":");
		airi__canon_to_buf(out, &b);
	}
	otel_hex(t->id, 16, h);
	airi__buf_printf(&b, ",\"meta\":{\"source\":\"otlp\",\"group\":\"trace-%s\","
			     "\"trace_id\":\"%s\",\"calls\":%zu,\"steps\":%zu",
			 h, h, t->calls, t->n - (agent_item != (size_t)-1));
	if (t->dropped)
		airi__buf_printf(&b, ",\"steps_dropped\":%zu", t->dropped);
	if (t->min_start != UINT64_MAX && t->min_start) {
		airi__rfc3339_format((int64_t)(t->min_start / 1000000), tm);
		airi__buf_printf(&b, ",\"start\":\"%s\"", tm);
	}
	if (t->max_end) {
		airi__rfc3339_format((int64_t)(t->max_end / 1000000), tm);
		airi__buf_printf(&b, ",\"end\":\"%s\"", tm);
	}
	airi__buf_printf(&b, ",\"sealed\":\"%s\"}}", why);
	size_t n;
	char *text = airi__buf_detach(&b, &n);
	airi_json_free(first);
	airi_json_free(last);
	trace_free(t);
	if (text)
		as->submit(text, n, as->ctx);
}

void agents_flush(struct agents *as)
{
	while (as && as->ready) {
		struct trace *t = as->ready;
		seal(as, t, "root");
	}
}

void agents_tick(struct agents *as, int64_t now)
{
	if (!as)
		return;
	struct trace *t = as->oldest;
	while (t && t->last_ms + (int64_t)as->idle_s * 1000 <= now) {
		struct trace *next = t->next;
		/* a model call still being recorded: wait for it */
		if (!t->pending)
			seal(as, t, "idle");
		t = next;
	}
}

void agents_seal_all(struct agents *as, const char *why)
{
	while (as && as->oldest)
		seal(as, as->oldest, why);
}

size_t agents_open(const struct agents *as)
{
	return as ? as->count : 0;
}

void agents_free(struct agents *as)
{
	if (!as)
		return;
	while (as->oldest) {
		struct trace *t = as->oldest;
		forget(as, t);
		trace_free(t);
	}
	free(as->tab);
	free(as);
}
