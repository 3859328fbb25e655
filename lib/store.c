/*
 * store.c - the backend-independent half of the store: choosing a backend
 * from a location, recording a manifest as content-addressed objects plus a
 * run row, resolving ID prefixes, rebuilding manifests and checking
 * integrity. Backends (store_sqlite.c, ...) only move bytes and rows.
 */
#define _GNU_SOURCE
#include "store.h"

#include <stdio.h>
#include <string.h>
#include <sys/time.h>

/* Digests known to be stored, so that shared objects (a system prompt used
 * by a million runs) are not re-inserted for every run: a direct-mapped
 * table, cleared on rollback since rolled-back objects are gone. */
#define KNOWN_SLOTS 65536


static void pend_drop(airi_store *s);
static int pend_flush(airi_store *s, airi_error *err);

static size_t known_slot(const airi_digest *d)
{
	uint32_t h;
	memcpy(&h, d->bytes, sizeof(h));
	return h % KNOWN_SLOTS;
}

static int known_has(airi_store *s, const airi_digest *d)
{
	return s->known &&
	       airi_digest_equal(&s->known[known_slot(d)], d);
}

static void known_add(airi_store *s, const airi_digest *d)
{
	if (s->known)
		s->known[known_slot(d)] = *d;
}

static void known_clear(airi_store *s)
{
	if (s->known)
		memset(s->known, 0, KNOWN_SLOTS * sizeof(airi_digest));
}

char *airi_store_default_location(void)
{
	const char *e = getenv("AIRI_STORE");
	char *out = NULL;
	if (e && *e)
		return strdup(e);
	e = getenv("XDG_DATA_HOME");
	if (e && *e == '/') {
		if (asprintf(&out, "%s/airi/airi.db", e) < 0)
			return NULL;
		return out;
	}
	e = getenv("HOME");
	if (!e || !*e)
		e = ".";
	if (asprintf(&out, "%s/.local/share/airi/airi.db", e) < 0)
		return NULL;
	return out;
}

static int backfill_one(void *ctx, const airi_digest *d, int64_t ms)
{
	void **c = ctx;
	airi_store *s = c[0];
	uint64_t index;
	int rc = airi__log_next(s, &index, c[1]);
	if (!rc)
		rc = s->ops->set_log_index(s->impl, d, index, c[1]);
	if (!rc)
		rc = airi__log_append(s, index, d, ms, c[1]);
	return rc;
}

/* A store from before the log (schema 1) gets its runs appended to the
 * log once, in recording order, with their recording times. */
static int backfill(airi_store *s, airi_error *err)
{
	char *v = NULL;
	int rc = s->ops->setting_get(s->impl, "log_backfill", &v, err);
	if (rc == AIRI_ENOTFOUND)
		return 0;
	if (rc)
		return rc;
	int pending = !strcmp(v, "pending");
	free(v);
	if (!pending)
		return 0;
	void *ctx[2] = {s, err};
	if ((rc = s->ops->begin(s->impl, err)))
		return rc;
	if ((rc = s->ops->each_run(s->impl, backfill_one, ctx, err)) ||
	    (rc = s->ops->setting_put(s->impl, "log_backfill", "done", err)) ||
	    (rc = s->ops->commit(s->impl, err)))
		s->ops->rollback(s->impl);
	return rc;
}

static int facts_one(void *ctx, const airi_digest *d, int64_t ms)
{
	void **c = ctx;
	airi_store *s = c[0];
	airi_manifest *m = NULL;
	struct airi__facts f;
	(void)ms;
	int rc = airi_store_fetch(s, d, &m, c[1]);
	if (rc == AIRI_ENOTFOUND || rc == AIRI_ECORRUPT)
		return 0; /* fsck reports those; the facts stay unknown */
	if (rc)
		return rc;
	airi__run_facts(m, &f);
	rc = s->ops->set_facts(s->impl, d, &f, c[1]);
	airi_manifest_free(m);
	return rc;
}

/* A store from before the run facts (schema < 4) gets them once. */
static int backfill_facts(airi_store *s, airi_error *err)
{
	char *v = NULL;
	int rc = s->ops->setting_get(s->impl, "facts_backfill", &v, err);
	if (rc == AIRI_ENOTFOUND)
		return 0;
	if (rc)
		return rc;
	int pending = !strcmp(v, "pending");
	free(v);
	if (!pending)
		return 0;
	void *ctx[2] = {s, err};
	if ((rc = s->ops->begin(s->impl, err)))
		return rc;
	if ((rc = s->ops->each_run(s->impl, facts_one, ctx, err)) ||
	    (rc = s->ops->setting_put(s->impl, "facts_backfill", "done", err)) ||
	    (rc = s->ops->commit(s->impl, err)))
		s->ops->rollback(s->impl);
	return rc;
}

const struct airi__store_ops *airi__store_backend(const char *location,
						  const char **rest)
{
	*rest = location;
	if (!strncmp(location, "sqlite:", 7)) {
		*rest = location + 7;
		return &airi__sqlite_ops;
	}
	if (airi__pg_location(location))
		return &airi__pg_ops;
	return &airi__sqlite_ops;
}

int airi_store_open(const char *location, unsigned flags, airi_store **out,
		    airi_error *err)
{
	const struct airi__store_ops *ops;
	airi_store *s;
	int rc;
	if (!location || !*location)
		return airi__err(err, AIRI_EINVAL, "empty store location");
	ops = airi__store_backend(location, &location);
	s = calloc(1, sizeof(*s));
	if (!s)
		return airi__err(err, AIRI_ENOMEM, "out of memory");
	s->ops = ops;
	rc = ops->open(location, flags, &s->impl, err);
	if (rc) {
		free(s);
		return rc;
	}
	s->known = calloc(KNOWN_SLOTS, sizeof(airi_digest)); /* optional */
	if (!(flags & AIRI_STORE_READONLY) &&
	    ((rc = backfill(s, err)) || (rc = backfill_facts(s, err)))) {
		airi_store_close(s);
		return rc;
	}
	*out = s;
	return 0;
}

