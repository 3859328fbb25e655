/*
 * test_corpus.c - corpus state digests (lib/corpus.c): independent of
 * insertion order, changed by any single edit; an incremental update in the
 * store gives exactly the state a full rebuild of the same set gives, over
 * random batches of additions, changes and removals; one change among many
 * documents writes a handful of nodes; diff lists exactly what changed;
 * bad changes fail and leave the corpus as it was.
 */
#include "test_util.h"
#include "test_store_loc.h"

#include "store.h"

#include <unistd.h>

static char dir[256];

static int setup(void **state)
{
	(void)state;
	return test_tmpdir(dir, sizeof(dir), "corpus");
}

static int teardown(void **state)
{
	(void)state;
	return test_rmdir(dir);
}

static airi_store *open_new(const char *name)
{
	const char *path = test_store_loc(dir, name, 1);
	airi_store *s = NULL;
	airi_error err;
	if (airi_store_open(path, AIRI_STORE_CREATE, &s, &err))
		fail_msg("open %s: %s", path, err.message);
	return s;
}

/* a model of the corpus: ids "doc-<k>" present with a content version */
#define SPACE 20000
static int version[SPACE]; /* 0: absent */

static uint64_t rng = 88172645463325252ULL;
static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void id_of(int k, char *out)
{
	sprintf(out, "doc-%d", k);
}

static void content_of(int k, int v, airi_digest *d)
{
	char t[64];
	int n = sprintf(t, "content %d of %d", v, k);
	airi_digest_bytes(t, (size_t)n, d);
}

/* the state of the model, built from scratch in memory in the given
 * order (order: 0 ascending, 1 descending, 2 random) */
static void full_state(int order, airi_digest *state, uint64_t *count)
{
	airi_corpus *c = NULL;
	airi_error err;
	assert_int_equal(airi_corpus_open(NULL, NULL, &c, &err), 0);
	int *ks = malloc(SPACE * sizeof(int));
	int n = 0;
	for (int k = 0; k < SPACE; k++)
		if (version[k])
			ks[n++] = k;
	if (order == 1)
		for (int i = 0; i < n / 2; i++) {
			int t = ks[i];
			ks[i] = ks[n - 1 - i];
			ks[n - 1 - i] = t;
		}
	if (order == 2)
		for (int i = n - 1; i > 0; i--) {
			int j = (int)(next() % (uint64_t)(i + 1)), t = ks[i];
			ks[i] = ks[j];
			ks[j] = t;
		}
	for (int i = 0; i < n; i++) {
		char id[32];
		airi_digest d;
		id_of(ks[i], id);
		content_of(ks[i], version[ks[i]], &d);
		assert_int_equal(airi_corpus_put(c, id, strlen(id), &d, &err), 0);
	}
	free(ks);
	assert_int_equal(airi_corpus_commit(c, state, NULL, count, &err), 0);
	airi_corpus_free(c);
}

static void seed_model(int n)
{
	memset(version, 0, sizeof(version));
	for (int i = 0; i < n; i++)
		version[next() % SPACE] = 1;
}

static void test_order_and_edits(void **state)
{
	(void)state;
	airi_digest a, b, c2;
	uint64_t na, nb;
	seed_model(3000);
	full_state(0, &a, &na);
	full_state(1, &b, &nb);
	assert_true(airi_digest_equal(&a, &b));
	full_state(2, &b, &nb);
	assert_true(airi_digest_equal(&a, &b));
	assert_int_equal(na, nb);
	/* any single edit changes the state: change, remove, add */
	int k = 0;
	while (!version[k])
		k++;
	version[k] = 2;
	full_state(0, &c2, &nb);
	assert_false(airi_digest_equal(&a, &c2));
	version[k] = 0;
	full_state(0, &c2, &nb);
	assert_false(airi_digest_equal(&a, &c2));
	assert_int_equal(nb, na - 1);
	version[k] = 1;
	int j = 0;
	while (version[j])
		j++;
	version[j] = 1;
	full_state(0, &c2, &nb);
	assert_false(airi_digest_equal(&a, &c2));
	assert_int_equal(nb, na + 1);
	version[j] = 0;
	full_state(2, &c2, &nb);
	assert_true(airi_digest_equal(&a, &c2));
}

