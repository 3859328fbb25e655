/*
 * test_regress.c - cohorts: the facts kept per run (section digests,
 * outcome), filter terms (time, model, label, section prefix) in
 * airi_store_list and airi_regress, labels and scores, the regress report
 * (changed sections with the changed fields, models, pairs, statistics),
 * and the migration of a schema-3 store, whose facts are back-filled.
 */
#include "test_util.h"
#include "test_store_loc.h"

#include "store.h"

#include <math.h>
#include <sqlite3.h>
#include <unistd.h>

static char dir[256];

/* a string value as a C string (rotating buffers; "" when not a string) */
static const char *cli_str(const airi_value *v)
{
	static char bufs[8][512];
	static int next;
	char *b = bufs[next++ % 8];
	size_t n = 0;
	const char *p = v ? airi_value_string(v, &n) : NULL;
	snprintf(b, 512, "%.*s", p ? (int)(n > 511 ? 511 : n) : 0, p ? p : "");
	return b;
}

static int setup(void **state)
{
	(void)state;
	return test_tmpdir(dir, sizeof(dir), "regress");
}

static int teardown(void **state)
{
	(void)state;
	return test_rmdir(dir);
}

static const char *path_of(const char *name)
{
	return test_store_loc(dir, name, 0);
}

static airi_store *open_store(const char *name)
{
	airi_store *s = NULL;
	airi_error err;
	if (airi_store_open(path_of(name), AIRI_STORE_CREATE, &s, &err))
		fail_msg("open: %s", err.message);
	return s;
}

/* a run of cohort b (0 before, 1 after) for question q */
static void record(airi_store *s, int b, int q, int i, airi_digest *run)
{
	char text[2048];
	airi_manifest *m = NULL;
	airi_error err;
	snprintf(text, sizeof(text),
		 "{\"conditions\":{\"model\":{\"name\":\"gpt-x\",\"resolved\":\"%s\"},"
		 "\"system\":{\"text\":\"Be brief.\"},"
		 "\"tools\":{\"definitions\":[{\"name\":\"search\",\"description\":"
		 "\"%s\"}]},"
		 "\"input\":{\"messages\":[{\"role\":\"user\",\"content\":\"Q%d\"}]}},"
		 "\"output\":{\"choices\":[{\"index\":0,\"finish_reason\":\"%s\","
		 "\"message\":{\"role\":\"assistant\",\"content\":\"%s\","
		 "\"tool_calls\":[%s]}}],\"usage\":{\"completion_tokens\":%d}},"
		 "\"meta\":{\"start\":\"2026-0%d-10T10:00:%02d.000Z\","
		 "\"end\":\"2026-0%d-10T10:00:%02d.%03dZ\",\"status\":%d,\"i\":%d}}",
		 b ? "gpt-x-2026-06" : "gpt-x-2026-01",
		 b ? "Search the web for pages" : "Search the web", q,
		 i % 10 == 0 ? "length" : "stop",
		 b && q % 2 ? "A much longer answer" : "Short",
		 b ? "{\"id\":\"c\"}" : "", 10 + b * 5, b ? 2 : 1, i % 60,
		 b ? 2 : 1, i % 60, b ? 500 : 200, b && i % 5 == 0 ? 500 : 200, i);
	if (airi_manifest_parse(text, strlen(text), &m, &err))
		fail_msg("manifest: %s", err.message);
	if (airi_store_record(s, m, NULL, &err))
		fail_msg("record: %s", err.message);
	*run = *airi_manifest_run_id(m);
	airi_manifest_free(m);
}

static airi_digest runs[2][100];

static void fill(airi_store *s)
{
	for (int b = 0; b < 2; b++)
		for (int i = 0; i < 100; i++)
			record(s, b, i % 20, i, &runs[b][i]);
}

static int count_fn(void *ctx, const airi_run_info *r)
{
	(void)r;
	(*(int *)ctx)++;
	return 0;
}

static int count(airi_store *s, const char *where, int *rc)
{
	airi_filter f;
	airi_error err;
	int n = 0;
	memset(&f, 0, sizeof(f));
	f.where = where;
	*rc = airi_store_list(s, &f, count_fn, &n, &err);
	return n;
}

