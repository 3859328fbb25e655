/*
 * regress.c - comparing two cohorts of runs (airi regress): one scan of
 * each cohort over the runs' stored facts (section digests and outcome,
 * lib/outcome.c), never re-reading manifests, except the two section
 * values shown when a section's usual value changed.
 *
 * The report (canonical JSON, docs/airi.1 "regress --json"):
 *  - sections: for each standard condition section, its most frequent
 *    digests in each cohort with their shares; "changed" when the most
 *    frequent value differs or its share moved by more than 5 points,
 *    with the fields that differ between the two usual values; sections
 *    that vary per run (input, most often) are described, not judged;
 *  - models: the resolved (else requested) model names and their shares;
 *  - paired: runs of the after cohort whose input digest occurs in the
 *    before cohort, how many now have another output, and the examples
 *    whose output length moved most;
 *  - outcomes: failure rate, finish reasons, latency, output length,
 *    tool calls, output tokens, and every numeric label (scores): count,
 *    mean, percentiles, the difference of the means (after - before) with
 *    a 95% confidence interval (normal approximation: Wald for rates,
 *    Welch for means), and a histogram on common bins for plots.
 */
#define _GNU_SOURCE
#include "store.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* ---- small maps ------------------------------------------------------------ */

/* digest -> count, first run (open addressing, grows at half full) */
struct dent {
	airi_digest d;
	airi_digest run;
	uint64_t count;
	int used;
};
struct dmap {
	struct dent *e;
	size_t n, cap;
};

static uint64_t dkey(const airi_digest *d)
{
	uint64_t k;
	memcpy(&k, d->bytes, sizeof(k));
	return k;
}

static struct dent *dmap_add(struct dmap *m, const airi_digest *d,
			     const airi_digest *run)
{
	if ((m->n + 1) * 2 > m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 64;
		struct dent *ne = calloc(cap, sizeof(*ne));
		if (!ne)
			return NULL;
		for (size_t i = 0; i < m->cap; i++)
			if (m->e[i].used) {
				size_t k = dkey(&m->e[i].d) & (cap - 1);
				while (ne[k].used)
					k = (k + 1) & (cap - 1);
				ne[k] = m->e[i];
			}
		free(m->e);
		m->e = ne;
		m->cap = cap;
	}
	size_t k = dkey(d) & (m->cap - 1);
	while (m->e[k].used && !airi_digest_equal(&m->e[k].d, d))
		k = (k + 1) & (m->cap - 1);
	if (!m->e[k].used) {
		m->e[k].used = 1;
		m->e[k].d = *d;
		if (run)
			m->e[k].run = *run;
		m->n++;
	}
	return &m->e[k];
}

static const struct dent *dmap_get(const struct dmap *m, const airi_digest *d)
{
	if (!m->cap)
		return NULL;
	size_t k = dkey(d) & (m->cap - 1);
	while (m->e[k].used) {
		if (airi_digest_equal(&m->e[k].d, d))
			return &m->e[k];
		k = (k + 1) & (m->cap - 1);
	}
	return NULL;
}

/* string -> count (few distinct values: finish reasons, model names) */
#define SMAP_MAX 256
struct sent {
	char *s;
	uint64_t count;
};
struct smap {
	struct sent e[SMAP_MAX];
	size_t n;
	uint64_t other; /* beyond SMAP_MAX distinct values */
};

static void smap_add(struct smap *m, const char *s)
{
	for (size_t i = 0; i < m->n; i++)
		if (!strcmp(m->e[i].s, s)) {
			m->e[i].count++;
			return;
		}
	if (m->n == SMAP_MAX || !(m->e[m->n].s = strdup(s))) {
		m->other++;
		return;
	}
	m->e[m->n++].count = 1;
}

static void smap_free(struct smap *m)
{
	for (size_t i = 0; i < m->n; i++)
		free(m->e[i].s);
}

/* numbers: kept for percentiles */
struct nums {
	double *v;
	size_t n, cap;
	double sum, sumsq;
};

static int nums_add(struct nums *a, double x)
{
	if (a->n == a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 1024;
		double *nv = realloc(a->v, cap * sizeof(*nv));
		if (!nv)
			return AIRI_ENOMEM;
		a->v = nv;
		a->cap = cap;
	}
	a->v[a->n++] = x;
	a->sum += x;
	a->sumsq += x * x;
	return 0;
}

