/*
 * test_store.c - the SQLite store through the public API: create with mode
 * 0600, record (idempotent, deduplicated), rebuild byte-for-byte, resolve
 * prefixes (short, full, ambiguous, unknown), list with filters,
 * transactions, batches (airi__store_record_many: duplicates within a
 * batch and against the store, in a transaction of its own and in the
 * caller's, rolled back), fsck detecting corruption, and refusing newer
 * schemas.
 * With AIRI_TEST_PG set, the same on PostgreSQL (test_store_loc.h).
 */
#include "test_util.h"
#include "test_store_loc.h"
#include "store.h"

#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[256];

static int setup(void **state)
{
	(void)state;
	return test_tmpdir(dir, sizeof(dir), "store");
}

static int teardown(void **state)
{
	(void)state;
	return test_rmdir(dir);
}

static airi_store *open_new(const char *name)
{
	const char *path = test_store_loc(dir, name, 0);
	airi_store *s = NULL;
	airi_error err;
	if (airi_store_open(path, AIRI_STORE_CREATE, &s, &err))
		fail_msg("open %s: %s", path, err.message);
	return s;
}

static airi_manifest *mk(const char *fmt, ...)
{
	char buf[4096];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	airi_manifest *m = NULL;
	airi_error err;
	if (airi_manifest_parse(buf, strlen(buf), &m, &err))
		fail_msg("%s: %s", buf, err.message);
	return m;
}

static size_t count_objects(airi_store *s)
{
	size_t objects = 0, problems = 0;
	assert_int_equal(airi_store_fsck(s, NULL, NULL, &objects, &problems,
					 NULL),
			 0);
	assert_int_equal(problems, 0);
	return objects;
}

