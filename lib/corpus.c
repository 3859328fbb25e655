/*
 * corpus.c - the state of a retrieval corpus, identified by content
 * (docs/spec.md, appendix B).
 *
 * The documents, as (id, content digest) sorted by id bytes, are cut into
 * leaves by the ids alone: the level of an id is the number of leading
 * bytes of SHA-256(id) below 4 (so an id has level >= 1 with probability
 * 1/64, >= 2 with 1/64^2 ...), and a leaf ends after each id of level >= 1.
 * Level-j nodes group level-(j-1) nodes the same way, a child ending its
 * group when the last id under it has level >= j+1; a level that would not
 * shrink becomes one node. The shape is therefore a function of the set of
 * ids (not of the order of insertion or of the contents), and changing,
 * adding or removing one document changes one leaf, rarely two, and the
 * nodes above it. Every node is a canonical JSON object whose digest is
 * its SHA-256, kept in the store's object table; the state object names
 * the root, the count and the embedding and chunking parameters.
 *
 * An update loads the root-to-leaf index (the interior nodes: ~1/64 of the
 * leaves), rewrites the leaves the changes fall in (a leaf that loses its
 * closing id merges with the next), and rebuilds the interior levels from
 * the leaf list, writing only the nodes that are new.
 */
#define _GNU_SOURCE
#include "store.h"

#include <stdio.h>

#include <string.h>

#define LEAF_TYPE "airi.corpus.leaf/1"
#define NODE_TYPE "airi.corpus.node/1"
#define STATE_TYPE "airi.corpus/1"
#define MAX_ID ((size_t)1 << 16)
#define SETTING_PREFIX "corpus/"

struct doc {
	char *id;
	size_t n;
	airi_digest d;
	int del; /* changes only: a removal */
};

/* a node: its digest and the first and last id below it */
struct ref {
	airi_digest d;
	char *first, *last;
	size_t fn, ln;
};

struct refs {
	struct ref *r;
	size_t n, cap;
};

struct airi_corpus {
	airi_store *s;
	char *name;
	int has_base;
	airi_digest base_root;
	uint64_t base_count;
	int cleared;
	struct doc *ch; /* pending changes */
	size_t nch, chcap;
	uint32_t *slots; /* open addressing over ch (index + 1) */
	size_t nslots;
	char *embedding, *chunking; /* canonical JSON or NULL */
};

/* ---- small helpers ---------------------------------------------------------- */

static int id_cmp(const char *a, size_t an, const char *b, size_t bn)
{
	int c = memcmp(a, b, an < bn ? an : bn);
	return c ? c : (an > bn) - (an < bn);
}

static int doc_cmp(const void *x, const void *y)
{
	const struct doc *a = x, *b = y;
	return id_cmp(a->id, a->n, b->id, b->n);
}

/* the id's level: leading bytes of SHA-256(id) below 4 */
static int id_level(const char *id, size_t n)
{
	airi_digest h;
	int l = 0;
	airi_digest_bytes(id, n, &h);
	while (l < AIRI_DIGEST_SIZE && h.bytes[l] < 4)
		l++;
	return l;
}

static void refs_free(struct refs *v)
{
	for (size_t i = 0; i < v->n; i++) {
		free(v->r[i].first);
		free(v->r[i].last);
	}
	free(v->r);
	memset(v, 0, sizeof(*v));
}

static char *dup_n(const char *p, size_t n)
{
	char *c = malloc(n + 1);
	if (c) {
		memcpy(c, p, n);
		c[n] = 0;
	}
	return c;
}

static int refs_add(struct refs *v, const airi_digest *d, const char *first,
		    size_t fn, const char *last, size_t ln)
{
	if (v->n == v->cap) {
		size_t cap = v->cap ? v->cap * 2 : 64;
		struct ref *nr = realloc(v->r, cap * sizeof(*nr));
		if (!nr)
			return AIRI_ENOMEM;
		v->r = nr;
		v->cap = cap;
	}
	struct ref *r = &v->r[v->n];
	r->d = *d;
	r->first = dup_n(first, fn);
	r->last = dup_n(last, ln);
	r->fn = fn;
	r->ln = ln;
	v->n++;
	return r->first && r->last ? 0 : AIRI_ENOMEM;
}

static void docs_free(struct doc *d, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(d[i].id);
	free(d);
}

/* ---- opening ------------------------------------------------------------------ */