static void test_params(void **state)
{
	(void)state;
	airi_corpus *c = NULL;
	airi_error err;
	airi_digest d, s1, s2, s3, r1, r3;
	airi_digest_bytes("x", 1, &d);
	assert_int_equal(airi_corpus_open(NULL, NULL, &c, &err), 0);
	assert_int_equal(airi_corpus_put(c, "a", 1, &d, &err), 0);
	assert_int_equal(airi_corpus_commit(c, &s1, &r1, NULL, &err), 0);
	airi_corpus_free(c);
	assert_int_equal(airi_corpus_open(NULL, NULL, &c, &err), 0);
	assert_int_equal(airi_corpus_put(c, "a", 1, &d, &err), 0);
	assert_int_equal(airi_corpus_set_embedding(c, "{\"name\":\"e5\", \"dim\":384}", &err), 0);
	assert_int_equal(airi_corpus_commit(c, &s2, NULL, NULL, &err), 0);
	airi_corpus_free(c);
	assert_int_equal(airi_corpus_open(NULL, NULL, &c, &err), 0);
	assert_int_equal(airi_corpus_put(c, "a", 1, &d, &err), 0);
	assert_int_equal(airi_corpus_set_embedding(c, "{\"dim\":384,\"name\":\"e5\"}", &err), 0);
	assert_int_equal(airi_corpus_set_chunking(c, "{\"size\":512}", &err), 0);
	assert_int_equal(airi_corpus_commit(c, &s3, &r3, NULL, &err), 0);
	/* parameters change the state, not the documents root */
	assert_false(airi_digest_equal(&s1, &s2));
	assert_false(airi_digest_equal(&s2, &s3));
	assert_true(airi_digest_equal(&r1, &r3));
	assert_int_not_equal(airi_corpus_set_chunking(c, "{bad", &err), 0);
	airi_corpus_free(c);
}

struct seen {
	int kind[SPACE];
	size_t calls;
};

static int on_doc(void *ctx, airi_doc_change kind, const char *id, size_t n,
		  const airi_digest *before, const airi_digest *after)
{
	struct seen *sn = ctx;
	int k = atoi(id + 4);
	assert_true(n > 4 && k >= 0 && k < SPACE);
	assert_int_equal(sn->kind[k], 0);
	sn->kind[k] = (int)kind;
	sn->calls++;
	assert_true(kind == AIRI_DOC_ADDED ? !before && after
		    : kind == AIRI_DOC_REMOVED ? before && !after
					       : before && after &&
							 !airi_digest_equal(before, after));
	return 0;
}

static void test_incremental(void **state)
{
	(void)state;
	airi_store *s = open_new("inc.db");
	airi_error err;
	airi_corpus *c = NULL;
	airi_digest st, want, prev;
	uint64_t count, wcount;
	seed_model(8000);
	assert_int_equal(airi_corpus_open(s, "docs", &c, &err), 0);
	for (int k = 0; k < SPACE; k++)
		if (version[k]) {
			char id[32];
			airi_digest d;
			id_of(k, id);
			content_of(k, 1, &d);
			assert_int_equal(airi_corpus_put(c, id, strlen(id), &d, &err), 0);
		}
	assert_int_equal(airi_corpus_commit(c, &st, NULL, &count, &err), 0);
	airi_corpus_free(c);
	full_state(0, &want, &wcount);
	assert_true(airi_digest_equal(&st, &want));
	static const int sizes[] = {1, 1, 2, 5, 40, 300, 1, 3000, 1, 17};
	for (size_t round = 0; round < sizeof(sizes) / sizeof(*sizes); round++) {
		int before_v[SPACE];
		memcpy(before_v, version, sizeof(version));
		prev = st;
		/* reopened from the store each round: the base is the latest */
		assert_int_equal(airi_corpus_open(s, "docs", &c, &err), 0);
		static char used[SPACE];
		memset(used, 0, sizeof(used));
		for (int i = 0; i < sizes[round]; i++) {
			int k = (int)(next() % SPACE);
			if (used[k])
				continue;
			used[k] = 1;
			char id[32];
			id_of(k, id);
			airi_digest d;
			int op = (int)(next() % 3);
			if (version[k] && op == 0) {
				assert_int_equal(airi_corpus_remove(c, id, strlen(id), &err), 0);
				version[k] = 0;
			} else {
				version[k] = version[k] + 1;
				content_of(k, version[k], &d);
				assert_int_equal(airi_corpus_put(c, id, strlen(id), &d, &err), 0);
			}
		}
		assert_int_equal(airi_corpus_commit(c, &st, NULL, &count, &err), 0);
		airi_corpus_free(c);
		full_state(2, &want, &wcount);
		assert_true(airi_digest_equal(&st, &want));
		assert_int_equal(count, wcount);
		/* diff against the previous state: exactly the model's changes */
		struct seen *sn = calloc(1, sizeof(*sn));
		assert_int_equal(airi_corpus_diff(s, &prev, &st, on_doc, sn, &err), 0);
		size_t expect = 0;
		for (int k = 0; k < SPACE; k++) {
			int want_kind = !before_v[k] && version[k]   ? AIRI_DOC_ADDED
					: before_v[k] && !version[k] ? AIRI_DOC_REMOVED
					: before_v[k] != version[k]  ? AIRI_DOC_CHANGED
								     : 0;
			assert_int_equal(sn->kind[k], want_kind);
			expect += want_kind != 0;
		}
		assert_int_equal(sn->calls, expect);
		free(sn);
	}
	/* the latest state is what the store remembers */
	airi_digest latest;
	assert_int_equal(airi_corpus_latest(s, "docs", &latest, &err), 0);
	assert_true(airi_digest_equal(&latest, &st));
	assert_int_equal(airi_corpus_latest(s, "nope", &latest, &err), AIRI_ENOTFOUND);
	/* the store still checks out (every node canonical, digests right) */
	size_t objs = 0, problems = 1;
	assert_int_equal(airi_store_fsck(s, NULL, NULL, &objs, &problems, &err), 0);
	assert_int_equal(problems, 0);
	assert_true(objs > 100);
	airi_store_close(s);
}