int airi__store_migrate(const char *location, int target, int *from,
			int *to, const char **backend, airi_error *err)
{
	const struct airi__store_ops *ops;
	const char *rest;
	airi_store *s = NULL;
	int rc;
	if (!location || !*location)
		return airi__err(err, AIRI_EINVAL, "empty store location");
	ops = airi__store_backend(location, &rest);
	if (backend)
		*backend = ops->name;
	if (!ops->migrate)
		return airi__err(err, AIRI_EINVAL,
				 "the %s backend has no migrations", ops->name);
	if ((rc = ops->migrate(rest, target, from, to, err)))
		return rc;
	if (*to != ops->version)
		return 0; /* a partial migration (tests): not openable */
	/* opening runs the back-fills a migration may have asked for */
	if (!(rc = airi_store_open(location, 0, &s, err)))
		airi_store_close(s);
	return rc;
}

int airi__store_compact(const char *location, unsigned page_size,
			struct airi__compacted *out, const char **backend,
			airi_error *err)
{
	const char *rest;
	memset(out, 0, sizeof(*out));
	if (!location || !*location)
		return airi__err(err, AIRI_EINVAL, "empty store location");
	const struct airi__store_ops *ops = airi__store_backend(location, &rest);
	if (backend)
		*backend = ops->name;
	if (!ops->compact)
		return airi__err(err, AIRI_EINVAL,
				 "the %s backend has no compact (it manages "
				 "its own space)",
				 ops->name);
	return ops->compact(rest, page_size, out, err);
}

void airi_store_close(airi_store *s)
{
	if (!s)
		return;
	if (s->in_tx)
		s->ops->rollback(s->impl);
	pend_drop(s);
	free(s->pend);
	s->ops->close(s->impl);
	free(s->known);
	free(s);
}

int airi_store_set_cache(airi_store *s, unsigned mib)
{
	if (!s || !mib || !s->ops->set_cache)
		return 0;
	return s->ops->set_cache(s->impl, mib);
}

int airi_store_begin(airi_store *s, airi_error *err)
{
	int rc;
	if (s->in_tx)
		return airi__err(err, AIRI_EINVAL,
				 "a transaction is already open");
	rc = s->ops->begin(s->impl, err);
	airi__log_uncache(s);
	if (!rc)
		s->in_tx = 1;
	return rc;
}

int airi_store_commit(airi_store *s, airi_error *err)
{
	int rc;
	if (!s->in_tx)
		return airi__err(err, AIRI_EINVAL, "no transaction is open");
	rc = pend_flush(s, err);
	if (!rc)
		rc = s->ops->commit(s->impl, err);
	if (rc) {
		s->ops->rollback(s->impl);
		known_clear(s);
	}
	airi__log_uncache(s);
	s->in_tx = 0;
	return rc;
}

int airi_store_rollback(airi_store *s)
{
	if (!s || !s->in_tx)
		return 0;
	pend_drop(s);
	s->ops->rollback(s->impl);
	known_clear(s);
	airi__log_uncache(s);
	s->in_tx = 0;
	return 0;
}

/*
 * Pending objects: a bulk import inserts millions of objects whose keys
 * (digests) are uniformly random, so each insert touches a random page of
 * the digest index. Inside an explicit transaction objects are buffered
 * instead and written in digest order when the buffer fills and before
 * the commit: neighbouring inserts then share index pages. Anything that
 * reads objects flushes first, so the buffer is never observable.
 */
#define PEND_MAX_OBJS 65536
#define PEND_MAX_BYTES ((size_t)64 << 20)

static int pend_cmp(const void *a, const void *b)
{
	return memcmp(((const struct pending_obj *)a)->d.bytes,
		      ((const struct pending_obj *)b)->d.bytes, AIRI_DIGEST_SIZE);
}

static void pend_drop(airi_store *s)
{
	for (size_t i = 0; i < s->npend; i++)
		free(s->pend[i].body);
	s->npend = 0;
	s->pend_bytes = 0;
}

static int pend_flush(airi_store *s, airi_error *err)
{
	int rc = 0;
	if (!s->npend)
		return 0;
	qsort(s->pend, s->npend, sizeof(*s->pend), pend_cmp);
	/* the same object twice (two digests shared a slot of the known
	 * table): once */
	size_t k = 0;
	for (size_t i = 0; i < s->npend; i++) {
		if (k && !pend_cmp(&s->pend[k - 1], &s->pend[i])) {
			free(s->pend[i].body);
			continue;
		}
		s->pend[k++] = s->pend[i];
	}
	s->npend = k;
	if (s->ops->put_objects)
		rc = s->ops->put_objects(s->impl, s->pend, s->npend, err);
	else
		for (size_t i = 0; i < s->npend && !rc; i++)
			rc = s->ops->put_object(s->impl, &s->pend[i].d,
						s->pend[i].body, s->pend[i].n,
						err);
	pend_drop(s);
	return rc;
}

static int put_bytes(airi_store *s, const airi_digest *d, const char *p,
		     size_t n, airi_error *err)
{
	if (!s->in_tx && !s->buffering)
		return s->ops->put_object(s->impl, d, p, n, err);
	if (s->npend == s->pend_cap) {
		size_t cap = s->pend_cap ? s->pend_cap * 2 : 1024;
		struct pending_obj *np = realloc(s->pend, cap * sizeof(*np));
		if (!np)
			return airi__err(err, AIRI_ENOMEM, "out of memory");
		s->pend = np;
		s->pend_cap = cap;
	}
	char *copy = malloc(n ? n : 1);
	if (!copy)
		return airi__err(err, AIRI_ENOMEM, "out of memory");
	memcpy(copy, p, n);
	s->pend[s->npend++] = (struct pending_obj){*d, copy, n};
	s->pend_bytes += n;
	if (s->npend >= PEND_MAX_OBJS || s->pend_bytes >= PEND_MAX_BYTES)
		return pend_flush(s, err);
	return 0;
}