void airi_corpus_free(airi_corpus *c)
{
	if (!c)
		return;
	docs_free(c->ch, c->nch);
	free(c->slots);
	free(c->name);
	free(c->embedding);
	free(c->chunking);
	free(c);
}

static int get_json(airi_store *s, const airi_digest *d, char **body,
		    airi_json **doc, const char *type, airi_error *err)
{
	size_t n;
	char hex[AIRI_DIGEST_STRLEN];
	airi_digest_format(d, hex);
	int rc = airi_store_get_object(s, d, body, &n, err);
	if (rc == AIRI_ENOTFOUND)
		return airi__err(err, rc, "corpus object %s is not in the store",
				 hex);
	if (rc)
		return rc;
	airi_digest got;
	airi_digest_bytes(*body, n, &got);
	if (!airi_digest_equal(&got, d)) {
		free(*body);
		*body = NULL;
		return airi__err(err, AIRI_ECORRUPT,
				 "corpus object %s: stored bytes hash to something "
				 "else",
				 hex);
	}
	rc = airi__json_parse_ex(*body, n, AIRI__PARSE_CANONICAL, doc, err);
	const airi_value *t = rc ? NULL : airi_value_get(airi_json_root(*doc), "type");
	size_t tn = 0;
	const char *ts = t ? airi_value_string(t, &tn) : NULL;
	if (!rc && (!ts || tn != strlen(type) || memcmp(ts, type, tn))) {
		airi_json_free(*doc);
		*doc = NULL;
		rc = airi__err(err, AIRI_EINVAL, "%s is not a %s object", hex, type);
	}
	if (rc) {
		free(*body);
		*body = NULL;
	}
	return rc;
}

static int value_digest(const airi_value *v, airi_digest *d)
{
	size_t n = 0;
	const char *s = v ? airi_value_string(v, &n) : NULL;
	char tmp[AIRI_DIGEST_STRLEN];
	if (!s || n != AIRI_DIGEST_STRLEN - 1)
		return AIRI_ECORRUPT;
	memcpy(tmp, s, n);
	tmp[n] = 0;
	return airi_digest_parse(tmp, d) ? AIRI_ECORRUPT : 0;
}

static int canon_of(const airi_value *v, char **out)
{
	size_t n;
	if (!v || airi_value_type(v) == AIRI_NULL) {
		*out = NULL;
		return 0;
	}
	return airi_canon(v, out, &n);
}

/* reads a state object: its root, count and parameters */
static int load_state(airi_store *s, const airi_digest *state, airi_digest *root,
		      uint64_t *count, char **embedding, char **chunking,
		      airi_error *err)
{
	char *body = NULL;
	airi_json *doc = NULL;
	int rc = get_json(s, state, &body, &doc, STATE_TYPE, err);
	if (rc)
		return rc;
	const airi_value *o = airi_json_root(doc);
	const airi_value *cnt = airi_value_get(o, "count");
	if (value_digest(airi_value_get(o, "documents"), root) || !cnt ||
	    airi_value_type(cnt) != AIRI_NUMBER)
		rc = airi__err(err, AIRI_ECORRUPT, "corpus state object malformed");
	else {
		if (count)
			*count = (uint64_t)airi_value_number(cnt);
		if (embedding &&
		    canon_of(airi_value_get(o, "embedding_model"), embedding))
			rc = AIRI_ENOMEM;
		if (chunking && canon_of(airi_value_get(o, "chunking"), chunking))
			rc = AIRI_ENOMEM;
	}
	airi_json_free(doc);
	free(body);
	return rc;
}

int airi_corpus_latest(airi_store *s, const char *name, airi_digest *state,
		       airi_error *err)
{
	char *key = NULL, *v = NULL;
	if (!s || !name)
		return airi__err(err, AIRI_EINVAL, "no store or no corpus name");
	if (asprintf(&key, SETTING_PREFIX "%s", name) < 0)
		return airi__err(err, AIRI_ENOMEM, "out of memory");
	int rc = airi__store_setting(s, key, &v, err);
	free(key);
	if (rc == AIRI_ENOTFOUND)
		return airi__err(err, rc, "no corpus named \"%s\" in the store",
				 name);
	if (rc)
		return rc;
	if (airi_digest_parse(v, state))
		rc = airi__err(err, AIRI_ECORRUPT,
			       "the store's latest state of corpus \"%s\" is "
			       "not a digest",
			       name);
	free(v);
	return rc;
}