static void test_remove_all_and_errors(void **state)
{
	(void)state;
	airi_store *s = open_new("err.db");
	airi_error err;
	airi_corpus *c = NULL;
	airi_digest st, st2, empty, d;
	uint64_t count;
	airi_digest_bytes("t", 1, &d);
	assert_int_equal(airi_corpus_open(s, "x", &c, &err), 0);
	for (int i = 0; i < 500; i++) {
		char id[32];
		id_of(i, id);
		assert_int_equal(airi_corpus_put(c, id, strlen(id), &d, &err), 0);
	}
	/* the same id twice in one commit */
	assert_int_equal(airi_corpus_put(c, "doc-3", 5, &d, &err), AIRI_EINVAL);
	assert_non_null(strstr(err.message, "doc-3"));
	assert_int_equal(airi_corpus_commit(c, &st, NULL, &count, &err), 0);
	assert_int_equal(count, 500);
	/* removing a missing document fails at commit; nothing changes */
	assert_int_equal(airi_corpus_remove(c, "zzz", 3, &err), 0);
	assert_int_equal(airi_corpus_commit(c, &st2, NULL, NULL, &err), AIRI_ENOTFOUND);
	assert_non_null(strstr(err.message, "zzz"));
	assert_int_equal(airi_corpus_latest(s, "x", &st2, &err), 0);
	assert_true(airi_digest_equal(&st, &st2));
	airi_corpus_free(c);
	/* removing everything gives the empty corpus's state */
	assert_int_equal(airi_corpus_open(s, "x", &c, &err), 0);
	for (int i = 0; i < 500; i++) {
		char id[32];
		id_of(i, id);
		assert_int_equal(airi_corpus_remove(c, id, strlen(id), &err), 0);
	}
	assert_int_equal(airi_corpus_commit(c, &st2, NULL, &count, &err), 0);
	assert_int_equal(count, 0);
	airi_corpus_free(c);
	assert_int_equal(airi_corpus_open(NULL, NULL, &c, &err), 0);
	assert_int_equal(airi_corpus_commit(c, &empty, NULL, NULL, &err), 0);
	airi_corpus_free(c);
	assert_true(airi_digest_equal(&st2, &empty));
	/* a removal in a corpus read whole is an error too */
	assert_int_equal(airi_corpus_open(NULL, NULL, &c, &err), 0);
	assert_int_equal(airi_corpus_remove(c, "a", 1, &err), 0);
	assert_int_equal(airi_corpus_commit(c, &st2, NULL, NULL, &err), AIRI_ENOTFOUND);
	airi_corpus_free(c);
	/* diff of unknown states */
	assert_int_equal(airi_corpus_diff(s, &d, &st, on_doc, NULL, &err), AIRI_ENOTFOUND);
	airi_store_close(s);
}

static int count_obj(void *ctx, const airi_digest *d, const char *body, size_t n)
{
	(void)d;
	(void)body;
	(void)n;
	(*(size_t *)ctx)++;
	return 0;
}

static void test_one_change_writes_few_nodes(void **state)
{
	(void)state;
	airi_store *s = open_new("few.db");
	airi_error err;
	airi_corpus *c = NULL;
	airi_digest d;
	size_t before = 0, after = 0;
	assert_int_equal(airi_corpus_open(s, "big", &c, &err), 0);
	for (int i = 0; i < 100000; i++) {
		char id[32];
		id_of(i, id);
		content_of(i, 1, &d);
		assert_int_equal(airi_corpus_put(c, id, strlen(id), &d, &err), 0);
	}
	assert_int_equal(airi_corpus_commit(c, NULL, NULL, NULL, &err), 0);
	airi_corpus_free(c);
	assert_int_equal(s->ops->each_object(s->impl, count_obj, &before, &err), 0);
	assert_int_equal(airi_corpus_open(s, "big", &c, &err), 0);
	content_of(54321, 2, &d);
	assert_int_equal(airi_corpus_put(c, "doc-54321", 9, &d, &err), 0);
	assert_int_equal(airi_corpus_commit(c, NULL, NULL, NULL, &err), 0);
	airi_corpus_free(c);
	assert_int_equal(s->ops->each_object(s->impl, count_obj, &after, &err), 0);
	/* 100,000 documents: ~1,600 leaves, 3 to 4 levels; one change is a
	 * new leaf, a new node per level above it and a new state object */
	assert_true(before > 1500);
	assert_true(after - before >= 3 && after - before <= 6);
	airi_store_close(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_order_and_edits),
		cmocka_unit_test(test_params),
		cmocka_unit_test_setup_teardown(test_incremental, setup, teardown),
		cmocka_unit_test_setup_teardown(test_remove_all_and_errors, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_one_change_writes_few_nodes,
						setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