int airi__store_put(airi_store *s, const airi_digest *d, const char *p,
		    size_t n, airi_error *err)
{
	if (known_has(s, d))
		return 0;
	int rc = put_bytes(s, d, p, n, err);
	if (!rc)
		known_add(s, d);
	return rc;
}

int airi__store_flush(airi_store *s, airi_error *err)
{
	return pend_flush(s, err);
}

int airi__store_setting(airi_store *s, const char *key, char **value,
			airi_error *err)
{
	int rc = pend_flush(s, err);
	return rc ? rc : s->ops->setting_get(s->impl, key, value, err);
}

int airi__store_set_setting(airi_store *s, const char *key, const char *value,
			    airi_error *err)
{
	return s->ops->setting_put(s->impl, key, value, err);
}

/* A value of m (kind and index as for airi__manifest_kept): its canonical
 * bytes as the parse kept them (AIRI__PARSE_KEEP_CANON), else made now. */
static int put_value(airi_store *s, const airi_manifest *m, int kind, size_t i,
		     const airi_value *v, const airi_digest *d, airi__buf *b,
		     airi_error *err)
{
	int rc;
	const char *kp;
	size_t kn;
	if (known_has(s, d))
		return 0;
	if (airi__manifest_kept(m, kind, i, &kp, &kn))
		rc = put_bytes(s, d, kp, kn, err);
	else {
		b->n = 0;
		if ((rc = airi__canon_to_buf(v, b)))
			return airi__err(err, rc, "cannot canonicalize: %s",
					 airi_strerror(rc));
		rc = put_bytes(s, d, b->p, b->n, err);
	}
	if (!rc)
		known_add(s, d);
	return rc;
}

static int put_built(airi_store *s,
		     int (*build)(const airi_manifest *, airi__buf *),
		     const airi_manifest *m, const airi_digest *d, airi__buf *b,
		     airi_error *err)
{
	int rc;
	if (known_has(s, d))
		return 0;
	b->n = 0;
	if ((rc = build(m, b)))
		return airi__err(err, rc, "out of memory");
	rc = put_bytes(s, d, b->p, b->n, err);
	if (!rc)
		known_add(s, d);
	return rc;
}

static int64_t now_ms(void)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static int record_objects(airi_store *s, const airi_manifest *m,
			  airi_error *err)
{
	airi__buf b;
	int rc = 0;
	airi__buf_init(&b);
	for (size_t i = 0; !rc && i < airi_manifest_section_count(m); i++)
		rc = put_value(s, m, AIRI__KEPT_SECTION, i,
			       airi_manifest_section_value(m, i),
			       airi_manifest_section_digest(m, i), &b, err);
	if (!rc)
		rc = put_built(s, airi__conditions_object, m,
			       airi_manifest_conditions_id(m), &b, err);
	if (!rc && airi_manifest_trajectory(m)) {
		for (size_t i = 0; !rc && i < airi_manifest_step_count(m); i++)
			rc = put_value(s, m, AIRI__KEPT_STEP, i,
				       airi_value_at(airi_manifest_trajectory(m),
						     i),
				       airi_manifest_step_digest(m, i), &b, err);
		if (!rc)
			rc = put_built(s, airi__trajectory_object, m,
				       airi_manifest_trajectory_digest(m), &b,
				       err);
	}
	if (!rc && airi_manifest_output(m))
		rc = put_value(s, m, AIRI__KEPT_OUTPUT, 0, airi_manifest_output(m),
			       airi_manifest_output_digest(m), &b, err);
	if (!rc && airi_manifest_meta(m))
		rc = put_value(s, m, AIRI__KEPT_META, 0, airi_manifest_meta(m),
			       airi_manifest_meta_digest(m), &b, err);
	if (!rc)
		rc = put_built(s, airi__run_object, m, airi_manifest_run_id(m),
			       &b, err);
	airi__buf_release(&b);
	return rc;
}

/*
 * Recording: the run row goes in first (INSERT OR IGNORE on its ID), so a
 * run that is already there costs one lookup and writes nothing; only a
 * new run gets its objects and its log entry, all in one transaction.
 * Outside an explicit transaction a read-only check comes first, so that
 * re-recording does not even take the write lock.
 */
int airi_store_record(airi_store *s, const airi_manifest *m, int *created,
		      airi_error *err)
{
	return airi__store_record_at(s, m, -1, created, err);
}

/* What recording derives from the manifest alone (airi__store_prepare
 * makes it ahead of time; run_rec_init otherwise) */
struct prep {
	int has_time;
	int64_t time_ms;
	char *model, *resolved;
	char summary[128];
	struct airi__facts facts;
};

static void prep_free(void *p)
{
	struct prep *x = p;
	if (x) {
		free(x->model);
		free(x->resolved);
		free(x);
	}
}

static void prep_fill(struct prep *x, const airi_manifest *m)
{
	const char *name, *res;
	size_t nl, rl, sn;
	int64_t t;
	const airi_value *start = airi_value_get(airi_manifest_meta(m), "start");
	if (!start)
		start = airi_value_get(airi_manifest_meta(m), "started_at");
	const char *ss = airi_value_string(start, &sn);
	if (ss && airi__rfc3339_parse(ss, sn, &t) == 0) {
		x->has_time = 1;
		x->time_ms = t;
	}
	airi__manifest_model(m, &name, &nl, &res, &rl);
	if (name)
		x->model = strndup(name, nl);
	if (res)
		x->resolved = strndup(res, rl);
	airi__output_summary(m, x->summary, sizeof(x->summary));
	airi__run_facts(m, &x->facts);
}