int airi_corpus_open(airi_store *s, const char *name, airi_corpus **out,
		     airi_error *err)
{
	airi_corpus *c = calloc(1, sizeof(*c));
	if (!c || (name && !(c->name = strdup(name)))) {
		free(c);
		return airi__err(err, AIRI_ENOMEM, "out of memory");
	}
	c->s = s;
	if (s && name) {
		airi_digest state;
		airi_error e;
		int rc = airi_corpus_latest(s, name, &state, &e);
		if (rc == 0)
			rc = load_state(s, &state, &c->base_root, &c->base_count,
					&c->embedding, &c->chunking, &e);
		if (rc == 0)
			c->has_base = 1;
		else if (rc != AIRI_ENOTFOUND) {
			if (err)
				*err = e;
			airi_corpus_free(c);
			return rc;
		}
	}
	*out = c;
	return 0;
}

void airi_corpus_clear(airi_corpus *c)
{
	c->cleared = 1;
}

static int set_param(char **slot, const char *json, airi_error *err)
{
	char *canon = NULL;
	if (json) {
		airi_json *doc = NULL;
		size_t n;
		int rc = airi_json_parse(json, strlen(json), &doc, err);
		if (rc)
			return rc;
		rc = airi_canon(airi_json_root(doc), &canon, &n);
		airi_json_free(doc);
		if (rc)
			return airi__err(err, rc, "out of memory");
	}
	free(*slot);
	*slot = canon;
	return 0;
}

int airi_corpus_set_embedding(airi_corpus *c, const char *json, airi_error *err)
{
	return set_param(&c->embedding, json, err);
}

int airi_corpus_set_chunking(airi_corpus *c, const char *json, airi_error *err)
{
	return set_param(&c->chunking, json, err);
}

/* ---- pending changes -------------------------------------------------------------- */

static uint64_t id_hash(const char *p, size_t n)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)p[i]) * 1099511628211ULL;
	return h;
}

static int slots_grow(airi_corpus *c)
{
	size_t ns = c->nslots ? c->nslots * 2 : 1024;
	uint32_t *sl = calloc(ns, sizeof(*sl));
	if (!sl)
		return AIRI_ENOMEM;
	for (size_t i = 0; i < c->nch; i++) {
		size_t k = id_hash(c->ch[i].id, c->ch[i].n) & (ns - 1);
		while (sl[k])
			k = (k + 1) & (ns - 1);
		sl[k] = (uint32_t)(i + 1);
	}
	free(c->slots);
	c->slots = sl;
	c->nslots = ns;
	return 0;
}

static int add_change(airi_corpus *c, const char *id, size_t n,
		      const airi_digest *d, int del, airi_error *err)
{
	if (!id || n > MAX_ID)
		return airi__err(err, AIRI_EINVAL,
				 "document id missing or longer than %zu bytes",
				 MAX_ID);
	if (!airi__utf8_ok(id, n)) /* ids become JSON strings */
		return airi__err(err, AIRI_EINVAL,
				 "document id is not well-formed UTF-8");
	if (c->nch >= UINT32_MAX - 1)
		return airi__err(err, AIRI_ENOMEM, "too many changes at once");
	if ((c->nch + 1) * 2 > c->nslots && slots_grow(c))
		return airi__err(err, AIRI_ENOMEM, "out of memory");
	size_t k = id_hash(id, n) & (c->nslots - 1);
	for (; c->slots[k]; k = (k + 1) & (c->nslots - 1)) {
		const struct doc *o = &c->ch[c->slots[k] - 1];
		if (o->n == n && !memcmp(o->id, id, n))
			return airi__err(err, AIRI_EINVAL,
					 "document id \"%.*s\" given twice",
					 (int)(n > 200 ? 200 : n), id);
	}
	if (c->nch == c->chcap) {
		size_t cap = c->chcap ? c->chcap * 2 : 1024;
		struct doc *nd = realloc(c->ch, cap * sizeof(*nd));
		if (!nd)
			return airi__err(err, AIRI_ENOMEM, "out of memory");
		c->ch = nd;
		c->chcap = cap;
	}
	struct doc *e = &c->ch[c->nch];
	if (!(e->id = dup_n(id, n)))
		return airi__err(err, AIRI_ENOMEM, "out of memory");
	e->n = n;
	e->del = del;
	if (d)
		e->d = *d;
	else
		memset(&e->d, 0, sizeof(e->d));
	c->slots[k] = (uint32_t)(++c->nch);
	return 0;
}

