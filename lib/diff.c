/*
 * diff.c - compares two runs: which condition sections differ (by digest),
 * the changed fields inside each differing section as JSON Pointers, the
 * trajectories aligned step by step, the output and the meta, and one
 * verdict. The result is a JSON report (documented in docs/airi.1) so that
 * the command can print it for people or pass it on to machines as is.
 */
#define _GNU_SOURCE
#include "internal.h"

#include <stdio.h>
#include <string.h>

#define MAX_CHANGES 200          /* field changes listed per compared value */
#define MAX_ALIGN_CELLS 25000000 /* LCS table bound (n*m) */

static int value_equal(const airi_value *a, const airi_value *b)
{
	if (a->type != b->type)
		return 0;
	switch (a->type) {
	case AIRI_NUMBER:
		return a->u.num.d == b->u.num.d;
	case AIRI_STRING: {
		/* the canonical escaping is a bijection: equal raw canonical
		 * spans mean equal strings, without decoding */
		if ((a->flags & b->flags & AIRI__STR_RAW_CANON))
			return a->u.s.rawn == b->u.s.rawn &&
			       memcmp(a->u.s.raw, b->u.s.raw, a->u.s.rawn) == 0;
		size_t an, bn;
		const char *as = airi_value_string(a, &an);
		const char *bs = airi_value_string(b, &bn);
		return as && bs && an == bn && memcmp(as, bs, an) == 0;
	}
	case AIRI_ARRAY:
		if (a->count != b->count)
			return 0;
		for (size_t i = 0; i < a->count; i++)
			if (!value_equal(&a->u.items[i], &b->u.items[i]))
				return 0;
		return 1;
	case AIRI_OBJECT:
		if (a->count != b->count)
			return 0;
		for (size_t i = 0; i < 2 * (size_t)a->count; i++)
			if (!value_equal(&a->u.items[i], &b->u.items[i]))
				return 0;
		return 1;
	default:
		return 1;
	}
}

struct changes {
	airi__jw *w;
	size_t n, more;
};

static void emit_change(struct changes *c, const char *ptr, const char *op,
			const airi_value *a, const airi_value *b)
{
	if (c->n >= MAX_CHANGES) {
		c->more++;
		return;
	}
	c->n++;
	airi__jw *w = c->w;
	airi__jw_obj(w);
	if (a) {
		airi__jw_key(w, "a");
		airi__jw_value(w, a);
	}
	/* for two strings, where they first differ (byte offset) */
	if (a && b && a->type == AIRI_STRING && b->type == AIRI_STRING) {
		size_t k = 0, an = 0, bn = 0;
		const char *as = airi_value_string(a, &an);
		const char *bs = airi_value_string(b, &bn);
		if (!as || !bs)
			an = bn = 0;
		while (k < an && k < bn && as[k] == bs[k])
			k++;
		/* back up to a UTF-8 character boundary */
		while (k > 0 && k < an && ((unsigned char)as[k] & 0xC0) == 0x80)
			k--;
		airi__jw_key(w, "at_byte");
		airi__jw_int(w, (long long)k);
	}
	if (b) {
		airi__jw_key(w, "b");
		airi__jw_value(w, b);
	}
	airi__jw_key(w, "op");
	airi__jw_str(w, op);
	airi__jw_key(w, "pointer");
	airi__jw_str(w, ptr);
	airi__jw_end_obj(w);
}

/* Appends one pointer token to a heap pointer buffer. */
static char *ptr_push(const char *base, const char *tok, size_t n)
{
	airi__buf b;
	airi__buf_init(&b);
	airi__buf_adds(&b, base);
	airi__buf_addc(&b, '/');
	for (size_t i = 0; i < n; i++) {
		if (tok[i] == '~')
			airi__buf_adds(&b, "~0");
		else if (tok[i] == '/')
			airi__buf_adds(&b, "~1");
		else
			airi__buf_addc(&b, tok[i]);
	}
	return airi__buf_detach(&b, NULL);
}