/* named score series (numeric labels) */
struct score {
	char *key;
	struct nums v;
};

/* ---- a cohort --------------------------------------------------------------- */

enum { M_LATENCY, M_CHARS, M_TOOLS, M_TOKENS, NMETRIC };
static const char *const metric_name[NMETRIC] = {"latency_ms", "out_chars",
						 "tool_calls", "out_tokens"};

struct pairv { /* the before cohort, by input digest */
	airi_digest out, run;
	int64_t chars;
	char summary[96];
};

struct cohort {
	const char *filter;
	uint64_t n, failed;
	struct dmap sec[AIRI__NSTD];
	struct smap models, finish;
	struct nums m[NMETRIC];
	struct score *scores;
	size_t nscores;
	int oom;
	/* before: input digest -> first run's output; after: pairing */
	struct dmap inputs;
	struct pairv *pv;
	size_t npv, pvcap;
	int keep_pairs;
	/* pairing results (after cohort) */
	const struct cohort *other;
	uint64_t pairs, differs;
	struct example {
		double weight;
		airi_digest input;
		struct pairv b, a;
	} *ex;
	size_t nex, maxex;
};

static void cohort_free(struct cohort *c)
{
	for (int k = 0; k < AIRI__NSTD; k++)
		free(c->sec[k].e);
	smap_free(&c->models);
	smap_free(&c->finish);
	for (int k = 0; k < NMETRIC; k++)
		free(c->m[k].v);
	for (size_t i = 0; i < c->nscores; i++) {
		free(c->scores[i].key);
		free(c->scores[i].v.v);
	}
	free(c->scores);
	free(c->inputs.e);
	free(c->pv);
	free(c->ex);
}

/* drops a UTF-8 sequence that a cut (snprintf into a fixed buffer) left
 * incomplete at the end of s */
static void utf8_tail(char *s)
{
	size_t n = strlen(s), i = n;
	while (i > 0 && ((unsigned char)s[i - 1] & 0xC0) == 0x80 && n - i < 3)
		i--;
	if (i == 0)
		return;
	unsigned char c = (unsigned char)s[i - 1];
	size_t want = c < 0x80 ? 1 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
	if (c >= 0x80 && n - (i - 1) < want)
		s[i - 1] = 0;
}

static void summary_of(const struct airi__scan *r, char *out, size_t cap)
{
	snprintf(out, cap, "%s", r->summary ? r->summary : "");
	utf8_tail(out);
}

static void consider_example(struct cohort *c, const airi_digest *input,
			     const struct pairv *b, const struct pairv *a)
{
	double w = fabs((double)(a->chars >= 0 ? a->chars : 0) -
			(double)(b->chars >= 0 ? b->chars : 0));
	if (!c->maxex)
		return;
	if (c->nex < c->maxex) {
		c->ex[c->nex++] = (struct example){w, *input, *b, *a};
		return;
	}
	size_t lo = 0; /* replace the lightest if this one is heavier */
	for (size_t i = 1; i < c->nex; i++)
		if (c->ex[i].weight < c->ex[lo].weight)
			lo = i;
	if (w > c->ex[lo].weight)
		c->ex[lo] = (struct example){w, *input, *b, *a};
}

