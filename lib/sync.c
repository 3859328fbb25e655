/*
 * sync.c - copying runs between two stores of any backends (`airi push`,
 * `airi pull`). A run is rebuilt from the source's objects (which checks
 * every object against its digest and the whole against the run ID) and
 * recorded into the destination with the source's recording time, so its
 * objects, row, facts and log entry are the ones the source has: a full
 * copy into an empty store reproduces the source's log byte for byte
 * (same entries in the same order, the same roots). Runs the destination
 * already has are skipped (idempotent by run ID); labels are copied where
 * the destination's differ. Run keys, corpus trees and checkpoints are
 * not copied: the destination signs its own checkpoints.
 */
#define _GNU_SOURCE
#include "store.h"

#include <string.h>

#define SYNC_BATCH 500

struct sel {
	airi_digest run;
	int64_t recorded_ms;
	uint64_t order;
};

struct sync_ctx {
	airi_store *src, *dst;
	struct airi__sync_stats *st;
	airi_error *err;
	size_t in_batch;
	/* selected runs (filtered copies) */
	struct sel *v;
	size_t n, cap;
	int failed;
};

struct label_set {
	size_t n, cap;
	struct lab {
		char *key, *value;
		int has_score;
		double score;
		int64_t time_ms;
	} *v;
};

static void labels_free(struct label_set *ls)
{
	for (size_t i = 0; i < ls->n; i++) {
		free(ls->v[i].key);
		free(ls->v[i].value);
	}
	free(ls->v);
	memset(ls, 0, sizeof(*ls));
}

static int label_collect(void *ctx, const airi_label *l)
{
	struct label_set *ls = ctx;
	if (ls->n == ls->cap) {
		size_t cap = ls->cap ? ls->cap * 2 : 8;
		struct lab *nv = realloc(ls->v, cap * sizeof(*nv));
		if (!nv)
			return AIRI_ENOMEM;
		ls->v = nv;
		ls->cap = cap;
	}
	struct lab *x = &ls->v[ls->n];
	x->key = strdup(l->key);
	x->value = strdup(l->value);
	if (!x->key || !x->value) {
		free(x->key);
		free(x->value);
		return AIRI_ENOMEM;
	}
	x->has_score = l->has_score;
	x->score = l->score;
	x->time_ms = l->time_ms;
	ls->n++;
	return 0;
}

/* the source's labels of a run that the destination lacks or holds with
 * another value */
static int sync_labels(struct sync_ctx *c, const airi_digest *run)
{
	struct label_set a, b;
	int rc;
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	rc = c->src->ops->labels(c->src->impl, run, label_collect, &a, c->err);
	if (!rc && a.n)
		rc = c->dst->ops->labels(c->dst->impl, run, label_collect, &b,
					 c->err);
	if (rc == AIRI_ENOMEM)
		airi__err(c->err, rc, "out of memory");
	for (size_t i = 0; !rc && i < a.n; i++) {
		int same = 0;
		for (size_t j = 0; j < b.n && !same; j++)
			same = !strcmp(a.v[i].key, b.v[j].key) &&
			       !strcmp(a.v[i].value, b.v[j].value);
		if (same)
			continue;
		rc = c->dst->ops->label_put(c->dst->impl, run, a.v[i].key,
					    a.v[i].value,
					    a.v[i].has_score ? &a.v[i].score
							     : NULL,
					    a.v[i].time_ms, c->err);
		if (!rc)
			c->st->labels++;
	}
	labels_free(&a);
	labels_free(&b);
	return rc;
}

static int copy_one(struct sync_ctx *c, const airi_digest *run,
		    int64_t recorded_ms)
{
	int found = 0, rc;
	c->st->selected++;
	if (!c->dst->in_tx) {
		if ((rc = airi_store_begin(c->dst, c->err)))
			return rc;
		c->in_batch = 0;
	}
	if ((rc = c->dst->ops->has_run(c->dst->impl, run, &found, c->err)))
		return rc;
	if (!found) {
		airi_manifest *m = NULL;
		int created = 0;
		if ((rc = airi_store_fetch(c->src, run, &m, c->err)))
			return rc;
		rc = airi__store_record_at(c->dst, m, recorded_ms, &created,
					   c->err);
		airi_manifest_free(m);
		if (rc)
			return rc;
		if (created)
			c->st->copied++;
	}
	if ((rc = sync_labels(c, run)))
		return rc;
	if (++c->in_batch >= SYNC_BATCH) {
		c->in_batch = 0;
		return airi_store_commit(c->dst, c->err);
	}
	return 0;
}

static int each_all(void *ctx, const airi_digest *d, int64_t recorded_ms)
{
	return copy_one(ctx, d, recorded_ms);
}

static int collect(void *ctx, const airi_run_info *r)
{
	struct sync_ctx *c = ctx;
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 1024;
		struct sel *nv = realloc(c->v, cap * sizeof(*nv));
		if (!nv) {
			c->failed = 1;
			return AIRI_ENOMEM;
		}
		c->v = nv;
		c->cap = cap;
	}
	c->v[c->n].run = r->run;
	c->v[c->n].recorded_ms = r->recorded_ms;
	c->v[c->n].order = 0;
	c->n++;
	return 0;
}

static int by_order(const void *a, const void *b)
{
	const struct sel *x = a, *y = b;
	return x->order < y->order ? -1 : x->order > y->order;
}

static int filtered(const airi_filter *f)
{
	return f && (f->model || f->has_since || f->has_until ||
		     f->conditions || f->limit || (f->where && *f->where));
}

int airi__store_sync(airi_store *src, airi_store *dst, const airi_filter *f,
		     struct airi__sync_stats *st, airi_error *err)
{
	struct sync_ctx c;
	int rc;
	memset(st, 0, sizeof(*st));
	memset(&c, 0, sizeof(c));
	c.src = src;
	c.dst = dst;
	c.st = st;
	c.err = err;
	if (dst->in_tx || src->in_tx)
		return airi__err(err, AIRI_EINVAL,
				 "cannot sync inside a transaction");
	if ((rc = airi__store_flush(src, err)))
		return rc;
	if (!filtered(f)) {
		/* everything, in recording order, streamed */
		rc = src->ops->each_run(src->impl, each_all, &c, err);
	} else {
		/* the selection, then in the source's log order */
		rc = airi_store_list(src, f, collect, &c, err);
		if (rc == AIRI_ENOMEM && c.failed)
			airi__err(err, rc, "out of memory");
		for (size_t i = 0; !rc && i < c.n; i++) {
			uint64_t index;
			char *entry = NULL;
			size_t n;
			int r2 = src->ops->log_find(src->impl, &c.v[i].run, &index,
						    &entry, &n, err);
			free(entry);
			if (r2 == AIRI_ENOTFOUND)
				c.v[i].order = UINT64_MAX; /* fsck reports it */
			else if (r2)
				rc = r2;
			else
				c.v[i].order = index;
		}
		if (!rc)
			qsort(c.v, c.n, sizeof(*c.v), by_order);
		for (size_t i = 0; !rc && i < c.n; i++)
			rc = copy_one(&c, &c.v[i].run, c.v[i].recorded_ms);
	}
	if (!rc && dst->in_tx)
		rc = airi_store_commit(dst, err);
	if (rc)
		airi_store_rollback(dst);
	free(c.v);
	return rc;
}