static void diff_values(struct changes *c, const char *ptr,
			const airi_value *a, const airi_value *b, int depth)
{
	if (value_equal(a, b))
		return;
	if (depth < 64 && a->type == AIRI_OBJECT && b->type == AIRI_OBJECT) {
		size_t i = 0, j = 0;
		while (i < a->count || j < b->count) {
			const airi_value *ka = i < a->count ? &a->u.items[2 * i]
							    : NULL;
			const airi_value *kb = j < b->count ? &b->u.items[2 * j]
							    : NULL;
			int cmp = !ka ? 1
				  : !kb ? -1
					: airi__utf16_cmp(ka->u.s.p, ka->u.s.n,
							  kb->u.s.p, kb->u.s.n);
			const airi_value *k = cmp <= 0 ? ka : kb;
			char *p = ptr_push(ptr, k->u.s.p, k->u.s.n);
			if (!p)
				return;
			if (cmp < 0) {
				emit_change(c, p, "removed", ka + 1, NULL);
				i++;
			} else if (cmp > 0) {
				emit_change(c, p, "added", NULL, kb + 1);
				j++;
			} else {
				diff_values(c, p, ka + 1, kb + 1, depth + 1);
				i++;
				j++;
			}
			free(p);
		}
		return;
	}
	if (depth < 64 && a->type == AIRI_ARRAY && b->type == AIRI_ARRAY) {
		size_t n = a->count > b->count ? a->count : b->count;
		for (size_t i = 0; i < n; i++) {
			char num[32];
			int k = snprintf(num, sizeof(num), "%zu", i);
			char *p = ptr_push(ptr, num, (size_t)k);
			if (!p)
				return;
			if (i >= a->count)
				emit_change(c, p, "added", NULL, &b->u.items[i]);
			else if (i >= b->count)
				emit_change(c, p, "removed", &a->u.items[i],
					    NULL);
			else
				diff_values(c, p, &a->u.items[i],
					    &b->u.items[i], depth + 1);
			free(p);
		}
		return;
	}
	emit_change(c, ptr, "changed", a, b);
}

/* "changes":[...] and "more":N for two values (either may be NULL). */
static void changes_block(airi__jw *w, const airi_value *a,
			  const airi_value *b)
{
	struct changes c = {w, 0, 0};
	airi__jw_key(w, "changes");
	airi__jw_arr(w);
	if (a && b)
		diff_values(&c, "", a, b, 0);
	else if (a || b)
		emit_change(&c, "", a ? "removed" : "added", a, b);
	airi__jw_end_arr(w);
	airi__jw_key(w, "more");
	airi__jw_int(w, (long long)c.more);
}

static const char *presence(const airi_digest *a, const airi_digest *b)
{
	if (!a && !b)
		return "absent";
	if (!a)
		return "added";
	if (!b)
		return "removed";
	return airi_digest_equal(a, b) ? "equal" : "changed";
}

/* Aligned pair: ia/ib are indexes or -1; status equal/changed/... */
struct pair {
	long ia, ib;
	const char *status;
};

/*
 * How the step alignment works: a longest common subsequence over the
 * step digests (classic dynamic programming, O(n*m) cells, bounded) pairs
 * identical steps even when a step was inserted or removed in between, so
 * an inserted step shows as one insertion instead of making every later
 * step "differ". Between two matched pairs, leftover steps of A and B are
 * paired off in order as "changed" (the same step, different content) and
 * the remainder shown as "removed" (only in A) or "inserted" (only in B).
 */