static int on_run(void *ctx, const struct airi__scan *r)
{
	struct cohort *c = ctx;
	const struct airi__facts *f = &r->facts;
	c->n++;
	for (int k = 0; k < AIRI__NSTD; k++)
		if (f->has_sec[k]) {
			struct dent *e = dmap_add(&c->sec[k], &f->sec[k], &r->run);
			if (!e)
				return AIRI_ENOMEM;
			e->count++;
		}
	smap_add(&c->models, r->resolved ? r->resolved
				: r->model      ? r->model
						: "(none)");
	smap_add(&c->finish, f->finish[0] ? f->finish : "(unknown)");
	c->failed += f->failed != 0;
	int rc = 0;
	if (f->latency_ms >= 0)
		rc |= nums_add(&c->m[M_LATENCY], (double)f->latency_ms);
	if (f->out_chars >= 0)
		rc |= nums_add(&c->m[M_CHARS], (double)f->out_chars);
	rc |= nums_add(&c->m[M_TOOLS], (double)f->tool_calls);
	if (f->out_tokens >= 0)
		rc |= nums_add(&c->m[M_TOKENS], (double)f->out_tokens);
	if (rc)
		return AIRI_ENOMEM;
	/* input index 3 in airi__std_sections */
	if (!f->has_sec[3] || !f->has_out)
		return 0;
	struct pairv me;
	me.out = f->out;
	me.run = r->run;
	me.chars = f->out_chars;
	summary_of(r, me.summary, sizeof(me.summary));
	if (c->keep_pairs) {
		struct dent *e = dmap_add(&c->inputs, &f->sec[3], NULL);
		if (!e)
			return AIRI_ENOMEM;
		if (!e->count) { /* the first run with this input */
			if (c->npv == c->pvcap) {
				size_t cap = c->pvcap ? c->pvcap * 2 : 1024;
				struct pairv *np = realloc(c->pv, cap * sizeof(*np));
				if (!np)
					return AIRI_ENOMEM;
				c->pv = np;
				c->pvcap = cap;
			}
			e->count = c->npv + 1;
			c->pv[c->npv++] = me;
		}
	} else if (c->other) {
		const struct dent *e = dmap_get(&c->other->inputs, &f->sec[3]);
		if (e) {
			const struct pairv *b = &c->other->pv[e->count - 1];
			c->pairs++;
			if (!airi_digest_equal(&b->out, &f->out)) {
				c->differs++;
				consider_example(c, &f->sec[3], b, &me);
			}
		}
	}
	return 0;
}

struct score_ctx {
	struct cohort *c;
};

static int on_score(void *ctx, int64_t seq, const char *key, double num)
{
	struct cohort *c = ctx;
	(void)seq;
	size_t i = 0;
	while (i < c->nscores && strcmp(c->scores[i].key, key))
		i++;
	if (i == c->nscores) {
		if (c->nscores == 64)
			return 0; /* enough score kinds */
		struct score *ns = realloc(c->scores, (c->nscores + 1) * sizeof(*ns));
		if (!ns)
			return AIRI_ENOMEM;
		c->scores = ns;
		memset(&ns[i], 0, sizeof(*ns));
		if (!(ns[i].key = strdup(key)))
			return AIRI_ENOMEM;
		c->nscores++;
	}
	return nums_add(&c->scores[i].v, num);
}

/* ---- statistics -------------------------------------------------------------- */

static int dcmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double pct(const struct nums *a, double p)
{
	if (!a->n)
		return 0;
	size_t i = (size_t)floor(p * (double)(a->n - 1) + 0.5);
	return a->v[i < a->n ? i : a->n - 1];
}

static double mean(const struct nums *a)
{
	return a->n ? a->sum / (double)a->n : 0;
}

static double var(const struct nums *a)
{
	if (a->n < 2)
		return 0;
	double m = mean(a);
	double v = (a->sumsq - (double)a->n * m * m) / (double)(a->n - 1);
	return v > 0 ? v : 0;
}

/* a finite number (JSON has no NaN), rounded to 6 significant digits
 * so reports are stable to read */
static void jnum(airi__jw *w, double x)
{
	char t[64];
	if (!isfinite(x))
		x = 0;
	snprintf(t, sizeof(t), "%.6g", x);
	airi__jw_raw(w, t, strlen(t));
}

static void dist_block(airi__jw *w, const struct nums *a)
{
	airi__jw_obj(w);
	airi__jw_key(w, "mean");
	jnum(w, mean(a));
	airi__jw_key(w, "n");
	airi__jw_int(w, (long long)a->n);
	airi__jw_key(w, "p50");
	jnum(w, pct(a, 0.5));
	airi__jw_key(w, "p90");
	jnum(w, pct(a, 0.9));
	airi__jw_key(w, "p99");
	jnum(w, pct(a, 0.99));
	airi__jw_end_obj(w);
}

/* before/after, difference of means with a Welch 95% interval, and a
 * histogram on 20 common bins from the smaller minimum to the larger p99 */