static void test_filters_and_labels(void **state)
{
	(void)state;
	airi_store *s = open_store("f.db");
	airi_error err;
	int rc;
	fill(s);
	assert_int_equal(count(s, NULL, &rc), 200);
	assert_int_equal(count(s, "since=2026-02-01T00:00:00Z", &rc), 100);
	assert_int_equal(count(s, "until=2026-02-01T00:00:00Z, model=gpt-x", &rc), 100);
	assert_int_equal(count(s, "model=gpt-x-2026-06", &rc), 100);
	assert_int_equal(count(s, "model=nope", &rc), 0);
	assert_int_equal(rc, 0);
	/* labels: set, numeric score, replace, remove; all filterable */
	assert_int_equal(airi_store_label(s, &runs[0][3], "verdict", "bad", &err), 0);
	assert_int_equal(airi_store_label(s, &runs[1][4], "verdict", "bad", &err), 0);
	assert_int_equal(airi_store_label(s, &runs[1][5], "verdict", "good", &err), 0);
	assert_int_equal(count(s, "label.verdict=bad", &rc), 2);
	assert_int_equal(count(s, "label.verdict=bad since=2026-02-01T00:00:00Z", &rc), 1);
	assert_int_equal(airi_store_label(s, &runs[1][4], "verdict", "good", &err), 0);
	assert_int_equal(count(s, "label.verdict=bad", &rc), 1);
	assert_int_equal(airi_store_label(s, &runs[1][4], "verdict", NULL, &err), 0);
	assert_int_equal(count(s, "label.verdict=good", &rc), 1);
	/* bad labels and unknown runs */
	assert_int_equal(airi_store_label(s, &runs[0][0], "bad key", "x", &err), AIRI_EINVAL);
	assert_int_equal(airi_store_label(s, &runs[0][0], "k", "\xff", &err), AIRI_EINVAL);
	airi_digest nope;
	memset(&nope, 7, sizeof(nope));
	assert_int_equal(airi_store_label(s, &nope, "k", "v", &err), AIRI_ENOTFOUND);
	/* a section prefix: the before cohort's tools digest */
	char *report = NULL;
	size_t n;
	assert_int_equal(airi_regress(s, "until=2026-02-01T00:00:00Z",
				      "since=2026-02-01T00:00:00Z", 3, &report, &n,
				      &err),
			 0);
	airi_json *doc = NULL;
	assert_int_equal(airi_json_parse(report, n, &doc, NULL), 0);
	const airi_value *tools = NULL, *secs = airi_value_get(airi_json_root(doc), "sections");
	for (size_t i = 0; i < airi_value_count(secs); i++)
		if (!strcmp(cli_str(airi_value_get(airi_value_at(secs, i), "name")), "tools"))
			tools = airi_value_at(secs, i);
	assert_non_null(tools);
	const char *td = cli_str(airi_value_get(
		airi_value_at(airi_value_get(tools, "before"), 0), "digest"));
	char term[128];
	snprintf(term, sizeof(term), "section.tools=%.19s", td);
	assert_int_equal(count(s, term, &rc), 100);
	airi_json_free(doc);
	free(report);
	/* malformed terms are named */
	assert_int_equal(count(s, "since=yesterday", &rc), 0);
	assert_int_equal(rc, AIRI_EINVAL);
	assert_int_equal(count(s, "section.custom=ab", &rc), 0);
	assert_int_equal(rc, AIRI_EINVAL);
	assert_int_equal(count(s, "colour=blue", &rc), 0);
	assert_int_equal(rc, AIRI_EINVAL);
	airi_store_close(s);
}

static const airi_value *at(const airi_value *v, const char *path)
{
	char key[64];
	while (v && *path) {
		size_t n = strcspn(path, "/");
		memcpy(key, path, n);
		key[n] = 0;
		v = airi_value_type(v) == AIRI_ARRAY
			    ? airi_value_at(v, (size_t)atoi(key))
			    : airi_value_get(v, key);
		path += n + (path[n] == '/');
	}
	return v;
}