int airi__store_prepare(airi_manifest *m)
{
	struct prep *x = calloc(1, sizeof(*x));
	if (!x)
		return AIRI_ENOMEM;
	prep_fill(x, m);
	airi__manifest_set_prep(m, x, prep_free);
	return 0;
}

/* The row of a run: its strings and facts are the manifest's prep
 * (airi__store_prepare), or the record's own when it had none */
struct run_rec {
	struct airi__run_row row;
	struct prep own;
};

static void run_rec_init(struct run_rec *r, const airi_manifest *m,
			 int64_t recorded_ms)
{
	const struct prep *x = airi__manifest_prep(m);
	memset(r, 0, sizeof(*r));
	if (!x) {
		prep_fill(&r->own, m);
		x = &r->own;
	}
	r->row.run = *airi_manifest_run_id(m);
	r->row.conditions = *airi_manifest_conditions_id(m);
	r->row.recorded_ms = recorded_ms >= 0 ? recorded_ms : now_ms();
	r->row.time_ms = x->has_time ? x->time_ms : r->row.recorded_ms;
	r->row.model = x->model;
	r->row.resolved = x->resolved;
	r->row.summary = x->summary;
	r->row.facts = &x->facts;
}

static void run_rec_release(struct run_rec *r)
{
	free(r->own.model);
	free(r->own.resolved);
}

int airi__store_record_at(airi_store *s, const airi_manifest *m,
			  int64_t recorded_ms, int *created, airi_error *err)
{
	int found = 0, made = 0, rc, own_tx = !s->in_tx;
	if (own_tx) {
		if ((rc = s->ops->has_run(s->impl, airi_manifest_run_id(m),
					  &found, err)))
			return rc;
		if (found) {
			if (created)
				*created = 0;
			return 0;
		}
		if ((rc = s->ops->begin(s->impl, err)))
			return rc;
	}
	struct run_rec rec;
	run_rec_init(&rec, m, recorded_ms);
	rc = airi__log_next(s, &rec.row.log_index, err);
	if (!rc)
		rc = s->ops->put_run(s->impl, &rec.row, &made, err);
	if (!rc && made)
		rc = record_objects(s, m, err);
	if (!rc && made)
		rc = airi__log_append(s, rec.row.log_index, &rec.row.run,
				      rec.row.recorded_ms, err);
	run_rec_release(&rec);
	if (own_tx) {
		if (!rc)
			rc = s->ops->commit(s->impl, err);
		if (rc) {
			s->ops->rollback(s->impl);
			known_clear(s);
		}
		airi__log_uncache(s);
	}
	if (!rc && created)
		*created = made;
	return rc;
}

/* one at a time, for backends without put_runs */
static int record_loop(airi_store *s, airi_manifest *const *m, size_t n,
		       int64_t recorded_ms, int *created, airi_error *err)
{
	int rc = 0, own = !s->in_tx;
	if (own && (rc = airi_store_begin(s, err)))
		return rc;
	for (size_t i = 0; i < n && !rc; i++)
		rc = airi__store_record_at(s, m[i], recorded_ms,
					   created ? &created[i] : NULL, err);
	if (own) {
		if (!rc)
			rc = airi_store_commit(s, err);
		else
			airi_store_rollback(s);
	}
	return rc;
}

/* The perfect subtrees left of index `first` that appending there hashes
 * with (for each set bit l of first, the node (l, (first >> l) - 1)),
 * read at once into the transaction's frontier instead of one at a time
 * by the appends. A failure only leaves them to be read one at a time. */
static void prefetch_frontier(airi_store *s, uint64_t first)
{
	int level[64];
	uint64_t index[64];
	unsigned char out[64][AIRI_HASH_SIZE];
	size_t n = 0;
	if (!s->ops->nodes_get || !s->in_tx)
		return;
	for (int l = 0; l < 64 && (first >> l); l++) {
		uint64_t want = (first >> l) - 1;
		if (!((first >> l) & 1) ||
		    (s->frontier[l].valid && s->frontier[l].index == want))
			continue;
		level[n] = l;
		index[n++] = want;
	}
	if (!n || s->ops->nodes_get(s->impl, n, level, index, out, NULL))
		return;
	for (size_t i = 0; i < n; i++) {
		s->frontier[level[i]].index = index[i];
		s->frontier[level[i]].valid = 1;
		memcpy(s->frontier[level[i]].hash, out[i], AIRI_HASH_SIZE);
	}
}

static int rec_cmp(const void *a, const void *b)
{
	const struct run_rec *x = *(struct run_rec *const *)a;
	const struct run_rec *y = *(struct run_rec *const *)b;
	int c = memcmp(x->row.run.bytes, y->row.run.bytes, AIRI_DIGEST_SIZE);
	/* the first of equal runs first (records are in one array) */
	return c ? c : (x < y ? -1 : x > y);
}

/*
 * A batch: every row is made and every object canonicalized first, with
 * no lock held; the objects are written (outside a transaction: in one
 * of their own, before the store's write lock is taken); then, in the
 * locked transaction, one statement tells which runs are new and inserts
 * them, and the new runs are appended to the log in input order. The
 * objects of runs that turn out to be stored already are written again,
 * which changes nothing (they are content-addressed). A crash between
 * the two transactions leaves objects that no run names: the next record
 * of those runs writes them again.
 */