static void metric_block(airi__jw *w, struct nums *b, struct nums *a)
{
	if (b->n)
		qsort(b->v, b->n, sizeof(double), dcmp);
	if (a->n)
		qsort(a->v, a->n, sizeof(double), dcmp);
	airi__jw_obj(w);
	airi__jw_key(w, "after");
	dist_block(w, a);
	airi__jw_key(w, "before");
	dist_block(w, b);
	if (a->n > 1 && b->n > 1) {
		double d = mean(a) - mean(b);
		double se = sqrt(var(a) / (double)a->n + var(b) / (double)b->n);
		airi__jw_key(w, "ci95");
		airi__jw_arr(w);
		jnum(w, d - 1.96 * se);
		jnum(w, d + 1.96 * se);
		airi__jw_end_arr(w);
		airi__jw_key(w, "diff");
		jnum(w, d);
	}
	if (a->n || b->n) {
		double lo = b->n ? b->v[0] : a->v[0];
		if (a->n && a->v[0] < lo)
			lo = a->v[0];
		double hi = b->n ? pct(b, 0.99) : pct(a, 0.99);
		if (a->n && pct(a, 0.99) > hi)
			hi = pct(a, 0.99);
		if (hi <= lo)
			hi = lo + 1;
		enum { BINS = 20 };
		uint64_t hb[BINS] = {0}, ha[BINS] = {0};
		for (int side = 0; side < 2; side++) {
			struct nums *x = side ? a : b;
			uint64_t *h = side ? ha : hb;
			for (size_t i = 0; i < x->n; i++) {
				int k = (int)((x->v[i] - lo) / (hi - lo) * BINS);
				h[k < 0 ? 0 : k >= BINS ? BINS - 1 : k]++;
			}
		}
		airi__jw_key(w, "histogram");
		airi__jw_obj(w);
		airi__jw_key(w, "after");
		airi__jw_arr(w);
		for (int k = 0; k < BINS; k++)
			airi__jw_int(w, (long long)ha[k]);
		airi__jw_end_arr(w);
		airi__jw_key(w, "before");
		airi__jw_arr(w);
		for (int k = 0; k < BINS; k++)
			airi__jw_int(w, (long long)hb[k]);
		airi__jw_end_arr(w);
		airi__jw_key(w, "edges");
		airi__jw_arr(w);
		for (int k = 0; k <= BINS; k++)
			jnum(w, lo + (hi - lo) * k / BINS);
		airi__jw_end_arr(w);
		airi__jw_end_obj(w);
	}
	airi__jw_end_obj(w);
}

static int scount_cmp(const void *x, const void *y)
{
	const struct sent *a = x, *b = y;
	return a->count < b->count ? 1 : a->count > b->count ? -1
							     : strcmp(a->s, b->s);
}

static void shares_block(airi__jw *w, struct smap *m, uint64_t n,
			 const char *what)
{
	qsort(m->e, m->n, sizeof(*m->e), scount_cmp);
	airi__jw_arr(w);
	for (size_t i = 0; i < m->n && i < 20; i++) {
		airi__jw_obj(w);
		airi__jw_key(w, "count");
		airi__jw_int(w, (long long)m->e[i].count);
		airi__jw_key(w, what);
		airi__jw_str(w, m->e[i].s);
		airi__jw_key(w, "share");
		jnum(w, n ? (double)m->e[i].count / (double)n : 0);
		airi__jw_end_obj(w);
	}
	airi__jw_end_arr(w);
}

static const struct smap *find_share(const struct smap *m, const char *s,
				     uint64_t *count)
{
	*count = 0;
	for (size_t i = 0; i < m->n; i++)
		if (!strcmp(m->e[i].s, s))
			*count = m->e[i].count;
	return m;
}

/* the top digests of a section, most frequent first */
struct top {
	const struct dent *e[5];
	size_t n;
};

/* more frequent first, then by digest (deterministic) */
static int better(const struct dent *a, const struct dent *b)
{
	return a->count > b->count ||
	       (a->count == b->count &&
		memcmp(a->d.bytes, b->d.bytes, AIRI_DIGEST_SIZE) < 0);
}

static void top_of(const struct dmap *m, struct top *t)
{
	t->n = 0;
	for (size_t i = 0; i < m->cap; i++) {
		const struct dent *e = &m->e[i];
		if (!e->used)
			continue;
		size_t k;
		if (t->n < 5)
			k = t->n++;
		else if (better(e, t->e[4]))
			k = 4;
		else
			continue;
		t->e[k] = e;
		for (; k > 0 && better(t->e[k], t->e[k - 1]); k--) {
			const struct dent *x = t->e[k - 1];
			t->e[k - 1] = t->e[k];
			t->e[k] = x;
		}
	}
}