static double numat(const airi_value *v, const char *path)
{
	const airi_value *x = at(v, path);
	if (!x)
		fail_msg("no %s in the report", path);
	return airi_value_number(x);
}

static const airi_value *section(const airi_value *r, const char *name)
{
	const airi_value *secs = airi_value_get(r, "sections");
	for (size_t i = 0; i < airi_value_count(secs); i++)
		if (!strcmp(cli_str(airi_value_get(airi_value_at(secs, i), "name")), name))
			return airi_value_at(secs, i);
	fail_msg("no section %s", name);
	return NULL;
}

static void test_report(void **state)
{
	(void)state;
	airi_store *s = open_store("r.db");
	airi_error err;
	char *report = NULL;
	size_t n;
	fill(s);
	for (int i = 0; i < 10; i++) {
		assert_int_equal(airi_store_label(s, &runs[0][i], "quality", "0.9", &err), 0);
		assert_int_equal(airi_store_label(s, &runs[1][i], "quality", "0.5", &err), 0);
	}
	assert_int_equal(airi_regress(s, "until=2026-02-01T00:00:00Z",
				      "since=2026-02-01T00:00:00Z", 2, &report, &n,
				      &err),
			 0);
	airi_json *doc = NULL;
	assert_int_equal(airi_json_parse(report, n, &doc, NULL), 0);
	const airi_value *r = airi_json_root(doc);
	/* the report is canonical JSON */
	char *canon = NULL;
	size_t cn;
	assert_int_equal(airi_canon(r, &canon, &cn), 0);
	assert_int_equal(cn, n);
	assert_memory_equal(canon, report, n);
	free(canon);
	assert_int_equal(numat(r, "before/runs"), 100);
	assert_int_equal(numat(r, "after/runs"), 100);
	/* what changed: model (resolved) and tools, with the field; not
	 * system; input varies per run (20 questions in each) */
	assert_string_equal(cli_str(at(section(r, "model"), "state")), "changed");
	assert_non_null(strstr(cli_str(at(section(r, "model"), "summary")), "/resolved"));
	assert_string_equal(cli_str(at(section(r, "tools"), "state")), "changed");
	assert_non_null(strstr(cli_str(at(section(r, "tools"), "summary")),
			       "/definitions/0/description"));
	assert_string_equal(cli_str(at(section(r, "system"), "state")), "unchanged");
	assert_string_equal(cli_str(at(section(r, "input"), "state")), "varies");
	assert_int_equal(numat(section(r, "input"), "distinct/before"), 20);
	assert_string_equal(cli_str(at(r, "models/before/0/name")), "gpt-x-2026-01");
	assert_string_equal(cli_str(at(r, "models/after/0/name")), "gpt-x-2026-06");
	assert_true(numat(r, "models/after/0/share") == 1);
	/* pairs: every after run's question was asked before; the odd
	 * questions' answers changed (and all outputs differ by tool calls
	 * and usage) */
	assert_int_equal(numat(r, "paired/pairs"), 100);
	assert_int_equal(numat(r, "paired/output_differs"), 100);
	assert_int_equal(airi_value_count(at(r, "paired/examples")), 2);
	assert_int_equal(numat(r, "paired/examples/0/after/out_chars"), 20);
	/* outcomes: failures 0 -> 20%, tool calls 0 -> 1, latency up,
	 * finish reasons, tokens, the quality score 0.9 -> 0.5 */
	assert_true(fabs(numat(r, "outcomes/failed/before/rate")) < 1e-9);
	assert_true(fabs(numat(r, "outcomes/failed/after/rate") - 0.2) < 1e-9);
	assert_true(numat(r, "outcomes/failed/ci95/0") > 0);
	assert_true(numat(r, "outcomes/tool_calls/after/mean") == 1);
	assert_true(numat(r, "outcomes/tool_calls/before/mean") == 0);
	assert_true(numat(r, "outcomes/latency_ms/diff") > 0);
	assert_true(numat(r, "outcomes/out_tokens/diff") == 5);
	assert_true(fabs(numat(r, "outcomes/finish/before/0/share") - 0.9) < 1e-9);
	assert_string_equal(cli_str(at(r, "outcomes/finish/before/1/reason")), "length");
	assert_true(fabs(numat(r, "scores/quality/diff") + 0.4) < 1e-9);
	assert_int_equal(numat(r, "scores/quality/before/n"), 10);
	assert_int_equal(airi_value_count(at(r, "outcomes/latency_ms/histogram/edges")), 21);
	double hsum = 0;
	for (int i = 0; i < 20; i++) {
		char p[64];
		snprintf(p, sizeof(p), "outcomes/latency_ms/histogram/after/%d", i);
		hsum += numat(r, p);
	}
	assert_true(hsum == 100);
	assert_true(airi_value_count(at(r, "summary")) >= 3);
	airi_json_free(doc);
	free(report);
	/* identical cohorts: nothing changed */
	assert_int_equal(airi_regress(s, "model=gpt-x-2026-01", "model=gpt-x-2026-01",
				      2, &report, &n, &err),
			 0);
	assert_int_equal(airi_json_parse(report, n, &doc, NULL), 0);
	r = airi_json_root(doc);
	assert_string_equal(cli_str(at(section(r, "model"), "state")), "unchanged");
	assert_int_equal(numat(r, "paired/output_differs"), 0);
	airi_json_free(doc);
	free(report);
	/* an empty cohort is reported, not an error; a bad filter is */
	assert_int_equal(airi_regress(s, "model=none", "model=gpt-x-2026-01", 2,
				      &report, &n, &err),
			 0);
	assert_non_null(strstr(report, "cohort is empty"));
	free(report);
	assert_int_equal(airi_regress(s, "model", "x=1", 2, &report, &n, &err),
			 AIRI_EINVAL);
	assert_non_null(strstr(err.message, "filter term 1"));
	airi_store_close(s);
}