int airi__store_record_many(airi_store *s, airi_manifest *const *m, size_t n,
			    int64_t recorded_ms, int *created, airi_error *err)
{
	if (!n)
		return 0;
	if (recorded_ms < 0)
		recorded_ms = now_ms();
	if (!s->ops->put_runs)
		return record_loop(s, m, n, recorded_ms, created, err);
	int rc = 0, own = !s->in_tx;
	struct run_rec *rec = calloc(n, sizeof(*rec));
	struct run_rec **order = calloc(n, sizeof(*order));
	struct airi__run_row *rows = calloc(n, sizeof(*rows));
	int *made = calloc(n, sizeof(*made));
	size_t *slot = calloc(n, sizeof(*slot)); /* rec i -> rows[slot[i]] */
	unsigned char *dup = calloc(n, 1);
	size_t k = 0;
	uint64_t first = 0;
	if (!rec || !order || !rows || !made || !slot || !dup) {
		rc = airi__err(err, AIRI_ENOMEM, "out of memory");
		goto done;
	}
	for (size_t i = 0; i < n; i++) {
		run_rec_init(&rec[i], m[i], recorded_ms);
		order[i] = &rec[i];
	}
	/* a run given twice is recorded once, at its first place */
	qsort(order, n, sizeof(*order), rec_cmp);
	for (size_t i = 1; i < n; i++)
		if (airi_digest_equal(&order[i]->row.run, &order[i - 1]->row.run))
			dup[order[i] - rec] = 1;
	s->buffering = 1;
	for (size_t i = 0; i < n && !rc; i++) {
		if (dup[i])
			continue;
		slot[i] = k;
		rows[k++] = rec[i].row;
		rc = record_objects(s, m[i], err);
	}
	s->buffering = 0;
	if (own) {
		if (!rc)
			rc = pend_flush(s, err); /* objects, unlocked */
		if (rc) {
			pend_drop(s);
			known_clear(s);
			goto done;
		}
		if ((rc = airi_store_begin(s, err)))
			goto done;
	}
	if (!rc)
		rc = airi__log_next(s, &first, err);
	if (!rc)
		rc = s->ops->put_runs(s->impl, rows, k, first, made, err);
	for (size_t j = 0; j < k && !rc; j++)
		if (made[j]) {
			prefetch_frontier(s, rows[j].log_index);
			break;
		}
	for (size_t j = 0; j < k && !rc; j++)
		if (made[j])
			rc = airi__log_append(s, rows[j].log_index, &rows[j].run,
					      rows[j].recorded_ms, err);
	if (own) {
		if (!rc)
			rc = airi_store_commit(s, err);
		else
			airi_store_rollback(s);
	}
	if (!rc && created)
		for (size_t i = 0; i < n; i++)
			created[i] = dup[i] ? 0 : made[slot[i]];
	/* The objects' own transaction is made durable by the commit of a
	 * run that names them (the WAL is flushed in order, store_pg.c). A
	 * commit that created no run flushes nothing, so those objects may
	 * still be lost in a crash: forget that they were written. */
	if (own && !rc) {
		int any = 0;
		for (size_t j = 0; j < k; j++)
			any |= made[j];
		if (!any)
			known_clear(s);
	}
done:
	if (rc && own)
		known_clear(s); /* objects written early may be lost */
	if (rec)
		for (size_t i = 0; i < n; i++)
			run_rec_release(&rec[i]);
	free(rec);
	free(order);
	free(rows);
	free(made);
	free(slot);
	free(dup);
	return rc;
}

int airi__prefix_range(const char *id, airi_digest *lo, airi_digest *hi,
		       size_t *nibbles)
{
	size_t n;
	if (!strncmp(id, "sha256:", 7))
		id += 7;
	n = strlen(id);
	if (n > 64)
		return AIRI_EINVAL;
	memset(lo->bytes, 0, sizeof(lo->bytes));
	memset(hi->bytes, 0xFF, sizeof(hi->bytes));
	for (size_t i = 0; i < n; i++) {
		char c = id[i];
		int v = c >= '0' && c <= '9'   ? c - '0'
			: c >= 'a' && c <= 'f' ? c - 'a' + 10
			: c >= 'A' && c <= 'F' ? c - 'A' + 10
					       : -1;
		if (v < 0)
			return AIRI_EINVAL;
		if (i % 2 == 0) {
			lo->bytes[i / 2] = (unsigned char)(v << 4);
			hi->bytes[i / 2] = (unsigned char)(v << 4 | 0x0F);
		} else {
			lo->bytes[i / 2] |= (unsigned char)v;
			hi->bytes[i / 2] =
				(unsigned char)((hi->bytes[i / 2] & 0xF0) | v);
		}
	}
	*nibbles = n;
	return 0;
}

static int valid_run_key(const char *k)
{
	size_t n = strlen(k);
	if (n < 1 || n > 100)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((k[i] >= 'a' && k[i] <= 'z') || (k[i] >= 'A' && k[i] <= 'Z') ||
		      (k[i] >= '0' && k[i] <= '9') || k[i] == '_' || k[i] == '-'))
			return 0;
	return 1;
}

int airi_store_bind_key(airi_store *s, const char *key, const airi_digest *run,
			airi_error *err)
{
	char name[128], hex[AIRI_DIGEST_STRLEN];
	if (!valid_run_key(key))
		return airi__err(err, AIRI_EINVAL, "invalid run key");
	snprintf(name, sizeof(name), "runkey:%s", key);
	airi_digest_format(run, hex);
	return s->ops->setting_put(s->impl, name, hex, err);
}