int airi_corpus_put(airi_corpus *c, const char *id, size_t idlen,
		    const airi_digest *content, airi_error *err)
{
	if (!content)
		return airi__err(err, AIRI_EINVAL, "no content digest");
	return add_change(c, id, idlen, content, 0, err);
}

int airi_corpus_remove(airi_corpus *c, const char *id, size_t idlen,
		       airi_error *err)
{
	return add_change(c, id, idlen, NULL, 1, err);
}

/* ---- writing nodes ------------------------------------------------------------------ */

struct build {
	airi_store *s; /* NULL: compute only */
	airi__buf b;
	airi_error *err;
};

static int emit(struct build *w, airi_digest *d)
{
	if (!w->b.p)
		return airi__err(w->err, AIRI_ENOMEM, "out of memory");
	airi__digest_buf(&w->b, d);
	if (w->s)
		return airi__store_put(w->s, d, w->b.p, w->b.n, w->err);
	return 0;
}

static void put_str(airi__buf *b, const char *p, size_t n)
{
	airi__canon_string(b, p, n);
}

/* one leaf of docs[0..n) */
static int write_leaf(struct build *w, const struct doc *docs, size_t n,
		      struct refs *out)
{
	char hex[AIRI_DIGEST_STRLEN];
	airi_digest d;
	w->b.n = 0;
	airi__buf_adds(&w->b, "{\"entries\":[");
	for (size_t i = 0; i < n; i++) {
		airi_digest_format(&docs[i].d, hex);
		airi__buf_printf(&w->b, "%s{\"digest\":\"%s\",\"id\":", i ? "," : "",
				 hex);
		put_str(&w->b, docs[i].id, docs[i].n);
		airi__buf_addc(&w->b, '}');
	}
	airi__buf_adds(&w->b, "],\"type\":\"" LEAF_TYPE "\"}");
	int rc = emit(w, &d);
	if (rc)
		return rc;
	if (!n)
		return refs_add(out, &d, "", 0, "", 0) ? airi__err(w->err, AIRI_ENOMEM,
								   "out of memory")
						       : 0;
	if (refs_add(out, &d, docs[0].id, docs[0].n, docs[n - 1].id,
		     docs[n - 1].n))
		return airi__err(w->err, AIRI_ENOMEM, "out of memory");
	return 0;
}

/* cuts sorted docs into leaves (a leaf ends after an id of level >= 1) */
static int write_leaves(struct build *w, const struct doc *docs, size_t n,
			struct refs *out)
{
	size_t start = 0;
	for (size_t i = 0; i < n; i++)
		if (i + 1 == n || id_level(docs[i].id, docs[i].n) >= 1) {
			int rc = write_leaf(w, docs + start, i + 1 - start, out);
			if (rc)
				return rc;
			start = i + 1;
		}
	return 0;
}

static int write_node(struct build *w, const struct ref *kids, size_t n,
		      int level, struct refs *out)
{
	char hex[AIRI_DIGEST_STRLEN];
	airi_digest d;
	w->b.n = 0;
	airi__buf_adds(&w->b, "{\"children\":[");
	for (size_t i = 0; i < n; i++) {
		airi_digest_format(&kids[i].d, hex);
		airi__buf_printf(&w->b, "%s{\"digest\":\"%s\",\"first\":",
				 i ? "," : "", hex);
		put_str(&w->b, kids[i].first, kids[i].fn);
		airi__buf_adds(&w->b, ",\"last\":");
		put_str(&w->b, kids[i].last, kids[i].ln);
		airi__buf_addc(&w->b, '}');
	}
	airi__buf_printf(&w->b, "],\"level\":%d,\"type\":\"" NODE_TYPE "\"}", level);
	int rc = emit(w, &d);
	if (!rc && refs_add(out, &d, kids[0].first, kids[0].fn, kids[n - 1].last,
			    kids[n - 1].ln))
		rc = airi__err(w->err, AIRI_ENOMEM, "out of memory");
	return rc;
}

