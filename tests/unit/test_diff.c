/*
 * test_diff.c - the diff report: section statuses, field changes as JSON
 * Pointers, the trajectory alignment (an inserted step must not make the
 * following steps differ), output comparison and the verdict.
 */
#include "test_util.h"

static airi_manifest *mk(const char *j)
{
	airi_manifest *m = NULL;
	airi_error err;
	if (airi_manifest_parse(j, strlen(j), &m, &err))
		fail_msg("%s: %s", j, err.message);
	return m;
}

static char *keep[64];
static int nkeep;

static int free_reports(void **state)
{
	(void)state;
	while (nkeep > 0)
		free(keep[--nkeep]);
	return 0;
}

static airi_json *diff(const char *a, const char *b, int *same)
{
	airi_manifest *A = mk(a), *B = mk(b);
	char *r;
	size_t n;
	airi_json *doc;
	assert_int_equal(airi_run_diff(A, B, same, &r, &n), 0);
	/* the report is canonical JSON */
	char *c = canon_of(r);
	assert_string_equal(c, r);
	free(c);
	assert_int_equal(airi_json_parse(r, n, &doc, NULL), 0);
	/* keep r alive with the document: leak-free by freeing after use */
	airi_manifest_free(A);
	airi_manifest_free(B);
	/* the document points into r: keep r until the group ends */
	if (nkeep < 64)
		keep[nkeep++] = r;
	else
		fail_msg("too many reports");
	return doc;
}

static const char *str(const airi_value *v)
{
	static char buf[4][512];
	static int k;
	size_t n = 0;
	const char *s = airi_value_string(v, &n);
	char *b = buf[k++ & 3];
	snprintf(b, 512, "%.*s", (int)n, s ? s : "");
	return b;
}

static const airi_value *at(const airi_value *v, const char *path)
{
	/* tiny pointer walker: "/a/0/b" */
	char tok[128];
	while (v && *path == '/') {
		path++;
		size_t n = strcspn(path, "/");
		snprintf(tok, sizeof(tok), "%.*s", (int)n, path);
		path += n;
		if (airi_value_type(v) == AIRI_ARRAY)
			v = airi_value_at(v, (size_t)atoi(tok));
		else
			v = airi_value_get(v, tok);
	}
	return v;
}

static void test_sections(void **state)
{
	(void)state;
	int same;
	airi_json *d = diff("{\"conditions\":{\"system\":{\"text\":\"You are helpful.\"},"
			    "\"params\":{\"seed\":1,\"t\":0.5},\"tools\":[1]}}",
			    "{\"conditions\":{\"system\":{\"text\":\"You are terse.\"},"
			    "\"params\":{\"seed\":1,\"t\":0.5,\"top_p\":1},"
			    "\"retrieval\":{}}}",
			    &same);
	const airi_value *r = airi_json_root(d);
	assert_int_equal(same, 0);
	assert_int_equal(airi_value_type(airi_value_get(r, "same_conditions")),
			 AIRI_FALSE);
	/* params, retrieval, system, tools in name order */
	assert_string_equal(str(at(r, "/sections/0/name")), "params");
	assert_string_equal(str(at(r, "/sections/0/status")), "changed");
	assert_string_equal(str(at(r, "/sections/0/changes/0/pointer")), "/top_p");
	assert_string_equal(str(at(r, "/sections/0/changes/0/op")), "added");
	assert_string_equal(str(at(r, "/sections/1/status")), "added");
	assert_string_equal(str(at(r, "/sections/2/changes/0/pointer")), "/text");
	assert_string_equal(str(at(r, "/sections/2/changes/0/a")), "You are helpful.");
	assert_string_equal(str(at(r, "/sections/2/changes/0/b")), "You are terse.");
	assert_true(airi_value_number(at(r, "/sections/2/changes/0/at_byte")) == 8);
	assert_string_equal(str(at(r, "/sections/3/status")), "removed");
	assert_string_equal(str(at(r, "/verdict/kind")), "conditions_differ");
	assert_string_equal(str(at(r, "/verdict/text")),
			    "conditions differ: params changed; system prompt "
			    "changed; retrieval or index state changed; tools "
			    "changed");
	assert_string_equal(str(at(r, "/verdict/causes/0")), "params_changed");
	assert_string_equal(str(at(r, "/verdict/causes/1")), "system_changed");
	assert_string_equal(str(at(r, "/verdict/causes/2")), "retrieval_changed");
	assert_string_equal(str(at(r, "/verdict/causes/3")), "tools_changed");
	assert_int_equal(airi_value_count(at(r, "/verdict/causes")), 4);
	assert_int_equal(airi_value_count(at(r, "/verdict/differing_sections")), 4);
	airi_json_free(d);
}