int airi_store_resolve(airi_store *s, const char *id, airi_digest *out,
		       airi_error *err)
{
	/* run keys ("rk_...") first */
	if (!strncmp(id, "rk_", 3) && valid_run_key(id)) {
		char name[128], *v = NULL;
		snprintf(name, sizeof(name), "runkey:%s", id);
		int rc = s->ops->setting_get(s->impl, name, &v, err);
		if (rc == AIRI_ENOTFOUND)
			return airi__err(err, AIRI_ENOTFOUND,
					 "no run is bound to key %s (yet)", id);
		if (rc)
			return rc;
		rc = airi_digest_parse(v, out);
		free(v);
		return rc ? airi__err(err, AIRI_ECORRUPT, "bad run key binding")
			  : 0;
	}
	airi_digest lo, hi, found[8];
	size_t nib, n = 0;
	int rc;
	if (airi__prefix_range(id, &lo, &hi, &nib))
		return airi__err(err, AIRI_EINVAL,
				 "invalid ID \"%.80s\": expected hex digits, "
				 "optionally after \"sha256:\"",
				 id);
	if (nib < 6)
		return airi__err(err, AIRI_EINVAL,
				 "ID prefix \"%.80s\" is too short: give at "
				 "least 6 hex digits",
				 id);
	if ((rc = s->ops->find_runs(s->impl, &lo, &hi, found, 8, &n, err)))
		return rc;
	if (n == 0)
		return airi__err(err, AIRI_ENOTFOUND, "no run %.80s in the store",
				 id);
	if (n > 1) {
		char list[600] = "";
		size_t len = 0;
		for (size_t i = 0; i < n && i < 7; i++) {
			char d[AIRI_DIGEST_STRLEN];
			airi_digest_format(&found[i], d);
			len += (size_t)snprintf(list + len, sizeof(list) - len,
						"%s%s", i ? ", " : "", d);
			if (len >= sizeof(list))
				break;
		}
		return airi__err(err, AIRI_EAMBIGUOUS,
				 "ID prefix %.80s is ambiguous; candidates: "
				 "%s%s",
				 id, list, n > 7 ? ", ..." : "");
	}
	*out = found[0];
	return 0;
}

int airi_store_get_object(airi_store *s, const airi_digest *d, char **body,
			  size_t *len, airi_error *err)
{
	int rc = pend_flush(s, err);
	if (rc)
		return rc;
	return s->ops->get_object(s->impl, d, body, len, err);
}

static int get_parsed(airi_store *s, const airi_digest *d, char **body,
		      size_t *n, airi_json **doc, airi_error *err)
{
	int rc = s->ops->get_object(s->impl, d, body, n, err);
	if (rc)
		return rc;
	rc = airi__json_parse_ex(*body, *n, AIRI__PARSE_CANONICAL, doc, NULL);
	if (rc) {
		char h[AIRI_DIGEST_STRLEN];
		airi_digest_format(d, h);
		free(*body);
		*body = NULL;
		return airi__err(err, AIRI_ECORRUPT,
				 "stored object %s is not valid JSON", h);
	}
	return 0;
}

/* The digest named by a string value of a stored object; tmp receives its
 * text. AIRI_ECORRUPT when it is not a digest. */
static int value_digest(const airi_value *v, airi_digest *d, char tmp[80],
			airi_error *err)
{
	size_t n;
	const char *p = airi_value_string(v, &n);
	if (!p || n >= 80)
		return airi__err(err, AIRI_ECORRUPT,
				 "stored object refers to a malformed digest");
	memcpy(tmp, p, n);
	tmp[n] = 0;
	if (airi_digest_parse(tmp, d))
		return airi__err(err, AIRI_ECORRUPT,
				 "stored object refers to a malformed digest");
	return 0;
}

static int get_into(airi_store *s, const airi_value *digest_str,
		    airi__buf *b, airi_error *err)
{
	airi_digest d;
	char tmp[80];
	char *body = NULL;
	size_t bn;
	int rc;
	if ((rc = value_digest(digest_str, &d, tmp, err)))
		return rc;
	if ((rc = s->ops->get_object(s->impl, &d, &body, &bn, err))) {
		if (rc == AIRI_ENOTFOUND)
			return airi__err(err, AIRI_ECORRUPT,
					 "object %s is missing from the store",
					 tmp);
		return rc;
	}
	rc = airi__buf_add(b, body, bn);
	free(body);
	return rc;
}

/*
 * Rebuilding: the run object names the conditions object (which names each
 * section), the trajectory object (which names each step), the output and
 * the meta. Every body is canonical and the members are written in sorted
 * order, so the assembled text is the canonical manifest. Parsing it again
 * recomputes the run ID, which must equal the one asked for.
 */