/* long non-ASCII summaries and model names are cut at a character
 * boundary, never inside one (the report must stay valid JSON) */
static void test_utf8_cuts(void **state)
{
	(void)state;
	airi_store *s = open_store("u.db");
	airi_error err;
	char *report = NULL;
	size_t n;
	for (int b = 0; b < 2; b++) {
		char text[4096], out[700], model[1300];
		size_t o = 0, mo = 0;
		for (int i = 0; i < 300; i++) {
			memcpy(out + o, b ? "\xc3\xbc" : "\xc3\xa9", 2); /* ü / é */
			o += 2;
		}
		out[o] = 0;
		for (int i = 0; i < 600; i++) {
			memcpy(model + mo, b ? "\xe2\x82\xac" : "x", b ? 3 : 1); /* € */
			mo += b ? 3 : 1;
			if (mo > 1200)
				break;
		}
		model[mo] = 0;
		snprintf(text, sizeof(text),
			 "{\"conditions\":{\"model\":{\"name\":\"m\",\"resolved\":\"%s\"},"
			 "\"input\":\"same\"},\"output\":{\"content\":\"%s\"},"
			 "\"meta\":{\"start\":\"2026-0%d-01T00:00:00Z\"}}",
			 model, out, b + 1);
		airi_manifest *m = NULL;
		if (airi_manifest_parse(text, strlen(text), &m, &err))
			fail_msg("manifest: %s", err.message);
		assert_int_equal(airi_store_record(s, m, NULL, &err), 0);
		airi_manifest_free(m);
	}
	assert_int_equal(airi_regress(s, "until=2026-02-01T00:00:00Z",
				      "since=2026-02-01T00:00:00Z", 5, &report, &n,
				      &err),
			 0);
	assert_non_null(strstr(report, "\"output_differs\":1"));
	free(report);
	airi_store_close(s);
}

/* a store of schema 3 (no facts, no labels) is migrated on open, in one
 * transaction, and its runs' facts are back-filled from their manifests */