static void test_same(void **state)
{
	(void)state;
	int same;
	airi_json *d = diff("{\"conditions\":{\"a\":1},\"output\":\"x\"}",
			    "{\"conditions\":{\"a\":1},\"output\":\"x\"}", &same);
	assert_int_equal(same, 1);
	assert_string_equal(str(at(airi_json_root(d), "/verdict/kind")), "same_run");
	airi_json_free(d);
	d = diff("{\"conditions\":{\"a\":1},\"output\":{\"c\":\"Hello there\"}}",
		 "{\"conditions\":{\"a\":1},\"output\":{\"c\":\"Hello world\"}}",
		 &same);
	const airi_value *r = airi_json_root(d);
	assert_int_equal(same, 0);
	assert_string_equal(str(at(r, "/verdict/kind")), "same_conditions");
	assert_string_equal(str(at(r, "/output/status")), "changed");
	assert_string_equal(str(at(r, "/output/changes/0/pointer")), "/c");
	assert_true(airi_value_number(at(r, "/output/changes/0/at_byte")) == 6);
	airi_json_free(d);
}

static void test_alignment_insert(void **state)
{
	(void)state;
	int same;
	airi_json *d = diff(
		"{\"conditions\":{\"a\":1},\"trajectory\":[\"s1\",\"s2\",\"s3\",\"s4\"]}",
		"{\"conditions\":{\"a\":1},\"trajectory\":[\"s1\",\"new\",\"s2\",\"s3\",\"s4\"]}",
		&same);
	const airi_value *r = airi_json_root(d);
	const airi_value *al = at(r, "/trajectory/alignment");
	assert_int_equal(airi_value_count(al), 5);
	const char *want[] = {"equal", "inserted", "equal", "equal", "equal"};
	for (int i = 0; i < 5; i++)
		assert_string_equal(str(at(airi_value_at(al, (size_t)i), "/status")),
				    want[i]);
	assert_string_equal(str(at(r, "/trajectory/first_divergence/status")),
			    "inserted");
	assert_true(airi_value_number(at(r, "/trajectory/first_divergence/b")) == 1);
	assert_int_equal(airi_value_type(at(r, "/trajectory/first_divergence/a")),
			 AIRI_NULL);
	/* step 2 of a pairs with step 3 of b */
	assert_true(airi_value_number(at(r, "/trajectory/alignment/3/a")) == 2);
	assert_true(airi_value_number(at(r, "/trajectory/alignment/3/b")) == 3);
	assert_string_equal(str(at(r, "/verdict/kind")), "same_conditions");
	airi_json_free(d);
}

static void test_alignment_change(void **state)
{
	(void)state;
	int same;
	airi_json *d = diff(
		"{\"conditions\":{\"a\":1},\"trajectory\":[{\"t\":\"a\"},{\"t\":\"b\",\"x\":1},{\"t\":\"c\"}]}",
		"{\"conditions\":{\"a\":1},\"trajectory\":[{\"t\":\"a\"},{\"t\":\"b\",\"x\":2},{\"t\":\"c\"},{\"t\":\"d\"}]}",
		&same);
	const airi_value *r = airi_json_root(d);
	const char *want[] = {"equal", "changed", "equal", "inserted"};
	const airi_value *al = at(r, "/trajectory/alignment");
	assert_int_equal(airi_value_count(al), 4);
	for (int i = 0; i < 4; i++)
		assert_string_equal(str(at(airi_value_at(al, (size_t)i), "/status")),
				    want[i]);
	assert_string_equal(str(at(r, "/trajectory/first_divergence/changes/0/pointer")),
			    "/x");
	assert_true(airi_value_number(at(r, "/trajectory/a_steps")) == 3);
	assert_true(airi_value_number(at(r, "/trajectory/b_steps")) == 4);
	airi_json_free(d);
	/* a removed step */
	d = diff("{\"conditions\":{\"a\":1},\"trajectory\":[1,2,3]}",
		 "{\"conditions\":{\"a\":1},\"trajectory\":[1,3]}", &same);
	r = airi_json_root(d);
	assert_string_equal(str(at(r, "/trajectory/alignment/1/status")), "removed");
	assert_string_equal(str(at(r, "/trajectory/alignment/2/status")), "equal");
	airi_json_free(d);
}