static void top_block(airi__jw *w, const struct top *t, uint64_t n)
{
	airi__jw_arr(w);
	for (size_t i = 0; i < t->n; i++) {
		airi__jw_obj(w);
		airi__jw_key(w, "count");
		airi__jw_int(w, (long long)t->e[i]->count);
		airi__jw_key(w, "digest");
		airi__jw_digest(w, &t->e[i]->d);
		airi__jw_key(w, "share");
		jnum(w, n ? (double)t->e[i]->count / (double)n : 0);
		airi__jw_end_obj(w);
	}
	airi__jw_end_arr(w);
}

/* what differs between two values of a section: its field changes, from
 * the diff report of two one-section manifests */
static void section_changes(airi_store *s, const char *name,
			    const airi_digest *a, const airi_digest *b,
			    airi__jw *w, char *text, size_t cap)
{
	char *ba = NULL, *bb = NULL, *report = NULL;
	size_t na, nb, rn;
	airi__buf ma, mb;
	airi_manifest *A = NULL, *B = NULL;
	airi_json *doc = NULL;
	int same;
	text[0] = 0;
	airi__buf_init(&ma);
	airi__buf_init(&mb);
	if (airi_store_get_object(s, a, &ba, &na, NULL) ||
	    airi_store_get_object(s, b, &bb, &nb, NULL))
		goto out;
	airi__buf_printf(&ma, "{\"conditions\":{\"%s\":", name);
	airi__buf_add(&ma, ba, na);
	airi__buf_adds(&ma, "}}");
	airi__buf_printf(&mb, "{\"conditions\":{\"%s\":", name);
	airi__buf_add(&mb, bb, nb);
	airi__buf_adds(&mb, "}}");
	if (!ma.p || !mb.p ||
	    airi__manifest_parse_ex(ma.p, ma.n, AIRI__PARSE_CANONICAL, &A, NULL) ||
	    airi__manifest_parse_ex(mb.p, mb.n, AIRI__PARSE_CANONICAL, &B, NULL) ||
	    airi_run_diff(A, B, &same, &report, &rn) ||
	    airi_json_parse(report, rn, &doc, NULL))
		goto out;
	const airi_value *sec = airi_value_at(
		airi_value_get(airi_json_root(doc), "sections"), 0);
	const airi_value *ch = airi_value_get(sec, "changes");
	const airi_value *more = airi_value_get(sec, "more");
	size_t total = airi_value_count(ch) +
		       (size_t)(more ? airi_value_number(more) : 0);
	airi__jw_key(w, "changes");
	airi__jw_value(w, ch ? ch : airi_json_root(doc));
	size_t o = (size_t)snprintf(text, cap, "%zu field%s changed", total,
				    total == 1 ? "" : "s");
	for (size_t i = 0; i < airi_value_count(ch) && i < 3 && o < cap; i++) {
		size_t pn;
		const char *p = airi_value_string(
			airi_value_get(airi_value_at(ch, i), "pointer"), &pn);
		o += (size_t)snprintf(text + o, cap - o, "%s%.*s",
				      i ? ", " : " (", (int)(pn > 80 ? 80 : pn),
				      p && pn ? p : "(whole value)");
		if (i + 1 == airi_value_count(ch) || i == 2)
			o += (size_t)snprintf(text + o, cap - o, "%s)",
					      total > i + 1 ? ", ..." : "");
	}
out:
	utf8_tail(text);
	airi_json_free(doc);
	free(report);
	airi_manifest_free(A);
	airi_manifest_free(B);
	airi__buf_release(&ma);
	airi__buf_release(&mb);
	free(ba);
	free(bb);
}

static void cohort_block(airi__jw *w, const struct cohort *c)
{
	airi__jw_obj(w);
	airi__jw_key(w, "filter");
	airi__jw_str(w, c->filter ? c->filter : "");
	airi__jw_key(w, "runs");
	airi__jw_int(w, (long long)c->n);
	airi__jw_end_obj(w);
}