/* from the leaves up to the root */
static int write_levels(struct build *w, struct refs *leaves, airi_digest *root)
{
	struct refs cur = *leaves, next = {0};
	int level = 1, rc = 0;
	memset(leaves, 0, sizeof(*leaves));
	while (cur.n > 1 && !rc) {
		size_t groups = 0;
		for (size_t i = 0; i < cur.n; i++)
			if (i + 1 == cur.n ||
			    id_level(cur.r[i].last, cur.r[i].ln) >= level + 1)
				groups++;
		if (groups == cur.n) /* would not shrink: one node */
			rc = write_node(w, cur.r, cur.n, level, &next);
		else {
			size_t start = 0;
			for (size_t i = 0; i < cur.n && !rc; i++)
				if (i + 1 == cur.n ||
				    id_level(cur.r[i].last, cur.r[i].ln) >= level + 1) {
					rc = write_node(w, cur.r + start, i + 1 - start,
							level, &next);
					start = i + 1;
				}
		}
		refs_free(&cur);
		cur = next;
		memset(&next, 0, sizeof(next));
		level++;
	}
	if (!rc)
		*root = cur.r[0].d;
	refs_free(&cur);
	return rc;
}

/* ---- reading nodes ---------------------------------------------------------------------- */

/* the leaves below a node, in order */
static int collect_leaves(airi_store *s, const airi_digest *d, struct refs *out,
			  int depth, airi_error *err)
{
	char *body = NULL;
	airi_json *doc = NULL;
	if (depth > 40)
		return airi__err(err, AIRI_ECORRUPT, "corpus tree too deep");
	int rc = get_json(s, d, &body, &doc, NODE_TYPE, err);
	if (rc)
		return rc;
	const airi_value *kids = airi_value_get(airi_json_root(doc), "children");
	size_t n = kids ? airi_value_count(kids) : 0;
	const airi_value *lv = airi_value_get(airi_json_root(doc), "level");
	int level = lv ? (int)airi_value_number(lv) : 0;
	for (size_t i = 0; i < n && !rc; i++) {
		const airi_value *k = airi_value_at(kids, i);
		airi_digest kd;
		size_t fn = 0, ln = 0;
		const char *f = airi_value_string(airi_value_get(k, "first"), &fn);
		const char *l = airi_value_string(airi_value_get(k, "last"), &ln);
		if (value_digest(airi_value_get(k, "digest"), &kd) || !f || !l)
			rc = airi__err(err, AIRI_ECORRUPT,
				       "corpus node malformed");
		else if (level > 1)
			rc = collect_leaves(s, &kd, out, depth + 1, err);
		else if (refs_add(out, &kd, f, fn, l, ln))
			rc = airi__err(err, AIRI_ENOMEM, "out of memory");
	}
	if (!rc && (!kids || level < 1))
		rc = airi__err(err, AIRI_ECORRUPT, "corpus node malformed");
	airi_json_free(doc);
	free(body);
	return rc;
}

/* the root's leaves: the root itself when it is a leaf */
static int root_leaves(airi_store *s, const airi_digest *root, struct refs *out,
		       airi_error *err)
{
	char *body = NULL;
	size_t n;
	int rc = airi_store_get_object(s, root, &body, &n, err);
	if (rc)
		return rc == AIRI_ENOTFOUND
			       ? airi__err(err, rc, "corpus root not in the store")
			       : rc;
	int leaf = n > 10 && strstr(body, "\"type\":\"" LEAF_TYPE "\"") != NULL;
	free(body);
	if (!leaf)
		return collect_leaves(s, root, out, 0, err);
	/* a lone leaf: its first/last ids do not matter (no parent) */
	return refs_add(out, root, "", 0, "", 0) ? airi__err(err, AIRI_ENOMEM,
							      "out of memory")
						 : 0;
}

/* appends a leaf's entries to docs */
static int load_leaf(airi_store *s, const airi_digest *d, struct doc **docs,
		     size_t *n, size_t *cap, airi_error *err)
{
	char *body = NULL;
	airi_json *doc = NULL;
	int rc = get_json(s, d, &body, &doc, LEAF_TYPE, err);
	if (rc)
		return rc;
	const airi_value *es = airi_value_get(airi_json_root(doc), "entries");
	size_t k = es ? airi_value_count(es) : 0;
	if (!es)
		rc = airi__err(err, AIRI_ECORRUPT, "corpus leaf malformed");
	for (size_t i = 0; i < k && !rc; i++) {
		const airi_value *e = airi_value_at(es, i);
		size_t idn = 0;
		const char *id = airi_value_string(airi_value_get(e, "id"), &idn);
		if (*n == *cap) {
			size_t nc = *cap ? *cap * 2 : 256;
			struct doc *nd = realloc(*docs, nc * sizeof(*nd));
			if (!nd) {
				rc = airi__err(err, AIRI_ENOMEM, "out of memory");
				break;
			}
			*docs = nd;
			*cap = nc;
		}
		struct doc *o = &(*docs)[*n];
		memset(o, 0, sizeof(*o));
		if (!id || value_digest(airi_value_get(e, "digest"), &o->d))
			rc = airi__err(err, AIRI_ECORRUPT, "corpus leaf malformed");
		else if (!(o->id = dup_n(id, idn)))
			rc = airi__err(err, AIRI_ENOMEM, "out of memory");
		else {
			o->n = idn;
			(*n)++;
		}
	}
	airi_json_free(doc);
	free(body);
	return rc;
}