static struct pair *align(const airi_manifest *A, const airi_manifest *B,
			  size_t *np)
{
	size_t n = airi_manifest_step_count(A), m = airi_manifest_step_count(B);
	struct pair *out = calloc(n + m + 1, sizeof(*out));
	size_t k = 0;
	if (!out)
		return NULL;
	unsigned *L = NULL;
	if ((n + 1) * (m + 1) <= MAX_ALIGN_CELLS)
		L = calloc((n + 1) * (m + 1), sizeof(unsigned));
	/* match[i] = j or -1 */
	long *match = malloc((n + 1) * sizeof(long));
	if (!match) {
		free(L);
		free(out);
		return NULL;
	}
	for (size_t i = 0; i < n; i++)
		match[i] = -1;
	if (L) {
#define CELL(i, j) L[(i) * (m + 1) + (j)]
		for (size_t i = n; i-- > 0;)
			for (size_t j = m; j-- > 0;)
				CELL(i, j) =
					airi_digest_equal(
						airi_manifest_step_digest(A, i),
						airi_manifest_step_digest(B, j))
						? CELL(i + 1, j + 1) + 1
					: CELL(i + 1, j) >= CELL(i, j + 1)
						? CELL(i + 1, j)
						: CELL(i, j + 1);
		size_t i = 0, j = 0;
		while (i < n && j < m) {
			if (airi_digest_equal(airi_manifest_step_digest(A, i),
					      airi_manifest_step_digest(B, j))) {
				match[i] = (long)j;
				i++;
				j++;
			} else if (CELL(i + 1, j) >= CELL(i, j + 1)) {
				i++;
			} else {
				j++;
			}
		}
#undef CELL
	} else {
		/* too large for the table: position by position */
		for (size_t i = 0; i < n && i < m; i++)
			if (airi_digest_equal(airi_manifest_step_digest(A, i),
					      airi_manifest_step_digest(B, i)))
				match[i] = (long)i;
	}
	free(L);
	size_t i = 0, j = 0;
	while (i < n || j < m) {
		/* next matched pair at or after (i, j) */
		size_t ni = i;
		while (ni < n && match[ni] < 0)
			ni++;
		size_t nj = ni < n ? (size_t)match[ni] : m;
		/* unmatched runs A[i..ni) and B[j..nj) */
		while (i < ni && j < nj)
			out[k++] = (struct pair){(long)i++, (long)j++, "changed"};
		while (i < ni)
			out[k++] = (struct pair){(long)i++, -1, "removed"};
		while (j < nj)
			out[k++] = (struct pair){-1, (long)j++, "inserted"};
		if (ni < n) {
			out[k++] = (struct pair){(long)ni, (long)nj, "equal"};
			i = ni + 1;
			j = nj + 1;
		}
	}
	free(match);
	*np = k;
	return out;
}

static void trajectory_block(airi__jw *w, const airi_manifest *A,
			     const airi_manifest *B)
{
	const airi_digest *da = airi_manifest_trajectory_digest(A);
	const airi_digest *db = airi_manifest_trajectory_digest(B);
	size_t np = 0;
	struct pair *pairs = NULL;
	airi__jw_obj(w);
	airi__jw_key(w, "a_steps");
	if (da)
		airi__jw_int(w, (long long)airi_manifest_step_count(A));
	else
		airi__jw_null(w);
	if (da || db)
		pairs = align(A, B, &np);
	airi__jw_key(w, "alignment");
	airi__jw_arr(w);
	long first = -1;
	for (size_t k = 0; k < np; k++) {
		airi__jw_obj(w);
		airi__jw_key(w, "a");
		if (pairs[k].ia >= 0)
			airi__jw_int(w, pairs[k].ia);
		else
			airi__jw_null(w);
		airi__jw_key(w, "b");
		if (pairs[k].ib >= 0)
			airi__jw_int(w, pairs[k].ib);
		else
			airi__jw_null(w);
		airi__jw_key(w, "status");
		airi__jw_str(w, pairs[k].status);
		airi__jw_end_obj(w);
		if (first < 0 && strcmp(pairs[k].status, "equal"))
			first = (long)k;
	}
	airi__jw_end_arr(w);
	airi__jw_key(w, "b_steps");
	if (db)
		airi__jw_int(w, (long long)airi_manifest_step_count(B));
	else
		airi__jw_null(w);
	airi__jw_key(w, "first_divergence");
	if (first >= 0) {
		struct pair *p = &pairs[first];
		airi__jw_obj(w);
		airi__jw_key(w, "a");
		if (p->ia >= 0)
			airi__jw_int(w, p->ia);
		else
			airi__jw_null(w);
		airi__jw_key(w, "b");
		if (p->ib >= 0)
			airi__jw_int(w, p->ib);
		else
			airi__jw_null(w);
		const airi_value *sa =
			p->ia >= 0 ? airi_value_at(airi_manifest_trajectory(A),
						   (size_t)p->ia)
				   : NULL;
		const airi_value *sb =
			p->ib >= 0 ? airi_value_at(airi_manifest_trajectory(B),
						   (size_t)p->ib)
				   : NULL;
		changes_block(w, sa, sb);
		airi__jw_key(w, "status");
		airi__jw_str(w, p->status);
		airi__jw_end_obj(w);
	} else {
		airi__jw_null(w);
	}
	airi__jw_key(w, "status");
	airi__jw_str(w, presence(da, db));
	airi__jw_end_obj(w);
	free(pairs);
}