static void line(airi__jw *w, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void line(airi__jw *w, const char *fmt, ...)
{
	char t[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(t, sizeof(t), fmt, ap);
	va_end(ap);
	utf8_tail(t);
	airi__jw_str(w, t);
}

static int scan(airi_store *s, const char *filter, struct cohort *c,
		airi_error *err)
{
	struct airi__where w;
	int rc = airi__where_parse(filter, &w, err);
	if (rc)
		return rc;
	rc = airi__store_flush(s, err);
	if (!rc)
		rc = s->ops->scan(s->impl, &w, on_run, c, err);
	if (!rc)
		rc = s->ops->scores(s->impl, &w, on_score, c, err);
	airi__where_free(&w);
	if (rc == AIRI_ENOMEM)
		airi__err(err, rc, "out of memory");
	return rc;
}

int airi_regress(airi_store *s, const char *before, const char *after,
		 size_t examples, char **report, size_t *len, airi_error *err)
{
	struct cohort *B = calloc(1, sizeof(*B)), *A = calloc(1, sizeof(*A));
	airi__jw w;
	int rc = 0;
	if (!B || !A) {
		free(B);
		free(A);
		return airi__err(err, AIRI_ENOMEM, "out of memory");
	}
	if (!before || !*before || !after || !*after) {
		free(B);
		free(A);
		return airi__err(err, AIRI_EINVAL,
				 "both cohorts need a filter (e.g. "
				 "until=2026-06-01T00:00:00Z and "
				 "since=2026-06-01T00:00:00Z)");
	}
	B->filter = before;
	A->filter = after;
	B->keep_pairs = 1;
	A->other = B;
	A->maxex = examples;
	A->ex = examples ? calloc(examples, sizeof(*A->ex)) : NULL;
	if ((examples && !A->ex) || (rc = scan(s, before, B, err)) ||
	    (rc = scan(s, after, A, err))) {
		if (!rc)
			rc = airi__err(err, AIRI_ENOMEM, "out of memory");
		cohort_free(A);
		cohort_free(B);
		free(A);
		free(B);
		return rc;
	}

	airi__jw_init(&w);
	airi__jw_obj(&w);
	airi__jw_key(&w, "after");
	cohort_block(&w, A);
	airi__jw_key(&w, "before");
	cohort_block(&w, B);

	/* headline lines, gathered while the blocks are written */
	airi__jw lines;
	airi__jw_init(&lines);
	airi__jw_arr(&lines);
	if (!A->n || !B->n)
		line(&lines, "the %s cohort is empty: nothing to compare",
		     !B->n ? "before" : "after");

	/* the model names */
	airi__jw_key(&w, "models");
	airi__jw_obj(&w);
	airi__jw_key(&w, "after");
	shares_block(&w, &A->models, A->n, "name");
	airi__jw_key(&w, "before");
	shares_block(&w, &B->models, B->n, "name");
	airi__jw_end_obj(&w);
	if (A->n && B->n && A->models.n && B->models.n &&
	    strcmp(A->models.e[0].s, B->models.e[0].s)) {
		uint64_t ba, ab;
		find_share(&A->models, B->models.e[0].s, &ba);
		find_share(&B->models, A->models.e[0].s, &ab);
		line(&lines, "model: %s in %.0f%% before -> %s in %.0f%% after",
		     B->models.e[0].s, 100.0 * (double)B->models.e[0].count / (double)B->n,
		     A->models.e[0].s, 100.0 * (double)A->models.e[0].count / (double)A->n);
	}

	/* the condition sections */
	airi__jw_key(&w, "sections");
	airi__jw_arr(&w);
	for (int k = 0; k < AIRI__NSTD; k++) {
		struct top tb, ta;
		top_of(&B->sec[k], &tb);
		top_of(&A->sec[k], &ta);
		const char *name = airi__std_sections[k];
		airi__jw_obj(&w);
		airi__jw_key(&w, "after");
		top_block(&w, &ta, A->n);
		airi__jw_key(&w, "before");
		top_block(&w, &tb, B->n);
		airi__jw_key(&w, "distinct");
		airi__jw_obj(&w);
		airi__jw_key(&w, "after");
		airi__jw_int(&w, (long long)A->sec[k].n);
		airi__jw_key(&w, "before");
		airi__jw_int(&w, (long long)B->sec[k].n);
		airi__jw_end_obj(&w);
		airi__jw_key(&w, "name");
		airi__jw_str(&w, name);
		const char *state;
		char text[512] = "";
		double sb = tb.n ? (double)tb.e[0]->count / (double)B->n : 0;
		double sa = ta.n ? (double)ta.e[0]->count / (double)A->n : 0;
		if (!tb.n && !ta.n)
			state = "absent";
		else if (!A->n || !B->n)
			state = "absent"; /* an empty cohort: nothing to judge */
		else if (tb.n && ta.n && sb < 0.5 && sa < 0.5)
			state = "varies"; /* per run: not one usual value */
		else if (!tb.n || !ta.n)
			state = "changed";
		else if (!airi_digest_equal(&tb.e[0]->d, &ta.e[0]->d))
			state = "changed";
		else {
			const struct dent *same = dmap_get(&A->sec[k], &tb.e[0]->d);
			double now = same ? (double)same->count / (double)A->n : 0;
			state = fabs(now - sb) > 0.05 ? "shifted" : "unchanged";
		}
		if (!strcmp(state, "changed") && tb.n && ta.n)
			section_changes(s, name, &tb.e[0]->d, &ta.e[0]->d, &w, text,
					sizeof(text));
		airi__jw_key(&w, "state");
		airi__jw_str(&w, state);
		if (!strcmp(state, "changed"))
			line(&lines, "%s: changed%s%s (usual value %.0f%% before, "
				     "another in %.0f%% after)",
			     name, text[0] ? ": " : "", text, 100 * sb, 100 * sa);
		else if (!strcmp(state, "shifted"))
			line(&lines, "%s: the usual value went from %.0f%% to a "
				     "different share after",
			     name, 100 * sb);
		/* "varies" (the input, usually) is not a change: the table
		 * shows it, the headline does not */
		airi__jw_key(&w, "summary");
		airi__jw_str(&w, text);
		airi__jw_end_obj(&w);
	}
	airi__jw_end_arr(&w);

	/* paired comparison */
	airi__jw_key(&w, "paired");
	airi__jw_obj(&w);
	airi__jw_key(&w, "examples");
	airi__jw_arr(&w);
	for (size_t i = 0; i < A->nex; i++) {
		/* heaviest first */
		size_t best = i;
		for (size_t j = i + 1; j < A->nex; j++)
			if (A->ex[j].weight > A->ex[best].weight)
				best = j;
		struct example x = A->ex[best];
		A->ex[best] = A->ex[i];
		A->ex[i] = x;
		airi__jw_obj(&w);
		for (int side = 0; side < 2; side++) {
			const struct pairv *p = side ? &x.b : &x.a;
			airi__jw_key(&w, side ? "before" : "after");
			airi__jw_obj(&w);
			airi__jw_key(&w, "out_chars");
			airi__jw_int(&w, (long long)p->chars);
			airi__jw_key(&w, "run");
			airi__jw_digest(&w, &p->run);
			airi__jw_key(&w, "summary");
			airi__jw_str(&w, p->summary);
			airi__jw_end_obj(&w);
		}
		airi__jw_key(&w, "input");
		airi__jw_digest(&w, &x.input);
		airi__jw_end_obj(&w);
	}
	airi__jw_end_arr(&w);
	airi__jw_key(&w, "output_differs");
	airi__jw_int(&w, (long long)A->differs);
	airi__jw_key(&w, "pairs");
	airi__jw_int(&w, (long long)A->pairs);
	airi__jw_key(&w, "share");
	jnum(&w, A->pairs ? (double)A->differs / (double)A->pairs : 0);
	airi__jw_end_obj(&w);
	if (A->pairs)
		line(&lines, "paired: %llu runs after asked an input also asked "
			     "before; %llu (%.0f%%) now give another output",
		     (unsigned long long)A->pairs, (unsigned long long)A->differs,
		     100.0 * (double)A->differs / (double)A->pairs);

	/* outcomes */
	airi__jw_key(&w, "outcomes");
	airi__jw_obj(&w);
	airi__jw_key(&w, "failed");
	{
		double pb = B->n ? (double)B->failed / (double)B->n : 0;
		double pa = A->n ? (double)A->failed / (double)A->n : 0;
		airi__jw_obj(&w);
		airi__jw_key(&w, "after");
		airi__jw_obj(&w);
		airi__jw_key(&w, "count");
		airi__jw_int(&w, (long long)A->failed);
		airi__jw_key(&w, "rate");
		jnum(&w, pa);
		airi__jw_end_obj(&w);
		airi__jw_key(&w, "before");
		airi__jw_obj(&w);
		airi__jw_key(&w, "count");
		airi__jw_int(&w, (long long)B->failed);
		airi__jw_key(&w, "rate");
		jnum(&w, pb);
		airi__jw_end_obj(&w);
		if (A->n && B->n) {
			double d = pa - pb;
			double se = sqrt(pa * (1 - pa) / (double)A->n +
					 pb * (1 - pb) / (double)B->n);
			airi__jw_key(&w, "ci95");
			airi__jw_arr(&w);
			jnum(&w, d - 1.96 * se);
			jnum(&w, d + 1.96 * se);
			airi__jw_end_arr(&w);
			airi__jw_key(&w, "diff");
			jnum(&w, d);
			if (d - 1.96 * se > 0 || d + 1.96 * se < 0)
				line(&lines, "failures: %.1f%% before -> %.1f%% after "
					     "(95%% CI of the change %+.1f to %+.1f "
					     "points)",
				     100 * pb, 100 * pa, 100 * (d - 1.96 * se),
				     100 * (d + 1.96 * se));
		}
		airi__jw_end_obj(&w);
	}
	airi__jw_key(&w, "finish");
	airi__jw_obj(&w);
	airi__jw_key(&w, "after");
	shares_block(&w, &A->finish, A->n, "reason");
	airi__jw_key(&w, "before");
	shares_block(&w, &B->finish, B->n, "reason");
	airi__jw_end_obj(&w);
	for (int k = 0; k < NMETRIC; k++) {
		airi__jw_key(&w, metric_name[k]);
		metric_block(&w, &B->m[k], &A->m[k]);
		if (A->m[k].n > 1 && B->m[k].n > 1) {
			double d = mean(&A->m[k]) - mean(&B->m[k]);
			double se = sqrt(var(&A->m[k]) / (double)A->m[k].n +
					 var(&B->m[k]) / (double)B->m[k].n);
			if (d - 1.96 * se > 0 || d + 1.96 * se < 0)
				line(&lines, "%s: mean %.4g before -> %.4g after "
					     "(95%% CI of the change %+.4g to %+.4g)",
				     metric_name[k], mean(&B->m[k]), mean(&A->m[k]),
				     d - 1.96 * se, d + 1.96 * se);
		}
	}
	airi__jw_end_obj(&w);

	/* scores: every key either cohort has */
	airi__jw_key(&w, "scores");
	airi__jw_obj(&w);
	{
		struct nums empty = {0};
		for (int side = 0; side < 2; side++) {
			struct cohort *X = side ? A : B, *Y = side ? B : A;
			for (size_t i = 0; i < X->nscores; i++) {
				size_t j = 0;
				while (j < Y->nscores &&
				       strcmp(Y->scores[j].key, X->scores[i].key))
					j++;
				if (side && j < Y->nscores)
					continue; /* written with the before side */
				struct nums *nb = side ? &empty : &X->scores[i].v;
				struct nums *na = side ? &X->scores[i].v
						       : j < Y->nscores ? &Y->scores[j].v
									: &empty;
				airi__jw_key(&w, X->scores[i].key);
				metric_block(&w, nb, na);
				if (na->n > 1 && nb->n > 1) {
					double d = mean(na) - mean(nb);
					double se = sqrt(var(na) / (double)na->n +
							 var(nb) / (double)nb->n);
					if (d - 1.96 * se > 0 || d + 1.96 * se < 0)
					line(&lines, "score %s: mean %.4g before -> %.4g "
						     "after (95%% CI of the change "
						     "%+.4g to %+.4g)",
					     X->scores[i].key, mean(nb), mean(na),
					     d - 1.96 * se, d + 1.96 * se);
				}
			}
		}
	}
	airi__jw_end_obj(&w);

	airi__jw_end_arr(&lines);
	size_t ln;
	char *lt = airi__jw_finish(&lines, &ln);
	airi__jw_key(&w, "summary");
	if (lt)
		airi__jw_raw(&w, lt, ln);
	else
		airi__jw_null(&w);
	free(lt);
	airi__jw_end_obj(&w);

	size_t n;
	char *text = airi__jw_finish(&w, &n);
	cohort_free(A);
	cohort_free(B);
	free(A);
	free(B);
	if (!text)
		return airi__err(err, AIRI_ENOMEM, "out of memory");
	/* keys were written in a convenient order: canonicalize */
	airi_json *doc = NULL;
	rc = airi__json_parse_ex(text, n, AIRI__PARSE_CANONICAL, &doc, err);
	if (!rc)
		rc = airi_canon(airi_json_root(doc), report, len);
	airi_json_free(doc);
	free(text);
	return rc;
}