static void test_create_mode(void **state)
{
	(void)state;
	char path[512];
	airi_store *s = NULL;
	airi_error err;
	struct stat st;
	/* a location with a password that cannot be reached: a clear error
	 * without the password, at once */
	assert_int_equal(airi_store_open("postgres://u:s3cr3t-pw@127.0.0.1:1/db"
					 "?connect_timeout=3",
					 AIRI_STORE_CREATE, &s, &err),
			 AIRI_ESTORE);
	assert_null(strstr(err.message, "s3cr3t-pw"));
	assert_non_null(strstr(err.message, "postgres://u:***@127.0.0.1:1/db"));
	assert_non_null(strstr(err.message, "cannot connect"));
	assert_int_equal(airi_store_open("host=127.0.0.1 port=1 password='p w "
					 "x' connect_timeout=3",
					 AIRI_STORE_CREATE, &s, &err),
			 AIRI_ESTORE);
	assert_null(strstr(err.message, "p w x"));
	assert_non_null(strstr(err.message, "password=***"));
	assert_int_equal(airi_store_open("postgresql://u:s3cr3t%zz@h/d",
					 AIRI_STORE_CREATE, &s, &err),
			 AIRI_EINVAL);
	assert_null(strstr(err.message, "s3cr3t"));
	if (test_pg()) {
		/* an empty schema is no store until one is created */
		const char *loc = test_store_loc(dir, "created", 1);
		assert_int_equal(airi_store_open(loc, 0, &s, &err),
				 AIRI_ENOTFOUND);
		assert_non_null(strstr(err.message, "no store at"));
		assert_int_equal(airi_store_open(loc, AIRI_STORE_READONLY, &s,
						 &err),
				 AIRI_ENOTFOUND);
		assert_int_equal(airi_store_open(loc, AIRI_STORE_CREATE, &s, &err),
				 0);
		airi_store_close(s);
		assert_int_equal(airi_store_open(loc, AIRI_STORE_READONLY, &s,
						 &err),
				 0);
		airi_manifest *m = NULL;
		const char *j = "{\"conditions\":{\"x\":1}}";
		assert_int_equal(airi_manifest_parse(j, strlen(j), &m, NULL),
				 0);
		assert_int_equal(airi_store_record(s, m, NULL, &err),
				 AIRI_ESTORE);
		airi_manifest_free(m);
		airi_store_close(s);
		return;
	}
	snprintf(path, sizeof(path), "%s/deep/er/airi.db", dir);
	/* without CREATE a missing store is an error and nothing is made */
	assert_int_equal(airi_store_open(path, 0, &s, &err), AIRI_ENOTFOUND);
	assert_non_null(strstr(err.message, "no store at"));
	assert_int_not_equal(stat(path, &st), 0);
	assert_int_equal(airi_store_open(path, AIRI_STORE_CREATE, &s, &err), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	snprintf(path, sizeof(path), "%s/deep/er", dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	airi_store_close(s);
	airi_store_close(NULL);
}

static void test_record_fetch(void **state)
{
	(void)state;
	airi_store *s = open_new("rf.db");
	const char *j = "{\"conditions\":{\"system\":{\"text\":\"a\\nb \\u00e9\"},"
			"\"model\":\"m\"},\"trajectory\":[1,{\"t\":2},1],"
			"\"output\":null,\"meta\":{\"start\":"
			"\"2026-01-01T00:00:00Z\"}}";
	airi_manifest *m = mk("%s", j), *back = NULL;
	int created = -1;
	airi_error err;
	assert_int_equal(airi_store_record(s, m, &created, &err), 0);
	assert_int_equal(created, 1);
	size_t objs = count_objects(s);
	/* 2 sections + conditions + 2 distinct steps + trajectory + output +
	 * meta + run */
	assert_int_equal(objs, 9);
	assert_int_equal(airi_store_record(s, m, &created, &err), 0);
	assert_int_equal(created, 0);
	assert_int_equal(count_objects(s), objs);
	assert_int_equal(airi_store_fetch(s, airi_manifest_run_id(m), &back,
					  &err),
			 0);
	char *c1, *c2;
	size_t n1, n2;
	assert_int_equal(airi_manifest_canon(m, &c1, &n1), 0);
	assert_int_equal(airi_manifest_canon(back, &c2, &n2), 0);
	assert_int_equal(n1, n2);
	assert_memory_equal(c1, c2, n1);
	free(c1);
	free(c2);
	airi_manifest_free(back);
	/* the stored object bodies are the canonical bytes */
	char *body;
	size_t bn;
	assert_int_equal(airi_store_get_object(s, airi_manifest_section_digest(m, 1),
					       &body, &bn, &err),
			 0);
	assert_string_equal(body, "{\"text\":\"a\\nb \xC3\xA9\"}");
	free(body);
	airi_manifest_free(m);
	airi_store_close(s);
}

static void test_dedup(void **state)
{
	(void)state;
	airi_store *s = open_new("dedup.db");
	char big[2000];
	memset(big, 'p', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	for (int i = 0; i < 50; i++) {
		airi_manifest *m = mk("{\"conditions\":{\"system\":\"%s\","
				      "\"input\":%d},\"output\":\"o%d\"}",
				      big, i, i % 5);
		assert_int_equal(airi_store_record(s, m, NULL, NULL), 0);
		airi_manifest_free(m);
	}
	/* 1 system + 50 inputs + 50 conditions + 5 outputs + 50 runs */
	assert_int_equal(count_objects(s), 156);
	airi_store_close(s);
}

static void test_resolve(void **state)
{
	(void)state;
	airi_store *s = open_new("resolve.db");
	airi_manifest *m = mk("{\"conditions\":{\"x\":1}}");
	airi_digest d;
	airi_error err;
	char hex[AIRI_DIGEST_STRLEN], pre[80];
	assert_int_equal(airi_store_record(s, m, NULL, NULL), 0);
	airi_digest_format(airi_manifest_run_id(m), hex);
	assert_int_equal(airi_store_resolve(s, hex, &d, &err), 0);
	assert_true(airi_digest_equal(&d, airi_manifest_run_id(m)));
	snprintf(pre, sizeof(pre), "%.6s", hex + 7);
	assert_int_equal(airi_store_resolve(s, pre, &d, &err), 0);
	assert_true(airi_digest_equal(&d, airi_manifest_run_id(m)));
	snprintf(pre, sizeof(pre), "sha256:%.7s", hex + 7);
	assert_int_equal(airi_store_resolve(s, pre, &d, &err), 0);
	/* uppercase hex is accepted when typed */
	for (char *p = pre + 7; *p; p++)
		if (*p >= 'a' && *p <= 'f')
			*p = (char)(*p - 32);
	assert_int_equal(airi_store_resolve(s, pre, &d, &err), 0);
	snprintf(pre, sizeof(pre), "%.5s", hex + 7);
	assert_int_equal(airi_store_resolve(s, pre, &d, &err), AIRI_EINVAL);
	assert_non_null(strstr(err.message, "too short"));
	assert_int_equal(airi_store_resolve(s, "xyzxyzxyz", &d, &err),
			 AIRI_EINVAL);
	snprintf(pre, sizeof(pre), "%.6s", hex + 7);
	pre[0] = pre[0] == '0' ? '1' : '0';
	assert_int_equal(airi_store_resolve(s, pre, &d, &err), AIRI_ENOTFOUND);
	airi_manifest_free(m);

	/* find two run IDs sharing 6 hex digits (birthday search over 2^24) */
	static unsigned char seen[1 << 21];
	memset(seen, 0, sizeof(seen));
	int first = -1, second = -1;
	unsigned target = 0;
	for (int i = 0; i < 200000 && second < 0; i++) {
		airi_manifest *x = mk("{\"conditions\":{\"n\":%d}}", i);
		const unsigned char *b = airi_manifest_run_id(x)->bytes;
		unsigned key = (unsigned)b[0] << 16 | (unsigned)b[1] << 8 | b[2];
		if (seen[key >> 3] & (1u << (key & 7))) {
			second = i;
			target = key;
		}
		seen[key >> 3] |= (unsigned char)(1u << (key & 7));
		airi_manifest_free(x);
	}
	assert_true(second >= 0);
	for (int i = 0; i < second; i++) {
		airi_manifest *x = mk("{\"conditions\":{\"n\":%d}}", i);
		const unsigned char *b = airi_manifest_run_id(x)->bytes;
		unsigned key = (unsigned)b[0] << 16 | (unsigned)b[1] << 8 | b[2];
		airi_manifest_free(x);
		if (key == target) {
			first = i;
			break;
		}
	}
	assert_true(first >= 0);
	airi_manifest *a = mk("{\"conditions\":{\"n\":%d}}", first);
	airi_manifest *b = mk("{\"conditions\":{\"n\":%d}}", second);
	assert_int_equal(airi_store_record(s, a, NULL, NULL), 0);
	assert_int_equal(airi_store_record(s, b, NULL, NULL), 0);
	snprintf(pre, sizeof(pre), "%06x", target);
	assert_int_equal(airi_store_resolve(s, pre, &d, &err), AIRI_EAMBIGUOUS);
	char ha[AIRI_DIGEST_STRLEN], hb[AIRI_DIGEST_STRLEN];
	airi_digest_format(airi_manifest_run_id(a), ha);
	airi_digest_format(airi_manifest_run_id(b), hb);
	assert_non_null(strstr(err.message, ha));
	assert_non_null(strstr(err.message, hb));
	/* one more digit disambiguates (when the IDs differ there) */
	if (ha[13] != hb[13]) {
		snprintf(pre, sizeof(pre), "%.7s", ha + 7);
		assert_int_equal(airi_store_resolve(s, pre, &d, &err), 0);
		assert_true(airi_digest_equal(&d, airi_manifest_run_id(a)));
	}
	airi_manifest_free(a);
	airi_manifest_free(b);
	airi_store_close(s);
}

struct collect {
	int n;
	char models[16][64];
	int64_t times[16];
};

static int collect_fn(void *ctx, const airi_run_info *r)
{
	struct collect *c = ctx;
	if (c->n < 16) {
		snprintf(c->models[c->n], 64, "%s",
			 r->model_resolved ? r->model_resolved
			 : r->model	   ? r->model
					   : "-");
		c->times[c->n] = r->time_ms;
	}
	c->n++;
	return 0;
}

static void test_list(void **state)
{
	(void)state;
	airi_store *s = open_new("list.db");
	const char *models[] = {"a", "b", "a", "c"};
	for (int i = 0; i < 4; i++) {
		airi_manifest *m = mk("{\"conditions\":{\"model\":{\"name\":\"%s\","
				      "\"resolved\":\"%s-v%d\"},\"x\":%d},"
				      "\"meta\":{\"start\":\"2026-01-0%dT00:00:00Z\"}}",
				      models[i], models[i], i, i, i + 1);
		assert_int_equal(airi_store_record(s, m, NULL, NULL), 0);
		airi_manifest_free(m);
	}
	struct collect c;
	airi_filter f;
	memset(&f, 0, sizeof(f));
	memset(&c, 0, sizeof(c));
	assert_int_equal(airi_store_list(s, &f, collect_fn, &c, NULL), 0);
	assert_int_equal(c.n, 4);
	assert_string_equal(c.models[0], "c-v3"); /* newest first */
	assert_string_equal(c.models[3], "a-v0");
	assert_true(c.times[0] > c.times[1]);

	memset(&c, 0, sizeof(c));
	f.model = "a";
	assert_int_equal(airi_store_list(s, &f, collect_fn, &c, NULL), 0);
	assert_int_equal(c.n, 2);
	memset(&c, 0, sizeof(c));
	f.model = "b-v1"; /* resolved name matches too */
	assert_int_equal(airi_store_list(s, &f, collect_fn, &c, NULL), 0);
	assert_int_equal(c.n, 1);

	memset(&c, 0, sizeof(c));
	memset(&f, 0, sizeof(f));
	f.has_since = 1;
	f.since_ms = 1767312000000LL; /* 2026-01-02T00:00:00Z */
	f.has_until = 1;
	f.until_ms = 1767484800000LL; /* 2026-01-04T00:00:00Z */
	assert_int_equal(airi_store_list(s, &f, collect_fn, &c, NULL), 0);
	assert_int_equal(c.n, 2);
	assert_string_equal(c.models[0], "a-v2");

	memset(&c, 0, sizeof(c));
	memset(&f, 0, sizeof(f));
	f.limit = 3;
	assert_int_equal(airi_store_list(s, &f, collect_fn, &c, NULL), 0);
	assert_int_equal(c.n, 3);
	airi_store_close(s);
}

static void test_conditions_filter(void **state)
{
	(void)state;
	airi_store *s = open_new("cond.db");
	airi_manifest *a = mk("{\"conditions\":{\"x\":1},\"output\":1}");
	airi_manifest *b = mk("{\"conditions\":{\"x\":1},\"output\":2}");
	airi_manifest *c = mk("{\"conditions\":{\"x\":2},\"output\":1}");
	assert_int_equal(airi_store_record(s, a, NULL, NULL), 0);
	assert_int_equal(airi_store_record(s, b, NULL, NULL), 0);
	assert_int_equal(airi_store_record(s, c, NULL, NULL), 0);
	char hex[AIRI_DIGEST_STRLEN], pre[16];
	airi_digest_format(airi_manifest_conditions_id(a), hex);
	snprintf(pre, sizeof(pre), "%.8s", hex + 7);
	airi_filter f;
	struct collect col;
	memset(&f, 0, sizeof(f));
	memset(&col, 0, sizeof(col));
	f.conditions = pre;
	assert_int_equal(airi_store_list(s, &f, collect_fn, &col, NULL), 0);
	assert_int_equal(col.n, 2);
	f.conditions = "nothex!";
	assert_int_equal(airi_store_list(s, &f, collect_fn, &col, NULL),
			 AIRI_EINVAL);
	airi_manifest_free(a);
	airi_manifest_free(b);
	airi_manifest_free(c);
	airi_store_close(s);
}

static void test_transaction(void **state)
{
	(void)state;
	airi_store *s = open_new("tx.db");
	airi_manifest *a = mk("{\"conditions\":{\"t\":1}}");
	airi_manifest *b = mk("{\"conditions\":{\"t\":2}}");
	airi_digest d;
	assert_int_equal(airi_store_begin(s, NULL), 0);
	assert_int_equal(airi_store_begin(s, NULL), AIRI_EINVAL);
	assert_int_equal(airi_store_record(s, a, NULL, NULL), 0);
	assert_int_equal(airi_store_rollback(s), 0);
	char hex[AIRI_DIGEST_STRLEN];
	airi_digest_format(airi_manifest_run_id(a), hex);
	assert_int_equal(airi_store_resolve(s, hex, &d, NULL), AIRI_ENOTFOUND);
	assert_int_equal(count_objects(s), 0);
	assert_int_equal(airi_store_begin(s, NULL), 0);
	assert_int_equal(airi_store_record(s, a, NULL, NULL), 0);
	assert_int_equal(airi_store_record(s, b, NULL, NULL), 0);
	assert_int_equal(airi_store_commit(s, NULL), 0);
	assert_int_equal(airi_store_resolve(s, hex, &d, NULL), 0);
	assert_int_equal(airi_store_commit(s, NULL), AIRI_EINVAL);
	airi_manifest_free(a);
	airi_manifest_free(b);
	airi_store_close(s);
}

/* the log index of a run, or -1 when it is not in the log */
static long long log_index(airi_store *s, const airi_manifest *m)
{
	uint64_t index;
	char *entry = NULL;
	size_t n;
	if (airi_store_log_entry(s, airi_manifest_run_id(m), &index, &entry, &n,
				 NULL))
		return -1;
	free(entry);
	return (long long)index;
}

static void test_record_many(void **state)
{
	(void)state;
	airi_store *s = open_new("many.db");
	airi_manifest *r[7];
	int created[8];
	uint64_t size;
	airi_error err;
	for (int i = 0; i < 7; i++)
		r[i] = mk("{\"conditions\":{\"system\":\"shared\",\"input\":%d},"
			  "\"output\":\"o%d\",\"meta\":{\"start\":"
			  "\"2026-01-0%dT00:00:00Z\"}}",
			  i, i % 2, i + 1);
	assert_int_equal(airi_store_record(s, r[0], NULL, NULL), 0);
	/* duplicates within the batch and against the store */
	airi_manifest *b1[] = {r[1], r[0], r[2], r[1], r[3]};
	assert_int_equal(airi__store_record_many(s, b1, 5, -1, created, &err),
			 0);
	int want1[] = {1, 0, 1, 0, 1};
	for (int i = 0; i < 5; i++)
		assert_int_equal(created[i], want1[i]);
	/* in the caller's transaction, rolled back: nothing of it stays */
	airi_manifest *b2[] = {r[4], r[2], r[4], r[5]};
	assert_int_equal(airi_store_begin(s, NULL), 0);
	assert_int_equal(airi__store_record_many(s, b2, 4, -1, created, &err),
			 0);
	int want2[] = {1, 0, 0, 1};
	for (int i = 0; i < 4; i++)
		assert_int_equal(created[i], want2[i]);
	assert_int_equal(airi_store_rollback(s), 0);
	assert_int_equal(log_index(s, r[4]), -1);
	assert_int_equal(airi_store_log_size(s, &size, NULL), 0);
	assert_int_equal(size, 4);
	/* again, committed, with a second batch in the same transaction */
	assert_int_equal(airi_store_begin(s, NULL), 0);
	assert_int_equal(airi__store_record_many(s, b2, 4, -1, created, &err),
			 0);
	for (int i = 0; i < 4; i++)
		assert_int_equal(created[i], want2[i]);
	airi_manifest *b3[] = {r[5], r[6]};
	assert_int_equal(airi__store_record_many(s, b3, 2, -1, created, &err),
			 0);
	assert_int_equal(created[0], 0);
	assert_int_equal(created[1], 1);
	assert_int_equal(airi_store_commit(s, NULL), 0);
	/* a batch of runs that are all stored changes nothing */
	assert_int_equal(airi__store_record_many(s, r, 7, -1, NULL, &err), 0);
	/* each run once, in the order first given */
	assert_int_equal(airi_store_log_size(s, &size, NULL), 0);
	assert_int_equal(size, 7);
	int order[] = {0, 1, 2, 3, 4, 5, 6};
	for (int i = 0; i < 7; i++)
		assert_int_equal(log_index(s, r[order[i]]), i);
	for (int i = 0; i < 7; i++) {
		airi_manifest *back = NULL;
		assert_int_equal(airi_store_fetch(s, airi_manifest_run_id(r[i]),
						  &back, &err),
				 0);
		airi_manifest_free(back);
	}
	/* 1 system + 7 inputs + 7 conditions + 2 outputs + 7 metas + 7 runs;
	 * fsck clean */
	assert_int_equal(count_objects(s), 31);
	/* an empty batch is nothing */
	assert_int_equal(airi__store_record_many(s, r, 0, -1, NULL, &err), 0);
	for (int i = 0; i < 7; i++)
		airi_manifest_free(r[i]);
	airi_store_close(s);
}

/* PostgreSQL: a commit whose log writes fail (they go to the server in
 * one pipeline with the COMMIT) records nothing, and the store handle
 * works on afterwards */
static void test_failed_commit(void **state)
{
	(void)state;
	if (!test_pg())
		return;
	airi_store *s = open_new("failc.db");
	airi_manifest *r[4];
	int created[2];
	uint64_t size;
	airi_error err;
	for (int i = 0; i < 4; i++)
		r[i] = mk("{\"conditions\":{\"input\":%d}}", i);
	assert_int_equal(airi_store_record(s, r[0], NULL, NULL), 0);
	test_pg_exec_in("failc.db",
			"CREATE FUNCTION no_leaves() RETURNS trigger LANGUAGE "
			"plpgsql AS $$BEGIN RAISE EXCEPTION 'no leaves'; END$$; "
			"CREATE TRIGGER no_leaves BEFORE INSERT ON log_leaves "
			"FOR EACH STATEMENT EXECUTE FUNCTION no_leaves()");
	assert_int_equal(airi__store_record_many(s, r + 1, 2, -1, created,
						 &err),
			 AIRI_ESTORE);
	assert_non_null(strstr(err.message, "no leaves"));
	/* a single run: its log writes fail when it is appended (reading a
	 * node writes what waits first) or at the commit */
	if (airi_store_begin(s, &err))
		fail_msg("begin after a failed commit: %s", err.message);
	if (airi_store_record(s, r[3], NULL, NULL) == 0)
		assert_int_not_equal(airi_store_commit(s, &err), 0);
	else
		airi_store_rollback(s);
	assert_int_equal(log_index(s, r[1]), -1);
	assert_int_equal(log_index(s, r[3]), -1);
	test_pg_exec_in("failc.db", "DROP TRIGGER no_leaves ON log_leaves");
	assert_int_equal(airi__store_record_many(s, r + 1, 2, -1, created,
						 &err),
			 0);
	assert_int_equal(created[0], 1);
	assert_int_equal(created[1], 1);
	assert_int_equal(airi_store_record(s, r[3], NULL, NULL), 0);
	assert_int_equal(airi_store_log_size(s, &size, NULL), 0);
	assert_int_equal(size, 4);
	for (int i = 0; i < 4; i++)
		assert_int_equal(log_index(s, r[i]), i);
	count_objects(s); /* fsck clean */
	for (int i = 0; i < 4; i++)
		airi_manifest_free(r[i]);
	airi_store_close(s);
}

struct problems {
	int n;
	char first[512];
};

static void problem_fn(void *ctx, const char *p)
{
	struct problems *pr = ctx;
	if (!pr->n++)
		snprintf(pr->first, sizeof(pr->first), "%s", p);
}

static void test_fsck_corruption(void **state)
{
	(void)state;
	char path[512];
	snprintf(path, sizeof(path), "%s/fsck.db", dir);
	airi_store *s = open_new("fsck.db");
	airi_manifest *m = mk("{\"conditions\":{\"system\":\"secret prompt\"}}");
	assert_int_equal(airi_store_record(s, m, NULL, NULL), 0);
	airi_store_close(s);
	/* tamper with the section body behind the store's back */
	if (test_pg()) {
		char sql[256], hex[AIRI_DIGEST_STRLEN];
		airi_digest_format(airi_manifest_section_digest(m, 0), hex);
		snprintf(sql, sizeof(sql),
			 "UPDATE objects SET body = '\"other prompt\"'::bytea "
			 "WHERE digest = '\\x%s'::bytea",
			 hex + 7);
		test_pg_exec_in("fsck.db", sql);
	} else {
	sqlite3 *db;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	sqlite3_stmt *st;
	assert_int_equal(sqlite3_prepare_v2(db, "UPDATE objects SET body = "
						"'\"other prompt\"' WHERE digest = ?1",
					    -1, &st, NULL),
			 SQLITE_OK);
	sqlite3_bind_blob(st, 1, airi_manifest_section_digest(m, 0)->bytes, 32,
			  SQLITE_STATIC);
	assert_int_equal(sqlite3_step(st), SQLITE_DONE);
	sqlite3_finalize(st);
	sqlite3_close(db);
	}

	s = open_new("fsck.db");
	struct problems pr = {0, ""};
	size_t objects = 0, problems = 0;
	assert_int_equal(airi_store_fsck(s, problem_fn, &pr, &objects,
					 &problems, NULL),
			 0);
	assert_true(problems >= 1);
	char hex[AIRI_DIGEST_STRLEN];
	airi_digest_format(airi_manifest_section_digest(m, 0), hex);
	assert_non_null(strstr(pr.first, hex));
	/* fetching the run notices too */
	airi_manifest *back = NULL;
	airi_error err;
	assert_int_equal(airi_store_fetch(s, airi_manifest_run_id(m), &back, &err),
			 AIRI_ECORRUPT);
	assert_null(back);
	airi_manifest_free(m);
	airi_store_close(s);
}

static void test_newer_schema(void **state)
{
	(void)state;
	char path[512];
	snprintf(path, sizeof(path), "%s/new.db", dir);
	airi_store *s = open_new("new.db");
	airi_store_close(s);
	if (test_pg()) {
		test_pg_exec_in("new.db", "INSERT INTO airi_schema VALUES (99, 0)");
		snprintf(path, sizeof(path), "%s", test_store_loc(dir, "new.db", 0));
	} else {
	sqlite3 *db;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "PRAGMA user_version=99", NULL, NULL,
				      NULL),
			 SQLITE_OK);
	sqlite3_close(db);
	}
	airi_error err;
	s = NULL;
	assert_int_equal(airi_store_open(path, AIRI_STORE_CREATE, &s, &err),
			 AIRI_ESCHEMA);
	assert_null(s);
	assert_non_null(strstr(err.message, "schema version 99"));
}

static void test_default_location(void **state)
{
	(void)state;
	setenv("AIRI_STORE", "/x/y.db", 1);
	char *p = airi_store_default_location();
	assert_string_equal(p, "/x/y.db");
	free(p);
	unsetenv("AIRI_STORE");
	setenv("XDG_DATA_HOME", "/data", 1);
	p = airi_store_default_location();
	assert_string_equal(p, "/data/airi/airi.db");
	free(p);
	unsetenv("XDG_DATA_HOME");
	setenv("HOME", "/home/u", 1);
	p = airi_store_default_location();
	assert_string_equal(p, "/home/u/.local/share/airi/airi.db");
	free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_mode),
		cmocka_unit_test(test_record_fetch),
		cmocka_unit_test(test_dedup),
		cmocka_unit_test(test_resolve),
		cmocka_unit_test(test_list),
		cmocka_unit_test(test_conditions_filter),
		cmocka_unit_test(test_transaction),
		cmocka_unit_test(test_record_many),
		cmocka_unit_test(test_failed_commit),
		cmocka_unit_test(test_fsck_corruption),
		cmocka_unit_test(test_newer_schema),
		cmocka_unit_test(test_default_location),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