static void test_migration(void **state)
{
	(void)state;
	airi_store *s = open_store("m.db");
	airi_error err;
	fill(s);
	airi_store_close(s);
	static const char *const cols[] = {
		"s_model", "s_params", "s_system", "s_input", "s_retrieval",
		"s_tools", "s_environment", "out_digest", "status", "failed",
		"finish", "out_chars", "latency_ms", "tool_calls", "out_tokens"};
	if (test_pg()) {
		/* PostgreSQL's version 1 is the store before facts and labels;
		 * opening refuses it until `airi store migrate` */
		for (size_t i = 0; i < sizeof(cols) / sizeof(*cols); i++) {
			char sql[128];
			snprintf(sql, sizeof(sql), "ALTER TABLE runs DROP COLUMN %s",
				 cols[i]);
			test_pg_exec_in("m.db", sql);
		}
		test_pg_exec_in("m.db", "DROP TABLE labels; DELETE FROM airi_schema "
					"WHERE version = 2");
		s = NULL;
		assert_int_equal(airi_store_open(path_of("m.db"), AIRI_STORE_CREATE,
						 &s, &err),
				 AIRI_ESCHEMA);
		assert_non_null(strstr(err.message, "airi store migrate"));
		assert_null(s);
		int from = -1, to = -1;
		const char *backend = NULL;
		assert_int_equal(airi__store_migrate(path_of("m.db"), 0, &from, &to,
						     &backend, &err),
				 0);
		assert_int_equal(from, 1);
		assert_int_equal(to, 2);
		assert_string_equal(backend, "postgres");
		/* a second time: nothing to do */
		assert_int_equal(airi__store_migrate(path_of("m.db"), 0, &from, &to,
						     NULL, &err),
				 0);
		assert_int_equal(from, 2);
		assert_int_equal(to, 2);
		/* a migration to version 1 of an empty schema stops there */
		const char *v1 = test_store_loc(dir, "v1.db", 1);
		assert_int_equal(airi__store_migrate(v1, 1, &from, &to, NULL, &err),
				 0);
		assert_int_equal(from, 0);
		assert_int_equal(to, 1);
		assert_int_equal(airi_store_open(v1, AIRI_STORE_CREATE, &s, &err),
				 AIRI_ESCHEMA);
	}
	sqlite3 *db = NULL;
	if (!test_pg()) {
	assert_int_equal(sqlite3_open(path_of("m.db"), &db), SQLITE_OK);
	for (size_t i = 0; i < sizeof(cols) / sizeof(*cols); i++) {
		char sql[128];
		snprintf(sql, sizeof(sql), "ALTER TABLE runs DROP COLUMN %s", cols[i]);
		assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	}
	assert_int_equal(sqlite3_exec(db, "DROP TABLE labels; PRAGMA user_version=3",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(db);
	}
	s = open_store("m.db");
	char *report = NULL;
	size_t n;
	assert_int_equal(airi_regress(s, "until=2026-02-01T00:00:00Z",
				      "since=2026-02-01T00:00:00Z", 0, &report, &n,
				      &err),
			 0);
	assert_non_null(strstr(report, "\"output_differs\":100"));
	assert_non_null(strstr(report, "gpt-x-2026-06"));
	free(report);
	assert_int_equal(airi_store_label(s, &runs[0][0], "k", "v", &err), 0);
	size_t objs = 0, problems = 1;
	assert_int_equal(airi_store_fsck(s, NULL, NULL, &objs, &problems, &err), 0);
	assert_int_equal(problems, 0);
	airi_store_close(s);
	if (test_pg()) {
		test_pg_exec_in("m.db", "DO $$ BEGIN IF (SELECT max(version) FROM "
					"airi_schema) <> 2 THEN RAISE 'not 2'; END "
					"IF; END $$");
		return;
	}
	assert_int_equal(sqlite3_open(path_of("m.db"), &db), SQLITE_OK);
	sqlite3_stmt *st;
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(st, 0), 4);
	sqlite3_finalize(st);
	sqlite3_close(db);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_filters_and_labels, setup, teardown),
		cmocka_unit_test_setup_teardown(test_report, setup, teardown),
		cmocka_unit_test_setup_teardown(test_migration, setup, teardown),
		cmocka_unit_test_setup_teardown(test_utf8_cuts, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