static void member_block(airi__jw *w, const airi_digest *da,
			 const airi_digest *db, const airi_value *va,
			 const airi_value *vb)
{
	airi__jw_obj(w);
	airi__jw_key(w, "a");
	if (da)
		airi__jw_digest(w, da);
	else
		airi__jw_null(w);
	airi__jw_key(w, "b");
	if (db)
		airi__jw_digest(w, db);
	else
		airi__jw_null(w);
	if (da && db && !airi_digest_equal(da, db))
		changes_block(w, va, vb);
	airi__jw_key(w, "status");
	airi__jw_str(w, presence(da, db));
	airi__jw_end_obj(w);
}

/*
 * The cause classes of a difference, in a fixed order, for the verdict:
 * which kind of condition changed (docs/airi.1, "diff"). A model section
 * whose requested name is the same but whose resolved model, fingerprint
 * or weights differ is "model_alias_changed": the provider moved the
 * alias to another model.
 */
struct sref {
	const char *p;
	size_t n;
};

static struct sref sv(const airi_value *o, const char *k)
{
	const airi_value *v = o ? airi_value_get(o, k) : NULL;
	struct sref r = {NULL, 0};
	if (v && airi_value_type(v) == AIRI_STRING)
		r.p = airi_value_string(v, &r.n);
	return r;
}

static int str_eq(struct sref a, struct sref b)
{
	return (!a.p && !b.p) ||
	       (a.p && b.p && a.n == b.n && !memcmp(a.p, b.p, a.n));
}

static int differs(const airi_digest *a, const airi_digest *b)
{
	return (a || b) && (!a || !b || !airi_digest_equal(a, b));
}

static void cause(airi__jw *w, airi__buf *t, const char *name,
		  const char *text)
{
	airi__jw_str(w, name);
	if (t->n)
		airi__buf_adds(t, "; ");
	airi__buf_adds(t, text);
}

static void causes(airi__jw *w, airi__buf *t, const airi_manifest *A,
		   const airi_manifest *B, int same_run, int same_cond)
{
	static const struct {
		const char *section, *name, *text;
	} known[] = {
		{"params", "params_changed", "params changed"},
		{"system", "system_changed", "system prompt changed"},
		{"input", "input_changed", "input changed"},
		{"retrieval", "retrieval_changed",
		 "retrieval or index state changed"},
		{"tools", "tools_changed", "tools changed"},
		{"environment", "environment_changed", "environment changed"},
	};
	if (same_run) {
		cause(w, t, "same_run", "same run");
		return;
	}
	if (same_cond) {
		const airi_digest *oa = airi_manifest_output_digest(A),
				  *ob = airi_manifest_output_digest(B),
				  *ta = airi_manifest_trajectory_digest(A),
				  *tb = airi_manifest_trajectory_digest(B);
		if (differs(oa, ob) || differs(ta, tb))
			cause(w, t, "output_varied",
			      "same conditions, output varied");
		else
			cause(w, t, "meta_only", "only meta differs");
		return;
	}
	const airi_value *ma = airi_manifest_section(A, "model");
	const airi_value *mb = airi_manifest_section(B, "model");
	const airi_digest *dma = NULL, *dmb = NULL;
	for (size_t i = 0; i < airi_manifest_section_count(A); i++)
		if (!strcmp(airi_manifest_section_name(A, i), "model"))
			dma = airi_manifest_section_digest(A, i);
	for (size_t i = 0; i < airi_manifest_section_count(B); i++)
		if (!strcmp(airi_manifest_section_name(B, i), "model"))
			dmb = airi_manifest_section_digest(B, i);
	if (differs(dma, dmb)) {
		struct sref na = sv(ma, "name"), nb = sv(mb, "name");
		struct sref ra = sv(ma, "resolved"), rb = sv(mb, "resolved");
		if (na.p && str_eq(na, nb) &&
		    (!str_eq(ra, rb) || !str_eq(sv(ma, "fingerprint"),
						sv(mb, "fingerprint")) ||
		     !str_eq(sv(ma, "weights_digest"), sv(mb, "weights_digest")))) {
			char text[600];
			int nl = (int)(na.n > 100 ? 100 : na.n);
			if (!str_eq(ra, rb))
				snprintf(text, sizeof(text),
					 "the model behind the alias changed "
					 "(%.*s resolved to %.*s, now %.*s)",
					 nl, na.p, (int)(ra.p ? (ra.n > 100 ? 100 : ra.n) : 7),
					 ra.p ? ra.p : "nothing",
					 (int)(rb.p ? (rb.n > 100 ? 100 : rb.n) : 7),
					 rb.p ? rb.p : "nothing");
			else
				snprintf(text, sizeof(text),
					 "the model behind the alias changed "
					 "(%.*s: other fingerprint or weights)",
					 nl, na.p);
			cause(w, t, "model_alias_changed", text);
		} else {
			cause(w, t, "model_changed", "model changed");
		}
	}
	for (size_t k = 0; k < sizeof(known) / sizeof(*known); k++) {
		const airi_digest *da = NULL, *db = NULL;
		for (size_t i = 0; i < airi_manifest_section_count(A); i++)
			if (!strcmp(airi_manifest_section_name(A, i), known[k].section))
				da = airi_manifest_section_digest(A, i);
		for (size_t i = 0; i < airi_manifest_section_count(B); i++)
			if (!strcmp(airi_manifest_section_name(B, i), known[k].section))
				db = airi_manifest_section_digest(B, i);
		if (differs(da, db))
			cause(w, t, known[k].name, known[k].text);
	}
	/* sections outside the standard set */
	int other = 0;
	for (int side = 0; side < 2 && !other; side++) {
		const airi_manifest *X = side ? B : A, *Y = side ? A : B;
		for (size_t i = 0; i < airi_manifest_section_count(X) && !other; i++) {
			const char *n = airi_manifest_section_name(X, i);
			int std = !strcmp(n, "model");
			for (size_t k = 0; k < sizeof(known) / sizeof(*known); k++)
				std |= !strcmp(n, known[k].section);
			if (std)
				continue;
			const airi_digest *dy = NULL;
			for (size_t j = 0; j < airi_manifest_section_count(Y); j++)
				if (!strcmp(airi_manifest_section_name(Y, j), n))
					dy = airi_manifest_section_digest(Y, j);
			if (!dy || !airi_digest_equal(dy, airi_manifest_section_digest(X, i)))
				other = 1;
		}
	}
	if (other)
		cause(w, t, "other_section_changed", "another section changed");
}