/* ---- commit ------------------------------------------------------------------------------ */

static int missing(airi_error *err, const struct doc *c)
{
	return airi__err(err, AIRI_ENOTFOUND,
			 "cannot remove document \"%.*s\": not in the corpus",
			 (int)(c->n > 200 ? 200 : c->n), c->id);
}

/* merges sorted changes ch[0..nc) and sorted docs into out; the ids of
 * docs move to out or are freed, also on failure */
static int apply_(struct doc *docs, size_t n, size_t *i_, struct doc *ch,
		  size_t nc, struct doc **out, size_t *outn, size_t *outcap,
		  airi_error *err);

static int apply(struct doc *docs, size_t n, struct doc *ch, size_t nc,
		 struct doc **out, size_t *outn, size_t *outcap, airi_error *err)
{
	size_t i = 0;
	int rc = apply_(docs, n, &i, ch, nc, out, outn, outcap, err);
	for (; rc && i < n; i++)
		free(docs[i].id);
	return rc;
}

static int apply_(struct doc *docs, size_t n, size_t *i_, struct doc *ch,
		  size_t nc, struct doc **out, size_t *outn, size_t *outcap,
		  airi_error *err)
{
	size_t j = 0;
#define i (*i_)
	while (i < n || j < nc) {
		int c = i == n ? 1 : j == nc ? -1
					    : id_cmp(docs[i].id, docs[i].n, ch[j].id,
						     ch[j].n);
		struct doc take;
		if (c < 0) {
			take = docs[i++];
		} else {
			if (c == 0) {
				free(docs[i].id);
				i++;
			} else if (ch[j].del)
				return missing(err, &ch[j]);
			if (ch[j].del) {
				j++;
				continue;
			}
			take = ch[j];
			if (!(take.id = dup_n(ch[j].id, ch[j].n)))
				return airi__err(err, AIRI_ENOMEM, "out of memory");
			j++;
		}
		if (*outn == *outcap) {
			size_t cap = *outcap ? *outcap * 2 : 256;
			struct doc *nd = realloc(*out, cap * sizeof(*nd));
			if (!nd) {
				free(take.id);
				return airi__err(err, AIRI_ENOMEM, "out of memory");
			}
			*out = nd;
			*outcap = cap;
		}
		(*out)[(*outn)++] = take;
	}
	return 0;
#undef i
}