int airi_store_fetch(airi_store *s, const airi_digest *run,
		     airi_manifest **out, airi_error *err)
{
	char *rbody = NULL, *cbody = NULL, *tbody = NULL;
	size_t rn, cn, tn;
	airi_json *rdoc = NULL, *cdoc = NULL, *tdoc = NULL;
	airi__buf b;
	int rc;
	char hex[AIRI_DIGEST_STRLEN];
	airi_digest_format(run, hex);
	airi__buf_init(&b);
	if ((rc = pend_flush(s, err)))
		return rc;
	if ((rc = get_parsed(s, run, &rbody, &rn, &rdoc, err))) {
		if (rc == AIRI_ENOTFOUND)
			airi__err(err, rc, "no run %s in the store", hex);
		goto done;
	}
	const airi_value *r = airi_json_root(rdoc);
	const airi_value *cid = airi_value_get(r, "conditions");
	if (!cid) {
		rc = airi__err(err, AIRI_ECORRUPT,
			       "stored run %s has no conditions", hex);
		goto done;
	}
	{
		airi_digest cd;
		char tmp[80];
		if ((rc = value_digest(cid, &cd, tmp, err)))
			goto done;
		if ((rc = get_parsed(s, &cd, &cbody, &cn, &cdoc, err))) {
			if (rc == AIRI_ENOTFOUND)
				rc = airi__err(err, AIRI_ECORRUPT,
					       "conditions object %s is "
					       "missing",
					       tmp);
			goto done;
		}
	}
	const airi_value *secs = airi_value_get(airi_json_root(cdoc),
						"sections");
	airi__buf_adds(&b, "{\"conditions\":{");
	for (size_t i = 0; i < airi_value_count(secs); i++) {
		size_t kn;
		const char *k = airi_value_key_at(secs, i, &kn);
		if (i)
			airi__buf_addc(&b, ',');
		airi__canon_string(&b, k, kn);
		airi__buf_addc(&b, ':');
		if ((rc = get_into(s, airi_value_at(secs, i), &b, err)))
			goto done;
	}
	airi__buf_addc(&b, '}');
	if (airi_value_get(r, "meta")) {
		airi__buf_adds(&b, ",\"meta\":");
		if ((rc = get_into(s, airi_value_get(r, "meta"), &b, err)))
			goto done;
	}
	if (airi_value_get(r, "output")) {
		airi__buf_adds(&b, ",\"output\":");
		if ((rc = get_into(s, airi_value_get(r, "output"), &b, err)))
			goto done;
	}
	if (airi_value_get(r, "trajectory")) {
		airi_digest td;
		char tmp[80];
		if ((rc = value_digest(airi_value_get(r, "trajectory"), &td, tmp,
				       err)))
			goto done;
		if ((rc = get_parsed(s, &td, &tbody, &tn, &tdoc, err))) {
			if (rc == AIRI_ENOTFOUND)
				rc = airi__err(err, AIRI_ECORRUPT,
					       "trajectory object %s is "
					       "missing",
					       tmp);
			goto done;
		}
		const airi_value *steps = airi_value_get(airi_json_root(tdoc),
							 "steps");
		airi__buf_adds(&b, ",\"trajectory\":[");
		for (size_t i = 0; i < airi_value_count(steps); i++) {
			if (i)
				airi__buf_addc(&b, ',');
			if ((rc = get_into(s, airi_value_at(steps, i), &b, err)))
				goto done;
		}
		airi__buf_addc(&b, ']');
	}
	airi__buf_addc(&b, '}');
	if (b.failed) {
		rc = airi__err(err, AIRI_ENOMEM, "out of memory");
		goto done;
	}
	{
		airi_manifest *m = NULL;
		airi_error e2;
		rc = airi__manifest_parse_ex(b.p, b.n, AIRI__PARSE_CANONICAL, &m,
					     &e2);
		if (rc) {
			rc = airi__err(err, AIRI_ECORRUPT,
				       "stored run %s does not rebuild into a "
				       "valid manifest: %s",
				       hex, e2.message);
			goto done;
		}
		if (!airi_digest_equal(airi_manifest_run_id(m), run)) {
			airi_manifest_free(m);
			rc = airi__err(err, AIRI_ECORRUPT,
				       "stored run %s rebuilds into a "
				       "different run ID (corrupt store)",
				       hex);
			goto done;
		}
		*out = m;
	}
done:
	airi__buf_release(&b);
	airi_json_free(rdoc);
	airi_json_free(cdoc);
	airi_json_free(tdoc);
	free(rbody);
	free(cbody);
	free(tbody);
	return rc;
}

int airi_store_list(airi_store *s, const airi_filter *f, airi_run_fn fn,
		    void *ctx, airi_error *err)
{
	airi_filter none;
	if (!f) {
		memset(&none, 0, sizeof(none));
		f = &none;
	}
	if (f->conditions) {
		airi_digest lo, hi;
		size_t nib;
		if (airi__prefix_range(f->conditions, &lo, &hi, &nib))
			return airi__err(err, AIRI_EINVAL,
					 "invalid conditions ID \"%.80s\"",
					 f->conditions);
	}
	return s->ops->list(s->impl, f, fn, ctx, err);
}

/* ---- fsck --------------------------------------------------------------- */

struct fsck_ctx {
	airi_store *s;
	airi_problem_fn fn;
	void *ctx;
	size_t objects, problems;
};