int airi_run_diff(const airi_manifest *A, const airi_manifest *B, int *same,
		  char **report, size_t *len)
{
	airi__jw w;
	airi__buf differing;
	int same_run = airi_digest_equal(airi_manifest_run_id(A),
					 airi_manifest_run_id(B));
	int same_cond = airi_digest_equal(airi_manifest_conditions_id(A),
					  airi_manifest_conditions_id(B));
	airi__buf_init(&differing);
	airi__jw_init(&w);
	airi__jw_obj(&w);
	airi__jw_key(&w, "a");
	airi__jw_obj(&w);
	airi__jw_key(&w, "conditions");
	airi__jw_digest(&w, airi_manifest_conditions_id(A));
	airi__jw_key(&w, "run");
	airi__jw_digest(&w, airi_manifest_run_id(A));
	airi__jw_end_obj(&w);
	airi__jw_key(&w, "b");
	airi__jw_obj(&w);
	airi__jw_key(&w, "conditions");
	airi__jw_digest(&w, airi_manifest_conditions_id(B));
	airi__jw_key(&w, "run");
	airi__jw_digest(&w, airi_manifest_run_id(B));
	airi__jw_end_obj(&w);

	airi__jw_key(&w, "meta");
	member_block(&w, airi_manifest_meta_digest(A),
		     airi_manifest_meta_digest(B), airi_manifest_meta(A),
		     airi_manifest_meta(B));
	airi__jw_key(&w, "output");
	member_block(&w, airi_manifest_output_digest(A),
		     airi_manifest_output_digest(B), airi_manifest_output(A),
		     airi_manifest_output(B));
	airi__jw_key(&w, "same_conditions");
	airi__jw_bool(&w, same_cond);
	airi__jw_key(&w, "same_run");
	airi__jw_bool(&w, same_run);

	/* sections: merge the two sorted name lists */
	airi__jw_key(&w, "sections");
	airi__jw_arr(&w);
	size_t i = 0, j = 0, na = airi_manifest_section_count(A),
	       nb = airi_manifest_section_count(B), ndiff = 0;
	while (i < na || j < nb) {
		const char *ka = i < na ? airi_manifest_section_name(A, i) : NULL;
		const char *kb = j < nb ? airi_manifest_section_name(B, j) : NULL;
		int cmp = !ka ? 1 : !kb ? -1 : strcmp(ka, kb);
		const airi_digest *da = cmp <= 0
						? airi_manifest_section_digest(A, i)
						: NULL;
		const airi_digest *db = cmp >= 0
						? airi_manifest_section_digest(B, j)
						: NULL;
		const airi_value *va = cmp <= 0
					       ? airi_manifest_section_value(A, i)
					       : NULL;
		const airi_value *vb = cmp >= 0
					       ? airi_manifest_section_value(B, j)
					       : NULL;
		const char *name = cmp <= 0 ? ka : kb;
		const char *st = presence(da, db);
		airi__jw_obj(&w);
		airi__jw_key(&w, "a");
		if (da)
			airi__jw_digest(&w, da);
		else
			airi__jw_null(&w);
		airi__jw_key(&w, "b");
		if (db)
			airi__jw_digest(&w, db);
		else
			airi__jw_null(&w);
		if (strcmp(st, "equal")) {
			changes_block(&w, va, vb);
			if (ndiff++)
				airi__buf_adds(&differing, ", ");
			airi__buf_adds(&differing, name);
		}
		airi__jw_key(&w, "name");
		airi__jw_str(&w, name);
		airi__jw_key(&w, "status");
		airi__jw_str(&w, st);
		airi__jw_end_obj(&w);
		if (cmp <= 0)
			i++;
		if (cmp >= 0)
			j++;
	}
	airi__jw_end_arr(&w);

	airi__jw_key(&w, "trajectory");
	trajectory_block(&w, A, B);

	airi__jw_key(&w, "verdict");
	airi__jw_obj(&w);
	airi__buf causes_text;
	airi__buf_init(&causes_text);
	airi__jw_key(&w, "causes");
	airi__jw_arr(&w);
	causes(&w, &causes_text, A, B, same_run, same_cond);
	airi__jw_end_arr(&w);
	airi__jw_key(&w, "differing_sections");
	airi__jw_arr(&w);
	{
		size_t x = 0, y = 0;
		while (x < na || y < nb) {
			const char *ka = x < na ? airi_manifest_section_name(A, x)
						: NULL;
			const char *kb = y < nb ? airi_manifest_section_name(B, y)
						: NULL;
			int cmp = !ka ? 1 : !kb ? -1 : strcmp(ka, kb);
			if (cmp != 0 ||
			    !airi_digest_equal(airi_manifest_section_digest(A, x),
					       airi_manifest_section_digest(B, y)))
				airi__jw_str(&w, cmp <= 0 ? ka : kb);
			if (cmp <= 0)
				x++;
			if (cmp >= 0)
				y++;
		}
	}
	airi__jw_end_arr(&w);
	airi__jw_key(&w, "kind");
	airi__jw_str(&w, same_run    ? "same_run"
			 : same_cond ? "same_conditions"
				     : "conditions_differ");
	airi__jw_key(&w, "text");
	{
		char text[1024];
		if (same_run)
			snprintf(text, sizeof(text),
				 "same run: identical conditions, trajectory, "
				 "output and meta");
		else if (same_cond) {
			const airi_digest *oa = airi_manifest_output_digest(A),
					  *ob = airi_manifest_output_digest(B),
					  *ta = airi_manifest_trajectory_digest(A),
					  *tb = airi_manifest_trajectory_digest(B);
			int out_diff = strcmp(presence(oa, ob), "equal") &&
				       strcmp(presence(oa, ob), "absent");
			int traj_diff = strcmp(presence(ta, tb), "equal") &&
					strcmp(presence(ta, tb), "absent");
			if (out_diff || traj_diff)
				snprintf(text, sizeof(text),
					 "same conditions: the %s differ%s; "
					 "that is the model's own variation",
					 out_diff && traj_diff
						 ? "trajectory and output"
					 : out_diff ? "output"
						    : "trajectory",
					 out_diff && traj_diff ? "" : "s");
			else
				snprintf(text, sizeof(text),
					 "same conditions and output: only "
					 "meta differs (when or where it ran)");
		}
		else
			snprintf(text, sizeof(text), "conditions differ: %s",
				 causes_text.p ? causes_text.p
					       : differing.p ? differing.p : "");
		airi__jw_str(&w, text);
	}
	airi__jw_end_obj(&w);
	airi__jw_end_obj(&w);
	airi__buf_release(&differing);
	airi__buf_release(&causes_text);
	char *p = airi__jw_finish(&w, len);
	if (!p)
		return AIRI_ENOMEM;
	*same = same_run;
	*report = p;
	return 0;
}