/* the leaf a change falls in: the last one whose first id is <= it */
static size_t target(const struct refs *leaves, const struct doc *c)
{
	size_t lo = 0, hi = leaves->n;
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (id_cmp(leaves->r[mid].first, leaves->r[mid].fn, c->id, c->n) <= 0)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

static int rebuild(airi_corpus *c, struct build *w, struct refs *leaves,
		   struct refs *out, uint64_t *delta, airi_error *err)
{
	size_t li = 0, ci = 0;
	int rc = 0;
	struct doc *region = NULL, *merged = NULL;
	size_t rn = 0, rcap = 0, mn = 0, mcap = 0;
	int64_t d = 0;
	while (ci < c->nch && !rc) {
		size_t t = target(leaves, &c->ch[ci]);
		for (; li < t && !rc; li++)
			if (refs_add(out, &leaves->r[li].d, leaves->r[li].first,
				     leaves->r[li].fn, leaves->r[li].last,
				     leaves->r[li].ln))
				rc = airi__err(err, AIRI_ENOMEM, "out of memory");
		/* the region: leaves from li on while changes fall in them or
		 * the last entry does not close a leaf */
		mn = 0;
		while (!rc && li < leaves->n) {
			rn = 0;
			rc = load_leaf(c->s, &leaves->r[li].d, &region, &rn, &rcap, err);
			size_t cj = ci;
			while (!rc && cj < c->nch && target(leaves, &c->ch[cj]) == li)
				cj++;
			size_t before = mn;
			if (!rc)
				rc = apply(region, rn, c->ch + ci, cj - ci, &merged, &mn,
					   &mcap, err);
			if (!rc)
				d += (int64_t)(mn - before) - (int64_t)rn;
			rn = 0; /* ids moved into merged or freed */
			ci = cj;
			li++;
			if (rc)
				break;
			int closed = mn == 0 ||
				     id_level(merged[mn - 1].id, merged[mn - 1].n) >= 1;
			int next_hit = ci < c->nch && target(leaves, &c->ch[ci]) == li;
			if (closed && !next_hit)
				break;
		}
		if (!rc && mn)
			rc = write_leaves(w, merged, mn, out);
		for (size_t k = 0; k < mn; k++)
			free(merged[k].id);
		mn = 0;
	}
	for (; li < leaves->n && !rc; li++)
		if (refs_add(out, &leaves->r[li].d, leaves->r[li].first,
			     leaves->r[li].fn, leaves->r[li].last, leaves->r[li].ln))
			rc = airi__err(err, AIRI_ENOMEM, "out of memory");
	for (size_t k = 0; k < mn; k++)
		free(merged[k].id);
	free(region);
	free(merged);
	*delta = (uint64_t)d;
	return rc;
}

static int write_state(struct build *w, const airi_corpus *c,
		       const airi_digest *root, uint64_t count, airi_digest *state)
{
	char hex[AIRI_DIGEST_STRLEN];
	airi_digest_format(root, hex);
	w->b.n = 0;
	airi__buf_addc(&w->b, '{');
	if (c->chunking)
		airi__buf_printf(&w->b, "\"chunking\":%s,", c->chunking);
	airi__buf_printf(&w->b, "\"count\":%llu,\"documents\":\"%s\",",
			 (unsigned long long)count, hex);
	if (c->embedding)
		airi__buf_printf(&w->b, "\"embedding_model\":%s,", c->embedding);
	airi__buf_adds(&w->b, "\"type\":\"" STATE_TYPE "\"}");
	return emit(w, state);
}

int airi_corpus_commit(airi_corpus *c, airi_digest *state_out,
		       airi_digest *root_out, uint64_t *count_out,
		       airi_error *err)
{
	struct build w = {.s = c->s, .err = err};
	struct refs leaves = {0}, out = {0};
	airi_digest root, state;
	uint64_t count = 0;
	int rc = 0, own_tx = 0;
	airi__buf_init(&w.b);
	if (c->nch)
		qsort(c->ch, c->nch, sizeof(*c->ch), doc_cmp);
	/* the slots index positions before sorting: rebuilt on demand */
	free(c->slots);
	c->slots = NULL;
	c->nslots = 0;
	if (c->s && !c->s->in_tx) {
		if ((rc = airi_store_begin(c->s, err)))
			goto out;
		own_tx = 1;
	}
	int incremental = c->s && c->has_base && !c->cleared;
	if (incremental) {
		uint64_t delta = 0;
		if ((rc = root_leaves(c->s, &c->base_root, &leaves, err)) ||
		    (rc = rebuild(c, &w, &leaves, &out, &delta, err)))
			goto out;
		count = c->base_count + delta;
		if (!out.n)
			rc = write_leaf(&w, NULL, 0, &out);
	} else {
		/* the whole corpus is the changes */
		for (size_t i = 0; i < c->nch; i++)
			if (c->ch[i].del) {
				rc = missing(err, &c->ch[i]);
				goto out;
			}
		count = c->nch;
		rc = c->nch ? write_leaves(&w, c->ch, c->nch, &out)
			    : write_leaf(&w, NULL, 0, &out);
	}
	if (!rc)
		rc = write_levels(&w, &out, &root);
	if (!rc)
		rc = write_state(&w, c, &root, count, &state);
	if (!rc && c->s && c->name) {
		char *key = NULL, hex[AIRI_DIGEST_STRLEN];
		airi_digest_format(&state, hex);
		if (asprintf(&key, SETTING_PREFIX "%s", c->name) < 0)
			rc = airi__err(err, AIRI_ENOMEM, "out of memory");
		else
			rc = airi__store_set_setting(c->s, key, hex, err);
		free(key);
	}
	if (!rc && own_tx) {
		own_tx = 0;
		rc = airi_store_commit(c->s, err);
	}
	if (!rc) {
		/* the new state is the base of the next commit */
		docs_free(c->ch, c->nch);
		c->ch = NULL;
		c->nch = c->chcap = 0;
		c->base_root = root;
		c->base_count = count;
		c->has_base = c->s != NULL;
		c->cleared = 0;
		if (state_out)
			*state_out = state;
		if (root_out)
			*root_out = root;
		if (count_out)
			*count_out = count;
	}
out:
	if (own_tx)
		airi_store_rollback(c->s);
	refs_free(&leaves);
	refs_free(&out);
	airi__buf_release(&w.b);
	if (rc && !c->slots)
		slots_grow(c); /* keep put/remove usable after a failure */
	return rc;
}

/* ---- diff --------------------------------------------------------------------------------- */

static int ref_dcmp(const void *x, const void *y)
{
	return memcmp(((const struct ref *)x)->d.bytes,
		      ((const struct ref *)y)->d.bytes, AIRI_DIGEST_SIZE);
}

static int shared(const struct refs *sorted, const airi_digest *d)
{
	struct ref key;
	key.d = *d;
	return bsearch(&key, sorted->r, sorted->n, sizeof(*sorted->r), ref_dcmp) !=
	       NULL;
}

/* the entries of the leaves that the other state does not have */
static int own_entries(airi_store *s, const struct refs *mine,
		       const struct refs *theirs_sorted, struct doc **docs,
		       size_t *n, airi_error *err)
{
	size_t cap = 0;
	int rc = 0;
	for (size_t i = 0; i < mine->n && !rc; i++)
		if (!shared(theirs_sorted, &mine->r[i].d))
			rc = load_leaf(s, &mine->r[i].d, docs, n, &cap, err);
	return rc;
}

int airi_corpus_diff(airi_store *s, const airi_digest *before,
		     const airi_digest *after, airi_doc_fn fn, void *ctx,
		     airi_error *err)
{
	airi_digest ra, rb;
	struct refs la = {0}, lb = {0}, sa = {0}, sb = {0};
	struct doc *da = NULL, *db = NULL;
	size_t na = 0, nb = 0;
	int rc;
	if (!s || !before || !after || !fn)
		return airi__err(err, AIRI_EINVAL,
				 "corpus diff needs a store, two states and a "
				 "callback");
	if ((rc = load_state(s, before, &ra, NULL, NULL, NULL, err)) ||
	    (rc = load_state(s, after, &rb, NULL, NULL, NULL, err)))
		return rc;
	if (airi_digest_equal(&ra, &rb))
		return 0;
	if ((rc = root_leaves(s, &ra, &la, err)) ||
	    (rc = root_leaves(s, &rb, &lb, err)))
		goto out;
	/* sorted copies by digest for the "shared leaf" test (the refs'
	 * strings are not copied: only digests are compared) */
	sa.r = malloc((la.n ? la.n : 1) * sizeof(*sa.r));
	sb.r = malloc((lb.n ? lb.n : 1) * sizeof(*sb.r));
	if (!sa.r || !sb.r) {
		rc = airi__err(err, AIRI_ENOMEM, "out of memory");
		goto out;
	}
	memcpy(sa.r, la.r, la.n * sizeof(*sa.r));
	memcpy(sb.r, lb.r, lb.n * sizeof(*sb.r));
	sa.n = la.n;
	sb.n = lb.n;
	qsort(sa.r, sa.n, sizeof(*sa.r), ref_dcmp);
	qsort(sb.r, sb.n, sizeof(*sb.r), ref_dcmp);
	if ((rc = own_entries(s, &la, &sb, &da, &na, err)) ||
	    (rc = own_entries(s, &lb, &sa, &db, &nb, err)))
		goto out;
	/* an id under a leaf both states share is in neither list, and both
	 * lists are in id order (leaves are) */
	size_t i = 0, j = 0;
	while (!rc && (i < na || j < nb)) {
		int c = i == na ? 1 : j == nb ? -1
					     : id_cmp(da[i].id, da[i].n, db[j].id,
						      db[j].n);
		if (c < 0) {
			rc = fn(ctx, AIRI_DOC_REMOVED, da[i].id, da[i].n, &da[i].d,
				NULL);
			i++;
		} else if (c > 0) {
			rc = fn(ctx, AIRI_DOC_ADDED, db[j].id, db[j].n, NULL, &db[j].d);
			j++;
		} else {
			if (!airi_digest_equal(&da[i].d, &db[j].d))
				rc = fn(ctx, AIRI_DOC_CHANGED, da[i].id, da[i].n,
					&da[i].d, &db[j].d);
			i++;
			j++;
		}
	}
out:
	free(sa.r);
	free(sb.r);
	refs_free(&la);
	refs_free(&lb);
	docs_free(da, na);
	docs_free(db, nb);
	return rc;
}