static void problem(struct fsck_ctx *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void problem(struct fsck_ctx *c, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	c->problems++;
	if (c->fn)
		c->fn(c->ctx, msg);
}

static int fsck_object(void *ctx, const airi_digest *d, const char *body,
		       size_t n)
{
	struct fsck_ctx *c = ctx;
	airi_digest got;
	char h[AIRI_DIGEST_STRLEN];
	c->objects++;
	airi_digest_format(d, h);
	if (airi_digest_bytes(body, n, &got))
		return AIRI_ENOMEM;
	if (!airi_digest_equal(&got, d)) {
		char g[AIRI_DIGEST_STRLEN];
		airi_digest_format(&got, g);
		problem(c, "object %s: content hashes to %s", h, g);
		return 0;
	}
	airi_json *doc = NULL;
	airi_error e;
	if (airi__json_parse_ex(body, n, AIRI__PARSE_CANONICAL, &doc, &e)) {
		problem(c, "object %s: not valid JSON: %s", h, e.message);
		return 0;
	}
	char *canon = NULL;
	size_t cn = 0;
	if (airi_canon(airi_json_root(doc), &canon, &cn) == 0 &&
	    (cn != n || memcmp(canon, body, n) != 0))
		problem(c, "object %s: not in canonical form", h);
	free(canon);
	airi_json_free(doc);
	return 0;
}

static int fsck_run(void *ctx, const airi_digest *d, int64_t ms)
{
	struct fsck_ctx *c = ctx;
	airi_manifest *m = NULL;
	airi_error e;
	(void)ms;
	int rc = airi_store_fetch(c->s, d, &m, &e);
	if (rc == AIRI_ENOMEM)
		return rc;
	if (rc) {
		char h[AIRI_DIGEST_STRLEN];
		airi_digest_format(d, h);
		problem(c, "%s", e.message);
	}
	airi_manifest_free(m);
	return 0;
}

static int fsck_run_logged(void *ctx, const airi_digest *d, int64_t ms)
{
	struct fsck_ctx *c = ctx;
	uint64_t index;
	char *entry = NULL;
	size_t n;
	(void)ms;
	int rc = c->s->ops->log_find(c->s->impl, d, &index, &entry, &n, NULL);
	free(entry);
	if (rc == AIRI_ENOTFOUND) {
		char h[AIRI_DIGEST_STRLEN];
		airi_digest_format(d, h);
		problem(c, "run %s is not in the log", h);
		return 0;
	}
	return rc == AIRI_ENOMEM ? rc : 0;
}

/*
 * The log: each entry must be canonical, name a stored run, and hash to
 * the stored leaf; each stored inner node must be the hash of its two
 * children; the newest stored checkpoint's root must be the tree's root at
 * its size (its signature is checked by whoever holds the verifier key).
 */
static int fsck_log(struct fsck_ctx *c, airi_error *err)
{
	airi_store *s = c->s;
	uint64_t size;
	int rc;
	if ((rc = s->ops->log_size(s->impl, &size, err)))
		return rc;
	for (uint64_t i = 0; i < size; i++) {
		airi_digest run;
		char *entry = NULL;
		size_t n;
		rc = s->ops->log_at(s->impl, i, &run, &entry, &n, NULL);
		if (rc) {
			problem(c, "log entry %llu is missing",
				(unsigned long long)i);
			continue;
		}
		char h[AIRI_DIGEST_STRLEN], want[256];
		airi_digest_format(&run, h);
		int found = 0;
		s->ops->has_run(s->impl, &run, &found, NULL);
		if (!found)
			problem(c, "log entry %llu names run %s, which is not "
				   "in the store",
				(unsigned long long)i, h);
		snprintf(want, sizeof(want), "\"run\":\"%s\"", h);
		if (!memmem(entry, n, want, strlen(want)))
			problem(c, "log entry %llu does not name its run %s",
				(unsigned long long)i, h);
		free(entry);
	}
	for (int level = 1; (size >> level) > 0; level++) {
		for (uint64_t i = 0; i < (size >> level); i++) {
			unsigned char l[AIRI_HASH_SIZE], r[AIRI_HASH_SIZE],
				got[AIRI_HASH_SIZE], want[AIRI_HASH_SIZE];
			if (s->ops->node_get(s->impl, level - 1, 2 * i, l, NULL) ||
			    s->ops->node_get(s->impl, level - 1, 2 * i + 1, r,
					     NULL) ||
			    s->ops->node_get(s->impl, level, i, got, NULL)) {
				problem(c, "log node (%d, %llu) is missing", level,
					(unsigned long long)i);
				continue;
			}
			airi_merkle_node_hash(l, r, want);
			if (memcmp(got, want, AIRI_HASH_SIZE))
				problem(c, "log node (%d, %llu) does not "
					   "recompute",
					level, (unsigned long long)i);
		}
	}
	uint64_t cps;
	char *note = NULL;
	rc = s->ops->checkpoint_latest(s->impl, &cps, &note, NULL);
	if (rc == 0) {
		airi_checkpoint cp;
		size_t tl;
		unsigned char root[AIRI_HASH_SIZE];
		if (airi__checkpoint_parse(note, strlen(note), &cp, &tl, NULL) ||
		    cp.size != cps)
			problem(c, "the checkpoint for size %llu is malformed",
				(unsigned long long)cps);
		else if (cp.size > size ||
			 airi_store_log_root(s, cp.size, root, NULL) ||
			 memcmp(root, cp.root, AIRI_HASH_SIZE))
			problem(c, "the log no longer matches its signed "
				   "checkpoint of size %llu",
				(unsigned long long)cp.size);
	}
	free(note);
	return s->ops->each_run(s->impl, fsck_run_logged, c, err);
}

int airi_store_fsck(airi_store *s, airi_problem_fn fn, void *ctx,
		    size_t *objects, size_t *problems, airi_error *err)
{
	struct fsck_ctx c = {s, fn, ctx, 0, 0};
	int rc = pend_flush(s, err);
	if (!rc)
		rc = s->ops->each_object(s->impl, fsck_object, &c, err);
	if (!rc)
		rc = s->ops->each_run(s->impl, fsck_run, &c, err);
	if (!rc)
		rc = fsck_log(&c, err);
	if (rc)
		return rc;
	if (objects)
		*objects = c.objects;
	if (problems)
		*problems = c.problems;
	return 0;
}

/* ---- labels --------------------------------------------------------------- */

static int label_key_ok(const char *k)
{
	size_t n = k ? strlen(k) : 0;
	if (n < 1 || n > 64)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = k[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-'))
			return 0;
	}
	return 1;
}

int airi_store_label(airi_store *s, const airi_digest *run, const char *key,
		     const char *value, airi_error *err)
{
	double num, *nump = NULL;
	if (!label_key_ok(key))
		return airi__err(err, AIRI_EINVAL,
				 "label key \"%.80s\": expected 1-64 characters "
				 "of A-Z a-z 0-9 _ . -",
				 key ? key : "");
	if (value) {
		size_t n = strlen(value);
		airi_json *doc = NULL;
		if (n > 4096)
			return airi__err(err, AIRI_EINVAL,
					 "label %s: value longer than 4096 bytes",
					 key);
		if (!airi__utf8_ok(value, n))
			return airi__err(err, AIRI_EINVAL,
					 "label %s: value is not valid UTF-8", key);
		/* a JSON number is also a score */
		if (n && airi_json_parse(value, n, &doc, NULL) == 0 &&
		    airi_value_type(airi_json_root(doc)) == AIRI_NUMBER) {
			num = airi_value_number(airi_json_root(doc));
			nump = &num;
		}
		airi_json_free(doc);
	}
	int rc = pend_flush(s, err);
	if (!rc)
		rc = s->ops->label_put(s->impl, run, key, value, nump, now_ms(), err);
	if (rc == AIRI_ENOTFOUND) {
		char hex[AIRI_DIGEST_STRLEN];
		airi_digest_format(run, hex);
		return airi__err(err, rc, "no run %s in the store", hex);
	}
	return rc;
}

int airi_store_labels(airi_store *s, const airi_digest *run, airi_label_fn fn,
		      void *ctx, airi_error *err)
{
	int rc = pend_flush(s, err);
	return rc ? rc : s->ops->labels(s->impl, run, fn, ctx, err);
}