static void test_many_changes_capped(void **state)
{
	(void)state;
	char a[20000], b[20000];
	size_t na = 0, nb = 0;
	na += (size_t)snprintf(a + na, sizeof(a) - na, "{\"conditions\":{\"p\":{");
	nb += (size_t)snprintf(b + nb, sizeof(b) - nb, "{\"conditions\":{\"p\":{");
	for (int i = 0; i < 300; i++) {
		na += (size_t)snprintf(a + na, sizeof(a) - na, "%s\"k%d\":%d",
				       i ? "," : "", i, i);
		nb += (size_t)snprintf(b + nb, sizeof(b) - nb, "%s\"k%d\":%d",
				       i ? "," : "", i, i + 1);
	}
	snprintf(a + na, sizeof(a) - na, "}}}");
	snprintf(b + nb, sizeof(b) - nb, "}}}");
	int same;
	airi_json *d = diff(a, b, &same);
	const airi_value *r = airi_json_root(d);
	assert_int_equal(airi_value_count(at(r, "/sections/0/changes")), 200);
	assert_true(airi_value_number(at(r, "/sections/0/more")) == 100);
	airi_json_free(d);
}

/* the same requested model resolving elsewhere is named as such; another
 * model name is a plain model change; equal conditions name the output */
static void test_causes(void **state)
{
	(void)state;
	int same;
	airi_json *d = diff("{\"conditions\":{\"model\":{\"name\":\"gpt-x\","
			    "\"resolved\":\"gpt-x-2026-01\"},\"input\":\"q\"}}",
			    "{\"conditions\":{\"model\":{\"name\":\"gpt-x\","
			    "\"resolved\":\"gpt-x-2026-06\"},\"input\":\"q\"}}",
			    &same);
	const airi_value *r = airi_json_root(d);
	assert_string_equal(str(at(r, "/verdict/causes/0")), "model_alias_changed");
	assert_int_equal(airi_value_count(at(r, "/verdict/causes")), 1);
	assert_non_null(strstr(str(at(r, "/verdict/text")),
			       "the model behind the alias changed (gpt-x resolved "
			       "to gpt-x-2026-01, now gpt-x-2026-06)"));
	airi_json_free(d);
	d = diff("{\"conditions\":{\"model\":{\"name\":\"a\"},\"custom\":1}}",
		 "{\"conditions\":{\"model\":{\"name\":\"b\"},\"custom\":2}}",
		 &same);
	r = airi_json_root(d);
	assert_string_equal(str(at(r, "/verdict/causes/0")), "model_changed");
	assert_string_equal(str(at(r, "/verdict/causes/1")), "other_section_changed");
	airi_json_free(d);
	d = diff("{\"conditions\":{\"input\":\"q\"},\"output\":\"x\"}",
		 "{\"conditions\":{\"input\":\"q\"},\"output\":\"y\"}", &same);
	r = airi_json_root(d);
	assert_string_equal(str(at(r, "/verdict/causes/0")), "output_varied");
	airi_json_free(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sections),
		cmocka_unit_test(test_causes),
		cmocka_unit_test(test_same),
		cmocka_unit_test(test_alignment_insert),
		cmocka_unit_test(test_alignment_change),
		cmocka_unit_test(test_many_changes_capped),
	};
	return cmocka_run_group_tests(tests, NULL, free_reports);
}
